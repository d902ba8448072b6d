//! Repair: bringing a damaged repository back to a verifiable state.
//!
//! Two tools, both run under the exclusive gc lock (no snapshot writes, no gc deletes while
//! they work):
//!
//! - [`Repository::repair_index`](crate::Repository::repair_index) rebuilds lost or damaged
//!   index files from the pack trailers, which list every blob of their pack. It only adds
//!   index entries, so it needs no plan.
//! - [`Repository::recovery_plan`](crate::Repository::recovery_plan) and
//!   [`Repository::recover`](crate::Repository::recover) deal with damaged manifests,
//!   catalogs and message parts: messages still in the live Maildir are stored again, the
//!   others are dropped from their snapshots and listed as lost in the snapshot record. This
//!   rewrite of snapshot records is the one exception to their immutability (FORMAT.md,
//!   *Repair*), so it is planned first and executed only on the plan. A record that cannot
//!   be read at all is a plan entry of its own ([`QuarantinedRecord`]): its bytes are moved
//!   aside under `damaged/` and its day dropped.

mod index;
mod journals;
mod recover;
mod salvage;

pub use index::IndexRepairReport;
pub use journals::MendedJournalEntry;
pub(crate) use recover::DAMAGED;
pub use recover::{
    QuarantinedRecord, RecoveryPlan, RecoveryReport, RepairedMessage, RepairedSnapshot,
};
