//! Walking a Maildir++ account (names and one stat per file) and reading one message.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::keywords::{self, Keywords};
use super::subscriptions::Subscriptions;
use super::{
    MaildirAccount, MessageFile, ReadOutcome, ScannedAccount, ScannedFolder, SourceWarning,
    decode_folder_dir, encode_folder_dir,
};
use crate::{Error, Flags, FolderName, Result};

/// The message directories of a folder, in listing order, and whether each is `new/`.
///
/// `new/` comes first: the server moves files from `new/` to `cur/`, so a file moved while
/// the walk is between the two listings is still seen (in `cur/`).
const MESSAGE_DIRS: [(&str, bool); 2] = [("new", true), ("cur", false)];

/// How often [`MaildirAccount::read`] follows a message that keeps moving before giving up.
const READ_ATTEMPTS: usize = 3;

/// One folder's directory: the account root for INBOX, `.<name>` for the others.
#[derive(Debug, Clone)]
struct FolderDir {
    name: FolderName,
    dir: PathBuf,
}

impl MaildirAccount {
    /// Opens the account whose Maildir is `root`.
    ///
    /// Errors: [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if `root` does not exist,
    /// [`ErrorKind::Source`](crate::ErrorKind::Source) if it is not a directory with `cur/` or
    /// `new/` or cannot be examined.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let meta = match fs::metadata(&root) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::not_found("maildir", root.display().to_string()));
            }
            Err(e) => return Err(Error::maildir(root, format!("cannot open: {e}"))),
        };
        if !meta.is_dir() {
            return Err(Error::maildir(root, "not a directory"));
        }
        if !is_maildir(&root) {
            return Err(Error::maildir(
                root,
                "not a maildir: no cur/ or new/ directory",
            ));
        }
        Ok(Self { root })
    }

    /// Lists every folder (subscribed or not) and every message file, reading no message
    /// content: one directory listing per `cur/` and `new/`, one stat per file.
    ///
    /// Only a root that cannot be listed is an error; everything below it that cannot be read
    /// or understood is skipped and reported in [`ScannedAccount::warnings`].
    pub fn scan(&self) -> Result<ScannedAccount> {
        self.scan_known(&|_| None)
    }

    /// [`scan`](Self::scan), for a caller that already knows some files: `known` gives, for a
    /// unique key, the size and received date seen before. A known file whose name carries
    /// its size (`,S=`, as Dovecot writes) is not stat'ed again: a Maildir file's content and
    /// date never change under the same unique name, so a nightly scan of an unchanged
    /// mailbox costs one directory listing per folder.
    pub fn scan_known(&self, known: &dyn Fn(&str) -> Option<(u64, i64)>) -> Result<ScannedAccount> {
        let mut warnings = Vec::new();
        let subscriptions = Subscriptions::load(&self.root, &mut warnings);
        let mut folders = Vec::new();
        for folder in self.folder_dirs(&mut warnings)? {
            let keywords = Keywords::load(&folder.dir, &mut warnings);
            let messages = scan_folder(&folder, &keywords, known, &mut warnings);
            folders.push(ScannedFolder {
                subscribed: subscriptions.contains(&folder.name),
                name: folder.name,
                messages,
            });
        }
        Ok(ScannedAccount { folders, warnings })
    }

    /// Reads at most the first `limit` bytes of a message file as listed (for sampling
    /// headers). `Ok(None)` if it is no longer there; renames are not followed.
    pub fn read_head(&self, file: &MessageFile, limit: u64) -> Result<Option<Vec<u8>>> {
        let mut head = Vec::new();
        match File::open(&file.path).and_then(|f| f.take(limit).read_to_end(&mut head)) {
            Ok(_) => Ok(Some(head)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::maildir(&file.path, e.to_string())),
        }
    }

    /// Reads one message's bytes.
    ///
    /// If the file was renamed (flags changed) or moved to another folder since the scan, it is
    /// found by its [unique key](MessageFile::unique_key), in its own folder first, then in all
    /// the others, and returned with its current metadata. If it is in no folder any more, the
    /// answer is [`ReadOutcome::Vanished`].
    pub fn read(&self, file: &MessageFile) -> Result<ReadOutcome> {
        let mut bytes = Vec::new();
        Ok(match self.read_into(file, &mut bytes)? {
            Some(file) => ReadOutcome::Read { bytes, file },
            None => ReadOutcome::Vanished,
        })
    }

    /// [`read`](Self::read) into a buffer the caller keeps from message to message (a
    /// snapshot reads thousands; one buffer per thread spares the allocator). Its old
    /// content is replaced. `None` if the message vanished.
    pub fn read_into(&self, file: &MessageFile, buf: &mut Vec<u8>) -> Result<Option<MessageFile>> {
        let home = FolderDir {
            name: file.folder.clone(),
            dir: folder_dir_of(&file.path)
                .unwrap_or_else(|| self.root.join(encode_folder_dir(&file.folder))),
        };
        for _ in 0..READ_ATTEMPTS {
            if let Some(found) = read_message(&home, &file.path, Some(file), buf)? {
                return Ok(Some(found));
            }
            let Some((folder, path)) = self.locate(&home, file.unique_key())? else {
                return Ok(None);
            };
            // Found under its new name; it may move once more before we open it.
            if let Some(found) = read_message(&folder, &path, None, buf)? {
                return Ok(Some(found));
            }
        }
        Err(Error::maildir(
            &file.path,
            "the message kept moving while it was being read",
        ))
    }

    /// Lists the accounts under a directory of many accounts: every direct subdirectory (or
    /// symlink to one) that is a Maildir (has `cur/` or `new/`), or holds one as
    /// `<name>/Maildir`, as
    /// (directory name, account), sorted by name.
    ///
    /// Names are returned as they are; the caller validates them (as
    /// [`AccountId`](crate::AccountId)). Names starting with `.` and names that are not UTF-8
    /// are left out.
    pub fn discover(root: &Path) -> Result<Vec<(String, MaildirAccount)>> {
        let entries = fs::read_dir(root).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                Error::not_found("accounts directory", root.display().to_string())
            }
            _ => Error::maildir(root, format!("cannot list accounts: {e}")),
        })?;
        let mut accounts = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::maildir(root, format!("cannot list: {e}")))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let dir = entry.path();
            if name.starts_with('.') || !dir.is_dir() {
                continue;
            }
            let nested = dir.join("Maildir");
            let maildir = if is_maildir(&dir) {
                dir
            } else if is_maildir(&nested) {
                nested
            } else {
                continue;
            };
            accounts.push((name, MaildirAccount { root: maildir }));
        }
        accounts.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(accounts)
    }

    /// INBOX, then every `.<name>` folder directory sorted by folder name.
    fn folder_dirs(&self, warnings: &mut Vec<SourceWarning>) -> Result<Vec<FolderDir>> {
        let entries = fs::read_dir(&self.root)
            .map_err(|e| Error::maildir(&self.root, format!("cannot list: {e}")))?;
        let mut candidates = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| Error::maildir(&self.root, format!("cannot list: {e}")))?;
            match entry.file_name().into_string() {
                Ok(name) if name.starts_with('.') => candidates.push((name, entry)),
                Ok(_) => {}
                Err(raw) if raw.as_encoded_bytes().starts_with(b".") => warnings.push(
                    SourceWarning::new(entry.path(), "folder skipped: name is not UTF-8"),
                ),
                Err(_) => {}
            }
        }
        // Listing order is arbitrary; sort so that a clash of names always keeps the same one.
        candidates.sort_by(|a, b| a.0.cmp(&b.0));

        let mut folders = vec![FolderDir {
            name: FolderName::inbox(),
            dir: self.root.clone(),
        }];
        let mut seen = HashSet::from([FolderName::inbox()]);
        for (dir_name, entry) in candidates {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => {}
                Ok(t) if t.is_symlink() => {
                    warnings.push(SourceWarning::new(path, "symlink skipped"));
                    continue;
                }
                Ok(_) => continue, // a dot file of the server, such as `.customflags`
                Err(e) => {
                    warnings.push(SourceWarning::new(path, format!("cannot examine: {e}")));
                    continue;
                }
            }
            if !is_maildir(&path) {
                continue;
            }
            let name = match decode_folder_dir(&dir_name) {
                Ok(name) => name,
                Err(e) => {
                    warnings.push(SourceWarning::new(path, format!("folder skipped: {e}")));
                    continue;
                }
            };
            if !seen.insert(name.clone()) {
                let message = format!("folder skipped: another directory is also {name}");
                warnings.push(SourceWarning::new(path, message));
                continue;
            }
            folders.push(FolderDir { name, dir: path });
        }
        folders[1..].sort_by(|a, b| a.name.cmp(&b.name));
        Ok(folders)
    }

    /// Finds the message whose unique key is `key`: in `home` first, then in every other folder.
    fn locate(&self, home: &FolderDir, key: &str) -> Result<Option<(FolderDir, PathBuf)>> {
        if let Some(path) = find_in_folder(&home.dir, key) {
            return Ok(Some((home.clone(), path)));
        }
        let mut ignored = Vec::new();
        for folder in self.folder_dirs(&mut ignored)? {
            if folder.dir == home.dir {
                continue;
            }
            if let Some(path) = find_in_folder(&folder.dir, key) {
                return Ok(Some((folder, path)));
            }
        }
        Ok(None)
    }
}

/// Whether `dir` is a Maildir: it has `cur/` or `new/`.
fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir()
}

/// The folder directory of a message path (`<folder>/cur/<file>` or `<folder>/new/<file>`).
fn folder_dir_of(path: &Path) -> Option<PathBuf> {
    let sub = path.parent()?;
    if !MESSAGE_DIRS.iter().any(|(name, _)| sub.ends_with(name)) {
        return None;
    }
    sub.parent().map(Path::to_path_buf)
}

/// The unique part of a Maildir file name: everything before the first `:`.
fn unique_key_of(file_name: &str) -> &str {
    file_name
        .split_once(':')
        .map_or(file_name, |(unique, _)| unique)
}

/// Whether a name in `cur/` or `new/` can be a message: not hidden, not a server file.
fn is_message_name(name: &str) -> bool {
    !(name.starts_with('.')
        || name.starts_with("dovecot") // dovecot.index*, dovecot-uidlist, dovecot-keywords …
        || name.starts_with("courierimap")
        || matches!(name, "maildirsize" | "maildirfolder" | "subscriptions"))
}

/// The message files of one folder, sorted by unique key.
///
/// A file the server renames between listing and stat (a flag change) is looked for once more
/// under its new name, so the snapshot still captures it; only a file that is gone for good
/// is reported as vanished.
fn scan_folder(
    folder: &FolderDir,
    keywords: &Keywords,
    known: &dyn Fn(&str) -> Option<(u64, i64)>,
    warnings: &mut Vec<SourceWarning>,
) -> Vec<MessageFile> {
    let mut by_key: BTreeMap<String, MessageFile> = BTreeMap::new();
    let mut renamed: BTreeMap<String, PathBuf> = BTreeMap::new();
    for pass in 0..2 {
        for (sub, in_new) in MESSAGE_DIRS {
            for (file_name, path, entry) in list_message_files(&folder.dir.join(sub), warnings) {
                let key = unique_key_of(&file_name).to_owned();
                if pass == 1 && (!renamed.contains_key(&key) || by_key.contains_key(&key)) {
                    continue;
                }
                let seen = known(&key).filter(|_| key.contains(",S="));
                let stat = match seen {
                    Some((size, received)) => Ok((size, received)),
                    None => entry
                        .metadata()
                        .map(|meta| (meta.len(), meta.modified().map_or(0, unix_seconds))),
                };
                let (size, received) = match stat {
                    Ok(stat) => stat,
                    Err(e) if e.kind() == io::ErrorKind::NotFound && pass == 0 => {
                        renamed.insert(key, path);
                        continue;
                    }
                    Err(e) => {
                        warnings.push(vanished_or_unreadable(path, &e));
                        continue;
                    }
                };
                let file = message_file(
                    &folder.name,
                    path,
                    file_name,
                    (size, received),
                    in_new,
                    keywords,
                    warnings,
                );
                if let Some(earlier) = by_key.insert(file.unique.clone(), file) {
                    let message =
                        "listed twice (moved or renamed during the scan): kept the later name";
                    warnings.push(SourceWarning::new(earlier.path, message));
                }
            }
        }
        if renamed.is_empty() {
            break;
        }
    }
    for (key, path) in renamed {
        if !by_key.contains_key(&key) {
            let gone = io::Error::from(io::ErrorKind::NotFound);
            warnings.push(vanished_or_unreadable(path, &gone));
        }
    }
    by_key.into_values().collect()
}

/// The regular files of `dir` that can be messages, as (name, path, entry); the entry's
/// metadata is read relative to the open directory, which saves a path walk per file. A
/// missing `dir` has none; an unreadable one, symlinks and other odd entries are reported in
/// `warnings`.
fn list_message_files(
    dir: &Path,
    warnings: &mut Vec<SourceWarning>,
) -> Vec<(String, PathBuf, fs::DirEntry)> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            warnings.push(SourceWarning::new(dir, format!("cannot list: {e}")));
            return Vec::new();
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                warnings.push(SourceWarning::new(dir, format!("cannot list: {e}")));
                break;
            }
        };
        let path = entry.path();
        let Ok(name) = entry.file_name().into_string() else {
            warnings.push(SourceWarning::new(path, "skipped: file name is not UTF-8"));
            continue;
        };
        if !is_message_name(&name) {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_file() => files.push((name, path, entry)),
            Ok(t) if t.is_dir() => {}
            Ok(t) if t.is_symlink() => warnings.push(SourceWarning::new(path, "symlink skipped")),
            Ok(_) => warnings.push(SourceWarning::new(path, "skipped: not a regular file")),
            Err(e) => warnings.push(vanished_or_unreadable(path, &e)),
        }
    }
    files
}

fn vanished_or_unreadable(path: PathBuf, e: &io::Error) -> SourceWarning {
    if e.kind() == io::ErrorKind::NotFound {
        SourceWarning::new(
            path,
            "vanished during the scan (renamed or expunged by the server)",
        )
    } else {
        SourceWarning::new(path, format!("cannot examine: {e}"))
    }
}

/// Describes one message file from its name and metadata.
fn message_file(
    folder: &FolderName,
    path: PathBuf,
    file_name: String,
    (size, received): (u64, i64),
    in_new: bool,
    keywords: &Keywords,
    warnings: &mut Vec<SourceWarning>,
) -> MessageFile {
    let letters = file_name
        .split_once(':')
        .and_then(|(_, info)| info.strip_prefix("2,"))
        .unwrap_or("");
    let mut names: Vec<String> = Vec::new();
    for letter in letters.chars().filter(char::is_ascii_lowercase) {
        match keywords.get(letter) {
            Some(name) if names.iter().any(|n| n == name) => {}
            Some(name) => names.push(name.to_owned()),
            None => warnings.push(SourceWarning::new(
                &path,
                format!(
                    "keyword letter '{letter}' is not in {}: ignored",
                    keywords::FILE_NAME
                ),
            )),
        }
    }
    MessageFile {
        folder: folder.clone(),
        unique: unique_key_of(&file_name).to_owned(),
        flags: Flags::from_maildir_letters(letters),
        keywords: names,
        size,
        received,
        in_new,
        path,
        file_name,
    }
}

/// Unix seconds, rounded down like `st_mtime` (also before 1970).
fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let before = e.duration();
            let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            if before.subsec_nanos() > 0 {
                -secs - 1
            } else {
                -secs
            }
        }
    }
}

/// The message at `path` in `folder`, or `None` if there is no file there (any more).
///
/// `listed` is the scan's description of the file at `path`, if there is one: its name, and
/// so its flags and keywords, are unchanged, and only size and date are taken afresh.
fn read_message(
    folder: &FolderDir,
    path: &Path,
    listed: Option<&MessageFile>,
    bytes: &mut Vec<u8>,
) -> Result<Option<MessageFile>> {
    let fail =
        |what: &str, e: io::Error| Error::maildir(path, format!("cannot {what} message: {e}"));
    let mut handle = match File::open(path) {
        Ok(handle) => handle,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail("open", e)),
    };
    // Metadata of the open file: it describes exactly the bytes read, even if renamed meanwhile.
    let meta = handle.metadata().map_err(|e| fail("examine", e))?;
    if !meta.is_file() {
        return Err(Error::maildir(path, "not a regular file"));
    }
    bytes.clear();
    handle.read_to_end(bytes).map_err(|e| fail("read", e))?;
    if let Some(listed) = listed.filter(|l| l.path == path) {
        let file = MessageFile {
            size: meta.len(),
            received: meta.modified().map_or(0, unix_seconds),
            ..listed.clone()
        };
        return Ok(Some(file));
    }
    let file_name = path
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| Error::maildir(path, "file name is not UTF-8"))?
        .to_owned();
    let in_new = path.parent().is_some_and(|sub| sub.ends_with("new"));
    let mut ignored = Vec::new();
    let keywords = Keywords::load(&folder.dir, &mut ignored);
    let file = message_file(
        &folder.name,
        path.to_path_buf(),
        file_name,
        (meta.len(), meta.modified().map_or(0, unix_seconds)),
        in_new,
        &keywords,
        &mut ignored,
    );
    Ok(Some(file))
}

/// The first message file of `dir` (a folder directory) whose unique key is `key`.
fn find_in_folder(dir: &Path, key: &str) -> Option<PathBuf> {
    let mut ignored = Vec::new();
    MESSAGE_DIRS.iter().find_map(|(sub, _)| {
        list_message_files(&dir.join(sub), &mut ignored)
            .into_iter()
            .find(|(name, _, _)| unique_key_of(name) == key)
            .map(|(_, path, _)| path)
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use filetime::FileTime;

    use super::*;
    use crate::{ErrorKind, Flag};

    /// Creates a folder directory the way Dovecot does: cur/, new/, tmp/ and (below the root)
    /// an empty `maildirfolder`.
    fn mkfolder(root: &Path, dir_name: &str) -> PathBuf {
        let dir = root.join(dir_name);
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        if !dir_name.is_empty() {
            fs::write(dir.join("maildirfolder"), "").unwrap();
        }
        dir
    }

    /// Delivers a message the way Dovecot names it: `<unique>,S=<size>,W=<size with CRLF>`,
    /// then `:2,<flags>` if `flags` is given, with `mtime` as its received date.
    fn deliver(folder: &Path, sub: &str, unique: &str, flags: Option<&str>, mtime: i64) -> PathBuf {
        let body = format!("From: a@example.com\nSubject: {unique}\n\nHello\n");
        let vsize = body.len() + body.matches('\n').count();
        let base = format!("{unique},S={},W={vsize}", body.len());
        let name = match flags {
            Some(flags) => format!("{base}:2,{flags}"),
            None => base,
        };
        let path = folder.join(sub).join(name);
        fs::write(&path, body).unwrap();
        filetime::set_file_mtime(&path, FileTime::from_unix_time(mtime, 0)).unwrap();
        path
    }

    fn folder(name: &str) -> FolderName {
        FolderName::new(name).unwrap()
    }

    /// The MessageFile a scan must report for `path`.
    fn expected(
        name: &str,
        path: &Path,
        received: i64,
        flags: &str,
        keywords: &[&str],
    ) -> MessageFile {
        let file_name = path.file_name().unwrap().to_str().unwrap().to_owned();
        MessageFile {
            folder: folder(name),
            path: path.to_path_buf(),
            unique: file_name.split(':').next().unwrap().to_owned(),
            file_name,
            size: fs::metadata(path).unwrap().len(),
            received,
            flags: Flags::from_maildir_letters(flags),
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            in_new: path.parent().unwrap().ends_with("new"),
        }
    }

    fn scanned(name: &str, subscribed: bool, messages: Vec<MessageFile>) -> ScannedFolder {
        ScannedFolder {
            name: folder(name),
            subscribed,
            messages,
        }
    }

    #[test]
    fn scans_a_dovecot_account_exactly() {
        let tmp = tempfile::tempdir().unwrap();
        let root = &tmp.path().join("alice");
        let inbox = mkfolder(root, "");
        for (file, content) in [
            (
                "dovecot-uidlist",
                "3 V1700000000 N4 G0123456789abcdef\n1 W130 :x\n",
            ),
            ("dovecot.index", "\0\x07binary"),
            ("dovecot.index.log", "\0\x01binary"),
            ("dovecot.index.cache", ""),
            ("dovecot-uidvalidity", "65530000"),
            ("dovecot-uidvalidity.65530000", ""),
            ("maildirsize", "0S,0C\n"),
            (
                "subscriptions",
                "V\t2\n\nSent\nArchive\t2024\nEntw&APw-rfe\nTrash\nDeleted\n",
            ),
            ("dovecot-keywords", "0 $Label1\n1 Junk\n"),
        ] {
            fs::write(root.join(file), content).unwrap();
        }
        let i1 = deliver(
            &inbox,
            "cur",
            "1700000000.M1P100.mail",
            Some("FSa"),
            1_700_000_000,
        );
        let i2 = deliver(
            &inbox,
            "cur",
            "1700000001.M2P100.mail",
            Some("Sba"),
            1_700_000_001,
        );
        let i3 = deliver(&inbox, "new", "1700000500.M3P100.mail", None, 1_700_000_500);
        deliver(&inbox, "tmp", "1700000600.M4P100.mail", None, 1_700_000_600);
        fs::write(inbox.join("cur/.nfs000001"), "x").unwrap();
        fs::write(inbox.join("cur/dovecot-uidlist"), "x").unwrap();
        fs::write(inbox.join("new/maildirfolder"), "").unwrap();
        fs::create_dir(inbox.join("cur/subdir")).unwrap();
        std::os::unix::fs::symlink(&i1, inbox.join("cur/link:2,S")).unwrap();

        let sent = mkfolder(root, ".Sent");
        let s1 = deliver(
            &sent,
            "cur",
            "1700001000.M5P100.mail",
            Some("RS"),
            1_700_001_000,
        );
        fs::write(sent.join("dovecot-uidlist"), "3 V1 N2\n").unwrap();
        fs::write(sent.join("dovecot.index.log"), "\0").unwrap();

        // No `.Archive`: the parent is not invented.
        let archive = mkfolder(root, ".Archive.2024");
        let a1 = deliver(
            &archive,
            "cur",
            "1704067200.M6P100.mail",
            Some("S"),
            1_704_067_200,
        );

        let drafts = mkfolder(root, ".Entw&APw-rfe");
        let d1 = deliver(
            &drafts,
            "cur",
            "1700002000.M7P100.mail",
            Some("DS"),
            1_700_002_000,
        );

        // Unsubscribed, with its own keywords; letter `b` is not defined there.
        let junk = mkfolder(root, ".Junk");
        fs::write(junk.join("dovecot-keywords"), "0 NonJunk\n").unwrap();
        let j1 = deliver(
            &junk,
            "cur",
            "1700003000.M8P100.mail",
            Some("Sab"),
            1_700_003_000,
        );

        // Only new/: still a folder.
        let trash = root.join(".Trash");
        fs::create_dir_all(trash.join("new")).unwrap();
        let t1 = deliver(&trash, "new", "1700004000.M9P100.mail", None, 1_700_004_000);

        let bad = mkfolder(root, ".Bad&Zm9v");
        deliver(
            &bad,
            "cur",
            "1700005000.M10P100.mail",
            Some("S"),
            1_700_005_000,
        );
        fs::create_dir_all(root.join(".NotAFolder/tmp")).unwrap();
        fs::write(root.join(".customflags"), "").unwrap();

        let scan = MaildirAccount::open(root).unwrap().scan().unwrap();
        let want = vec![
            scanned(
                "INBOX",
                true,
                vec![
                    expected("INBOX", &i1, 1_700_000_000, "FS", &["$Label1"]),
                    expected("INBOX", &i2, 1_700_000_001, "S", &["Junk", "$Label1"]),
                    expected("INBOX", &i3, 1_700_000_500, "", &[]),
                ],
            ),
            scanned(
                "Archive/2024",
                true,
                vec![expected("Archive/2024", &a1, 1_704_067_200, "S", &[])],
            ),
            scanned(
                "Entwürfe",
                true,
                vec![expected("Entwürfe", &d1, 1_700_002_000, "DS", &[])],
            ),
            scanned(
                "Junk",
                false,
                vec![expected("Junk", &j1, 1_700_003_000, "S", &["NonJunk"])],
            ),
            scanned(
                "Sent",
                true,
                vec![expected("Sent", &s1, 1_700_001_000, "RS", &[])],
            ),
            scanned(
                "Trash",
                true,
                vec![expected("Trash", &t1, 1_700_004_000, "", &[])],
            ),
        ];
        assert_eq!(scan.folders, want);
        assert!(scan.folders[0].messages[0].flags.contains(Flag::Flagged));
        assert!(scan.folders[0].messages[2].in_new);

        let warned: Vec<&Path> = scan.warnings.iter().map(|w| w.path.as_path()).collect();
        assert_eq!(
            warned,
            [bad.as_path(), &inbox.join("cur/link:2,S"), &j1],
            "{:#?}",
            scan.warnings
        );
        assert!(scan.warnings[0].message.contains("modified UTF-7"));
        assert!(scan.warnings[1].message.contains("symlink"));
        assert!(scan.warnings[2].message.contains("'b'"));
    }

    #[test]
    fn scans_a_courier_account_and_unions_subscriptions() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let inbox = mkfolder(root, "");
        fs::write(
            root.join("courierimapsubscribed"),
            "INBOX\nINBOX.Sent\nINBOX.Archive.2024\n",
        )
        .unwrap();
        fs::write(root.join("subscriptions"), "Drafts\n").unwrap();
        fs::write(root.join("courierimapuiddb"), "1 2\n").unwrap();
        fs::create_dir(root.join("courierimapkeywords")).unwrap();
        fs::write(inbox.join("cur/courierimapuiddb"), "").unwrap();
        let courier_name = |n: u32| format!("17000{n}.M{n}P7.host");
        let paths: Vec<(&str, PathBuf)> =
            [".Sent", ".Archive", ".Archive.2024", ".Drafts", ".Spam"]
                .iter()
                .zip(1..)
                .map(|(dir, n)| {
                    let dir_path = mkfolder(root, dir);
                    let path = dir_path
                        .join("cur")
                        .join(format!("{}:2,S", courier_name(n)));
                    fs::write(&path, "Subject: x\n\nbody\n").unwrap();
                    filetime::set_file_mtime(
                        &path,
                        FileTime::from_unix_time(1_700_000_000 + i64::from(n), 0),
                    )
                    .unwrap();
                    (*dir, path)
                })
                .collect();
        let scan = MaildirAccount::open(root).unwrap().scan().unwrap();
        assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
        let summary: Vec<(&str, bool, usize)> = scan
            .folders
            .iter()
            .map(|f| (f.name.as_str(), f.subscribed, f.messages.len()))
            .collect();
        assert_eq!(
            summary,
            [
                ("INBOX", true, 0),
                ("Archive", false, 1),
                ("Archive/2024", true, 1),
                ("Drafts", true, 1),
                ("Sent", true, 1),
                ("Spam", false, 1),
            ]
        );
        let sent = &scan.folders[4].messages[0];
        assert_eq!(
            sent,
            &expected("Sent", &paths[0].1, 1_700_000_001, "S", &[])
        );
        assert_eq!(sent.unique_key(), "170001.M1P7.host");
    }

    #[test]
    fn unreadable_and_vanished_entries_are_warnings() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        mkfolder(root, "");
        let odd = root.join(".Odd");
        fs::create_dir_all(odd.join("new")).unwrap();
        fs::write(odd.join("cur"), "not a directory").unwrap();
        let scan = MaildirAccount::open(root).unwrap().scan().unwrap();
        assert_eq!(scan.folders.len(), 2);
        assert_eq!(scan.warnings.len(), 1);
        assert_eq!(scan.warnings[0].path, odd.join("cur"));

        let gone = root.join("cur/1700000000.M1P1.host:2,S");
        let warning = vanished_or_unreadable(gone, &io::Error::from(io::ErrorKind::NotFound));
        assert!(warning.message.contains("vanished"));
    }

    #[test]
    fn non_utf8_names_are_skipped_with_a_warning() {
        use std::os::unix::ffi::OsStrExt;
        let tmp = tempfile::tempdir().unwrap();
        let inbox = mkfolder(tmp.path(), "");
        let raw = std::ffi::OsStr::from_bytes(b"17000.M1P1.h\xff:2,S");
        fs::write(inbox.join("cur").join(raw), "x").unwrap();
        mkfolder(tmp.path(), ".Ok");
        fs::create_dir_all(
            tmp.path()
                .join(std::ffi::OsStr::from_bytes(b".Bad\xfe"))
                .join("cur"),
        )
        .unwrap();
        let scan = MaildirAccount::open(tmp.path()).unwrap().scan().unwrap();
        assert_eq!(scan.folders.len(), 2);
        assert!(scan.folders.iter().all(|f| f.messages.is_empty()));
        assert_eq!(scan.warnings.len(), 2, "{:?}", scan.warnings);
    }

    #[test]
    fn duplicate_folder_names_keep_one() {
        let tmp = tempfile::tempdir().unwrap();
        mkfolder(tmp.path(), "");
        mkfolder(tmp.path(), ".&APw-&AN8-");
        mkfolder(tmp.path(), ".&APwA3w-");
        mkfolder(tmp.path(), ".INBOX");
        let scan = MaildirAccount::open(tmp.path()).unwrap().scan().unwrap();
        let names: Vec<&str> = scan.folders.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["INBOX", "üß"]);
        assert_eq!(scan.warnings.len(), 2, "{:?}", scan.warnings);
    }

    #[test]
    fn received_dates_before_1970_round_down() {
        let at = |secs: i64, nanos: u32| {
            let d = Duration::new(secs.unsigned_abs(), nanos);
            if secs >= 0 {
                UNIX_EPOCH + d
            } else {
                UNIX_EPOCH - d
            }
        };
        assert_eq!(unix_seconds(at(1_700_000_000, 999_999_999)), 1_700_000_000);
        assert_eq!(unix_seconds(at(-5, 0)), -5);
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_millis(4500)), -5);
    }

    #[test]
    fn open_checks_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let err = MaildirAccount::open(tmp.path().join("missing")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let err = MaildirAccount::open(tmp.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Source);
        fs::write(tmp.path().join("file"), "").unwrap();
        let err = MaildirAccount::open(tmp.path().join("file")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Source);
        fs::create_dir(tmp.path().join("new")).unwrap();
        let account = MaildirAccount::open(tmp.path()).unwrap();
        assert_eq!(account.root(), tmp.path());
    }

    /// An account with one message in INBOX/cur, scanned.
    fn one_message() -> (tempfile::TempDir, MaildirAccount, MessageFile) {
        let tmp = tempfile::tempdir().unwrap();
        let inbox = mkfolder(tmp.path(), "");
        mkfolder(tmp.path(), ".Archive");
        mkfolder(tmp.path(), ".Archive.2024");
        fs::write(tmp.path().join("dovecot-keywords"), "0 $Label1\n").unwrap();
        deliver(
            &inbox,
            "cur",
            "1700000000.M1P100.mail",
            Some("S"),
            1_700_000_000,
        );
        let account = MaildirAccount::open(tmp.path()).unwrap();
        let file = account.scan().unwrap().folders[0].messages[0].clone();
        (tmp, account, file)
    }

    fn read(account: &MaildirAccount, file: &MessageFile) -> (Vec<u8>, MessageFile) {
        match account.read(file).unwrap() {
            ReadOutcome::Read { bytes, file } => (bytes, file),
            ReadOutcome::Vanished => panic!("vanished"),
        }
    }

    #[test]
    fn read_returns_the_bytes_and_the_same_file() {
        let (_tmp, account, file) = one_message();
        let (bytes, now) = read(&account, &file);
        assert_eq!(bytes, fs::read(&file.path).unwrap());
        assert_eq!(now, file);
    }

    #[test]
    fn read_follows_a_flag_change() {
        let (_tmp, account, file) = one_message();
        let renamed = file.path.with_file_name(format!("{}:2,FRSa", file.unique));
        fs::rename(&file.path, &renamed).unwrap();
        let (bytes, now) = read(&account, &file);
        assert_eq!(bytes, fs::read(&renamed).unwrap());
        assert_eq!(now.path, renamed);
        assert_eq!(now.unique, file.unique);
        assert_eq!(now.flags.to_string(), "FRS");
        assert_eq!(now.keywords, ["$Label1"]);
        assert_eq!(now.received, 1_700_000_000);
        assert_eq!(now.folder, FolderName::inbox());
    }

    #[test]
    fn read_follows_a_move_from_new_to_cur() {
        let tmp = tempfile::tempdir().unwrap();
        let inbox = mkfolder(tmp.path(), "");
        let delivered = deliver(&inbox, "new", "1700000000.M1P100.mail", None, 1_700_000_000);
        let account = MaildirAccount::open(tmp.path()).unwrap();
        let file = account.scan().unwrap().folders[0].messages[0].clone();
        assert!(file.in_new);
        let seen = inbox.join("cur").join(format!("{}:2,S", file.file_name));
        fs::rename(&delivered, &seen).unwrap();
        let (_, now) = read(&account, &file);
        assert_eq!(now.path, seen);
        assert!(!now.in_new);
        assert_eq!(now.flags.to_string(), "S");
    }

    #[test]
    fn read_follows_a_move_to_another_folder() {
        let (tmp, account, file) = one_message();
        let moved = tmp
            .path()
            .join(".Archive.2024/cur")
            .join(format!("{}:2,ST", file.unique));
        fs::rename(&file.path, &moved).unwrap();
        let (bytes, now) = read(&account, &file);
        assert_eq!(bytes, fs::read(&moved).unwrap());
        assert_eq!(now.folder.as_str(), "Archive/2024");
        assert_eq!(now.path, moved);
        assert_eq!(now.flags.to_string(), "ST");
        assert!(now.keywords.is_empty());
    }

    #[test]
    fn read_of_an_expunged_message_is_vanished() {
        let (_tmp, account, file) = one_message();
        fs::remove_file(&file.path).unwrap();
        assert_eq!(account.read(&file).unwrap(), ReadOutcome::Vanished);

        // Its whole folder deleted: vanished too.
        let (tmp, account, _) = one_message();
        let archive = tmp.path().join(".Archive");
        let gone = deliver(&archive, "cur", "1700000009.M9P1.mail", Some("S"), 1);
        let file = account.scan().unwrap().folders[1].messages[0].clone();
        assert_eq!(file.path, gone);
        fs::remove_dir_all(&archive).unwrap();
        assert_eq!(account.read(&file).unwrap(), ReadOutcome::Vanished);
    }

    #[test]
    fn discover_lists_maildirs_and_nested_maildirs() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        mkfolder(root, "alice@example.com");
        mkfolder(root, "bob@example.com/Maildir");
        mkfolder(root, ".hidden");
        fs::create_dir_all(root.join("notes/tmp")).unwrap();
        fs::write(root.join("README"), "").unwrap();
        let found: Vec<(String, PathBuf)> = MaildirAccount::discover(root)
            .unwrap()
            .into_iter()
            .map(|(name, account)| (name, account.root().to_path_buf()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "alice@example.com".to_owned(),
                    root.join("alice@example.com")
                ),
                (
                    "bob@example.com".to_owned(),
                    root.join("bob@example.com/Maildir")
                ),
            ]
        );
        let err = MaildirAccount::discover(&root.join("missing")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn five_thousand_messages_scan_in_unique_name_order() {
        let tmp = tempfile::tempdir().unwrap();
        let inbox = mkfolder(tmp.path(), "");
        for n in 0..5_000 {
            let name = format!("1700{n:06}.M{n}P1.host,S=2,W=2:2,S");
            fs::write(inbox.join("cur").join(name), "x\n").unwrap();
        }
        let account = MaildirAccount::open(tmp.path()).unwrap();
        let scan = account.scan().unwrap();
        assert_eq!(scan.folders[0].messages.len(), 5_000);
        assert!(
            scan.folders[0]
                .messages
                .is_sorted_by(|a, b| a.unique < b.unique)
        );
    }

    #[test]
    fn known_files_with_their_size_in_the_name_are_not_stat_ed_again() {
        let tmp = tempfile::tempdir().unwrap();
        let inbox = mkfolder(tmp.path(), "");
        fs::write(inbox.join("cur/1700.M1P1.host,S=5,W=5:2,S"), "hello").unwrap();
        fs::write(inbox.join("cur/1700.M2P1.host:2,S"), "hello").unwrap();
        let account = MaildirAccount::open(tmp.path()).unwrap();
        // The caller's knowledge is taken as is for the `,S=` name (a real stat would say
        // 5 bytes and today's date), and ignored for the name without a size.
        let known = |unique: &str| Some((if unique.contains(",S=") { 5 } else { 99 }, 42));
        let scan = account.scan_known(&known).unwrap();
        let got: Vec<(&str, u64, i64)> = scan.folders[0]
            .messages
            .iter()
            .map(|m| (m.unique.as_str(), m.size, m.received))
            .collect();
        assert_eq!(got[0], ("1700.M1P1.host,S=5,W=5", 5, 42));
        assert_eq!((got[1].0, got[1].1), ("1700.M2P1.host", 5));
        assert_ne!(got[1].2, 42);
    }
}
