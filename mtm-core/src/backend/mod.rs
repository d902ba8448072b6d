//! Where repository files live: a small trait with a local-directory and an in-memory
//! implementation, both checked by one conformance suite.
//!
//! Keys are relative `/`-separated paths such as `packs/ab/ab12…`. Every write is atomic and
//! create-only: a file is either absent or complete, and nothing is modified in place.

mod faulty;
mod local;
mod memory;
mod read_only;

#[cfg(test)]
pub(crate) mod conformance;

pub use faulty::FaultInjectingBackend;
pub use local::LocalBackend;
pub use memory::MemoryBackend;
pub(crate) use read_only::ReadOnlyBackend;

use std::fmt::Debug;

use crate::error::{Error, Result};

/// Storage for repository files. Implementations must be safe to share between threads.
pub trait Backend: Send + Sync + Debug {
    /// Reads a whole file. [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if absent.
    fn read(&self, key: &str) -> Result<Vec<u8>>;

    /// Reads `len` bytes at `offset`. Fails if the file is shorter.
    fn read_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>>;

    /// Writes a new file atomically (all or nothing, durable when this returns).
    /// [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists) if the key exists: files
    /// are never overwritten.
    fn write_new(&self, key: &str, bytes: &[u8]) -> Result<()>;

    /// Writes a new file atomically and create-only, like [`write_new`](Self::write_new),
    /// but it need not be durable before the next [`sync`](Self::sync): what a group commit
    /// writes (a run over many accounts makes its packs and index files durable together,
    /// then its records together), so that a run costs a bounded number of flushes, not
    /// several per account. The default is `write_new`, durable at once.
    fn write_new_unsynced(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.write_new(key, bytes)
    }

    /// Makes every file written so far durable (see
    /// [`write_new_unsynced`](Self::write_new_unsynced)). The default does nothing: every
    /// write of the default is durable already.
    fn sync(&self) -> Result<()> {
        Ok(())
    }

    /// Every key below the directory `prefix` (such as `"index/"`), at any depth, sorted.
    /// An absent directory gives an empty list.
    fn list(&self, prefix: &str) -> Result<Vec<String>>;

    /// The length of a file in bytes.
    fn size(&self, key: &str) -> Result<u64>;

    /// Removes a file. Removing an absent file is not an error.
    fn delete(&self, key: &str) -> Result<()>;

    /// When a file was written, by the storage's own clock (a local file's modification
    /// time), or `None` if this backend cannot tell (the default). Locks use it to age lock
    /// files whose content cannot be read.
    fn modified(&self, key: &str) -> Result<Option<std::time::SystemTime>> {
        check_key(key)?;
        Ok(None)
    }

    /// Opens `key` for many small range reads (an index file probed blob by blob), so that
    /// each read costs one call instead of an open, a read and a close. `None` (the
    /// default): this backend has nothing cheaper than [`read_range`](Self::read_range).
    /// Files never change under their name, so an open file stays right; one deleted
    /// meanwhile still reads as it was.
    fn keep_open(&self, key: &str) -> Result<Option<Box<dyn OpenFile>>> {
        check_key(key)?;
        Ok(None)
    }

    /// Starts a new file written piece by piece, whose key is given only once every byte is
    /// written (a pack is named by the hash of its content): nothing is visible until
    /// [`StagedFile::publish`], which keeps the promises of
    /// [`write_new`](Self::write_new); a staged file dropped unpublished leaves nothing.
    ///
    /// The default keeps the bytes in memory and publishes them with `write_new`. A backend
    /// that can stream to its storage overrides it, so that a file of hundreds of megabytes
    /// (the pack of a huge message) is never held in memory whole.
    fn stage_new(&self) -> Result<Box<dyn StagedFile + '_>> {
        Ok(Box::new(InMemoryStaged {
            backend: self,
            bytes: Vec::new(),
        }))
    }
}

/// A file kept open for range reads ([`Backend::keep_open`]).
pub trait OpenFile: Send + Sync + Debug {
    /// Reads `len` bytes at `offset`; an integrity error if the file is shorter, as
    /// [`Backend::read_range`].
    fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>>;

    /// The file's length in bytes.
    fn size(&self) -> u64;
}

/// A file being written by [`Backend::stage_new`], not yet visible under any key.
pub trait StagedFile: std::io::Write + Send {
    /// Makes the bytes written so far the file `key`: atomically, durably, create-only
    /// ([`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists) if `key` exists), as
    /// [`Backend::write_new`] does.
    fn publish(self: Box<Self>, key: &str) -> Result<()>;
}

/// [`Backend::stage_new`]'s default: the bytes wait in memory for `write_new`.
struct InMemoryStaged<'b, B: ?Sized> {
    backend: &'b B,
    bytes: Vec<u8>,
}

impl<B: ?Sized> std::io::Write for InMemoryStaged<'_, B> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<B: Backend + ?Sized> StagedFile for InMemoryStaged<'_, B> {
    fn publish(self: Box<Self>, key: &str) -> Result<()> {
        self.backend.write_new(key, &self.bytes)
    }
}

/// Checks that a key is a relative path of plain components; the backends call this before
/// touching anything, so no key can escape the repository.
pub(crate) fn check_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 1024
        && key.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && !part.contains(['\0', '\\'])
                && !part.chars().any(char::is_control)
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("storage key", format!("{key:?}")))
    }
}

/// Checks a list prefix: empty, or a key followed by `/`.
pub(crate) fn check_prefix(prefix: &str) -> Result<()> {
    match prefix.strip_suffix('/') {
        Some(dir) => check_key(dir),
        None if prefix.is_empty() => Ok(()),
        None => Err(Error::invalid(
            "storage prefix",
            format!("{prefix:?} must end in '/'"),
        )),
    }
}
