//! The repository: where every snapshot lives, and the entry point of the library.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, LocalBackend};
use crate::clock::ProviderZone;
use crate::error::{Error, ErrorKind, Result};
use crate::lookup::AccountView;
use crate::names::AccountId;
use crate::snapshot::model::{FORMAT_VERSION, SnapshotRecord, snapshot_key};
use crate::store::BlobStore;

const CONFIG_KEY: &str = "config";

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
    /// the product promises). `prune` removes the rest.
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

/// The `config` file of a repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RepoConfig {
    pub format: u32,
    pub id: String,
    pub time_zone: String,
    pub header_dictionary: bool,
    #[serde(default = "default_retention")]
    pub retention_days: u32,
}

#[derive(Debug)]
pub(crate) struct RepoInner {
    pub backend: Arc<dyn Backend>,
    pub config: RepoConfig,
    pub zone: ProviderZone,
    pub store: Arc<BlobStore>,
    /// Held while a header dictionary is trained, so that concurrent first snapshots train
    /// one, not one each.
    pub dictionary_lock: std::sync::Mutex<()>,
}

impl RepoInner {
    /// The days that have a snapshot of `account`, oldest first.
    pub(crate) fn days(&self, account: &AccountId) -> Result<Vec<NaiveDate>> {
        let prefix = format!("snapshots/{account}/");
        let mut days: Vec<NaiveDate> = self
            .backend
            .list(&prefix)?
            .iter()
            .filter_map(|key| key.strip_prefix(&prefix)?.strip_suffix(".json"))
            .filter_map(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
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
        if !path.join(CONFIG_KEY).is_file() {
            return Err(Error::not_found("repository", path.display().to_string()));
        }
        Self::open_with_backend(Arc::new(LocalBackend::new(path)?))
    }

    /// Creates a repository on any backend.
    pub fn init_with_backend(
        backend: Arc<dyn Backend>,
        options: RepositoryOptions,
    ) -> Result<Self> {
        let zone = ProviderZone::parse(&options.time_zone)?;
        if options.retention_days == 0 {
            return Err(Error::invalid("retention", "keep at least one day"));
        }
        let config = RepoConfig {
            format: FORMAT_VERSION,
            id: random_id(),
            time_zone: zone.name().to_owned(),
            header_dictionary: options.header_dictionary,
            retention_days: options.retention_days,
        };
        let data = serde_json::to_vec_pretty(&config)
            .map_err(|e| Error::invalid("repository config", e.to_string()))?;
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

    /// Opens a repository on any backend.
    pub fn open_with_backend(backend: Arc<dyn Backend>) -> Result<Self> {
        let data = backend.read(CONFIG_KEY).map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::not_found("repository", format!("{backend:?}")),
            _ => e,
        })?;
        let config: RepoConfig = serde_json::from_slice(&data)
            .map_err(|e| Error::integrity(CONFIG_KEY, format!("unreadable config: {e}")))?;
        if config.format != FORMAT_VERSION {
            return Err(Error::UnsupportedFormat {
                found: config.format,
                supported: FORMAT_VERSION,
            });
        }
        let zone = ProviderZone::parse(&config.time_zone)?;
        let store = Arc::new(BlobStore::open(Arc::clone(&backend))?);
        Ok(Self {
            inner: Arc::new(RepoInner {
                backend,
                config,
                zone,
                store,
                dictionary_lock: std::sync::Mutex::new(()),
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

    /// A read-only view of one account. The view can reach only that account's snapshots
    /// and the messages they name. [`ErrorKind::NotFound`] if it has no snapshot.
    pub fn account(&self, account: &AccountId) -> Result<AccountView> {
        if self.inner.days(account)?.is_empty() {
            return Err(Error::not_found("account", account.as_str()));
        }
        Ok(AccountView::new(Arc::clone(&self.inner), account.clone()))
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
        stats.blobs = self.inner.store.indexed_blob_count() as u64;
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
