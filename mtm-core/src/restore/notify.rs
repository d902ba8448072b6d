//! Notifications: who is told what, and the trait a provider implements to deliver them.
//! `EmailNotifier` is the built-in one.

use std::fmt::Debug;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::TimeZone;
use crate::error::Result;
use crate::names::AccountId;
use crate::restore::outcome::{RestorePlan, RestoreResult};
use crate::restore::request::RestoreRequest;
use crate::restore::tenant::{Language, Tenant};

/// Why a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// To the administrators: a user asked for a restore (with the plan and the deadline).
    NewRequest,
    /// To the user: the restore is done (with what came back).
    Completed,
    /// To the user: the restore failed.
    Failed,
    /// To the user: an administrator rejected the request (with the reason).
    Rejected,
    /// To the user: nobody decided before the snapshot left retention.
    Expired,
}

impl std::fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotificationKind::NewRequest => "new request",
            NotificationKind::Completed => "completed",
            NotificationKind::Failed => "failed",
            NotificationKind::Rejected => "rejected",
            NotificationKind::Expired => "expired",
        })
    }
}

/// Who a notification is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "to", content = "account", rename_all = "snake_case")]
pub enum Recipient {
    /// The administrators of the account's owner: its tenant's
    /// ([`Notification::tenant`]), or the provider's when the provider owns the account or
    /// the tenant has no administrator.
    Admins,
    /// The owner of an account.
    User(AccountId),
}

impl std::fmt::Display for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recipient::Admins => f.write_str("the administrators"),
            Recipient::User(account) => write!(f, "user {account}"),
        }
    }
}

/// One notification: its kind, its recipient, and everything a template may show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// Why it is sent.
    pub kind: NotificationKind,
    /// Who it is for.
    pub recipient: Recipient,
    /// The request as it is after the move that caused the notification.
    pub request: RestoreRequest,
    /// The dry-run plan ([`NotificationKind::NewRequest`]).
    pub plan: Option<RestorePlan>,
    /// What the restore did ([`NotificationKind::Completed`]).
    pub result: Option<RestoreResult>,
    /// When it is handed over, by the injected clock of the call that sends it (an email's
    /// `Date`).
    pub sent_at: DateTime<Utc>,
    /// The tenant that owns the account now, if any: who its administrators are.
    pub tenant: Option<Tenant>,
    /// The language to write in: the tenant's, or the provider's.
    pub language: Language,
    /// The zone to show dates and times in: the tenant's, or the provider's.
    pub time_zone: TimeZone,
}

/// Delivers notifications. Implement it to use your own mailer; a failure is returned as an
/// error, recorded in the request's audit trail, reported, and retried by
/// `RestoreDesk::deliver_pending`: it never undoes
/// the state change that caused it.
pub trait Notifier: Send + Sync + Debug {
    /// Sends one notification.
    fn notify(&self, notification: &Notification) -> Result<()>;
}
