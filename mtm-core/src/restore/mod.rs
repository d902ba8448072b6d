//! Restore: a user asks for their account as it was on a day, an administrator confirms or
//! rejects, the confirmed restore runs at once, is billed, and the user is told.
//!
//! - [`request`]: the request and its state machine (pure, no I/O).
//! - [`outcome`]: the dry-run plan and the result of a run.
//! - [`notify`]: notifications and the [`Notifier`] trait.
//! - [`email`]: the built-in [`Notifier`] that sends email ([`EmailNotifier`]).

pub(crate) mod email;
pub(crate) mod notify;
pub(crate) mod outcome;
pub(crate) mod request;

pub use email::{
    AddressLookup, DefaultTemplates, EmailNotifier, EmailSettings, EmailTemplates, EmailTransport,
    RenderedEmail, UserAddress,
};
pub use notify::{Notification, NotificationKind, Notifier, Recipient};
pub use outcome::{FolderPlan, RestorePlan, RestoreResult};
pub use request::{Action, Actor, RequestId, RequestState, RestoreRequest, RestoreScope};
