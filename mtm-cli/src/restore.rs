//! `mtm restore …`: the restore workflow from the command line.
//!
//! Who acts is said on every call: `--admin NAME` for an administrator, otherwise the user
//! of the account concerned (`--user ACCOUNT` to say which user explicitly). Uses `args`,
//! `error`, `session`, `notify` and `output`; no other command module.

use std::sync::Arc;

use mtm_core::{
    AccountId, Actor, AuditEvent, Clock, LedgerQuery, Mailboxes, MaildirRoot, Pricing, RequestId,
    RestoreDesk, RestoreOutcome, RestorePlan, RestoreScope, RestoreSettings, TenantId, TenantsFile,
    format_bytes, parse_day,
};

use crate::args::{Cli, RestoreArgs, RestoreCommand, Setup, Who};
use crate::error::{CliError, CliResult};
use crate::output::{busy, damaged_requests, json, table};
use crate::session::{clock, open};

pub fn run(cli: &Cli, args: &RestoreArgs) -> CliResult {
    let repo = open(cli)?;
    let clock = clock(args.setup.now.as_deref())?;
    let clock = clock.as_ref();
    let tenants = match &args.setup.tenants {
        // Tenants that name no time zone get the repository's.
        Some(path) => Some(Arc::new(TenantsFile::read(path)?.for_repository(&repo))),
        None => None,
    };
    let who = Caller {
        who: &args.who,
        tenants: tenants.as_deref(),
    };
    let desk = desk(repo.clone(), &args.setup, tenants.clone())?;
    match &args.command {
        RestoreCommand::Request {
            account,
            day,
            folders,
            messages,
        } => {
            let account = AccountId::new(account)?;
            let actor = who.actor(Some(&account))?;
            let scope = scope(folders, messages)?;
            let outcome = busy(cli.json, "planning against the live Maildir", || {
                desk.request(&actor, &account, parse_day(day)?, scope, clock)
                    .map_err(CliError::from)
            })?;
            print_outcome(cli, &outcome)
        }
        RestoreCommand::Plan { id } => {
            let id = request_id(id)?;
            let plan = desk.plan(&who.actor(Some(id.account()))?, &id)?;
            if cli.json {
                json(&plan)?;
            } else {
                print_plan(&plan);
            }
            Ok(())
        }
        RestoreCommand::Approve { id } => {
            let id = request_id(id)?;
            let admin = who.actor(Some(id.account()))?;
            let outcome = busy(cli.json, "restoring", || desk.approve(&admin, &id, clock))?;
            print_outcome(cli, &outcome)
        }
        RestoreCommand::Reject { id, reason } => {
            let id = request_id(id)?;
            let admin = who.actor(Some(id.account()))?;
            print_outcome(cli, &desk.reject(&admin, &id, reason, clock)?)
        }
        RestoreCommand::Cancel { id } => {
            let id = request_id(id)?;
            let who = who.actor(Some(id.account()))?;
            print_outcome(cli, &desk.cancel(&who, &id, clock)?)
        }
        RestoreCommand::Run { id } => {
            let id = request_id(id)?;
            let admin = who.actor(Some(id.account()))?;
            let outcome = busy(cli.json, "restoring", || desk.run(&admin, &id, clock))?;
            print_outcome(cli, &outcome)
        }
        RestoreCommand::GiveUp { id, reason } => {
            let id = request_id(id)?;
            let admin = who.actor(Some(id.account()))?;
            print_outcome(cli, &desk.give_up(&admin, &id, reason, clock)?)
        }
        RestoreCommand::List { account, queue } => {
            let account = account.as_deref().map(AccountId::new).transpose()?;
            let who = who.actor(account.as_ref())?;
            list(cli, &desk, &who, account.as_ref(), *queue, clock)
        }
        RestoreCommand::Show { id } => {
            let id = request_id(id)?;
            let who = who.actor(Some(id.account()))?;
            let outcome = desk.get(&who, &id)?;
            let audit = desk.audit(&who, &id)?;
            if cli.json {
                return Ok(json(
                    &serde_json::json!({ "request": outcome, "audit": audit }),
                )?);
            }
            print_outcome(cli, &outcome)?;
            println!("audit trail:");
            for entry in &audit {
                let actor = match entry.on_behalf_of() {
                    Some(tenant) => format!("{} for {tenant}", entry.actor),
                    None => entry.actor.to_string(),
                };
                println!(
                    "  {:>3}  {}  {:<28}  {}",
                    entry.seq,
                    entry.at,
                    actor,
                    describe(&entry.event)
                );
            }
            Ok(())
        }
        RestoreCommand::Expire => {
            let listing = desk.expire_overdue(clock)?;
            damaged_requests(cli.json, &listing.damaged);
            let expired = listing.items;
            if cli.json {
                return Ok(json(&expired)?);
            }
            for outcome in &expired {
                println!(
                    "expired {} (deadline {})",
                    outcome.request.id, outcome.request.deadline
                );
                for problem in &outcome.problems {
                    println!("  warning: {problem}");
                }
            }
            println!("{} request(s) expired", expired.len());
            Ok(())
        }
        RestoreCommand::Deliver => {
            let listing = desk.deliver_pending(clock)?;
            damaged_requests(cli.json, &listing.damaged);
            let problems = listing.items;
            if cli.json {
                return Ok(json(&serde_json::json!({ "problems": problems }))?);
            }
            for problem in &problems {
                println!("still failing: {problem}");
            }
            if problems.is_empty() && listing.damaged.is_empty() {
                println!("every bill and notification is delivered");
            } else if problems.is_empty() {
                println!("every bill and notification of the readable requests is delivered");
            }
            Ok(())
        }
        RestoreCommand::Ledger {
            tenant,
            provider_only,
            since,
            until,
        } => {
            let mut query = LedgerQuery::default();
            if let Some(tenant) = tenant {
                query = query.tenant(TenantId::new(tenant)?);
            }
            if *provider_only {
                query = query.provider_only();
            }
            if let Some(day) = since {
                query = query.since(repo.start_of_day(parse_day(day)?));
            }
            if let Some(day) = until {
                let after = parse_day(day)?.succ_opt().unwrap_or(chrono::NaiveDate::MAX);
                query = query.before(repo.start_of_day(after));
            }
            // Without --admin the ledger is read as the provider (whoever can read the
            // repository's files can read the ledger anyway).
            let reader = match &args.who.admin {
                Some(_) => who.actor(None)?,
                None => Actor::admin("provider")?,
            };
            ledger(cli, &desk.ledger(&reader, &query)?)
        }
    }
}

/// Who makes the call, resolved through the tenants file when there is one.
struct Caller<'a> {
    who: &'a Who,
    tenants: Option<&'a TenantsFile>,
}

impl Caller<'_> {
    fn actor(&self, account: Option<&AccountId>) -> CliResult<Actor> {
        if let Some(admin) = &self.who.admin {
            return Ok(match self.tenants {
                Some(file) => file.admin(admin)?,
                None => Actor::admin(admin.clone())?,
            });
        }
        match (&self.who.user, account) {
            (Some(user), _) => Ok(Actor::User(AccountId::new(user)?)),
            (None, Some(account)) => Ok(Actor::User(account.clone())),
            (None, None) => Err(CliError::Usage(
                "say who you are: --admin NAME or --user ACCOUNT".into(),
            )),
        }
    }
}

fn desk(
    repo: mtm_core::Repository,
    setup: &Setup,
    tenants: Option<Arc<TenantsFile>>,
) -> CliResult<RestoreDesk> {
    let mut settings = RestoreSettings {
        pricing: Pricing {
            currency: setup.currency.clone(),
            base: setup.price_base,
            per_gib: setup.price_per_gib,
        },
        tag_keyword: setup.tag_keyword.clone(),
        ..Default::default()
    };
    if let Some(file) = &tenants {
        settings.access = file.policy();
        settings.language = file.provider_language().clone();
    }
    let desk = match setup.maildirs.clone() {
        Some(root) => {
            let root = MaildirRoot::new(root).with_options(setup.accounts.source_options());
            RestoreDesk::new(repo, root, settings)
        }
        None => RestoreDesk::new(repo, NoMaildirs, settings),
    };
    let desk = match crate::notify::notifier(setup, tenants.as_deref())? {
        Some(notifier) => desk.with_notifier(notifier),
        None => desk,
    };
    Ok(match tenants {
        Some(file) => desk.with_tenants(file),
        None => desk,
    })
}

/// Stands in when no `--maildirs` is given: reading requests works, planning and restoring
/// say what is missing.
#[derive(Debug)]
struct NoMaildirs;

impl Mailboxes for NoMaildirs {
    fn maildir(&self, _account: &AccountId) -> mtm_core::Result<mtm_core::MaildirAccount> {
        Err(mtm_core::Error::InvalidInput {
            what: "live Maildirs",
            reason: "where are they? pass --maildirs ROOT or set MTM_MAILDIRS".into(),
        })
    }
}

fn request_id(text: &str) -> CliResult<RequestId> {
    Ok(text.parse()?)
}

fn scope(folders: &[String], messages: &[String]) -> CliResult<RestoreScope> {
    if !folders.is_empty() {
        return Ok(RestoreScope::folders_named(folders)?);
    }
    if !messages.is_empty() {
        return Ok(RestoreScope::messages_named(messages)?);
    }
    Ok(RestoreScope::Account)
}

fn list(
    cli: &Cli,
    desk: &RestoreDesk,
    who: &Actor,
    account: Option<&AccountId>,
    queue: bool,
    clock: &dyn Clock,
) -> CliResult {
    if queue {
        let listing = desk.queue(who, clock)?;
        damaged_requests(cli.json, &listing.damaged);
        let queue = listing.items;
        if cli.json {
            return Ok(json(&queue)?);
        }
        let rows = queue
            .iter()
            .map(|q| {
                vec![
                    q.request.id.to_string(),
                    tenant_name(q.request.tenant.as_ref()),
                    q.request.state.to_string(),
                    q.request.day.to_string(),
                    q.request.scope.to_string(),
                    q.plan
                        .as_ref()
                        .map_or("?".into(), |p| p.messages.to_string()),
                    q.plan
                        .as_ref()
                        .map_or("?".into(), |p| format_bytes(p.bytes)),
                    q.request.deadline.to_string(),
                ]
            })
            .collect();
        println!(
            "{}",
            table(
                &[
                    "request",
                    "tenant",
                    "state",
                    "day",
                    "scope",
                    ">messages",
                    ">size",
                    "deadline"
                ],
                rows
            )
        );
        return Ok(());
    }
    let listing = desk.requests(who, account)?;
    damaged_requests(cli.json, &listing.damaged);
    let requests = listing.items;
    if cli.json {
        return Ok(json(&requests)?);
    }
    let rows = requests
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                tenant_name(r.tenant.as_ref()),
                r.day.to_string(),
                r.scope.to_string(),
                r.state.to_string(),
                r.requested_at.to_string(),
                r.deadline.to_string(),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "request",
                "tenant",
                "day",
                "scope",
                "state",
                "requested",
                "deadline"
            ],
            rows
        )
    );
    Ok(())
}

fn ledger(cli: &Cli, records: &[mtm_core::BillingRecord]) -> CliResult {
    if cli.json {
        return Ok(json(&records)?);
    }
    let rows = records
        .iter()
        .map(|r| {
            vec![
                r.request.to_string(),
                tenant_name(r.tenant.as_ref()),
                r.day.to_string(),
                r.messages.to_string(),
                format_bytes(r.bytes),
                r.price_text(),
                r.approved_by.clone(),
                r.at.to_string(),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "request",
                "tenant",
                "day",
                ">messages",
                ">size",
                ">price",
                "approved by",
                "at"
            ],
            rows
        )
    );
    Ok(())
}

fn print_plan(plan: &RestorePlan) {
    let rows = plan
        .folders
        .iter()
        .map(|f| {
            let mut notes = Vec::new();
            if f.recreate {
                notes.push("recreated");
            }
            if f.resubscribe {
                notes.push("resubscribed");
            }
            vec![
                f.folder.to_string(),
                f.in_snapshot.to_string(),
                f.to_restore.to_string(),
                format_bytes(f.bytes_to_restore),
                f.already_present.to_string(),
                notes.join(", "),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "folder",
                ">in snapshot",
                ">to restore",
                ">size",
                ">already there",
                ""
            ],
            rows
        )
    );
    println!(
        "{} message(s), {} to restore; {} already in the live account",
        plan.messages,
        format_bytes(plan.bytes),
        plan.already_present
    );
}

fn print_outcome(cli: &Cli, outcome: &RestoreOutcome) -> CliResult {
    if cli.json {
        return Ok(json(outcome)?);
    }
    let r = &outcome.request;
    println!("restore request {}: {}", r.id, r.state);
    if let Some(tenant) = &r.tenant {
        println!("  tenant        {tenant}");
    }
    println!("  snapshot day  {} ({})", r.day, r.scope);
    println!("  requested     {} by {}", r.requested_at, r.requested_by);
    println!(
        "  deadline      {} (when the snapshot leaves retention)",
        r.deadline
    );
    if let Some(admin) = &r.decided_by {
        println!("  decided by    {admin}");
    }
    if let Some(reason) = &r.reason {
        println!("  reason        {reason}");
    }
    if let (Some(plan), None) = (&outcome.plan, &outcome.result) {
        print_plan(plan);
    }
    if let Some(result) = &outcome.result {
        println!(
            "  restored      {} message(s), {}; {} already there",
            result.messages_restored,
            format_bytes(result.bytes_restored),
            result.already_present
        );
        for folder in &result.folders_recreated {
            println!("  recreated     {folder}");
        }
        for warning in &result.warnings {
            println!("  warning       {warning}");
        }
    }
    if let Some(bill) = &outcome.billed {
        println!("  billed        {}", bill.price_text());
    }
    for problem in &outcome.problems {
        println!("  not delivered {problem} (retry with `mtm restore deliver`)");
    }
    Ok(())
}

/// A tenant's id in a table; `-` for the provider's own accounts.
fn tenant_name(tenant: Option<&TenantId>) -> String {
    tenant.map_or("-".to_owned(), ToString::to_string)
}

fn describe(event: &AuditEvent) -> String {
    match event {
        AuditEvent::Requested { request, .. } => {
            format!("requested {} of {}", request.scope, request.day)
        }
        AuditEvent::Moved {
            from, to, action, ..
        } => format!("{} ({from} -> {to})", action.verb()),
        AuditEvent::Resumed => "resumed an interrupted restore".into(),
        AuditEvent::OwnerChanged { from, to } => {
            let owner = |t: &Option<mtm_core::TenantId>| {
                t.as_ref()
                    .map_or("the provider".to_owned(), |t| format!("tenant {t}"))
            };
            format!(
                "account moved from {} to {}: the new owner decides",
                owner(from),
                owner(to)
            )
        }
        AuditEvent::Billed { record } => format!("billed {}", record.price_text()),
        AuditEvent::BillingFailed { error } => format!("billing failed: {error}"),
        AuditEvent::Notified { kind, recipient } => format!("notified {recipient} ({kind})"),
        AuditEvent::NotificationFailed { kind, error, .. } => {
            format!("{kind} notification failed: {error}")
        }
    }
}
