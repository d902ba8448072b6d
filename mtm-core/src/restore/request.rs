//! A restore request and the moves it may make: a pure state machine, no I/O.
//!
//! ```text
//!             approve            start             complete
//! requested ─────────► approved ───────► running ─────────► completed
//!     │                    │             │    ▲
//!     │          interrupt │      retry  │    │
//!     │                    │             ▼    │
//!     │                    │          interrupted
//!     │                    │  give up  │  (from approved, running or interrupted)
//!     │                    └───────────┴──────────────────► failed
//!     │ reject / cancel / expire
//!     ▼
//! rejected · cancelled · expired
//! ```
//!
//! A run that stops with an error is `interrupted`, not finished: it stays open (it keeps
//! its snapshot from pruning and its account from a second request) and is retried until
//! it completes, or until an administrator gives up on it with a reason (`failed`).
//! Journals written before retries existed may also hold `fail` (running → failed), the
//! old way a run ended in error; it is still accepted when a journal is read.
//!
//! Every move names who makes it ([`Actor`]) and when; [`RestoreRequest::apply`] checks the
//! role, the state and the deadline, and returns the request as it is after the move, or a
//! typed error ([`ErrorKind::InvalidTransition`](crate::ErrorKind::InvalidTransition),
//! [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied)).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::MessageId;
use crate::names::{AccountId, FolderName};
use crate::restore::tenant::TenantId;

/// A restore request's name: its account and its number within that account
/// (`alice@example.com/3`). Numbers start at 1 and grow by one per request.
///
/// ```
/// use mtm_core::RequestId;
/// let id: RequestId = "alice@example.com/3".parse().unwrap();
/// assert_eq!(id.account().as_str(), "alice@example.com");
/// assert_eq!(id.number(), 3);
/// assert_eq!(id.to_string(), "alice@example.com/3");
/// assert!("alice@example.com/0".parse::<RequestId>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestId {
    account: AccountId,
    number: u32,
}

impl RequestId {
    /// Request `number` (from 1) of `account`.
    pub fn new(account: AccountId, number: u32) -> Result<Self> {
        if number == 0 {
            return Err(Error::invalid("restore request id", "numbers start at 1"));
        }
        Ok(Self { account, number })
    }

    /// The account the request is for.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// Its number within the account.
    pub fn number(&self) -> u32 {
        self.number
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.account, self.number)
    }
}

impl FromStr for RequestId {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "restore request id",
                format!("{text:?}: expected <account>/<number>"),
            )
        };
        let (account, number) = text.rsplit_once('/').ok_or_else(bad)?;
        let number: u32 = number.parse().map_err(|_| bad())?;
        Self::new(AccountId::new(account)?, number)
    }
}

/// What a restore brings back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RestoreScope {
    /// Every folder of the snapshot.
    Account,
    /// These folders of the snapshot (each one alone: sub-folders are not implied).
    Folders {
        /// The folders, as the snapshot names them.
        folders: Vec<FolderName>,
    },
    /// These messages of the snapshot, in whichever folders the snapshot had them.
    Messages {
        /// Their content ids.
        messages: Vec<MessageId>,
    },
}

impl RestoreScope {
    /// Checks that a scope names something: an empty folder or message list is an error.
    pub fn validate(&self) -> Result<()> {
        match self {
            RestoreScope::Folders { folders } if folders.is_empty() => {
                Err(Error::invalid("restore scope", "no folder named"))
            }
            RestoreScope::Messages { messages } if messages.is_empty() => {
                Err(Error::invalid("restore scope", "no message named"))
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for RestoreScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestoreScope::Account => f.write_str("the whole account"),
            RestoreScope::Folders { folders } => {
                let names: Vec<&str> = folders.iter().map(FolderName::as_str).collect();
                write!(f, "folders {}", names.join(", "))
            }
            RestoreScope::Messages { messages } if messages.len() == 1 => f.write_str("1 message"),
            RestoreScope::Messages { messages } => write!(f, "{} messages", messages.len()),
        }
    }
}

/// Who makes a move.
///
/// Stored as `{"role": "user", "name": "<account>"}`, `{"role": "admin", "name": …}`,
/// `{"role": "tenant_admin", "tenant": …, "name": …}` or `{"role": "system"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "ActorRecord", into = "ActorRecord")]
pub enum Actor {
    /// The owner of an account: may request and cancel for that account only.
    User(AccountId),
    /// A provider administrator (named for the audit trail): sees every request and decides
    /// those of the provider's own accounts (and a tenant's, where the provider allows it).
    Admin(String),
    /// An administrator of one tenant: sees and decides only the requests of accounts that
    /// tenant owns.
    TenantAdmin {
        /// The tenant.
        tenant: TenantId,
        /// The administrator's name, for the audit trail.
        name: String,
    },
    /// The library itself: expiry at the deadline.
    System,
}

fn check_admin_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        return Err(Error::invalid("admin name", format!("{name:?}")));
    }
    Ok(())
}

impl Actor {
    /// A provider administrator; the name must not be empty.
    pub fn admin(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        check_admin_name(&name)?;
        Ok(Actor::Admin(name))
    }

    /// An administrator of `tenant`; the name must not be empty.
    pub fn tenant_admin(tenant: TenantId, name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        check_admin_name(&name)?;
        Ok(Actor::TenantAdmin { tenant, name })
    }

    /// Whether this actor may see and act on requests of `account` at all, as far as its
    /// role tells: a user their own account's; administrators and the system every
    /// account's (the restore desk narrows a tenant administrator to its tenant's).
    pub fn may_access(&self, account: &AccountId) -> bool {
        match self {
            Actor::User(own) => own == account,
            Actor::Admin(_) | Actor::TenantAdmin { .. } | Actor::System => true,
        }
    }

    /// Whether this actor may ask for or withdraw a restore of `account`: its owner, or an
    /// administrator on their behalf.
    pub fn may_act_for(&self, account: &AccountId) -> bool {
        match self {
            Actor::User(own) => own == account,
            Actor::Admin(_) | Actor::TenantAdmin { .. } => true,
            Actor::System => false,
        }
    }

    /// Whether this is an administrator (the provider's or a tenant's).
    pub fn is_admin(&self) -> bool {
        matches!(self, Actor::Admin(_) | Actor::TenantAdmin { .. })
    }

    /// The administrator's name, if this is one.
    pub fn admin_name(&self) -> Option<&str> {
        match self {
            Actor::Admin(name) | Actor::TenantAdmin { name, .. } => Some(name),
            _ => None,
        }
    }

    pub(crate) fn denied(&self, action: &str) -> Error {
        Error::PermissionDenied {
            actor: self.to_string(),
            action: action.to_owned(),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(account) => write!(f, "user {account}"),
            Actor::Admin(name) => write!(f, "admin {name}"),
            Actor::TenantAdmin { tenant, name } => write!(f, "admin {name} of {tenant}"),
            Actor::System => f.write_str("the system"),
        }
    }
}

/// How an [`Actor`] is stored (see its docs): one flat record, so journals written before
/// tenants existed read unchanged.
#[derive(Serialize, Deserialize)]
struct ActorRecord {
    role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant: Option<TenantId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

impl From<Actor> for ActorRecord {
    fn from(actor: Actor) -> Self {
        let (role, tenant, name) = match actor {
            Actor::User(account) => ("user", None, Some(account.as_str().to_owned())),
            Actor::Admin(name) => ("admin", None, Some(name)),
            Actor::TenantAdmin { tenant, name } => ("tenant_admin", Some(tenant), Some(name)),
            Actor::System => ("system", None, None),
        };
        Self {
            role: role.to_owned(),
            tenant,
            name,
        }
    }
}

impl TryFrom<ActorRecord> for Actor {
    type Error = Error;

    fn try_from(record: ActorRecord) -> Result<Self> {
        let name = || {
            record
                .name
                .clone()
                .ok_or_else(|| Error::invalid("actor", format!("a {} without a name", record.role)))
        };
        match (record.role.as_str(), &record.tenant) {
            ("user", None) => Ok(Actor::User(AccountId::new(name()?)?)),
            ("admin", None) => Actor::admin(name()?),
            ("tenant_admin", Some(tenant)) => Actor::tenant_admin(tenant.clone(), name()?),
            ("system", None) => Ok(Actor::System),
            (role, _) => Err(Error::invalid("actor", format!("role {role:?}"))),
        }
    }
}

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for an administrator.
    Requested,
    /// Confirmed; the restore starts at once.
    Approved,
    /// Being written into the live Maildir (or cut off by a crash, to be resumed).
    Running,
    /// The last run stopped with an error (the reason says which): still open, to be run
    /// again once the cause is fixed, or given up by an administrator.
    Interrupted,
    /// Done: the snapshot's missing messages are back.
    Completed,
    /// Given up: an administrator stopped trying (the reason says why). In journals written
    /// before retries existed, also a run that ended in error.
    Failed,
    /// An administrator said no.
    Rejected,
    /// The user withdrew it.
    Cancelled,
    /// Nobody decided before its snapshot left retention.
    Expired,
}

impl RequestState {
    /// Requested, approved, running or interrupted: the account can have one such request
    /// at a time, and its snapshot is kept from pruning.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RequestState::Requested
                | RequestState::Approved
                | RequestState::Running
                | RequestState::Interrupted
        )
    }

    /// The name used in files, errors and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Requested => "requested",
            RequestState::Approved => "approved",
            RequestState::Running => "running",
            RequestState::Interrupted => "interrupted",
            RequestState::Completed => "completed",
            RequestState::Failed => "failed",
            RequestState::Rejected => "rejected",
            RequestState::Cancelled => "cancelled",
            RequestState::Expired => "expired",
        }
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A move of the state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// An administrator confirms: requested → approved.
    Approve,
    /// An administrator refuses, saying why: requested → rejected.
    Reject {
        /// Shown to the user.
        reason: String,
    },
    /// The user (or an administrator for them) withdraws it: requested → cancelled.
    Cancel,
    /// The deadline passed undecided: requested → expired (the system only).
    Expire,
    /// The restore begins writing: approved → running.
    Start,
    /// The restore finished: running → completed.
    Complete,
    /// The run stopped with an error: running → interrupted (to be retried).
    Interrupt {
        /// What went wrong.
        reason: String,
    },
    /// An interrupted restore runs again: interrupted → running.
    Retry,
    /// An administrator stops trying, saying why: approved, running or interrupted →
    /// failed. The user is told the reason.
    GiveUp {
        /// Shown to the user.
        reason: String,
    },
    /// The old end of a run in error, running → failed: journals written before retries
    /// existed hold it; it is no longer made.
    Fail {
        /// What went wrong.
        reason: String,
    },
}

impl Action {
    /// The verb, for errors and the audit trail.
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Reject { .. } => "reject",
            Action::Cancel => "cancel",
            Action::Expire => "expire",
            Action::Start => "start",
            Action::Complete => "complete",
            Action::Interrupt { .. } => "interrupt",
            Action::Retry => "retry",
            Action::GiveUp { .. } => "give up",
            Action::Fail { .. } => "fail",
        }
    }

    /// The state this move leads to from `from`, or `None` if it cannot be made there.
    fn target(&self, from: RequestState) -> Option<RequestState> {
        use RequestState::*;
        let to = match (self, from) {
            (Action::Approve, Requested) => Approved,
            (Action::Reject { .. }, Requested) => Rejected,
            (Action::Cancel, Requested) => Cancelled,
            (Action::Expire, Requested) => Expired,
            (Action::Start, Approved) => Running,
            (Action::Complete, Running) => Completed,
            (Action::Interrupt { .. }, Running) => Interrupted,
            (Action::Retry, Interrupted) => Running,
            (Action::GiveUp { .. }, Approved | Running | Interrupted) => Failed,
            (Action::Fail { .. }, Running) => Failed,
            _ => return None,
        };
        Some(to)
    }

    /// Whether `actor` may make this move on a request of `account`.
    fn allowed(&self, actor: &Actor, account: &AccountId) -> bool {
        match self {
            Action::Approve | Action::Reject { .. } | Action::Start => actor.is_admin(),
            Action::Cancel => actor.may_act_for(account),
            Action::Expire => *actor == Actor::System,
            // The restore's own outcome is recorded for the admin who runs it.
            Action::Complete | Action::Interrupt { .. } | Action::Fail { .. } => actor.is_admin(),
            Action::Retry | Action::GiveUp { .. } => actor.is_admin(),
        }
    }
}

/// A restore request: who asked for which snapshot, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRequest {
    /// Its name.
    pub id: RequestId,
    /// The snapshot day to restore from.
    pub day: NaiveDate,
    /// What to bring back.
    pub scope: RestoreScope,
    /// Who asked (the user, or an administrator on their behalf).
    pub requested_by: Actor,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// When the snapshot leaves retention: undecided by then, the request expires.
    pub deadline: DateTime<Utc>,
    /// Where it stands.
    pub state: RequestState,
    /// Who made the last move, and when (the requester and request time until then).
    pub updated_by: Actor,
    /// When the last move was made.
    pub updated_at: DateTime<Utc>,
    /// The administrator who approved or rejected it.
    pub decided_by: Option<String>,
    /// The rejection reason, what interrupted the last run, or why an administrator gave up.
    pub reason: Option<String>,
    /// The tenant that owns the account, as the journal last noted it (when the request was
    /// made, or when a later move found the account moved to another tenant); `None` for
    /// the provider's own accounts and in journals written before tenants existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantId>,
}

impl RestoreRequest {
    /// A new request, checked: the actor may request for the account, the scope names
    /// something, and the deadline is still ahead.
    pub fn new(
        id: RequestId,
        day: NaiveDate,
        scope: RestoreScope,
        actor: Actor,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
    ) -> Result<Self> {
        if !actor.may_act_for(id.account()) {
            return Err(actor.denied(&format!("request a restore of {}", id.account())));
        }
        scope.validate()?;
        if now >= deadline {
            return Err(Error::invalid(
                "restore request",
                format!("the snapshot of {day} leaves retention at {deadline}: too late"),
            ));
        }
        Ok(Self {
            id,
            day,
            scope,
            requested_by: actor.clone(),
            requested_at: now,
            deadline,
            state: RequestState::Requested,
            updated_by: actor,
            updated_at: now,
            decided_by: None,
            reason: None,
            tenant: None,
        })
    }

    /// Whether the request waits for a decision that can no longer come: still requested
    /// and `now` at or past the deadline.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.state == RequestState::Requested && now >= self.deadline
    }

    /// Whether this request keeps its snapshot from being pruned at `now`: undecided
    /// before its deadline, or approved, running or interrupted (what was confirmed is what
    /// runs, however often it has to be retried).
    pub fn pins_snapshot(&self, now: DateTime<Utc>) -> bool {
        match self.state {
            RequestState::Requested => now < self.deadline,
            RequestState::Approved | RequestState::Running | RequestState::Interrupted => true,
            _ => false,
        }
    }

    /// The request after `actor` makes `action` at `now`, or why that move is refused.
    ///
    /// A decision at or after the deadline is refused (the request is due to expire), and
    /// only [`Action::Expire`] is accepted then, and only then.
    pub fn apply(&self, action: &Action, actor: &Actor, now: DateTime<Utc>) -> Result<Self> {
        if !actor.may_access(self.id.account()) || !action.allowed(actor, self.id.account()) {
            return Err(actor.denied(&format!("{} restore request {}", action.verb(), self.id)));
        }
        let refused = |state: String| Error::InvalidTransition {
            request: self.id.to_string(),
            state,
            action: action.verb().to_owned(),
        };
        let Some(to) = action.target(self.state) else {
            return Err(refused(self.state.to_string()));
        };
        if self.state == RequestState::Requested {
            let overdue = now >= self.deadline;
            if overdue && *action != Action::Expire {
                return Err(refused(format!("past its deadline {}", self.deadline)));
            }
            if !overdue && *action == Action::Expire {
                return Err(refused(format!("before its deadline {}", self.deadline)));
            }
        }
        let mut next = self.clone();
        next.state = to;
        next.updated_by = actor.clone();
        next.updated_at = now;
        match action {
            Action::Approve => next.decided_by = actor.admin_name().map(str::to_owned),
            Action::Reject { reason } => {
                next.decided_by = actor.admin_name().map(str::to_owned);
                next.reason = Some(reason.clone());
            }
            Action::Interrupt { reason } | Action::GiveUp { reason } | Action::Fail { reason } => {
                next.reason = Some(reason.clone());
            }
            // A new run: what stopped the last one no longer describes the request.
            Action::Retry => next.reason = None,
            _ => {}
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestState::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn alice() -> AccountId {
        AccountId::new("alice@example.com").unwrap()
    }

    fn request() -> RestoreRequest {
        RestoreRequest::new(
            RequestId::new(alice(), 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
            RestoreScope::Account,
            Actor::User(alice()),
            at("2026-11-20T10:00:00Z"),
            at("2026-11-25T00:00:00Z"),
        )
        .unwrap()
    }

    fn admin() -> Actor {
        Actor::admin("root").unwrap()
    }

    fn in_state(state: RequestState) -> RestoreRequest {
        let mut r = request();
        r.state = state;
        r
    }

    fn every_action() -> Vec<Action> {
        vec![
            Action::Approve,
            Action::Reject {
                reason: "no".into(),
            },
            Action::Cancel,
            Action::Expire,
            Action::Start,
            Action::Complete,
            Action::Interrupt {
                reason: "lock held".into(),
            },
            Action::Retry,
            Action::GiveUp {
                reason: "mailbox gone".into(),
            },
            Action::Fail {
                reason: "disk".into(),
            },
        ]
    }

    fn every_state() -> [RequestState; 9] {
        [
            Requested,
            Approved,
            Running,
            Interrupted,
            Completed,
            Failed,
            Rejected,
            Cancelled,
            Expired,
        ]
    }

    /// The only allowed edges, with an actor allowed to make them and a moment that suits.
    fn allowed_edges() -> Vec<(RequestState, Action, RequestState)> {
        vec![
            (Requested, Action::Approve, Approved),
            (
                Requested,
                Action::Reject {
                    reason: "no".into(),
                },
                Rejected,
            ),
            (Requested, Action::Cancel, Cancelled),
            (Requested, Action::Expire, Expired),
            (Approved, Action::Start, Running),
            (Running, Action::Complete, Completed),
            (
                Running,
                Action::Interrupt {
                    reason: "lock held".into(),
                },
                Interrupted,
            ),
            (Interrupted, Action::Retry, Running),
            (Approved, give_up(), Failed),
            (Running, give_up(), Failed),
            (Interrupted, give_up(), Failed),
            // Only read from old journals.
            (
                Running,
                Action::Fail {
                    reason: "disk".into(),
                },
                Failed,
            ),
        ]
    }

    fn give_up() -> Action {
        Action::GiveUp {
            reason: "mailbox gone".into(),
        }
    }

    fn suitable(action: &Action) -> (Actor, DateTime<Utc>) {
        match action {
            Action::Expire => (Actor::System, at("2026-11-25T00:00:00Z")),
            _ => (admin(), at("2026-11-21T09:00:00Z")),
        }
    }

    #[test]
    fn every_allowed_transition_moves_to_its_state() {
        for (from, action, to) in allowed_edges() {
            let (actor, now) = suitable(&action);
            let next = in_state(from).apply(&action, &actor, now).unwrap();
            assert_eq!(next.state, to, "{from} --{}-->", action.verb());
            assert_eq!(next.updated_at, now);
            assert_eq!(next.updated_by, actor);
        }
    }

    #[test]
    fn every_other_transition_is_a_typed_error() {
        let allowed = allowed_edges();
        let mut refused = 0;
        for from in every_state() {
            for action in every_action() {
                if allowed.iter().any(|(f, a, _)| *f == from && *a == action) {
                    continue;
                }
                let (actor, now) = suitable(&action);
                let err = in_state(from).apply(&action, &actor, now).unwrap_err();
                assert_eq!(
                    err.kind(),
                    crate::ErrorKind::InvalidTransition,
                    "{from} {err}"
                );
                refused += 1;
            }
        }
        assert_eq!(refused, 9 * 10 - allowed.len());
    }

    #[test]
    fn only_admins_decide_and_only_the_owner_or_an_admin_cancels() {
        let now = at("2026-11-21T09:00:00Z");
        let user = Actor::User(alice());
        let bob = Actor::User(AccountId::new("bob@example.com").unwrap());
        for action in [Action::Approve, Action::Reject { reason: "x".into() }] {
            let err = request().apply(&action, &user, now).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::PermissionDenied);
        }
        let err = request().apply(&Action::Cancel, &bob, now).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::PermissionDenied);
        assert_eq!(
            request().apply(&Action::Cancel, &user, now).unwrap().state,
            Cancelled
        );
        assert_eq!(
            request()
                .apply(&Action::Cancel, &admin(), now)
                .unwrap()
                .state,
            Cancelled
        );
        let err = request().apply(&Action::Expire, &admin(), at("2026-12-01T00:00:00Z"));
        assert_eq!(err.unwrap_err().kind(), crate::ErrorKind::PermissionDenied);
    }

    #[test]
    fn a_user_cannot_request_for_another_account() {
        let bob = Actor::User(AccountId::new("bob@example.com").unwrap());
        let err = RestoreRequest::new(
            RequestId::new(alice(), 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
            RestoreScope::Account,
            bob,
            at("2026-11-20T10:00:00Z"),
            at("2026-11-25T00:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::PermissionDenied);
    }

    #[test]
    fn the_deadline_is_exact() {
        let just_before = at("2026-11-24T23:59:59Z");
        let deadline = at("2026-11-25T00:00:00Z");
        assert!(
            request()
                .apply(&Action::Approve, &admin(), just_before)
                .is_ok()
        );
        let late = request()
            .apply(&Action::Approve, &admin(), deadline)
            .unwrap_err();
        assert_eq!(late.kind(), crate::ErrorKind::InvalidTransition);
        let early = request().apply(&Action::Expire, &Actor::System, just_before);
        assert_eq!(
            early.unwrap_err().kind(),
            crate::ErrorKind::InvalidTransition
        );
        let expired = request()
            .apply(&Action::Expire, &Actor::System, deadline)
            .unwrap();
        assert_eq!(expired.state, Expired);
        assert!(!request().is_overdue(just_before));
        assert!(request().is_overdue(deadline));
    }

    #[test]
    fn open_requests_pin_their_snapshot_until_decided_or_due() {
        let before = at("2026-11-24T00:00:00Z");
        let after = at("2026-11-26T00:00:00Z");
        assert!(request().pins_snapshot(before));
        assert!(!request().pins_snapshot(after));
        assert!(in_state(Approved).pins_snapshot(after));
        assert!(in_state(Running).pins_snapshot(after));
        assert!(in_state(Interrupted).pins_snapshot(after));
        assert!(Interrupted.is_open());
        for state in [Completed, Failed, Rejected, Cancelled, Expired] {
            assert!(!in_state(state).pins_snapshot(before), "{state}");
            assert!(!state.is_open());
        }
    }

    #[test]
    fn an_interrupted_run_is_retried_until_it_completes_or_an_admin_gives_up() {
        let now = at("2026-11-21T09:00:00Z");
        // Retrying is not bound to the deadline: the request was decided before it.
        let late = at("2026-12-31T09:00:00Z");
        let interrupt = Action::Interrupt {
            reason: "INBOX is a file".into(),
        };
        let approved = request().apply(&Action::Approve, &admin(), now).unwrap();
        let running = approved.apply(&Action::Start, &admin(), now).unwrap();
        let stopped = running.apply(&interrupt, &admin(), now).unwrap();
        assert_eq!(stopped.state, Interrupted);
        assert_eq!(stopped.reason.as_deref(), Some("INBOX is a file"));
        let again = stopped.apply(&Action::Retry, &admin(), late).unwrap();
        assert_eq!((again.state, again.reason.as_deref()), (Running, None));
        let stopped = again.apply(&interrupt, &admin(), late).unwrap();
        let again = stopped.apply(&Action::Retry, &admin(), late).unwrap();
        let done = again.apply(&Action::Complete, &admin(), late).unwrap();
        assert_eq!(done.state, Completed);
        assert_eq!(done.decided_by.as_deref(), Some("root"));

        let given_up = stopped.apply(&give_up(), &admin(), late).unwrap();
        assert_eq!(given_up.state, Failed);
        assert_eq!(given_up.reason.as_deref(), Some("mailbox gone"));
        assert!(!given_up.state.is_open());
        let err = given_up.apply(&Action::Retry, &admin(), late).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidTransition);
    }

    #[test]
    fn only_admins_retry_or_give_up() {
        let now = at("2026-11-21T09:00:00Z");
        let stopped = in_state(Interrupted);
        for who in [Actor::User(alice()), Actor::System] {
            for action in [Action::Retry, give_up()] {
                let err = stopped.apply(&action, &who, now).unwrap_err();
                assert_eq!(err.kind(), crate::ErrorKind::PermissionDenied, "{who}");
            }
        }
    }

    #[test]
    fn rejection_keeps_the_reason_and_the_admin() {
        let now = at("2026-11-21T09:00:00Z");
        let reason = Action::Reject {
            reason: "that day had no mail".into(),
        };
        let rejected = request().apply(&reason, &admin(), now).unwrap();
        assert_eq!(rejected.reason.as_deref(), Some("that day had no mail"));
        assert_eq!(rejected.decided_by.as_deref(), Some("root"));
    }

    #[test]
    fn empty_scopes_and_late_requests_are_refused() {
        let empty = RestoreScope::Folders { folders: vec![] };
        assert!(empty.validate().is_err());
        let late = RestoreRequest::new(
            RequestId::new(alice(), 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
            RestoreScope::Account,
            Actor::User(alice()),
            at("2026-11-25T00:00:00Z"),
            at("2026-11-25T00:00:00Z"),
        );
        assert_eq!(late.unwrap_err().kind(), crate::ErrorKind::InvalidInput);
    }
}

#[cfg(test)]
mod actor_records {
    use super::*;

    #[test]
    fn actors_are_stored_flat_and_older_journals_read_unchanged() {
        let old = [
            (
                r#"{"role":"user","name":"alice@example.com"}"#,
                Actor::User(AccountId::new("alice@example.com").unwrap()),
            ),
            (
                r#"{"role":"admin","name":"carol"}"#,
                Actor::admin("carol").unwrap(),
            ),
            (r#"{"role":"system"}"#, Actor::System),
        ];
        for (json, actor) in old {
            assert_eq!(serde_json::from_str::<Actor>(json).unwrap(), actor);
            assert_eq!(serde_json::to_string(&actor).unwrap(), json);
        }
        let carol = Actor::tenant_admin(TenantId::new("acme").unwrap(), "carol").unwrap();
        let json = serde_json::to_string(&carol).unwrap();
        assert_eq!(
            json,
            r#"{"role":"tenant_admin","tenant":"acme","name":"carol"}"#
        );
        assert_eq!(serde_json::from_str::<Actor>(&json).unwrap(), carol);
        for bad in [
            r#"{"role":"tenant_admin","name":"carol"}"#,
            r#"{"role":"admin"}"#,
            r#"{"role":"root","name":"x"}"#,
            r#"{"role":"admin","name":"  "}"#,
        ] {
            assert!(serde_json::from_str::<Actor>(bad).is_err(), "{bad}");
        }
    }
}
