//! Converting a repository of an older format in place (`mtm upgrade`).

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::backend::{Backend, LocalBackend};
use crate::error::{Error, ErrorKind, Result};
use crate::repo::{
    CONFIG_FORMAT, CONFIG_KEY, CONFIG_UPGRADE_KEY, RepoConfig, Repository, read_config,
};
use crate::store::BlobStore;

/// What [`Repository::upgrade`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UpgradeReport {
    /// The config format found (the current one if there was nothing to do).
    pub from_format: u32,
    /// The config format now.
    pub to_format: u32,
    /// Index files merged into the one sorted file written.
    pub index_files_merged: u64,
}

impl Repository {
    /// Converts the repository in a local directory to the format this version writes
    /// (see [`Repository::upgrade_with_backend`]).
    pub fn upgrade(path: impl AsRef<Path>) -> Result<UpgradeReport> {
        let path = path.as_ref();
        if !path.join(CONFIG_KEY).is_file() && !path.join(CONFIG_UPGRADE_KEY).is_file() {
            return Err(Error::not_found("repository", path.display().to_string()));
        }
        Self::upgrade_with_backend(Arc::new(LocalBackend::new(path)?))
    }

    /// Converts a repository of an older format in place, under the exclusive gc lock
    /// ([`ErrorKind::Busy`] while a snapshot or gc runs): every index file is merged into
    /// one sorted file (the inputs deleted once it is written), then the config is replaced
    /// by one of the current format, staged as `config.upgrade` first. A crash at any step
    /// leaves a repository that this version opens (read-only until the config is
    /// replaced), and running the upgrade again finishes it. Nothing to do on a current
    /// repository. Versions before this one cannot open an upgraded repository.
    pub fn upgrade_with_backend(backend: Arc<dyn Backend>) -> Result<UpgradeReport> {
        let raw = backend.as_ref();
        let _lock = crate::lock::acquire(raw, crate::lock::LockKind::Gc)?;
        let config = read_config(raw)?;
        config.validate()?;
        let staged = match raw.size(CONFIG_UPGRADE_KEY) {
            Ok(_) => true,
            Err(e) if e.kind() == ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        let mut report = UpgradeReport {
            from_format: config.format,
            to_format: CONFIG_FORMAT,
            index_files_merged: 0,
        };
        if config.format == CONFIG_FORMAT && !staged {
            return Ok(report);
        }
        // 1. One sorted index file for everything (the old files deleted once it is there).
        let store = BlobStore::open(Arc::clone(&backend))?;
        report.index_files_merged = store.consolidate_all()?.merged;
        // 2. The config: the new one staged, the old one deleted, the new one published.
        let current = RepoConfig {
            format: CONFIG_FORMAT,
            ..config
        };
        let data = crate::sealed::seal(&current, "repository config")?;
        if !staged {
            raw.write_new(CONFIG_UPGRADE_KEY, &data)?;
        }
        let published = match raw.read(CONFIG_KEY) {
            Ok(old) => RepoConfig::decode(&old)?.format == CONFIG_FORMAT,
            Err(e) if e.kind() == ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        if !published {
            raw.delete(CONFIG_KEY)?;
            let staged_data = raw.read(CONFIG_UPGRADE_KEY)?;
            RepoConfig::decode(&staged_data)?.validate()?;
            raw.write_new(CONFIG_KEY, &staged_data)?;
        }
        raw.delete(CONFIG_UPGRADE_KEY)?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{FaultInjectingBackend, MemoryBackend};
    use crate::repo::{SEALED_UNFILTERED_INDEX_FORMAT, SEALED_V1_INDEX_FORMAT};
    use crate::store::format::{decode_index, encode_index_v1};
    use crate::store::sorted::{encode_sorted, without_filter};
    use crate::{AccountId, FixedClock, MaildirAccount, RepositoryOptions, SnapshotOptions};

    const RAW: &[u8] = b"From: a@example.org\r\nSubject: kept\r\n\r\nbody of the old day\r\n";

    fn alice() -> AccountId {
        AccountId::new("alice@example.com").unwrap()
    }

    fn maildir(dir: &Path) -> MaildirAccount {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("cur/1.M1.host:2,S"), RAW).unwrap();
        let _ = std::fs::remove_file(dir.join("cur/2.M2.host:2,"));
        MaildirAccount::open(dir).unwrap()
    }

    /// A repository as a version before sorted index files wrote it: two days of one
    /// account, unsorted (version 1) index files, a sealed config of format 2.
    fn old_repository(dir: &Path) -> Arc<MemoryBackend> {
        repository_of_format(dir, SEALED_V1_INDEX_FORMAT)
    }

    /// A repository as the version of config `format` wrote it: its index files of the
    /// version it wrote (1 for format 2, sorted without filters for format 3).
    fn repository_of_format(dir: &Path, format: u32) -> Arc<MemoryBackend> {
        let backend = Arc::new(MemoryBackend::new());
        let repo =
            Repository::init_with_backend(backend.clone(), RepositoryOptions::default()).unwrap();
        let source = maildir(dir);
        for day in ["2026-11-20", "2026-11-21"] {
            if day == "2026-11-21" {
                std::fs::write(
                    dir.join("cur/2.M2.host:2,"),
                    b"Subject: new\r\n\r\nnext day\r\n",
                )
                .unwrap();
            }
            let clock = FixedClock::parse(&format!("{day}T10:00:00Z")).unwrap();
            repo.snapshot(&alice(), &source, &clock, &SnapshotOptions::default())
                .unwrap();
        }
        for key in backend.list("index/").unwrap() {
            let file = decode_index(&backend.read(&key).unwrap(), &key).unwrap();
            let old = if format == SEALED_V1_INDEX_FORMAT {
                encode_index_v1(&file).unwrap()
            } else {
                without_filter(&encode_sorted(&file).unwrap())
            };
            backend.delete(&key).unwrap();
            backend
                .write_new(&format!("index/{}", blake3::hash(&old).to_hex()), &old)
                .unwrap();
        }
        let config = RepoConfig {
            format,
            ..RepoConfig::decode(&backend.read(CONFIG_KEY).unwrap()).unwrap()
        };
        backend.delete(CONFIG_KEY).unwrap();
        backend
            .write_new(
                CONFIG_KEY,
                &crate::sealed::seal(&config, "repository config").unwrap(),
            )
            .unwrap();
        backend
    }

    fn reads_the_old_day(backend: Arc<dyn Backend>) -> Repository {
        let repo = Repository::open_with_backend(backend).unwrap();
        let view = repo.account(&alice()).unwrap();
        let day = crate::parse_day("2026-11-20").unwrap();
        let page = view
            .messages(
                day,
                &crate::FolderName::inbox(),
                &crate::MessageQuery::default(),
            )
            .unwrap();
        assert_eq!(page.total, 1);
        let id = page.messages[0].id;
        assert_eq!(view.raw(day, &id).unwrap(), RAW);
        repo
    }

    /// Reads the old day, and checks that the next day's snapshot is refused until an
    /// upgrade: the clock and source of that snapshot.
    fn a_snapshot_is_refused(
        dir: &Path,
        backend: Arc<dyn Backend>,
    ) -> (FixedClock, MaildirAccount) {
        let repo = reads_the_old_day(backend);
        let clock = FixedClock::parse("2026-11-22T10:00:00Z").unwrap();
        let source = MaildirAccount::open(dir).unwrap();
        let err = repo
            .snapshot(&alice(), &source, &clock, &SnapshotOptions::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnsupportedFormat);
        assert!(err.to_string().contains("mtm upgrade"), "{err}");
        (clock, source)
    }

    #[test]
    fn an_old_repository_reads_refuses_writes_and_upgrades_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let backend = old_repository(dir.path());
        let (clock, source) = a_snapshot_is_refused(dir.path(), backend.clone());

        let report = Repository::upgrade_with_backend(backend.clone()).unwrap();
        assert_eq!((report.from_format, report.to_format), (2, CONFIG_FORMAT));
        assert!(report.index_files_merged >= 2, "{report:?}");
        let index = backend.list("index/").unwrap();
        assert_eq!(index.len(), 1);
        assert!(crate::store::sorted::is_sorted(
            &backend.read(&index[0]).unwrap()
        ));
        assert!(backend.list("locks/").unwrap().is_empty());
        let repo = reads_the_old_day(backend.clone());
        repo.snapshot(&alice(), &source, &clock, &SnapshotOptions::default())
            .unwrap();
        assert!(repo.verify(&Default::default()).unwrap().is_ok());
        // Nothing more to do.
        let again = Repository::upgrade_with_backend(backend).unwrap();
        assert_eq!(again.index_files_merged, 0);
    }

    #[test]
    fn a_repository_with_unfiltered_sorted_index_files_reads_and_upgrades_to_filtered_ones() {
        let dir = tempfile::tempdir().unwrap();
        let backend = repository_of_format(dir.path(), SEALED_UNFILTERED_INDEX_FORMAT);
        let old = backend.list("index/").unwrap();
        assert!(old.len() >= 2);
        for key in &old {
            let data = backend.read(key).unwrap();
            assert!(data.starts_with(crate::store::sorted::SORTED_V2_MAGIC));
        }
        let (clock, source) = a_snapshot_is_refused(dir.path(), backend.clone());

        let report = Repository::upgrade_with_backend(backend.clone()).unwrap();
        assert_eq!((report.from_format, report.to_format), (3, CONFIG_FORMAT));
        let index = backend.list("index/").unwrap();
        assert_eq!(index.len(), 1);
        assert!(
            backend
                .read(&index[0])
                .unwrap()
                .starts_with(crate::store::sorted::SORTED_MAGIC)
        );
        let repo = reads_the_old_day(backend.clone());
        repo.snapshot(&alice(), &source, &clock, &SnapshotOptions::default())
            .unwrap();
        assert!(repo.verify(&Default::default()).unwrap().is_ok());
    }

    #[test]
    fn an_upgrade_that_dies_at_any_write_leaves_a_readable_repository_and_runs_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut crashes = 0;
        for fail_at in 1.. {
            let backend = old_repository(dir.path());
            let faulty = Arc::new(FaultInjectingBackend::new(backend.clone(), fail_at));
            let done = Repository::upgrade_with_backend(faulty).is_ok();
            // Whatever was left: this version opens it and reads every day.
            reads_the_old_day(backend.clone());
            if done {
                break;
            }
            crashes += 1;
            // A leftover lock of the dead upgrade is stale (its process is this one, alive,
            // so remove it as an operator would after a crash).
            for lock in backend.list("locks/").unwrap() {
                backend.delete(&lock).unwrap();
            }
            let report = Repository::upgrade_with_backend(backend.clone()).unwrap();
            assert_eq!(report.to_format, CONFIG_FORMAT);
            let repo = reads_the_old_day(backend.clone());
            assert!(
                repo.verify(&Default::default()).unwrap().is_ok(),
                "fail at {fail_at}"
            );
            assert!(backend.list("index/").unwrap().len() == 1);
            assert!(backend.size(CONFIG_UPGRADE_KEY).is_err());
        }
        assert!(crashes >= 5, "only {crashes} writes were tried");
    }
}
