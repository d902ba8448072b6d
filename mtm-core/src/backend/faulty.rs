use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Backend;
use crate::error::{Error, Result};

/// A backend for crash tests: it passes everything to an inner backend, but the Nth
/// mutating operation (a write or a delete, counted from 1) and every one after it fail, as
/// if the process had died there. Reads keep working (unless asked otherwise, below), so a
/// test can then reopen the same inner storage with a healthy backend and check what the
/// "crash" left.
///
/// ```
/// use std::sync::Arc;
/// use mtm_core::{Backend, FaultInjectingBackend, MemoryBackend};
/// let storage = Arc::new(MemoryBackend::new());
/// let faulty = FaultInjectingBackend::new(storage.clone(), 2);
/// faulty.write_new("a", b"1").unwrap();
/// assert!(faulty.write_new("b", b"2").is_err());
/// assert!(storage.read("b").is_err());
/// ```
///
/// Reads can be made to fail too, from the Nth (reads and range reads counted together,
/// from 1): a repository reader (a restore) then dies half way.
/// [`fail_reads_from`](Self::fail_reads_from) may be called at any time; by default reads
/// never fail.
///
/// ```
/// use std::sync::Arc;
/// use mtm_core::{Backend, FaultInjectingBackend, MemoryBackend};
/// let storage = Arc::new(MemoryBackend::new());
/// storage.write_new("a", b"1").unwrap();
/// let faulty = FaultInjectingBackend::new(storage, 0);
/// assert!(faulty.read("a").is_ok());
/// faulty.fail_reads_from(faulty.reads() + 2);
/// assert!(faulty.read("a").is_ok());
/// assert!(faulty.read("a").is_err());
/// assert_eq!(faulty.reads(), 3);
/// ```
#[derive(Debug)]
pub struct FaultInjectingBackend {
    inner: Arc<dyn Backend>,
    fail_from: u64,
    operations: AtomicU64,
    fail_reads_from: AtomicU64,
    reads: AtomicU64,
}

impl FaultInjectingBackend {
    /// Fails mutating operation number `fail_from` (from 1) and all later ones; 0 never fails.
    pub fn new(inner: Arc<dyn Backend>, fail_from: u64) -> Self {
        Self {
            inner,
            fail_from,
            operations: AtomicU64::new(0),
            fail_reads_from: AtomicU64::new(0),
            reads: AtomicU64::new(0),
        }
    }

    /// Makes read number `n` (from 1, counted since creation) and every later one fail;
    /// 0 makes reads work again.
    pub fn fail_reads_from(&self, n: u64) {
        self.fail_reads_from.store(n, Ordering::SeqCst);
    }

    /// How many reads (whole or ranged) were attempted so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }

    fn attempt_read(&self, key: &str) -> Result<()> {
        let n = self.reads.fetch_add(1, Ordering::SeqCst) + 1;
        let from = self.fail_reads_from.load(Ordering::SeqCst);
        if from != 0 && n >= from {
            return Err(Error::storage(
                key,
                std::io::Error::other(format!("injected failure at read {n}")),
            ));
        }
        Ok(())
    }

    /// How many mutating operations were attempted so far.
    pub fn operations(&self) -> u64 {
        self.operations.load(Ordering::SeqCst)
    }

    fn attempt(&self, key: &str) -> Result<()> {
        let n = self.operations.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_from != 0 && n >= self.fail_from {
            return Err(Error::storage(
                key,
                std::io::Error::other(format!("injected failure at operation {n}")),
            ));
        }
        Ok(())
    }
}

impl Backend for FaultInjectingBackend {
    fn read(&self, key: &str) -> Result<Vec<u8>> {
        self.attempt_read(key)?;
        self.inner.read(key)
    }

    fn read_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.attempt_read(key)?;
        self.inner.read_range(key, offset, len)
    }

    fn write_new(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.attempt(key)?;
        self.inner.write_new(key, bytes)
    }

    fn write_new_unsynced(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.attempt(key)?;
        self.inner.write_new_unsynced(key, bytes)
    }

    fn sync(&self) -> Result<()> {
        self.attempt("(sync)")?;
        self.inner.sync()
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.list(prefix)
    }

    fn size(&self, key: &str) -> Result<u64> {
        self.inner.size(key)
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.attempt(key)?;
        self.inner.delete(key)
    }

    fn modified(&self, key: &str) -> Result<Option<std::time::SystemTime>> {
        self.inner.modified(key)
    }
}
