//! `mtm restore …` as an operator drives it: the whole workflow, JSON, exit codes.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Setup {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    maildirs: PathBuf,
    outbox: PathBuf,
}

impl Setup {
    /// Alice has three messages on 2026-11-10; two are deleted afterwards.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let maildirs = dir.path().join("maildirs");
        let outbox = dir.path().join("outbox");
        let alice = maildirs.join("alice@example.com");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(alice.join(sub)).unwrap();
        }
        for (i, subject) in ["Keep", "Lost one", "Lost two"].iter().enumerate() {
            let raw = format!("From: a@example.org\nSubject: {subject}\n\nbody {i}\n");
            let name = format!("176200000{i}.M{i}.test,S={}:2,S", raw.len());
            std::fs::write(alice.join("cur").join(name), raw).unwrap();
        }
        let setup = Self {
            _dir: dir,
            repo,
            maildirs,
            outbox,
        };
        ok(&setup.mtm(&["init"]));
        ok(&setup.mtm(&[
            "snapshot",
            "--root",
            setup.maildirs.to_str().unwrap(),
            "--now",
            "2026-11-10T00:00:30Z",
            "--quiet",
        ]));
        for entry in std::fs::read_dir(alice.join("cur")).unwrap() {
            let path = entry.unwrap().path();
            if !std::fs::read_to_string(&path).unwrap().contains("Keep") {
                std::fs::remove_file(path).unwrap();
            }
        }
        setup
    }

    fn mtm(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mtm"))
            .arg("--repo")
            .arg(&self.repo)
            .args(args)
            .env_remove("MTM_REPO")
            .env_remove("MTM_ADMIN")
            .env("MTM_MAILDIRS", &self.maildirs)
            .env("MTM_NOTIFY_MAILDIR", &self.outbox)
            .env("MTM_ADMIN_EMAIL", "ops@example.com")
            .env("MTM_PRICE_BASE", "450")
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&ok(&self.mtm(&all))).unwrap()
    }

    fn live_subjects(&self) -> Vec<String> {
        let mut subjects: Vec<String> =
            std::fs::read_dir(self.maildirs.join("alice@example.com/cur"))
                .unwrap()
                .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                .map(|text| {
                    text.lines()
                        .find_map(|l| l.strip_prefix("Subject: "))
                        .unwrap()
                        .to_owned()
                })
                .collect();
        subjects.sort();
        subjects
    }
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

fn emails_in(outbox: &Path) -> usize {
    ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(outbox.join(sub)).ok())
        .map(|dir| dir.count())
        .sum()
}

#[test]
fn request_plan_approve_and_the_mail_is_back() {
    let s = Setup::new();
    let now = ["--now", "2026-11-12T09:00:00Z"];
    let asked = s.json(
        &[
            &["restore", "request", "alice@example.com", "2026-11-10"][..],
            &now,
        ]
        .concat(),
    );
    assert_eq!(asked["request"]["id"]["number"], 1);
    assert_eq!(asked["request"]["state"], "requested");
    assert_eq!(asked["plan"]["messages"], 2);
    assert_eq!(emails_in(&s.outbox), 1, "the admins were mailed");

    let plan = s.json(&["restore", "plan", "alice@example.com/1"]);
    assert_eq!(plan["messages"], 2);
    assert_eq!(plan["already_present"], 1);

    let queue = s.json(
        &[
            &["restore", "list", "--queue", "--admin", "carol"][..],
            &now,
        ]
        .concat(),
    );
    assert_eq!(queue.as_array().unwrap().len(), 1);

    let done = s.json(
        &[
            &[
                "restore",
                "approve",
                "alice@example.com/1",
                "--admin",
                "carol",
            ][..],
            &now,
        ]
        .concat(),
    );
    assert_eq!(done["request"]["state"], "completed");
    assert_eq!(done["result"]["messages_restored"], 2);
    assert_eq!(done["billed"]["price"], 450);
    assert_eq!(s.live_subjects(), ["Keep", "Lost one", "Lost two"]);
    assert_eq!(emails_in(&s.outbox), 2, "the user was mailed");

    let ledger = s.json(&["restore", "ledger"]);
    assert_eq!(ledger.as_array().unwrap().len(), 1);
    let shown = s.json(&["restore", "show", "alice@example.com/1", "--admin", "dan"]);
    assert!(shown["audit"].as_array().unwrap().len() >= 5);
    let text = ok(&s.mtm(&["restore", "show", "alice@example.com/1"]));
    assert!(text.contains("completed"), "{text}");
    assert!(text.contains("approve (requested -> approved)"), "{text}");
}

#[test]
fn forbidden_moves_have_their_own_exit_codes() {
    let s = Setup::new();
    let now = ["--now", "2026-11-12T09:00:00Z"];
    ok(&s.mtm(
        &[
            &["restore", "request", "alice@example.com", "2026-11-10"][..],
            &now,
        ]
        .concat(),
    ));
    // A user approving: permission denied (9).
    let out = s.mtm(&[&["restore", "approve", "alice@example.com/1"][..], &now].concat());
    assert_eq!(
        out.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Another user looking: permission denied.
    let out = s.mtm(&[
        "restore",
        "show",
        "alice@example.com/1",
        "--user",
        "bob@example.com",
    ]);
    assert_eq!(out.status.code(), Some(9));
    // A second open request: already exists (4).
    let out = s.mtm(
        &[
            &["restore", "request", "alice@example.com", "2026-11-10"][..],
            &now,
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(4));
    ok(&s.mtm(
        &[
            &[
                "restore",
                "reject",
                "alice@example.com/1",
                "--admin",
                "carol",
                "--reason",
                "no",
            ][..],
            &now,
        ]
        .concat(),
    ));
    // Approving a rejected request: invalid transition (8).
    let out = s.mtm(
        &[
            &[
                "restore",
                "approve",
                "alice@example.com/1",
                "--admin",
                "carol",
            ][..],
            &now,
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(8));
    // Bad id (2), unknown request (3).
    assert_eq!(s.mtm(&["restore", "show", "nobody"]).status.code(), Some(2));
    assert_eq!(
        s.mtm(&["restore", "show", "alice@example.com/7"])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(s.live_subjects(), ["Keep"]);
    let ledger = s.json(&["restore", "ledger"]);
    assert!(ledger.as_array().unwrap().is_empty());
}
