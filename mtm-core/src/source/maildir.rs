//! Walking a Maildir++ account (names and one stat per file) and reading one message, all
//! through [`Dir`] (nothing below the root is reached through a symlink).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::beneath::{Dir, Kind, check_links, check_not_sparse, is_symlink_refusal};
use super::keywords::{self, Keywords};
use super::stamp::Observed;
use super::subscriptions::Subscriptions;
use super::{
    DiscoveredAccounts, KnownFiles, MaildirAccount, MaildirReader, MessageFile, ReadOutcome,
    Rescan, ScanBasis, ScannedAccount, ScannedFolder, SourceOptions, SourceWarning,
    UnchangedFolder, decode_folder_dir, encode_folder_dir, unique_key,
};
use crate::{Error, Flags, FolderName, Result};

/// The message directories of a folder, in listing order, and whether each is `new/`.
///
/// `new/` comes first: the server moves files from `new/` to `cur/`, so a file moved while
/// the walk is between the two listings is still seen (in `cur/`).
const MESSAGE_DIRS: [(&str, bool); 2] = [("new", true), ("cur", false)];

/// How often [`MaildirReader::read`] follows a message that keeps moving before giving up.
const READ_ATTEMPTS: usize = 3;

/// How often a directory that changed while it was listed is listed again.
const LIST_ATTEMPTS: usize = 3;

/// One folder's directory, relative to the account root: empty for INBOX, `.<name>` for the
/// others.
#[derive(Debug, Clone)]
struct FolderDir {
    name: FolderName,
    rel: PathBuf,
    /// Its stamp, observed when it was found (before anything in it is read).
    observed: Option<Observed>,
}

impl FolderDir {
    /// Opens the folder's directory below `root` (no symlink followed).
    fn open(&self, root: &Dir) -> io::Result<Dir> {
        if self.rel.as_os_str().is_empty() {
            root.try_clone()
        } else {
            root.open_dir(&self.rel)
        }
    }
}

/// Opens an account root as `options` say, with errors that name it.
fn open_root(root: &Path, options: &SourceOptions) -> Result<Dir> {
    Dir::open_root(root, options.follow_root_symlink).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::not_found("maildir", root.display().to_string()),
        io::ErrorKind::NotADirectory => Error::maildir(root, "not a directory"),
        _ if is_symlink_refusal(&e) => Error::maildir(
            root,
            "refused: the account directory is a symlink (followed only with \
             SourceOptions::follow_root_symlink)",
        ),
        _ => Error::maildir(root, format!("cannot open: {e}")),
    })
}

impl MaildirAccount {
    /// Opens the account whose Maildir is `root`, with the default [`SourceOptions`] (a
    /// symlink as the account directory is refused).
    ///
    /// Errors: [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if `root` does not exist,
    /// [`ErrorKind::Source`](crate::ErrorKind::Source) if it is not a directory with `cur/` or
    /// `new/`, is a symlink, or cannot be examined.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        Self::open_with(root, &SourceOptions::default())
    }

    /// [`open`](Self::open) with explicit options: with
    /// [`follow_root_symlink`](SourceOptions::follow_root_symlink), `root` may be a symlink
    /// to the account's directory. Symlinks below the root are never followed.
    pub fn open_with(root: impl Into<PathBuf>, options: &SourceOptions) -> Result<Self> {
        let root = root.into();
        let dir = open_root(&root, options)?;
        if !dir.is_maildir() {
            return Err(Error::maildir(
                root,
                "not a maildir: no cur/ or new/ directory (symlinks are not followed)",
            ));
        }
        Ok(Self {
            root,
            options: options.clone(),
        })
    }

    /// The options the account was opened with.
    pub fn options(&self) -> &SourceOptions {
        &self.options
    }

    /// The account root, opened afresh (so that no descriptor stays open per account).
    pub(crate) fn root_dir(&self) -> Result<Dir> {
        open_root(&self.root, &self.options)
    }

    /// The path of a message file relative to the root.
    fn relative<'p>(&self, path: &'p Path) -> Result<&'p Path> {
        path.strip_prefix(&self.root)
            .map_err(|_| Error::maildir(path, "not a file of this account"))
    }

    /// Lists every folder (subscribed or not) and every message file, reading no message
    /// content: one directory listing per `cur/` and `new/`, one stat per file.
    ///
    /// Only a root that cannot be listed is an error; everything below it that cannot be read
    /// or understood (symlinks, FIFOs, oversized control files …) is skipped and reported in
    /// [`ScannedAccount::warnings`].
    pub fn scan(&self) -> Result<ScannedAccount> {
        self.scan_known(&|_| None)
    }

    /// [`scan`](Self::scan), for a caller that already knows some files: `known` gives, for a
    /// unique key, the size and received date seen before. A known file whose name carries
    /// its size (`,S=`, as Dovecot writes) is not stat'ed again: a Maildir file's content and
    /// date never change under the same unique name, so a nightly scan of an unchanged
    /// mailbox costs one directory listing per folder.
    pub fn scan_known(&self, known: &dyn Fn(&str) -> Option<(u64, i64)>) -> Result<ScannedAccount> {
        Ok(self.scan_since(&mut KnownFiles(known))?.listed)
    }

    /// The scan of a snapshot: [`scan_known`](Self::scan_known), except that a folder
    /// `basis` says is unchanged since the previous snapshot (its stamp is the one that
    /// snapshot stored, see `source/stamp.rs`) is not listed at all. Returns the folders
    /// listed, those passed over, and the stamps to store with the listed ones.
    pub(crate) fn scan_since(&self, basis: &mut dyn ScanBasis) -> Result<Rescan> {
        let root = self.root_dir()?;
        let mut warnings = Vec::new();
        let subscriptions = Subscriptions::load(&root, &mut warnings);
        let mut folders = Vec::new();
        let mut unchanged = Vec::new();
        let mut stamps = HashMap::new();
        for folder in folder_dirs(&root, &mut warnings)? {
            let subscribed = subscriptions.contains(&folder.name);
            if basis.unchanged(&folder.name, folder.observed.map(|o| o.stamp()))? {
                unchanged.push(UnchangedFolder {
                    name: folder.name,
                    subscribed,
                });
                continue;
            }
            let dir = match folder.open(&root) {
                Ok(dir) => dir,
                Err(e) => {
                    warnings.push(skipped(root.join(&folder.rel), &e));
                    continue;
                }
            };
            let warned = warnings.len();
            let keywords = Keywords::load(&dir, &mut warnings);
            let known = |unique: &str| basis.known(unique);
            let (messages, settled) = scan_folder(&folder, &dir, &keywords, &known, &mut warnings);
            // A folder with anything skipped or unsettled is listed again next time, so that
            // what it could not take is tried (and reported) again.
            let keep = folder.observed.and_then(|o| o.trusted());
            if let (Some(stamp), true) = (keep, settled && warnings.len() == warned) {
                stamps.insert(folder.name.clone(), stamp);
            }
            folders.push(ScannedFolder {
                subscribed,
                name: folder.name,
                messages,
            });
        }
        Ok(Rescan {
            listed: ScannedAccount { folders, warnings },
            unchanged,
            stamps,
        })
    }

    /// Reads at most the first `limit` bytes of a message file as listed (for sampling
    /// headers). `Ok(None)` if it is no longer there; renames are not followed.
    pub fn read_head(&self, file: &MessageFile, limit: u64) -> Result<Option<Vec<u8>>> {
        let rel = self.relative(&file.path)?;
        let mut head = Vec::new();
        let root = self.root_dir()?;
        let opened = root.open_file(rel).and_then(|(f, meta)| {
            check_links(&meta, root.fstat()?.uid)?;
            Ok(f)
        });
        match opened.and_then(|f| f.take(limit).read_to_end(&mut head)) {
            Ok(_) => Ok(Some(head)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::maildir(&file.path, e.to_string())),
        }
    }

    /// Starts a pass of reads: the root is opened once, and a message that moved is looked
    /// for in one listing of the account shared by all the reads of the pass (see
    /// [`MaildirReader`]). Use one per snapshot.
    pub fn reader(&self) -> Result<MaildirReader<'_>> {
        let root = self.root_dir()?;
        let owner = root
            .fstat()
            .map_err(|e| Error::maildir(&self.root, format!("cannot examine: {e}")))?
            .uid;
        Ok(MaildirReader {
            account: self,
            root,
            owner,
            where_now: Mutex::new(Relocations::default()),
        })
    }

    /// Reads one message's bytes.
    ///
    /// If the file was renamed (flags changed) or moved to another folder since the scan, it is
    /// found by its [unique key](MessageFile::unique_key) and returned with its current
    /// metadata. If it is in no folder any more, the answer is [`ReadOutcome::Vanished`].
    /// A file that is not a regular file any more (a symlink, a FIFO) is an
    /// [`ErrorKind::Source`](crate::ErrorKind::Source) error naming it; it is never read
    /// through. For many reads, [`reader`](Self::reader) is cheaper.
    pub fn read(&self, file: &MessageFile) -> Result<ReadOutcome> {
        self.reader()?.read(file)
    }

    /// [`read`](Self::read) into a buffer the caller keeps from message to message (a
    /// snapshot reads thousands; one buffer per thread spares the allocator). Its old
    /// content is replaced. `None` if the message vanished.
    pub fn read_into(&self, file: &MessageFile, buf: &mut Vec<u8>) -> Result<Option<MessageFile>> {
        self.reader()?.read_into(file, buf)
    }

    /// Lists the accounts under a directory of many accounts, with the default
    /// [`SourceOptions`]: see [`discover_with`](Self::discover_with), whose warnings (the
    /// symlinked accounts it skipped) this leaves out.
    pub fn discover(root: &Path) -> Result<Vec<(String, MaildirAccount)>> {
        Ok(Self::discover_with(root, &SourceOptions::default())?.accounts)
    }

    /// Lists the accounts under a directory of many accounts: every direct subdirectory that
    /// is a Maildir (has `cur/` or `new/`), or holds one as `<name>/Maildir`, as (directory
    /// name, account), sorted by name.
    ///
    /// An account directory (or its `Maildir`) that is a symlink is followed only with
    /// [`follow_root_symlink`](SourceOptions::follow_root_symlink); otherwise it is skipped
    /// with a warning. Names are returned as they are; the caller validates them (as
    /// [`AccountId`](crate::AccountId)). Names starting with `.` and names that are not UTF-8
    /// are left out.
    pub fn discover_with(root: &Path, options: &SourceOptions) -> Result<DiscoveredAccounts> {
        let not_listed = |e: io::Error| match e.kind() {
            io::ErrorKind::NotFound => {
                Error::not_found("accounts directory", root.display().to_string())
            }
            _ => Error::maildir(root, format!("cannot list accounts: {e}")),
        };
        let dir = Dir::open_root(root, true).map_err(not_listed)?;
        let entries = dir.entries().map_err(not_listed)?;
        let mut found = DiscoveredAccounts::default();
        for entry in entries {
            let Ok(name) = entry.name.into_string() else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            match locate(&dir, &name, entry.kind, options) {
                Located::Maildir(maildir) => found.accounts.push((
                    name,
                    MaildirAccount {
                        root: maildir,
                        options: options.clone(),
                    },
                )),
                Located::NotAnAccount => {}
                Located::Refused(why) => found.warnings.push(SourceWarning::new(
                    why.path,
                    format!("account skipped: {}", why.message),
                )),
            }
        }
        found.accounts.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }
}

/// What [`locate`] found for one entry of a directory of accounts.
enum Located {
    /// The account's Maildir: the entry itself or its `Maildir`.
    Maildir(PathBuf),
    /// Not an account (a file, a directory without a Maildir).
    NotAnAccount,
    /// Refused (a symlink not followed, a directory that cannot be opened): says why.
    Refused(SourceWarning),
}

/// Where the account `name` of the directory of accounts `accounts` (an entry of kind
/// `kind`, not followed) keeps its Maildir: `<name>/` or `<name>/Maildir/`. A symlink as
/// either is followed only with [`follow_root_symlink`](SourceOptions::follow_root_symlink).
fn locate(accounts: &Dir, name: &str, kind: Kind, options: &SourceOptions) -> Located {
    let follow = options.follow_root_symlink;
    let refused = |path: PathBuf| {
        Located::Refused(SourceWarning::new(
            path,
            "a symlink (followed only with follow_root_symlink)",
        ))
    };
    let path = accounts.join(name);
    let account = match kind {
        Kind::Dir => accounts.open_dir(name),
        Kind::Symlink if follow => Dir::open_root(&path, true),
        Kind::Symlink => return refused(path),
        Kind::File | Kind::Other => return Located::NotAnAccount,
    };
    let account = match account {
        Ok(account) => account,
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Located::NotAnAccount,
        Err(e) => return Located::Refused(SourceWarning::new(path, e.to_string())),
    };
    if account.is_maildir() {
        return Located::Maildir(path);
    }
    let path = path.join("Maildir");
    let nested = match account.kind_of("Maildir") {
        Ok(Some(Kind::Dir)) => account.open_dir("Maildir"),
        Ok(Some(Kind::Symlink)) if follow => Dir::open_root(&path, true),
        Ok(Some(Kind::Symlink)) => return refused(path),
        _ => return Located::NotAnAccount,
    };
    match nested {
        Ok(nested) if nested.is_maildir() => Located::Maildir(path),
        Ok(_) => Located::NotAnAccount,
        Err(e) => Located::Refused(SourceWarning::new(path, e.to_string())),
    }
}

impl MaildirAccount {
    /// The account `name` under the directory of accounts `accounts`, found as
    /// [`discover_with`](Self::discover_with) finds it (`<name>/` or `<name>/Maildir/`, a
    /// symlink as either followed only with
    /// [`follow_root_symlink`](SourceOptions::follow_root_symlink)), without listing the
    /// others.
    ///
    /// Errors: [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if there is no such
    /// entry, [`ErrorKind::Source`](crate::ErrorKind::Source) naming the path if it is
    /// refused or holds no Maildir.
    pub(crate) fn find_in(accounts: &Path, name: &str, options: &SourceOptions) -> Result<Self> {
        let path = accounts.join(name);
        let dir = Dir::open_root(accounts, true).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                Error::not_found("accounts directory", accounts.display().to_string())
            }
            _ => Error::maildir(accounts, format!("cannot open: {e}")),
        })?;
        let kind = match dir.kind_of(name) {
            Ok(Some(kind)) => kind,
            Ok(None) => return Err(Error::not_found("maildir", path.display().to_string())),
            Err(e) => return Err(Error::maildir(&path, format!("cannot examine: {e}"))),
        };
        match locate(&dir, name, kind, options) {
            Located::Maildir(root) => Ok(Self {
                root,
                options: options.clone(),
            }),
            Located::NotAnAccount => Err(Error::maildir(
                path,
                "not a maildir: no cur/ or new/ directory, nor a Maildir/ holding them \
                 (symlinks are not followed)",
            )),
            Located::Refused(why) => Err(Error::maildir(
                why.path,
                format!("account refused: {}", why.message),
            )),
        }
    }
}

/// Where the messages of an account are now, from one listing of every folder: what a
/// [`MaildirReader`] consults for a message that is not where the scan saw it.
#[derive(Debug, Default)]
pub(super) struct Relocations {
    /// The folders of the latest listing.
    folders: Vec<FolderDir>,
    /// Unique key → (index into `folders`, path relative to the root); `None` before the
    /// first listing.
    by_key: Option<HashMap<String, (usize, PathBuf)>>,
    /// How many listings were made.
    generation: u64,
    /// Whether a directory changed while the latest listing read it (a file renamed at that
    /// moment may be missing from it).
    unsettled: bool,
}

impl Relocations {
    /// Lists every folder of the account again.
    fn relist(&mut self, root: &Dir) -> Result<()> {
        let mut ignored = Vec::new();
        let folders = folder_dirs(root, &mut ignored)?;
        let mut by_key = HashMap::new();
        let mut unsettled = false;
        for (index, folder) in folders.iter().enumerate() {
            let Ok(dir) = folder.open(root) else { continue };
            for (sub, _) in MESSAGE_DIRS {
                let Some(listing) = list_message_files(&dir, sub, &mut ignored) else {
                    continue;
                };
                unsettled |= !listing.settled;
                for name in listing.names {
                    let rel = folder.rel.join(sub).join(&name);
                    by_key
                        .entry(unique_key(&name).to_owned())
                        .or_insert((index, rel));
                }
            }
        }
        *self = Relocations {
            folders,
            by_key: Some(by_key),
            generation: self.generation + 1,
            unsettled,
        };
        Ok(())
    }
}

impl MaildirReader<'_> {
    /// [`MaildirAccount::read`], within this pass.
    pub fn read(&self, file: &MessageFile) -> Result<ReadOutcome> {
        let mut bytes = Vec::new();
        Ok(match self.read_into(file, &mut bytes)? {
            Some(file) => ReadOutcome::Read { bytes, file },
            None => ReadOutcome::Vanished,
        })
    }

    /// [`MaildirAccount::read_into`], within this pass.
    pub fn read_into(&self, file: &MessageFile, buf: &mut Vec<u8>) -> Result<Option<MessageFile>> {
        let rel = self.account.relative(&file.path)?;
        let home = FolderDir {
            name: file.folder.clone(),
            rel: folder_rel_of(rel).unwrap_or_else(|| encode_folder_dir(&file.folder).into()),
            observed: None,
        };
        if let Some(found) = read_message(&self.root, self.owner, &home, rel, Some(file), buf)? {
            return Ok(Some(found));
        }
        let started = self.generation();
        let mut tried = rel.to_path_buf();
        for _ in 0..READ_ATTEMPTS {
            let Some((folder, path)) = self.locate(file.unique_key(), &tried, started)? else {
                return Ok(None);
            };
            // Found under its new name; it may move once more before we open it.
            if let Some(found) = read_message(&self.root, self.owner, &folder, &path, None, buf)? {
                return Ok(Some(found));
            }
            tried = path;
        }
        Err(Error::maildir(
            &file.path,
            "the message kept moving while it was being read",
        ))
    }

    fn relocations(&self) -> std::sync::MutexGuard<'_, Relocations> {
        self.where_now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn generation(&self) -> u64 {
        self.relocations().generation
    }

    /// Where the message `key` is now, after it was not at `tried`; `started` is the
    /// generation of the listing when the read began. `None`: it is in no folder.
    ///
    /// The account is listed again only when the latest listing cannot answer: there is none
    /// yet, or it shows the message at `tried` (so it moved after that listing), or the
    /// message is missing from it while a directory changed during it and no listing was made
    /// since this read began. A message missing from a settled listing made after the scan
    /// had no name then: it was expunged. So a burst of renames or expunges costs one
    /// listing of the account, not one per message; in all, a pass lists the account at
    /// most once more than the number of times a message changed after the latest listing
    /// and before it was read (a server racing the reads message by message).
    fn locate(
        &self,
        key: &str,
        tried: &Path,
        started: u64,
    ) -> Result<Option<(FolderDir, PathBuf)>> {
        let mut where_now = self.relocations();
        let listed = |r: &Relocations| r.by_key.as_ref().map(|m| m.get(key).cloned());
        let relist = match listed(&where_now) {
            None => true,
            Some(Some((_, path))) => path == tried,
            Some(None) => where_now.unsettled && where_now.generation == started,
        };
        if relist {
            where_now.relist(&self.root)?;
        }
        Ok(match listed(&where_now) {
            Some(Some((index, path))) => where_now.folders.get(index).map(|f| (f.clone(), path)),
            _ => None,
        })
    }
}

/// INBOX, then every `.<name>` folder directory sorted by folder name.
fn folder_dirs(root: &Dir, warnings: &mut Vec<SourceWarning>) -> Result<Vec<FolderDir>> {
    let entries = root
        .entries()
        .map_err(|e| Error::maildir(root.path(), format!("cannot list: {e}")))?;
    let mut candidates = Vec::new();
    for entry in entries {
        match entry.name.into_string() {
            Ok(name) if name.starts_with('.') => candidates.push((name, entry.kind)),
            Ok(_) => {}
            Err(raw) if raw.as_encoded_bytes().starts_with(b".") => warnings.push(
                SourceWarning::new(root.join(&raw), "folder skipped: name is not UTF-8"),
            ),
            Err(_) => {}
        }
    }
    // Listing order is arbitrary; sort so that a clash of names always keeps the same one.
    candidates.sort_by(|a, b| a.0.cmp(&b.0));

    let mut folders = vec![FolderDir {
        name: FolderName::inbox(),
        rel: PathBuf::new(),
        observed: Observed::of(root),
    }];
    let mut seen = HashSet::from([FolderName::inbox()]);
    for (dir_name, kind) in candidates {
        let path = root.join(&dir_name);
        match kind {
            Kind::Dir => {}
            Kind::Symlink => {
                warnings.push(SourceWarning::new(path, "symlink skipped"));
                continue;
            }
            Kind::File | Kind::Other => continue, // a dot file of the server: `.customflags`
        }
        let dir = match root.open_dir(&dir_name) {
            Ok(dir) => dir,
            Err(e) => {
                warnings.push(skipped(path, &e));
                continue;
            }
        };
        // The stats that make the stamp tell whether it is a Maildir too.
        let observed = Observed::of(&dir);
        if !observed.map_or_else(|| dir.is_maildir(), |o| o.is_maildir()) {
            for sub in ["cur", "new"] {
                if let Ok(Some(Kind::Symlink)) = dir.kind_of(sub) {
                    warnings.push(SourceWarning::new(path.join(sub), "symlink skipped"));
                }
            }
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
        folders.push(FolderDir {
            name,
            rel: PathBuf::from(dir_name),
            observed,
        });
    }
    folders[1..].sort_by(|a, b| a.name.cmp(&b.name));
    Ok(folders)
}

/// The warning for a directory or file that could not be opened.
fn skipped(path: PathBuf, e: &io::Error) -> SourceWarning {
    if is_symlink_refusal(e) {
        SourceWarning::new(path, "symlink skipped (never followed inside a mailbox)")
    } else {
        SourceWarning::new(path, format!("skipped: {e}"))
    }
}

/// The folder directory of a message path relative to the root (`<folder>/cur/<file>` or
/// `<folder>/new/<file>`; empty for INBOX).
fn folder_rel_of(rel: &Path) -> Option<PathBuf> {
    let sub = rel.parent()?;
    if !MESSAGE_DIRS
        .iter()
        .any(|(name, _)| sub.file_name() == Some(name.as_ref()))
    {
        return None;
    }
    sub.parent().map(Path::to_path_buf)
}

/// Whether a name in `cur/` or `new/` can be a message: not hidden, not a server file.
fn is_message_name(name: &str) -> bool {
    !(name.starts_with('.')
        || name.starts_with("dovecot") // dovecot.index*, dovecot-uidlist, dovecot-keywords …
        || name.starts_with("courierimap")
        || matches!(name, "maildirsize" | "maildirfolder" | "subscriptions"))
}

/// The message files of one folder, sorted by unique key, and whether every listing of it
/// was settled (its directory did not change while it was listed).
///
/// A file the server renames between listing and stat (a flag change) is looked for once more
/// under its new name, so the snapshot still captures it; only a file that is gone for good
/// is reported as vanished.
fn scan_folder(
    folder: &FolderDir,
    dir: &Dir,
    keywords: &Keywords,
    known: &dyn Fn(&str) -> Option<(u64, i64)>,
    warnings: &mut Vec<SourceWarning>,
) -> (Vec<MessageFile>, bool) {
    let mut settled = true;
    let mut by_key: BTreeMap<String, MessageFile> = BTreeMap::new();
    let mut renamed: BTreeMap<String, PathBuf> = BTreeMap::new();
    for pass in 0..2 {
        for (sub, in_new) in MESSAGE_DIRS {
            let Some(listing) = list_message_files(dir, sub, warnings) else {
                continue;
            };
            settled &= listing.settled;
            for file_name in listing.names {
                let key = unique_key(&file_name).to_owned();
                if pass == 1 && (!renamed.contains_key(&key) || by_key.contains_key(&key)) {
                    continue;
                }
                let path = listing.dir.join(&file_name);
                let seen = known(&key).filter(|_| key.contains(",S="));
                let stat = match seen {
                    Some((size, received)) => Ok((size, received)),
                    None => listing
                        .dir
                        .stat(&file_name)
                        .and_then(|meta| match meta.kind {
                            Kind::File => Ok((meta.size, meta.mtime)),
                            // Swapped since the listing: never read (the read refuses it too).
                            _ => Err(io::Error::other("not a regular file any more")),
                        }),
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
    (by_key.into_values().collect(), settled)
}

/// The names in one `cur/` or `new/` that can be messages, and the open directory.
struct Listing {
    dir: Dir,
    names: Vec<String>,
    /// Whether the directory stayed the same while it was listed (if not, a file renamed at
    /// that moment may be in neither its old nor its new name).
    settled: bool,
}

/// Lists `sub` (`cur` or `new`) of a folder: the regular files that can be messages. A
/// missing `sub` has none (`None`); one that is a symlink or cannot be listed is reported in
/// `warnings`, and so are symlinks and other odd entries in it.
///
/// A directory whose mtime or ctime changed while it was listed (the server renamed or
/// delivered a file meanwhile: a file renamed at that moment can be missing from the listing
/// under both names) is listed again, at most [`LIST_ATTEMPTS`] times; if it never holds
/// still, that is a warning naming it, so no message goes missing unreported.
fn list_message_files(
    folder: &Dir,
    sub: &str,
    warnings: &mut Vec<SourceWarning>,
) -> Option<Listing> {
    let dir = match folder.open_dir(sub) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            warnings.push(skipped(folder.join(sub), &e));
            return None;
        }
    };
    let cannot_list = |e: io::Error| SourceWarning::new(dir.path(), format!("cannot list: {e}"));
    let mut entries = Vec::new();
    let mut settled = false;
    for _ in 0..LIST_ATTEMPTS {
        let before = dir.fstat().map(|m| m.change);
        entries = match dir.entries() {
            Ok(entries) => entries,
            Err(e) => {
                warnings.push(cannot_list(e));
                return None;
            }
        };
        let after = dir.fstat().map(|m| m.change);
        settled = matches!((before, after), (Ok(b), Ok(a)) if a == b);
        if settled {
            break;
        }
    }
    if !settled {
        warnings.push(SourceWarning::new(
            dir.path(),
            "changed during every listing (files renamed or delivered meanwhile): a message \
             renamed at that moment may be missing from this snapshot",
        ));
    }
    let mut names = Vec::new();
    for entry in entries {
        let path = dir.join(&entry.name);
        let Ok(name) = entry.name.into_string() else {
            warnings.push(SourceWarning::new(path, "skipped: file name is not UTF-8"));
            continue;
        };
        if !is_message_name(&name) {
            continue;
        }
        match entry.kind {
            Kind::File => names.push(name),
            Kind::Dir => {}
            Kind::Symlink => warnings.push(SourceWarning::new(path, "symlink skipped")),
            Kind::Other => warnings.push(SourceWarning::new(path, "skipped: not a regular file")),
        }
    }
    Some(Listing {
        dir,
        names,
        settled,
    })
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
        unique: unique_key(&file_name).to_owned(),
        flags: Flags::from_maildir_letters(letters),
        keywords: names,
        size,
        received,
        in_new,
        path,
        file_name,
    }
}

/// Reads an open message file whole into `bytes`, as long as it was when opened (`size`):
/// a Maildir message never changes once delivered, so a file that grows or shrinks while it
/// is read is refused (named by the caller) rather than stored half-written, and what is read
/// never exceeds the size it had.
///
/// The buffer is sized from `size` up front, so that a file takes two reads (its bytes, then
/// the end), not a read per doubling of a buffer that starts small.
fn read_whole(mut file: std::fs::File, size: u64, bytes: &mut Vec<u8>) -> io::Result<()> {
    let wanted = usize::try_from(size.saturating_add(1))
        .map_err(|_| io::Error::other(format!("refused: {size} bytes do not fit in memory")))?;
    bytes.clear();
    bytes.resize(wanted, 0);
    let mut filled = 0;
    while filled < wanted {
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                bytes.clear();
                return Err(e);
            }
        }
    }
    bytes.truncate(filled);
    let read = bytes.len() as u64;
    if read != size {
        let now = if read > size { "grew" } else { "shrank" };
        return Err(io::Error::other(format!(
            "refused: the file {now} while it was read ({size} bytes when opened)"
        )));
    }
    Ok(())
}

/// What a test runs while a file is being read (see `WHILE_READING`).
#[cfg(test)]
type Meanwhile = Box<dyn FnOnce(&Path)>;

#[cfg(test)]
thread_local! {
    /// Run once by the next [`read_message`] of this thread, between opening the file and
    /// reading it: lets tests change a file while it is being read.
    static WHILE_READING: std::cell::Cell<Option<Meanwhile>> =
        const { std::cell::Cell::new(None) };
}

/// The message at `rel` (relative to `root`) in `folder`, or `None` if there is no file
/// there (any more). A symlink or anything but a regular file there is an error naming it.
///
/// `listed` is the scan's description of the file at `rel`, if there is one: its name, and
/// so its flags and keywords, are unchanged, and only size and date are taken afresh.
fn read_message(
    root: &Dir,
    owner: u32,
    folder: &FolderDir,
    rel: &Path,
    listed: Option<&MessageFile>,
    bytes: &mut Vec<u8>,
) -> Result<Option<MessageFile>> {
    let path = root.join(rel);
    let fail =
        |what: &str, e: io::Error| Error::maildir(&path, format!("cannot {what} message: {e}"));
    let (handle, meta) = match root.open_file(rel) {
        Ok(open) => open,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail("open", e)),
    };
    let owner = if meta.nlink > 1 && meta.uid != owner {
        // An account root that is not the user's (`root:mail 0770`): the message directory
        // is.
        rel.parent()
            .and_then(|sub| root.open_dir(sub).ok())
            .and_then(|dir| dir.fstat().ok())
            .map_or(owner, |dir| dir.uid)
    } else {
        owner
    };
    check_links(&meta, owner).map_err(|e| fail("read", e))?;
    check_not_sparse(&handle, meta.size).map_err(|e| fail("read", e))?;
    #[cfg(test)]
    if let Some(meanwhile) = WHILE_READING.with(std::cell::Cell::take) {
        meanwhile(&path);
    }
    // Metadata of the open file: it describes exactly the bytes read, even if renamed meanwhile.
    read_whole(handle, meta.size, bytes).map_err(|e| fail("read", e))?;
    if let Some(listed) = listed.filter(|l| l.path == path) {
        let file = MessageFile {
            size: meta.size,
            received: meta.mtime,
            ..listed.clone()
        };
        return Ok(Some(file));
    }
    let file_name = rel
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| Error::maildir(&path, "file name is not UTF-8"))?
        .to_owned();
    let in_new = rel
        .parent()
        .is_some_and(|sub| sub.file_name() == Some("new".as_ref()));
    let mut ignored = Vec::new();
    let keywords = match folder.open(root) {
        Ok(dir) => Keywords::load(&dir, &mut ignored),
        Err(_) => Keywords::default(),
    };
    let file = message_file(
        &folder.name,
        path.clone(),
        file_name,
        (meta.size, meta.mtime),
        in_new,
        &keywords,
        &mut ignored,
    );
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use filetime::FileTime;

    use super::super::beneath::Resolve;
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
        let tmp = tempfile::tempdir().unwrap();
        let inbox = mkfolder(tmp.path(), "");
        let path = inbox.join("cur/1.M1P1.host:2,S");
        fs::write(&path, "x").unwrap();
        filetime::set_file_mtime(&path, FileTime::from_unix_time(-5, 500_000_000)).unwrap();
        let scan = MaildirAccount::open(tmp.path()).unwrap().scan().unwrap();
        assert_eq!(scan.folders[0].messages[0].received, -5);
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
    fn a_message_that_grows_or_shrinks_while_it_is_read_is_refused_and_named() {
        type Change = fn(&Path);
        let changes: [(&str, Change); 2] = [
            ("grew", |path| {
                let mut file = fs::OpenOptions::new().append(true).open(path).unwrap();
                std::io::Write::write_all(&mut file, &[b'x'; 100_000]).unwrap();
            }),
            ("shrank", |path| {
                fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .unwrap()
                    .set_len(3)
                    .unwrap();
            }),
        ];
        for (what, change) in changes {
            let (_tmp, account, file) = one_message();
            WHILE_READING.with(|hook| hook.set(Some(Box::new(change))));
            let err = account.read(&file).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Source, "{what}");
            let text = err.to_string();
            assert!(text.contains(&file.path.display().to_string()), "{text}");
            assert!(text.contains(what), "{text}");
        }
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

    #[test]
    fn a_burst_of_renames_after_the_scan_costs_one_listing_and_each_loss_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let inbox = mkfolder(tmp.path(), "");
        let archive = mkfolder(tmp.path(), ".Archive");
        for n in 0..3_000 {
            let name = format!("1700{n:06}.M{n}P1.host,S=2,W=2:2,");
            fs::write(inbox.join("cur").join(name), "x\n").unwrap();
        }
        let account = MaildirAccount::open(tmp.path()).unwrap();
        let listed = account.scan().unwrap().folders[0].messages.clone();
        assert_eq!(listed.len(), 3_000);
        let (first, second) = listed.split_at(1_500);
        // Between the scan and the reads, "mark all as read" on most of the first half, a
        // move of some to Archive, and an expunge of the rest.
        let mut expunged = Vec::new();
        for (i, file) in first.iter().enumerate() {
            match i % 6 {
                0..=3 => {
                    let seen = file.path.with_file_name(format!("{}:2,S", file.unique));
                    fs::rename(&file.path, seen).unwrap();
                }
                4 => fs::rename(&file.path, archive.join("cur").join(&file.file_name)).unwrap(),
                _ => {
                    fs::remove_file(&file.path).unwrap();
                    expunged.push(file.path.clone());
                }
            }
        }
        let reader = account.reader().unwrap();
        let before = super::super::beneath::listings_on_this_thread();
        let mut vanished = Vec::new();
        let mut moved = 0;
        let mut read_all = |files: &[MessageFile]| {
            for file in files {
                match reader.read(file).unwrap() {
                    ReadOutcome::Read { file: now, .. } => {
                        moved += usize::from(now.folder.as_str() == "Archive");
                        assert!(now.folder.as_str() == "Archive" || now.flags.to_string() == "S");
                    }
                    ReadOutcome::Vanished => vanished.push(file.path.clone()),
                }
            }
        };
        read_all(first);
        // One listing of the account: its root, and cur/ and new/ of both folders.
        let listings = super::super::beneath::listings_on_this_thread() - before;
        assert!(
            listings <= 5,
            "{listings} directory listings for 1,500 reads"
        );
        // Then "empty trash" on the whole second half, which that listing still shows: one
        // more listing answers for all of them.
        for file in second {
            fs::remove_file(&file.path).unwrap();
            expunged.push(file.path.clone());
        }
        read_all(second);
        let listings = super::super::beneath::listings_on_this_thread() - before;
        assert!(
            listings <= 10,
            "{listings} directory listings for 3,000 reads"
        );
        assert_eq!(moved, 250);
        assert_eq!(
            vanished, expunged,
            "every message not found again is reported"
        );
    }

    #[test]
    fn symlinked_message_dirs_folders_and_swapped_files_are_refused_and_named() {
        symlinks_and_swaps_are_refused(false);
    }

    #[test]
    fn without_openat2_the_walk_refuses_the_same() {
        super::super::beneath::force_walk_on_this_thread(true);
        symlinks_and_swaps_are_refused(true);
    }

    fn symlinks_and_swaps_are_refused(walk: bool) {
        let tmp = tempfile::tempdir().unwrap();
        let other = mkfolder(&tmp.path().join("other"), "");
        let secret = deliver(&other, "cur", "1700000009.M9P9.other", Some("S"), 1);
        let root = tmp.path().join("account");
        let inbox = mkfolder(&root, "");
        let kept = deliver(&inbox, "cur", "1700000000.M1P1.mail", Some("S"), 1);
        // A folder whose cur/ is the other user's, one that is a symlink, one whose cur/ and
        // new/ both are.
        let evil = root.join(".Evil");
        fs::create_dir_all(evil.join("new")).unwrap();
        std::os::unix::fs::symlink(other.join("cur"), evil.join("cur")).unwrap();
        std::os::unix::fs::symlink(&other, root.join(".Linked")).unwrap();
        let both = root.join(".Both");
        fs::create_dir(&both).unwrap();
        std::os::unix::fs::symlink(other.join("cur"), both.join("cur")).unwrap();
        std::os::unix::fs::symlink(other.join("new"), both.join("new")).unwrap();
        let account = MaildirAccount::open(&root).unwrap();
        let scan = account.scan().unwrap();
        let names: Vec<&str> = scan.folders.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["INBOX", "Evil"]);
        assert!(scan.folders[1].messages.is_empty());
        let warned: Vec<&Path> = scan.warnings.iter().map(|w| w.path.as_path()).collect();
        for path in [
            both.join("cur"),
            both.join("new"),
            evil.join("cur"),
            root.join(".Linked"),
        ] {
            assert!(
                warned.contains(&path.as_path()),
                "{path:?} in {:#?}",
                scan.warnings
            );
        }
        assert!(scan.warnings.iter().all(|w| w.message.contains("symlink")));

        // The message swapped for a symlink to another user's mail after the scan.
        let file = scan.folders[0].messages[0].clone();
        fs::remove_file(&kept).unwrap();
        std::os::unix::fs::symlink(&secret, &kept).unwrap();
        let err = account.read(&file).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Source);
        assert!(
            err.to_string().contains(&kept.display().to_string()),
            "{err}"
        );
        assert!(err.to_string().contains("symlink"), "{err}");
        // … or for a FIFO: refused at once, never blocking.
        fs::remove_file(&kept).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &kept,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let err = account.read(&file).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        assert!(account.read_head(&file, 10).is_err());
        let root_dir = account.root_dir().unwrap();
        let resolve = if walk {
            Resolve::Walk
        } else {
            Resolve::Openat2
        };
        assert_eq!(root_dir.resolve(), resolve);
    }

    #[test]
    fn a_symlinked_account_is_followed_only_when_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        mkfolder(&real, "");
        let accounts = tmp.path().join("accounts");
        fs::create_dir_all(accounts.join("nested")).unwrap();
        std::os::unix::fs::symlink(&real, accounts.join("linked")).unwrap();
        std::os::unix::fs::symlink(&real, accounts.join("nested/Maildir")).unwrap();
        mkfolder(&accounts, "plain");

        let err = MaildirAccount::open(accounts.join("linked")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Source);
        assert!(err.to_string().contains("symlink"), "{err}");
        let follow = SourceOptions::default().follow_root_symlink(true);
        let account = MaildirAccount::open_with(accounts.join("linked"), &follow).unwrap();
        assert!(account.scan().unwrap().warnings.is_empty());

        let found = MaildirAccount::discover_with(&accounts, &SourceOptions::default()).unwrap();
        let names: Vec<&str> = found.accounts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["plain"]);
        let skipped: Vec<&Path> = found.warnings.iter().map(|w| w.path.as_path()).collect();
        assert_eq!(
            skipped.iter().collect::<HashSet<_>>(),
            [accounts.join("linked"), accounts.join("nested/Maildir")]
                .iter()
                .map(PathBuf::as_path)
                .collect::<Vec<_>>()
                .iter()
                .collect::<HashSet<_>>()
        );
        let found = MaildirAccount::discover_with(&accounts, &follow).unwrap();
        let names: Vec<&str> = found.accounts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["linked", "nested", "plain"]);
        assert!(found.warnings.is_empty());
        assert!(found.accounts.iter().all(|(_, a)| a.scan().is_ok()));
    }
}
