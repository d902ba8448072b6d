//! Real `mtm` processes: two snapshotting one repository at once, and snapshots killed with
//! SIGKILL at random moments.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn mtm(repo: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mtm"));
    c.arg("--repo").arg(repo).env_remove("MTM_REPO");
    c
}

fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A Maildir with `n` messages of a few KB each, distinct per `seed`.
fn maildir(root: &Path, n: usize, seed: usize) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    for i in 0..n {
        let body = format!("message {i} of mailbox {seed} ").repeat(60 + i % 50);
        let raw =
            format!("From: a{seed}@example.org\r\nSubject: Note {seed}-{i}\r\n\r\n{body}\r\n");
        std::fs::write(
            root.join("cur")
                .join(format!("17000{seed}{i:05}.M{i}.t:2,S")),
            raw,
        )
        .unwrap();
    }
}

fn verify_clean(repo: &Path) {
    let out = mtm(repo).args(["--json", "verify"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "verify: {}", report["problems"]);
}

#[test]
fn two_processes_snapshot_different_accounts_into_one_repository_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    run_ok(mtm(&repo).arg("init"));
    let accounts = ["alice@example.com", "bob@example.com"];
    for (seed, account) in accounts.iter().enumerate() {
        maildir(&dir.path().join(account), 400, seed);
    }
    let children: Vec<_> = accounts
        .iter()
        .map(|account| {
            mtm(&repo)
                .args([
                    "snapshot",
                    "--quiet",
                    "--now",
                    "2026-11-20T00:00:30Z",
                    "--account",
                    account,
                    "--maildir",
                ])
                .arg(dir.path().join(account))
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    verify_clean(&repo);
    for account in accounts {
        let days: serde_json::Value =
            serde_json::from_str(&run_ok(mtm(&repo).args(["--json", "days", account]))).unwrap();
        assert_eq!(days[0]["messages"], 400, "{account}");
    }
}

#[test]
fn a_snapshot_killed_at_random_moments_leaves_a_repository_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    run_ok(mtm(&repo).arg("init"));
    let root = dir.path().join("maildirs");
    for seed in 0..4 {
        maildir(&root.join(format!("user{seed}@example.com")), 300, seed);
    }
    // A first, complete snapshot that every later crash must leave intact.
    run_ok(
        mtm(&repo)
            .args([
                "snapshot",
                "--quiet",
                "--now",
                "2026-11-19T00:00:30Z",
                "--root",
            ])
            .arg(&root),
    );
    let mut state = 0x853c_49e6_748f_ea9bu64;
    for attempt in 0..6 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = Duration::from_millis(5 + state % 120);
        // New mail each round, so there is something to write.
        maildir(&root.join("user0@example.com"), 300 + 20 * (attempt + 1), 0);
        let mut child = mtm(&repo)
            .args([
                "snapshot",
                "--quiet",
                "--now",
                "2026-11-20T00:00:30Z",
                "--root",
            ])
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        verify_clean(&repo);
        let first: serde_json::Value = serde_json::from_str(&run_ok(mtm(&repo).args([
            "--json",
            "days",
            "user1@example.com",
        ])))
        .unwrap();
        assert_eq!(
            first[0]["day"], "2026-11-19",
            "attempt {attempt} after {delay:?}"
        );
        // Whatever the kill interrupted, the day's snapshot can be completed: accounts that
        // finished before the kill report 'already exists' (exit 4), the others are taken.
        let out = mtm(&repo)
            .args([
                "snapshot",
                "--quiet",
                "--now",
                "2026-11-20T00:00:30Z",
                "--root",
            ])
            .arg(&root)
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 4)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        verify_clean(&repo);
        for seed in 0..4 {
            let account = format!("user{seed}@example.com");
            let days: serde_json::Value =
                serde_json::from_str(&run_ok(mtm(&repo).args(["--json", "days", &account])))
                    .unwrap();
            assert_eq!(
                days.as_array().unwrap().len(),
                2,
                "{account} after attempt {attempt}"
            );
        }
        // Start the next round from a day without a snapshot again (its blobs stay behind,
        // unreferenced, as a crash would leave them).
        for seed in 0..4 {
            let key = repo
                .join("snapshots")
                .join(format!("user{seed}@example.com"))
                .join("2026-11-20.json");
            std::fs::remove_file(key).unwrap();
        }
    }
}

#[test]
fn a_gc_beside_a_running_snapshot_and_a_killed_gc_leave_a_repository_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    run_ok(mtm(&repo).args(["init", "--retention-days", "1"]));
    let root = dir.path().join("maildirs");
    for seed in 0..3 {
        maildir(&root.join(format!("user{seed}@example.com")), 300, seed);
    }
    for day in ["2026-11-18", "2026-11-19"] {
        let now = format!("{day}T00:00:30Z");
        run_ok(
            mtm(&repo)
                .args(["snapshot", "--quiet", "--now", &now, "--root"])
                .arg(&root),
        );
        // New mail each day, and the oldest of user0 goes: the prune frees real bytes.
        maildir(&root.join("user0@example.com"), 320, 0);
    }
    run_ok(mtm(&repo).args(["prune", "--now", "2026-11-20T12:00:00Z"]));
    // A snapshot and a gc at once: the gc either runs before the snapshot's lock, after it,
    // or is refused as busy (exit 7); the repository verifies in every case.
    let mut snapshot = mtm(&repo)
        .args([
            "snapshot",
            "--quiet",
            "--now",
            "2026-11-20T00:00:30Z",
            "--root",
        ])
        .arg(&root)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let gc = mtm(&repo)
        .args(["gc", "--repack-below", "0.9"])
        .output()
        .unwrap();
    assert!(
        matches!(gc.status.code(), Some(0 | 7)),
        "{}",
        String::from_utf8_lossy(&gc.stderr)
    );
    assert!(snapshot.wait().unwrap().success());
    verify_clean(&repo);
    // A gc killed at random moments: whatever it had done, nothing retained is lost.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for attempt in 0..4 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut gc = mtm(&repo)
            .args(["gc", "--repack-below", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(state % 60));
        let _ = gc.kill();
        let _ = gc.wait();
        verify_clean(&repo);
        let days: serde_json::Value = serde_json::from_str(&run_ok(mtm(&repo).args([
            "--json",
            "days",
            "user1@example.com",
        ])))
        .unwrap();
        // A one-day window pruned at 2026-11-20 left only that day's snapshot.
        assert_eq!(days[0]["day"], "2026-11-20", "attempt {attempt}");
        assert_eq!(days.as_array().unwrap().len(), 1, "attempt {attempt}");
    }
    // The killed gc's lock is stale (its process is gone): the next gc runs.
    run_ok(mtm(&repo).arg("gc"));
    verify_clean(&repo);
}
