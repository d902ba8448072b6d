//! The repository: where every snapshot lives, and the entry point of the library.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, LocalBackend};
use crate::clock::TimeZone;
use crate::error::{Error, ErrorKind, Result};
use crate::id::BlobId;
use crate::names::AccountId;
use crate::snapshot::model::{FORMAT_VERSION, SnapshotRecord, snapshot_key};
use crate::store::BlobStore;

pub(crate) const CONFIG_KEY: &str = "config";

/// The version of the `config` file this library writes: 4, sealed like the other records,
/// in a repository whose index files are sorted and carry filters (`MTMIDX03`, see
/// FORMAT.md).
pub(crate) const CONFIG_FORMAT: u32 = 4;

/// Sealed configs of the repositories written before sorted index files: read-only here
/// until [`Repository::upgrade`].
pub(crate) const SEALED_V1_INDEX_FORMAT: u32 = 2;

/// Sealed configs of the repositories whose sorted index files have no filter
/// (`MTMIDX02`): read-only here until [`Repository::upgrade`], since versions that wrote
/// them cannot read the files this one writes.
pub(crate) const SEALED_UNFILTERED_INDEX_FORMAT: u32 = 3;

/// Where an upgrade stages the new config while it replaces the old one.
pub(crate) const CONFIG_UPGRADE_KEY: &str = "config.upgrade";

/// Version 1 configs are plain JSON, without a seal; they still open (validated the same).
const UNSEALED_CONFIG_FORMAT: u32 = FORMAT_VERSION;

/// The longest retention window a repository may have: a century.
pub(crate) const MAX_RETENTION_DAYS: u32 = 36_525;

/// Choices made once, when a repository is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryOptions {
    /// The provider's IANA time zone (`Europe/Rome`): a snapshot's day is the local date when
    /// it is taken. Default `UTC`.
    pub time_zone: String,
    /// Compress header blocks with a zstd dictionary trained on the repository's first
    /// snapshot. Default on: headers are most of a small message, and a dictionary
    /// compresses them 2–3× better.
    pub header_dictionary: bool,
    /// How many days of snapshots are kept: today and the days before it (default 15, as
    /// the product promises; 1 to 36,525). `prune` removes the rest.
    pub retention_days: u32,
}

/// The retention window the product promises: today and the 14 days before it.
pub const DEFAULT_RETENTION_DAYS: u32 = 15;

impl Default for RepositoryOptions {
    fn default() -> Self {
        Self {
            time_zone: "UTC".to_owned(),
            header_dictionary: true,
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

fn default_retention() -> u32 {
    DEFAULT_RETENTION_DAYS
}

/// The `config` file of a repository. A key it does not know is refused (a misspelt
/// `retention_day` would otherwise leave the default in force without a word; a new field
/// comes with a new format number).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RepoConfig {
    pub format: u32,
    pub id: String,
    pub time_zone: String,
    pub header_dictionary: bool,
    #[serde(default = "default_retention")]
    pub retention_days: u32,
}

/// Checks the settings a repository is created with and the config it is opened with: one
/// rule for both, so that no value `init` refuses can come back through a config file.
/// Returns the time zone.
fn validate_settings(time_zone: &str, retention_days: u32) -> Result<TimeZone> {
    let zone = TimeZone::parse(time_zone)?;
    if retention_days == 0 {
        return Err(Error::invalid("retention", "keep at least one day"));
    }
    if retention_days > MAX_RETENTION_DAYS {
        return Err(Error::invalid(
            "retention",
            format!("{retention_days} days is more than {MAX_RETENTION_DAYS} (a century)"),
        ));
    }
    Ok(zone)
}

impl RepoConfig {
    /// Checks every field (as `init` checks its options) and returns the time zone; a bad
    /// value is an integrity error naming the file.
    pub(crate) fn validate(&self) -> Result<TimeZone> {
        let damaged = |reason: String| Error::integrity(CONFIG_KEY, reason);
        if self.id.len() != 16 || !self.id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(damaged(format!(
                "repository id {:?} is not 16 hex digits",
                self.id
            )));
        }
        validate_settings(&self.time_zone, self.retention_days)
            .map_err(|e| damaged(format!("config refused: {e}")))
    }

    /// Reads a config file: sealed (version 2) or plain (version 1, before configs were
    /// sealed). Damage is an integrity error naming the file.
    pub(crate) fn decode(data: &[u8]) -> Result<Self> {
        let unreadable = |e: serde_json::Error| {
            Error::integrity(CONFIG_KEY, format!("repository config unreadable: {e}"))
        };
        let value: serde_json::Value = serde_json::from_slice(data).map_err(unreadable)?;
        let sealed = value.get("blake3").is_some() || value.get("record").is_some();
        let (config, expected): (Self, u32) = if sealed {
            let config: Self = crate::sealed::unseal(data, CONFIG_KEY, "repository config")?;
            let older = [SEALED_V1_INDEX_FORMAT, SEALED_UNFILTERED_INDEX_FORMAT];
            let expected = if older.contains(&config.format) {
                config.format
            } else {
                CONFIG_FORMAT
            };
            (config, expected)
        } else {
            // The format number first: a config of another version may have other fields.
            if let Some(found) = value.get("format").and_then(serde_json::Value::as_u64)
                && found != u64::from(UNSEALED_CONFIG_FORMAT)
            {
                return Err(Error::UnsupportedFormat {
                    found: u32::try_from(found).unwrap_or(u32::MAX),
                    supported: CONFIG_FORMAT,
                });
            }
            (
                serde_json::from_value(value).map_err(unreadable)?,
                UNSEALED_CONFIG_FORMAT,
            )
        };
        if config.format != expected {
            return Err(Error::UnsupportedFormat {
                found: config.format,
                supported: CONFIG_FORMAT,
            });
        }
        Ok(config)
    }
}

/// What every handle of one open repository shares: its storage and its validated config.
///
/// Only [`Repository::open_with_backend`] builds one (`config` and `zone` are private), so
/// `zone` is always the config's validated time zone. `backend` and `store` stay
/// crate-visible: they are the read-only handles (behind an `Arc`, nothing can replace them)
/// through which every operation module (snapshot, lookup, verify, gc, repair, retention,
/// restore) reads and writes; an accessor would only rename them.
#[derive(Debug)]
pub(crate) struct RepoInner {
    pub(crate) backend: Arc<dyn Backend>,
    config: RepoConfig,
    zone: TimeZone,
    pub(crate) store: Arc<BlobStore>,
}

impl RepoInner {
    /// The provider's time zone: what day an instant falls on.
    pub(crate) fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// How many days of snapshots this repository keeps.
    pub(crate) fn retention_days(&self) -> u32 {
        self.config.retention_days
    }

    /// Whether header blocks are compressed with a trained dictionary.
    pub(crate) fn header_dictionary(&self) -> bool {
        self.config.header_dictionary
    }

    /// The days that have a snapshot of `account`, oldest first.
    pub(crate) fn days(&self, account: &AccountId) -> Result<Vec<NaiveDate>> {
        let prefix = format!("snapshots/{account}/");
        let mut days: Vec<NaiveDate> = self
            .backend
            .list(&prefix)?
            .iter()
            .filter_map(|key| key.strip_prefix(&prefix)?.strip_suffix(".json"))
            .filter_map(|day| {
                // Only a record's own name: `2026-11-5.json` parses to a day whose record
                // is `2026-11-05.json`, which is not there (verify names such a file).
                NaiveDate::parse_from_str(day, "%Y-%m-%d")
                    .ok()
                    .filter(|d| d.format("%Y-%m-%d").to_string() == day)
            })
            .collect();
        days.sort();
        Ok(days)
    }

    pub(crate) fn snapshot_record(
        &self,
        account: &AccountId,
        day: NaiveDate,
    ) -> Result<SnapshotRecord> {
        let key = snapshot_key(account, day);
        let data = self.backend.read(&key).map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::not_found("snapshot", format!("{account} on {day}")),
            _ => e,
        })?;
        let record = SnapshotRecord::decode(&data, &key)?;
        if record.account != *account || record.day != day {
            return Err(Error::integrity(
                key,
                "snapshot record names another account or day",
            ));
        }
        Ok(record)
    }
}

/// Reads and decodes the config; while an upgrade is half done (the old config deleted, the
/// new one not yet in its place) the staged new one.
pub(crate) fn read_config(backend: &dyn Backend) -> Result<RepoConfig> {
    let data = match backend.read(CONFIG_KEY) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            backend
                .read(CONFIG_UPGRADE_KEY)
                .map_err(|e| match e.kind() {
                    ErrorKind::NotFound => Error::not_found("repository", format!("{backend:?}")),
                    _ => e,
                })?
        }
        other => other?,
    };
    RepoConfig::decode(&data)
}

/// Reads a manifest or catalog (`what`) from the store and decodes it; damage is an
/// integrity error naming it.
pub(crate) fn load_blob<T: for<'de> serde::Deserialize<'de>>(
    inner: &RepoInner,
    id: &BlobId,
    what: &str,
) -> Result<T> {
    let data = inner.store.read(id, &|| format!("{what} {id}"))?;
    crate::snapshot::model::decode(&data, &format!("{what} {id}"))
}

/// 16 random hex digits, from the standard library's per-process random hash keys.
fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// A repository of snapshots. Cheap to clone; safe to share between threads.
///
/// ```
/// use mtm_core::{Repository, RepositoryOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let repo = Repository::init(dir.path().join("repo"), RepositoryOptions::default()).unwrap();
/// assert!(repo.accounts().unwrap().is_empty());
/// let again = Repository::open(dir.path().join("repo")).unwrap();
/// assert_eq!(again.time_zone(), "UTC");
/// ```
#[derive(Debug, Clone)]
pub struct Repository {
    pub(crate) inner: Arc<RepoInner>,
}

impl Repository {
    /// Creates a repository in a local directory (created if missing; it must be empty).
    pub fn init(path: impl AsRef<Path>, options: RepositoryOptions) -> Result<Self> {
        let path = path.as_ref();
        std::fs::create_dir_all(path).map_err(|e| Error::storage(path, e))?;
        let non_empty = std::fs::read_dir(path)
            .map_err(|e| Error::storage(path, e))?
            .next()
            .is_some();
        if non_empty && !path.join(CONFIG_KEY).exists() {
            return Err(Error::invalid(
                "repository path",
                format!("{} is not empty", path.display()),
            ));
        }
        Self::init_with_backend(Arc::new(LocalBackend::new(path)?), options)
    }

    /// Opens the repository in a local directory.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if !path.join(CONFIG_KEY).is_file() && !path.join(CONFIG_UPGRADE_KEY).is_file() {
            return Err(Error::not_found("repository", path.display().to_string()));
        }
        Self::open_with_backend(Arc::new(LocalBackend::new(path)?))
    }

    /// Creates a repository on any backend.
    pub fn init_with_backend(
        backend: Arc<dyn Backend>,
        options: RepositoryOptions,
    ) -> Result<Self> {
        let zone = validate_settings(&options.time_zone, options.retention_days)?;
        let config = RepoConfig {
            format: CONFIG_FORMAT,
            id: random_id(),
            time_zone: zone.name().to_owned(),
            header_dictionary: options.header_dictionary,
            retention_days: options.retention_days,
        };
        let data = crate::sealed::seal(&config, "repository config")?;
        backend
            .write_new(CONFIG_KEY, &data)
            .map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => Error::AlreadyExists {
                    what: "repository",
                    name: format!("{backend:?}"),
                },
                _ => e,
            })?;
        Self::open_with_backend(backend)
    }

    /// Opens a repository on any backend. A repository of an older format (config format 1
    /// to 3) opens read-only: every read works, every write is
    /// [`Error::UpgradeNeeded`] until [`Repository::upgrade`].
    pub fn open_with_backend(backend: Arc<dyn Backend>) -> Result<Self> {
        let config = read_config(backend.as_ref())?;
        let zone = config.validate()?;
        let backend: Arc<dyn Backend> = if config.format < CONFIG_FORMAT {
            Arc::new(crate::backend::ReadOnlyBackend::new(
                backend,
                config.format,
                CONFIG_FORMAT,
            ))
        } else {
            backend
        };
        let store = Arc::new(BlobStore::open(Arc::clone(&backend))?);
        Ok(Self {
            inner: Arc::new(RepoInner {
                backend,
                config,
                zone,
                store,
            }),
        })
    }

    /// The provider's time zone, as configured at creation.
    pub fn time_zone(&self) -> &str {
        &self.inner.config.time_zone
    }

    /// How many days of snapshots this repository keeps.
    pub fn retention_days(&self) -> u32 {
        self.inner.config.retention_days
    }

    /// The snapshot day that `instant` falls on, in the provider's time zone.
    pub fn day_at(&self, instant: DateTime<Utc>) -> NaiveDate {
        self.inner.zone.day_of(instant)
    }

    /// When `day` begins in the provider's time zone (local midnight, or the first local
    /// time of a day whose midnight a DST change skips): with [`day_at`](Self::day_at), how
    /// a period of days becomes instants, for example a month of the billing ledger.
    pub fn start_of_day(&self, day: NaiveDate) -> DateTime<Utc> {
        self.inner.zone.start_of_day(day)
    }

    /// Every account with at least one snapshot, sorted.
    pub fn accounts(&self) -> Result<Vec<AccountId>> {
        let mut accounts: Vec<AccountId> = self
            .inner
            .backend
            .list("snapshots/")?
            .iter()
            .filter_map(|key| key.strip_prefix("snapshots/")?.split_once('/'))
            .filter_map(|(account, _)| AccountId::new(account).ok())
            .collect();
        accounts.dedup();
        Ok(accounts)
    }

    /// Sizes and counts of the stored files.
    pub fn stats(&self) -> Result<RepositoryStats> {
        let mut stats = RepositoryStats::default();
        for key in self.inner.backend.list("")? {
            let size = self.inner.backend.size(&key)?;
            stats.files += 1;
            stats.bytes += size;
            if key.starts_with("packs/") {
                stats.packs += 1;
                stats.pack_bytes += size;
            } else if key.starts_with("snapshots/") {
                stats.snapshots += 1;
            }
        }
        stats.blobs = self.inner.store.indexed_blob_count()? as u64;
        Ok(stats)
    }
}

/// What a repository holds on its backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RepositoryStats {
    /// Files of every kind.
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// Pack files.
    pub packs: u64,
    /// Bytes in pack files.
    pub pack_bytes: u64,
    /// Snapshot records (one per account and day).
    pub snapshots: u64,
    /// Distinct blobs in the index.
    pub blobs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    fn open_with_config(text: &[u8]) -> Result<Repository> {
        let backend = Arc::new(MemoryBackend::new());
        backend.write_new(CONFIG_KEY, text)?;
        Repository::open_with_backend(backend)
    }

    #[test]
    fn init_and_open_refuse_the_same_settings() {
        for (zone, days) in [
            ("UTC", 0),
            ("Nowhere/Atlantis", 15),
            ("UTC", MAX_RETENTION_DAYS + 1),
        ] {
            let options = RepositoryOptions {
                time_zone: zone.into(),
                retention_days: days,
                ..RepositoryOptions::default()
            };
            let err =
                Repository::init_with_backend(Arc::new(MemoryBackend::new()), options).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{zone} {days}: {err}");
            let config = RepoConfig {
                format: CONFIG_FORMAT,
                id: "0123456789abcdef".into(),
                time_zone: zone.into(),
                header_dictionary: true,
                retention_days: days,
            };
            let sealed = crate::sealed::seal(&config, "repository config").unwrap();
            let err = open_with_config(&sealed).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Integrity, "{zone} {days}: {err}");
            assert!(err.to_string().contains("in config"), "{err}");
        }
    }

    #[test]
    fn a_new_config_is_sealed_and_every_flipped_bit_is_caught() {
        let backend = Arc::new(MemoryBackend::new());
        Repository::init_with_backend(backend.clone(), RepositoryOptions::default()).unwrap();
        let data = backend.read(CONFIG_KEY).unwrap();
        assert!(data.starts_with(b"{\n\"blake3\""));
        for at in 0..data.len() {
            for bit in 0..8 {
                let mut damaged = data.clone();
                damaged[at] ^= 1 << bit;
                if let Ok(repo) = open_with_config(&damaged) {
                    // Only whitespace outside the sealed record may change harmlessly.
                    assert!(data[at].is_ascii_whitespace(), "byte {at} bit {bit}");
                    assert_eq!(repo.retention_days(), DEFAULT_RETENTION_DAYS);
                }
            }
        }
    }

    #[test]
    fn an_old_unsealed_config_still_opens_and_other_versions_are_refused() {
        let old = |format: u32| {
            format!(
                r#"{{"format": {format}, "id": "0123456789abcdef", "time_zone": "Europe/Rome", "header_dictionary": false}}"#
            )
        };
        let repo = open_with_config(old(1).as_bytes()).unwrap();
        assert_eq!(
            (repo.time_zone(), repo.retention_days()),
            ("Europe/Rome", DEFAULT_RETENTION_DAYS)
        );
        for format in [2, 999] {
            let err = open_with_config(old(format).as_bytes()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnsupportedFormat, "{err}");
        }
        let err = open_with_config(b"").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    }
}
