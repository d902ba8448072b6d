//! What a restore would do (the plan an administrator sees before approving) and what it did.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::names::{AccountId, FolderName};
use crate::restore::request::RestoreScope;

/// One folder of a [`RestorePlan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderPlan {
    /// The folder, as the snapshot names it.
    pub folder: FolderName,
    /// Messages of this folder in the snapshot that the scope covers.
    pub in_snapshot: u64,
    /// Of those, how many would be written back.
    pub to_restore: u64,
    /// Their total size in bytes.
    pub bytes_to_restore: u64,
    /// Of those, how many the live account still has (in this folder or another): left alone.
    pub already_present: u64,
    /// The folder no longer exists in the live Maildir and would be created again.
    pub recreate: bool,
    /// The snapshot had the folder subscribed and the live account does not: it would be
    /// subscribed again.
    pub resubscribe: bool,
}

/// A dry run of a restore against the live Maildir: per folder, what would come back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestorePlan {
    /// The account.
    pub account: AccountId,
    /// The snapshot day.
    pub day: NaiveDate,
    /// What the request covers.
    pub scope: RestoreScope,
    /// Every folder the scope touches, in the snapshot's order (INBOX first).
    pub folders: Vec<FolderPlan>,
    /// Messages that would be written back, over all folders.
    pub messages: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Messages the live account still has.
    pub already_present: u64,
}

impl RestorePlan {
    /// The folders that would be created again.
    pub fn folders_to_recreate(&self) -> Vec<&FolderName> {
        self.folders
            .iter()
            .filter(|f| f.recreate)
            .map(|f| &f.folder)
            .collect()
    }
}

/// What a restore run did. A run that resumes an interrupted one counts what it wrote
/// itself; what the first run wrote shows as already present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreResult {
    /// Messages written back into the live Maildir.
    pub messages_restored: u64,
    /// Their total size in bytes.
    pub bytes_restored: u64,
    /// Messages of the scope that the live account already had: left alone.
    pub already_present: u64,
    /// Folders that were created again.
    pub folders_recreated: Vec<FolderName>,
    /// Folders subscribed again.
    pub folders_resubscribed: Vec<FolderName>,
    /// What could not be kept exactly (a keyword with no free letter, …), for people.
    pub warnings: Vec<String>,
}
