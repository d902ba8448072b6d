//! `mtm repair …`: mending a damaged repository.
//!
//! `repair index` only adds index entries and runs at once; `repair recover` rewrites
//! damaged snapshots, so it shows its plan and changes nothing without `--yes`. Uses
//! `args`, `error`, `session` and `output`; no other command module.

use std::path::PathBuf;

use mtm_core::{AccountId, MaildirAccount, RecoveryPlan, SourceOptions};

use crate::args::{Cli, RepairArgs, RepairCommand};
use crate::error::{CliError, CliResult};
use crate::output::{busy, json, skipped_accounts, table};
use crate::session::{clock, open};

pub fn run(cli: &Cli, args: &RepairArgs) -> CliResult {
    match &args.command {
        RepairCommand::Index => index(cli),
        RepairCommand::Recover {
            maildirs,
            maildir,
            account,
            yes,
            now,
        } => {
            let sources = sources(cli, maildirs.as_ref(), maildir.as_ref(), account.as_deref())?;
            recover(cli, &sources, *yes, now.as_deref())
        }
    }
}

fn index(cli: &Cli) -> CliResult {
    let repo = open(cli)?;
    let report = busy(cli.json, "reading pack trailers", || repo.repair_index())?;
    if cli.json {
        json(&report)?;
    } else {
        println!(
            "{} pack(s), {} read; {} blob(s) of {} pack(s) indexed in {} new index file(s)",
            report.packs,
            report.packs_read,
            report.blobs_indexed,
            report.packs_indexed,
            report.index_files_written.len()
        );
        for key in &report.damaged_index_files_removed {
            println!("removed damaged index file {key}");
        }
        for p in &report.problems {
            println!("DAMAGED {}: {}", p.location, p.reason);
        }
    }
    if report.is_ok() {
        Ok(())
    } else {
        Err(CliError::Damaged(report.problems.len()))
    }
}

/// The live Maildirs named on the command line; what a `--maildirs` root skips is a warning.
fn sources(
    cli: &Cli,
    maildirs: Option<&PathBuf>,
    maildir: Option<&PathBuf>,
    account: Option<&str>,
) -> CliResult<Vec<(AccountId, MaildirAccount)>> {
    match (maildirs, maildir, account) {
        (_, Some(dir), Some(account)) => {
            Ok(vec![(AccountId::new(account)?, MaildirAccount::open(dir)?)])
        }
        (Some(root), None, _) => {
            let found = MaildirAccount::discover_accounts(root, &SourceOptions::default())?;
            skipped_accounts(cli.json, root, &found);
            Ok(found.accounts)
        }
        _ => Err(CliError::Usage(
            "pass --maildirs DIR (or MTM_MAILDIRS), or --maildir DIR with --account: damaged \
             messages are recovered from the live Maildir"
                .into(),
        )),
    }
}

fn recover(
    cli: &Cli,
    sources: &[(AccountId, MaildirAccount)],
    yes: bool,
    now: Option<&str>,
) -> CliResult {
    let clock = clock(now)?;
    let repo = open(cli)?;
    let plan = busy(cli.json, "reading every pack, manifest and catalog", || {
        repo.recovery_plan(sources)
    })?;
    let report = if yes && !plan.is_empty() {
        Some(busy(cli.json, "recovering", || {
            repo.recover(&plan, clock.as_ref())
        })?)
    } else {
        None
    };
    // Damage left behind is an integrity exit, as verify's.
    let outcome = match plan.unrepairable.len() {
        0 => Ok(()),
        n => Err(CliError::Damaged(n)),
    };
    if cli.json {
        json(&serde_json::json!({ "plan": plan, "executed": report.is_some(), "report": report }))?;
        return outcome;
    }
    print_plan(&plan);
    match report {
        Some(r) => println!(
            "rewrote {} snapshot(s): {} message(s) recovered, {} lost; {} unreadable \
             record(s) moved aside under damaged/, {} damaged record(s) mended from their \
             seal, {} restore journal entry(ies) mended; {} blob(s) moved out of damaged \
             packs, {} index file(s) rewritten, {} pack(s) and {} dictionary(ies) deleted",
            r.snapshots_rewritten,
            r.messages_recovered,
            r.messages_lost,
            r.records_quarantined,
            r.records_mended,
            r.journal_entries_mended,
            r.blobs_rescued,
            r.index_files_rewritten,
            r.packs_deleted,
            r.dictionaries_deleted
        ),
        None if plan.is_empty() => println!("nothing to recover"),
        None => println!("dry run: nothing changed; pass --yes to recover"),
    }
    outcome
}

fn print_plan(plan: &RecoveryPlan) {
    let mut rows = Vec::new();
    for s in &plan.snapshots {
        for (what, list) in [("recover", &s.recovered), ("LOSE", &s.lost)] {
            for m in list {
                rows.push(vec![
                    what.to_owned(),
                    s.account.to_string(),
                    s.day.to_string(),
                    m.folder.to_string(),
                    m.file
                        .clone()
                        .unwrap_or_else(|| format!("({} messages)", m.messages)),
                    m.id.map(|id| id.to_hex()[..12].to_owned())
                        .unwrap_or_default(),
                    m.reason.clone(),
                ]);
            }
        }
    }
    if !rows.is_empty() {
        println!(
            "{}",
            table(
                &[
                    "action", "account", "day", "folder", "file", "message", "why"
                ],
                rows
            )
        );
    }
    for q in &plan.quarantined {
        let action = if q.mended.is_some() {
            "MEND"
        } else {
            "MOVE ASIDE"
        };
        println!("{action} {}", q.describe());
    }
    for entry in &plan.journal_entries {
        println!("MEND {}", entry.describe());
    }
    let (dropped, mended) = plan.records_dropped_and_mended();
    println!(
        "{} snapshot(s) to rewrite: {} message(s) to recover, {} to lose; {} unreadable \
         record(s) to move aside (their days dropped), {} damaged record(s) to mend from \
         their seal, {} restore journal entry(ies) to mend; {} damaged pack(s), {} unreadable \
         blob(s), {} damaged dictionary(ies)",
        plan.snapshots.len(),
        plan.recovered_messages(),
        plan.lost_messages(),
        dropped,
        mended,
        plan.journal_entries.len(),
        plan.damaged_packs.len(),
        plan.damaged_blobs,
        plan.damaged_dictionaries.len()
    );
    for p in &plan.unrepairable {
        println!("cannot repair {}: {}", p.location, p.reason);
    }
}
