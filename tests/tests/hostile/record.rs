//! Damaged and stray files under `snapshots/` (issue 9, class 10, from the audit): an
//! unreadable snapshot record inside the retention window is moved aside by `repair recover`
//! (its bytes kept under `damaged/`, its day dropped), after which `verify` is clean and
//! `gc` runs; a record one flipped bit damaged is mended from its seal (the day kept); files
//! that are not records are reported by `verify` and stop nothing.

use std::path::Path;

use mtm_core::{
    AccountId, FixedClock, GcOptions, MaildirAccount, MessageQuery, NaiveDate, Repository,
    VerifyOptions,
};
use mtm_tests::hostile::{chown_tree, mail_owner};
use mtm_tests::{Maildir, TestRepo, day, message};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

fn mailbox(t: &TestRepo, account: &str, n: usize) -> Maildir {
    let mut m = Maildir::create(t.dir.path().join("mail").join(account));
    for i in 0..n {
        m.deliver(
            "INBOX",
            &message(
                "s@example.org",
                account,
                &format!("Note {i}"),
                &format!("{i}"),
            ),
            "S",
            1_790_000_000 + i as i64,
        );
    }
    if let Some(owner) = mail_owner() {
        chown_tree(&m.root, owner);
    }
    m
}

/// Every message of the inbox of `account` on `on`, read byte-exact: how many.
fn read_inbox(repo: &Repository, account: &str, on: NaiveDate) -> usize {
    let view = repo.account(&AccountId::new(account).unwrap()).unwrap();
    let page = view
        .messages(on, &mtm_core::FolderName::inbox(), &MessageQuery::default())
        .unwrap();
    for m in &page.messages {
        view.raw(on, &m.id).unwrap();
    }
    page.messages.len()
}

/// Overwrites `data` at `path` in place of the file (as damage on disk would); returns it.
fn replace(path: &Path, data: Vec<u8>) -> Vec<u8> {
    std::fs::remove_file(path).unwrap();
    std::fs::write(path, &data).unwrap();
    data
}

/// Zeroes 16 bytes in the middle of a file: damage no seal can prove a repair of.
fn zero_middle(path: &Path) -> Vec<u8> {
    let mut data = std::fs::read(path).unwrap();
    let at = data.len() / 2;
    data[at..at + 16].fill(0);
    replace(path, data)
}

/// Flips one bit in the middle of a file (bit rot): the damage a seal proves the repair of.
fn flip_middle_bit(path: &Path) -> Vec<u8> {
    let mut data = std::fs::read(path).unwrap();
    let at = data.len() / 2;
    data[at] ^= 0x10;
    replace(path, data)
}

#[test]
fn class10_a_damaged_record_inside_the_window_is_moved_aside_and_verify_and_gc_recover() {
    let t = TestRepo::new();
    let mut alice = mailbox(&t, ALICE, 6);
    let bob = mailbox(&t, BOB, 3);
    t.snapshot(ALICE, &alice, "2026-11-20");
    t.snapshot(BOB, &bob, "2026-11-20");
    alice.deliver(
        "INBOX",
        &message("s@example.org", ALICE, "Only on the 21st", "x"),
        "",
        1_790_100_000,
    );
    t.snapshot(ALICE, &alice, "2026-11-21");
    t.snapshot(ALICE, &alice, "2026-11-22");
    let record = t
        .path()
        .join("snapshots")
        .join(ALICE)
        .join("2026-11-21.json");
    let damaged = zero_middle(&record);
    let repo = Repository::open(t.path()).unwrap();
    assert!(!repo.verify(&VerifyOptions::default()).unwrap().is_ok());
    assert!(repo.gc(&GcOptions::default()).is_err(), "gc refuses damage");

    let sources = vec![(
        AccountId::new(ALICE).unwrap(),
        MaildirAccount::open(&alice.root).unwrap(),
    )];
    let plan = repo.recovery_plan(&sources).unwrap();
    assert!(plan.unrepairable.is_empty(), "{plan:#?}");
    assert_eq!(plan.quarantined.len(), 1, "{plan:#?}");
    let q = &plan.quarantined[0];
    assert_eq!(q.day, day("2026-11-21"));
    assert_eq!(q.record, format!("snapshots/{ALICE}/2026-11-21.json"));
    assert_eq!(
        q.moved_to,
        format!("damaged/snapshots/{ALICE}/2026-11-21.json")
    );
    let said = q.describe();
    assert!(
        said.contains("is unreadable") && said.contains("moved aside") && said.contains("dropped"),
        "{said}"
    );
    // Planning changes nothing.
    assert_eq!(std::fs::read(&record).unwrap(), damaged);

    let clock = FixedClock::parse("2026-11-22T09:00:00Z").unwrap();
    let report = repo.recover(&plan, &clock).unwrap();
    assert_eq!(report.records_quarantined, 1);
    assert!(!record.exists());
    let kept = t
        .path()
        .join("damaged/snapshots")
        .join(ALICE)
        .join("2026-11-21.json");
    assert_eq!(
        std::fs::read(&kept).unwrap(),
        damaged,
        "the damaged bytes are kept"
    );

    let report = repo.verify(&VerifyOptions::default()).unwrap();
    assert!(report.is_ok(), "{:#?}", report.problems);
    assert_eq!(report.damaged_files, 1, "verify counts what is kept aside");
    repo.gc(&GcOptions::default()).expect("gc runs again");
    assert_eq!(
        std::fs::read(&kept).unwrap(),
        damaged,
        "gc never touches damaged/"
    );
    assert!(repo.verify(&VerifyOptions::default()).unwrap().is_ok());
    let view = repo.account(&AccountId::new(ALICE).unwrap()).unwrap();
    assert_eq!(
        view.days().unwrap(),
        vec![day("2026-11-20"), day("2026-11-22")]
    );
    assert_eq!(read_inbox(&repo, ALICE, day("2026-11-20")), 6);
    assert_eq!(read_inbox(&repo, ALICE, day("2026-11-22")), 7);
    assert_eq!(read_inbox(&repo, BOB, day("2026-11-20")), 3);
    assert!(repo.recovery_plan(&sources).unwrap().is_empty());
    // The next nightly run goes on.
    t.snapshot(ALICE, &alice, "2026-11-23");
    assert_eq!(read_inbox(&repo, ALICE, day("2026-11-23")), 7);
}

#[test]
fn a_second_damaged_copy_of_the_same_day_is_kept_beside_the_first() {
    let t = TestRepo::new();
    let mut alice = mailbox(&t, ALICE, 2);
    let clock = FixedClock::parse("2026-11-22T09:00:00Z").unwrap();
    let sources = vec![(
        AccountId::new(ALICE).unwrap(),
        MaildirAccount::open(&alice.root).unwrap(),
    )];
    let record = t
        .path()
        .join("snapshots")
        .join(ALICE)
        .join("2026-11-20.json");
    let mut copies = Vec::new();
    for i in 0..2 {
        alice.deliver(
            "INBOX",
            &message("s@example.org", ALICE, &format!("Copy {i}"), "x"),
            "",
            1_790_100_000,
        );
        t.snapshot(ALICE, &alice, "2026-11-20");
        copies.push(zero_middle(&record));
        let plan = t.repo.recovery_plan(&sources).unwrap();
        t.repo.recover(&plan, &clock).unwrap();
    }
    let dir = t.path().join("damaged/snapshots").join(ALICE);
    assert_eq!(
        std::fs::read(dir.join("2026-11-20.json")).unwrap(),
        copies[0]
    );
    assert_eq!(
        std::fs::read(dir.join("2026-11-20.json.2")).unwrap(),
        copies[1]
    );
    assert_eq!(
        t.repo
            .verify(&VerifyOptions::default())
            .unwrap()
            .damaged_files,
        2
    );
}

#[test]
fn stray_files_under_snapshots_are_reported_by_name_and_stop_nothing() {
    let t = TestRepo::new();
    let alice = mailbox(&t, ALICE, 3);
    t.snapshot(ALICE, &alice, "2026-11-20");
    let snapshots = t.path().join("snapshots");
    let dir = snapshots.join(ALICE);
    std::fs::write(dir.join("garbage.json"), b"{}").unwrap();
    std::fs::write(dir.join("notes.txt"), b"remember").unwrap();
    // Not how a record is named: a day without its leading zeros.
    std::fs::write(dir.join("2026-11-5.json"), b"{}").unwrap();
    // A directory where a record is expected, with a file in it.
    std::fs::create_dir(dir.join("2026-11-21.json")).unwrap();
    std::fs::write(dir.join("2026-11-21.json").join("inside"), b"x").unwrap();
    // A file where an account's directory is expected.
    std::fs::write(snapshots.join("README"), b"hello").unwrap();
    let strays = [
        format!("snapshots/{ALICE}/garbage.json"),
        format!("snapshots/{ALICE}/notes.txt"),
        format!("snapshots/{ALICE}/2026-11-5.json"),
        format!("snapshots/{ALICE}/2026-11-21.json/inside"),
        "snapshots/README".to_owned(),
    ];

    let report = t.repo.verify(&VerifyOptions::default()).unwrap();
    for stray in &strays {
        let found = report.problems.iter().find(|p| &p.location == stray);
        assert!(
            found.is_some_and(|p| p.reason.contains("not a file of the repository")
                && p.reason.contains("left alone")),
            "{stray}: {:#?}",
            report.problems
        );
    }
    assert_eq!(
        report.problems.len(),
        strays.len(),
        "{:#?}",
        report.problems
    );
    assert_eq!(report.snapshots, 1);

    // Nothing else trips over them, and nothing touches them.
    let view = t.repo.account(&AccountId::new(ALICE).unwrap()).unwrap();
    assert_eq!(view.days().unwrap(), vec![day("2026-11-20")]);
    assert_eq!(read_inbox(&t.repo, ALICE, day("2026-11-20")), 3);
    t.snapshot(ALICE, &alice, "2026-11-22");
    t.repo.gc(&GcOptions::default()).unwrap();
    let now = FixedClock::parse("2026-11-22T12:00:00Z").unwrap();
    t.repo.prune_plan(&now, None).unwrap();
    let plan = t.repo.recovery_plan(&[]).unwrap();
    assert!(plan.is_empty(), "{plan:#?}");
    for stray in &strays {
        assert!(t.path().join(stray).exists(), "{stray} left alone");
    }
    assert_eq!(read_inbox(&t.repo, ALICE, day("2026-11-22")), 3);
}

#[test]
fn class10_a_record_one_flipped_bit_damaged_is_mended_from_its_seal_and_the_day_kept() {
    let t = TestRepo::new();
    let alice = mailbox(&t, ALICE, 5);
    t.snapshot(ALICE, &alice, "2026-11-20");
    t.snapshot(ALICE, &alice, "2026-11-21");
    let record = t
        .path()
        .join("snapshots")
        .join(ALICE)
        .join("2026-11-21.json");
    let original = std::fs::read(&record).unwrap();
    let damaged = flip_middle_bit(&record);
    let repo = Repository::open(t.path()).unwrap();
    assert!(!repo.verify(&VerifyOptions::default()).unwrap().is_ok());

    let sources = vec![(
        AccountId::new(ALICE).unwrap(),
        MaildirAccount::open(&alice.root).unwrap(),
    )];
    let plan = repo.recovery_plan(&sources).unwrap();
    assert_eq!(plan.quarantined.len(), 1, "{plan:#?}");
    let said = plan.quarantined[0].describe();
    assert!(
        said.contains("one bit of it was flipped") && said.contains("day kept"),
        "{said}"
    );
    assert_eq!(
        std::fs::read(&record).unwrap(),
        damaged,
        "planning changes nothing"
    );

    let clock = FixedClock::parse("2026-11-21T09:00:00Z").unwrap();
    let report = repo.recover(&plan, &clock).unwrap();
    assert_eq!((report.records_mended, report.records_quarantined), (1, 0));
    assert_eq!(
        std::fs::read(&record).unwrap(),
        original,
        "the original, byte for byte"
    );
    let kept = t
        .path()
        .join("damaged/snapshots")
        .join(ALICE)
        .join("2026-11-21.json");
    assert_eq!(
        std::fs::read(&kept).unwrap(),
        damaged,
        "the damaged bytes are kept"
    );
    let verified = repo.verify(&VerifyOptions::default()).unwrap();
    assert!(verified.is_ok(), "{:#?}", verified.problems);
    repo.gc(&GcOptions::default()).expect("gc runs again");
    assert_eq!(read_inbox(&repo, ALICE, day("2026-11-21")), 5);
    assert!(repo.recovery_plan(&sources).unwrap().is_empty());
}
