//! The Maildir source: one account's Maildir++ directory, as Dovecot (and Courier) write it.
//!
//! # Layout
//!
//! - INBOX is `cur/` and `new/` of the account root. Every other folder is a directory
//!   `.<name>` directly under the root, `.` separating levels and each level in IMAP modified
//!   UTF-7: `.Archive.2024` is `Archive/2024`, `.Entw&APw-rfe` is `Entwürfe`. A directory counts
//!   as a folder if it has `cur/` or `new/`; parents such as `Archive` exist only if their own
//!   directory does.
//! - Messages are the regular files in `cur/` and `new/`. `tmp/` (deliveries in progress),
//!   dot files, subdirectories and the servers' own files (`dovecot*`, `maildirsize`,
//!   `courierimap*` …) are not messages; symlinks are skipped with a warning.
//! - A file name is `<unique>[:2,<info>]`. Capital letters of the info are system flags
//!   ([`Flags`]); lowercase letters are keywords, looked up in that folder's
//!   `dovecot-keywords`. The file's mtime is the message's received date (IMAP INTERNALDATE).
//! - Subscriptions come from Dovecot's `subscriptions` and Courier's `courierimapsubscribed`;
//!   every folder on disk is listed whether subscribed or not.
//!
//! # A live mailbox
//!
//! The server keeps working while MTM reads. [`MaildirAccount::scan`] only lists names and
//! stats files; a file that disappears in between is left out with a [`SourceWarning`].
//! [`MaildirAccount::read`] follows a message that was renamed (flags changed) or moved to
//! another folder since the scan, by its unique name, and says [`ReadOutcome::Vanished`] if it
//! is gone. Problems below the account root are warnings, never errors.

pub(crate) mod keywords;
mod maildir;
pub(crate) mod subscriptions;
pub(crate) mod utf7;

use std::path::{Path, PathBuf};

use crate::{Flags, FolderName, Result};

/// One account's Maildir++ directory (Dovecot/Courier layout).
///
/// Opening checks the root once; [`scan`](Self::scan) lists folders and messages without
/// reading message content, and [`read`](Self::read) reads one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaildirAccount {
    root: PathBuf,
}

impl MaildirAccount {
    /// The account's root directory (INBOX's `cur/` and `new/` are directly under it).
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// What [`MaildirAccount::read`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome {
    /// The message's bytes, and the file as it is now (its flags, folder and path may differ
    /// from the scan's if the server renamed or moved it in between).
    Read {
        /// The whole file, byte for byte.
        bytes: Vec<u8>,
        /// The file as found now.
        file: MessageFile,
    },
    /// The message is in no folder of the account any more (expunged since the scan).
    Vanished,
}

/// Everything one scan saw: the folders with their message files, and what was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedAccount {
    /// INBOX first, then the other folders sorted by name.
    pub folders: Vec<ScannedFolder>,
    /// Files and directories that were skipped, and why.
    pub warnings: Vec<SourceWarning>,
}

/// One folder of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedFolder {
    /// The folder, decoded: `INBOX`, `Sent`, `Archive/2024`, `Entwürfe`.
    pub name: FolderName,
    /// Whether the user subscribed to it (INBOX always is).
    pub subscribed: bool,
    /// The message files, sorted by unique name.
    pub messages: Vec<MessageFile>,
}

/// One message file, as listed (no content read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFile {
    /// The folder the file is in.
    pub folder: FolderName,
    /// The full path of the file when it was listed.
    pub path: PathBuf,
    /// The file's base name, e.g. `1700000000.M1P2.host,S=123,W=130:2,FSa`.
    pub file_name: String,
    /// The file name before the first `:`, e.g. `1700000000.M1P2.host,S=123,W=130`: stays the
    /// same when the server changes the flags (see [`unique_key`](Self::unique_key)).
    pub unique: String,
    /// The file's length in bytes.
    pub size: u64,
    /// The file's mtime, in Unix seconds: the received date (IMAP INTERNALDATE).
    pub received: i64,
    /// The system flags of the file name's info (`:2,FS` → flagged, seen).
    pub flags: Flags,
    /// The keywords of the info's lowercase letters, through the folder's `dovecot-keywords`,
    /// in the order of the letters. Letters the file does not define are left out (with a
    /// warning in the scan).
    pub keywords: Vec<String>,
    /// Whether the file is in `new/` (delivered, not yet seen by any client).
    pub in_new: bool,
}

impl MessageFile {
    /// The name that identifies the message across flag changes and moves: the file name
    /// before the first `:` (the Maildir info separator).
    pub fn unique_key(&self) -> &str {
        &self.unique
    }
}

/// Something the scan skipped or could not fully understand. Never fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceWarning {
    /// The file or directory concerned.
    pub path: PathBuf,
    /// What happened, for people.
    pub message: String,
}

impl SourceWarning {
    pub(crate) fn new(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// The directory name, relative to the account root, that holds `name` in Maildir++:
/// `""` (the root itself) for INBOX, `.Archive.2024` for `Archive/2024`, `.Entw&APw-rfe` for
/// `Entwürfe`.
///
/// Maildir++ separates levels with `.`, so a level that itself contains `.` (which
/// [`FolderName`] allows) comes back from a scan as deeper levels. Names that a scan produced
/// never contain one, and always map back to their own directory.
///
/// ```
/// use mtm_core::{FolderName, encode_folder_dir};
/// assert_eq!(encode_folder_dir(&FolderName::inbox()), "");
/// assert_eq!(encode_folder_dir(&FolderName::new("Archive/2024").unwrap()), ".Archive.2024");
/// assert_eq!(encode_folder_dir(&FolderName::new("Entwürfe").unwrap()), ".Entw&APw-rfe");
/// ```
pub fn encode_folder_dir(name: &FolderName) -> String {
    if name.is_inbox() {
        return String::new();
    }
    name.levels().fold(String::new(), |mut dir, level| {
        dir.push('.');
        dir.push_str(&utf7::encode(level));
        dir
    })
}

/// The folder a Maildir++ directory name (`.Archive.2024`) stands for.
pub(crate) fn decode_folder_dir(dir_name: &str) -> Result<FolderName> {
    let name = dir_name.strip_prefix('.').unwrap_or(dir_name);
    folder_from_levels(name.split('.'))
}

/// Decodes each modified UTF-7 level and joins them into a validated folder name.
pub(crate) fn folder_from_levels<'a>(levels: impl Iterator<Item = &'a str>) -> Result<FolderName> {
    let decoded = levels.map(utf7::decode).collect::<Result<Vec<String>>>()?;
    FolderName::new(decoded.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_dirs_round_trip() {
        for (name, dir) in [
            ("Sent", ".Sent"),
            ("Archive/2024", ".Archive.2024"),
            ("Entwürfe", ".Entw&APw-rfe"),
            ("Tom & Jerry/日本語", ".Tom &- Jerry.&ZeVnLIqe-"),
        ] {
            let folder = FolderName::new(name).unwrap();
            assert_eq!(encode_folder_dir(&folder), dir);
            assert_eq!(decode_folder_dir(dir).unwrap(), folder);
        }
        assert_eq!(encode_folder_dir(&FolderName::inbox()), "");
    }

    #[test]
    fn bad_folder_dirs_are_errors() {
        for bad in [
            "..Sent",
            ".Sent.",
            ".a..b",
            ".Bad&Zm9v",
            ".Entwürfe",
            ".x&AAk-y",
        ] {
            assert!(decode_folder_dir(bad).is_err(), "{bad:?}");
        }
    }
}
