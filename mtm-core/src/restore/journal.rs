//! Where restore requests live: an append-only journal per request in the repository.
//!
//! Request `n` of an account is the directory `restores/<account>/<n>/` (n zero-padded to
//! 6 digits); its entries are the sealed files `0001.json`, `0002.json` … (see FORMAT.md).
//! Entry 1 creates the request; every later entry is a move of the state machine or the
//! record of a side effect (billed, notified, a failed attempt). The request as it stands
//! is the fold of its entries, so the journal is also the audit trail.
//!
//! Appending is a create-only write of the next number: two processes that append to the
//! same request at once cannot both succeed, so exactly one of two racing approvals wins and
//! the other reads the journal again and finds the request approved. Creating request
//! `n + 1` requires request `n` to be closed, and two racing creations of `n + 1` have one
//! winner the same way: an account has at most one open request.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::names::AccountId;
use crate::restore::billing::BillingRecord;
use crate::restore::notify::{NotificationKind, Recipient};
use crate::restore::outcome::{RestorePlan, RestoreResult};
use crate::restore::request::{Action, Actor, RequestId, RequestState, RestoreRequest};
use crate::restore::tenant::TenantId;
use crate::sealed::{seal, unseal};

/// One entry of a request's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its position in the journal, from 1.
    pub seq: u32,
    /// When it was written (the injected clock).
    pub at: DateTime<Utc>,
    /// Who caused it.
    pub actor: Actor,
    /// What happened.
    pub event: AuditEvent,
    /// The tenant that owned the account when the entry was written (`None`: the
    /// provider, or a journal written before tenants existed). An entry whose actor is a
    /// provider administrator and that names a tenant was made on that tenant's behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantId>,
}

impl AuditEntry {
    /// The tenant a provider administrator acted for, when this entry is such a move.
    pub fn on_behalf_of(&self) -> Option<&TenantId> {
        match (&self.actor, &self.tenant) {
            (Actor::Admin(_), Some(tenant)) => Some(tenant),
            _ => None,
        }
    }
}

/// What an [`AuditEntry`] records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AuditEvent {
    /// The request was made, with the plan against the live Maildir at that moment.
    Requested {
        /// The request as made.
        request: RestoreRequest,
        /// The dry run the administrator sees, if it could be made.
        plan: Option<RestorePlan>,
    },
    /// A move of the state machine.
    Moved {
        /// The move.
        action: Action,
        /// The state before.
        from: RequestState,
        /// The state after.
        to: RequestState,
        /// The plan an approval confirmed (what is billed and what runs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plan: Option<RestorePlan>,
        /// What a completed restore did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<RestoreResult>,
    },
    /// An interrupted restore was run again.
    Resumed,
    /// The account was found owned by another tenant than the journal last noted (the
    /// tenant directory changed): from this entry on, the new owner decides.
    OwnerChanged {
        /// The owner noted before (`None`: the provider).
        from: Option<TenantId>,
        /// The owner now (`None`: the provider).
        to: Option<TenantId>,
    },
    /// The billing record was accepted by the billing sink.
    Billed {
        /// The record.
        record: BillingRecord,
    },
    /// The billing sink failed; billing is retried.
    BillingFailed {
        /// Why.
        error: String,
    },
    /// A notification was delivered.
    Notified {
        /// Which one.
        kind: NotificationKind,
        /// To whom.
        recipient: Recipient,
    },
    /// Delivering a notification failed; it is retried.
    NotificationFailed {
        /// Which one.
        kind: NotificationKind,
        /// To whom.
        recipient: Recipient,
        /// Why.
        error: String,
    },
}

/// A restore request whose journal cannot be read (a damaged or out-of-sequence entry, or
/// moves the state machine refuses). The calls that walk many requests
/// ([`RestoreDesk::requests`](crate::RestoreDesk::requests), `queue`, `expire_overdue`,
/// `deliver_pending`) go on with the others and list it here; `mtm verify`
/// ([`Repository::verify`](crate::Repository::verify)) names it too; a call on this request
/// alone fails with [`ErrorKind::Integrity`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DamagedRequest {
    /// The request.
    pub id: RequestId,
    /// Why it cannot be read (the integrity error, naming the damaged entry).
    pub error: String,
}

impl std::fmt::Display for DamagedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "restore request {} cannot be read (`mtm verify` names it): {}",
            self.id, self.error
        )
    }
}

/// What a call that walks many restore requests found: what it did or listed, and the
/// requests it went past because their journal cannot be read. An empty `damaged` means
/// every request it looked at was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestListing<T> {
    /// What the call lists (requests, queued requests, outcomes, problems).
    pub items: Vec<T>,
    /// The requests whose journal could not be read, in the order met.
    pub damaged: Vec<DamagedRequest>,
}

impl<T> RequestListing<T> {
    fn new() -> Self {
        Self {
            items: Vec::new(),
            damaged: Vec::new(),
        }
    }
}

/// A request's journal, read whole: its entries and what they add up to.
#[derive(Debug, Clone)]
pub(crate) struct RequestLog {
    pub entries: Vec<AuditEntry>,
    pub request: RestoreRequest,
}

impl RequestLog {
    /// Folds the entries, checking every move against the state machine: a journal that
    /// makes a move the machine refuses is damaged.
    pub(crate) fn fold(id: &RequestId, entries: Vec<AuditEntry>) -> Result<Self> {
        let location = || format!("restore request {id}");
        let Some(AuditEntry {
            event: AuditEvent::Requested { request, .. },
            ..
        }) = entries.first()
        else {
            return Err(Error::integrity(
                location(),
                "the journal does not begin with the request",
            ));
        };
        if request.id != *id {
            return Err(Error::integrity(
                location(),
                "the journal names another request",
            ));
        }
        let mut current = request.clone();
        for entry in &entries[1..] {
            if let AuditEvent::OwnerChanged { to, .. } = &entry.event {
                current.tenant = to.clone();
            }
            if let AuditEvent::Moved { action, to, .. } = &entry.event {
                current = current.apply(action, &entry.actor, entry.at).map_err(|e| {
                    Error::integrity(location(), format!("entry {}: {e}", entry.seq))
                })?;
                if current.state != *to {
                    return Err(Error::integrity(location(), "a move names the wrong state"));
                }
            }
        }
        Ok(Self {
            entries,
            request: current,
        })
    }

    /// The number the next entry gets.
    pub(crate) fn next_seq(&self) -> u32 {
        self.entries.len() as u32 + 1
    }

    /// The plan made with the request, or confirmed by its approval (the later one).
    pub(crate) fn plan(&self) -> Option<&RestorePlan> {
        self.entries.iter().rev().find_map(|e| match &e.event {
            AuditEvent::Moved {
                plan: Some(plan), ..
            }
            | AuditEvent::Requested {
                plan: Some(plan), ..
            } => Some(plan),
            _ => None,
        })
    }

    /// What the completed restore did.
    pub(crate) fn result(&self) -> Option<&RestoreResult> {
        self.entries.iter().rev().find_map(|e| match &e.event {
            AuditEvent::Moved {
                result: Some(result),
                ..
            } => Some(result),
            _ => None,
        })
    }

    /// The billing record the sink accepted, if any.
    pub(crate) fn billed(&self) -> Option<&BillingRecord> {
        self.entries.iter().find_map(|e| match &e.event {
            AuditEvent::Billed { record } => Some(record),
            _ => None,
        })
    }

    /// Whether an approval happened (so billing is owed).
    pub(crate) fn was_approved(&self) -> bool {
        self.entries.iter().any(|e| {
            matches!(
                &e.event,
                AuditEvent::Moved {
                    action: Action::Approve,
                    ..
                }
            )
        })
    }

    /// The notifications the request's moves call for and that were not delivered yet.
    pub(crate) fn undelivered(&self) -> Vec<(NotificationKind, Recipient)> {
        let user = Recipient::User(self.request.id.account().clone());
        let mut due = Vec::new();
        for entry in &self.entries {
            let wanted = match &entry.event {
                AuditEvent::Requested { .. } => {
                    Some((NotificationKind::NewRequest, Recipient::Admins))
                }
                AuditEvent::Moved { to, .. } => match to {
                    RequestState::Completed => Some((NotificationKind::Completed, user.clone())),
                    RequestState::Failed => Some((NotificationKind::Failed, user.clone())),
                    RequestState::Rejected => Some((NotificationKind::Rejected, user.clone())),
                    RequestState::Expired => Some((NotificationKind::Expired, user.clone())),
                    _ => None,
                },
                _ => None,
            };
            due.extend(wanted);
        }
        due.retain(|(kind, recipient)| {
            !self.entries.iter().any(|e| {
                matches!(&e.event, AuditEvent::Notified { kind: k, recipient: r } if k == kind && r == recipient)
            })
        });
        due
    }
}

fn account_prefix(account: &AccountId) -> String {
    format!("restores/{account}/")
}

fn request_prefix(id: &RequestId) -> String {
    format!("restores/{}/{:06}/", id.account(), id.number())
}

fn entry_key(id: &RequestId, seq: u32) -> String {
    format!("{}{seq:04}.json", request_prefix(id))
}

/// The journals of every request, read from a backend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Journal<'a> {
    backend: &'a dyn Backend,
    /// The owner every entry this journal writes names.
    tenant: Option<&'a TenantId>,
}

impl<'a> Journal<'a> {
    pub(crate) fn new(backend: &'a dyn Backend) -> Self {
        Self {
            backend,
            tenant: None,
        }
    }

    /// The same journal, writing entries that name `tenant` as the account's owner.
    pub(crate) fn owned_by(self, tenant: Option<&'a TenantId>) -> Self {
        Self { tenant, ..self }
    }

    /// The request numbers of `account`, ascending.
    pub(crate) fn numbers(&self, account: &AccountId) -> Result<Vec<u32>> {
        let prefix = account_prefix(account);
        let mut numbers: Vec<u32> = self
            .backend
            .list(&prefix)?
            .iter()
            .filter_map(|key| key.strip_prefix(&prefix)?.split_once('/'))
            .filter_map(|(number, _)| number.parse().ok())
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        Ok(numbers)
    }

    /// Every account with at least one request.
    pub(crate) fn accounts(&self) -> Result<Vec<AccountId>> {
        let mut accounts: Vec<AccountId> = self
            .backend
            .list("restores/")?
            .iter()
            .filter_map(|key| key.strip_prefix("restores/")?.split_once('/'))
            .filter_map(|(account, _)| AccountId::new(account).ok())
            .collect();
        accounts.dedup();
        Ok(accounts)
    }

    /// The latest request of every account: the only one that can be open.
    pub(crate) fn latest(&self) -> Result<Vec<RequestId>> {
        let mut ids = Vec::new();
        for account in self.accounts()? {
            if let Some(number) = self.numbers(&account)?.last() {
                ids.push(RequestId::new(account.clone(), *number)?);
            }
        }
        Ok(ids)
    }

    /// Every request of `accounts`, by account and number.
    pub(crate) fn every(&self, accounts: &[AccountId]) -> Result<Vec<RequestId>> {
        let mut ids = Vec::new();
        for account in accounts {
            for number in self.numbers(account)? {
                ids.push(RequestId::new(account.clone(), number)?);
            }
        }
        Ok(ids)
    }

    /// Reads the journals of `ids` one at a time and gives each to `visit`, which adds what
    /// it makes of it to the listing. A journal that cannot be read (an integrity error,
    /// from reading it or from `visit`) is listed as damaged and the walk goes on; any
    /// other error (storage) stops it.
    pub(crate) fn walk<T>(
        &self,
        ids: Vec<RequestId>,
        mut visit: impl FnMut(RequestLog, &mut Vec<T>) -> Result<()>,
    ) -> Result<RequestListing<T>> {
        let mut listing = RequestListing::new();
        for id in ids {
            match self
                .load(&id)
                .and_then(|log| visit(log, &mut listing.items))
            {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Integrity => {
                    listing.damaged.push(DamagedRequest {
                        id,
                        error: e.to_string(),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(listing)
    }

    /// The keys of the entries of a request's journal, in order.
    pub(crate) fn entry_keys(&self, id: &RequestId) -> Result<Vec<String>> {
        self.backend.list(&request_prefix(id))
    }

    /// The request whose journal an entry key (`restores/<account>/<nnnnnn>/<ssss>.json`)
    /// belongs to.
    pub(crate) fn request_of(key: &str) -> Option<RequestId> {
        let rest = key.strip_prefix("restores/")?;
        let (account, rest) = rest.split_once('/')?;
        let (number, _) = rest.split_once('/')?;
        RequestId::new(AccountId::new(account).ok()?, number.parse().ok()?).ok()
    }

    /// Whether `data` is a sound entry to be stored at `key` of request `id`: it unseals and
    /// its sequence number is the one its key names.
    pub(crate) fn is_entry(id: &RequestId, key: &str, data: &[u8]) -> bool {
        unseal::<AuditEntry>(data, key, "journal entry")
            .is_ok_and(|entry| entry_key(id, entry.seq) == key)
    }

    /// Reads a request's journal. [`ErrorKind::NotFound`] if there is no such request.
    pub(crate) fn load(&self, id: &RequestId) -> Result<RequestLog> {
        let prefix = request_prefix(id);
        let keys = self.backend.list(&prefix)?;
        if keys.is_empty() {
            return Err(Error::not_found("restore request", id.to_string()));
        }
        let mut entries = Vec::with_capacity(keys.len());
        for (position, key) in keys.iter().enumerate() {
            // The location names the request as the commands take it, and the entry.
            let location = format!("restore request {id} ({key})");
            let entry: AuditEntry = unseal(&self.backend.read(key)?, &location, "journal entry")?;
            if entry.seq as usize != position + 1 || *key != entry_key(id, entry.seq) {
                return Err(Error::integrity(
                    location,
                    "journal entries out of sequence",
                ));
            }
            entries.push(entry);
        }
        RequestLog::fold(id, entries)
    }

    /// Appends an entry as number `entry.seq`. [`ErrorKind::AlreadyExists`] if another
    /// writer appended that number first: read the journal again and decide anew.
    pub(crate) fn append(&self, id: &RequestId, entry: &AuditEntry) -> Result<()> {
        let data = seal(entry, "restore journal entry")?;
        self.backend.write_new(&entry_key(id, entry.seq), &data)
    }

    /// Appends the entry `make` builds from the journal as it is now; if another writer
    /// appended first, reads the journal again and asks `make` again.
    fn append_next(
        &self,
        id: &RequestId,
        make: impl Fn(&RequestLog) -> Result<AuditEntry>,
    ) -> Result<RequestLog> {
        for _ in 0..64 {
            let log = self.load(id)?;
            let entry = make(&log)?;
            match self.append(id, &entry) {
                Ok(()) => {
                    let mut entries = log.entries;
                    entries.push(entry);
                    return RequestLog::fold(id, entries);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Busy {
            reason: format!("restore request {id} is being changed by others"),
        })
    }

    /// Appends a side-effect record at the end of the journal, whatever else was appended
    /// meanwhile (it changes no state, so its position does not matter).
    pub(crate) fn record(
        &self,
        id: &RequestId,
        actor: &Actor,
        at: DateTime<Utc>,
        event: AuditEvent,
    ) -> Result<RequestLog> {
        self.append_next(id, |log| {
            Ok(AuditEntry {
                seq: log.next_seq(),
                at,
                actor: actor.clone(),
                event: event.clone(),
                tenant: self.tenant.cloned(),
            })
        })
    }

    /// Makes a move: reads the journal, asks the state machine, appends. If another writer
    /// appended first, reads again and asks again, so the loser of a race gets the state
    /// machine's verdict on the new state (a second approval is an invalid transition).
    pub(crate) fn transition(
        &self,
        id: &RequestId,
        action: &Action,
        actor: &Actor,
        now: DateTime<Utc>,
        extra: impl Fn() -> (Option<RestorePlan>, Option<RestoreResult>),
    ) -> Result<RequestLog> {
        self.append_next(id, |log| {
            let next = log.request.apply(action, actor, now)?;
            let (plan, result) = extra();
            Ok(AuditEntry {
                seq: log.next_seq(),
                at: now,
                actor: actor.clone(),
                event: AuditEvent::Moved {
                    action: action.clone(),
                    from: log.request.state,
                    to: next.state,
                    plan,
                    result,
                },
                tenant: self.tenant.cloned(),
            })
        })
    }

    /// Creates the request as the next number of its account, if the account has no open
    /// request. `make` builds the request for the number it gets.
    pub(crate) fn create(
        &self,
        account: &AccountId,
        actor: &Actor,
        now: DateTime<Utc>,
        make: impl Fn(RequestId) -> Result<(RestoreRequest, Option<RestorePlan>)>,
        close_overdue: impl Fn(&RequestLog) -> Result<RequestLog>,
    ) -> Result<RequestLog> {
        for _ in 0..64 {
            let last = self.numbers(account)?.last().copied();
            if let Some(number) = last {
                let id = RequestId::new(account.clone(), number)?;
                let mut previous = self.load(&id)?;
                if previous.request.is_overdue(now) {
                    previous = close_overdue(&previous)?;
                }
                if previous.request.state.is_open() {
                    return Err(Error::AlreadyExists {
                        what: "open restore request",
                        name: format!("{id} ({})", previous.request.state),
                    });
                }
            }
            let id = RequestId::new(account.clone(), last.unwrap_or(0) + 1)?;
            let (request, plan) = make(id.clone())?;
            let entry = AuditEntry {
                seq: 1,
                at: now,
                actor: actor.clone(),
                event: AuditEvent::Requested { request, plan },
                tenant: self.tenant.cloned(),
            };
            match self.append(&id, &entry) {
                Ok(()) => return RequestLog::fold(&id, vec![entry]),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Busy {
            reason: format!("restore requests of {account} are being changed by others"),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::backend::MemoryBackend;
    use crate::restore::request::RestoreScope;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    /// A journal as versions before retries wrote it for a run that ended in error: the
    /// JSON of each entry exactly as it was stored then.
    fn old_failed_journal(backend: &dyn Backend, id: &RequestId) {
        let request = RestoreRequest::new(
            id.clone(),
            NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
            RestoreScope::Account,
            Actor::User(id.account().clone()),
            at("2026-11-12T09:00:00Z"),
            at("2026-11-25T00:00:00Z"),
        )
        .unwrap();
        let admin = r#"{"role": "admin", "name": "carol"}"#;
        let moves = [
            r#"{"action": "approve"}, "from": "requested", "to": "approved""#,
            r#"{"action": "start"}, "from": "approved", "to": "running""#,
            r#"{"action": "fail", "reason": "INBOX is a file"}, "from": "running", "to": "failed""#,
        ];
        let mut entries = vec![format!(
            r#"{{"seq": 1, "at": "2026-11-12T09:00:00Z", "actor": {}, "event": {}}}"#,
            serde_json::to_string(&Actor::User(id.account().clone())).unwrap(),
            serde_json::json!({"event": "requested", "request": request, "plan": null}),
        )];
        for (n, action) in moves.iter().enumerate() {
            entries.push(format!(
                r#"{{"seq": {}, "at": "2026-11-12T10:00:00Z", "actor": {admin}, "event": {{"event": "moved", "action": {action}}}}}"#,
                n + 2
            ));
        }
        for (n, json) in entries.iter().enumerate() {
            let entry: AuditEntry = serde_json::from_str(json).unwrap();
            assert_eq!(entry.seq as usize, n + 1);
            Journal::new(backend).append(id, &entry).unwrap();
        }
    }

    #[test]
    fn an_old_journal_that_failed_still_loads_closed() {
        let backend = MemoryBackend::new();
        let alice = AccountId::new("alice@example.com").unwrap();
        let id = RequestId::new(alice.clone(), 1).unwrap();
        old_failed_journal(&backend, &id);
        let log = Journal::new(&backend).load(&id).unwrap();
        assert_eq!(log.request.state, RequestState::Failed);
        assert!(!log.request.state.is_open());
        assert_eq!(log.request.reason.as_deref(), Some("INBOX is a file"));
        assert_eq!(
            log.undelivered(),
            vec![
                (NotificationKind::NewRequest, Recipient::Admins),
                (NotificationKind::Failed, Recipient::User(alice)),
            ]
        );
    }

    #[test]
    fn an_interruption_tells_nobody_and_a_give_up_tells_the_user() {
        let backend = MemoryBackend::new();
        let alice = AccountId::new("alice@example.com").unwrap();
        let id = RequestId::new(alice.clone(), 1).unwrap();
        let journal = Journal::new(&backend);
        let now = at("2026-11-12T09:00:00Z");
        let user = Actor::User(alice.clone());
        journal
            .create(
                &alice,
                &user,
                now,
                |id| {
                    let day = NaiveDate::from_ymd_opt(2026, 11, 10).unwrap();
                    let deadline = at("2026-11-25T00:00:00Z");
                    let r = RestoreRequest::new(
                        id,
                        day,
                        RestoreScope::Account,
                        user.clone(),
                        now,
                        deadline,
                    )?;
                    Ok((r, None))
                },
                |log| Ok(log.clone()),
            )
            .unwrap();
        let admin = Actor::admin("carol").unwrap();
        let interrupt = Action::Interrupt {
            reason: "lock held".into(),
        };
        for action in [Action::Approve, Action::Start, interrupt] {
            journal
                .transition(&id, &action, &admin, now, || (None, None))
                .unwrap();
        }
        let stopped = journal.load(&id).unwrap();
        assert_eq!(stopped.request.state, RequestState::Interrupted);
        assert_eq!(
            stopped.undelivered(),
            vec![(NotificationKind::NewRequest, Recipient::Admins)]
        );
        let give_up = Action::GiveUp {
            reason: "mailbox moved".into(),
        };
        let given_up = journal
            .transition(&id, &give_up, &admin, now, || (None, None))
            .unwrap();
        assert_eq!(given_up.request.state, RequestState::Failed);
        assert_eq!(
            given_up.undelivered(),
            vec![
                (NotificationKind::NewRequest, Recipient::Admins),
                (NotificationKind::Failed, Recipient::User(alice)),
            ]
        );
    }
}
