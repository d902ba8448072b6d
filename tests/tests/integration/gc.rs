//! Garbage collection: reclaims what pruning freed, never a retained byte, never while a
//! snapshot writes, and survives a crash at any write.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use mtm_core::{
    AccountId, Backend, ErrorKind, FaultInjectingBackend, FixedClock, GcOptions, MemoryBackend,
    MessageId, Repository, RepositoryOptions, SnapshotOptions, SnapshotProgress, VerifyOptions,
};
use mtm_tests::{Maildir, message};

/// Ten daily snapshots of one account (each day a message arrives and an old one goes), a
/// three-day window: a prune at day 10 frees real bytes.
fn repository(
    storage: &Arc<MemoryBackend>,
    dir: &std::path::Path,
) -> (Repository, Maildir, Vec<Vec<u8>>) {
    let options = RepositoryOptions {
        retention_days: 3,
        header_dictionary: false,
        ..RepositoryOptions::default()
    };
    let repo = Repository::init_with_backend(storage.clone(), options).unwrap();
    let mut m = Maildir::create(dir.join("alice"));
    let mut present = Vec::new();
    let mut files = Vec::new();
    for d in 1..=10u32 {
        // Incompressible-ish bodies so that packs hold real bytes.
        let body: String = (0..20_000u64)
            .map(|i| {
                format!(
                    "{:x}",
                    (i + u64::from(d) * 7_777).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 60
                )
            })
            .collect();
        let raw = message(
            "s@example.org",
            "alice@example.com",
            &format!("Day {d}"),
            &body,
        );
        files.push(m.deliver("INBOX", &raw, "", 1_790_000_000 + i64::from(d) * 86_400));
        present.push(raw);
        if d > 2 {
            std::fs::remove_file(files.remove(0)).unwrap();
            present.remove(0);
        }
        let clock = FixedClock::parse(&format!("2026-11-{d:02}T00:00:30Z")).unwrap();
        repo.snapshot(&alice(), &m.source(), &clock, &SnapshotOptions::default())
            .unwrap();
    }
    (repo, m, present)
}

fn alice() -> AccountId {
    AccountId::new("alice@example.com").unwrap()
}

fn day10() -> FixedClock {
    FixedClock::parse("2026-11-10T12:00:00Z").unwrap()
}

fn assert_intact(repo: &Repository, present: &[Vec<u8>]) {
    let report = repo.verify(&VerifyOptions::default()).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.unreferenced_packs, 0);
    let view = repo.account(&alice()).unwrap();
    let days = view.days().unwrap();
    assert_eq!(days.len(), 3);
    for raw in present {
        assert_eq!(
            &view
                .raw(*days.last().unwrap(), &MessageId::of(raw))
                .unwrap(),
            raw
        );
    }
}

#[test]
fn gc_after_prune_reclaims_bytes_and_keeps_everything_retained() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(MemoryBackend::new());
    let (repo, _m, present) = repository(&storage, dir.path());
    let plan = repo.prune_plan(&day10(), None).unwrap();
    assert_eq!(plan.expired.len(), 7);
    repo.prune(&plan, &day10()).unwrap();
    let report = repo.gc(&GcOptions::default()).unwrap();
    assert!(report.blobs_removed > 0, "{report:?}");
    assert!(
        report.pack_bytes_after < report.pack_bytes_before,
        "{report:?}"
    );
    assert!(
        report.pack_bytes_before - report.pack_bytes_after >= plan.reclaimable_bytes / 2,
        "{report:?} vs {plan:?}"
    );
    assert_intact(&repo, &present);
    // A second collection finds nothing more, and a reopened repository reads the same.
    assert_eq!(repo.gc(&GcOptions::default()).unwrap().blobs_removed, 0);
    assert_intact(
        &Repository::open_with_backend(storage.clone()).unwrap(),
        &present,
    );
}

#[test]
fn a_reader_opened_before_a_gc_still_reads_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(MemoryBackend::new());
    let (repo, _m, present) = repository(&storage, dir.path());
    let reader = Repository::open_with_backend(storage.clone()).unwrap();
    repo.prune(&repo.prune_plan(&day10(), None).unwrap(), &day10())
        .unwrap();
    let report = repo
        .gc(&GcOptions {
            repack_below: 1.0,
            ..GcOptions::default()
        })
        .unwrap();
    assert!(report.packs_repacked > 0, "{report:?}");
    // Its index names packs that are gone: it reads the index again and finds the blobs.
    assert_intact(&reader, &present);
}

/// Blocks a snapshot after its scan until told to go on.
struct Pause(Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>>);

impl std::fmt::Debug for Pause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pause")
    }
}

impl SnapshotProgress for Pause {
    fn started(&self, _: &AccountId, _: u64, _: u64, _: u64) {
        if let Some((paused, resume)) = self.0.lock().unwrap().take() {
            paused.send(()).unwrap();
            resume.recv().unwrap();
        }
    }
    fn advanced(&self, _: u64) {}
}

#[test]
fn gc_is_refused_while_a_snapshot_is_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(MemoryBackend::new());
    let (repo, mut m, _) = repository(&storage, dir.path());
    m.deliver(
        "INBOX",
        &message("late@example.org", "alice@example.com", "Late", "x"),
        "",
        1_791_000_000,
    );
    let (paused_tx, paused_rx) = mpsc::channel();
    let (resume_tx, resume_rx) = mpsc::channel();
    let options = SnapshotOptions {
        threads: 1,
        progress: Some(Arc::new(Pause(Mutex::new(Some((paused_tx, resume_rx)))))),
        ..SnapshotOptions::default()
    };
    let source = m.source();
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let clock = FixedClock::parse("2026-11-11T00:00:30Z").unwrap();
            repo.snapshot(&alice(), &source, &clock, &options)
        });
        paused_rx.recv().unwrap();
        let err = repo.gc(&GcOptions::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Busy, "{err}");
        resume_tx.send(()).unwrap();
        writer.join().unwrap().unwrap();
    });
    // Afterwards the lock is gone and a collection runs.
    repo.gc(&GcOptions::default()).unwrap();
    assert!(repo.verify(&VerifyOptions::default()).unwrap().is_ok());
}

#[test]
fn a_gc_that_dies_at_any_write_loses_nothing_and_can_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let setup = |name: &str| {
        let storage = Arc::new(MemoryBackend::new());
        let (repo, _m, present) = repository(&storage, &dir.path().join(name));
        repo.prune(&repo.prune_plan(&day10(), None).unwrap(), &day10())
            .unwrap();
        (storage, present)
    };
    let (storage, _) = setup("count");
    let counter = Arc::new(FaultInjectingBackend::new(storage, 0));
    Repository::open_with_backend(counter.clone())
        .unwrap()
        .gc(&GcOptions {
            repack_below: 1.0,
            ..GcOptions::default()
        })
        .unwrap();
    let total = counter.operations();
    assert!(total >= 4, "{total}");
    for n in 1..=total {
        let (storage, present) = setup(&format!("run{n}"));
        let faulty =
            Repository::open_with_backend(Arc::new(FaultInjectingBackend::new(storage.clone(), n)))
                .unwrap();
        let _ = faulty.gc(&GcOptions {
            repack_below: 1.0,
            ..GcOptions::default()
        });
        let healthy = Repository::open_with_backend(storage.clone()).unwrap();
        let report = healthy.verify(&VerifyOptions::default()).unwrap();
        assert!(
            report.is_ok(),
            "failure {n} of {total}: {:?}",
            report.problems
        );
        // The crashed run's lock belongs to this (live) process: remove it, as a restart would.
        for key in storage.list("locks/").unwrap() {
            storage.delete(&key).unwrap();
        }
        healthy
            .gc(&GcOptions {
                repack_below: 1.0,
                ..GcOptions::default()
            })
            .unwrap();
        assert_intact(&healthy, &present);
    }
}

#[test]
fn gc_leaves_the_temp_files_of_running_writers_and_removes_those_of_dead_ones() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path().join("repo"), RepositoryOptions::default()).unwrap();
    let tmp = dir.path().join("repo/tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // A writer that is still running (this process) is about to publish this file.
    let running = tmp.join(format!("{}-7-123.tmp", std::process::id()));
    // A writer that died (no such pid) left this one, and something else left junk.
    let dead = tmp.join("4294967290-1-1.tmp");
    let junk = tmp.join("leftover.tmp");
    for path in [&running, &dead, &junk] {
        std::fs::write(path, b"partial").unwrap();
    }
    repo.gc(&GcOptions::default()).unwrap();
    assert!(
        running.exists(),
        "a live writer's temp file must survive gc"
    );
    assert!(!dead.exists());
    assert!(!junk.exists());
}

/// Pseudo-random hex (xorshift): compresses only to about half, so stored bytes show.
fn noise(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x >> 60) as u32, 16).unwrap_or('0')
        })
        .collect()
}

#[test]
fn a_deleted_message_is_reclaimed_even_while_a_message_of_its_day_lives_on() {
    let dir = tempfile::tempdir().unwrap();
    let options = RepositoryOptions {
        retention_days: 3,
        header_dictionary: false,
        ..RepositoryOptions::default()
    };
    let repo = Repository::init(dir.path().join("repo"), options).unwrap();
    let alice = AccountId::new("alice@example.com").unwrap();
    let mut m = Maildir::create(dir.path().join("alice"));
    // Both arrive on the same day, so one catalog describes both.
    let doomed = m.deliver(
        "INBOX",
        &message("a@x.org", "alice@example.com", "Doomed", &noise(1, 60_000)),
        "S",
        1_763_000_000,
    );
    let survivor = message(
        "b@x.org",
        "alice@example.com",
        "Survivor",
        &noise(2, 60_000),
    );
    m.deliver("INBOX", &survivor, "S", 1_763_000_100);
    let snap = |day: u32| {
        let clock = FixedClock::parse(&format!("2026-11-{day:02}T00:00:30Z")).unwrap();
        repo.snapshot(&alice, &m.source(), &clock, &SnapshotOptions::default())
            .unwrap();
    };
    snap(1);
    std::fs::remove_file(doomed).unwrap();
    for day in 2..=5 {
        snap(day);
    }
    let now = FixedClock::parse("2026-11-05T12:00:00Z").unwrap();
    let plan = repo.prune_plan(&now, None).unwrap();
    assert_eq!(plan.expired.len(), 2);
    assert!(plan.reclaimable_bytes > 20_000, "{plan:?}");
    repo.prune(&plan, &now).unwrap();
    let report = repo
        .gc(&GcOptions {
            repack_below: 0.9,
            ..GcOptions::default()
        })
        .unwrap();
    let freed = report.pack_bytes_before - report.pack_bytes_after;
    assert!(freed > 20_000, "only {freed} bytes freed: {report:?}");
    let view = repo.account(&alice).unwrap();
    let day = *view.days().unwrap().last().unwrap();
    assert_eq!(view.raw(day, &MessageId::of(&survivor)).unwrap(), survivor);
    assert!(repo.verify(&VerifyOptions::default()).unwrap().is_ok());
}

#[test]
fn bytes_an_earlier_gc_left_in_a_kept_pack_are_still_reclaimed_later() {
    let dir = tempfile::tempdir().unwrap();
    let options = RepositoryOptions {
        retention_days: 2,
        header_dictionary: false,
        ..RepositoryOptions::default()
    };
    let repo = Repository::init(dir.path().join("repo"), options).unwrap();
    let alice = AccountId::new("alice@example.com").unwrap();
    let mut m = Maildir::create(dir.path().join("alice"));
    let mut doomed = Vec::new();
    for i in 0..6u64 {
        let raw = message(
            "a@x.org",
            "alice@example.com",
            &format!("M{i}"),
            &noise(i + 10, 40_000),
        );
        let path = m.deliver("INBOX", &raw, "S", 1_763_000_000 + i as i64);
        if i % 2 == 0 {
            doomed.push(path);
        }
    }
    let snap = |day: u32| {
        let clock = FixedClock::parse(&format!("2026-11-{day:02}T00:00:30Z")).unwrap();
        repo.snapshot(&alice, &m.source(), &clock, &SnapshotOptions::default())
            .unwrap();
    };
    snap(1);
    for path in doomed {
        std::fs::remove_file(path).unwrap();
    }
    snap(2);
    snap(3);
    let now = FixedClock::parse("2026-11-03T12:00:00Z").unwrap();
    repo.prune(&repo.prune_plan(&now, None).unwrap(), &now)
        .unwrap();
    // A lenient collection keeps the half-dead pack and only drops the dead blobs from the
    // index: their bytes stay in the pack file.
    let lenient = GcOptions {
        repack_below: 0.0,
        max_unused: 1.0,
    };
    let first = repo.gc(&lenient).unwrap();
    assert!(first.blobs_removed > 0, "{first:?}");
    assert_eq!(first.pack_bytes_after, first.pack_bytes_before, "{first:?}");
    // A later, stricter collection must still see those bytes as garbage.
    let second = repo.gc(&GcOptions::default()).unwrap();
    assert!(second.packs_repacked > 0, "{second:?}");
    assert!(
        second.pack_bytes_after * 10 < second.pack_bytes_before * 7,
        "{second:?}"
    );
    assert!(repo.verify(&VerifyOptions::default()).unwrap().is_ok());
}

#[test]
fn gc_refuses_while_the_index_has_lost_track_of_live_blobs_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(MemoryBackend::new());
    let (_repo, _m, _present) = repository(&storage, dir.path());
    let indexes = storage.list("index/").unwrap();
    // Whichever day's index file is lost, its live blobs are in no index file any more.
    for lost in [0, indexes.len() / 2, indexes.len() - 1] {
        let copy = Arc::new(MemoryBackend::new());
        for key in storage.list("").unwrap() {
            if key != indexes[lost] {
                copy.write_new(&key, &storage.read(&key).unwrap()).unwrap();
            }
        }
        let packs = copy.list("packs/").unwrap();
        let repo = Repository::open_with_backend(copy.clone()).unwrap();
        let err = repo.gc(&GcOptions::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
        assert!(err.to_string().contains("mtm repair index"), "{err}");
        assert_eq!(copy.list("packs/").unwrap(), packs, "nothing deleted");
        assert_eq!(copy.list("index/").unwrap().len(), indexes.len() - 1);
    }
}
