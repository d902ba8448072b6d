//! The `mtm` binary, driven as an operator would: exit codes, tables, JSON.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn mtm(repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtm"))
        .arg("--repo")
        .arg(repo)
        .args(args)
        .env_remove("MTM_REPO")
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

fn maildir(root: &Path, messages: &[(&str, &str)]) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    for (i, (subject, body)) in messages.iter().enumerate() {
        let raw = format!("From: a@example.org\r\nSubject: {subject}\r\n\r\n{body}\r\n");
        std::fs::write(
            root.join("cur").join(format!("17000000{i}.M{i}.test:2,S")),
            raw,
        )
        .unwrap();
    }
}

#[test]
fn snapshot_browse_and_download_through_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let root = dir.path().join("maildirs");
    maildir(
        &root.join("alice@example.com"),
        &[("Hello", "one"), ("Report", "two")],
    );
    maildir(&root.join("bob@example.com"), &[("Hi Bob", "three")]);
    ok(&mtm(&repo, &["init", "--time-zone", "Europe/Rome"]));
    let out = ok(&mtm(
        &repo,
        &[
            "--json",
            "snapshot",
            "--root",
            root.to_str().unwrap(),
            "--now",
            "2026-11-20T23:00:30Z",
        ],
    ));
    let reports: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(reports.as_array().unwrap().len(), 2);
    assert_eq!(reports[0]["day"], "2026-11-21");

    let accounts = ok(&mtm(&repo, &["accounts"]));
    assert_eq!(accounts, "alice@example.com\nbob@example.com\n");
    let days: serde_json::Value =
        serde_json::from_str(&ok(&mtm(&repo, &["--json", "days", "alice@example.com"]))).unwrap();
    assert_eq!(days[0]["messages"], 2);

    let page: serde_json::Value = serde_json::from_str(&ok(&mtm(
        &repo,
        &[
            "--json",
            "ls",
            "alice@example.com",
            "2026-11-21",
            "INBOX",
            "--sort",
            "subject",
            "--asc",
        ],
    )))
    .unwrap();
    assert_eq!(page["total"], 2);
    assert_eq!(page["messages"][0]["summary"]["subject"], "Hello");
    let id = page["messages"][1]["id"].as_str().unwrap().to_owned();

    let eml = dir.path().join("report.eml");
    ok(&mtm(
        &repo,
        &[
            "cat",
            "alice@example.com",
            "latest",
            &id[..10],
            "-o",
            eml.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        std::fs::read(&eml).unwrap(),
        b"From: a@example.org\r\nSubject: Report\r\n\r\ntwo\r\n"
    );
    let stdout = mtm(&repo, &["cat", "alice@example.com", "2026-11-21", &id]);
    assert_eq!(
        ok(&stdout),
        "From: a@example.org\r\nSubject: Report\r\n\r\ntwo\r\n"
    );

    let hits: serde_json::Value = serde_json::from_str(&ok(&mtm(
        &repo,
        &[
            "--json",
            "search",
            "alice@example.com",
            "--subject",
            "REPORT",
        ],
    )))
    .unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1);
    let table = ok(&mtm(&repo, &["ls", "alice@example.com", "latest"]));
    assert!(
        table.contains("INBOX") && table.contains("subscribed"),
        "{table}"
    );
    let shown = ok(&mtm(&repo, &["show", "alice@example.com", "latest", &id]));
    assert!(
        shown.contains("Subject: Report") && shown.contains("two"),
        "{shown}"
    );
    let history = ok(&mtm(&repo, &["history", "alice@example.com", &id]));
    assert!(history.contains("2026-11-21"), "{history}");
    // The README's prefixes work for history as for cat.
    let by_prefix = ok(&mtm(&repo, &["history", "alice@example.com", &id[..12]]));
    assert_eq!(by_prefix, history);
    let live = ok(&mtm(
        &repo,
        &[
            "diff",
            "alice@example.com",
            "latest",
            "--live",
            root.join("alice@example.com").to_str().unwrap(),
        ],
    ));
    assert!(live.contains("0 removed, 0 added"), "{live}");
}

#[test]
fn exit_codes_say_what_went_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let code = |out: Output| out.status.code().unwrap();
    // No repository yet: not found.
    assert_eq!(code(mtm(&repo, &["accounts"])), 3);
    ok(&mtm(&repo, &["init"]));
    assert_eq!(code(mtm(&repo, &["init"])), 4);
    let md = dir.path().join("alice");
    maildir(&md, &[("x", "y")]);
    let snap = |now: &str| {
        mtm(
            &repo,
            &[
                "snapshot",
                "--maildir",
                md.to_str().unwrap(),
                "--account",
                "alice@example.com",
                "--now",
                now,
            ],
        )
    };
    ok(&snap("2026-11-20T10:00:00Z"));
    assert_eq!(code(snap("2026-11-20T11:00:00Z")), 4, "same day twice");
    assert_eq!(code(mtm(&repo, &["days", "../etc"])), 2);
    assert_eq!(code(mtm(&repo, &["days", "nobody@example.com"])), 3);
    assert_eq!(
        code(mtm(&repo, &["ls", "alice@example.com", "2026-01-01"])),
        3
    );
    assert_eq!(
        code(mtm(&repo, &["ls", "alice@example.com", "yesterday"])),
        2
    );
    assert_eq!(
        code(mtm(
            &repo,
            &["cat", "alice@example.com", "latest", "deadbeefdeadbeef"]
        )),
        3
    );
    let missing = dir.path().join("no-such-maildir");
    let out = mtm(
        &repo,
        &[
            "snapshot",
            "--maildir",
            missing.to_str().unwrap(),
            "--account",
            "bob@example.com",
        ],
    );
    assert!(matches!(code(out), 3 | 6));
    // A damaged pack: exit 5, with the message named on stderr.
    for entry in walk(&repo.join("packs")) {
        let mut data = std::fs::read(&entry).unwrap();
        data[9] ^= 0x10;
        std::fs::remove_file(&entry).unwrap();
        std::fs::write(&entry, data).unwrap();
    }
    let page: serde_json::Value = {
        let out = mtm(
            &repo,
            &["--json", "ls", "alice@example.com", "latest", "INBOX"],
        );
        if out.status.success() {
            serde_json::from_slice(&out.stdout).unwrap()
        } else {
            assert_eq!(code(out), 5);
            return;
        }
    };
    let id = page["messages"][0]["id"].as_str().unwrap().to_owned();
    let out = mtm(&repo, &["cat", "alice@example.com", "latest", &id]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("integrity"),
        "{out:?}"
    );
    assert_eq!(code(out), 5);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn the_demo_runs_and_recovers_the_deleted_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_mtm"))
        .arg("demo")
        .output()
        .unwrap();
    let text = ok(&out);
    assert!(
        text.contains("byte-for-byte the message Alice deleted"),
        "{text}"
    );
    assert!(text.contains("2 removed, 0 added, 1 moved"), "{text}");
}

#[test]
fn help_documents_exit_codes() {
    let out = Command::new(env!("CARGO_BIN_EXE_mtm"))
        .arg("--help")
        .output()
        .unwrap();
    let text = ok(&out);
    assert!(
        text.contains("Exit codes") && text.contains("3  not found"),
        "{text}"
    );
    assert!(text.contains("141  stdout was closed"), "{text}");
    assert!(text.contains("--json, an error is one JSON line"), "{text}");
}

#[test]
fn verify_exits_zero_when_clean_and_five_naming_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let md = dir.path().join("alice");
    maildir(&md, &[("Payroll", "numbers"), ("Lunch", "noon")]);
    ok(&mtm(&repo, &["init", "--no-dictionary"]));
    ok(&mtm(
        &repo,
        &[
            "snapshot",
            "--maildir",
            md.to_str().unwrap(),
            "--account",
            "alice@example.com",
            "--now",
            "2026-11-20T10:00:00Z",
        ],
    ));
    let clean = ok(&mtm(&repo, &["verify"]));
    assert!(clean.contains("no problems found"), "{clean}");
    let report: serde_json::Value =
        serde_json::from_str(&ok(&mtm(&repo, &["--json", "verify"]))).unwrap();
    assert_eq!(report["problems"].as_array().unwrap().len(), 0);
    for pack in walk(&repo.join("packs")) {
        let mut data = std::fs::read(&pack).unwrap();
        data[9] ^= 0x01;
        std::fs::remove_file(&pack).unwrap();
        std::fs::write(&pack, data).unwrap();
    }
    let out = mtm(&repo, &["verify"]);
    assert_eq!(out.status.code(), Some(5));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("DAMAGED") && text.contains("alice@example.com"),
        "{text}"
    );
    assert_eq!(
        mtm(&repo, &["verify", "--read-data", "2"]).status.code(),
        Some(2)
    );
}

#[test]
fn prune_shows_its_plan_then_removes_expired_days() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let md = dir.path().join("alice");
    maildir(&md, &[("Old", "1")]);
    ok(&mtm(&repo, &["init", "--retention-days", "2"]));
    for d in ["2026-11-18", "2026-11-19", "2026-11-20"] {
        let now = format!("{d}T00:00:30Z");
        ok(&mtm(
            &repo,
            &[
                "snapshot",
                "--maildir",
                md.to_str().unwrap(),
                "--account",
                "alice@example.com",
                "--now",
                &now,
            ],
        ));
    }
    let dry = ok(&mtm(
        &repo,
        &["prune", "--dry-run", "--now", "2026-11-20T12:00:00Z"],
    ));
    assert!(
        dry.contains("2026-11-18") && dry.contains("dry run"),
        "{dry}"
    );
    let days: serde_json::Value =
        serde_json::from_str(&ok(&mtm(&repo, &["--json", "days", "alice@example.com"]))).unwrap();
    assert_eq!(days.as_array().unwrap().len(), 3);
    let done: serde_json::Value = serde_json::from_str(&ok(&mtm(
        &repo,
        &["--json", "prune", "--now", "2026-11-20T12:00:00Z"],
    )))
    .unwrap();
    assert_eq!(done["removed"], 1);
    let days: serde_json::Value =
        serde_json::from_str(&ok(&mtm(&repo, &["--json", "days", "alice@example.com"]))).unwrap();
    assert_eq!(days[0]["day"], "2026-11-19");
}

#[test]
fn diff_and_history_show_keyword_only_changes() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let root = dir.path().join("maildirs");
    let alice = root.join("alice@example.com");
    maildir(&alice, &[("Tagged", "one")]);
    std::fs::write(alice.join("dovecot-keywords"), "0 $label1\n").unwrap();
    ok(&mtm(&repo, &["init"]));
    let snapshot = |now: &str| {
        ok(&mtm(
            &repo,
            &[
                "snapshot",
                "--root",
                root.to_str().unwrap(),
                "--now",
                now,
                "--quiet",
            ],
        ))
    };
    snapshot("2026-11-20T00:00:30Z");
    // Thunderbird sets its "Important" label: only the keyword letter changes.
    let cur = alice.join("cur");
    let file = std::fs::read_dir(&cur)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let name = file.file_name().unwrap().to_str().unwrap().to_owned();
    std::fs::rename(&file, cur.join(name.replace(":2,S", ":2,Sa"))).unwrap();
    snapshot("2026-11-21T00:00:30Z");

    let args = ["diff", "alice@example.com", "2026-11-20", "2026-11-21"];
    let table = ok(&mtm(&repo, &args));
    assert!(
        table.contains("keywords") && table.contains("$label1"),
        "{table}"
    );
    assert!(table.contains("1 with changed keywords"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&mtm(&repo, &[&["--json"][..], &args].concat()))).unwrap();
    let entry = &json["entries"][0];
    assert_eq!(entry["change"], "keywords_changed");
    assert_eq!(entry["after"][0]["keywords"][0], "$label1");
    let id = entry["id"].as_str().unwrap();
    let history = ok(&mtm(&repo, &["history", "alice@example.com", id]));
    assert!(history.contains("$label1"), "{history}");
}

#[test]
fn a_symlinked_account_is_snapshotted_only_with_follow_account_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let root = dir.path().join("maildirs");
    maildir(&root.join("alice@example.com"), &[("Hello", "one")]);
    maildir(&dir.path().join("elsewhere/bob"), &[("Hi Bob", "two")]);
    std::os::unix::fs::symlink(
        dir.path().join("elsewhere/bob"),
        root.join("bob@example.com"),
    )
    .unwrap();
    ok(&mtm(&repo, &["init"]));
    let snapshot = |now: &str, follow: bool| {
        let mut args = vec!["snapshot", "--quiet", "--now", now, "--root"];
        args.push(root.to_str().unwrap());
        if follow {
            args.push("--follow-account-symlinks");
        }
        mtm(&repo, &args)
    };
    let out = snapshot("2026-11-20T00:00:30Z", false);
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bob@example.com") && stderr.contains("symlink"),
        "{stderr}"
    );
    assert_eq!(ok(&mtm(&repo, &["accounts"])), "alice@example.com\n");

    ok(&snapshot("2026-11-21T00:00:30Z", true));
    assert_eq!(
        ok(&mtm(&repo, &["accounts"])),
        "alice@example.com\nbob@example.com\n"
    );
}

#[test]
fn diff_live_lists_what_it_skipped_after_the_table_and_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let alice = dir.path().join("alice");
    maildir(&alice, &[("Hello", "one")]);
    ok(&mtm(&repo, &["init"]));
    let snapshot = [
        "snapshot",
        "--quiet",
        "--maildir",
        alice.to_str().unwrap(),
        "--account",
        "alice@example.com",
        "--now",
        "2026-11-20T00:00:30Z",
    ];
    ok(&mtm(&repo, &snapshot));
    maildir(&dir.path().join("bob"), &[("Bob's", "two")]);
    let stolen = alice.join(".Stolen");
    std::fs::create_dir_all(stolen.join("new")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("bob/cur"), stolen.join("cur")).unwrap();

    let diff = ["diff", "alice@example.com", "2026-11-20", "--live"];
    let live = [&diff[..], &[alice.to_str().unwrap()]].concat();
    let text = ok(&mtm(&repo, &live));
    let named = stolen.join("cur").display().to_string();
    let skipped = text.split("skipped:").nth(1).unwrap_or_default();
    assert!(skipped.contains(&named), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&mtm(&repo, &[&["--json"][..], &live].concat()))).unwrap();
    let warnings = json["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains(&named)),
        "{json}"
    );
    assert_eq!(json["entries"].as_array().unwrap().len(), 0, "{json}");
}
