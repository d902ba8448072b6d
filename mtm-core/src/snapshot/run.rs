//! A run over many accounts: one snapshot lock for the whole run, and group commit.
//!
//! Each account's snapshot stores its blobs without waiting for the disk
//! ([`Durability::AtSync`]), its last few in a pack that the run's accounts share, keeps
//! their index entries in memory, and hands its record to the run's [`GroupCommit`]. Every [`COMMIT_RECORDS`] records (or [`COMMIT_ENTRIES`] index
//! entries, or [`COMMIT_INTERVAL`], and at the end) the run syncs the storage once, so that
//! every pack is durable, writes one index file for the group (durable), writes the records,
//! and syncs once more. A crash loses at worst the records not yet committed (those
//! accounts are snapshotted again by the next run), never a record naming missing bytes:
//! a run costs two flushes per batch of accounts, not several per account.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::take::{Sealed, Target, already_taken};
use super::{SnapshotOptions, SnapshotReport};
use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};
use crate::id::{BlobId, IdSet};
use crate::names::AccountId;
use crate::repo::Repository;
use crate::source::MaildirAccount;
use crate::store::Durability;

/// How long a run of many accounts holds one snapshot lock before it takes a fresh one
/// (locks older than a day are stale to everyone else).
const RUN_LOCK_REFRESH: Duration = Duration::from_secs(3600);
/// Records a run commits together (a few MiB of memory).
const COMMIT_RECORDS: usize = 1000;
/// Index entries held in memory that make a commit due (about 8 MiB).
const COMMIT_ENTRIES: usize = 128 * 1024;
/// The longest a finished account waits for its record to be committed.
const COMMIT_INTERVAL: Duration = Duration::from_secs(30);

/// One account's snapshot, stored, whose record waits for the group commit.
struct Waiting {
    position: usize,
    account: AccountId,
    target: Target,
    record: Vec<u8>,
    report: SnapshotReport,
    /// Blobs it names that other accounts of the run were still storing when it finished.
    awaited: IdSet<BlobId>,
}

/// The records of a run that wait to be committed, and when the last commit was.
struct GroupCommit {
    waiting: Vec<Waiting>,
    since: Instant,
}

impl GroupCommit {
    /// Takes the waiting records out once a commit is due (or always, with `last`):
    /// enough records, enough index entries held in memory, or enough time.
    fn due(&mut self, last: bool, held_entries: usize) -> Option<Vec<Waiting>> {
        let due = last
            || self.waiting.len() >= COMMIT_RECORDS
            || held_entries >= COMMIT_ENTRIES
            || self.since.elapsed() >= COMMIT_INTERVAL;
        if !due || self.waiting.is_empty() {
            return None;
        }
        self.since = Instant::now();
        Some(std::mem::take(&mut self.waiting))
    }
}

impl Repository {
    /// Takes today's snapshot of many accounts, several at a time: `options.threads` accounts
    /// at once (0: one per core), each read by one worker, so that one account's scan and
    /// commit overlap another's reading. Content shared between accounts is stored once even
    /// when they run at the same time. One result per account, in the order given; one
    /// account's failure does not stop the others.
    ///
    /// The run holds one snapshot lock from start to end (so no garbage collection runs
    /// meanwhile) and reads the index once: its cost follows the accounts' changes, not the
    /// number of index files times the accounts. Records are written in groups, each after
    /// one flush of the storage (see the module documentation): an account's snapshot is
    /// taken once its result says so, and not before. If a collection still holds the lock
    /// after `options.lock_wait`, each account tries the lock once, without waiting again.
    pub fn snapshot_many(
        &self,
        accounts: &[(AccountId, MaildirAccount)],
        clock: &dyn Clock,
        options: &SnapshotOptions,
    ) -> Vec<Result<SnapshotReport>> {
        let concurrency = crate::pool::workers(options.threads);
        let each = SnapshotOptions {
            threads: 1,
            progress: options.progress.clone(),
            lock_wait: options.lock_wait,
        };
        // One snapshot lock for the whole run, and one reload of the index under it: no
        // garbage collection runs until the run ends, so what the index says stays true,
        // and a run costs one lock and one index listing, not one per account. A run of
        // many hours takes a fresh lock every hour (long before others call it stale).
        let run_lock = match self.lock_out_gc(options) {
            Ok(lock) => Mutex::new(lock),
            // Held by a collection after the wait (or the lock could not be taken): each
            // account tries on its own, without waiting again (a collection that has ended by
            // then lets them through), and reports its own refusal.
            Err(e) => {
                let alone = SnapshotOptions {
                    lock_wait: if e.kind() == ErrorKind::Busy {
                        Duration::ZERO
                    } else {
                        each.lock_wait
                    },
                    ..each
                };
                return accounts
                    .iter()
                    .map(|(account, source)| self.snapshot(account, source, clock, &alone))
                    .collect();
            }
        };
        self.inner.store.start_group_commit();
        let mut results: Vec<Option<Result<SnapshotReport>>> = Vec::new();
        results.resize_with(accounts.len(), || None);
        let results = Mutex::new(results);
        let settle = |settled: Vec<(usize, Result<SnapshotReport>)>| {
            let mut results = results.lock().unwrap_or_else(PoisonError::into_inner);
            for (i, result) in settled {
                results[i] = Some(result);
            }
        };
        let group = Mutex::new(GroupCommit {
            waiting: Vec::new(),
            since: Instant::now(),
        });
        let positions: Vec<usize> = (0..accounts.len()).collect();
        // Never fails: each account's result, error or not, goes into its place.
        let _ = crate::pool::for_each(&positions, concurrency, |&i| {
            let (account, source) = &accounts[i];
            let taken = self
                .refresh_run_lock(&run_lock)
                .and_then(|()| self.target(account, clock))
                .and_then(|target| {
                    self.snapshot_under_lock(account, source, &each, &target, Durability::AtSync)
                        .map(|sealed| (target, sealed))
                });
            match taken {
                Err(e) => settle(vec![(i, Err(e))]),
                Ok((
                    target,
                    Sealed {
                        report,
                        record,
                        awaited,
                    },
                )) => {
                    let batch = {
                        let mut group = group.lock().unwrap_or_else(PoisonError::into_inner);
                        group.waiting.push(Waiting {
                            position: i,
                            account: account.clone(),
                            target,
                            record,
                            report,
                            awaited,
                        });
                        group.due(false, self.inner.store.held_entries())
                    };
                    if let Some(batch) = batch {
                        settle(self.commit_records(batch));
                    }
                }
            }
            Ok(())
        });
        let last = group
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .due(true, 0);
        if let Some(batch) = last {
            settle(self.commit_records(batch));
        }
        let mut results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
        // Under the run's lock still: the run's index files merged once a tier is full, a
        // failure told in the last snapshot's warnings (a run that stored nothing has
        // nothing to merge).
        if let Some(Some(Ok(report))) = results.iter_mut().rev().find(|r| matches!(r, Some(Ok(_))))
        {
            self.consolidate_index(&mut report.warnings);
        }
        drop(run_lock);
        results
            .into_iter()
            // Every position is filled by the worker that took it; a gap could only come
            // from a worker that panicked, and the scope re-raises that panic before here.
            .map(|r| r.unwrap_or_else(|| Err(Error::invalid("accounts", "not snapshotted"))))
            .collect()
    }

    /// Commits a group of records: first the accounts still storing blobs that the group's
    /// records name finish (a record whose blob was lost by a failed account is not
    /// written), then [`commit_group`](crate::store::BlobStore::commit_group) makes
    /// everything they name durable and indexed, then the records are written, then one
    /// more sync makes them durable. Each account's result: its report, or why its record
    /// could not be written.
    ///
    /// Called by a worker between two accounts, so that the accounts it waits for run on
    /// the other workers, never on this one.
    fn commit_records(&self, batch: Vec<Waiting>) -> Vec<(usize, Result<SnapshotReport>)> {
        let backend = self.inner.backend.as_ref();
        let mut settled = Vec::new();
        let batch: Vec<Waiting> = batch
            .into_iter()
            .filter_map(|w| match self.inner.store.settle_awaited(&w.awaited) {
                Ok(()) => Some(w),
                Err(e) => {
                    settled.push((w.position, Err(e)));
                    None
                }
            })
            .collect();
        if let Err(e) = self.inner.store.commit_group() {
            return batch
                .into_iter()
                .map(|w| (w.position, Err(not_committed(&w.target.key, &e))))
                .chain(settled)
                .collect();
        }
        let keys: Vec<String> = batch.iter().map(|w| w.target.key.clone()).collect();
        let mut written: Vec<(usize, Result<SnapshotReport>)> = batch
            .into_iter()
            .map(|w| {
                let written = backend
                    .write_new_unsynced(&w.target.key, &w.record)
                    .map_err(|e| match e.kind() {
                        ErrorKind::AlreadyExists => already_taken(&w.account, w.target.day),
                        _ => e,
                    });
                (w.position, written.map(|()| w.report))
            })
            .collect();
        if let Err(e) = backend.sync() {
            for ((_, result), key) in written.iter_mut().zip(&keys) {
                if result.is_ok() {
                    *result = Err(not_committed(key, &e));
                }
            }
        }
        written.extend(settled);
        written
    }

    /// Replaces the run's lock by a fresh one once it is an hour old: both are shared
    /// snapshot locks, so the new one is taken before the old one is released and no
    /// collection can start in between.
    fn refresh_run_lock<'r>(&'r self, run_lock: &Mutex<crate::lock::LockGuard<'r>>) -> Result<()> {
        let mut held = run_lock.lock().unwrap_or_else(PoisonError::into_inner);
        if held.age() >= RUN_LOCK_REFRESH {
            *held =
                crate::lock::acquire(self.inner.backend.as_ref(), crate::lock::LockKind::Snapshot)?;
        }
        Ok(())
    }
}

/// An account's error when the flush of its group failed: its record may be lost in a
/// crash, so its snapshot does not count as taken (running again completes it, or finds the
/// record there).
fn not_committed(key: &str, cause: &Error) -> Error {
    Error::storage(
        key,
        std::io::Error::other(format!("the group commit's flush failed: {cause}")),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::backend::{Backend, MemoryBackend};
    use crate::{FixedClock, RepositoryOptions};

    /// A memory backend that logs every write and sync, in order; the next
    /// `fail_unsynced_packs` packs written without a flush fail.
    #[derive(Debug, Default)]
    struct Logged {
        inner: MemoryBackend,
        log: Mutex<Vec<String>>,
        fail_unsynced_packs: std::sync::atomic::AtomicU32,
    }

    impl Logged {
        fn note(&self, what: String) {
            self.log.lock().unwrap().push(what);
        }
    }

    impl Backend for Logged {
        fn read(&self, key: &str) -> Result<Vec<u8>> {
            self.inner.read(key)
        }
        fn read_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
            self.inner.read_range(key, offset, len)
        }
        fn write_new(&self, key: &str, bytes: &[u8]) -> Result<()> {
            self.note(format!("durable {key}"));
            self.inner.write_new(key, bytes)
        }
        fn write_new_unsynced(&self, key: &str, bytes: &[u8]) -> Result<()> {
            let failing = &self.fail_unsynced_packs;
            if key.starts_with("packs/")
                && failing
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
            {
                return Err(Error::storage(key, std::io::Error::other("disk full")));
            }
            self.note(format!("unsynced {key}"));
            self.inner.write_new(key, bytes)
        }
        fn sync(&self) -> Result<()> {
            self.note("sync".into());
            Ok(())
        }
        fn list(&self, prefix: &str) -> Result<Vec<String>> {
            self.inner.list(prefix)
        }
        fn size(&self, key: &str) -> Result<u64> {
            self.inner.size(key)
        }
        fn delete(&self, key: &str) -> Result<()> {
            self.note(format!("delete {key}"));
            self.inner.delete(key)
        }
    }

    /// `count` Maildirs `u0`, `u1` … under `dir`, each with `messages` messages in `cur/`
    /// named `{m}.M{m}.host:2,S`, whose text `message(account, m)` gives.
    fn accounts_with(
        dir: &std::path::Path,
        count: usize,
        messages: usize,
        message: impl Fn(usize, usize) -> String,
    ) -> Vec<(AccountId, MaildirAccount)> {
        let mut accounts = Vec::new();
        for a in 0..count {
            let maildir = dir.join(format!("u{a}"));
            for sub in ["cur", "new", "tmp"] {
                std::fs::create_dir_all(maildir.join(sub)).unwrap();
            }
            for m in 0..messages {
                std::fs::write(
                    maildir.join(format!("cur/{m}.M{m}.host:2,S")),
                    message(a, m),
                )
                .unwrap();
            }
            accounts.push((
                AccountId::new(format!("u{a}@example.com")).unwrap(),
                MaildirAccount::open(&maildir).unwrap(),
            ));
        }
        accounts
    }

    /// Five small Maildirs under `dir`, three messages each.
    fn five_accounts(dir: &std::path::Path) -> Vec<(AccountId, MaildirAccount)> {
        accounts_with(dir, 5, 3, |i, m| {
            format!("Subject: {i} {m}\r\n\r\nbody {i} {m}\r\n")
        })
    }

    /// A new repository on `backend` (no header dictionary), and one run over `accounts`.
    fn run_over(
        backend: &Arc<Logged>,
        accounts: &[(AccountId, MaildirAccount)],
    ) -> (Repository, Vec<Result<SnapshotReport>>) {
        let options = RepositoryOptions {
            header_dictionary: false,
            ..RepositoryOptions::default()
        };
        let repo = Repository::init_with_backend(backend.clone(), options).unwrap();
        let clock = FixedClock::parse("2026-11-21T00:00:30Z").unwrap();
        let results = repo.snapshot_many(accounts, &clock, &SnapshotOptions::default());
        (repo, results)
    }

    #[test]
    fn a_run_makes_its_packs_durable_before_any_index_file_and_its_index_before_any_record() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = five_accounts(dir.path());
        let backend = Arc::new(Logged::default());
        let (repo, results) = run_over(&backend, &accounts);
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        let log = backend.log.lock().unwrap().clone();
        let at = |pred: &dyn Fn(&str) -> bool| -> Vec<usize> {
            log.iter()
                .enumerate()
                .filter(|(_, l)| pred(l))
                .map(|(i, _)| i)
                .collect()
        };
        let packs = at(&|l| l.contains(" packs/"));
        let indexes = at(&|l| l.starts_with("durable index/") || l.starts_with("unsynced index/"));
        let records = at(&|l| l.contains(" snapshots/"));
        let syncs = at(&|l| l == "sync");
        assert!(
            !packs.is_empty() && !indexes.is_empty() && records.len() == 5,
            "{log:#?}"
        );
        assert!(
            log.iter().all(|l| !l.starts_with("unsynced index/")),
            "an index file written before its packs are durable: {log:#?}"
        );
        let first_index = indexes[0];
        assert!(
            syncs
                .iter()
                .any(|s| *s > *packs.last().unwrap() && *s < first_index),
            "no sync between the packs and the index: {log:#?}"
        );
        assert!(records.iter().all(|r| *r > first_index), "{log:#?}");
        assert!(
            syncs.iter().any(|s| s > records.last().unwrap()),
            "{log:#?}"
        );
        // Five small accounts, one group: one pack file, one index file, two flushes.
        assert_eq!(packs.len(), 1, "{log:#?}");
        assert_eq!(indexes.len(), 1, "{log:#?}");
        assert_eq!(syncs.len(), 2, "{log:#?}");
        for (account, _) in &accounts {
            assert_eq!(repo.account(account).unwrap().days().unwrap().len(), 1);
        }
    }

    #[test]
    fn a_shared_pack_that_cannot_be_written_commits_none_of_the_accounts_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = five_accounts(dir.path());
        let backend = Arc::new(Logged {
            fail_unsynced_packs: u32::MAX.into(),
            ..Logged::default()
        });
        let (_, results) = run_over(&backend, &accounts);
        for result in &results {
            let err = result.as_ref().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
            assert!(err.to_string().contains("disk full"), "{err}");
        }
        assert!(backend.inner.list("snapshots/").unwrap().is_empty());
        assert!(backend.inner.list("index/").unwrap().is_empty());
    }

    #[test]
    fn a_lost_shared_pack_fails_every_later_commit_of_its_run() {
        let backend = Arc::new(Logged {
            fail_unsynced_packs: 1.into(),
            ..Logged::default()
        });
        let (repo, _) = run_over(&backend, &[]);
        let store = &repo.inner.store;
        let session = |body: &[u8]| {
            let mut writer = store.writer(None);
            writer.defer_durability();
            writer.add(crate::store::Kind::Part, body).unwrap();
            writer.finish().unwrap();
        };
        session(b"first account's mail");
        let err = store.commit_group().unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        // The storage works again, but an account whose blobs were in the lost pack may
        // still be on its way to this run's commits.
        session(b"second account's mail");
        let err = store.commit_group().unwrap_err();
        assert!(err.to_string().contains("lost"), "{err}");
        assert!(
            store.commit_group().is_err(),
            "only the next commit was failed"
        );
        assert!(backend.inner.list("index/").unwrap().is_empty());
        // The next run starts afresh.
        store.start_group_commit();
        session(b"third account's mail");
        store.commit_group().unwrap();
        assert_eq!(backend.inner.list("index/").unwrap().len(), 1);
    }

    #[test]
    fn a_run_over_many_small_accounts_trains_one_header_dictionary_from_all_of_them() {
        // Each account gives 25 messages, 50 header samples: too few to train a dictionary
        // alone, enough together.
        let dir = tempfile::tempdir().unwrap();
        let accounts = accounts_with(dir.path(), 12, 25, |a, m| {
            format!(
                "Return-Path: <news{m}@lists.example.org>\r\n\
                 Delivered-To: user{a}@example.com\r\n\
                 Received: from mx{m}.example.net by mail.example.com with LMTP id \
                 {a:04x}{m:04x}\r\n\tfor <user{a}@example.com>; Tue, 3 Nov 2026 10:{m:02}:00 \
                 +0100\r\nFrom: \"List {m}\" <news{m}@lists.example.org>\r\n\
                 To: user{a}@example.com\r\nSubject: Weekly digest {a} number {m}\r\n\
                 Message-ID: <{a}.{m}@lists.example.org>\r\nMIME-Version: 1.0\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\r\nIssue {m} for {a}.\r\n"
            )
        });
        let backend = Arc::new(MemoryBackend::default());
        let repo =
            Repository::init_with_backend(backend.clone(), RepositoryOptions::default()).unwrap();
        let clock = FixedClock::parse("2026-11-21T00:00:30Z").unwrap();
        let results = repo.snapshot_many(&accounts, &clock, &SnapshotOptions::default());
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        assert_eq!(backend.list("dictionaries/").unwrap().len(), 1);
        assert!(repo.inner.store.current_dictionary().unwrap().is_some());
        // Every message reads back whole, with or without the dictionary.
        for (a, (account, _)) in accounts.iter().enumerate() {
            let view = repo.account(account).unwrap();
            let day = view.days().unwrap()[0];
            for m in 0..25 {
                let path = dir.path().join(format!("u{a}/cur/{m}.M{m}.host:2,S"));
                let bytes = std::fs::read(path).unwrap();
                assert_eq!(view.raw(day, &crate::MessageId::of(&bytes)).unwrap(), bytes);
            }
        }
    }
}
