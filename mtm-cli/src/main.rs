//! `mtm`: the Mail Time Machine command.
//!
//! Parses arguments, calls `mtm-core`, prints tables for people or JSON for scripts. All
//! logic lives in the core; this binary only translates.

mod args;
mod commands;
mod demo;
mod notify;
mod output;
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
}

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::run(&cli) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(err) => {
            eprintln!("mtm: {err}");
            ExitCode::from(code_for(&err))
        }
    }
}

fn code_for(err: &commands::CliError) -> u8 {
    match err {
        commands::CliError::Usage(_) => exit::USAGE,
        commands::CliError::Io(_) => exit::STORAGE,
        commands::CliError::Damaged(_) => exit::INTEGRITY,
        commands::CliError::Core(e) => match e.kind() {
            ErrorKind::InvalidInput => exit::USAGE,
            ErrorKind::NotFound => exit::NOT_FOUND,
            ErrorKind::AlreadyExists => exit::ALREADY_EXISTS,
            ErrorKind::Integrity | ErrorKind::UnsupportedFormat => exit::INTEGRITY,
            ErrorKind::Source => exit::SOURCE,
            ErrorKind::Busy => exit::BUSY,
            ErrorKind::InvalidTransition => exit::INVALID_TRANSITION,
            ErrorKind::PermissionDenied => exit::PERMISSION_DENIED,
            _ => exit::STORAGE,
        },
    }
}
