//! File-system access beneath a Maildir root: the one place that opens, lists, creates and
//! renames anything inside a mailbox.
//!
//! A mailbox belongs to a user who may write it (shell, FTP, Sieve), while MTM runs as root
//! or as a service user that can read every mailbox. So nothing below the account root is
//! trusted:
//!
//! - Every path below the root is resolved from an open directory descriptor of the root
//!   ([`Dir`]), and a symlink at any component is refused (`ELOOP`), as is any path that
//!   would leave the root (`..`, absolute paths). With Linux's `openat2` this is the kernel's
//!   `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`; where the kernel lacks
//!   `openat2` (`ENOSYS`) each component is opened in turn with `openat(O_NOFOLLOW)`, which
//!   refuses the same things.
//! - Files are opened with `O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY` and their type is
//!   checked on the open descriptor ([`Dir::open_file`]): only regular files are read, so a
//!   FIFO or a device in place of a message never blocks and is never read.
//! - Control files are read with a limit ([`Dir::read_bounded`]): `subscriptions ->
//!   /dev/zero` is refused before it is read, and a huge regular file is refused at the limit.
//! - A hard link to a file of another owner is refused ([`check_links`]): where
//!   `fs.protected_hardlinks` is 0, a user could link a file they cannot read.
//! - Creating is exclusive (`O_CREAT | O_EXCL`, never through an existing name); renames and
//!   removals name one entry of an open directory.
//!
//! The root itself is opened by path; whether a symlink as its last component is followed
//! is the caller's choice ([`Dir::open_root`]). The path up to it is the provider's.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;

/// The most a control file (`subscriptions`, `dovecot-keywords`, `courierimapsubscribed`)
/// may hold: 1 MiB, thousands of times what a real one holds.
pub(crate) const CONTROL_FILE_LIMIT: u64 = 1 << 20;

/// Set once `openat2` answered `ENOSYS`: every later open walks component by component.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// How paths below a [`Dir`] are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolve {
    /// One `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`
    /// (falls back to [`Walk`](Self::Walk) if the kernel lacks it).
    Openat2,
    /// One `openat(O_NOFOLLOW)` per path component.
    Walk,
}

#[cfg(test)]
thread_local! {
    /// Makes every [`Dir`] opened on this thread walk (see [`force_walk_on_this_thread`]).
    static FORCE_WALK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes the [`Dir`]s this thread opens from now on use the fallback walk, as on a kernel
/// without `openat2`: lets tests run whole scans and restores through it.
#[cfg(test)]
pub(crate) fn force_walk_on_this_thread(walk: bool) {
    FORCE_WALK.with(|f| f.set(walk));
}

impl Resolve {
    fn default_for_this_kernel() -> Resolve {
        #[cfg(test)]
        if FORCE_WALK.with(std::cell::Cell::get) {
            return Resolve::Walk;
        }
        if NO_OPENAT2.load(Ordering::Relaxed) {
            Resolve::Walk
        } else {
            Resolve::Openat2
        }
    }
}

/// What kind of entry a directory listing found (never following a symlink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
    /// A FIFO, socket or device.
    Other,
}

impl Kind {
    fn of(file_type: FileType) -> Kind {
        match file_type {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        }
    }

    fn of_stat(stat: &Stat) -> Kind {
        Kind::of(FileType::from_raw_mode(stat.st_mode))
    }

    /// For people: "a FIFO", "a symlink" …
    fn describe(file_type: FileType) -> &'static str {
        match file_type {
            FileType::RegularFile => "a regular file",
            FileType::Directory => "a directory",
            FileType::Symlink => "a symlink",
            FileType::Fifo => "a FIFO",
            FileType::Socket => "a socket",
            FileType::CharacterDevice => "a character device",
            FileType::BlockDevice => "a block device",
            _ => "of an unknown type",
        }
    }
}

/// One entry of a directory listing.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) name: OsString,
    pub(crate) kind: Kind,
}

/// An open directory at or below an account root, through which everything below it is
/// reached without following symlinks.
#[derive(Debug)]
pub(crate) struct Dir {
    path: PathBuf,
    fd: OwnedFd,
    resolve: Resolve,
}

/// A symlink met below the root (what `ELOOP` means here), carried inside an [`io::Error`].
#[derive(Debug)]
struct SymlinkRefused;

impl std::fmt::Display for SymlinkRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused: a symlink (symlinks are never followed inside a mailbox)")
    }
}

impl std::error::Error for SymlinkRefused {}

fn symlink_refused() -> io::Error {
    io::Error::other(SymlinkRefused)
}

/// Turns an `openat`/`openat2` error into one that says what happened.
fn open_error(e: Errno) -> io::Error {
    match e {
        Errno::LOOP => symlink_refused(),
        Errno::XDEV => io::Error::other("refused: the path leaves the mailbox"),
        e => e.into(),
    }
}

/// Whether `e` says a symlink was refused.
pub(crate) fn is_symlink_refusal(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<SymlinkRefused>())
}

/// Checks that `rel` is a non-empty relative path of plain names (no `..`, `.` or root).
fn check_relative(rel: &Path) -> io::Result<()> {
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    if rel.as_os_str().is_empty() || !plain || rel.as_os_str().as_bytes().contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "refused: {} is not a plain path inside the mailbox",
                rel.display()
            ),
        ));
    }
    Ok(())
}

/// Checks that `name` is one plain name (no `/`).
fn check_name(name: &OsStr) -> io::Result<()> {
    check_relative(Path::new(name))?;
    if name.as_bytes().contains(&b'/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refused: {name:?} is not a single name"),
        ));
    }
    Ok(())
}

#[cfg(test)]
thread_local! {
    /// How many directory listings this thread made (see [`listings_on_this_thread`]).
    static LISTINGS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many directory listings ([`Dir::entries`]) this thread has made: lets tests count
/// operations instead of timing them.
#[cfg(test)]
pub(crate) fn listings_on_this_thread() -> u64 {
    LISTINGS.with(std::cell::Cell::get)
}

impl Dir {
    /// Opens an account root (or a directory of accounts) by its path. If `follow_symlink`
    /// is false, a symlink as the path's last component is refused; the components before it
    /// are resolved as usual (they are the provider's, not the user's).
    pub(crate) fn open_root(path: &Path, follow_symlink: bool) -> io::Result<Dir> {
        let mut flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        if !follow_symlink {
            flags |= OFlags::NOFOLLOW;
        }
        // A trailing `/` would make the kernel follow a symlink despite `O_NOFOLLOW`.
        let path = &path.components().collect::<PathBuf>();
        let fd = match rfs::open(path, flags, Mode::empty()) {
            Ok(fd) => fd,
            // `O_DIRECTORY | O_NOFOLLOW` on a symlink says "not a directory": say why.
            Err(Errno::NOTDIR)
                if rfs::statat(rfs::CWD, path, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Symlink) =>
            {
                return Err(symlink_refused());
            }
            Err(e) => return Err(open_error(e)),
        };
        Ok(Dir {
            path: path.to_path_buf(),
            fd,
            resolve: Resolve::default_for_this_kernel(),
        })
    }

    /// The same root, resolving with `resolve` (tests check both ways).
    #[cfg(test)]
    pub(crate) fn with_resolve(mut self, resolve: Resolve) -> Dir {
        self.resolve = resolve;
        self
    }

    /// How this directory resolves paths below it.
    #[cfg(test)]
    pub(crate) fn resolve(&self) -> Resolve {
        self.resolve
    }

    /// The directory's path (for messages and for naming files to callers).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `rel` below this directory, for messages.
    pub(crate) fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// A second handle on the same directory.
    pub(crate) fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir {
            path: self.path.clone(),
            fd: self.fd.try_clone()?,
            resolve: self.resolve,
        })
    }

    /// Opens `rel` below this directory with `flags` (plus `O_NOFOLLOW | O_CLOEXEC`),
    /// refusing a symlink at every component and any escape.
    fn open_at(&self, rel: &Path, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        check_relative(rel)?;
        self.open_at_unchecked(rel, flags, mode)
    }

    fn open_at_unchecked(&self, rel: &Path, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        if self.resolve == Resolve::Openat2 && !NO_OPENAT2.load(Ordering::Relaxed) {
            let how =
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
            match rfs::openat2(&self.fd, rel, flags, mode, how) {
                Err(Errno::NOSYS) => NO_OPENAT2.store(true, Ordering::Relaxed),
                // Some seccomp filters refuse syscalls they do not know with EPERM: the walk
                // answers for itself (and says EPERM again if that was the real answer).
                Err(Errno::PERM) => {}
                Err(Errno::AGAIN) => {} // a rename raced the lookup: the walk retries it
                Err(Errno::NOTDIR) => {} // the walk says whether a symlink was refused
                other => return other.map_err(open_error),
            }
        }
        self.walk(rel, flags, mode)
    }

    /// The fallback of [`open_at`](Self::open_at): each directory component opened with
    /// `O_DIRECTORY | O_NOFOLLOW`, the last with `flags`.
    fn walk(&self, rel: &Path, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        let names: Vec<&OsStr> = rel.components().map(|c| c.as_os_str()).collect();
        let Some((last, parents)) = names.split_last() else {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        };
        let mut current: Option<OwnedFd> = None;
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        // `O_DIRECTORY | O_NOFOLLOW` on a symlink says "not a directory": say why.
        let refused = |at: std::os::fd::BorrowedFd<'_>, name: &OsStr, e: Errno| {
            let link = rfs::statat(at, name, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Symlink);
            if e == Errno::NOTDIR && link {
                symlink_refused()
            } else {
                open_error(e)
            }
        };
        for name in parents {
            let at = current.as_ref().map_or(self.fd.as_fd(), AsFd::as_fd);
            let next = rfs::openat(at, *name, dir_flags, Mode::empty())
                .map_err(|e| refused(at, name, e))?;
            current = Some(next);
        }
        let at = current.as_ref().map_or(self.fd.as_fd(), AsFd::as_fd);
        rfs::openat(at, *last, flags, mode).map_err(|e| refused(at, last, e))
    }

    /// Opens the directory `rel` below this one (no symlink at any component).
    pub(crate) fn open_dir(&self, rel: impl AsRef<Path>) -> io::Result<Dir> {
        let rel = rel.as_ref();
        let fd = self.open_at(rel, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
        Ok(Dir {
            path: self.path.join(rel),
            fd,
            resolve: self.resolve,
        })
    }

    /// Opens the regular file `rel` for reading, and its metadata. A symlink at any
    /// component is refused; so is anything but a regular file (checked on the open
    /// descriptor; opening never blocks, even on a FIFO).
    pub(crate) fn open_file(&self, rel: impl AsRef<Path>) -> io::Result<(File, Meta)> {
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY;
        let fd = self.open_at(rel.as_ref(), flags, Mode::empty())?;
        let stat = rfs::fstat(&fd)?;
        let file_type = FileType::from_raw_mode(stat.st_mode);
        if file_type != FileType::RegularFile {
            return Err(not_regular(file_type));
        }
        Ok((File::from(fd), meta(&stat)))
    }

    /// Reads the regular file `rel` whole if it holds at most `limit` bytes. `Ok(None)` if
    /// there is no such file; a larger file is an error of kind
    /// [`FileTooLarge`](io::ErrorKind::FileTooLarge), without reading past the limit. A file
    /// with several names (hard links) that does not belong to this directory's owner is
    /// refused (see [`check_links`]).
    pub(crate) fn read_bounded(
        &self,
        rel: impl AsRef<Path>,
        limit: u64,
    ) -> io::Result<Option<Vec<u8>>> {
        let (file, meta) = match self.open_file(rel) {
            Ok(open) => open,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if meta.nlink > 1 {
            check_links(&meta, self.fstat()?.uid)?;
        }
        let mut bytes = Vec::new();
        file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limit {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("refused: larger than {limit} bytes"),
            ));
        }
        Ok(Some(bytes))
    }

    /// The entries of this directory (without `.` and `..`), with their kinds; an entry
    /// whose kind the listing does not give is stat'ed (never following a symlink). An entry
    /// that vanishes meanwhile is left out.
    pub(crate) fn entries(&self) -> io::Result<Vec<Entry>> {
        #[cfg(test)]
        LISTINGS.with(|n| n.set(n.get() + 1));
        let mut dir = rfs::Dir::read_from(&self.fd)?;
        let mut entries = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let name = OsStr::from_bytes(name).to_os_string();
            let kind = match entry.file_type() {
                FileType::Unknown => match self.stat(&name) {
                    Ok(meta) => meta.kind,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                },
                known => Kind::of(known),
            };
            entries.push(Entry { name, kind });
        }
        Ok(entries)
    }

    /// The metadata of this directory.
    pub(crate) fn fstat(&self) -> io::Result<Meta> {
        Ok(meta(&rfs::fstat(&self.fd)?))
    }

    /// The metadata of the entry `name` of this directory, not following a symlink.
    pub(crate) fn stat(&self, name: impl AsRef<OsStr>) -> io::Result<Meta> {
        let name = name.as_ref();
        check_name(name)?;
        Ok(meta(&rfs::statat(
            &self.fd,
            name,
            AtFlags::SYMLINK_NOFOLLOW,
        )?))
    }

    /// The kind of the entry `name`, or `None` if there is none.
    pub(crate) fn kind_of(&self, name: impl AsRef<OsStr>) -> io::Result<Option<Kind>> {
        match self.stat(name) {
            Ok(meta) => Ok(Some(meta.kind)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether this directory is a Maildir: its `cur/` or `new/` is a directory (a symlink
    /// there does not count).
    pub(crate) fn is_maildir(&self) -> bool {
        ["cur", "new"]
            .iter()
            .any(|sub| matches!(self.kind_of(sub), Ok(Some(Kind::Dir))))
    }

    /// Creates the directory `name` in this one with `mode`. `Ok(false)` if an entry of that
    /// name exists already (of any kind: open it with [`open_dir`](Self::open_dir) to check).
    pub(crate) fn mkdir(&self, name: impl AsRef<OsStr>, mode: u32) -> io::Result<bool> {
        let name = name.as_ref();
        check_name(name)?;
        match rfs::mkdirat(&self.fd, name, Mode::from_raw_mode(mode)) {
            Ok(()) => Ok(true),
            Err(Errno::EXIST) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the file `name` in this directory for writing, exclusively: an existing entry
    /// of that name (a symlink too) is [`AlreadyExists`](io::ErrorKind::AlreadyExists).
    pub(crate) fn create_new(&self, name: impl AsRef<OsStr>, mode: u32) -> io::Result<File> {
        let name = name.as_ref();
        check_name(name)?;
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOCTTY;
        let fd = self.open_at(Path::new(name), flags, Mode::from_raw_mode(mode))?;
        Ok(File::from(fd))
    }

    /// Renames the entry `from` of this directory to `to` in `target` (replacing what is
    /// there, never following a symlink).
    pub(crate) fn rename(
        &self,
        from: impl AsRef<OsStr>,
        target: &Dir,
        to: impl AsRef<OsStr>,
    ) -> io::Result<()> {
        let (from, to) = (from.as_ref(), to.as_ref());
        check_name(from)?;
        check_name(to)?;
        Ok(rfs::renameat(&self.fd, from, &target.fd, to)?)
    }

    /// Removes the file `name` of this directory (a symlink itself, never its target).
    pub(crate) fn unlink(&self, name: impl AsRef<OsStr>) -> io::Result<()> {
        let name = name.as_ref();
        check_name(name)?;
        Ok(rfs::unlinkat(&self.fd, name, AtFlags::empty())?)
    }

    /// Makes this directory's entries durable.
    pub(crate) fn sync(&self) -> io::Result<()> {
        Ok(rfs::fsync(&self.fd)?)
    }
}

impl AsFd for Dir {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Gives an open file or directory to `uid`:`gid` (on the descriptor: no path is resolved).
pub(crate) fn chown(fd: impl AsFd, uid: u32, gid: u32) -> io::Result<()> {
    let (uid, gid) = (rfs::Uid::from_raw(uid), rfs::Gid::from_raw(gid));
    Ok(rfs::fchown(fd, Some(uid), Some(gid))?)
}

/// Refuses a file with more than one name (hard link) that does not belong to `owner` (the
/// owner of the account root or of the directory the file is in: a message is read if it
/// belongs to either).
///
/// Where `fs.protected_hardlinks` is 0 (the kernel's default; most distributions set 1), a
/// user may hard-link any file of the same file system into their Maildir, even one they
/// cannot read; read as root, it would be stored as their mail or copied into their mailbox.
/// A server's own hard links (Dovecot links a message it copies to another folder, or
/// delivers to several folders of one system user) are files of the mailbox's owner, and are
/// read.
pub(crate) fn check_links(meta: &Meta, owner: u32) -> io::Result<()> {
    if meta.nlink > 1 && meta.uid != owner {
        return Err(io::Error::other(format!(
            "refused: a hard link ({} names) to a file of uid {}, not of the mailbox's owner \
             (uid {owner})",
            meta.nlink, meta.uid
        )));
    }
    Ok(())
}

/// Refuses a file of `size` bytes that has a hole (a sparse file), and leaves the file's
/// offset at its start.
///
/// `truncate -s 1T` makes a file that costs its user no quota and would take a terabyte to
/// read; a delivered message is written byte by byte and never has one. Where the file
/// system cannot tell holes, the answer is "none" (`SEEK_HOLE` says the end of the file).
pub(crate) fn check_not_sparse(file: &File, size: u64) -> io::Result<()> {
    let hole = rfs::seek(file, rfs::SeekFrom::Hole(0));
    rfs::seek(file, rfs::SeekFrom::Start(0))?;
    match hole {
        Ok(at) if at < size => Err(io::Error::other(format!(
            "refused: a sparse file ({size} bytes with a hole at byte {at}): not a delivered \
             message"
        ))),
        // ENXIO: an empty file; EINVAL: no SEEK_HOLE here.
        Ok(_) | Err(Errno::NXIO | Errno::INVAL) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The error for a file that is not a regular one.
fn not_regular(file_type: FileType) -> io::Error {
    io::Error::other(format!(
        "refused: {} (only regular files are read)",
        Kind::describe(file_type)
    ))
}

/// What a stat says about a file, in portable types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) kind: Kind,
    /// Length in bytes.
    pub(crate) size: u64,
    /// Modification time, Unix seconds (rounded down, also before 1970).
    pub(crate) mtime: i64,
    /// Permission bits (`0o7777`).
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// How many names (hard links) the file has.
    pub(crate) nlink: u64,
    /// mtime and ctime to the nanosecond: changes whenever a directory's entries change.
    pub(crate) change: [i64; 4],
    /// The inode number (a directory replaced by another of the same name has another).
    pub(crate) ino: u64,
}

// The field types of `struct stat` differ between architectures.
#[allow(clippy::useless_conversion, clippy::unnecessary_fallible_conversions)]
fn meta(stat: &Stat) -> Meta {
    let wide = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
    Meta {
        kind: Kind::of_stat(stat),
        size: u64::try_from(stat.st_size).unwrap_or(0),
        mtime: wide(i128::from(stat.st_mtime)),
        mode: u32::from(stat.st_mode) & 0o7777,
        uid: u32::from(stat.st_uid),
        gid: u32::from(stat.st_gid),
        nlink: u64::from(stat.st_nlink),
        change: [
            wide(i128::from(stat.st_mtime)),
            wide(i128::from(stat.st_mtime_nsec)),
            wide(i128::from(stat.st_ctime)),
            wide(i128::from(stat.st_ctime_nsec)),
        ],
        ino: u64::from(stat.st_ino),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use super::*;

    /// A root with `a/b/file`, `a/link -> b`, `a/b/to-file -> file`, and a secret outside.
    fn fixture() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/file"), "inside").unwrap();
        fs::write(tmp.path().join("secret"), "SECRET").unwrap();
        symlink("b", root.join("a/link")).unwrap();
        symlink("file", root.join("a/b/to-file")).unwrap();
        symlink(tmp.path().join("secret"), root.join("a/b/to-secret")).unwrap();
        symlink("..", root.join("up")).unwrap();
        (tmp, root)
    }

    fn both_ways(root: &Path) -> [Dir; 2] {
        [Resolve::Openat2, Resolve::Walk]
            .map(|r| Dir::open_root(root, false).unwrap().with_resolve(r))
    }

    #[test]
    fn plain_paths_open_and_symlinks_at_any_component_are_refused() {
        let (_tmp, root) = fixture();
        for dir in both_ways(&root) {
            let (mut file, stat) = dir.open_file("a/b/file").unwrap();
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            assert_eq!((text.as_str(), stat.size), ("inside", 6));
            for bad in ["a/link/file", "a/b/to-file", "a/b/to-secret", "up/secret"] {
                let err = dir.open_file(bad).unwrap_err();
                assert!(is_symlink_refusal(&err), "{bad}: {err}");
            }
            assert!(is_symlink_refusal(&dir.open_dir("a/link").unwrap_err()));
            assert!(is_symlink_refusal(&dir.open_dir("up").unwrap_err()));
            for escape in ["../secret", "/etc/passwd", "a/../a/b/file", "./a"] {
                let err = dir.open_file(escape).unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{escape}");
            }
            let sub = dir.open_dir("a").unwrap();
            assert_eq!(sub.path(), root.join("a"));
            assert!(sub.open_file("b/file").is_ok());
        }
    }

    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let (_tmp, root) = fixture();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("fifo"),
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        for dir in both_ways(&root) {
            let err = dir.open_file("fifo").unwrap_err();
            assert!(err.to_string().contains("a FIFO"), "{err}");
            let err = dir.read_bounded("fifo", 10).unwrap_err();
            assert!(err.to_string().contains("a FIFO"), "{err}");
            assert!(
                dir.open_file("a")
                    .unwrap_err()
                    .to_string()
                    .contains("directory")
            );
        }
        let dev = Dir::open_root(Path::new("/dev"), true).unwrap();
        let err = dev.read_bounded("zero", CONTROL_FILE_LIMIT).unwrap_err();
        assert!(err.to_string().contains("character device"), "{err}");
    }

    #[test]
    fn read_bounded_stops_at_the_limit() {
        let (_tmp, root) = fixture();
        let dir = Dir::open_root(&root, false).unwrap();
        assert_eq!(dir.read_bounded("a/b/file", 6).unwrap().unwrap(), b"inside");
        let err = dir.read_bounded("a/b/file", 5).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(dir.read_bounded("a/missing", 5).unwrap(), None);
    }

    #[test]
    fn a_symlinked_root_is_followed_only_when_asked() {
        let (tmp, root) = fixture();
        let link = tmp.path().join("link-root");
        symlink(&root, &link).unwrap();
        assert!(is_symlink_refusal(
            &Dir::open_root(&link, false).unwrap_err()
        ));
        let followed = Dir::open_root(&link, true).unwrap();
        assert!(followed.open_file("a/b/file").is_ok());
    }

    #[test]
    fn listing_creating_renaming_and_removing_stay_in_the_directory() {
        let (tmp, root) = fixture();
        let dir = Dir::open_root(&root, false).unwrap();
        let b = dir.open_dir("a/b").unwrap();
        let mut names: Vec<(String, Kind)> = b
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| (e.name.into_string().unwrap(), e.kind))
            .collect();
        names.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            names,
            [
                ("file".to_owned(), Kind::File),
                ("to-file".to_owned(), Kind::Symlink),
                ("to-secret".to_owned(), Kind::Symlink),
            ]
        );
        // Exclusive creation never goes through a symlink.
        let err = b.create_new("to-secret", 0o600).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(tmp.path().join("secret")).unwrap(), b"SECRET");
        assert!(b.mkdir("new-dir", 0o700).unwrap());
        assert!(!b.mkdir("new-dir", 0o700).unwrap());
        assert!(!dir.mkdir("up", 0o700).unwrap());
        b.create_new("tmp-file", 0o600).unwrap();
        let target = b.open_dir("new-dir").unwrap();
        b.rename("tmp-file", &target, "moved").unwrap();
        assert!(root.join("a/b/new-dir/moved").is_file());
        // Removing a symlink removes the link, not its target.
        b.unlink("to-secret").unwrap();
        assert!(tmp.path().join("secret").is_file());
        for bad in ["x/y", "..", ""] {
            assert!(b.create_new(bad, 0o600).is_err(), "{bad}");
        }
        b.sync().unwrap();
    }
}
