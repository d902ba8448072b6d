//! The independent audit of issue 9 (classes 5 to 17), run as a new user would: what the
//! audit found still failing, each as the behaviour it now guards.

use std::path::Path;

use mtm_core::{AccountId, FixedClock, GcOptions, NaiveDate, VerifyOptions};
use mtm_tests::hostile::{chown_tree, mail_owner};
use mtm_tests::{Maildir, TestRepo, day, message};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

fn account(name: &str) -> AccountId {
    AccountId::new(name).unwrap()
}

fn at(text: &str) -> FixedClock {
    FixedClock::parse(text).unwrap()
}

/// Flips one byte in the middle of a file, replacing it (as damage on disk would).
fn flip_middle(path: &Path) {
    let mut data = std::fs::read(path).unwrap();
    let at = data.len() / 2;
    data[at] ^= 0x10;
    std::fs::remove_file(path).unwrap();
    std::fs::write(path, data).unwrap();
}

fn days(t: &TestRepo, name: &str) -> Vec<NaiveDate> {
    t.repo.account(&account(name)).unwrap().days().unwrap()
}

/// Classes 9 and 10: one flipped byte in one account's snapshot record (a file `repair
/// recover` lists as unrepairable and leaves alone) stopped every prune of every account and
/// every gc for good: the damaged day could never be pruned, so gc never ran again. Now the
/// other accounts' retention goes on while the damaged day is kept, and once it leaves the
/// window it is pruned like any other day, after which gc runs and verify is clean.
#[test]
fn class10_a_damaged_snapshot_record_never_stops_retention_and_gc_for_good() {
    let t = TestRepo::with_options(mtm_core::RepositoryOptions {
        retention_days: 3,
        header_dictionary: false,
        ..Default::default()
    });
    let mut alice = Maildir::create(t.dir.path().join("mail").join(ALICE));
    let mut bob = Maildir::create(t.dir.path().join("mail").join(BOB));
    alice.deliver(
        "INBOX",
        &message("a@example.org", ALICE, "For Alice", "a"),
        "",
        1_790_000_000,
    );
    bob.deliver(
        "INBOX",
        &message("b@example.org", BOB, "For Bob", "b"),
        "",
        1_790_000_000,
    );
    if let Some(owner) = mail_owner() {
        chown_tree(&t.dir.path().join("mail"), owner);
    }
    for d in ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"] {
        t.snapshot(ALICE, &alice, d);
        t.snapshot(BOB, &bob, d);
    }
    let record = t
        .path()
        .join("snapshots")
        .join(ALICE)
        .join("2026-11-21.json");
    flip_middle(&record);

    // 11-23: Alice's damaged 11-21 is still in the window; both accounts' 11-20 is not.
    let now = at("2026-11-23T12:00:00Z");
    let plan = t
        .repo
        .prune_plan(&now, None)
        .expect("a damaged kept record must not stop the prune plan");
    let expired: Vec<(String, NaiveDate)> = plan
        .expired
        .iter()
        .map(|s| (s.account.to_string(), s.day))
        .collect();
    assert_eq!(
        expired,
        vec![
            (ALICE.to_string(), day("2026-11-20")),
            (BOB.to_string(), day("2026-11-20"))
        ]
    );
    assert_eq!(t.repo.prune(&plan, &now).unwrap().removed, 2);
    assert!(
        !days(&t, BOB).contains(&day("2026-11-20")),
        "Bob's retention went on"
    );

    // 11-24: the damaged day leaves the window and is pruned (by its name: it cannot be read).
    let now = at("2026-11-24T12:00:00Z");
    let (plan, pruned, _gc) = t
        .repo
        .prune_and_gc(&now, None, &GcOptions::default())
        .expect("prune --gc removes the damaged record once it has expired, then collects");
    assert!(
        plan.expired
            .iter()
            .any(|s| s.account == account(ALICE) && s.day == day("2026-11-21")),
        "{plan:?}"
    );
    assert_eq!(pruned.removed, 2);
    assert!(!record.exists());
    t.repo.gc(&GcOptions::default()).expect("gc runs again");
    let report = t.repo.verify(&VerifyOptions { read_data: 1.0 }).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    for name in [ALICE, BOB] {
        let view = t.repo.account(&account(name)).unwrap();
        for d in view.days().unwrap() {
            let folder = mtm_core::FolderName::inbox();
            let page = view
                .messages(d, &folder, &mtm_core::MessageQuery::default())
                .unwrap();
            assert_eq!(page.messages.len(), 1);
            view.raw(d, &page.messages[0].id).unwrap();
        }
    }
}

/// Classes 9 and 10: a deleted dictionary made `verify` stop with "file not found" (exit 3)
/// instead of reporting the damage, and reading a message it compressed answered "not
/// found" as if the message did not exist. Now verify reports it as damage naming the
/// dictionary, a read is an integrity error, and `repair recover` mends it from the live
/// Maildir, after which verify is clean.
#[test]
fn class9_a_lost_dictionary_is_reported_as_damage_and_recovered() {
    let t = TestRepo::new();
    let mail = t.dir.path().join("mail");
    let mut alice = Maildir::create(mail.join(ALICE));
    for i in 0..300 {
        let raw = mtm_tests::delivered(
            ALICE,
            &format!("{i:08x}"),
            &message(
                "news@example.org",
                ALICE,
                &format!("Issue {i}"),
                &format!("body {i}"),
            ),
        );
        alice.deliver("INBOX", &raw, "S", 1_790_000_000 + i);
    }
    if let Some(owner) = mail_owner() {
        chown_tree(&mail, owner);
    }
    t.snapshot(ALICE, &alice, "2026-11-20");
    let dictionaries: Vec<_> = std::fs::read_dir(t.path().join("dictionaries"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dictionaries.len(), 1, "300 messages train a dictionary");
    std::fs::remove_file(&dictionaries[0]).unwrap();
    let name = dictionaries[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();

    // A fresh process: the handle that took the snapshot still holds the dictionary.
    let repo = mtm_core::Repository::open(t.path()).unwrap();
    let view = repo.account(&account(ALICE)).unwrap();
    let page = view
        .messages(
            day("2026-11-20"),
            &mtm_core::FolderName::inbox(),
            &mtm_core::MessageQuery::default(),
        )
        .unwrap();
    let err = view
        .raw(day("2026-11-20"), &page.messages[0].id)
        .unwrap_err();
    assert_eq!(err.kind(), mtm_core::ErrorKind::Integrity, "{err}");

    let report = repo
        .verify(&VerifyOptions { read_data: 1.0 })
        .expect("verify reports a lost dictionary, it does not stop at it");
    assert!(
        report
            .problems
            .iter()
            .any(|p| format!("{} {}", p.location, p.reason).contains(&name)),
        "{:?}",
        report.problems
    );
    let sources = vec![(account(ALICE), alice.source())];
    let plan = repo.recovery_plan(&sources).unwrap();
    repo.recover(&plan, &at("2026-11-20T12:00:00Z")).unwrap();
    let report = repo.verify(&VerifyOptions { read_data: 1.0 }).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(view.raw(day("2026-11-20"), &page.messages[0].id).is_ok());
}

/// Class 8: a huge file under `locks/` was read whole by every snapshot and gc that listed
/// the locks (a file of gigabytes exhausts their memory). It is now not read: it counts as
/// an unreadable lock (for the grace period after it was written), named with its size.
#[test]
fn class8_a_huge_lock_file_is_not_read_whole() {
    let t = TestRepo::new();
    let locks = t.path().join("locks");
    std::fs::create_dir_all(&locks).unwrap();
    let huge = locks.join("gc-huge.json");
    let file = std::fs::File::create(&huge).unwrap();
    file.set_len(200 * 1024 * 1024).unwrap(); // sparse: 200 MiB of zeros, no disk used
    drop(file);
    let err = t.repo.gc(&GcOptions::default()).unwrap_err();
    assert_eq!(err.kind(), mtm_core::ErrorKind::Busy, "{err}");
    let message = err.to_string();
    assert!(message.contains("locks/gc-huge.json"), "{message}");
    assert!(
        message.contains("209715200 bytes"),
        "named with its size: {message}"
    );
}

/// Classes 9 and 10: one flipped byte in the journal of one account's latest restore request
/// (even a completed one) stopped every prune of every account: the open requests that pin
/// snapshots could not be listed. Now only that account's snapshots are kept (its request's
/// state is unknown, so whatever it may need stays); every other account's retention goes on.
#[test]
fn class10_a_damaged_restore_journal_keeps_its_account_and_never_stops_the_others() {
    let t = TestRepo::with_options(mtm_core::RepositoryOptions {
        retention_days: 3,
        header_dictionary: false,
        ..Default::default()
    });
    let root = t.dir.path().join("mail");
    let mut alice = Maildir::create(root.join(ALICE));
    let mut bob = Maildir::create(root.join(BOB));
    alice.deliver(
        "INBOX",
        &message("a@example.org", ALICE, "For Alice", "a"),
        "",
        1_790_000_000,
    );
    bob.deliver(
        "INBOX",
        &message("b@example.org", BOB, "For Bob", "b"),
        "",
        1_790_000_000,
    );
    if let Some(owner) = mail_owner() {
        chown_tree(&root, owner);
    }
    for d in ["2026-11-20", "2026-11-21", "2026-11-22"] {
        t.snapshot(ALICE, &alice, d);
        t.snapshot(BOB, &bob, d);
    }
    let settings = mtm_core::RestoreSettings {
        pricing: mtm_core::Pricing {
            currency: "EUR".into(),
            base: 500,
            per_gib: 100,
        },
        tag_keyword: None,
        ..Default::default()
    };
    let desk =
        mtm_core::RestoreDesk::new(t.repo.clone(), mtm_core::MaildirRoot::new(&root), settings);
    let asked = desk
        .request(
            &mtm_core::Actor::User(account(ALICE)),
            &account(ALICE),
            day("2026-11-22"),
            mtm_core::RestoreScope::Account,
            &at("2026-11-22T09:00:00Z"),
        )
        .unwrap();
    desk.reject(
        &mtm_core::Actor::admin("carol").unwrap(),
        &asked.request.id,
        "not needed",
        &at("2026-11-22T10:00:00Z"),
    )
    .unwrap();
    let journal = t.path().join("restores").join(ALICE).join("000001");
    let mut entries: Vec<_> = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    flip_middle(entries.last().unwrap());

    let now = at("2026-11-24T12:00:00Z");
    let plan = t
        .repo
        .prune_plan(&now, None)
        .expect("one damaged journal must not stop every prune");
    let expired: Vec<(String, NaiveDate)> = plan
        .expired
        .iter()
        .map(|s| (s.account.to_string(), s.day))
        .collect();
    assert_eq!(
        expired,
        vec![
            (BOB.to_string(), day("2026-11-20")),
            (BOB.to_string(), day("2026-11-21"))
        ],
        "Bob's retention goes on; Alice's days are kept while her request cannot be read"
    );
    assert_eq!(plan.pinned.len(), 2, "{:?}", plan.pinned);
    assert_eq!(t.repo.prune(&plan, &now).unwrap().removed, 2);
    assert_eq!(days(&t, ALICE).len(), 3);
    assert_eq!(days(&t, BOB), [day("2026-11-22")]);
}

/// Class 7: a hand-edited config with a misspelt key (`retention_day: 30`) opened, silently
/// keeping the default 15 days: the admin believed 30 were kept. A config with a key this
/// version does not know is now refused as damaged, naming the key (a new field comes with a
/// new format number, so no valid config has one).
#[test]
fn class7_a_config_with_an_unknown_key_does_not_open() {
    let t = TestRepo::new();
    let config = t.path().join("config");
    std::fs::write(
        &config,
        br#"{"format": 1, "id": "0123456789abcdef", "time_zone": "UTC", "header_dictionary": true, "retention_day": 30}"#,
    )
    .unwrap();
    let err = mtm_core::Repository::open(t.path()).unwrap_err();
    assert_eq!(err.kind(), mtm_core::ErrorKind::Integrity, "{err}");
    assert!(err.to_string().contains("retention_day"), "{err}");
    // The same config spelt right opens (an old, unsealed format-1 config).
    std::fs::write(
        &config,
        br#"{"format": 1, "id": "0123456789abcdef", "time_zone": "UTC", "header_dictionary": true, "retention_days": 30}"#,
    )
    .unwrap();
    mtm_core::Repository::open(t.path()).unwrap();
}

/// Class 10: `repair recover` publishes the replacement records a crashed recovery left
/// (`<day>.json.repair`) without reading them: a damaged or stray one replaced the intact
/// record of that day with garbage, and the day's snapshot was gone. A staged record that is
/// not a sound record of its own account and day is now never published: the intact record
/// stays, and the stray file is removed.
#[test]
fn class10_a_damaged_staged_repair_record_never_replaces_an_intact_one() {
    let t = TestRepo::new();
    let root = t.dir.path().join("mail");
    let mut alice = Maildir::create(root.join(ALICE));
    alice.deliver(
        "INBOX",
        &message("a@example.org", ALICE, "Keep me", "a"),
        "",
        1_790_000_000,
    );
    if let Some(owner) = mail_owner() {
        chown_tree(&root, owner);
    }
    t.snapshot(ALICE, &alice, "2026-11-20");
    t.snapshot(ALICE, &alice, "2026-11-21");
    let dir = t.path().join("snapshots").join(ALICE);
    let intact = std::fs::read(dir.join("2026-11-20.json")).unwrap();
    // Garbage, and a sound record of another day (which is not this day's either).
    let other_day = std::fs::read(dir.join("2026-11-21.json")).unwrap();
    for staged in [b"garbage".to_vec(), other_day] {
        std::fs::write(dir.join("2026-11-20.json.repair"), &staged).unwrap();
        let sources = vec![(account(ALICE), alice.source())];
        let plan = t.repo.recovery_plan(&sources).unwrap();
        t.repo.recover(&plan, &at("2026-11-21T12:00:00Z")).unwrap();
        assert_eq!(std::fs::read(dir.join("2026-11-20.json")).unwrap(), intact);
        assert!(!dir.join("2026-11-20.json.repair").exists());
        let view = t.repo.account(&account(ALICE)).unwrap();
        assert_eq!(view.days().unwrap(), [day("2026-11-20"), day("2026-11-21")]);
        let report = t.repo.verify(&VerifyOptions { read_data: 1.0 }).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
}
