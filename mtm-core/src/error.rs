//! The one public error type of `mtm-core`.
//!
//! Every public function returns [`Result<T>`]. Bindings map [`Error::kind`] to their own
//! exception or error classes; the message of an [`Error`] is written for people.

use std::path::PathBuf;

/// The result type of every public `mtm-core` function.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, coarsely: the part of an [`Error`] that a caller branches on.
///
/// Bindings map each kind to one exception class (Python) or error code (Node, FFI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument was malformed: a bad account id, folder name, day or option.
    InvalidInput,
    /// The thing asked for does not exist (account, day, folder, message, repository).
    NotFound,
    /// The thing to create exists already (a repository, a snapshot of that account and day).
    AlreadyExists,
    /// Stored bytes do not match their hash, or a stored structure cannot be decoded.
    Integrity,
    /// The repository was written by a format version this library cannot read.
    UnsupportedFormat,
    /// The operating system or the storage backend failed.
    Storage,
    /// The Maildir source could not be read.
    Source,
    /// Another process holds a lock that this operation conflicts with (a garbage collection
    /// while snapshots run, or the reverse). Try again later.
    Busy,
    /// A restore request cannot make this move from the state it is in (approving a
    /// rejected request, a second approval, acting after its deadline).
    InvalidTransition,
    /// The caller's role does not allow this (a user acting on another account's request,
    /// a user approving).
    PermissionDenied,
}

/// An error of `mtm-core`: a [`kind`](Error::kind) to branch on and a message for people.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument was malformed.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which input (for example "account id").
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// Something that was asked for does not exist.
    #[error("{what} not found: {name}")]
    NotFound {
        /// What kind of thing (for example "snapshot").
        what: &'static str,
        /// Which one.
        name: String,
    },
    /// Something to be created exists already.
    #[error("{what} already exists: {name}")]
    AlreadyExists {
        /// What kind of thing.
        what: &'static str,
        /// Which one.
        name: String,
    },
    /// Stored bytes are damaged: their hash does not match, or they cannot be decoded.
    #[error("integrity error in {location}: {reason}")]
    Integrity {
        /// Where: a blob, pack or file name, and the message it belongs to when known.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// The repository format version is not one this library reads.
    #[error("unsupported repository format version {found} (this library reads {supported})")]
    UnsupportedFormat {
        /// The version found in the repository.
        found: u32,
        /// The version this library reads and writes.
        supported: u32,
    },
    /// The repository is of an older format that this version reads but does not write:
    /// [`Repository::upgrade`](crate::Repository::upgrade) (`mtm upgrade`) converts it.
    #[error(
        "repository format {found} is read-only for this version, which writes format \
         {current}: run `mtm upgrade` to convert it (readers of older versions cannot read \
         it afterwards)"
    )]
    UpgradeNeeded {
        /// The config format found.
        found: u32,
        /// The format this version writes.
        current: u32,
    },
    /// An I/O error of the storage backend or the file system.
    #[error("storage error at {path}: {source}")]
    Storage {
        /// The path or key involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The Maildir source could not be read.
    #[error("cannot read maildir {path}: {reason}")]
    Source {
        /// The path involved.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Another process holds a conflicting lock on the repository.
    #[error("repository busy: {reason}")]
    Busy {
        /// Who holds the lock.
        reason: String,
    },
    /// A restore request cannot make the asked move from its current state.
    #[error("restore request {request} is {state}: cannot {action}")]
    InvalidTransition {
        /// The request, `<account>/<number>`.
        request: String,
        /// The state it is in.
        state: String,
        /// What was asked (approve, reject, cancel …).
        action: String,
    },
    /// The caller may not do this.
    #[error("permission denied: {actor} may not {action}")]
    PermissionDenied {
        /// Who asked.
        actor: String,
        /// What they asked for.
        action: String,
    },
    /// An approved restore stopped before it completed and waits to be run again
    /// (`RestoreDesk::run`, billed once however often it runs) or given up. Its
    /// [`kind`](Error::kind) is the kind of what stopped it.
    #[error(
        "restore request {request} did not complete and is {state}: run it again once the \
         cause is fixed, or give up on it: {source}"
    )]
    RestoreIncomplete {
        /// The request, `<account>/<number>`.
        request: String,
        /// The state it is left in (`interrupted`, or `running` if even that could not be
        /// recorded).
        state: String,
        /// What stopped it.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// The coarse kind of this error, for callers and bindings to branch on.
    ///
    /// ```
    /// use mtm_core::{AccountId, ErrorKind};
    /// let err = AccountId::new("../etc").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput { .. } => ErrorKind::InvalidInput,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::Integrity { .. } => ErrorKind::Integrity,
            Error::UnsupportedFormat { .. } | Error::UpgradeNeeded { .. } => {
                ErrorKind::UnsupportedFormat
            }
            Error::Storage { .. } => ErrorKind::Storage,
            Error::Source { .. } => ErrorKind::Source,
            Error::Busy { .. } => ErrorKind::Busy,
            Error::InvalidTransition { .. } => ErrorKind::InvalidTransition,
            Error::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Error::RestoreIncomplete { source, .. } => source.kind(),
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            what,
            reason: reason.into(),
        }
    }

    pub(crate) fn not_found(what: &'static str, name: impl Into<String>) -> Self {
        Error::NotFound {
            what,
            name: name.into(),
        }
    }

    pub(crate) fn integrity(location: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Integrity {
            location: location.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn storage(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Storage {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn maildir(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Source {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
