//! Writing into the live Maildir: folders, subscription and keyword files, messages.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use chrono::NaiveDate;
use filetime::FileTime;

use super::{MergeOptions, Work, is_restored_by, restored_name};
use crate::error::{Error, Result};
use crate::lookup::AccountView;
use crate::names::FolderName;
use crate::restore::outcome::RestoreResult;
use crate::source::MaildirAccount;
use crate::source::keywords::{self, Keywords};
use crate::source::subscriptions::{COURIER_FILE, DOVECOT_FILE, SubscriptionFormat};

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
    let owner = Owner::of(live.root())?;
    let mut result = RestoreResult {
        already_present: work.plan.already_present,
        warnings: work.warnings,
        ..RestoreResult::default()
    };
    for folder in work.folders.iter().filter(|f| f.recreate) {
        create_folder(&folder.dir, &owner)?;
        result.folders_recreated.push(folder.folder.clone());
    }
    let resubscribe: Vec<FolderName> = work
        .folders
        .iter()
        .filter(|f| f.resubscribe)
        .map(|f| f.folder.clone())
        .collect();
    if !resubscribe.is_empty() {
        subscribe(live.root(), &resubscribe, &owner)?;
        result.folders_resubscribed = resubscribe;
    }

    for folder in work.folders.iter().filter(|f| !f.to_write.is_empty()) {
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
        let (letters, dropped) = merge_keywords(&folder.dir, &wanted, &owner)?;
        for keyword in dropped {
            result.warnings.push(format!(
                "{}: keyword {keyword:?} left off the restored messages: all 26 keyword \
                 letters of the folder are taken",
                folder.folder
            ));
        }
        prepare_message_dirs(&folder.dir, &options.marker, &owner)?;
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
            deliver(&folder.dir, &unique, &info, &raw, entry.received, &owner)?;
            result.messages_restored += 1;
            result.bytes_restored += entry.size;
        }
        sync_dir(&folder.dir.join("cur"))?;
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
    fn of(root: &Path) -> Result<Owner> {
        let meta =
            fs::metadata(root).map_err(|e| Error::maildir(root, format!("cannot examine: {e}")))?;
        let account = (meta.uid(), meta.gid());
        let chown_to = match process_ids() {
            Some((0, gid)) if account != (0, gid) => Some(account),
            _ => None,
        };
        Ok(Owner { chown_to })
    }

    /// Gives `path` (just created by the restore) to the account's owner, if needed.
    fn apply(&self, path: &Path) -> Result<()> {
        if let Some((uid, gid)) = self.chown_to {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| {
                Error::maildir(path, format!("cannot give to uid {uid} gid {gid}: {e}"))
            })?;
        }
        Ok(())
    }
}

/// The effective user and group ids of this process, from `/proc/self/status` (Linux); `None`
/// where that is not available, and then nothing is chown'ed.
pub(super) fn process_ids() -> Option<(u32, u32)> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let effective = |key: &str| -> Option<u32> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(2)?.parse().ok()
    };
    Some((effective("Uid:")?, effective("Gid:")?))
}

fn io_error(path: &Path, what: &str, e: &io::Error) -> Error {
    Error::maildir(path, format!("{what}: {e}"))
}

/// Creates a directory (`0700`, given to the owner) unless it exists.
fn create_dir(dir: &Path, owner: &Owner) -> Result<()> {
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => owner.apply(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(io_error(dir, "cannot create directory", &e)),
    }
}

/// Creates a Maildir++ folder directory with `cur/ new/ tmp/` and an empty `maildirfolder`.
fn create_folder(dir: &Path, owner: &Owner) -> Result<()> {
    create_dir(dir, owner)?;
    for sub in ["cur", "new", "tmp"] {
        create_dir(&dir.join(sub), owner)?;
    }
    let marker = dir.join("maildirfolder");
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&marker)
    {
        Ok(_) => owner.apply(&marker)?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_error(&marker, "cannot create", &e)),
    }
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Makes sure `cur/` and `tmp/` exist, and removes this request's unfinished files from
/// `tmp/` (left by a run that died between writing and renaming).
fn prepare_message_dirs(dir: &Path, marker: &str, owner: &Owner) -> Result<()> {
    create_dir(&dir.join("cur"), owner)?;
    let tmp = dir.join("tmp");
    create_dir(&tmp, owner)?;
    let entries = fs::read_dir(&tmp).map_err(|e| io_error(&tmp, "cannot list", &e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_error(&tmp, "cannot list", &e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_restored_by(name, marker) {
            let path = entry.path();
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&path, "cannot remove stale file", &e)),
            }
        }
    }
    Ok(())
}

/// Writes one message the Maildir way: `tmp/<unique>`, synced, mtime set to `received`,
/// then renamed to `cur/<unique>:2,<info>`.
fn deliver(
    dir: &Path,
    unique: &str,
    info: &str,
    raw: &[u8],
    received: i64,
    owner: &Owner,
) -> Result<PathBuf> {
    let tmp = dir.join("tmp").join(unique);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(&tmp)
        .map_err(|e| io_error(&tmp, "cannot create", &e))?;
    file.write_all(raw)
        .and_then(|()| file.set_permissions(fs::Permissions::from_mode(FILE_MODE)))
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(&tmp, "cannot write", &e))?;
    drop(file);
    owner.apply(&tmp)?;
    filetime::set_file_mtime(&tmp, FileTime::from_unix_time(received, 0))
        .map_err(|e| io_error(&tmp, "cannot set the received date", &e))?;
    let target = dir.join("cur").join(format!("{unique}:2,{info}"));
    fs::rename(&tmp, &target).map_err(|e| io_error(&target, "cannot move from tmp/", &e))?;
    Ok(target)
}

/// Adds `folders` to the account's subscription file, keeping its format.
fn subscribe(root: &Path, folders: &[FolderName], owner: &Owner) -> Result<()> {
    let dovecot = root.join(DOVECOT_FILE);
    let courier = root.join(COURIER_FILE);
    let (path, format) = if let Some(text) = read_optional(&dovecot)? {
        (dovecot, SubscriptionFormat::of_dovecot_text(&text))
    } else if courier.exists() {
        (courier, SubscriptionFormat::Courier)
    } else {
        (dovecot, SubscriptionFormat::DovecotV2)
    };
    replace_file(&path, owner, |existing| {
        Some(format.with_added(existing, folders))
    })
}

/// Gives every keyword of `wanted` a letter of the folder's `dovecot-keywords`, rewriting the
/// file if some are new. Returns the folder's keywords and those that found no letter.
fn merge_keywords(dir: &Path, wanted: &[String], owner: &Owner) -> Result<(Keywords, Vec<String>)> {
    let path = dir.join(keywords::FILE_NAME);
    let mut outcome = (Keywords::default(), Vec::new());
    if wanted.is_empty() {
        return Ok(outcome);
    }
    replace_file(&path, owner, |existing| {
        let existing = existing.unwrap_or("");
        let mut letters = Keywords::parse(existing);
        let (text, dropped) = letters.add(existing, wanted);
        outcome = (letters, dropped);
        text
    })?;
    Ok(outcome)
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, "cannot read", &e)),
    }
}

/// Rewrites a server file atomically under Dovecot's dot-lock: takes `<file>.lock`, reads the
/// file, asks `edit` for the new text (`None`: leave it), writes it to the lock file, syncs
/// it and renames it over the file. The file keeps its mode; a new one is `0600`.
fn replace_file(
    path: &Path,
    owner: &Owner,
    edit: impl FnOnce(Option<&str>) -> Option<String>,
) -> Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let lock = path.with_file_name(name);
    let mut file = take_lock(&lock)?;
    let outcome = (|| {
        let existing = read_optional(path)?;
        let Some(text) = edit(existing.as_deref()) else {
            return Ok(false);
        };
        let mode = fs::metadata(path).map_or(FILE_MODE, |m| m.permissions().mode() & 0o7777);
        file.write_all(text.as_bytes())
            .and_then(|()| file.set_permissions(fs::Permissions::from_mode(mode)))
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error(&lock, "cannot write", &e))?;
        owner.apply(&lock)?;
        fs::rename(&lock, path).map_err(|e| io_error(path, "cannot replace", &e))?;
        Ok(true)
    })();
    if !matches!(outcome, Ok(true)) {
        let _ = fs::remove_file(&lock);
    }
    if outcome? && let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Creates a dot-lock file exclusively, waiting for a live one and replacing a stale one.
fn take_lock(lock: &Path) -> Result<File> {
    let start = Instant::now();
    loop {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(lock)
        {
            Ok(file) => return Ok(file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let age = fs::metadata(lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok());
                if age.is_some_and(|age| age > LOCK_STALE) {
                    let _ = fs::remove_file(lock);
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
            Err(e) => return Err(io_error(lock, "cannot create lock", &e)),
        }
    }
}

/// Makes a directory's entries durable (the renames and creations in it).
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, "cannot sync directory", &e))
}
