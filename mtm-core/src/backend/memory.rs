use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use super::{Backend, check_key, check_prefix};
use crate::error::{Error, Result};

/// A backend that keeps files in memory: for tests and short-lived tools.
///
/// ```
/// use mtm_core::{Backend, MemoryBackend};
/// let b = MemoryBackend::new();
/// b.write_new("a/b", b"x").unwrap();
/// assert_eq!(b.read("a/b").unwrap(), b"x");
/// ```
#[derive(Debug, Default)]
pub struct MemoryBackend {
    files: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryBackend {
    /// An empty in-memory store.
    pub fn new() -> Self {
        Self::default()
    }

    fn files(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        // A panic while holding the lock cannot leave a half-written file behind (each
        // operation is one map call), so a poisoned lock is safe to keep using.
        self.files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Backend for MemoryBackend {
    fn read(&self, key: &str) -> Result<Vec<u8>> {
        check_key(key)?;
        self.files()
            .get(key)
            .cloned()
            .ok_or_else(|| Error::not_found("file", key))
    }

    fn read_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        check_key(key)?;
        let files = self.files();
        let data = files
            .get(key)
            .ok_or_else(|| Error::not_found("file", key))?;
        let start = usize::try_from(offset).ok();
        let end = start
            .zip(usize::try_from(len).ok())
            .and_then(|(s, l)| s.checked_add(l));
        match (start, end) {
            (Some(start), Some(end)) if end <= data.len() => Ok(data[start..end].to_vec()),
            _ => Err(Error::integrity(
                key,
                format!("range {offset}+{len} beyond end of file"),
            )),
        }
    }

    fn write_new(&self, key: &str, bytes: &[u8]) -> Result<()> {
        check_key(key)?;
        let mut files = self.files();
        if files.contains_key(key) {
            return Err(Error::AlreadyExists {
                what: "file",
                name: key.to_owned(),
            });
        }
        files.insert(key.to_owned(), bytes.to_vec());
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        check_prefix(prefix)?;
        Ok(self
            .files()
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
    }

    fn size(&self, key: &str) -> Result<u64> {
        check_key(key)?;
        self.files()
            .get(key)
            .map(|d| d.len() as u64)
            .ok_or_else(|| Error::not_found("file", key))
    }

    fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        self.files().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    crate::backend_conformance_tests!(super::MemoryBackend::new());
}
