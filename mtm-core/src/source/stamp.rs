//! Folder stamps: how a folder's directories stood when a scan listed it, so that the next
//! scan can tell that the folder has not changed without listing it.
//!
//! A Maildir folder changes by names only. A delivery adds a file to `new/`, a flag change
//! or a move renames one in `cur/`, an expunge removes one, and each of these sets the mtime
//! and ctime of the directory it happens in. A message's content never changes under the
//! same unique name (the scan already trusts that: a known file whose name carries its size
//! is not stat'ed again). So if `cur/`, `new/`, the folder's own directory and its
//! `dovecot-keywords` have the same inode numbers, mtimes and ctimes as when the previous
//! snapshot listed them, the folder holds exactly what that snapshot recorded.
//!
//! A mail user cannot forge an old stamp: they can set a directory's mtime back, but not its
//! ctime, which the kernel sets to the present on every change (`utimensat` included).
//!
//! A timestamp has a granularity: the kernel's clock tick on a local file system, more on
//! some network ones. A change made in the same tick as the one before it, just after the
//! scan listed the directory, would leave its stamp the same. So a stamp any of whose times
//! is less than [`RACY_MARGIN`] before the moment the scan looked at the folder is not kept
//! (git's "racy" entries): that folder is listed again at the next scan, and stamped then.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::beneath::{Dir, Kind, Meta};
use super::keywords;

/// How old every time of a stamp must be, when the scan looks at a folder, for the stamp to
/// be trusted by the next scan. Far above the tick of local file systems (at most 10 ms). On
/// a network file system the times are the server's: its clock must not run behind this
/// machine's by more than this (keep both on NTP).
pub(crate) const RACY_MARGIN: Duration = Duration::from_secs(2);

/// What a folder's directories looked like when a scan listed it, reduced to a 64-bit hash
/// (only equality matters): stored with the folder in the snapshot record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct FolderStamp(#[serde(with = "hex_u64")] u64);

/// A folder's stamp as observed, before the racy check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Observed {
    stamp: FolderStamp,
    /// The latest mtime or ctime among the observed entries, nanoseconds since 1970.
    newest: i128,
    /// The moment just before they were stat'ed.
    looked_at: SystemTime,
    /// Whether `cur/` or `new/` is a directory (a symlink there does not count).
    is_maildir: bool,
}

impl Observed {
    /// Stats the folder directory `dir`, its `cur/` and `new/` and its keywords file (none
    /// followed if it is a symlink). `None` if one of them cannot be stat'ed (other than by
    /// being missing).
    pub(crate) fn of(dir: &Dir) -> Option<Observed> {
        // File system times are compared with the system's clock, not the snapshot's
        // (injected) one: the racy check is about the file system's own timestamps.
        let looked_at = SystemTime::now();
        let own = dir.fstat().ok()?;
        let mut is_maildir = false;
        let mut hasher = blake3::Hasher::new();
        let mut newest = i128::MIN;
        let mut add = |tag: u8, meta: Option<Meta>| {
            hasher.update(&[tag]);
            if let Some(meta) = meta {
                hasher.update(&[kind_tag(meta.kind)]);
                hasher.update(&meta.ino.to_le_bytes());
                hasher.update(&meta.size.to_le_bytes());
                for part in meta.change {
                    hasher.update(&part.to_le_bytes());
                }
                let [m_s, m_ns, c_s, c_ns] = meta.change.map(i128::from);
                newest = newest.max(m_s * 1_000_000_000 + m_ns);
                newest = newest.max(c_s * 1_000_000_000 + c_ns);
            }
        };
        add(b'd', Some(own));
        for (tag, name) in [(b'c', "cur"), (b'n', "new"), (b'k', keywords::FILE_NAME)] {
            // Missing is a state of its own; a stat that fails otherwise makes no stamp.
            match dir.stat(name) {
                Ok(meta) => {
                    is_maildir |= tag != b'k' && meta.kind == Kind::Dir;
                    add(tag, Some(meta));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => add(tag, None),
                Err(_) => return None,
            }
        }
        let digest = hasher.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest.as_bytes()[..8]);
        Some(Observed {
            stamp: FolderStamp(u64::from_le_bytes(first)),
            newest,
            looked_at,
            is_maildir,
        })
    }

    /// Whether the folder's `cur/` or `new/` is a directory.
    pub(crate) fn is_maildir(&self) -> bool {
        self.is_maildir
    }

    /// The stamp, to compare with a stored one (a stored stamp passed the racy check when it
    /// was kept, so an equal one means an unchanged folder, whatever its age now).
    pub(crate) fn stamp(&self) -> FolderStamp {
        self.stamp
    }

    /// The stamp to store for the next scan, if it can be trusted: every time in it is at
    /// least [`RACY_MARGIN`] older than the moment just before it was observed.
    pub(crate) fn trusted(&self) -> Option<FolderStamp> {
        self.trusted_if_looked_at(self.looked_at)
    }

    fn trusted_if_looked_at(&self, looked_at: SystemTime) -> Option<FolderStamp> {
        let looked_at = match looked_at.duration_since(UNIX_EPOCH) {
            Ok(since) => since.as_nanos() as i128,
            Err(before) => -(before.duration().as_nanos() as i128),
        };
        (self.newest + racy_margin().as_nanos() as i128 <= looked_at).then_some(self.stamp)
    }
}

thread_local! {
    /// Set by tests that make every change at least a clock tick after the scan before it.
    static TRUST_RECENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// [`RACY_MARGIN`], or none on a thread of a test that trusts recent stamps.
fn racy_margin() -> Duration {
    if TRUST_RECENT.with(std::cell::Cell::get) {
        Duration::ZERO
    } else {
        RACY_MARGIN
    }
}

/// Trusts stamps however recent on this thread (see `crate::testing`).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn trust_recent_stamps_on_this_thread(trust: bool) {
    TRUST_RECENT.with(|t| t.set(trust));
}

/// A byte per kind of entry, fixed here so that stored stamps keep their meaning.
fn kind_tag(kind: Kind) -> u8 {
    match kind {
        Kind::File => 1,
        Kind::Dir => 2,
        Kind::Symlink => 3,
        Kind::Other => 4,
    }
}

/// A `u64` as 16 hex digits in JSON (a JSON number loses precision past 2^53 in many
/// readers).
mod hex_u64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{value:016x}"))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.len() != 16 {
            return Err(serde::de::Error::custom("a folder stamp is 16 hex digits"));
        }
        u64::from_str_radix(&text, 16).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observe(path: &std::path::Path) -> Observed {
        Observed::of(&Dir::open_root(path, false).unwrap()).unwrap()
    }

    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        dir
    }

    #[test]
    fn a_stamp_is_kept_only_once_it_is_older_than_the_racy_margin() {
        let dir = folder();
        let observed = observe(dir.path());
        assert_eq!(observed.trusted(), None, "made just now");
        let later = observed.looked_at + RACY_MARGIN + Duration::from_millis(1);
        assert_eq!(observed.trusted_if_looked_at(later), Some(observed.stamp()));
    }

    /// Lets the file system's clock tick, so that the next change gets a later time.
    fn tick() {
        std::thread::sleep(Duration::from_millis(10));
    }

    #[test]
    fn every_change_of_names_gives_another_stamp_and_none_can_be_set_back() {
        let dir = folder();
        let cur = dir.path().join("cur");
        let first = observe(dir.path()).stamp();
        assert_eq!(observe(dir.path()).stamp(), first, "nothing changed");
        let old_times = std::fs::metadata(&cur).unwrap();
        tick();
        std::fs::write(cur.join("1.M1.host:2,"), "x").unwrap();
        let delivered = observe(dir.path()).stamp();
        assert_ne!(delivered, first);
        // Its owner sets cur/'s mtime back: the ctime still moved.
        let mtime = filetime::FileTime::from_last_modification_time(&old_times);
        filetime::set_file_mtime(&cur, mtime).unwrap();
        assert_ne!(observe(dir.path()).stamp(), first);
        tick();
        std::fs::rename(cur.join("1.M1.host:2,"), cur.join("1.M1.host:2,S")).unwrap();
        let flagged = observe(dir.path()).stamp();
        assert_ne!(flagged, delivered);
        tick();
        std::fs::write(dir.path().join(keywords::FILE_NAME), "0 $Label1\n").unwrap();
        assert_ne!(observe(dir.path()).stamp(), flagged, "a new keywords file");
    }

    #[test]
    fn a_stamp_is_16_hex_digits_in_json() {
        let stamp = FolderStamp(0x0123_4567_89ab_cdef);
        let json = serde_json::to_string(&stamp).unwrap();
        assert_eq!(json, "\"0123456789abcdef\"");
        assert_eq!(serde_json::from_str::<FolderStamp>(&json).unwrap(), stamp);
        assert!(serde_json::from_str::<FolderStamp>("\"123\"").is_err());
    }
}
