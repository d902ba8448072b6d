//! Repository locks, so that garbage collection never runs while a snapshot writes.
//!
//! A lock is a file `locks/<kind>-<random>.json` naming its process. Snapshots take shared
//! locks (any number at once); a garbage collection takes an exclusive one. Whoever creates
//! a lock then lists the others: on a conflict it removes its own and reports `Busy`, so two
//! racing processes may both back off but never both proceed. A lock whose process is gone
//! (same host, no such pid) or that is older than [`STALE_AFTER_SECS`] is stale and removed
//! by whoever finds it: a crashed process never blocks the repository for good.
//!
//! Locks coordinate real processes, so they are dated by the system clock, not by the clock
//! a snapshot is told to use (a snapshot taken "as of" last week is still running now).

use std::hash::{BuildHasher, Hasher};

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};

/// A lock older than this (seconds) is stale whoever holds it: no snapshot or gc runs a day.
pub(crate) const STALE_AFTER_SECS: i64 = 24 * 3600;

/// What a lock protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LockKind {
    /// A snapshot is writing: shared.
    Snapshot,
    /// A garbage collection is deleting: exclusive.
    Gc,
}

#[derive(Debug, Serialize, Deserialize)]
struct LockFile {
    kind: LockKind,
    host: String,
    pid: u32,
    /// When it was taken, Unix seconds (from the caller's clock).
    taken: i64,
}

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub(crate) struct LockGuard<'a> {
    backend: &'a dyn Backend,
    key: String,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // A lock that cannot be removed goes stale and is removed by the next process.
        let _ = self.backend.delete(&self.key);
    }
}

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether the process that took `lock` is certainly gone.
fn is_stale(lock: &LockFile, host: &str, now: i64) -> bool {
    if now - lock.taken > STALE_AFTER_SECS {
        return true;
    }
    lock.host == host
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new("/proc")
            .join(lock.pid.to_string())
            .exists()
}

/// Takes a lock of `kind`, or fails with [`ErrorKind::Busy`] if a conflicting one is held.
pub(crate) fn acquire(backend: &dyn Backend, kind: LockKind) -> Result<LockGuard<'_>> {
    let now = system_now();
    let host = this_host();
    let mut random = std::collections::hash_map::RandomState::new().build_hasher();
    random.write_u32(std::process::id());
    let name = match kind {
        LockKind::Snapshot => "snapshot",
        LockKind::Gc => "gc",
    };
    let key = format!("locks/{name}-{:016x}.json", random.finish());
    let file = LockFile {
        kind,
        host: host.clone(),
        pid: std::process::id(),
        taken: now,
    };
    let data = serde_json::to_vec(&file).map_err(|e| Error::invalid("lock", e.to_string()))?;
    backend.write_new(&key, &data)?;
    let guard = LockGuard { backend, key };
    for other in backend.list("locks/")? {
        if other == guard.key {
            continue;
        }
        let held: LockFile = match backend.read(&other) {
            Ok(data) => match serde_json::from_slice(&data) {
                Ok(held) => held,
                // A lock file being written right now, or garbage: treat it as held.
                Err(_) => LockFile {
                    kind: LockKind::Gc,
                    host: String::new(),
                    pid: 0,
                    taken: now,
                },
            },
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if is_stale(&held, &host, now) {
            backend.delete(&other)?;
            continue;
        }
        if kind == LockKind::Gc || held.kind == LockKind::Gc {
            return Err(Error::Busy {
                reason: format!("{other} is held by process {} on {:?}", held.pid, held.host),
            });
        }
    }
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    fn now() -> i64 {
        system_now()
    }

    #[test]
    fn snapshots_share_and_gc_excludes() {
        let b = MemoryBackend::new();
        let s1 = acquire(&b, LockKind::Snapshot).unwrap();
        let s2 = acquire(&b, LockKind::Snapshot).unwrap();
        assert_eq!(
            acquire(&b, LockKind::Gc).unwrap_err().kind(),
            ErrorKind::Busy
        );
        drop((s1, s2));
        let gc = acquire(&b, LockKind::Gc).unwrap();
        assert_eq!(
            acquire(&b, LockKind::Snapshot).unwrap_err().kind(),
            ErrorKind::Busy
        );
        assert_eq!(
            acquire(&b, LockKind::Gc).unwrap_err().kind(),
            ErrorKind::Busy
        );
        drop(gc);
        assert!(
            b.list("locks/").unwrap().is_empty(),
            "refused and released locks are removed"
        );
    }

    #[test]
    fn locks_of_dead_processes_and_old_locks_are_recovered() {
        let b = MemoryBackend::new();
        let dead = LockFile {
            kind: LockKind::Gc,
            host: this_host(),
            pid: u32::MAX - 7,
            taken: now(),
        };
        b.write_new("locks/gc-dead.json", &serde_json::to_vec(&dead).unwrap())
            .unwrap();
        let old = LockFile {
            kind: LockKind::Gc,
            host: "elsewhere".into(),
            pid: 1,
            taken: now() - STALE_AFTER_SECS - 1,
        };
        b.write_new("locks/gc-old.json", &serde_json::to_vec(&old).unwrap())
            .unwrap();
        let live = acquire(&b, LockKind::Snapshot).unwrap();
        assert_eq!(b.list("locks/").unwrap(), std::slice::from_ref(&live.key));
        // A live lock of another host is respected until it is old.
        let other = LockFile {
            kind: LockKind::Snapshot,
            host: "elsewhere".into(),
            pid: 1,
            taken: now(),
        };
        b.write_new(
            "locks/snapshot-other.json",
            &serde_json::to_vec(&other).unwrap(),
        )
        .unwrap();
        drop(live);
        assert_eq!(
            acquire(&b, LockKind::Gc).unwrap_err().kind(),
            ErrorKind::Busy
        );
    }
}
