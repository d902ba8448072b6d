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
//!
//! A lock file that cannot be read (empty, truncated, not a lock, dated further in the
//! future than any clock skew: a damaged disk, a hand edit) names no process to ask. Writes are create-only and atomic, so no live process's
//! lock ever reads that way; it is still honoured for [`UNREADABLE_GRACE_SECS`] after the
//! storage last wrote it (its modification time, compared with this host's system clock:
//! the grace absorbs skew between the two, and the injected clock of a snapshot "as of"
//! another day has nothing to do with when a file was written), then it is stale like any
//! other. Meanwhile it counts as the kind its name says (`snapshot-…` is shared, anything
//! else exclusive), and the refusal names the file and when it is safe to delete it. On a
//! backend that cannot date its files an unreadable lock is stale at once.

use std::hash::{BuildHasher, Hasher};

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};

/// A lock older than this (seconds) is stale whoever holds it: no snapshot or gc runs a day.
pub(crate) const STALE_AFTER_SECS: i64 = 24 * 3600;

/// A lock file that cannot be read is stale this long (seconds) after it was last written.
pub(crate) const UNREADABLE_GRACE_SECS: i64 = 3600;

/// No lock file is longer than this (bytes): a longer file under `locks/` is not read (a
/// lock file of gigabytes would otherwise cost every snapshot and gc that much memory) and
/// counts as unreadable.
pub(crate) const MAX_LOCK_BYTES: u64 = 64 * 1024;

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
    /// When it was taken, Unix seconds (from the system clock).
    taken: i64,
}

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub(crate) struct LockGuard<'a> {
    backend: &'a dyn Backend,
    key: String,
    taken: std::time::Instant,
}

impl LockGuard<'_> {
    /// How long it has been held. A holder that runs for hours takes a fresh lock before
    /// this nears the age at which others call it stale.
    pub(crate) fn age(&self) -> std::time::Duration {
        self.taken.elapsed()
    }
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
    let guard = LockGuard {
        backend,
        key,
        taken: std::time::Instant::now(),
    };
    for other in backend.list("locks/")? {
        if other == guard.key {
            continue;
        }
        let size = match backend.size(&other) {
            Ok(size) => size,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let data = if size > MAX_LOCK_BYTES {
            None
        } else {
            match backend.read(&other) {
                Ok(data) => Some(data),
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        };
        // A lock dated further ahead than any clock skew tells no believable time either.
        let held = match data.as_deref().map(serde_json::from_slice::<LockFile>) {
            None => Err(format!(
                "{size} bytes, longer than any lock file ({MAX_LOCK_BYTES} bytes at most)"
            )),
            Some(Ok(held)) if held.taken <= now.saturating_add(UNREADABLE_GRACE_SECS) => {
                Ok(Held::Lock(held))
            }
            Some(Ok(held)) => Err(format!(
                "taken at {} (Unix time), in the future",
                held.taken
            )),
            Some(Err(why)) => Err(why.to_string()),
        };
        let held = match held {
            Ok(held) => held,
            Err(why) => match backend.modified(&other) {
                Ok(written) => Held::Unreadable {
                    why,
                    written: written.map(unix_seconds),
                },
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            },
        };
        let (held_kind, stale) = match &held {
            Held::Lock(lock) => (lock.kind, is_stale(lock, &host, now)),
            Held::Unreadable { written, .. } => {
                (kind_by_name(&other), unreadable_is_stale(*written, now))
            }
        };
        if stale {
            backend.delete(&other)?;
            continue;
        }
        if kind == LockKind::Gc || held_kind == LockKind::Gc {
            return Err(Error::Busy {
                reason: held.describe(&other),
            });
        }
    }
    Ok(guard)
}

fn unix_seconds(time: std::time::SystemTime) -> i64 {
    match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The kind a lock file's name claims (`locks/snapshot-…` shared, anything else exclusive),
/// for a lock whose content cannot be read.
fn kind_by_name(key: &str) -> LockKind {
    let name = key.rsplit('/').next().unwrap_or(key);
    if name.starts_with("snapshot-") {
        LockKind::Snapshot
    } else {
        LockKind::Gc
    }
}

/// What a lock file holds: a lock, or content that is none.
enum Held {
    Lock(LockFile),
    Unreadable {
        why: String,
        /// When the storage last wrote the file, Unix seconds, if it can tell.
        written: Option<i64>,
    },
}

impl Held {
    /// Who holds the lock file `key`, and how the lock goes away: for a refusal.
    fn describe(&self, key: &str) -> String {
        match self {
            Held::Lock(held) => format!(
                "{key} is held by process {} on {:?} since {} (Unix time); it is stale once \
                 that process is gone (on this host) or {} hours after it was taken, and \
                 deleting the file is safe once that process is gone",
                held.pid,
                held.host,
                held.taken,
                STALE_AFTER_SECS / 3600
            ),
            Held::Unreadable { why, written } => {
                let until = written.map_or_else(String::new, |w| {
                    format!(
                        " until {} (Unix time)",
                        w.saturating_add(UNREADABLE_GRACE_SECS)
                    )
                });
                format!(
                    "the lock file {key} cannot be read ({why}); it counts as held{until}, {} \
                     minutes after it was last written, and is then removed as stale. If no mtm \
                     snapshot or gc is running on this repository from any host, it is safe to \
                     delete that file now",
                    UNREADABLE_GRACE_SECS / 60
                )
            }
        }
    }
}

/// Whether an unreadable lock file that the storage last wrote at `written` (Unix seconds;
/// `None` if the backend cannot tell) is stale at `now`.
fn unreadable_is_stale(written: Option<i64>, now: i64) -> bool {
    written.is_none_or(|written| now.saturating_sub(written) > UNREADABLE_GRACE_SECS)
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
    fn an_unreadable_lock_is_honoured_for_its_grace_period_then_stale() {
        let now = 1_800_000_000;
        let cases = [
            // (last written, stale?)
            (Some(now), false),
            (Some(now - UNREADABLE_GRACE_SECS), false),
            (Some(now - UNREADABLE_GRACE_SECS - 1), true),
            (Some(now + 600), false), // the storage's clock runs ahead of ours
            (Some(i64::MIN), true),
            (None, true), // a backend that cannot date its files gives no grace
        ];
        for (written, stale) in cases {
            assert_eq!(unreadable_is_stale(written, now), stale, "{written:?}");
        }
        assert_eq!(kind_by_name("locks/snapshot-00ff.json"), LockKind::Snapshot);
        assert_eq!(kind_by_name("locks/gc-00ff.json"), LockKind::Gc);
        assert_eq!(kind_by_name("locks/whatever"), LockKind::Gc);
    }

    #[test]
    fn a_garbage_lock_on_a_backend_without_dates_does_not_block() {
        let b = MemoryBackend::new();
        b.write_new("locks/gc-garbage.json", b"").unwrap();
        let future = LockFile {
            kind: LockKind::Gc,
            host: "elsewhere".into(),
            pid: 1,
            taken: i64::MAX,
        };
        b.write_new(
            "locks/gc-future.json",
            &serde_json::to_vec(&future).unwrap(),
        )
        .unwrap();
        let gc = acquire(&b, LockKind::Gc).unwrap();
        assert_eq!(b.list("locks/").unwrap(), std::slice::from_ref(&gc.key));
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
