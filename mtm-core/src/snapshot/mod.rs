//! Taking snapshots: one account's Maildir on one day, stored as deduplicated blobs.

pub(crate) mod model;
#[cfg(test)]
mod passed_over_tests;
mod run;
pub(crate) mod take;

use std::fmt::Debug;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use crate::names::AccountId;

/// Receives progress while a snapshot runs (for a progress bar). Called from the thread
/// that called [`Repository::snapshot`](crate::Repository::snapshot).
pub trait SnapshotProgress: Send + Sync + Debug {
    /// The scan is done: `messages` files with `bytes` bytes in all; `to_read` of them are
    /// new or changed and will be read.
    fn started(&self, account: &AccountId, messages: u64, bytes: u64, to_read: u64);
    /// One more message was read and stored.
    fn advanced(&self, bytes: u64);
}

/// How to take a snapshot.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// Worker threads that read, hash and compress messages; 0 means one per core.
    pub threads: usize,
    /// Where to report progress.
    pub progress: Option<Arc<dyn SnapshotProgress>>,
    /// How long to wait for a garbage collection that holds the repository's lock before
    /// giving up with [`ErrorKind::Busy`](crate::ErrorKind::Busy). Default one minute.
    /// [`snapshot_many`](crate::Repository::snapshot_many) waits this long once per run:
    /// after one account gave up, the others try the lock once each.
    pub lock_wait: std::time::Duration,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        Self {
            threads: 0,
            progress: None,
            lock_wait: std::time::Duration::from_secs(60),
        }
    }
}

/// What a snapshot stored and what it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotReport {
    /// The account.
    pub account: AccountId,
    /// The day the snapshot belongs to.
    pub day: NaiveDate,
    /// Folders captured.
    pub folders: u64,
    /// Messages captured.
    pub messages: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Message files read (new or changed since the previous snapshot).
    pub files_read: u64,
    /// Message files taken from the previous snapshot without reading them.
    pub files_unchanged: u64,
    /// Messages whose content the account had never had before.
    pub new_messages: u64,
    /// Blobs newly stored (message parts, manifests, catalogs).
    pub stored_blobs: u64,
    /// Their compressed size in bytes: what this snapshot added to the repository.
    pub stored_bytes: u64,
    /// Files that disappeared while the snapshot ran (deleted by the user or the server).
    pub vanished: u64,
    /// Everything worth telling an operator: skipped files, unreadable folders.
    pub warnings: Vec<String>,
}
