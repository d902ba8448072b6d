//! `mtm repair index` and `mtm repair recover`, driven as an operator would.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mtm(repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtm"))
        .arg("--repo")
        .arg(repo)
        .args(args)
        .env_remove("MTM_REPO")
        .env_remove("MTM_MAILDIRS")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Writes message files into a Maildir's `cur/`; returns their paths.
fn deliver(root: &Path, first: usize, subjects: &[&str]) -> Vec<PathBuf> {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    subjects
        .iter()
        .enumerate()
        .map(|(i, subject)| {
            let n = first + i;
            let path = root.join("cur").join(format!("17000000{n}.M{n}.test:2,S"));
            let raw = format!("From: a@example.org\r\nSubject: {subject}\r\n\r\nbody {n}\r\n");
            std::fs::write(&path, raw).unwrap();
            path
        })
        .collect()
}

fn snapshot(repo: &Path, root: &Path, now: &str) {
    ok(&mtm(
        repo,
        &[
            "snapshot",
            "--root",
            root.to_str().unwrap(),
            "--now",
            now,
            "--quiet",
        ],
    ));
}

#[test]
fn repair_index_rebuilds_a_lost_index_and_verify_is_clean_again() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let root = dir.path().join("mail");
    deliver(&root.join("alice@example.com"), 0, &["One", "Two"]);
    deliver(&root.join("bob@example.com"), 10, &["Three"]);
    ok(&mtm(&repo, &["init"]));
    snapshot(&repo, &root, "2026-11-20T10:00:00Z");
    for index in walk(&repo.join("index")) {
        std::fs::remove_file(index).unwrap();
    }
    assert_eq!(mtm(&repo, &["verify"]).status.code(), Some(5));
    let out = ok(&mtm(&repo, &["repair", "index"]));
    assert!(out.contains("indexed in 1 new index file"), "{out}");
    ok(&mtm(&repo, &["verify"]));
    let again: serde_json::Value =
        serde_json::from_str(&ok(&mtm(&repo, &["--json", "repair", "index"]))).unwrap();
    assert_eq!(again["packs_read"], 0);
    assert_eq!(again["blobs_indexed"], 0);
}

#[test]
fn repair_recover_shows_its_plan_and_changes_nothing_without_yes() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let root = dir.path().join("mail");
    let alice = root.join("alice@example.com");
    deliver(&alice, 0, &["One", "Two"]);
    ok(&mtm(&repo, &["init", "--no-dictionary"]));
    snapshot(&repo, &root, "2026-11-20T10:00:00Z");
    let first_day = walk(&repo.join("packs"));
    let later = deliver(&alice, 5, &["Kept", "Deleted later"]);
    snapshot(&repo, &root, "2026-11-21T10:00:00Z");
    // Damage the second day's catalog, and delete one of the messages it describes from the
    // live Maildir.
    for pack in walk(&repo.join("packs")) {
        if first_day.contains(&pack) {
            continue;
        }
        let mut data = std::fs::read(&pack).unwrap();
        // The trailer (FORMAT.md) lists the blobs: 48-byte records before a 44-byte footer.
        let n = u32::from_le_bytes(data[data.len() - 12..data.len() - 8].try_into().unwrap());
        let table = data.len() - 44 - 48 * n as usize;
        for r in data[table..data.len() - 44].to_vec().chunks(48) {
            if r[32] == 2 {
                let offset = u32::from_le_bytes(r[36..40].try_into().unwrap()) as usize;
                data[offset + 2] ^= 0x01;
            }
        }
        std::fs::remove_file(&pack).unwrap();
        std::fs::write(&pack, data).unwrap();
    }
    std::fs::remove_file(&later[1]).unwrap();
    assert_eq!(mtm(&repo, &["verify"]).status.code(), Some(5));
    assert_eq!(
        mtm(&repo, &["gc"]).status.code(),
        Some(5),
        "gc refuses damage"
    );
    assert_eq!(
        mtm(&repo, &["repair", "recover"]).status.code(),
        Some(2),
        "the live Maildirs are needed"
    );

    let maildirs = root.to_str().unwrap();
    let plan = ok(&mtm(&repo, &["repair", "recover", "--maildirs", maildirs]));
    let lost = later[1].file_name().unwrap().to_str().unwrap();
    assert!(plan.contains("LOSE") && plan.contains(lost), "{plan}");
    assert!(plan.contains("dry run"), "{plan}");
    assert_eq!(
        mtm(&repo, &["verify"]).status.code(),
        Some(5),
        "nothing changed"
    );

    let done: serde_json::Value = serde_json::from_str(&ok(&mtm(
        &repo,
        &[
            "--json",
            "repair",
            "recover",
            "--maildirs",
            maildirs,
            "--yes",
        ],
    )))
    .unwrap();
    assert_eq!(done["executed"], true);
    assert_eq!(done["report"]["messages_lost"], 1);
    assert!(done["report"]["messages_recovered"].as_u64().unwrap() >= 1);
    ok(&mtm(&repo, &["verify"]));
    ok(&mtm(&repo, &["gc"]));
    ok(&mtm(&repo, &["verify"]));
    let after = ok(&mtm(&repo, &["repair", "recover", "--maildirs", maildirs]));
    assert!(after.contains("nothing to recover"), "{after}");
}

#[test]
fn repair_recover_prints_that_an_unreadable_record_is_moved_aside_before_yes() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let root = dir.path().join("mail");
    let alice = root.join("alice@example.com");
    deliver(&alice, 0, &["One", "Two"]);
    ok(&mtm(&repo, &["init"]));
    snapshot(&repo, &root, "2026-11-20T10:00:00Z");
    snapshot(&repo, &root, "2026-11-21T10:00:00Z");
    let record = repo.join("snapshots/alice@example.com/2026-11-20.json");
    // Sixteen bytes zeroed: damage no seal can prove the repair of.
    let mut data = std::fs::read(&record).unwrap();
    let middle = data.len() / 2;
    data[middle..middle + 16].fill(0);
    std::fs::remove_file(&record).unwrap();
    std::fs::write(&record, &data).unwrap();
    assert_eq!(mtm(&repo, &["verify"]).status.code(), Some(5));

    let maildirs = root.to_str().unwrap();
    let plan = ok(&mtm(&repo, &["repair", "recover", "--maildirs", maildirs]));
    assert!(
        plan.contains(
            "MOVE ASIDE the snapshot of alice@example.com on 2026-11-20 is unreadable"
        ) && plan.contains(
            "its record is moved aside to `damaged/snapshots/alice@example.com/2026-11-20.json` \
             and the day is dropped; the messages it listed that no other record reaches \
             become garbage"
        ),
        "{plan}"
    );
    assert!(
        plan.contains("1 unreadable record(s) to move aside"),
        "{plan}"
    );
    assert!(plan.contains("dry run"), "{plan}");
    assert_eq!(std::fs::read(&record).unwrap(), data, "nothing changed");

    let done = ok(&mtm(
        &repo,
        &["repair", "recover", "--maildirs", maildirs, "--yes"],
    ));
    assert!(
        done.contains("1 unreadable record(s) moved aside under damaged/"),
        "{done}"
    );
    assert_eq!(
        std::fs::read(repo.join("damaged/snapshots/alice@example.com/2026-11-20.json")).unwrap(),
        data
    );
    ok(&mtm(&repo, &["verify"]));
    ok(&mtm(&repo, &["gc"]));
    let days = ok(&mtm(&repo, &["days", "alice@example.com"]));
    assert!(
        days.contains("2026-11-21") && !days.contains("2026-11-20"),
        "{days}"
    );
}

#[test]
fn repair_recover_mends_a_record_one_flipped_bit_damaged_and_keeps_its_day() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let root = dir.path().join("mail");
    let alice = root.join("alice@example.com");
    deliver(&alice, 0, &["One", "Two"]);
    ok(&mtm(&repo, &["init"]));
    snapshot(&repo, &root, "2026-11-20T10:00:00Z");
    let record = repo.join("snapshots/alice@example.com/2026-11-20.json");
    let original = std::fs::read(&record).unwrap();
    let mut data = original.clone();
    let middle = data.len() / 2;
    data[middle] ^= 0x10;
    std::fs::remove_file(&record).unwrap();
    std::fs::write(&record, &data).unwrap();
    assert_eq!(mtm(&repo, &["verify"]).status.code(), Some(5));

    let maildirs = root.to_str().unwrap();
    let plan = ok(&mtm(&repo, &["repair", "recover", "--maildirs", maildirs]));
    assert!(
        plan.contains("MEND the snapshot of alice@example.com on 2026-11-20 is damaged")
            && plan.contains("one bit of it was flipped and its seal proves the original")
            && plan.contains("0 unreadable record(s) to move aside (their days dropped), 1 damaged record(s) to mend"),
        "{plan}"
    );
    let done = ok(&mtm(
        &repo,
        &["repair", "recover", "--maildirs", maildirs, "--yes"],
    ));
    assert!(
        done.contains("1 damaged record(s) mended from their seal"),
        "{done}"
    );
    assert_eq!(std::fs::read(&record).unwrap(), original);
    ok(&mtm(&repo, &["verify"]));
    let days = ok(&mtm(&repo, &["days", "alice@example.com"]));
    assert!(days.contains("2026-11-20"), "{days}");
}

#[test]
fn a_repository_of_an_older_version_is_read_only_until_mtm_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    // A config as the first versions wrote it: plain JSON, format 1.
    std::fs::write(
        repo.join("config"),
        r#"{"format": 1, "id": "0123456789abcdef", "time_zone": "UTC", "header_dictionary": false}"#,
    )
    .unwrap();
    let maildir = dir.path().join("alice");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    std::fs::write(maildir.join("cur/1.M1.host:2,S"), "Subject: hi\n\nhello\n").unwrap();
    let snapshot = [
        "snapshot",
        "--maildir",
        maildir.to_str().unwrap(),
        "--account",
        "alice@example.com",
        "--now",
        "2026-11-21T10:00:00Z",
    ];
    let refused = mtm(&repo, &snapshot);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("mtm upgrade"), "{err}");
    // Reads still work.
    assert!(ok(&mtm(&repo, &["accounts"])).trim().is_empty());

    let upgraded = ok(&mtm(&repo, &["upgrade"]));
    assert!(upgraded.contains("from format 1 to 4"), "{upgraded}");
    ok(&mtm(&repo, &snapshot));
    let again = ok(&mtm(&repo, &["upgrade"]));
    assert!(again.contains("nothing to upgrade"), "{again}");
    assert!(ok(&mtm(&repo, &["days", "alice@example.com"])).contains("2026-11-21"));
}
