//! Writing into the live Maildir: folders, subscription and keyword files, messages.
//!
//! Everything goes through [`Dir`]s opened from the account root: a folder directory, a
//! `cur/` or `tmp/`, a `subscriptions` or `dovecot-keywords` that is a symlink is refused
//! (an error naming it), so nothing is created or written outside the account and nothing
//! outside it is read into it. Files are created exclusively and given to the account's owner
//! on their descriptors.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::NaiveDate;
use filetime::FileTime;

use super::{MergeOptions, Work, is_restored_by, restored_name};
use crate::error::{Error, Result};
use crate::lookup::AccountView;
use crate::names::FolderName;
use crate::restore::outcome::RestoreResult;
use crate::source::beneath::{self, CONTROL_FILE_LIMIT, Dir};
use crate::source::keywords::{self, Keywords};
use crate::source::subscriptions::{COURIER_FILE, DOVECOT_FILE, SubscriptionFormat};
use crate::source::{MaildirAccount, encode_folder_dir};

/// Mode of the files a restore creates (as Dovecot's).
const FILE_MODE: u32 = 0o600;
/// Mode of the directories a restore creates.
const DIR_MODE: u32 = 0o700;
/// How long to wait for a server's dot-lock on a file to go away.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// A dot-lock older than this is left over by a writer that died: it is replaced.
const LOCK_STALE: Duration = Duration::from_secs(120);

/// Carries out a [`Work`]: folders, subscriptions, keywords, then messages folder by folder.
pub(super) fn run(
    view: &AccountView,
    day: NaiveDate,
    live: &MaildirAccount,
    options: &MergeOptions,
    work: Work,
) -> Result<RestoreResult> {
    let root = live.root_dir()?;
    let owner = Owner::of(&root)?;
    let mut result = RestoreResult {
        already_present: work.plan.already_present,
        warnings: work.warnings,
        ..RestoreResult::default()
    };
    for folder in work.folders.iter().filter(|f| f.recreate) {
        create_folder(&root, &folder.folder, &owner)?;
        result.folders_recreated.push(folder.folder.clone());
    }
    let resubscribe: Vec<FolderName> = work
        .folders
        .iter()
        .filter(|f| f.resubscribe)
        .map(|f| f.folder.clone())
        .collect();
    if !resubscribe.is_empty() {
        subscribe(&root, &resubscribe, &owner)?;
        result.folders_resubscribed = resubscribe;
    }

    for folder in work.folders.iter().filter(|f| !f.to_write.is_empty()) {
        let dir = open_folder(&root, &folder.folder)?;
        let mut wanted: Vec<String> = Vec::new();
        for keyword in folder
            .entries()
            .flat_map(|e| e.keywords.iter())
            .chain(&options.tag_keyword)
        {
            if !wanted.iter().any(|k| k.eq_ignore_ascii_case(keyword)) {
                wanted.push(keyword.clone());
            }
        }
        let (letters, dropped) = merge_keywords(&dir, &wanted, &owner)?;
        for keyword in dropped {
            result.warnings.push(format!(
                "{}: keyword {keyword:?} left off the restored messages: all 26 keyword \
                 letters of the folder are taken",
                folder.folder
            ));
        }
        let (tmp, cur) = prepare_message_dirs(&dir, &options.marker, &owner)?;
        for entry in folder.entries() {
            let raw = view.raw_entry(day, &folder.folder, &folder.manifest, entry)?;
            if raw.len() as u64 != entry.size {
                return Err(Error::integrity(
                    format!("message {} in {} on {day}", entry.id, folder.folder),
                    format!("{} bytes, the snapshot says {}", raw.len(), entry.size),
                ));
            }
            let mut info = entry.flags.to_string();
            let mut own: Vec<char> = entry
                .keywords
                .iter()
                .chain(&options.tag_keyword)
                .filter_map(|k| letters.letter_of(k))
                .collect();
            own.sort_unstable();
            own.dedup();
            info.extend(own);
            let unique = restored_name(entry, &options.marker);
            deliver(&tmp, &cur, &unique, &info, &raw, entry.received, &owner)?;
            result.messages_restored += 1;
            result.bytes_restored += entry.size;
        }
        cur.sync()
            .map_err(|e| io_error(cur.path(), "cannot sync directory", &e))?;
    }
    Ok(result)
}

/// Who the files the restore creates must belong to.
#[derive(Debug, Clone, Copy)]
struct Owner {
    /// `Some((uid, gid))` when running as root for an account of another user or group.
    chown_to: Option<(u32, u32)>,
}

impl Owner {
    fn of(root: &Dir) -> Result<Owner> {
        let meta = root
            .fstat()
            .map_err(|e| io_error(root.path(), "cannot examine", &e))?;
        let account = (meta.uid, meta.gid);
        let chown_to = match process_ids() {
            Some((0, gid)) if account != (0, gid) => Some(account),
            _ => None,
        };
        Ok(Owner { chown_to })
    }

    /// Gives the open file or directory `fd` at `path` (just created by the restore) to
    /// the account's owner, if needed.
    fn apply(&self, fd: impl AsFd, path: &Path) -> Result<()> {
        if let Some((uid, gid)) = self.chown_to {
            beneath::chown(fd, uid, gid).map_err(|e| {
                Error::maildir(path, format!("cannot give to uid {uid} gid {gid}: {e}"))
            })?;
        }
        Ok(())
    }
}

/// The effective user and group ids of this process, from `/proc/self/status` (Linux); `None`
/// where that is not available, and then nothing is chown'ed.
pub(super) fn process_ids() -> Option<(u32, u32)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let effective = |key: &str| -> Option<u32> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(2)?.parse().ok()
    };
    Some((effective("Uid:")?, effective("Gid:")?))
}

fn io_error(path: &Path, what: &str, e: &io::Error) -> Error {
    Error::maildir(path, format!("{what}: {e}"))
}

/// Opens a folder's directory (the root for INBOX), refusing a symlink.
fn open_folder(root: &Dir, folder: &FolderName) -> Result<Dir> {
    let rel = encode_folder_dir(folder);
    let opened = if rel.is_empty() {
        root.try_clone()
    } else {
        root.open_dir(&rel)
    };
    opened.map_err(|e| io_error(&root.join(&rel), "cannot open folder", &e))
}

/// Creates the directory `name` in `parent` (`0700`, given to the owner) unless it exists,
/// and opens it; an existing entry of that name that is not a directory (a symlink too) is
/// refused.
fn create_dir(parent: &Dir, name: &str, owner: &Owner) -> Result<Dir> {
    let path = parent.join(name);
    let created = parent
        .mkdir(name, DIR_MODE)
        .map_err(|e| io_error(&path, "cannot create directory", &e))?;
    let dir = parent
        .open_dir(name)
        .map_err(|e| io_error(&path, "cannot open directory", &e))?;
    if created {
        owner.apply(&dir, &path)?;
    }
    Ok(dir)
}

/// Creates a Maildir++ folder directory with `cur/ new/ tmp/` and an empty `maildirfolder`.
fn create_folder(root: &Dir, folder: &FolderName, owner: &Owner) -> Result<()> {
    let rel = encode_folder_dir(folder);
    let dir = if rel.is_empty() {
        root.try_clone()
            .map_err(|e| io_error(root.path(), "cannot open", &e))?
    } else {
        create_dir(root, &rel, owner)?
    };
    for sub in ["cur", "new", "tmp"] {
        create_dir(&dir, sub, owner)?;
    }
    let marker = dir.join("maildirfolder");
    match dir.create_new("maildirfolder", FILE_MODE) {
        Ok(file) => owner.apply(&file, &marker)?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_error(&marker, "cannot create", &e)),
    }
    root.sync()
        .map_err(|e| io_error(root.path(), "cannot sync directory", &e))
}

/// Makes sure `cur/` and `tmp/` exist, and removes this request's unfinished files from
/// `tmp/` (left by a run that died between writing and renaming). Returns both, open.
fn prepare_message_dirs(dir: &Dir, marker: &str, owner: &Owner) -> Result<(Dir, Dir)> {
    let cur = create_dir(dir, "cur", owner)?;
    let tmp = create_dir(dir, "tmp", owner)?;
    let entries = tmp
        .entries()
        .map_err(|e| io_error(tmp.path(), "cannot list", &e))?;
    for entry in entries {
        let Some(name) = entry.name.to_str() else {
            continue;
        };
        if is_restored_by(name, marker) {
            match tmp.unlink(name) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&tmp.join(name), "cannot remove stale file", &e)),
            }
        }
    }
    Ok((tmp, cur))
}

/// Writes one message the Maildir way: `tmp/<unique>` (created exclusively), mtime set to
/// `received`, synced, then renamed to `cur/<unique>:2,<info>`.
fn deliver(
    tmp: &Dir,
    cur: &Dir,
    unique: &str,
    info: &str,
    raw: &[u8],
    received: i64,
    owner: &Owner,
) -> Result<PathBuf> {
    let path = tmp.join(unique);
    let mut file = tmp
        .create_new(unique, FILE_MODE)
        .map_err(|e| io_error(&path, "cannot create", &e))?;
    file.write_all(raw)
        .and_then(|()| file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE)))
        .map_err(|e| io_error(&path, "cannot write", &e))?;
    owner.apply(&file, &path)?;
    filetime::set_file_handle_times(&file, None, Some(FileTime::from_unix_time(received, 0)))
        .map_err(|e| io_error(&path, "cannot set the received date", &e))?;
    file.sync_all()
        .map_err(|e| io_error(&path, "cannot write", &e))?;
    drop(file);
    let target = format!("{unique}:2,{info}");
    tmp.rename(unique, cur, &target)
        .map_err(|e| io_error(&cur.join(&target), "cannot move from tmp/", &e))?;
    Ok(cur.join(target))
}

/// Adds `folders` to the account's subscription file, keeping its format.
fn subscribe(root: &Dir, folders: &[FolderName], owner: &Owner) -> Result<()> {
    let (name, format) = if let Some(text) = read_optional(root, DOVECOT_FILE)? {
        (DOVECOT_FILE, SubscriptionFormat::of_dovecot_text(&text))
    } else if matches!(root.kind_of(COURIER_FILE), Ok(Some(_))) {
        (COURIER_FILE, SubscriptionFormat::Courier)
    } else {
        (DOVECOT_FILE, SubscriptionFormat::DovecotV2)
    };
    replace_file(root, name, owner, |existing| {
        Some(format.with_added(existing, folders))
    })
}

/// Gives every keyword of `wanted` a letter of the folder's `dovecot-keywords`, rewriting the
/// file if some are new. Returns the folder's keywords and those that found no letter.
fn merge_keywords(dir: &Dir, wanted: &[String], owner: &Owner) -> Result<(Keywords, Vec<String>)> {
    let mut outcome = (Keywords::default(), Vec::new());
    if wanted.is_empty() {
        return Ok(outcome);
    }
    replace_file(dir, keywords::FILE_NAME, owner, |existing| {
        let existing = existing.unwrap_or("");
        let mut letters = Keywords::parse(existing);
        let (text, dropped) = letters.add(existing, wanted);
        outcome = (letters, dropped);
        text
    })?;
    Ok(outcome)
}

/// The text of the control file `name` of `dir`, if there is one: a regular file of at most
/// 1 MiB, never read through a symlink (that, a FIFO or a device is an error naming it).
fn read_optional(dir: &Dir, name: &str) -> Result<Option<String>> {
    match dir.read_bounded(name, CONTROL_FILE_LIMIT) {
        Ok(bytes) => Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned())),
        Err(e) => Err(io_error(&dir.join(name), "cannot read", &e)),
    }
}

/// Rewrites the server file `name` of `dir` atomically under Dovecot's dot-lock: takes
/// `<name>.lock`, reads the file, asks `edit` for the new text (`None`: leave it), writes it
/// to the lock file, syncs it and renames it over the file. The file keeps its permission
/// bits (without set-id bits); a new one is `0600`.
fn replace_file(
    dir: &Dir,
    name: &str,
    owner: &Owner,
    edit: impl FnOnce(Option<&str>) -> Option<String>,
) -> Result<()> {
    let lock_name = format!("{name}.lock");
    let lock = dir.join(&lock_name);
    let path = dir.join(name);
    let mut file = take_lock(dir, &lock_name)?;
    let outcome = (|| {
        let existing = read_optional(dir, name)?;
        let Some(text) = edit(existing.as_deref()) else {
            return Ok(false);
        };
        let mode = dir.stat(name).map_or(FILE_MODE, |m| m.mode & 0o777);
        file.write_all(text.as_bytes())
            .and_then(|()| file.set_permissions(std::fs::Permissions::from_mode(mode)))
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error(&lock, "cannot write", &e))?;
        owner.apply(&file, &lock)?;
        dir.rename(&lock_name, dir, name)
            .map_err(|e| io_error(&path, "cannot replace", &e))?;
        Ok(true)
    })();
    if !matches!(outcome, Ok(true)) {
        let _ = dir.unlink(&lock_name);
    }
    if outcome? {
        dir.sync()
            .map_err(|e| io_error(dir.path(), "cannot sync directory", &e))?;
    }
    Ok(())
}

/// Creates a dot-lock file exclusively, waiting for a live one and replacing a stale one.
fn take_lock(dir: &Dir, lock_name: &str) -> Result<File> {
    let lock = dir.join(lock_name);
    let start = Instant::now();
    loop {
        match dir.create_new(lock_name, FILE_MODE) {
            Ok(file) => return Ok(file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                let stale_secs = i64::try_from(LOCK_STALE.as_secs()).unwrap_or(i64::MAX);
                let stale = dir
                    .stat(lock_name)
                    .is_ok_and(|m| now.saturating_sub(m.mtime) > stale_secs);
                if stale {
                    let _ = dir.unlink(lock_name);
                    continue;
                }
                if start.elapsed() > LOCK_WAIT {
                    return Err(Error::maildir(
                        lock,
                        "locked by another writer (the IMAP server?): try again",
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(io_error(&lock, "cannot create lock", &e)),
        }
    }
}
