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
//!   `courierimap*` …) are not messages.
//! - A file name is `<unique>[:2,<info>]`. Capital letters of the info are system flags
//!   ([`Flags`]); lowercase letters are keywords, looked up in that folder's
//!   `dovecot-keywords`. The file's mtime is the message's received date (IMAP INTERNALDATE).
//! - Subscriptions come from Dovecot's `subscriptions` and Courier's `courierimapsubscribed`;
//!   every folder on disk is listed whether subscribed or not.
//!
//! # A mailbox its user can write
//!
//! MTM runs as root (or a service user that reads every mailbox) over directories their
//! users can write, so nothing below an account root is trusted. Every open below the root
//! goes through one module, `source/beneath.rs`: Linux `openat2` with `RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS`, or a component-by-component `O_NOFOLLOW` walk where the kernel
//! lacks it.
//!
//! - A symlink anywhere below the root is never followed: a folder directory, a `cur/` or
//!   `new/`, a message file or a control file that is one is skipped with a
//!   [`SourceWarning`] naming it (in a scan), or refused with an
//!   [`ErrorKind::Source`](crate::ErrorKind::Source) error naming it (a read, a restore).
//! - Only regular files are read, checked on the opened descriptor: a message swapped for a
//!   symlink or a FIFO after the scan is refused, never read through and never waited on.
//! - Control files (`subscriptions`, `courierimapsubscribed`, `dovecot-keywords`) are read
//!   only up to 1 MiB: a larger one, a FIFO or `-> /dev/zero` is a warning naming it.
//! - A message file with several names (hard links) is read only if it belongs to the owner
//!   of the account root: where `fs.protected_hardlinks` is 0 a user could link a file they
//!   cannot read into their Maildir. Dovecot's own links (a copy to another folder, one
//!   delivery to several folders of one user) are files of the owner, and are read.
//! - A sparse message file (`truncate -s 1T`, no quota spent) is refused before it is
//!   read: a delivered message never has holes.
//! - A message is read only as long as it was when opened: a file that grows or shrinks
//!   while it is read is refused, never stored half-written, and a read never takes more
//!   memory than the file's size then.
//! - The account directory itself is opened by its path. If it (or an account's `Maildir`)
//!   is a symlink, it is refused unless [`SourceOptions::follow_root_symlink`] is set, for
//!   providers that lay mail out with symlinks on purpose.
//!
//! # A live mailbox
//!
//! The server keeps working while MTM reads. [`MaildirAccount::scan`] only lists names and
//! stats files; a file that disappears in between is left out with a [`SourceWarning`], and a
//! `cur/` or `new/` that changed while it was listed is listed again (a warning names it if it
//! never holds still, since a file renamed at that moment can be missing from the listing).
//! [`MaildirAccount::read`] follows a message that was renamed (flags changed) or moved to
//! another folder since the scan, by its unique name, and says [`ReadOutcome::Vanished`] if it
//! is gone; a [`MaildirReader`] shares one listing of the account among all the reads of a
//! snapshot, so a burst of renames costs one listing, not one per message. Problems below the
//! account root are warnings, never errors.
//!
//! # A night without change
//!
//! A snapshot does not list a folder whose directories (the folder's own, `cur/`, `new/`) and
//! `dovecot-keywords` have the same inode numbers, mtimes and ctimes as when the previous
//! snapshot listed it: it reuses that snapshot's record of the folder (`source/stamp.rs`).
//! A folder is stamped only when it was listed cleanly (nothing in it skipped or unreadable,
//! so what could not be taken is tried and reported again the next night), and only if its
//! times are at least two seconds old when listed. This trusts, as the scan already does for
//! file names that carry their size, that a message file's content never changes under the
//! same unique name: Dovecot and Courier never rewrite a delivered message in place.

pub(crate) mod beneath;
pub(crate) mod keywords;
mod maildir;
mod root;
pub(crate) mod stamp;
pub(crate) mod subscriptions;
pub(crate) mod utf7;

pub use root::{InvalidAccount, RootAccounts};

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{Flags, FolderName, Result};
pub(crate) use stamp::FolderStamp;

/// One account's Maildir++ directory (Dovecot/Courier layout).
///
/// Opening checks the root once; [`scan`](Self::scan) lists folders and messages without
/// reading message content, and [`read`](Self::read) reads one message. No file descriptor
/// stays open between calls (a run over 100,000 accounts holds none per account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaildirAccount {
    root: PathBuf,
    options: SourceOptions,
}

/// How a mail source is opened: choices of the provider, not of the mailbox's user.
///
/// The default is the safe one. A future source (IMAP) takes the same options where they
/// apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceOptions {
    /// Follow a symlink that is the account directory itself (`/srv/mail/alice ->
    /// /data/alice`), or an account's `Maildir`, as a provider may lay mail out on purpose.
    /// Off by default: such an account is refused ([`MaildirAccount::open_with`]) or skipped
    /// with a warning ([`MaildirAccount::discover_with`]). Symlinks *below* the account
    /// directory are never followed, whatever this says.
    pub follow_root_symlink: bool,
}

impl SourceOptions {
    /// These options with [`follow_root_symlink`](Self::follow_root_symlink) set to `follow`.
    pub fn follow_root_symlink(mut self, follow: bool) -> Self {
        self.follow_root_symlink = follow;
        self
    }
}

/// What [`MaildirAccount::discover_with`] found under a directory of accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveredAccounts {
    /// (directory name, account), sorted by name.
    pub accounts: Vec<(String, MaildirAccount)>,
    /// Account directories that were skipped, and why (a symlink not followed, one that
    /// cannot be opened).
    pub warnings: Vec<SourceWarning>,
}

/// One pass of reads over an account ([`MaildirAccount::reader`]): the root stays open for
/// the pass, and a message that is no longer where the scan saw it is looked for in one
/// listing of the whole account that the reads of the pass share (listed again only when it
/// cannot answer), so a burst of renames costs one listing, not one per message. Can be
/// shared by threads.
#[derive(Debug)]
pub struct MaildirReader<'a> {
    account: &'a MaildirAccount,
    root: beneath::Dir,
    /// The owner of the account root (see `beneath::check_links`).
    owner: u32,
    where_now: Mutex<maildir::Relocations>,
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

/// What the scan of a snapshot is told of the previous one ([`MaildirAccount::scan_since`]).
pub(crate) trait ScanBasis {
    /// Called for each folder before it is listed, with the stamp it has now (`None` if it
    /// could not be observed). `Ok(true)`: the previous snapshot stored that stamp for it,
    /// so it is unchanged and not listed. Otherwise it is listed next, and the basis may
    /// load what it knows of its files now.
    fn unchanged(&mut self, folder: &FolderName, stamp: Option<FolderStamp>) -> Result<bool>;

    /// The size and received date seen before for the file of unique name `unique`.
    fn known(&self, unique: &str) -> Option<(u64, i64)>;
}

/// A basis that knows files only: every folder is listed.
pub(crate) struct KnownFiles<'a>(pub(crate) &'a dyn Fn(&str) -> Option<(u64, i64)>);

impl ScanBasis for KnownFiles<'_> {
    fn unchanged(&mut self, _: &FolderName, _: Option<FolderStamp>) -> Result<bool> {
        Ok(false)
    }

    fn known(&self, unique: &str) -> Option<(u64, i64)> {
        (self.0)(unique)
    }
}

/// What [`MaildirAccount::scan_since`] found.
#[derive(Debug)]
pub(crate) struct Rescan {
    /// The folders it listed, and every warning.
    pub(crate) listed: ScannedAccount,
    /// The folders the basis said are unchanged, in scan order: not listed.
    pub(crate) unchanged: Vec<UnchangedFolder>,
    /// The stamps to store with listed folders: only those listed cleanly (nothing skipped,
    /// every listing settled) whose stamp is not racy.
    pub(crate) stamps: std::collections::HashMap<FolderName, FolderStamp>,
}

/// A folder a scan passed over as unchanged.
#[derive(Debug)]
pub(crate) struct UnchangedFolder {
    pub(crate) name: FolderName,
    /// Whether the user is subscribed to it now (subscriptions are read at every scan).
    pub(crate) subscribed: bool,
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

/// The part of a Maildir file name before the info suffix: stable across flag changes.
pub(crate) fn unique_key(file_name: &str) -> &str {
    file_name
        .split_once(':')
        .map_or(file_name, |(unique, _)| unique)
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
