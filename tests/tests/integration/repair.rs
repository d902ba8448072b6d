//! `repair index` and `repair recover`: what each mends, what each leaves alone, and that
//! both can run twice.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mtm_core::{
    AccountId, Backend, FaultInjectingBackend, LocalBackend, Repository, VerifyOptions,
};
use mtm_tests::{Maildir, TestRepo, day, message};

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

/// Replaces a file's bytes with `change`d ones (a repository file is never written in place
/// by the library; damage is).
fn damage(path: &Path, change: impl FnOnce(&mut Vec<u8>)) {
    let mut data = std::fs::read(path).unwrap();
    change(&mut data);
    std::fs::remove_file(path).unwrap();
    std::fs::write(path, data).unwrap();
}

/// Alice's Maildir, snapshotted on two days; and the packs of the first day.
fn alice_with_two_days(t: &TestRepo) -> (Maildir, Vec<PathBuf>) {
    let mut m = Maildir::create(t.dir.path().join("alice"));
    for i in 0..12 {
        m.deliver(
            "INBOX",
            &message(
                "a@example.org",
                "alice@example.com",
                &format!("S{i}"),
                "body",
            ),
            "S",
            1_790_000_000 + i,
        );
    }
    t.snapshot("alice@example.com", &m, "2026-11-20");
    let first_day = files(&t.path().join("packs"));
    m.deliver(
        "INBOX",
        &message("b@example.org", "alice@example.com", "Later", "body"),
        "",
        1_790_100_000,
    );
    t.snapshot("alice@example.com", &m, "2026-11-21");
    (m, first_day)
}

fn problems(repo: &Repository) -> Vec<String> {
    repo.verify(&VerifyOptions::default())
        .unwrap()
        .problems
        .into_iter()
        .map(|p| format!("{}: {}", p.location, p.reason))
        .collect()
}

#[test]
fn a_damaged_index_file_is_replaced_from_the_trailers_and_removed() {
    let t = TestRepo::new();
    alice_with_two_days(&t);
    let index = files(&t.path().join("index")).remove(0);
    damage(&index, |d| {
        let last = d.len() - 1;
        d[last] ^= 0x01;
    });
    // And a stray file under index/ that is no index at all.
    let stray = t.path().join("index").join("0".repeat(64));
    std::fs::write(&stray, b"not an index").unwrap();
    let repo = Repository::open(t.path()).unwrap();
    assert!(!problems(&repo).is_empty());
    let report = repo.repair_index().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.packs_read, 1, "only the pack the damaged file named");
    // Rebuilt from the same trailer, the index file is the lost one byte for byte: the
    // damaged copy under its name is replaced, not kept.
    let key = format!("index/{}", index.file_name().unwrap().to_str().unwrap());
    assert_eq!(report.index_files_written, [key]);
    assert_eq!(
        report.damaged_index_files_removed,
        [format!("index/{}", "0".repeat(64))]
    );
    assert!(!stray.exists());
    assert_eq!(problems(&repo), Vec::<String>::new());
    let view = repo
        .account(&AccountId::new("alice@example.com").unwrap())
        .unwrap();
    for d in ["2026-11-20", "2026-11-21"] {
        let inbox = view
            .messages(day(d), &mtm_core::FolderName::inbox(), &Default::default())
            .unwrap();
        for m in &inbox.messages {
            view.raw(day(d), &m.id).unwrap();
        }
    }
}

#[test]
fn a_pack_with_a_damaged_trailer_is_reported_and_the_others_are_still_indexed() {
    let t = TestRepo::new();
    alice_with_two_days(&t);
    for index in files(&t.path().join("index")) {
        std::fs::remove_file(index).unwrap();
    }
    let packs = files(&t.path().join("packs"));
    assert_eq!(packs.len(), 2, "one pack per day");
    damage(&packs[0], |d| {
        let at = d.len() - 3;
        d[at] ^= 0xff; // the end marker
    });
    let repo = Repository::open(t.path()).unwrap();
    let report = repo.repair_index().unwrap();
    assert_eq!(report.problems.len(), 1, "{report:?}");
    assert!(
        report.problems[0].reason.contains("end marker"),
        "{report:?}"
    );
    assert_eq!(report.packs_indexed, 1);
    assert!(report.blobs_indexed > 0);
}

#[test]
fn repair_index_waits_for_no_snapshot_it_refuses_while_one_holds_the_lock() {
    let t = TestRepo::new();
    alice_with_two_days(&t);
    let lock = t.path().join("locks");
    std::fs::create_dir_all(&lock).unwrap();
    // A snapshot of this very process holds its lock.
    std::fs::write(
        lock.join("snapshot-0000000000000001.json"),
        format!(
            r#"{{"kind":"snapshot","host":"{}","pid":{},"taken":{}}}"#,
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap()
                .trim(),
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        ),
    )
    .unwrap();
    let err = t.repo.repair_index().unwrap_err();
    assert_eq!(err.kind(), mtm_core::ErrorKind::Busy);
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

/// Flips a byte in the first blob of `kind` (0 part, 1 manifest, 2 catalog) of `packs`.
fn flip_first(packs: &[PathBuf], kind: u8) {
    let pack = packs
        .iter()
        .find(|p| pack_blobs(p).iter().any(|b| b.0 == kind))
        .unwrap();
    let (_, offset, len) = *pack_blobs(pack).iter().find(|b| b.0 == kind).unwrap();
    damage(pack, |d| d[offset + len / 2] ^= 0x08);
}

fn alice(t: &TestRepo) -> Vec<(AccountId, mtm_core::MaildirAccount)> {
    vec![(
        AccountId::new("alice@example.com").unwrap(),
        mtm_core::MaildirAccount::open(t.dir.path().join("alice")).unwrap(),
    )]
}

fn clock() -> mtm_core::FixedClock {
    mtm_core::FixedClock::parse("2026-11-22T08:00:00Z").unwrap()
}

/// Every message of both days reads back byte-exact: how many.
fn read_both_days(repo: &Repository) -> usize {
    let view = repo
        .account(&AccountId::new("alice@example.com").unwrap())
        .unwrap();
    let mut read = 0;
    for d in ["2026-11-20", "2026-11-21"] {
        let inbox = view
            .messages(day(d), &mtm_core::FolderName::inbox(), &Default::default())
            .unwrap();
        for m in &inbox.messages {
            view.raw(day(d), &m.id).unwrap();
            read += 1;
        }
    }
    read
}

#[test]
fn a_damaged_message_part_is_stored_again_from_the_live_maildir() {
    let t = TestRepo::new();
    let (_, first_day) = alice_with_two_days(&t);
    flip_first(&first_day, 0);
    let repo = Repository::open(t.path()).unwrap();
    let plan = repo.recovery_plan(&alice(&t)).unwrap();
    // The message is in both days' snapshots; both are rewritten.
    assert_eq!(plan.snapshots.len(), 2, "{plan:#?}");
    assert_eq!((plan.recovered_messages(), plan.lost_messages()), (2, 0));
    assert_eq!(plan.damaged_packs.len(), 1);
    let report = repo.recover(&plan, &clock()).unwrap();
    assert_eq!(report.packs_deleted, 1);
    assert!(report.blobs_rescued > 0, "{report:?}");
    assert_eq!(problems(&repo), Vec::<String>::new());
    repo.gc(&Default::default()).unwrap();
    assert_eq!(problems(&repo), Vec::<String>::new());
    assert_eq!(read_both_days(&repo), 25);
    assert!(repo.recovery_plan(&alice(&t)).unwrap().is_empty());
}

#[test]
fn a_folder_whose_manifest_is_unreadable_is_emptied_and_its_loss_recorded() {
    let t = TestRepo::new();
    let (_, first_day) = alice_with_two_days(&t);
    flip_first(&first_day, 1);
    let repo = Repository::open(t.path()).unwrap();
    let plan = repo.recovery_plan(&alice(&t)).unwrap();
    assert_eq!(plan.snapshots.len(), 1, "{plan:#?}");
    assert_eq!(plan.snapshots[0].day, day("2026-11-20"));
    assert_eq!(
        plan.lost_messages(),
        12,
        "the folder's count, from the record"
    );
    repo.recover(&plan, &clock()).unwrap();
    assert_eq!(problems(&repo), Vec::<String>::new());
    repo.gc(&Default::default()).unwrap();
    assert_eq!(read_both_days(&repo), 13, "the second day is whole");
    let record =
        std::fs::read_to_string(t.path().join("snapshots/alice@example.com/2026-11-20.json"))
            .unwrap();
    assert!(record.contains("\"repaired_at\""), "{record}");
    assert!(record.contains("is unreadable"), "{record}");
}

#[test]
fn a_damaged_dictionary_is_deleted_and_the_messages_it_compressed_recovered() {
    let t = TestRepo::new();
    let mut m = Maildir::create(t.dir.path().join("alice"));
    for i in 0..220 {
        m.deliver(
            "INBOX",
            &message(
                "a@example.org",
                "alice@example.com",
                &format!("S{i}"),
                "body",
            ),
            "S",
            1_790_000_000 + i,
        );
    }
    t.snapshot("alice@example.com", &m, "2026-11-20");
    let dictionary = files(&t.path().join("dictionaries")).remove(0);
    damage(&dictionary, |d| d[10] ^= 0x01);
    let repo = Repository::open(t.path()).unwrap();
    let plan = repo.recovery_plan(&alice(&t)).unwrap();
    assert_eq!(plan.damaged_dictionaries.len(), 1);
    assert_eq!(
        plan.recovered_messages(),
        220,
        "every header used the dictionary"
    );
    repo.recover(&plan, &clock()).unwrap();
    assert!(!dictionary.exists());
    assert_eq!(problems(&repo), Vec::<String>::new());
    repo.gc(&Default::default()).unwrap();
    assert_eq!(problems(&repo), Vec::<String>::new());
}

#[test]
fn a_plan_the_maildir_no_longer_matches_is_refused() {
    let t = TestRepo::new();
    let (_, first_day) = alice_with_two_days(&t);
    flip_first(&first_day, 2);
    let repo = Repository::open(t.path()).unwrap();
    let plan = repo.recovery_plan(&alice(&t)).unwrap();
    assert!(plan.recovered_messages() > 0, "{plan:#?}");
    // The user deletes their mail between the plan and its execution.
    for file in files(&t.dir.path().join("alice/cur")) {
        std::fs::remove_file(file).unwrap();
    }
    let err = repo.recover(&plan, &clock()).unwrap_err();
    assert_eq!(err.kind(), mtm_core::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("plan again"), "{err}");
    // Nothing was changed: planning again drops what is gone.
    let again = repo.recovery_plan(&alice(&t)).unwrap();
    assert_eq!(again.recovered_messages(), 0);
    repo.recover(&again, &clock()).unwrap();
    assert_eq!(problems(&repo), Vec::<String>::new());
    repo.gc(&Default::default()).unwrap();
}

#[test]
fn recovery_is_refused_until_the_index_is_repaired() {
    let t = TestRepo::new();
    alice_with_two_days(&t);
    for index in files(&t.path().join("index")) {
        std::fs::remove_file(index).unwrap();
    }
    let repo = Repository::open(t.path()).unwrap();
    let err = repo.recovery_plan(&alice(&t)).unwrap_err();
    assert_eq!(err.kind(), mtm_core::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("repair index"), "{err}");
    repo.repair_index().unwrap();
    assert!(repo.recovery_plan(&alice(&t)).unwrap().is_empty());
}

fn copy_tree(from: &Path, to: &Path) {
    for file in files(from) {
        let target = to.join(file.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
}

#[test]
fn a_recovery_that_dies_at_any_write_is_finished_by_the_next_one() {
    let t = TestRepo::new();
    let (mut m, first_day) = alice_with_two_days(&t);
    let first_two = files(&t.path().join("packs"));
    m.deliver(
        "INBOX",
        &message("c@example.org", "alice@example.com", "Third day", "body"),
        "",
        1_790_200_000,
    );
    t.snapshot("alice@example.com", &m, "2026-11-22");
    // A part of the first day (in every snapshot) and the catalog of the third day.
    flip_first(&first_day, 0);
    let third: Vec<PathBuf> = files(&t.path().join("packs"))
        .into_iter()
        .filter(|p| !first_two.contains(p))
        .collect();
    flip_first(&third, 2);
    let maildirs = alice(&t);
    let writes = {
        let scratch = tempfile::tempdir().unwrap();
        copy_tree(&t.path(), scratch.path());
        let counting = Arc::new(FaultInjectingBackend::new(
            Arc::new(LocalBackend::new(scratch.path()).unwrap()),
            0,
        ));
        let repo = Repository::open_with_backend(counting.clone()).unwrap();
        let plan = repo.recovery_plan(&maildirs).unwrap();
        assert_eq!(plan.snapshots.len(), 3, "{plan:#?}");
        let before = counting.operations();
        repo.recover(&plan, &clock()).unwrap();
        counting.operations() - before
    };
    assert!(writes > 10, "{writes}");
    // Writes 1 and `writes` take and release the lock; every one between may be the last.
    for crash_at in 1..writes - 1 {
        let scratch = tempfile::tempdir().unwrap();
        copy_tree(&t.path(), scratch.path());
        let local: Arc<dyn Backend> = Arc::new(LocalBackend::new(scratch.path()).unwrap());
        let faulty = Arc::new(FaultInjectingBackend::new(local.clone(), 0));
        let repo = Repository::open_with_backend(faulty.clone()).unwrap();
        let plan = repo.recovery_plan(&maildirs).unwrap();
        let dying = Arc::new(FaultInjectingBackend::new(local.clone(), crash_at + 1));
        let repo = Repository::open_with_backend(dying).unwrap();
        assert!(
            repo.recover(&plan, &clock()).is_err(),
            "crash at {crash_at}"
        );
        // The process died: its lock is stale.
        let _ = std::fs::remove_dir_all(scratch.path().join("locks"));
        let repo = Repository::open_with_backend(local).unwrap();
        // A gc before the recovery is finished never deletes what the replacement records
        // staged as `.json.repair` need: it refuses while one is there, naming it.
        let staged: Vec<PathBuf> = files(&scratch.path().join("snapshots"))
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".json.repair"))
            .collect();
        match repo.gc(&Default::default()) {
            Ok(_) => assert!(
                staged.is_empty(),
                "gc ran beside {staged:?} (crash at {crash_at})"
            ),
            Err(e) if !staged.is_empty() => {
                let said = e.to_string();
                assert!(
                    said.contains(".json.repair") && said.contains("mtm repair recover"),
                    "crash at {crash_at}: {said}"
                );
            }
            Err(_) => {}
        }
        let plan = repo.recovery_plan(&maildirs).unwrap();
        repo.recover(&plan, &clock()).unwrap();
        assert_eq!(problems(&repo), Vec::<String>::new(), "crash at {crash_at}");
        repo.gc(&Default::default()).unwrap();
        assert_eq!(problems(&repo), Vec::<String>::new(), "crash at {crash_at}");
        let view = repo
            .account(&AccountId::new("alice@example.com").unwrap())
            .unwrap();
        let mut read = 0;
        for d in ["2026-11-20", "2026-11-21", "2026-11-22"] {
            let inbox = view
                .messages(day(d), &mtm_core::FolderName::inbox(), &Default::default())
                .unwrap();
            for m in &inbox.messages {
                view.raw(day(d), &m.id).unwrap();
                read += 1;
            }
        }
        assert_eq!(read, 12 + 13 + 14, "crash at {crash_at}");
    }
}

#[test]
fn a_failing_disk_during_planning_fails_the_plan_and_never_loses_a_message() {
    let t = TestRepo::new();
    let (_, first_day) = alice_with_two_days(&t);
    flip_first(&first_day, 2);
    let healthy = Repository::open(t.path())
        .unwrap()
        .recovery_plan(&alice(&t))
        .unwrap();
    assert!(healthy.recovered_messages() > 0 && healthy.lost_messages() == 0);
    let local: Arc<dyn Backend> = Arc::new(LocalBackend::new(t.path()).unwrap());
    let faulty = Arc::new(FaultInjectingBackend::new(local, 0));
    let repo = Repository::open_with_backend(faulty.clone()).unwrap();
    let start = faulty.reads();
    repo.recovery_plan(&alice(&t)).unwrap();
    let reads = faulty.reads() - start;
    for fail_at in 1..=reads {
        faulty.fail_reads_from(faulty.reads() + fail_at);
        match repo.recovery_plan(&alice(&t)) {
            Ok(plan) => assert_eq!(plan, healthy, "read {fail_at} failed"),
            Err(e) => assert_eq!(e.kind(), mtm_core::ErrorKind::Storage, "{e}"),
        }
        faulty.fail_reads_from(0);
    }
}

#[test]
fn a_large_intact_blob_of_a_damaged_pack_is_copied_as_stored_into_a_pack_of_its_own() {
    let t = TestRepo::new();
    let mut m = Maildir::create(t.dir.path().join("alice"));
    // A 5 MiB body (more than a pack's target size): the message gets a pack of its own.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let body: String = (0..5 * 1024 * 1024)
        .map(|i| {
            if i % 77 == 76 {
                return '\n';
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    let raw = message("a@example.org", "alice@example.com", "Scans", &body);
    m.deliver("INBOX", &raw, "S", 1_790_000_000);
    t.snapshot("alice@example.com", &m, "2026-11-20");
    let big = files(&t.path().join("packs"))
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let blobs = pack_blobs(&big);
    let (_, body_at, body_len) = *blobs.iter().max_by_key(|b| b.2).unwrap();
    let stored = std::fs::read(&big).unwrap()[body_at..body_at + body_len].to_vec();
    // The message's header block is damaged; its body is intact and must be rescued.
    let (_, offset, len) = *blobs
        .iter()
        .filter(|b| b.0 == 0)
        .min_by_key(|b| b.2)
        .unwrap();
    damage(&big, |d| d[offset + len / 2] ^= 0x08);
    let before = files(&t.path().join("packs"));

    let repo = Repository::open(t.path()).unwrap();
    let plan = repo.recovery_plan(&alice(&t)).unwrap();
    assert_eq!(plan.recovered_messages(), 1, "{plan:#?}");
    let report = repo.recover(&plan, &clock()).unwrap();
    assert!(report.blobs_rescued >= 1, "{report:?}");
    assert!(!big.exists());
    let copy = files(&t.path().join("packs"))
        .into_iter()
        .filter(|p| !before.contains(p))
        .find(|p| pack_blobs(p).len() == 1 && pack_blobs(p)[0].2 == body_len)
        .expect("the body copied into a pack of its own");
    let (_, at, _) = pack_blobs(&copy)[0];
    assert!(std::fs::read(&copy).unwrap()[at..at + body_len] == stored[..]);
    assert_eq!(problems(&repo), Vec::<String>::new());
    repo.gc(&Default::default()).unwrap();
    assert_eq!(problems(&repo), Vec::<String>::new());
    let view = repo
        .account(&AccountId::new("alice@example.com").unwrap())
        .unwrap();
    let inbox = view
        .messages(
            day("2026-11-20"),
            &mtm_core::FolderName::inbox(),
            &Default::default(),
        )
        .unwrap();
    assert!(view.raw(day("2026-11-20"), &inbox.messages[0].id).unwrap() == raw);
}

#[test]
fn a_damaged_staged_record_never_replaces_a_published_one() {
    let t = TestRepo::new();
    alice_with_two_days(&t);
    // A replacement record staged by a crashed recovery, damaged since (its seal is broken).
    let record = t.path().join("snapshots/alice@example.com/2026-11-20.json");
    let mut staged = std::fs::read(&record).unwrap();
    let middle = staged.len() / 2;
    staged[middle] ^= 0x01;
    let staged_path = record.with_extension("json.repair");
    std::fs::write(&staged_path, &staged).unwrap();
    let repo = Repository::open(t.path()).unwrap();
    let err = repo.gc(&Default::default()).unwrap_err();
    assert!(err.to_string().contains("mtm repair recover"), "{err}");
    let plan = repo.recovery_plan(&alice(&t)).unwrap();
    assert_eq!(plan.staged_records.len(), 1, "{plan:#?}");
    let before = std::fs::read(&record).unwrap();
    let report = repo.recover(&plan, &clock()).unwrap();
    assert_eq!(report.snapshots_rewritten, 0, "{report:?}");
    assert!(!staged_path.exists());
    assert!(std::fs::read(&record).unwrap() == before);
    assert_eq!(problems(&repo), Vec::<String>::new());
    repo.gc(&Default::default()).unwrap();
    assert_eq!(read_both_days(&repo), 25);
}

#[test]
fn a_folder_emptied_by_a_recovery_is_listed_again_by_the_next_snapshot() {
    // The first snapshot stamps INBOX; the next one would pass over it if nothing changed.
    mtm_core::testing::trust_recent_folder_stamps_on_this_thread(true);
    let t = TestRepo::new();
    let mut m = Maildir::create(t.dir.path().join("alice"));
    for i in 0..5 {
        let raw = message("a@example.org", "alice@example.com", &format!("S{i}"), "b");
        m.deliver("INBOX", &raw, "S", 1_790_000_000 + i);
    }
    t.snapshot("alice@example.com", &m, "2026-11-20");
    std::thread::sleep(std::time::Duration::from_millis(10));
    flip_first(&files(&t.path().join("packs")), 1);
    let repo = Repository::open(t.path()).unwrap();
    let plan = repo.recovery_plan(&alice(&t)).unwrap();
    assert_eq!(plan.lost_messages(), 5, "{plan:#?}");
    repo.recover(&plan, &clock()).unwrap();
    // The Maildir has not changed, but the recorded folder no longer says what it holds.
    let report = t.snapshot("alice@example.com", &m, "2026-11-21");
    assert_eq!((report.messages, report.files_read), (5, 5));
    let view = repo
        .account(&AccountId::new("alice@example.com").unwrap())
        .unwrap();
    let inbox = view
        .messages(
            day("2026-11-21"),
            &mtm_core::FolderName::inbox(),
            &Default::default(),
        )
        .unwrap();
    assert_eq!(inbox.total, 5);
}
