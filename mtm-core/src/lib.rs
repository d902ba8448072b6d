//! # Mail Time Machine core
//!
//! Daily, deduplicated, read-only snapshots of Maildir mailboxes, a webmail-like view of any
//! retained day, and byte-exact `.eml` download.
//!
//! The on-disk format is described in `FORMAT.md` beside this crate.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod flags;
mod id;
mod names;

pub use chrono::{DateTime, NaiveDate, Utc};
pub use error::{Error, ErrorKind, Result};
pub use flags::{Flag, Flags};
pub use id::{BlobId, MessageId};
pub use names::{AccountId, FolderName, MAX_ACCOUNT_ID_LEN, MAX_FOLDER_NAME_LEN};

mod backend;
mod store;

pub use backend::{Backend, LocalBackend, MemoryBackend};
mod clock;
mod lookup;
mod repo;
mod snapshot;

pub use clock::{Clock, FixedClock, SystemClock};
pub use lookup::{
    AccountView, ChangeKind, DIFF_NOTE, DayScope, DiffEntry, DiffSide, FolderInfo, MessageInfo, MessagePage,
    MessageQuery, SearchHit, SearchQuery, Sighting, SnapshotDiff, SnapshotInfo, SortKey,
};
pub use repo::{Repository, RepositoryOptions, RepositoryStats};
pub use snapshot::{SnapshotOptions, SnapshotProgress, SnapshotReport};
