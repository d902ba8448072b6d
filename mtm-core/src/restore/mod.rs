//! Restore: a user asks for their account as it was on a day, an administrator confirms or
//! rejects, the confirmed restore is billed and runs at once, and the user is told when it
//! completes. A run that stops with an error is retried until it completes, or until an
//! administrator gives up on it (and the user is told why).
//!
//! - [`request`]: the request and its state machine (pure, no I/O).
//! - [`journal`]: requests stored as append-only journals (the audit trail).
//! - [`merge`]: the plan and the additive merge into the live Maildir.
//! - [`billing`]: prices, billing records, the ledger.
//! - [`notify`]: notifications and the [`Notifier`] trait.
//! - [`email`]: the built-in [`Notifier`] that sends email ([`EmailNotifier`]).
//! - [`tenant`]: the provider's customers ([`Tenant`], [`TenantDirectory`]) and the
//!   built-in directory read from a file ([`TenantsFile`]); [`access`]: who may do what.
//! - [`desk`]: the workflow that ties them together ([`RestoreDesk`]).

pub(crate) mod access;
pub(crate) mod billing;
pub(crate) mod desk;
pub(crate) mod email;
pub(crate) mod journal;
pub(crate) mod merge;
pub(crate) mod notify;
pub(crate) mod outcome;
pub(crate) mod request;
mod scope_names;
pub(crate) mod tenant;
pub(crate) mod tenants_file;

pub use access::AccessPolicy;
pub use billing::{BillingRecord, BillingSink, LedgerBilling, LedgerQuery, Pricing};
pub use desk::{
    Mailboxes, MaildirRoot, QueuedRequest, RestoreDesk, RestoreOutcome, RestoreSettings,
};
pub use email::{
    AddressLookup, DefaultTemplates, EmailNotifier, EmailSettings, EmailTemplates, EmailTransport,
    RenderedEmail, UserAddress, Wording,
};
pub use journal::{AuditEntry, AuditEvent, DamagedRequest, RequestListing};
pub use notify::{Notification, NotificationKind, Notifier, Recipient};
pub use outcome::{FolderPlan, RestorePlan, RestoreResult};
pub use request::{Action, Actor, RequestId, RequestState, RestoreRequest, RestoreScope};
pub use tenant::{AdminContact, Language, Tenant, TenantDirectory, TenantId};
pub use tenants_file::TenantsFile;
