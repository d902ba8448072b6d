//! Crash safety: a snapshot or prune that dies at any write leaves a repository that opens,
//! verifies clean and keeps every snapshot committed before; running it again succeeds.

use std::sync::Arc;

use mtm_core::{
    AccountId, Backend, ErrorKind, FaultInjectingBackend, FixedClock, MemoryBackend, MessageId,
    Repository, RepositoryOptions, SnapshotOptions, VerifyOptions,
};
use mtm_tests::{Maildir, message};

struct Mailbox {
    _dir: tempfile::TempDir,
    maildir: Maildir,
    raws: Vec<Vec<u8>>,
}

/// 210 small messages (enough to train a header dictionary) and two incompressible 3 MB
/// ones (so a snapshot writes several packs).
fn mailbox() -> Mailbox {
    let dir = tempfile::tempdir().unwrap();
    let mut maildir = Maildir::create(dir.path().join("alice"));
    let mut raws = Vec::new();
    for i in 0..210 {
        raws.push(message(
            "s@example.org",
            "alice@example.com",
            &format!("Note {i}"),
            &"text ".repeat(20 + i % 9),
        ));
    }
    for seed in 0..2u64 {
        let mut state = 0x2545_f491_4f6c_dd1du64 ^ seed;
        let noise: String = (0..3_000_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                        [(state % 64) as usize],
                )
            })
            .collect();
        raws.push(message(
            "big@example.org",
            "alice@example.com",
            &format!("Scan {seed}"),
            &noise,
        ));
    }
    for (i, raw) in raws.iter().enumerate() {
        maildir.deliver("INBOX", raw, "", 1_790_000_000 + i as i64);
    }
    Mailbox {
        _dir: dir,
        maildir,
        raws,
    }
}

fn alice() -> AccountId {
    AccountId::new("alice@example.com").unwrap()
}

fn at(day: &str) -> FixedClock {
    FixedClock::parse(&format!("{day}T00:00:30Z")).unwrap()
}

/// The repository must open on the surviving storage and verify without a problem.
fn assert_consistent(storage: &Arc<MemoryBackend>) -> Repository {
    let repo = Repository::open_with_backend(storage.clone()).unwrap();
    let report = repo.verify(&VerifyOptions::default()).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    repo
}

fn assert_reads_back(repo: &Repository, day: &str, raws: &[Vec<u8>]) {
    let view = repo.account(&alice()).unwrap();
    let day = mtm_tests::day(day);
    for raw in raws {
        assert_eq!(&view.raw(day, &MessageId::of(raw)).unwrap(), raw);
    }
}

/// How many writes and deletes `run` makes on a fresh copy of the setup.
fn count_operations(
    setup: &dyn Fn() -> Arc<MemoryBackend>,
    run: &dyn Fn(&Repository) -> bool,
) -> u64 {
    let storage = setup();
    let counter = Arc::new(FaultInjectingBackend::new(storage, 0));
    let repo = Repository::open_with_backend(counter.clone()).unwrap();
    assert!(run(&repo), "the run must succeed without faults");
    counter.operations()
}

/// Runs `run` on a fresh copy of the setup whose write or delete number `n` (of `total`)
/// and every later one fail; checks that the run noticed, and that the storage it leaves
/// opens and verifies clean. Returns the storage and a healthy handle on it.
fn crash_at(
    n: u64,
    total: u64,
    setup: &dyn Fn() -> Arc<MemoryBackend>,
    run: &dyn Fn(&Repository) -> bool,
) -> (Arc<MemoryBackend>, Repository) {
    let storage = setup();
    let faulty = Arc::new(FaultInjectingBackend::new(storage.clone(), n));
    let repo = Repository::open_with_backend(faulty).unwrap();
    assert!(!run(&repo), "failure {n} of {total} went unnoticed");
    let healthy = assert_consistent(&storage);
    (storage, healthy)
}

#[test]
fn a_first_snapshot_that_dies_at_any_write_leaves_a_clean_repository() {
    let m = mailbox();
    let setup = || {
        let storage = Arc::new(MemoryBackend::new());
        Repository::init_with_backend(storage.clone(), RepositoryOptions::default()).unwrap();
        storage
    };
    let run = |repo: &Repository| {
        repo.snapshot(
            &alice(),
            &m.maildir.source(),
            &at("2026-11-20"),
            &SnapshotOptions::default(),
        )
        .is_ok()
    };
    let total = count_operations(&setup, &run);
    assert!(
        total >= 6,
        "lock, dictionary, two or more packs, index, record, unlock: {total}"
    );
    // The last operation releases the snapshot's lock, after the commit: its failure leaves
    // a complete snapshot (and a lock that goes stale), so only the ones before must fail.
    for n in 1..total {
        let (storage, healthy) = crash_at(n, total, &setup, &run);
        assert!(
            healthy.accounts().unwrap().is_empty(),
            "failure {n}: a half snapshot is visible"
        );
        assert!(
            run(&healthy),
            "failure {n}: the snapshot cannot be taken again"
        );
        assert_reads_back(&assert_consistent(&storage), "2026-11-20", &m.raws);
    }
}

#[test]
fn a_daily_snapshot_or_prune_that_dies_at_any_write_keeps_earlier_snapshots() {
    let mut m = mailbox();
    let day_one = m.raws.clone();
    // A large message that arrives on day two: kept aside while day one is taken.
    let extra = message(
        "big2@example.org",
        "alice@example.com",
        "Scan 2",
        &"Q9z+".repeat(1_000_000),
    );
    let arrived = m.maildir.deliver("INBOX", &extra, "", 1_790_100_000);
    let aside = m._dir.path().join("aside");
    let setup = || {
        let storage = Arc::new(MemoryBackend::new());
        let options = RepositoryOptions {
            retention_days: 1,
            ..RepositoryOptions::default()
        };
        let repo = Repository::init_with_backend(storage.clone(), options).unwrap();
        std::fs::rename(&arrived, &aside).unwrap();
        repo.snapshot(
            &alice(),
            &m.maildir.source(),
            &at("2026-11-20"),
            &SnapshotOptions::default(),
        )
        .unwrap();
        std::fs::rename(&aside, &arrived).unwrap();
        storage
    };
    let snapshot_day_two = |repo: &Repository| {
        repo.snapshot(
            &alice(),
            &m.maildir.source(),
            &at("2026-11-21"),
            &SnapshotOptions::default(),
        )
        .is_ok()
    };
    let total = count_operations(&setup, &snapshot_day_two);
    for n in 1..total {
        let storage = setup();
        let repo =
            Repository::open_with_backend(Arc::new(FaultInjectingBackend::new(storage.clone(), n)))
                .unwrap();
        assert!(
            !snapshot_day_two(&repo),
            "failure {n} of {total} went unnoticed"
        );
        let healthy = assert_consistent(&storage);
        assert_reads_back(&healthy, "2026-11-20", &day_one);
        assert!(
            snapshot_day_two(&healthy),
            "failure {n}: day two cannot be taken again"
        );
        assert_reads_back(
            &assert_consistent(&storage),
            "2026-11-21",
            std::slice::from_ref(&extra),
        );
    }
    // A prune (retention of one day) that dies part way: run again, it finishes.
    let storage = setup();
    let healthy = Repository::open_with_backend(storage.clone()).unwrap();
    assert!(snapshot_day_two(&healthy));
    let now = at("2026-11-21");
    let faulty =
        Repository::open_with_backend(Arc::new(FaultInjectingBackend::new(storage.clone(), 1)))
            .unwrap();
    let plan = faulty.prune_plan(&now, None).unwrap();
    assert_eq!(plan.expired.len(), 1);
    assert!(faulty.prune(&plan, &now).is_err());
    let healthy = assert_consistent(&storage);
    assert_eq!(healthy.account(&alice()).unwrap().days().unwrap().len(), 2);
    let plan = healthy.prune_plan(&now, None).unwrap();
    assert_eq!(healthy.prune(&plan, &now).unwrap().removed, 1);
    assert_reads_back(&assert_consistent(&storage), "2026-11-21", &[extra]);
    assert!(storage.list("snapshots/").unwrap().len() == 1);
}

/// An account of a run: its id, its Maildir and the messages delivered to it.
type SmallAccount = (AccountId, Maildir, Vec<Vec<u8>>);

/// Three small accounts that share some mail (a newsletter delivered to all three), each
/// with mail of its own.
fn small_accounts() -> (tempfile::TempDir, Vec<SmallAccount>) {
    let dir = tempfile::tempdir().unwrap();
    let mut accounts = Vec::new();
    for name in ["ann", "bob", "cid"] {
        let mut maildir = Maildir::create(dir.path().join(name));
        let to = format!("{name}@example.com");
        let mut raws = vec![message(
            "news@example.org",
            "list@example.org",
            "Weekly news",
            &"the same newsletter for everyone ".repeat(40),
        )];
        for i in 0..12 {
            raws.push(message(
                "s@example.org",
                &to,
                &format!("{name} {i}"),
                &format!("{name}'s own mail {i} ").repeat(10 + i),
            ));
        }
        for (i, raw) in raws.iter().enumerate() {
            maildir.deliver("INBOX", raw, "", 1_790_000_000 + i as i64);
        }
        accounts.push((AccountId::new(&to).unwrap(), maildir, raws));
    }
    (dir, accounts)
}

#[test]
fn a_run_over_many_accounts_that_dies_at_any_write_commits_whole_accounts_only() {
    let (_dir, accounts) = small_accounts();
    let sources: Vec<_> = accounts
        .iter()
        .map(|(id, maildir, _)| (id.clone(), maildir.source()))
        .collect();
    let setup = || {
        let storage = Arc::new(MemoryBackend::new());
        Repository::init_with_backend(storage.clone(), RepositoryOptions::default()).unwrap();
        storage
    };
    let run = |repo: &Repository| {
        repo.snapshot_many(&sources, &at("2026-11-20"), &SnapshotOptions::default())
            .iter()
            .all(Result::is_ok)
    };
    let reads_back = |repo: &Repository, account: &AccountId, raws: &[Vec<u8>]| {
        let view = repo.account(account).unwrap();
        for raw in raws {
            assert_eq!(
                &view
                    .raw(mtm_tests::day("2026-11-20"), &MessageId::of(raw))
                    .unwrap(),
                raw
            );
        }
    };
    let total = count_operations(&setup, &run);
    for n in 1..total {
        let (storage, healthy) = crash_at(n, total, &setup, &run);
        // Whatever was committed is whole: every message of it reads back.
        let committed = healthy.accounts().unwrap();
        for (id, _, raws) in &accounts {
            if committed.contains(id) {
                reads_back(&healthy, id, raws);
            }
        }
        // Run again: it takes every account, or finds its record there (one written just
        // before a failed flush was reported as not committed, and may have survived).
        for result in
            healthy.snapshot_many(&sources, &at("2026-11-20"), &SnapshotOptions::default())
        {
            if let Err(e) = result {
                assert_eq!(e.kind(), ErrorKind::AlreadyExists, "failure {n}: {e}");
            }
        }
        let healthy = assert_consistent(&storage);
        for (id, _, raws) in &accounts {
            reads_back(&healthy, id, raws);
        }
    }
}
