//! Restore: a user asks for their account as it was on a day, an administrator confirms or
//! rejects, the confirmed restore runs at once, is billed, and the user is told.
//!
//! - [`request`]: the request and its state machine (pure, no I/O).
//! - [`outcome`]: the dry-run plan and the result of a run.
//! - [`notify`]: notifications and the [`Notifier`] trait.
//! - [`merge`]: the additive merge of a snapshot into the live Maildir (plan, execute).

pub(crate) mod merge;
pub(crate) mod notify;
pub(crate) mod outcome;
pub(crate) mod request;

pub use notify::{Notification, NotificationKind, Notifier, Recipient};
pub use outcome::{FolderPlan, RestorePlan, RestoreResult};
pub use request::{Action, Actor, RequestId, RequestState, RestoreRequest, RestoreScope};
