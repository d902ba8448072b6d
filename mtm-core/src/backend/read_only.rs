//! A repository of an older format, opened by this version: read, never written.

use std::sync::Arc;

use super::{Backend, OpenFile, StagedFile};
use crate::error::{Error, Result};

/// Passes reads through and refuses every write and deletion with
/// [`Error::UpgradeNeeded`]: a repository whose format this version reads but does not write
/// (its index files may be ones an older version could not read back) is read-only until
/// `mtm upgrade` ([`Repository::upgrade`](crate::Repository::upgrade)) converts it.
#[derive(Debug)]
pub(crate) struct ReadOnlyBackend {
    inner: Arc<dyn Backend>,
    found: u32,
    current: u32,
}

impl ReadOnlyBackend {
    pub(crate) fn new(inner: Arc<dyn Backend>, found: u32, current: u32) -> Self {
        Self {
            inner,
            found,
            current,
        }
    }

    fn refuse(&self) -> Error {
        Error::UpgradeNeeded {
            found: self.found,
            current: self.current,
        }
    }
}

impl Backend for ReadOnlyBackend {
    fn read(&self, key: &str) -> Result<Vec<u8>> {
        self.inner.read(key)
    }

    fn read_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.inner.read_range(key, offset, len)
    }

    fn write_new(&self, _key: &str, _bytes: &[u8]) -> Result<()> {
        Err(self.refuse())
    }

    fn write_new_unsynced(&self, _key: &str, _bytes: &[u8]) -> Result<()> {
        Err(self.refuse())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.list(prefix)
    }

    fn size(&self, key: &str) -> Result<u64> {
        self.inner.size(key)
    }

    fn delete(&self, _key: &str) -> Result<()> {
        Err(self.refuse())
    }

    fn modified(&self, key: &str) -> Result<Option<std::time::SystemTime>> {
        self.inner.modified(key)
    }

    fn keep_open(&self, key: &str) -> Result<Option<Box<dyn OpenFile>>> {
        self.inner.keep_open(key)
    }

    fn stage_new(&self) -> Result<Box<dyn StagedFile + '_>> {
        Err(self.refuse())
    }
}
