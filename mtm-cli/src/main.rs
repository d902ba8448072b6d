//! `mtm`: the Mail Time Machine command.
//!
//! Parses arguments, calls `mtm-core`, prints tables for people or JSON for scripts. All
//! logic lives in the core; this binary only translates.

// First, so that its `println!`, `print!` and `eprintln!` replace std's in every module
// below (see output.rs: a closed pipe ends the output quietly instead of panicking).
#[macro_use]
mod output;

mod args;
mod commands;
mod demo;
mod notify;
mod repair;
mod restore;

use std::process::ExitCode;

use clap::Parser;
use mtm_core::ErrorKind;

/// Exit codes, documented in `mtm --help` and the README.
pub(crate) mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// A storage or I/O failure.
    pub const STORAGE: u8 = 1;
    /// Bad arguments (also used by the argument parser itself).
    pub const USAGE: u8 = 2;
    /// The repository, account, day, folder or message does not exist.
    pub const NOT_FOUND: u8 = 3;
    /// Something to create exists already (a snapshot of that day, a repository).
    pub const ALREADY_EXISTS: u8 = 4;
    /// Stored data is damaged, or written by an unsupported format version.
    pub const INTEGRITY: u8 = 5;
    /// The Maildir could not be read.
    pub const SOURCE: u8 = 6;
    /// Another process holds a conflicting lock (gc while snapshots run): try again later.
    pub const BUSY: u8 = 7;
    /// A restore request cannot make this move from its state.
    pub const INVALID_TRANSITION: u8 = 8;
    /// The actor's role does not allow this.
    pub const PERMISSION_DENIED: u8 = 9;
    /// The reader of stdout went away (`mtm ls … | head`): output stopped quietly. 128 + 13,
    /// what a shell reports for a process killed by SIGPIPE, as coreutils are.
    pub const BROKEN_PIPE: u8 = 141;
}

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return parse_failed(&e),
    };
    let result = commands::run(&cli);
    let stdout = output::finish_stdout();
    let err = match (result, stdout) {
        (Err(err), _) => err,
        (Ok(()), output::Stdout::Open) => return ExitCode::from(exit::OK),
        (Ok(()), output::Stdout::Closed) => return ExitCode::from(exit::BROKEN_PIPE),
        (Ok(()), output::Stdout::Failed(e)) => commands::CliError::Io(std::io::Error::new(
            e.kind(),
            format!("cannot write to stdout: {e}"),
        )),
    };
    report_error(cli.json, &err, None);
    ExitCode::from(classify(&err).1)
}

/// Prints an error on stderr: `mtm: …` for people, one JSON line with `--json`. `account`
/// names the account of one failure among many (a snapshot of every account).
pub(crate) fn report_error(json: bool, err: &commands::CliError, account: Option<&str>) {
    let (kind, code) = classify(err);
    match (json, account) {
        (true, _) => eprintln!(
            "{}",
            output::json_error(kind, &err.to_string(), code, account)
        ),
        (false, Some(account)) => eprintln!("mtm: {account}: {err}"),
        (false, None) => eprintln!("mtm: {err}"),
    }
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

/// The kind name (`--json` errors; the snake_case of the core's `ErrorKind`) and the exit
/// code of an error: one table, so the two never disagree.
fn classify(err: &commands::CliError) -> (&'static str, u8) {
    match err {
        commands::CliError::Usage(_) => ("invalid_input", exit::USAGE),
        commands::CliError::Io(_) => ("storage", exit::STORAGE),
        commands::CliError::Damaged(_) => ("integrity", exit::INTEGRITY),
        commands::CliError::Core(e) => match e.kind() {
            ErrorKind::InvalidInput => ("invalid_input", exit::USAGE),
            ErrorKind::NotFound => ("not_found", exit::NOT_FOUND),
            ErrorKind::AlreadyExists => ("already_exists", exit::ALREADY_EXISTS),
            ErrorKind::Integrity => ("integrity", exit::INTEGRITY),
            ErrorKind::UnsupportedFormat => ("unsupported_format", exit::INTEGRITY),
            ErrorKind::Source => ("source", exit::SOURCE),
            ErrorKind::Busy => ("busy", exit::BUSY),
            ErrorKind::InvalidTransition => ("invalid_transition", exit::INVALID_TRANSITION),
            ErrorKind::PermissionDenied => ("permission_denied", exit::PERMISSION_DENIED),
            _ => ("storage", exit::STORAGE),
        },
    }
}
