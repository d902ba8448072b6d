//! Data safety and availability against damaged or forged repository state (issue 9, items
//! 5 to 8): a lost index file never lets gc delete the only copy of live mail, a forged or
//! stale prune plan removes nothing, a damaged config does not open, and one bad lock file
//! never stops backups for good.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mtm_core::{
    AccountId, Actor, ErrorKind, ExpiredSnapshot, FaultInjectingBackend, FixedClock, GcOptions,
    LocalBackend, MaildirRoot, Pricing, PrunePlan, Repository, RequestState, RestoreDesk,
    RestoreScope, RestoreSettings, VerifyOptions,
};
use mtm_tests::{Maildir, TestRepo, day, delivered, message};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

fn account(name: &str) -> AccountId {
    AccountId::new(name).unwrap()
}

fn at(text: &str) -> FixedClock {
    FixedClock::parse(text).unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Alice and Bob got the same newsletter; Bob's copy shares its header and body blobs with
/// Alice's, which her snapshot stored (and her index file names). Alice's snapshot then
/// expires and is pruned, and her index file is lost: Bob's newsletter now lives only in a
/// pack that no index file names.
fn bobs_mail_in_a_pack_no_index_names() -> (TestRepo, Vec<PathBuf>) {
    let t = TestRepo::with_options(mtm_core::RepositoryOptions {
        retention_days: 3,
        header_dictionary: false,
        ..Default::default()
    });
    let newsletter = message(
        "news@example.org",
        "list@example.org",
        "Newsletter",
        &"x".repeat(20_000),
    );
    let mut alice = Maildir::create(t.dir.path().join(ALICE));
    alice.deliver(
        "INBOX",
        &delivered(ALICE, "A1", &newsletter),
        "",
        1_790_000_000,
    );
    t.snapshot(ALICE, &alice, "2026-11-01");
    let alices_index = files_under(&t.path().join("index"));
    let alices_packs = files_under(&t.path().join("packs"));
    assert_eq!(alices_index.len(), 1);

    let mut bob = Maildir::create(t.dir.path().join(BOB));
    bob.deliver(
        "INBOX",
        &delivered(BOB, "B1", &newsletter),
        "S",
        1_790_000_100,
    );
    t.snapshot(BOB, &bob, "2026-11-05");
    let now = at("2026-11-05T12:00:00Z");
    let plan = t.repo.prune_plan(&now, None).unwrap();
    assert_eq!(plan.expired.len(), 1, "Alice's day expires");
    t.repo.prune(&plan, &now).unwrap();

    fs::remove_file(&alices_index[0]).unwrap();
    (t, alices_packs)
}

#[test]
fn a_lost_index_file_never_lets_gc_delete_the_only_copy_and_verify_calls_it_damage() {
    let (t, alices_packs) = bobs_mail_in_a_pack_no_index_names();
    let before: Vec<Vec<u8>> = alices_packs.iter().map(|p| fs::read(p).unwrap()).collect();
    let repo = Repository::open(t.path()).unwrap();

    let report = repo.verify(&VerifyOptions::default()).unwrap();
    assert!(!report.is_ok());
    assert_eq!(report.unreferenced_packs, 0, "not harmless: {report:?}");
    let pack_problem = report
        .problems
        .iter()
        .find(|p| alices_packs.iter().any(|a| a.ends_with(&p.location)))
        .unwrap_or_else(|| panic!("no problem names Alice's pack: {:?}", report.problems));
    assert!(
        pack_problem.reason.contains("mtm repair index"),
        "{pack_problem:?}"
    );
    let blob_problem = report
        .problems
        .iter()
        .find(|p| p.messages.iter().any(|m| m.account == account(BOB)))
        .unwrap();
    assert!(
        blob_problem.reason.contains("missing from the index")
            && blob_problem.reason.contains("mtm repair index"),
        "{blob_problem:?}"
    );

    let err = repo.gc(&GcOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(err.to_string().contains("mtm repair index"), "{err}");
    let err = repo
        .prune_and_gc(&at("2026-11-05T12:00:00Z"), None, &GcOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    let after: Vec<Vec<u8>> = alices_packs.iter().map(|p| fs::read(p).unwrap()).collect();
    assert_eq!(
        before, after,
        "the only copy of Bob's newsletter is still there"
    );
}

/// A plan that names snapshots it may not remove: a forged entry inside the window.
#[test]
fn a_forged_prune_plan_removes_nothing() {
    let t = TestRepo::new();
    let mut alice = Maildir::create(t.dir.path().join(ALICE));
    alice.deliver(
        "INBOX",
        &message("a@example.org", ALICE, "Keep me", "body"),
        "",
        1_790_000_000,
    );
    for d in ["2026-11-01", "2026-11-10", "2026-11-20"] {
        t.snapshot(ALICE, &alice, d);
    }
    let now = at("2026-11-20T12:00:00Z");
    let honest = t.repo.prune_plan(&now, None).unwrap();
    assert_eq!(
        honest.expired.len(),
        1,
        "only 11-01 is past the 15-day window"
    );
    let mut forged: PrunePlan = honest.clone();
    forged.expired.push(ExpiredSnapshot {
        account: account(ALICE),
        day: day("2026-11-10"),
        messages: 1,
        bytes: 1,
    });
    let err = t.repo.prune(&forged, &now).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("2026-11-10"), "{err}");
    let days = t.repo.account(&account(ALICE)).unwrap().days().unwrap();
    assert_eq!(days.len(), 3, "nothing removed, not even the honest entry");

    // A plan made "as of" a later day, carried out today: stale, refused the same way.
    let tomorrow_plan = t
        .repo
        .prune_plan(&at("2026-11-26T12:00:00Z"), None)
        .unwrap();
    assert_eq!(tomorrow_plan.expired.len(), 2);
    let err = t.repo.prune(&tomorrow_plan, &now).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert_eq!(
        t.repo
            .account(&account(ALICE))
            .unwrap()
            .days()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(t.repo.prune(&honest, &now).unwrap().removed, 1);
}

/// A desk over the repository at `path` and the mail root `root`.
fn desk(repo: Repository, root: &Path) -> RestoreDesk {
    let settings = RestoreSettings {
        pricing: Pricing {
            currency: "EUR".into(),
            base: 500,
            per_gib: 100,
        },
        tag_keyword: None,
        ..Default::default()
    };
    RestoreDesk::new(repo, MaildirRoot::new(root), settings)
}

#[test]
fn a_prune_plan_made_before_a_restore_pinned_its_day_removes_nothing() {
    // The restore is approved, and the repository fails before it completes (as in a
    // crash): the request stays running, and keeps its snapshot. Which storage operation
    // to fail for that is found by trying, so the test does not depend on their order.
    for fail_at in 1..40 {
        let t = TestRepo::new();
        let root = tempfile::tempdir().unwrap();
        let mut alice = Maildir::create(root.path().join(ALICE));
        let lost = alice.deliver(
            "INBOX",
            &message("a@example.org", ALICE, "Lost", "body"),
            "",
            1_790_000_000,
        );
        t.snapshot(ALICE, &alice, "2026-11-10");
        fs::remove_file(lost).unwrap();
        let asked = desk(t.repo.clone(), root.path())
            .request(
                &Actor::User(account(ALICE)),
                &account(ALICE),
                day("2026-11-10"),
                RestoreScope::Account,
                &at("2026-11-12T09:00:00Z"),
            )
            .unwrap();
        // Weeks later the day is past the window and the open request past its deadline:
        // the plan removes the snapshot.
        let later = at("2026-12-01T03:00:00Z");
        let plan = t.repo.prune_plan(&later, None).unwrap();
        assert_eq!(plan.expired.len(), 1);

        let faulty = Arc::new(FaultInjectingBackend::new(
            Arc::new(LocalBackend::new(t.path()).unwrap()),
            fail_at,
        ));
        let broken = desk(Repository::open_with_backend(faulty).unwrap(), root.path());
        let id = asked.request.id.clone();
        if broken
            .approve(
                &Actor::admin("carol").unwrap(),
                &id,
                &at("2026-11-12T10:00:00Z"),
            )
            .is_ok()
        {
            panic!("no failed write left the restore running");
        }
        let state = desk(t.repo.clone(), root.path())
            .get(&Actor::admin("carol").unwrap(), &id)
            .unwrap()
            .request
            .state;
        if state != RequestState::Running {
            continue;
        }
        let err = t.repo.prune(&plan, &later).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains(&id.to_string()), "{err}");
        assert_eq!(
            t.repo.account(&account(ALICE)).unwrap().days().unwrap(),
            [day("2026-11-10")]
        );
        return;
    }
    panic!("no failed write left the restore running");
}

#[test]
fn a_config_that_init_would_refuse_or_that_is_damaged_does_not_open() {
    let t = TestRepo::new();
    let config = t.path().join("config");
    let sealed = fs::read_to_string(&config).unwrap();
    assert!(
        sealed.contains("\"blake3\""),
        "configs are sealed: {sealed}"
    );

    // One changed value in a sealed config: the seal catches it.
    fs::write(
        &config,
        sealed.replace("\"retention_days\": 15", "\"retention_days\": 0"),
    )
    .unwrap();
    let err = Repository::open(t.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(err.to_string().contains("config"), "{err}");

    // An old, unsealed config still opens, and is checked like init's options.
    let old = |retention_days: u32, time_zone: &str| {
        format!(
            r#"{{"format": 1, "id": "0123456789abcdef", "time_zone": "{time_zone}", "header_dictionary": true, "retention_days": {retention_days}}}"#
        )
    };
    fs::write(&config, old(15, "Europe/Rome")).unwrap();
    assert_eq!(Repository::open(t.path()).unwrap().retention_days(), 15);
    for bad in [
        old(0, "UTC"),
        old(15, "Mars/Olympus"),
        old(4_000_000, "UTC"),
        String::new(),
    ] {
        fs::write(&config, &bad).unwrap();
        let err = Repository::open(t.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity, "{bad}: {err}");
        assert!(err.to_string().contains("config"), "{err}");
    }
}

fn age(path: &Path, by: Duration) {
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - by).unwrap();
}

#[test]
fn an_empty_or_garbage_lock_file_never_stops_backups_for_good() {
    let t = TestRepo::new();
    let mut alice = Maildir::create(t.dir.path().join(ALICE));
    alice.deliver(
        "INBOX",
        &message("a@example.org", ALICE, "Hi", "body"),
        "",
        1_790_000_000,
    );
    let locks = t.path().join("locks");
    fs::create_dir_all(&locks).unwrap();

    // An empty gc lock: fresh, it is honoured, and the refusal says how to clear it.
    let empty = locks.join("gc-0000000000000000.json");
    fs::write(&empty, b"").unwrap();
    let no_wait = mtm_core::SnapshotOptions {
        lock_wait: Duration::ZERO,
        ..Default::default()
    };
    let err = t
        .try_snapshot(ALICE, &alice, "2026-11-01", &no_wait)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("locks/gc-0000000000000000.json") && text.contains("safe to delete"),
        "{text}"
    );
    assert!(!text.contains("process 0"), "{text}");
    // An hour later it is stale: the snapshot removes it and runs.
    age(&empty, Duration::from_secs(2 * 3600));
    t.snapshot(ALICE, &alice, "2026-11-01");
    assert!(!empty.exists());

    // Garbage named as a snapshot lock blocks only gc while fresh, then nothing.
    let garbage = locks.join("snapshot-0000000000000001.json");
    fs::write(&garbage, b"\x00\xffnot json").unwrap();
    t.snapshot(ALICE, &alice, "2026-11-02");
    let err = t.repo.gc(&GcOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy, "{err}");
    age(&garbage, Duration::from_secs(2 * 3600));
    t.repo.gc(&GcOptions::default()).unwrap();
    assert!(!garbage.exists());
    assert!(files_under(&locks).is_empty());
}

/// `n` accounts `user<i>@example.com`, one message each, opened as live Maildirs.
fn accounts_with_one_message(
    t: &TestRepo,
    n: usize,
) -> Vec<(mtm_core::AccountId, mtm_core::MaildirAccount)> {
    (0..n)
        .map(|i| {
            let name = format!("user{i}@example.com");
            let mut m = Maildir::create(t.dir.path().join("mail").join(&name));
            m.deliver(
                "INBOX",
                &message("a@example.org", &name, "Hi", "body"),
                "",
                1_790_000_000,
            );
            (
                mtm_core::AccountId::new(&name).unwrap(),
                mtm_core::MaildirAccount::open(&m.root).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_held_lock_costs_a_run_of_many_accounts_one_wait_not_one_per_account() {
    let t = TestRepo::new();
    let accounts = accounts_with_one_message(&t, 6);
    let locks = t.path().join("locks");
    fs::create_dir_all(&locks).unwrap();
    // A garbage gc lock, fresh: it counts as held for an hour.
    fs::write(locks.join("gc-0000000000000000.json"), b"garbage").unwrap();
    let options = mtm_core::SnapshotOptions {
        threads: 1,
        lock_wait: Duration::from_secs(1),
        ..Default::default()
    };
    let clock = mtm_core::FixedClock::parse("2026-11-01T02:00:00Z").unwrap();
    let started = std::time::Instant::now();
    let results = t.repo.snapshot_many(&accounts, &clock, &options);
    let took = started.elapsed();
    assert_eq!(results.len(), 6);
    for result in &results {
        let err = result.as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Busy, "{err}");
        assert!(
            err.to_string().contains("gc-0000000000000000.json"),
            "{err}"
        );
    }
    // Six accounts waiting one second each would take six seconds.
    assert!(
        took < Duration::from_secs(4),
        "six accounts behind one held lock took {took:?}"
    );
}

/// Records the lock files present each time a snapshot starts an account.
#[derive(Debug)]
struct LocksSeen {
    locks: PathBuf,
    seen: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl mtm_core::SnapshotProgress for LocksSeen {
    fn started(&self, _: &mtm_core::AccountId, _: u64, _: u64, _: u64) {
        let mut seen = self.seen.lock().unwrap();
        for entry in fs::read_dir(&self.locks).unwrap() {
            seen.insert(entry.unwrap().file_name().to_string_lossy().into_owned());
        }
    }
    fn advanced(&self, _: u64) {}
}

#[test]
fn a_run_over_many_accounts_holds_one_lock_from_start_to_end() {
    let t = TestRepo::new();
    let accounts = accounts_with_one_message(&t, 5);
    let seen = Arc::new(LocksSeen {
        locks: t.path().join("locks"),
        seen: Default::default(),
    });
    let options = mtm_core::SnapshotOptions {
        threads: 1,
        progress: Some(seen.clone()),
        ..Default::default()
    };
    let clock = mtm_core::FixedClock::parse("2026-11-01T02:00:00Z").unwrap();
    for result in t.repo.snapshot_many(&accounts, &clock, &options) {
        result.unwrap();
    }
    let seen = seen.seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        1,
        "one lock for the run, not one per account: {seen:?}"
    );
    assert!(
        seen.iter().all(|name| name.starts_with("snapshot-")),
        "{seen:?}"
    );
    assert!(
        files_under(&t.path().join("locks")).is_empty(),
        "released at the end"
    );
}
