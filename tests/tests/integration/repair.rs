//! `repair index` and `repair recover`: what each mends, what each leaves alone, and that
//! both can run twice.

use std::path::{Path, PathBuf};

use mtm_core::{AccountId, Repository, VerifyOptions};
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

fn alice_with_two_days(t: &TestRepo) -> Maildir {
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
    m.deliver(
        "INBOX",
        &message("b@example.org", "alice@example.com", "Later", "body"),
        "",
        1_790_100_000,
    );
    t.snapshot("alice@example.com", &m, "2026-11-21");
    m
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
