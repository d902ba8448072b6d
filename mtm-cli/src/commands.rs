//! The commands that read and maintain a repository (init, snapshot, browsing, verify, prune,
//! gc): one function per subcommand that parses its arguments into core types, calls the
//! core and prints. Uses `args`, `error`, `session` and `output`; no other command module.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use mtm_core::{
    AccountId, AccountView, ChangeKind, DayScope, FolderName, MaildirAccount, MessageId,
    MessageQuery, Repository, RepositoryOptions, SearchQuery, SnapshotOptions, SnapshotProgress,
    SnapshotReport, format_bytes, parse_day,
};

use crate::args::{Cli, LsArgs, SearchArgs, SnapshotArgs};
use crate::error::{CliError, CliResult};
use crate::output::{
    busy, clip, json, report_error, skipped_accounts, table, write_file, write_stdout,
};
use crate::session::{clock, open, repo_path};

fn view(cli: &Cli, account: &str) -> CliResult<(Repository, AccountView)> {
    let repo = open(cli)?;
    let view = repo.account(&AccountId::new(account)?)?;
    Ok((repo, view))
}

pub fn init(cli: &Cli, time_zone: &str, dictionary: bool, retention_days: u32) -> CliResult {
    let path = repo_path(cli)?;
    let repo = Repository::init(
        path,
        RepositoryOptions {
            time_zone: time_zone.to_owned(),
            header_dictionary: dictionary,
            retention_days,
        },
    )?;
    if cli.json {
        json(&serde_json::json!({ "repository": path, "time_zone": repo.time_zone() }))?;
    } else {
        println!(
            "Created repository {} (time zone {})",
            path.display(),
            repo.time_zone()
        );
    }
    Ok(())
}

/// A progress bar over the bytes to read; hidden when stderr is not a terminal.
#[derive(Debug)]
struct Bar(ProgressBar);

impl SnapshotProgress for Bar {
    fn started(&self, account: &AccountId, messages: u64, _bytes: u64, to_read: u64) {
        self.0.set_length(to_read);
        self.0
            .set_message(format!("{account}: {messages} messages, {to_read} to read"));
    }
    fn advanced(&self, _bytes: u64) {
        self.0.inc(1);
    }
}

pub fn snapshot(cli: &Cli, args: &SnapshotArgs) -> CliResult {
    let repo = open(cli)?;
    let clock = clock(args.now.as_deref())?;
    let source_options = args.accounts.source_options();
    let accounts: Vec<(AccountId, MaildirAccount)> = match (&args.maildir, &args.root) {
        (Some(maildir), _) => {
            let account = args.account.as_deref().unwrap_or_default();
            let source = MaildirAccount::open_with(maildir, &source_options)?;
            vec![(AccountId::new(account)?, source)]
        }
        (None, Some(root)) => {
            let found = MaildirAccount::discover_accounts(root, &source_options)?;
            skipped_accounts(cli.json, root, &found);
            found.accounts
        }
        (None, None) => {
            return Err(CliError::Usage(
                "pass --maildir with --account, or --root".into(),
            ));
        }
    };
    let bar = (!args.quiet && !cli.json).then(|| {
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} messages {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Arc::new(Bar(pb))
    });
    let options = SnapshotOptions {
        threads: args.threads,
        progress: bar.clone().map(|b| b as Arc<dyn SnapshotProgress>),
        ..SnapshotOptions::default()
    };
    let results = if accounts.len() == 1 {
        let (account, source) = &accounts[0];
        vec![repo.snapshot(account, source, clock.as_ref(), &options)]
    } else {
        repo.snapshot_many(&accounts, clock.as_ref(), &options)
    };
    if let Some(bar) = bar {
        bar.0.finish_and_clear();
    }
    let mut reports: Vec<SnapshotReport> = Vec::new();
    let mut failures = Vec::new();
    for ((account, _), result) in accounts.iter().zip(results) {
        match result {
            Ok(report) => reports.push(report),
            Err(e) if accounts.len() == 1 => return Err(e.into()),
            // With many accounts, one failure must not hide the others' results.
            Err(e) => {
                let err = CliError::Core(e);
                report_error(cli.json, &err, Some(account.as_str()));
                failures.push(err);
            }
        }
    }
    if cli.json {
        json(&reports)?;
    } else {
        let rows = reports
            .iter()
            .map(|r| {
                vec![
                    r.account.to_string(),
                    r.day.to_string(),
                    r.folders.to_string(),
                    r.messages.to_string(),
                    format_bytes(r.bytes),
                    r.files_read.to_string(),
                    format_bytes(r.stored_bytes),
                    r.vanished.to_string(),
                ]
            })
            .collect();
        println!(
            "{}",
            table(
                &[
                    "account",
                    "day",
                    ">folders",
                    ">messages",
                    ">size",
                    ">read",
                    ">stored",
                    ">vanished"
                ],
                rows
            )
        );
        for r in &reports {
            for w in &r.warnings {
                eprintln!("mtm: {}: {w}", r.account);
            }
        }
    }
    match failures.into_iter().next() {
        Some(first) => Err(first),
        None => Ok(()),
    }
}

pub fn accounts(cli: &Cli) -> CliResult {
    let accounts = open(cli)?.accounts()?;
    if cli.json {
        json(&accounts)?;
    } else {
        accounts.iter().for_each(|a| println!("{a}"));
    }
    Ok(())
}

pub fn days(cli: &Cli, account: &str) -> CliResult {
    let (_, view) = view(cli, account)?;
    let infos = view
        .days()?
        .into_iter()
        .map(|d| view.snapshot(d))
        .collect::<Result<Vec<_>, _>>()?;
    if cli.json {
        json(&infos)?;
    } else {
        let rows = infos
            .iter()
            .map(|i| {
                vec![
                    i.day.to_string(),
                    i.taken_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    i.folders.to_string(),
                    i.messages.to_string(),
                    format_bytes(i.bytes),
                ]
            })
            .collect();
        println!(
            "{}",
            table(&["day", "taken at", ">folders", ">messages", ">size"], rows)
        );
    }
    Ok(())
}

pub fn ls(cli: &Cli, args: &LsArgs) -> CliResult {
    let (_, view) = view(cli, &args.account)?;
    let day = view.resolve_day(&args.day)?;
    let Some(folder) = &args.folder else {
        let folders = view.folders(day)?;
        if cli.json {
            json(&folders)?;
        } else {
            let rows = folders
                .iter()
                .map(|f| {
                    let depth = f.name.levels().count() - 1;
                    let leaf = f.name.levels().last().unwrap_or_default();
                    vec![
                        format!("{}{leaf}", "  ".repeat(depth)),
                        if f.subscribed { "yes" } else { "no" }.to_owned(),
                        f.messages.to_string(),
                        format_bytes(f.bytes),
                    ]
                })
                .collect();
            println!(
                "{}",
                table(&["folder", "subscribed", ">messages", ">size"], rows)
            );
        }
        return Ok(());
    };
    let query = MessageQuery::default()
        .sort(args.sort, !args.asc)
        .numbered_page(args.page, args.per_page)?;
    let page = view.messages(day, &FolderName::new(folder.as_str())?, &query)?;
    if cli.json {
        json(&page)?;
    } else {
        let rows = page
            .messages
            .iter()
            .map(|m| {
                vec![
                    m.id.to_hex()[..12].to_owned(),
                    m.received.format("%Y-%m-%d %H:%M").to_string(),
                    clip(&m.summary.from, 28),
                    clip(&m.summary.subject, 44),
                    m.flags.to_string(),
                    format_bytes(m.size),
                ]
            })
            .collect();
        println!(
            "{}",
            table(
                &["id", "received", "from", "subject", "flags", ">size"],
                rows
            )
        );
        let last = (page.offset + page.messages.len() as u64).min(page.total);
        println!(
            "{folder} on {day}: messages {}–{last} of {}",
            page.offset + 1,
            page.total
        );
    }
    Ok(())
}

fn message_id(view: &AccountView, day: NaiveDate, text: &str) -> CliResult<MessageId> {
    Ok(view.resolve_id(day, text)?)
}

pub fn cat(cli: &Cli, account: &str, day: &str, message: &str, output: Option<&Path>) -> CliResult {
    let (_, view) = view(cli, account)?;
    let day = view.resolve_day(day)?;
    let id = message_id(&view, day, message)?;
    let raw = view.raw(day, &id)?;
    match output {
        Some(path) => {
            write_file(path, &raw)?;
            if cli.json {
                json(&serde_json::json!({ "id": id, "file": path, "bytes": raw.len() }))?;
            } else {
                eprintln!("wrote {} ({} bytes)", path.display(), raw.len());
            }
        }
        None => write_stdout(&raw),
    }
    Ok(())
}

pub fn show(cli: &Cli, account: &str, day: &str, message: &str, html: bool) -> CliResult {
    let (_, view) = view(cli, account)?;
    let day = view.resolve_day(day)?;
    let id = message_id(&view, day, message)?;
    let info = view.message(day, &id)?;
    let parsed = view.parsed(day, &id)?;
    if cli.json {
        json(&serde_json::json!({ "message": info, "parsed": parsed }))?;
        return Ok(());
    }
    println!("Message {id}");
    println!(
        "Folder: {}   Flags: {}   Size: {}",
        info.folder,
        info.flags,
        format_bytes(info.size)
    );
    if !parsed.summary.parsed {
        println!("(this message could not be parsed; `mtm cat` gives its exact bytes)");
    }
    for h in &parsed.headers {
        println!("{}: {}", h.name, h.value);
    }
    println!();
    if let Some(text) = &parsed.text {
        println!("{text}");
    }
    if html && let Some(h) = &parsed.html {
        println!("--- HTML ---\n{h}");
    }
    if parsed.truncated {
        println!(
            "(the body is longer than the {} shown; `mtm cat` gives the whole message)",
            format_bytes(mtm_core::VIEW_PART_LIMIT as u64)
        );
    }
    for a in &parsed.attachments {
        println!(
            "[attachment] {} ({}, {})",
            a.name.as_deref().unwrap_or("unnamed"),
            a.content_type,
            format_bytes(a.size)
        );
    }
    Ok(())
}

pub fn search(cli: &Cli, args: &SearchArgs) -> CliResult {
    let (_, view) = view(cli, &args.account)?;
    let days = match &args.day {
        Some(day) => DayScope::Day(view.resolve_day(day)?),
        None => DayScope::All,
    };
    let mut query = SearchQuery::default().days(days);
    query.from = args.from.clone();
    query.to = args.to.clone();
    query.subject = args.subject.clone();
    query.message_id = args.message_id.clone();
    query.since = args.since.as_deref().map(parse_day).transpose()?;
    query.until = args.until.as_deref().map(parse_day).transpose()?;
    query.has_attachment = args.has_attachment.then_some(true);
    let hits = view.search(&query)?;
    if cli.json {
        json(&hits)?;
        return Ok(());
    }
    let rows = hits
        .iter()
        .map(|h| {
            let first = h
                .seen
                .first()
                .map(|s| s.day.to_string())
                .unwrap_or_default();
            let last = h.seen.last().map(|s| s.day.to_string()).unwrap_or_default();
            let mut folders: Vec<String> = h.seen.iter().map(|s| s.folder.to_string()).collect();
            folders.dedup();
            vec![
                h.id.to_hex()[..12].to_owned(),
                clip(&h.summary.from, 26),
                clip(&h.summary.subject, 40),
                format!("{first} … {last}"),
                folders.join(", "),
            ]
        })
        .collect();
    println!(
        "{}",
        table(&["id", "from", "subject", "seen", "folders"], rows)
    );
    println!("{} message(s) found", hits.len());
    Ok(())
}

pub fn diff(
    cli: &Cli,
    account: &str,
    from: &str,
    (to, live): (Option<&str>, Option<&Path>),
    accounts: &crate::args::AccountOptions,
) -> CliResult {
    let (_, view) = view(cli, account)?;
    let from = view.resolve_day(from)?;
    let diff = match (to, live) {
        (_, Some(maildir)) => {
            let source = MaildirAccount::open_with(maildir, &accounts.source_options())?;
            view.diff_live(from, &source)?
        }
        (Some(to), None) => view.diff(from, view.resolve_day(to)?)?,
        (None, None) => {
            return Err(CliError::Usage(
                "give a second day, or --live MAILDIR".into(),
            ));
        }
    };
    if cli.json {
        json(&diff)?;
        return Ok(());
    }
    let places = |p: &[mtm_core::Placement]| {
        p.iter()
            .map(|p| match p.keywords.as_slice() {
                [] => format!("{} [{}]", p.folder, p.flags),
                keywords => format!("{} [{}] {}", p.folder, p.flags, keywords.join(" ")),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let rows = diff
        .entries
        .iter()
        .map(|e| {
            let change = match e.change {
                ChangeKind::Removed => "removed",
                ChangeKind::Added => "added",
                ChangeKind::Moved => "moved",
                ChangeKind::FlagsChanged => "flags",
                ChangeKind::KeywordsChanged => "keywords",
            };
            vec![
                change.to_owned(),
                e.id.to_hex()[..12].to_owned(),
                clip(&e.summary.subject, 40),
                places(&e.before),
                places(&e.after),
            ]
        })
        .collect();
    println!(
        "{}",
        table(&["change", "id", "subject", "before", "after"], rows)
    );
    println!(
        "{} removed, {} added, {} moved, {} with changed flags, {} with changed keywords",
        diff.count(ChangeKind::Removed),
        diff.count(ChangeKind::Added),
        diff.count(ChangeKind::Moved),
        diff.count(ChangeKind::FlagsChanged),
        diff.count(ChangeKind::KeywordsChanged)
    );
    if !diff.warnings.is_empty() {
        println!("skipped:");
        for warning in &diff.warnings {
            println!("  {warning}");
        }
    }
    println!("Note: {}", diff.note);
    Ok(())
}

pub fn history(cli: &Cli, account: &str, message: &str) -> CliResult {
    let (_, view) = view(cli, account)?;
    let id = view.resolve_id_any_day(message)?;
    let seen = view.history(&id)?;
    if cli.json {
        json(&seen)?;
    } else {
        let rows = seen
            .iter()
            .map(|s| {
                vec![
                    s.day.to_string(),
                    s.folder.to_string(),
                    s.flags.to_string(),
                    s.keywords.join(" "),
                ]
            })
            .collect();
        println!("{}", table(&["day", "folder", "flags", "keywords"], rows));
    }
    Ok(())
}

pub fn upgrade(cli: &Cli) -> CliResult {
    let path = repo_path(cli)?;
    let report = busy(cli.json, "upgrading the repository", || {
        Repository::upgrade(path)
    })?;
    if cli.json {
        json(&report)?;
    } else if report.from_format == report.to_format && report.index_files_merged == 0 {
        println!("repository format {}: nothing to upgrade", report.to_format);
    } else {
        println!(
            "upgraded from format {} to {}: {} index file(s) merged into one sorted file",
            report.from_format, report.to_format, report.index_files_merged
        );
    }
    Ok(())
}

pub fn verify(cli: &Cli, read_data: f64) -> CliResult {
    let repo = open(cli)?;
    let report = busy(cli.json, "verifying every hash and reference", || {
        repo.verify(&mtm_core::VerifyOptions { read_data })
    })?;
    if cli.json {
        json(&report)?;
    } else {
        println!(
            "checked {} index files, {} packs ({} read, {} blobs hashed), {} snapshots, {} messages",
            report.index_files,
            report.packs,
            report.packs_read,
            report.blobs_checked,
            report.snapshots,
            report.messages
        );
        if report.unreferenced_packs > 0 {
            println!(
                "{} unreferenced pack(s): left by an interrupted snapshot, harmless",
                report.unreferenced_packs
            );
        }
        for p in &report.problems {
            println!("DAMAGED {}: {}", p.location, p.reason);
            for m in &p.messages {
                println!(
                    "  message {} of {} on {} in {} ({:?})",
                    &m.id.to_hex()[..12],
                    m.account,
                    m.day,
                    m.folder,
                    m.subject
                );
            }
        }
        if report.is_ok() {
            println!("no problems found");
        }
    }
    if report.is_ok() {
        Ok(())
    } else {
        Err(CliError::Damaged(report.problems.len()))
    }
}

pub fn prune(cli: &Cli, account: Option<&str>, dry_run: bool, now: Option<&str>) -> CliResult {
    let repo = open(cli)?;
    let clock = clock(now)?;
    let account = account.map(AccountId::new).transpose()?;
    let plan = busy(cli.json, "planning the prune", || {
        repo.prune_plan(clock.as_ref(), account.as_ref())
    })?;
    let removed = if dry_run {
        None
    } else {
        Some(repo.prune(&plan, clock.as_ref())?)
    };
    if cli.json {
        json(
            &serde_json::json!({ "plan": plan, "dry_run": dry_run, "removed": removed.map(|r| r.removed) }),
        )?;
        return Ok(());
    }
    print_plan(&plan);
    match removed {
        Some(r) => println!("removed {} snapshot(s)", r.removed),
        None => println!("dry run: nothing removed"),
    }
    Ok(())
}

fn print_plan(plan: &mtm_core::PrunePlan) {
    let rows = plan
        .expired
        .iter()
        .map(|s| {
            vec![
                s.account.to_string(),
                s.day.to_string(),
                s.messages.to_string(),
                format_bytes(s.bytes),
            ]
        })
        .collect();
    println!("{}", table(&["account", "day", ">messages", ">size"], rows));
    println!(
        "keeping {} snapshot(s) from {} on; {} to remove; {} in {} blob(s) become reclaimable by gc",
        plan.kept,
        plan.keep_from,
        plan.expired.len(),
        format_bytes(plan.reclaimable_bytes),
        plan.reclaimable_blobs
    );
    for pin in &plan.pinned {
        println!(
            "keeping {} on {} past the window: restore request {} is open",
            pin.account, pin.day, pin.request
        );
    }
}

pub fn prune_and_gc(cli: &Cli, account: Option<&str>, now: Option<&str>) -> CliResult {
    let repo = open(cli)?;
    let clock = clock(now)?;
    let account = account.map(AccountId::new).transpose()?;
    let (plan, removed, collected) = busy(cli.json, "pruning and collecting garbage", || {
        repo.prune_and_gc(
            clock.as_ref(),
            account.as_ref(),
            &mtm_core::GcOptions::default(),
        )
    })?;
    if cli.json {
        json(&serde_json::json!({ "plan": plan, "removed": removed.removed, "gc": collected }))?;
        return Ok(());
    }
    print_plan(&plan);
    println!("removed {} snapshot(s)", removed.removed);
    print_gc(&collected);
    Ok(())
}

pub fn gc(cli: &Cli, repack_below: f64, max_unused: f64) -> CliResult {
    let repo = open(cli)?;
    let report = busy(cli.json, "collecting garbage", || {
        repo.gc(&mtm_core::GcOptions {
            repack_below,
            max_unused,
        })
    })?;
    if cli.json {
        json(&report)?;
    } else {
        print_gc(&report);
    }
    Ok(())
}

fn print_gc(report: &mtm_core::GcReport) {
    println!(
        "removed {} unreferenced blob(s): {} pack(s) deleted, {} repacked; packs {} -> {}",
        report.blobs_removed,
        report.packs_deleted,
        report.packs_repacked,
        format_bytes(report.pack_bytes_before),
        format_bytes(report.pack_bytes_after)
    );
}
