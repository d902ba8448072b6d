//! `mtm`: the Mail Time Machine command.
//!
//! Parses arguments, calls `mtm-core`, prints tables for people or JSON for scripts. All
//! logic lives in the core; this binary only translates.
//!
//! # Layers
//!
//! Each module imports only the modules of the layers below it, never one beside or above:
//!
//! 1. `args` (the clap definitions of every subcommand) and `error` (`CliError`, the exit
//!    codes and the one table from an error to its kind and code): they import nothing of
//!    the crate.
//! 2. `output` (stdout that a closed pipe ends quietly, tables, JSON, errors and warnings
//!    on stderr, spinners, writing a user-named file): imports `error`.
//!    `session` (the repository `--repo` names, the clock `--now` names): imports `args`
//!    and `error`. `notify` (the notifier of the restore options): imports `args` and
//!    `error`.
//! 3. The command modules: `commands` (init, snapshot, browsing, verify, prune, gc),
//!    `restore`, `repair` and `demo`. Each imports layers 1 and 2 and the core, never
//!    another command module; a helper two of them need moves down to `output` or
//!    `session`, or into `mtm-core` when a binding needs it too.
//! 4. This file: `main` and [`run`], the dispatcher from a subcommand to its module. The
//!    demo runs real commands through the dispatcher, which it is handed as a function.

// First, so that its `println!`, `print!` and `eprintln!` replace std's in every module
// below (see output.rs: a closed pipe ends the output quietly instead of panicking).
#[macro_use]
mod output;

mod args;
mod commands;
mod demo;
mod error;
mod notify;
mod repair;
mod restore;
mod session;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::error::{CliError, CliResult, exit};

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return parse_failed(&e),
    };
    let result = run(&cli);
    let stdout = output::finish_stdout();
    let err = match (result, stdout) {
        (Err(err), _) => err,
        (Ok(()), output::Stdout::Open) => return ExitCode::from(exit::OK),
        (Ok(()), output::Stdout::Closed) => return ExitCode::from(exit::BROKEN_PIPE),
        (Ok(()), output::Stdout::Failed(e)) => CliError::Io(std::io::Error::new(
            e.kind(),
            format!("cannot write to stdout: {e}"),
        )),
    };
    output::report_error(cli.json, &err, None);
    ExitCode::from(err.classify().1)
}

/// Help and version go to stdout as usual; a usage error is JSON when `--json` was given
/// (looked for in the raw arguments, since they did not parse).
fn parse_failed(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind as Clap;
    let json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    if matches!(e.kind(), Clap::DisplayHelp | Clap::DisplayVersion) || !json {
        e.exit();
    }
    let message = match e.kind() {
        Clap::DisplayHelpOnMissingArgumentOrSubcommand => {
            "a subcommand is required (see mtm --help)".to_owned()
        }
        _ => {
            // The error paragraph, without the usage and help lines that follow it.
            let rendered = e.render().to_string();
            let paragraph: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .take_while(|line| !line.is_empty())
                .collect();
            let text = paragraph.join(" ");
            text.strip_prefix("error: ").unwrap_or(&text).to_owned()
        }
    };
    eprintln!(
        "{}",
        output::json_error("invalid_input", &message, exit::USAGE, None)
    );
    ExitCode::from(exit::USAGE)
}

/// Runs one parsed command: the subcommand's module does the work.
fn run(cli: &Cli) -> CliResult {
    match &cli.command {
        Command::Init {
            time_zone,
            no_dictionary,
            retention_days,
        } => commands::init(cli, time_zone, !no_dictionary, *retention_days),
        Command::Snapshot(args) => commands::snapshot(cli, args),
        Command::Accounts => commands::accounts(cli),
        Command::Days { account } => commands::days(cli, account),
        Command::Ls(args) => commands::ls(cli, args),
        Command::Cat {
            account,
            day,
            message,
            output,
        } => commands::cat(cli, account, day, message, output.as_deref()),
        Command::Show {
            account,
            day,
            message,
            html,
        } => commands::show(cli, account, day, message, *html),
        Command::Search(args) => commands::search(cli, args),
        Command::Diff {
            account,
            from,
            to,
            live,
            accounts,
        } => commands::diff(
            cli,
            account,
            from,
            (to.as_deref(), live.as_deref()),
            accounts,
        ),
        Command::History { account, message } => commands::history(cli, account, message),
        Command::Verify { read_data } => commands::verify(cli, *read_data),
        Command::Gc {
            repack_below,
            max_unused,
        } => commands::gc(cli, *repack_below, *max_unused),
        Command::Prune {
            account,
            dry_run,
            now,
            gc: false,
        } => commands::prune(cli, account.as_deref(), *dry_run, now.as_deref()),
        Command::Prune {
            account,
            now,
            gc: true,
            ..
        } => commands::prune_and_gc(cli, account.as_deref(), now.as_deref()),
        Command::Demo { keep } => demo::run(keep.as_deref(), run),
        Command::Restore(args) => restore::run(cli, args),
        Command::Repair(args) => repair::run(cli, args),
        Command::Upgrade => commands::upgrade(cli),
    }
}
