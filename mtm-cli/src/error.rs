//! Why a command failed, and what `mtm` then exits with: the bottom layer of the crate,
//! importing nothing of it.

use mtm_core::ErrorKind;

/// Exit codes, documented in `mtm --help` and the README.
pub mod exit {
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

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    Core(mtm_core::Error),
    Usage(String),
    Io(std::io::Error),
    /// `verify` found damage (already printed).
    Damaged(usize),
}

impl CliError {
    /// The kind name (`--json` errors; the snake_case of the core's `ErrorKind`) and the
    /// exit code of this error: one table, so the two never disagree.
    pub fn classify(&self) -> (&'static str, u8) {
        match self {
            CliError::Usage(_) => ("invalid_input", exit::USAGE),
            CliError::Io(_) => ("storage", exit::STORAGE),
            CliError::Damaged(_) => ("integrity", exit::INTEGRITY),
            CliError::Core(e) => match e.kind() {
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
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Core(e) => write!(f, "{e}"),
            CliError::Usage(m) => write!(f, "{m}"),
            CliError::Io(e) => write!(f, "{e}"),
            CliError::Damaged(n) => write!(f, "the repository has {n} problem(s)"),
        }
    }
}

impl From<mtm_core::Error> for CliError {
    fn from(e: mtm_core::Error) -> Self {
        CliError::Core(e)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Io(e)
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        CliError::Io(e.into())
    }
}

/// The result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;
