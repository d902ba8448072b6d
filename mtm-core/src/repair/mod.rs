//! Repair: bringing a damaged repository back to a verifiable state. Every repair runs
//! under the exclusive gc lock: no snapshot writes and no gc deletes while it works.
//!
//! - [`Repository::repair_index`](crate::Repository::repair_index) rebuilds lost or damaged
//!   index files from the pack trailers, which list every blob of their pack. It only adds
//!   index entries, so it needs no plan.

mod index;

pub use index::IndexRepairReport;
