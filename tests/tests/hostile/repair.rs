//! Data safety and availability under repository damage (issue 9, items 5, 9 and 10): a
//! lost index file is rebuilt from the pack trailers; a flipped byte in yesterday's manifest
//! or catalog, or in the dictionary, never stops today's snapshot; a catalog flip is
//! recovered from the live Maildir, after which `verify` is clean and `gc` runs.

use std::path::{Path, PathBuf};

use mtm_core::{
    AccountId, FixedClock, GcOptions, MaildirAccount, MessageQuery, NaiveDate, Repository,
    VerifyOptions,
};
use mtm_tests::hostile::{chown_tree, mail_owner};
use mtm_tests::{Maildir, TestRepo, day, message};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

/// Every file below `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The blobs of a pack as its trailer lists them (FORMAT.md): (kind, offset, stored length).
fn pack_blobs(pack: &Path) -> Vec<(u8, usize, usize)> {
    let data = std::fs::read(pack).unwrap();
    let n = u32::from_le_bytes(data[data.len() - 12..data.len() - 8].try_into().unwrap()) as usize;
    let table = data.len() - 44 - 48 * n;
    (0..n)
        .map(|i| {
            let r = &data[table + 48 * i..table + 48 * (i + 1)];
            let u = |at: usize| u32::from_le_bytes(r[at..at + 4].try_into().unwrap()) as usize;
            (r[32], u(36), u(40))
        })
        .collect()
}

/// Flips one byte in the middle of the stored bytes of every blob of `kind` (1 manifest,
/// 2 catalog) in the packs written since `before` (the pack names listed then).
fn flip_blobs(repo: &Path, kind: u8, before: &[PathBuf]) -> usize {
    let mut flipped = 0;
    for pack in files(&repo.join("packs")) {
        if before.contains(&pack) {
            continue;
        }
        let mut data = std::fs::read(&pack).unwrap();
        for (k, offset, len) in pack_blobs(&pack) {
            if k == kind {
                data[offset + len / 2] ^= 0x10;
                flipped += 1;
            }
        }
        std::fs::remove_file(&pack).unwrap();
        std::fs::write(&pack, data).unwrap();
    }
    flipped
}

/// A mailbox of `n` messages owned by the mail user, as a real deployment has it.
fn mailbox(t: &TestRepo, account: &str, n: usize) -> Maildir {
    let mut m = Maildir::create(t.dir.path().join("mail").join(account));
    m.add_folder("Archive", true);
    for i in 0..n {
        let folder = if i % 3 == 0 { "Archive" } else { "INBOX" };
        let body = format!("Message {i} of {account}. ").repeat(4 + i % 5);
        m.deliver(
            folder,
            &message("sender@example.org", account, &format!("Note {i}"), &body),
            "S",
            1_790_000_000 + i as i64,
        );
    }
    if let Some(owner) = mail_owner() {
        chown_tree(&m.root, owner);
    }
    m
}

/// Every message of every folder of `account` on `day`, read byte-exact (the reads check
/// each message against its BLAKE3): how many.
fn read_all(repo: &Repository, account: &str, on: NaiveDate) -> usize {
    let view = repo.account(&AccountId::new(account).unwrap()).unwrap();
    let mut read = 0;
    for folder in view.folders(on).unwrap() {
        let page = view
            .messages(
                on,
                &folder.name,
                &MessageQuery {
                    limit: 10_000,
                    ..MessageQuery::default()
                },
            )
            .unwrap();
        for m in &page.messages {
            view.raw(on, &m.id).unwrap();
            read += 1;
        }
    }
    read
}

fn verify_clean(repo: &Repository) {
    let report = repo.verify(&VerifyOptions::default()).unwrap();
    assert!(report.is_ok(), "{:#?}", report.problems);
}

#[test]
fn a_lost_index_file_is_rebuilt_from_the_pack_trailers_and_gc_then_keeps_every_message() {
    let t = TestRepo::new();
    let alice = mailbox(&t, ALICE, 40);
    let bob = mailbox(&t, BOB, 30);
    t.snapshot(ALICE, &alice, "2026-11-20");
    t.snapshot(BOB, &bob, "2026-11-20");
    let indexes = files(&t.path().join("index"));
    assert_eq!(indexes.len(), 2, "one index file per snapshot");
    // One account's index file is lost: its packs are named by no index.
    std::fs::remove_file(&indexes[0]).unwrap();
    let repo = Repository::open(t.path()).unwrap();
    assert!(!repo.verify(&VerifyOptions::default()).unwrap().is_ok());

    let report = repo.repair_index().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(report.blobs_indexed >= 10, "{report:?}");
    assert!(
        report.packs_read >= 1 && report.packs_read < report.packs,
        "only the packs no index names are read: {report:?}"
    );
    verify_clean(&repo);
    let again = repo.repair_index().unwrap();
    assert_eq!(
        (
            again.packs_read,
            again.blobs_indexed,
            again.index_files_written.len()
        ),
        (0, 0, 0),
        "a second repair finds nothing to do"
    );

    repo.gc(&GcOptions::default()).unwrap();
    verify_clean(&repo);
    assert_eq!(read_all(&repo, ALICE, day("2026-11-20")), 40);
    assert_eq!(read_all(&repo, BOB, day("2026-11-20")), 30);
}

#[test]
fn a_flipped_byte_in_yesterdays_manifest_does_not_stop_todays_snapshot() {
    let t = TestRepo::new();
    let mut alice = mailbox(&t, ALICE, 30);
    t.snapshot(ALICE, &alice, "2026-11-20");
    assert!(flip_blobs(&t.path(), 1, &[]) >= 2);
    alice.deliver(
        "INBOX",
        &message("late@example.org", ALICE, "After the damage", "new"),
        "",
        1_790_100_000,
    );
    let report = t.snapshot(ALICE, &alice, "2026-11-21");
    assert_eq!(report.messages, 31);
    assert_eq!(report.files_read, 31, "every message is read again");
    assert!(
        report.warnings.iter().any(|w| w.contains("manifest")),
        "{:?}",
        report.warnings
    );
    let repo = Repository::open(t.path()).unwrap();
    assert_eq!(read_all(&repo, ALICE, day("2026-11-21")), 31);
    // The damage of the earlier day is still reported.
    assert!(!repo.verify(&VerifyOptions::default()).unwrap().is_ok());
}

#[test]
fn a_flipped_byte_in_yesterdays_catalog_does_not_stop_todays_snapshot_and_repair_mends_both_days() {
    let t = TestRepo::new();
    let alice = mailbox(&t, ALICE, 30);
    t.snapshot(ALICE, &alice, "2026-11-20");
    assert_eq!(flip_blobs(&t.path(), 2, &[]), 1);
    // The nightly run reads no catalog (its cost follows what changed), so it goes on and
    // points at yesterday's catalog as yesterday did; verify names the damage.
    let report = t.snapshot(ALICE, &alice, "2026-11-21");
    assert_eq!(report.messages, 30);
    let repo = Repository::open(t.path()).unwrap();
    let verify = repo.verify(&VerifyOptions::default()).unwrap();
    assert!(!verify.is_ok());
    assert!(
        verify
            .problems
            .iter()
            .any(|p| p.location.contains("catalog") || p.reason.contains("catalog")),
        "{:?}",
        verify.problems
    );

    let sources = vec![(
        AccountId::new(ALICE).unwrap(),
        MaildirAccount::open(&alice.root).unwrap(),
    )];
    let plan = repo.recovery_plan(&sources).unwrap();
    assert_eq!(
        (plan.recovered_messages(), plan.lost_messages()),
        (60, 0),
        "{plan:#?}"
    );
    let clock = FixedClock::parse("2026-11-22T09:00:00Z").unwrap();
    repo.recover(&plan, &clock).unwrap();
    verify_clean(&repo);
    assert_eq!(read_all(&repo, ALICE, day("2026-11-20")), 30);
    assert_eq!(read_all(&repo, ALICE, day("2026-11-21")), 30);
}

#[test]
fn a_damaged_dictionary_does_not_stop_any_accounts_snapshot() {
    let t = TestRepo::new();
    let mut alice = mailbox(&t, ALICE, 260);
    let mut bob = mailbox(&t, BOB, 20);
    t.snapshot(ALICE, &alice, "2026-11-20");
    t.snapshot(BOB, &bob, "2026-11-20");
    let dictionaries = files(&t.path().join("dictionaries"));
    assert_eq!(dictionaries.len(), 1, "alice's first snapshot trains one");
    let mut data = std::fs::read(&dictionaries[0]).unwrap();
    data[100] ^= 0x01;
    std::fs::remove_file(&dictionaries[0]).unwrap();
    std::fs::write(&dictionaries[0], data).unwrap();
    for m in [&mut alice, &mut bob] {
        let to = if m.root.ends_with(ALICE) { ALICE } else { BOB };
        m.deliver(
            "INBOX",
            &message("late@example.org", to, "After the damage", "new"),
            "",
            1_790_100_000,
        );
    }
    let repo = Repository::open(t.path()).unwrap();
    let clock = FixedClock::parse("2026-11-21T00:00:30Z").unwrap();
    let results = repo.snapshot_many(
        &[
            (AccountId::new(ALICE).unwrap(), alice.source()),
            (AccountId::new(BOB).unwrap(), bob.source()),
        ],
        &clock,
        &mtm_core::SnapshotOptions::default(),
    );
    for result in results {
        let report = result.unwrap();
        assert!(
            report.warnings.iter().any(|w| w.contains("dictionar")),
            "{:?}",
            report.warnings
        );
    }
    let repo = Repository::open(t.path()).unwrap();
    let view = repo.account(&AccountId::new(BOB).unwrap()).unwrap();
    let inbox = view
        .messages(
            day("2026-11-21"),
            &mtm_core::FolderName::inbox(),
            &MessageQuery::default(),
        )
        .unwrap();
    let late = inbox
        .messages
        .iter()
        .find(|m| m.summary.subject == "After the damage")
        .unwrap();
    view.raw(day("2026-11-21"), &late.id).unwrap();
    // The damaged dictionary is still reported.
    assert!(!repo.verify(&VerifyOptions::default()).unwrap().is_ok());
}

#[test]
fn a_catalog_flip_is_recovered_from_the_live_maildir_then_verify_is_clean_and_gc_runs() {
    let t = TestRepo::new();
    let mut alice = mailbox(&t, ALICE, 30);
    let bob = mailbox(&t, BOB, 10);
    t.snapshot(ALICE, &alice, "2026-11-20");
    t.snapshot(BOB, &bob, "2026-11-20");
    let before = files(&t.path().join("packs"));
    alice.deliver(
        "INBOX",
        &message("late@example.org", ALICE, "Second day", "kept"),
        "",
        1_790_100_000,
    );
    let gone = alice.deliver(
        "INBOX",
        &message("late@example.org", ALICE, "Deleted after", "gone"),
        "",
        1_790_100_001,
    );
    t.snapshot(ALICE, &alice, "2026-11-21");
    // The catalog of the messages first seen on the 21st is damaged; one of them has since
    // been deleted from the live Maildir.
    assert_eq!(flip_blobs(&t.path(), 2, &before), 1);
    std::fs::remove_file(&gone).unwrap();
    let repo = Repository::open(t.path()).unwrap();
    assert!(repo.gc(&GcOptions::default()).is_err(), "gc refuses damage");

    let sources = vec![
        (
            AccountId::new(ALICE).unwrap(),
            MaildirAccount::open(&alice.root).unwrap(),
        ),
        (
            AccountId::new(BOB).unwrap(),
            MaildirAccount::open(&bob.root).unwrap(),
        ),
    ];
    let plan = repo.recovery_plan(&sources).unwrap();
    assert_eq!(plan.snapshots.len(), 1, "{plan:#?}");
    assert_eq!(plan.recovered_messages(), 1);
    assert_eq!(plan.lost_messages(), 1);
    let lost = &plan.snapshots[0].lost[0];
    assert_eq!(plan.snapshots[0].day, day("2026-11-21"));
    assert_eq!(
        lost.file.as_deref(),
        gone.file_name().and_then(|n| n.to_str())
    );
    assert!(lost.reason.contains("not in the live Maildir"), "{lost:?}");
    let clock = FixedClock::parse("2026-11-22T09:00:00Z").unwrap();
    let report = repo.recover(&plan, &clock).unwrap();
    assert_eq!((report.messages_recovered, report.messages_lost), (1, 1));

    verify_clean(&repo);
    repo.gc(&GcOptions::default()).unwrap();
    verify_clean(&repo);
    assert_eq!(read_all(&repo, ALICE, day("2026-11-20")), 30);
    assert_eq!(read_all(&repo, ALICE, day("2026-11-21")), 31);
    assert_eq!(read_all(&repo, BOB, day("2026-11-20")), 10);
    // The record says what was dropped, by name.
    let record = std::fs::read_to_string(
        t.path()
            .join("snapshots")
            .join(ALICE)
            .join("2026-11-21.json"),
    )
    .unwrap();
    assert!(record.contains("\"lost\""), "{record}");
    assert!(
        record.contains(gone.file_name().unwrap().to_str().unwrap()),
        "{record}"
    );
    assert!(repo.recovery_plan(&sources).unwrap().is_empty());
}
