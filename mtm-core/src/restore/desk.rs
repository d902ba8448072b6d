//! The restore desk: the whole workflow, from a user's request to the email that says the
//! mail is back. It ties the state machine, the journal, the merge into the live Maildir,
//! billing and notifications together; each of those lives in its own module.
//!
//! Every state change is made durable in the journal first. Side effects follow it: a
//! billing sink or notifier that fails never undoes the change; the failure is written to
//! the journal, reported in [`RestoreOutcome::problems`], and retried by
//! [`RestoreDesk::deliver_pending`].

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;

use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};
use crate::names::AccountId;
use crate::repo::{RepoInner, Repository};
use crate::restore::access::{AccessPolicy, Verb};
use crate::restore::billing::{BillingRecord, BillingSink, LedgerBilling, LedgerQuery, Pricing};
use crate::restore::journal::{AuditEntry, AuditEvent, Journal, RequestListing, RequestLog};
use crate::restore::merge::{self, MergeOptions};
use crate::restore::notify::{Notification, Notifier};
use crate::restore::outcome::{RestorePlan, RestoreResult};
use crate::restore::request::{
    Action, Actor, RequestId, RequestState, RestoreRequest, RestoreScope,
};
use crate::restore::tenant::{Language, Tenant, TenantDirectory, TenantId};
use crate::source::{MaildirAccount, SourceOptions};

/// Finds the live Maildir of an account: where a restore writes.
pub trait Mailboxes: Send + Sync + Debug {
    /// The account's live Maildir.
    fn maildir(&self, account: &AccountId) -> Result<MaildirAccount>;
}

/// Accounts as directories of one root, the layout `mtm snapshot --root` reads:
/// `<root>/<account>/` or `<root>/<account>/Maildir/`, found as
/// [`MaildirAccount::discover_with`] finds them.
///
/// An account directory (or its `Maildir`) that is a symlink is refused, with an
/// [`ErrorKind::Source`] error naming it, unless the [`SourceOptions`] given to
/// [`with_options`](Self::with_options) say to follow it; symlinks below the account
/// directory are never followed.
#[derive(Debug, Clone)]
pub struct MaildirRoot {
    root: PathBuf,
    options: SourceOptions,
}

impl MaildirRoot {
    /// Accounts under `root`, with the default [`SourceOptions`].
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            options: SourceOptions::default(),
        }
    }

    /// The same root, opening accounts with `options` (for example
    /// [`follow_root_symlink`](SourceOptions::follow_root_symlink) for a provider who lays
    /// accounts out with symlinks on purpose; use the options the snapshots use).
    pub fn with_options(mut self, options: SourceOptions) -> Self {
        self.options = options;
        self
    }
}

impl Mailboxes for MaildirRoot {
    fn maildir(&self, account: &AccountId) -> Result<MaildirAccount> {
        MaildirAccount::find_in(&self.root, account.as_str(), &self.options)
    }
}

/// Choices a provider makes for every restore.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreSettings {
    /// What a restore costs: the provider's prices, for its own accounts and for tenants
    /// without prices of their own.
    pub pricing: Pricing,
    /// Who among the provider's administrators decides tenants' requests.
    pub access: AccessPolicy,
    /// The language of emails about the provider's own accounts (a tenant's say its own).
    pub language: Language,
    /// An IMAP keyword put on every restored message (for example `$Restored`), so users
    /// can find what came back. None by default.
    pub tag_keyword: Option<String>,
}

/// What a workflow call did: the request as it now stands, and what came with the move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreOutcome {
    /// The request after the call.
    pub request: RestoreRequest,
    /// The plan made with the request or confirmed by its approval.
    pub plan: Option<RestorePlan>,
    /// What the restore did, once completed.
    pub result: Option<RestoreResult>,
    /// The bill, once billed.
    pub billed: Option<BillingRecord>,
    /// Side effects that failed (billing, notifications): recorded in the journal and
    /// retried by [`RestoreDesk::deliver_pending`]. Empty when all went through.
    pub problems: Vec<String>,
}

/// A pending request in an administrator's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueuedRequest {
    /// The request.
    pub request: RestoreRequest,
    /// The plan made with it.
    pub plan: Option<RestorePlan>,
}

/// The restore workflow of one repository.
///
/// ```no_run
/// use std::sync::Arc;
/// use mtm_core::*;
/// let repo = Repository::open("/srv/mtm")?;
/// let desk = RestoreDesk::new(repo, MaildirRoot::new("/srv/mail"), RestoreSettings::default());
/// let alice = AccountId::new("alice@example.com")?;
/// let clock = SystemClock;
/// let day = NaiveDate::from_ymd_opt(2026, 11, 18).unwrap();
/// let asked = desk.request(&Actor::User(alice.clone()), &alice, day, RestoreScope::Account, &clock)?;
/// let done = desk.approve(&Actor::admin("carol")?, &asked.request.id, &clock)?;
/// println!("{} messages back", done.result.map_or(0, |r| r.messages_restored));
/// # Ok::<(), mtm_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RestoreDesk {
    repo: Repository,
    mailboxes: Arc<dyn Mailboxes>,
    billing: Arc<dyn BillingSink>,
    notifier: Option<Arc<dyn Notifier>>,
    tenants: Option<Arc<dyn TenantDirectory>>,
    settings: RestoreSettings,
}

impl RestoreDesk {
    /// A desk that bills into the repository's ledger and sends no notifications (they stay
    /// pending until a notifier is set and [`deliver_pending`](Self::deliver_pending) runs).
    pub fn new(
        repo: Repository,
        mailboxes: impl Mailboxes + 'static,
        settings: RestoreSettings,
    ) -> Self {
        let billing = Arc::new(LedgerBilling::new(Arc::clone(&repo.inner.backend)));
        Self {
            repo,
            mailboxes: Arc::new(mailboxes),
            billing,
            notifier: None,
            tenants: None,
            settings,
        }
    }

    /// Asks `directory` which tenant owns each account: tenant administrators then see and
    /// decide their own tenant's requests only, bills name the tenant and use its prices,
    /// and emails go to its administrators in its language and time zone. Without a
    /// directory every account is the provider's.
    pub fn with_tenants(mut self, directory: Arc<dyn TenantDirectory>) -> Self {
        self.tenants = Some(directory);
        self
    }

    /// The tenant that owns `account` now (`None`: the provider).
    pub fn owner(&self, account: &AccountId) -> Result<Option<Tenant>> {
        match &self.tenants {
            Some(directory) => directory.owner(account),
            None => Ok(None),
        }
    }

    /// Checks that `actor` may do `verb` to requests of `account`; the account's owner.
    fn authorize(
        &self,
        actor: &Actor,
        verb: Verb,
        account: &AccountId,
        doing: &str,
    ) -> Result<Option<Tenant>> {
        let owner = self.owner(account)?;
        self.settings
            .access
            .check(actor, verb, account, owner.as_ref().map(|t| &t.id), doing)?;
        Ok(owner)
    }

    /// Sends notifications through `notifier`.
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Sends billing records to `sink` instead of the repository's ledger.
    pub fn with_billing(mut self, sink: Arc<dyn BillingSink>) -> Self {
        self.billing = sink;
        self
    }

    fn journal(&self) -> Journal<'_> {
        Journal::new(self.repo.inner.backend.as_ref())
    }

    /// When the snapshot of `day` leaves retention: the start of the day `retention_days`
    /// after it, in the provider's time zone.
    pub fn deadline(&self, day: NaiveDate) -> DateTime<Utc> {
        let inner = &self.repo.inner;
        let leaves = day
            .checked_add_days(Days::new(u64::from(inner.retention_days())))
            .unwrap_or(NaiveDate::MAX);
        inner.zone().start_of_day(leaves)
    }

    fn merge_options(&self, id: &RequestId) -> MergeOptions {
        MergeOptions {
            marker: format!("r{}", id.number()),
            tag_keyword: self.settings.tag_keyword.clone(),
        }
    }

    fn live_plan(
        &self,
        id: &RequestId,
        day: NaiveDate,
        scope: &RestoreScope,
    ) -> Result<RestorePlan> {
        let view = self.repo.account(id.account())?;
        let live = self.mailboxes.maildir(id.account())?;
        merge::plan(&view, day, scope, &live, &self.merge_options(id))
    }

    /// A user (for their own account) or an administrator (a tenant's for its accounts, the
    /// provider's for any) asks for `account` as it was on `day`. The plan against the live
    /// Maildir goes to the account owner's administrators with the deadline.
    /// [`ErrorKind::AlreadyExists`] if the account has an open request.
    pub fn request(
        &self,
        actor: &Actor,
        account: &AccountId,
        day: NaiveDate,
        scope: RestoreScope,
        clock: &dyn Clock,
    ) -> Result<RestoreOutcome> {
        let owner = self.authorize(
            actor,
            Verb::Request,
            account,
            &format!("request a restore of {account}"),
        )?;
        scope.validate()?;
        let view = self.repo.account(account)?;
        if !view.days()?.contains(&day) {
            return Err(Error::not_found("snapshot", format!("{account} on {day}")));
        }
        let now = clock.now();
        let deadline = self.deadline(day);
        let tenant = owner.as_ref().map(|t| &t.id);
        let log = self.journal().owned_by(tenant).create(
            account,
            actor,
            now,
            |id| {
                let mut request = RestoreRequest::new(
                    id.clone(),
                    day,
                    scope.clone(),
                    actor.clone(),
                    now,
                    deadline,
                )?;
                request.tenant = tenant.cloned();
                let plan = self.live_plan(&id, day, &scope)?;
                Ok((request, Some(plan)))
            },
            |overdue| {
                self.expire_log(overdue, owner.as_ref(), now)
                    .map(|(log, _)| log)
            },
        )?;
        let mut problems = Vec::new();
        let log = self.deliver(log, owner.as_ref(), now, &mut problems);
        Ok(outcome(&log, problems))
    }

    /// Reads a request: its owner and the administrators who may see it.
    pub fn get(&self, actor: &Actor, id: &RequestId) -> Result<RestoreOutcome> {
        let (log, _) = self.load_for(actor, id, Verb::See, "see")?;
        Ok(outcome(&log, Vec::new()))
    }

    /// A fresh dry run of a request against the live Maildir as it is now.
    pub fn plan(&self, actor: &Actor, id: &RequestId) -> Result<RestorePlan> {
        let (log, _) = self.load_for(actor, id, Verb::See, "plan")?;
        self.live_plan(id, log.request.day, &log.request.scope)
    }

    /// The audit trail of a request, oldest first.
    pub fn audit(&self, actor: &Actor, id: &RequestId) -> Result<Vec<AuditEntry>> {
        Ok(self
            .load_for(actor, id, Verb::See, "see the audit trail of")?
            .0
            .entries)
    }

    /// Checks that `actor` may do `verb` to request `id` (before reading it, so a request
    /// of another tenant is refused without saying whether it exists), then reads it; with
    /// the account's owner now.
    fn load_for(
        &self,
        actor: &Actor,
        id: &RequestId,
        verb: Verb,
        doing: &str,
    ) -> Result<(RequestLog, Option<Tenant>)> {
        let owner = self.authorize(
            actor,
            verb,
            id.account(),
            &format!("{doing} restore request {id}"),
        )?;
        Ok((self.journal().load(id)?, owner))
    }

    /// A journal whose entries name `owner`; before the first move written through it, if
    /// the account has changed owner since the journal last noted one, notes the change
    /// (the new owner decides from then on, and the audit trail says so).
    fn note_owner(
        &self,
        log: RequestLog,
        actor: &Actor,
        owner: Option<&Tenant>,
        now: DateTime<Utc>,
    ) -> Result<RequestLog> {
        let to = owner.map(|t| t.id.clone());
        if log.request.tenant == to {
            return Ok(log);
        }
        let event = AuditEvent::OwnerChanged {
            from: log.request.tenant.clone(),
            to: to.clone(),
        };
        self.journal()
            .owned_by(to.as_ref())
            .record(&log.request.id, actor, now, event)
    }

    /// An administrator of the account's owner approves: the request is billed (to that
    /// owner, at its prices) and the restore runs at once; the user is told when it
    /// completes. Exactly one of two racing approvals wins; the other gets
    /// [`ErrorKind::InvalidTransition`].
    ///
    /// If the run stops with an error (a folder path that is a file, a read-only Maildir, a
    /// server's lock held too long, a storage error), the request is `interrupted` and this
    /// returns [`Error::RestoreIncomplete`], whose kind is that of the cause; the user is
    /// not told. [`run`](Self::run) retries it once the cause is fixed (never billing it
    /// again), or [`give_up`](Self::give_up) ends it. A crash leaves it `running`, and
    /// [`run`](Self::run) resumes it.
    pub fn approve(
        &self,
        admin: &Actor,
        id: &RequestId,
        clock: &dyn Clock,
    ) -> Result<RestoreOutcome> {
        let now = clock.now();
        let mut problems = Vec::new();
        let (log, owner) = self.load_for(admin, id, Verb::Decide, "approve")?;
        let log = self.settle_overdue(log, owner.as_ref(), now, &mut problems)?;
        // Refuse early (wrong role, wrong state) before planning against the live Maildir.
        log.request.apply(&Action::Approve, admin, now)?;
        let plan = self.live_plan(id, log.request.day, &log.request.scope)?;
        self.note_owner(log, admin, owner.as_ref(), now)?;
        let tenant = owner.as_ref().map(|t| &t.id);
        let log =
            self.journal()
                .owned_by(tenant)
                .transition(id, &Action::Approve, admin, now, || {
                    (Some(plan.clone()), None)
                })?;
        let log = self.settle_billing(log, now, &mut problems);
        self.run_log(log, admin, owner.as_ref(), now, problems)
    }

    /// Runs an approved restore, retries an interrupted one, or resumes one cut off by a
    /// crash (still running): an administrator of the account's owner, or the provider's.
    /// The bill made at approval is the only one, however often the restore runs. Fails
    /// like [`approve`](Self::approve) when the run stops again.
    pub fn run(&self, admin: &Actor, id: &RequestId, clock: &dyn Clock) -> Result<RestoreOutcome> {
        let now = clock.now();
        if !admin.is_admin() {
            return Err(admin.denied(&format!("run restore request {id}")));
        }
        let (log, owner) = self.load_for(admin, id, Verb::Run, "run")?;
        let mut problems = Vec::new();
        let log = self.settle_billing(log, now, &mut problems);
        self.run_log(log, admin, owner.as_ref(), now, problems)
    }

    fn run_log(
        &self,
        log: RequestLog,
        admin: &Actor,
        owner: Option<&Tenant>,
        now: DateTime<Utc>,
        mut problems: Vec<String>,
    ) -> Result<RestoreOutcome> {
        let id = log.request.id.clone();
        let log = self.note_owner(log, admin, owner, now)?;
        let journal = self.journal().owned_by(owner.map(|t| &t.id));
        let log = match log.request.state {
            RequestState::Running => journal.record(&id, admin, now, AuditEvent::Resumed)?,
            RequestState::Interrupted => {
                journal.transition(&id, &Action::Retry, admin, now, || (None, None))?
            }
            _ => journal.transition(&id, &Action::Start, admin, now, || (None, None))?,
        };
        let request = &log.request;
        let ran = self.repo.account(id.account()).and_then(|view| {
            let live = self.mailboxes.maildir(id.account())?;
            merge::execute(
                &view,
                request.day,
                &request.scope,
                &live,
                &self.merge_options(&id),
            )
        });
        let cause = match ran {
            Ok(result) => {
                let log = journal.transition(&id, &Action::Complete, admin, now, || {
                    (None, Some(result.clone()))
                })?;
                let log = self.deliver(log, owner, now, &mut problems);
                return Ok(outcome(&log, problems));
            }
            Err(cause) => cause,
        };
        // Whatever stopped it, the request stays open and is run again later. If even the
        // interruption cannot be written, the request stays running, which `run` resumes.
        let interrupt = Action::Interrupt {
            reason: cause.to_string(),
        };
        let state = match journal.transition(&id, &interrupt, admin, now, || (None, None)) {
            Ok(log) => self.deliver(log, owner, now, &mut problems).request.state,
            Err(_) => RequestState::Running,
        };
        Err(Error::RestoreIncomplete {
            request: id.to_string(),
            state: state.to_string(),
            source: Box::new(cause),
        })
    }

    /// An administrator of the account's owner rejects, saying why; the user is told.
    pub fn reject(
        &self,
        admin: &Actor,
        id: &RequestId,
        reason: &str,
        clock: &dyn Clock,
    ) -> Result<RestoreOutcome> {
        if reason.trim().is_empty() {
            return Err(Error::invalid("rejection", "say why: the user is told"));
        }
        self.decide(
            admin,
            id,
            Verb::Decide,
            &Action::Reject {
                reason: reason.to_owned(),
            },
            clock,
        )
    }

    /// An administrator gives up on an approved restore that did not complete (interrupted,
    /// or still running after a crash, or approved and never started), saying why: the
    /// request is `failed`, its snapshot is no longer kept for it, the account may ask
    /// again, and the user is told the reason. The bill made at approval stands. Giving up
    /// does not stop a run that is writing at that moment in another process.
    pub fn give_up(
        &self,
        admin: &Actor,
        id: &RequestId,
        reason: &str,
        clock: &dyn Clock,
    ) -> Result<RestoreOutcome> {
        if reason.trim().is_empty() {
            return Err(Error::invalid("giving up", "say why: the user is told"));
        }
        self.decide(
            admin,
            id,
            Verb::Decide,
            &Action::GiveUp {
                reason: reason.to_owned(),
            },
            clock,
        )
    }

    /// The user (or an administrator for them) withdraws a request nobody decided yet.
    pub fn cancel(
        &self,
        actor: &Actor,
        id: &RequestId,
        clock: &dyn Clock,
    ) -> Result<RestoreOutcome> {
        self.decide(actor, id, Verb::Cancel, &Action::Cancel, clock)
    }

    fn decide(
        &self,
        actor: &Actor,
        id: &RequestId,
        verb: Verb,
        action: &Action,
        clock: &dyn Clock,
    ) -> Result<RestoreOutcome> {
        let now = clock.now();
        let mut problems = Vec::new();
        let (log, owner) = self.load_for(actor, id, verb, action.verb())?;
        let log = self.settle_overdue(log, owner.as_ref(), now, &mut problems)?;
        // Refuse early (wrong role, wrong state) before noting anything.
        log.request.apply(action, actor, now)?;
        self.note_owner(log, actor, owner.as_ref(), now)?;
        let log = self
            .journal()
            .owned_by(owner.as_ref().map(|t| &t.id))
            .transition(id, action, actor, now, || (None, None))?;
        let log = self.deliver(log, owner.as_ref(), now, &mut problems);
        Ok(outcome(&log, problems))
    }

    /// If the request waited past its deadline, expires it (and tells the user), so the
    /// move the caller wanted is then refused by the state machine with the right reason.
    fn settle_overdue(
        &self,
        log: RequestLog,
        owner: Option<&Tenant>,
        now: DateTime<Utc>,
        problems: &mut Vec<String>,
    ) -> Result<RequestLog> {
        if !log.request.is_overdue(now) {
            return Ok(log);
        }
        let (expired, mut more) = self.expire_log(&log, owner, now)?;
        problems.append(&mut more);
        Ok(expired)
    }

    fn expire_log(
        &self,
        log: &RequestLog,
        owner: Option<&Tenant>,
        now: DateTime<Utc>,
    ) -> Result<(RequestLog, Vec<String>)> {
        let id = &log.request.id;
        let journal = self.journal().owned_by(owner.map(|t| &t.id));
        let expired =
            match journal.transition(id, &Action::Expire, &Actor::System, now, || (None, None)) {
                Ok(expired) => expired,
                // Someone else settled it meanwhile.
                Err(e) if e.kind() == ErrorKind::InvalidTransition => journal.load(id)?,
                Err(e) => return Err(e),
            };
        let mut problems = Vec::new();
        let expired = self.deliver(expired, owner, now, &mut problems);
        Ok((expired, problems))
    }

    /// Expires every request still waiting at its deadline and tells each user: the
    /// outcome of each. An account whose latest request cannot be read is listed in
    /// [`RequestListing::damaged`] and the others are expired.
    pub fn expire_overdue(&self, clock: &dyn Clock) -> Result<RequestListing<RestoreOutcome>> {
        let now = clock.now();
        let journal = self.journal();
        journal.walk(journal.latest()?, |log, expired| {
            if log.request.state.is_open() && log.request.is_overdue(now) {
                let owner = self.owner(log.request.id.account())?;
                let (log, problems) = self.expire_log(&log, owner.as_ref(), now)?;
                expired.push(outcome(&log, problems));
            }
            Ok(())
        })
    }

    /// Retries every bill and notification that failed or was never sent; lists what
    /// still fails. A request whose journal cannot be read is listed in
    /// [`RequestListing::damaged`] and the others are delivered.
    pub fn deliver_pending(&self, clock: &dyn Clock) -> Result<RequestListing<String>> {
        let now = clock.now();
        let journal = self.journal();
        journal.walk(journal.every(&journal.accounts()?)?, |log, problems| {
            let log = self.settle_billing(log, now, problems);
            if !log.undelivered().is_empty() {
                let owner = self.owner(log.request.id.account())?;
                self.deliver(log, owner.as_ref(), now, problems);
            }
            Ok(())
        })
    }

    /// Requests an actor may see, by account and number: a user their own account's, a
    /// tenant administrator those of the accounts its tenant owns now, a provider
    /// administrator everyone's; or one account's (if the actor may see it). A request
    /// whose journal cannot be read is listed in [`RequestListing::damaged`], after the
    /// others.
    pub fn requests(
        &self,
        actor: &Actor,
        account: Option<&AccountId>,
    ) -> Result<RequestListing<RestoreRequest>> {
        let journal = self.journal();
        let accounts = match (actor, account) {
            (Actor::User(own), None) => vec![own.clone()],
            (_, Some(account)) => {
                self.authorize(
                    actor,
                    Verb::See,
                    account,
                    &format!("list the restore requests of {account}"),
                )?;
                vec![account.clone()]
            }
            (_, None) => self.visible(actor, journal.accounts()?)?,
        };
        journal.walk(journal.every(&accounts)?, |log, requests| {
            requests.push(log.request);
            Ok(())
        })
    }

    /// The accounts of `accounts` whose requests `actor` may see (asking the directory only
    /// for an actor whose view depends on the owner).
    fn visible(&self, actor: &Actor, accounts: Vec<AccountId>) -> Result<Vec<AccountId>> {
        if matches!(actor, Actor::Admin(_) | Actor::System) {
            return Ok(accounts);
        }
        let mut visible = Vec::new();
        for account in accounts {
            let owner = self.owner(&account)?;
            let tenant = owner.as_ref().map(|t| &t.id);
            if self
                .settings
                .access
                .allows(actor, Verb::See, &account, tenant)
            {
                visible.push(account);
            }
        }
        Ok(visible)
    }

    /// An administrator's queue: the requests waiting for a decision (nearest deadline
    /// first), then the interrupted restores waiting for a retry ([`run`](Self::run)) or for
    /// the administrator to [`give_up`](Self::give_up) (likewise); a tenant
    /// administrator's holds only its tenant's. A request shows its state, so a panel can
    /// offer the right buttons. An account whose latest request cannot be read (it may be
    /// waiting) is listed in [`RequestListing::damaged`].
    pub fn queue(&self, admin: &Actor, clock: &dyn Clock) -> Result<RequestListing<QueuedRequest>> {
        if !admin.is_admin() {
            return Err(admin.denied("see the queue of restore requests"));
        }
        let now = clock.now();
        let journal = self.journal();
        let latest = journal.latest()?;
        let accounts: std::collections::BTreeSet<AccountId> = self
            .visible(
                admin,
                latest.iter().map(|id| id.account().clone()).collect(),
            )?
            .into_iter()
            .collect();
        let latest = latest
            .into_iter()
            .filter(|id| accounts.contains(id.account()))
            .collect();
        let mut listing = journal.walk(latest, |log, queue| {
            let waits = match log.request.state {
                RequestState::Requested => !log.request.is_overdue(now),
                RequestState::Interrupted => true,
                _ => false,
            };
            if waits {
                queue.push(QueuedRequest {
                    plan: log.plan().cloned(),
                    request: log.request,
                });
            }
            Ok(())
        })?;
        listing.items.sort_by(|a, b| {
            let waits_for_retry = |q: &QueuedRequest| q.request.state == RequestState::Interrupted;
            (waits_for_retry(a), a.request.deadline, &a.request.id).cmp(&(
                waits_for_retry(b),
                b.request.deadline,
                &b.request.id,
            ))
        });
        Ok(listing)
    }

    /// The bills in the repository's ledger that `actor` may see and `query` selects: a
    /// tenant administrator only its tenant's (whatever the query says of tenants), a
    /// provider administrator any. Users see no bills.
    pub fn ledger(&self, actor: &Actor, query: &LedgerQuery) -> Result<Vec<BillingRecord>> {
        let query = match actor {
            Actor::Admin(_) => query.clone(),
            Actor::TenantAdmin { tenant, .. } => {
                let mut own = query.clone();
                own.tenant = Some(Some(tenant.clone()));
                own
            }
            _ => return Err(actor.denied("see the billing ledger")),
        };
        self.repo.billing_ledger().query(&query)
    }

    /// Bills an approved request that has not been billed yet: to the tenant the approval
    /// was made for, at its prices (the provider's when it has none, or for the provider's
    /// own accounts).
    fn settle_billing(
        &self,
        log: RequestLog,
        now: DateTime<Utc>,
        problems: &mut Vec<String>,
    ) -> RequestLog {
        if !log.was_approved() || log.billed().is_some() {
            return log;
        }
        let request = &log.request;
        let plan = log.plan();
        let bytes = plan.map_or(0, |p| p.bytes);
        let approval = log.entries.iter().find(|e| {
            matches!(
                &e.event,
                AuditEvent::Moved {
                    action: Action::Approve,
                    ..
                }
            )
        });
        let tenant = approval.and_then(|e| e.tenant.clone());
        let pricing = match self.tenant_pricing(tenant.as_ref()) {
            Ok(pricing) => pricing,
            Err(e) => {
                problems.push(format!("billing of {} failed: {e}", request.id));
                let event = AuditEvent::BillingFailed {
                    error: e.to_string(),
                };
                return self.record(log, event, now, problems);
            }
        };
        let record = BillingRecord {
            request: request.id.clone(),
            account: request.id.account().clone(),
            tenant: tenant.clone(),
            day: request.day,
            scope: request.scope.clone(),
            messages: plan.map_or(0, |p| p.messages),
            bytes,
            price: pricing.price(bytes),
            currency: pricing.currency.clone(),
            approved_by: request.decided_by.clone().unwrap_or_default(),
            at: approval.map_or(now, |e| e.at),
        };
        let event = match self.billing.bill(&record) {
            Ok(()) => AuditEvent::Billed { record },
            Err(e) => {
                problems.push(format!("billing of {} failed: {e}", request.id));
                AuditEvent::BillingFailed {
                    error: e.to_string(),
                }
            }
        };
        self.record(log, event, now, problems)
    }

    /// The prices of `tenant`: its own, or the provider's.
    fn tenant_pricing(&self, tenant: Option<&TenantId>) -> Result<Pricing> {
        let found = match (tenant, &self.tenants) {
            (Some(id), Some(directory)) => directory.tenant(id)?,
            _ => None,
        };
        Ok(found
            .and_then(|t| t.pricing)
            .unwrap_or_else(|| self.settings.pricing.clone()))
    }

    /// Sends every notification the request's moves call for that was not delivered yet,
    /// to the administrators of `owner` (the account's owner now) or its user, in the
    /// owner's language and time zone.
    fn deliver(
        &self,
        mut log: RequestLog,
        owner: Option<&Tenant>,
        now: DateTime<Utc>,
        problems: &mut Vec<String>,
    ) -> RequestLog {
        let (language, time_zone) = match owner {
            Some(tenant) => (tenant.language.clone(), tenant.time_zone),
            None => (self.settings.language.clone(), *self.repo.inner.zone()),
        };
        for (kind, recipient) in log.undelivered() {
            let Some(notifier) = &self.notifier else {
                problems.push(format!(
                    "{} notification of {} not sent: no notifier is configured",
                    kind, log.request.id
                ));
                continue;
            };
            let notification = Notification {
                kind,
                recipient: recipient.clone(),
                request: log.request.clone(),
                plan: log.plan().cloned(),
                result: log.result().cloned(),
                sent_at: now,
                tenant: owner.cloned(),
                language: language.clone(),
                time_zone,
            };
            let event = match notifier.notify(&notification) {
                Ok(()) => AuditEvent::Notified { kind, recipient },
                Err(e) => {
                    problems.push(format!(
                        "{} notification of {} failed: {e}",
                        kind, log.request.id
                    ));
                    AuditEvent::NotificationFailed {
                        kind,
                        recipient,
                        error: e.to_string(),
                    }
                }
            };
            log = self.record(log, event, now, problems);
        }
        log
    }

    /// Writes a side-effect record; if even that fails, says so and carries on with what
    /// is known (the side effect is then retried later).
    fn record(
        &self,
        log: RequestLog,
        event: AuditEvent,
        now: DateTime<Utc>,
        problems: &mut Vec<String>,
    ) -> RequestLog {
        let actor = log.request.updated_by.clone();
        let journal = self.journal().owned_by(log.request.tenant.as_ref());
        match journal.record(&log.request.id, &actor, now, event) {
            Ok(updated) => updated,
            Err(e) => {
                problems.push(format!(
                    "could not record a side effect of {}: {e}",
                    log.request.id
                ));
                log
            }
        }
    }
}

fn outcome(log: &RequestLog, problems: Vec<String>) -> RestoreOutcome {
    RestoreOutcome {
        request: log.request.clone(),
        plan: log.plan().cloned(),
        result: log.result().cloned(),
        billed: log.billed().cloned(),
        problems,
    }
}

/// The snapshots that open requests keep from pruning at `now`, and the request that
/// keeps each.
///
/// An account whose latest request cannot be read (a damaged journal, which `verify` names)
/// may have an open request for any of its days: all of them are kept, by that request, so
/// that one damaged file neither loses what a restore needs nor stops the retention of
/// every other account.
pub(crate) fn pinned_snapshots(
    inner: &RepoInner,
    now: DateTime<Utc>,
) -> Result<BTreeMap<(AccountId, NaiveDate), RequestId>> {
    let journal = Journal::new(inner.backend.as_ref());
    let listing = journal.walk(journal.latest()?, |log, pins| {
        if log.request.state.is_open() && log.request.pins_snapshot(now) {
            pins.push((
                (log.request.id.account().clone(), log.request.day),
                log.request.id,
            ));
        }
        Ok(())
    })?;
    let mut pinned: BTreeMap<_, _> = listing.items.into_iter().collect();
    for damaged in listing.damaged {
        let account = damaged.id.account();
        for day in inner.days(account)? {
            pinned.insert((account.clone(), day), damaged.id.clone());
        }
    }
    Ok(pinned)
}

impl Repository {
    /// The billing ledger kept in this repository.
    pub fn billing_ledger(&self) -> LedgerBilling {
        LedgerBilling::new(Arc::clone(&self.inner.backend))
    }
}
