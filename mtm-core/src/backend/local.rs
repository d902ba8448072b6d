use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Backend, OpenFile, StagedFile, check_key, check_prefix};
use crate::error::{Error, Result};

/// A backend on a local directory: the embedded default, no server needed.
///
/// Writes go to `tmp/` first, are flushed to disk, then linked into place with a call that
/// fails if the target exists, and the directory is synced: a crash leaves either nothing or
/// the whole file (plus, at worst, a stray file in `tmp/`).
#[derive(Debug)]
pub struct LocalBackend {
    root: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LocalBackend {
    /// A backend rooted at `root`, which must exist.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        if !root.is_dir() {
            return Err(Error::not_found(
                "repository directory",
                root.display().to_string(),
            ));
        }
        Ok(Self { root })
    }

    /// The directory this backend stores into.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn temp_path(&self) -> PathBuf {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        self.root
            .join("tmp")
            .join(format!("{}-{n}-{nanos}.tmp", std::process::id()))
    }
}

impl LocalBackend {
    /// A fresh temporary path in `tmp/` (created if missing).
    fn new_temp(&self) -> Result<PathBuf> {
        let tmp_dir = self.root.join("tmp");
        fs::create_dir_all(&tmp_dir).map_err(|e| Error::storage(&tmp_dir, e))?;
        Ok(self.temp_path())
    }

    /// Writes a new file through `tmp/`, create-only; `durable`: the file and its directory
    /// are synced before this returns.
    fn write_file(&self, key: &str, bytes: &[u8], durable: bool) -> Result<()> {
        check_key(key)?;
        if self.path(key).exists() {
            return Err(Error::AlreadyExists {
                what: "file",
                name: key.to_owned(),
            });
        }
        let temp = self.new_temp()?;
        let written = File::create_new(&temp)
            .and_then(|mut f| {
                f.write_all(bytes)?;
                if durable { f.sync_all() } else { Ok(()) }
            })
            .map_err(|e| Error::storage(&temp, e));
        let published = written.and_then(|()| {
            if durable {
                self.link_into_place(&temp, key)
            } else {
                self.link_unsynced(&temp, key).map(drop)
            }
        });
        let _ = fs::remove_file(&temp);
        published
    }

    /// Publishes a complete, synced temporary file as `key`, create-only, and syncs the
    /// directory. The temporary file is left for the caller to remove.
    fn link_into_place(&self, temp: &Path, key: &str) -> Result<()> {
        let dir = self.link_unsynced(temp, key)?;
        sync_dir(&dir)
    }

    /// Links a temporary file into place as `key`, create-only; returns the directory,
    /// which is not synced.
    fn link_unsynced(&self, temp: &Path, key: &str) -> Result<PathBuf> {
        let target = self.path(key);
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| Error::storage(&dir, e))?;
        // `hard_link` fails if the target exists, which makes the publish step create-only.
        fs::hard_link(temp, &target).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                Error::AlreadyExists {
                    what: "file",
                    name: key.to_owned(),
                }
            } else {
                Error::storage(&target, e)
            }
        })?;
        Ok(dir)
    }
}

/// A repository file kept open: each range read is one `pread`.
#[derive(Debug)]
struct LocalOpenFile {
    file: File,
    size: u64,
    key: String,
}

impl OpenFile for LocalOpenFile {
    fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>> {
        use std::os::unix::fs::FileExt as _;
        if offset.checked_add(len).is_none_or(|end| end > self.size) {
            return Err(Error::integrity(
                &self.key,
                format!(
                    "range {offset}+{len} beyond end of file ({} bytes)",
                    self.size
                ),
            ));
        }
        let len = usize::try_from(len)
            .map_err(|_| Error::integrity(&self.key, "range too large for this platform"))?;
        let mut buf = vec![0; len];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| Error::storage(&self.key, e))?;
        Ok(buf)
    }

    fn size(&self) -> u64 {
        self.size
    }
}

/// How much of a staged file is buffered before it goes to the kernel.
const STAGED_BUFFER: usize = 1024 * 1024;

/// A file being written into `tmp/`; published by linking it into place, as `write_new` does.
struct LocalStaged<'b> {
    backend: &'b LocalBackend,
    /// `None` once published.
    file: Option<io::BufWriter<File>>,
    temp: PathBuf,
}

impl Write for LocalStaged<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(file) => file.write(buf),
            None => Err(io::Error::other("staged file already published")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl StagedFile for LocalStaged<'_> {
    fn publish(mut self: Box<Self>, key: &str) -> Result<()> {
        check_key(key)?;
        let Some(file) = self.file.take() else {
            return Err(Error::storage(
                &self.temp,
                io::Error::other("staged file already published"),
            ));
        };
        let file = file
            .into_inner()
            .map_err(|e| Error::storage(&self.temp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::storage(&self.temp, e))?;
        drop(file);
        self.backend.link_into_place(&self.temp, key)
        // Dropping `self` removes the temporary name; the published link stays.
    }
}

impl Drop for LocalStaged<'_> {
    fn drop(&mut self) {
        drop(self.file.take());
        let _ = fs::remove_file(&self.temp);
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| {
        if e.kind() == io::ErrorKind::NotFound {
            Error::not_found("file", path.display().to_string())
        } else {
            Error::storage(path, e)
        }
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::storage(dir, e))
}

impl Backend for LocalBackend {
    fn read(&self, key: &str) -> Result<Vec<u8>> {
        check_key(key)?;
        let path = self.path(key);
        fs::read(&path).map_err(io_err(&path))
    }

    fn read_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        check_key(key)?;
        let path = self.path(key);
        let mut file = File::open(&path).map_err(io_err(&path))?;
        let size = file.metadata().map_err(io_err(&path))?.len();
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(Error::integrity(
                key,
                format!("range {offset}+{len} beyond end of file ({size} bytes)"),
            ));
        }
        let len = usize::try_from(len)
            .map_err(|_| Error::integrity(key, "range too large for this platform"))?;
        let mut buf = vec![0; len];
        file.seek(SeekFrom::Start(offset)).map_err(io_err(&path))?;
        file.read_exact(&mut buf).map_err(io_err(&path))?;
        Ok(buf)
    }

    fn write_new(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.write_file(key, bytes, true)
    }

    fn write_new_unsynced(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.write_file(key, bytes, false)
    }

    /// One `syncfs(2)` of the file system holding the repository: every file and directory
    /// entry written before it is durable after it.
    fn sync(&self) -> Result<()> {
        let root = File::open(&self.root).map_err(|e| Error::storage(&self.root, e))?;
        rustix::fs::syncfs(&root).map_err(|e| Error::storage(&self.root, e.into()))
    }

    fn keep_open(&self, key: &str) -> Result<Option<Box<dyn OpenFile>>> {
        check_key(key)?;
        let path = self.path(key);
        let file = File::open(&path).map_err(io_err(&path))?;
        let size = file.metadata().map_err(io_err(&path))?.len();
        Ok(Some(Box::new(LocalOpenFile {
            file,
            size,
            key: key.to_owned(),
        })))
    }

    fn stage_new(&self) -> Result<Box<dyn StagedFile + '_>> {
        let temp = self.new_temp()?;
        let file = File::create_new(&temp).map_err(|e| Error::storage(&temp, e))?;
        Ok(Box::new(LocalStaged {
            backend: self,
            file: Some(io::BufWriter::with_capacity(STAGED_BUFFER, file)),
            temp,
        }))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        check_prefix(prefix)?;
        let mut keys = Vec::new();
        let start = self.root.join(prefix);
        if !start.is_dir() {
            return Ok(keys);
        }
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).map_err(|e| Error::storage(&dir, e))? {
                let entry = entry.map_err(|e| Error::storage(&dir, e))?;
                let kind = entry
                    .file_type()
                    .map_err(|e| Error::storage(entry.path(), e))?;
                let path = entry.path();
                if kind.is_dir() {
                    stack.push(path);
                } else if kind.is_file() {
                    let key = path
                        .strip_prefix(&self.root)
                        .ok()
                        .and_then(Path::to_str)
                        .map(|k| k.replace(std::path::MAIN_SEPARATOR, "/"));
                    // Names that are not valid keys (stray editor files, non-UTF-8) are not
                    // repository files; they are skipped rather than failing the listing.
                    if let Some(key) = key.filter(|k| check_key(k).is_ok()) {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn size(&self, key: &str) -> Result<u64> {
        check_key(key)?;
        let path = self.path(key);
        fs::metadata(&path).map(|m| m.len()).map_err(io_err(&path))
    }

    fn modified(&self, key: &str) -> Result<Option<std::time::SystemTime>> {
        check_key(key)?;
        let path = self.path(key);
        let meta = fs::metadata(&path).map_err(io_err(&path))?;
        Ok(meta.modified().ok())
    }

    fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        let path = self.path(key);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::storage(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    crate::backend_conformance_tests!({
        let dir = tempfile::tempdir().unwrap();
        let backend = super::LocalBackend::new(dir.path()).unwrap();
        // Keep the directory alive for the whole test by leaking the guard.
        std::mem::forget(dir);
        backend
    });
}
