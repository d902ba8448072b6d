//! `mtm restore …` as an operator drives it: the whole workflow, JSON, exit codes.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Setup {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    maildirs: PathBuf,
    outbox: PathBuf,
    account: &'static str,
}

impl Setup {
    /// Alice has three messages on 2026-11-10; two are deleted afterwards.
    fn new() -> Self {
        Self::for_account("alice@example.com")
    }

    /// The same for another account.
    fn for_account(account: &'static str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let maildirs = dir.path().join("maildirs");
        let outbox = dir.path().join("outbox");
        let alice = maildirs.join(account);
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
            account,
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
            std::fs::read_dir(self.maildirs.join(self.account).join("cur"))
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

/// The emails in the outbox, as text.
fn emails(outbox: &Path) -> Vec<String> {
    let mut all = Vec::new();
    for sub in ["new", "cur"] {
        for entry in std::fs::read_dir(outbox.join(sub)).into_iter().flatten() {
            all.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
        }
    }
    all
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

#[test]
fn a_restore_that_stops_exits_non_zero_and_run_retries_it_billed_once() {
    let s = Setup::new();
    let now = ["--now", "2026-11-12T09:00:00Z"];
    ok(&s.mtm(
        &[
            &["restore", "request", "alice@example.com", "2026-11-10"][..],
            &now,
        ]
        .concat(),
    ));
    // Where the restore writes its files first, there is a file.
    let tmp = s.maildirs.join("alice@example.com/tmp");
    std::fs::remove_dir(&tmp).unwrap();
    std::fs::write(&tmp, "in the way").unwrap();

    let approve = [
        &[
            "restore",
            "approve",
            "alice@example.com/1",
            "--admin",
            "carol",
        ][..],
        &now,
    ]
    .concat();
    let out = s.mtm(&approve);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The exit code is that of the cause: the Maildir could not be written (6).
    assert_eq!(code(&out), Some(6), "{stderr}");
    assert!(
        stderr.contains("alice@example.com/1 did not complete"),
        "{stderr}"
    );
    assert!(stderr.contains("interrupted"), "{stderr}");
    let shown = s.json(&["restore", "show", "alice@example.com/1", "--admin", "carol"]);
    assert_eq!(shown["request"]["request"]["state"], "interrupted");
    let run = ["restore", "run", "alice@example.com/1", "--admin", "carol"];
    assert_eq!(code(&s.mtm(&run)), Some(6), "still in the way");
    assert_eq!(emails_in(&s.outbox), 1, "only the admins were mailed");

    std::fs::remove_file(&tmp).unwrap();
    std::fs::create_dir(&tmp).unwrap();
    let done = s.json(&run);
    assert_eq!(done["request"]["state"], "completed");
    assert_eq!(done["billed"]["price"], 450);
    assert_eq!(s.live_subjects(), ["Keep", "Lost one", "Lost two"]);
    assert_eq!(s.json(&["restore", "ledger"]).as_array().unwrap().len(), 1);
    assert_eq!(emails_in(&s.outbox), 2, "the user was mailed once");
    let text = ok(&s.mtm(&["restore", "show", "alice@example.com/1"]));
    assert!(
        text.contains("interrupt (running -> interrupted)"),
        "{text}"
    );
    assert!(text.contains("retry (interrupted -> running)"), "{text}");
}

#[test]
fn an_admin_gives_up_with_a_reason_and_the_user_is_told() {
    let s = Setup::new();
    let now = ["--now", "2026-11-12T09:00:00Z"];
    ok(&s.mtm(
        &[
            &["restore", "request", "alice@example.com", "2026-11-10"][..],
            &now,
        ]
        .concat(),
    ));
    let tmp = s.maildirs.join("alice@example.com/tmp");
    std::fs::remove_dir(&tmp).unwrap();
    std::fs::write(&tmp, "in the way").unwrap();
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
    assert_ne!(code(&out), Some(0));

    let give_up = [
        "restore",
        "give-up",
        "alice@example.com/1",
        "--reason",
        "the mailbox is being migrated",
    ];
    assert_eq!(code(&s.mtm(&give_up)), Some(9), "a user may not give up");
    let given_up = s.json(&[&give_up[..], &["--admin", "carol"]].concat());
    assert_eq!(given_up["request"]["state"], "failed");
    assert_eq!(
        given_up["request"]["reason"],
        "the mailbox is being migrated"
    );
    let mails = emails(&s.outbox);
    assert_eq!(mails.len(), 2);
    assert!(
        mails
            .iter()
            .any(|m| m.contains("To: alice@example.com")
                && m.contains("the mailbox is being migrated")),
        "{mails:?}"
    );
    let again = s.mtm(&["restore", "run", "alice@example.com/1", "--admin", "carol"]);
    assert_eq!(code(&again), Some(8));
}

#[test]
fn accounts_without_a_domain_are_mailed_at_the_mail_domain_or_told_how_to_fix_it() {
    let s = Setup::for_account("bob");
    let now = ["--now", "2026-11-12T09:00:00Z"];
    ok(&s.mtm(&[&["restore", "request", "bob", "2026-11-10"][..], &now].concat()));
    let approve = [
        &["restore", "approve", "bob/1", "--admin", "carol"][..],
        &now,
    ]
    .concat();
    let done = s.json(&approve);
    assert_eq!(done["request"]["state"], "completed");
    let problems = done["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let problem = problems[0].as_str().unwrap();
    assert!(problem.contains("account bob has no '@'"), "{problem}");
    assert!(problem.contains("--mail-domain"), "{problem}");
    assert_eq!(emails_in(&s.outbox), 1, "only the admins were mailed");

    let deliver = s.json(&["restore", "deliver", "--mail-domain", "example.net"]);
    assert_eq!(
        deliver["problems"].as_array().unwrap().len(),
        0,
        "{deliver}"
    );
    let mails = emails(&s.outbox);
    assert!(
        mails.iter().any(|m| m.contains("To: bob@example.net")),
        "{mails:?}"
    );
}

#[test]
fn a_symlinked_account_is_restored_only_with_follow_account_symlinks() {
    let s = Setup::new();
    let account = s.maildirs.join(s.account);
    let data = s.maildirs.with_file_name("data");
    std::fs::rename(&account, &data).unwrap();
    std::os::unix::fs::symlink(&data, &account).unwrap();
    let now = ["--now", "2026-11-12T09:00:00Z"];
    let request = |follow: bool| {
        let mut args = vec!["restore", "request", s.account, "2026-11-10"];
        args.extend_from_slice(&now);
        if follow {
            args.push("--follow-account-symlinks");
        }
        s.mtm(&args)
    };

    let refused = request(false);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&account.display().to_string()) && stderr.contains("symlink"),
        "{stderr}"
    );

    ok(&request(true));
    let approve = [
        "restore",
        "approve",
        "alice@example.com/1",
        "--admin",
        "carol",
    ];
    let refused = s.mtm(&[&approve[..], &now].concat());
    assert!(!refused.status.success());
    let follow = ["--follow-account-symlinks"];
    ok(&s.mtm(&[&approve[..], &now, &follow].concat()));
    assert_eq!(s.live_subjects(), ["Keep", "Lost one", "Lost two"]);
}

/// Flips one byte in the middle of the last entry of a request's journal.
fn damage_last_entry(journal: &Path) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(journal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let last = entries.last().unwrap();
    let mut data = std::fs::read(last).unwrap();
    let middle = data.len() / 2;
    data[middle] ^= 0x10;
    std::fs::remove_file(last).unwrap();
    std::fs::write(last, data).unwrap();
}

#[test]
fn a_damaged_journal_is_a_warning_by_name_and_the_other_requests_go_on() {
    let s = Setup::new();
    let bob = s.maildirs.join("bob@example.com");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(bob.join(sub)).unwrap();
    }
    std::fs::write(
        bob.join("cur").join("1762000009.M9.test:2,S"),
        "From: b@example.org\nSubject: For Bob\n\nhi\n",
    )
    .unwrap();
    let root = s.maildirs.to_str().unwrap();
    ok(&s.mtm(&[
        "snapshot",
        "--root",
        root,
        "--now",
        "2026-11-11T00:00:30Z",
        "--quiet",
    ]));
    let now = "2026-11-12T09:00:00Z";
    for (account, day) in [
        ("alice@example.com", "2026-11-10"),
        ("bob@example.com", "2026-11-11"),
    ] {
        ok(&s.mtm(&["restore", "request", account, day, "--now", now]));
    }
    damage_last_entry(&s.repo.join("restores/alice@example.com/000001"));
    let warned = |out: &Output| {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            stderr.contains("warning: restore request alice@example.com/1 cannot be read"),
            "{stderr}"
        );
    };

    let listed = s.mtm(&["restore", "list", "--admin", "carol"]);
    assert!(ok(&listed).contains("bob@example.com/1"));
    warned(&listed);
    let queued = s.mtm(&[
        "restore", "list", "--queue", "--admin", "carol", "--now", now,
    ]);
    assert!(ok(&queued).contains("bob@example.com/1"));
    warned(&queued);

    // With --json the list is on stdout and the damage one JSON warning line on stderr.
    let listed = s.mtm(&["--json", "restore", "list", "--admin", "carol"]);
    let requests: serde_json::Value = serde_json::from_str(&ok(&listed)).unwrap();
    assert_eq!(requests.as_array().unwrap().len(), 1);
    assert_eq!(requests[0]["id"]["account"], "bob@example.com");
    let warning: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&listed.stderr).trim()).unwrap();
    assert_eq!(warning["warning"]["request"], "alice@example.com/1");
    assert!(
        warning["warning"]["message"]
            .as_str()
            .unwrap()
            .contains("mtm verify")
    );

    let expired = s.mtm(&["restore", "expire", "--now", "2026-11-26T00:00:00Z"]);
    assert!(ok(&expired).contains("expired bob@example.com/1"));
    warned(&expired);
    let delivered = s.mtm(&["restore", "deliver", "--now", "2026-11-26T01:00:00Z"]);
    ok(&delivered);
    warned(&delivered);
    // The damaged request alone is an integrity error (exit 5) naming it.
    let shown = s.mtm(&["restore", "show", "alice@example.com/1", "--admin", "carol"]);
    assert_eq!(shown.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&shown.stderr).contains("restore request alice@example.com/1"));
}

/// Alice's account belongs to customer ACME (admin carol, Italian, its own price); customer
/// Globex (admin dave) owns another domain; root is the provider's administrator.
fn tenants_file(s: &Setup) -> PathBuf {
    let path = s.repo.with_file_name("tenants.toml");
    std::fs::write(
        &path,
        r#"
[provider]
admins = [{ name = "root", email = "ops@provider.example" }]

[[tenant]]
id = "acme"
domains = ["example.com"]
admins = [{ name = "carol", email = "carol@example.com" }]
language = "it"
time_zone = "Europe/Rome"
pricing = { currency = "EUR", base = 900, per_gib = 0 }

[[tenant]]
id = "globex"
domains = ["globex.example"]
admins = [{ name = "dave", email = "dave@globex.example" }]
"#,
    )
    .unwrap();
    path
}

#[test]
fn with_a_tenants_file_each_customers_admin_decides_only_its_own_requests() {
    let s = Setup::new();
    let tenants = tenants_file(&s);
    let tenants = tenants.to_str().unwrap();
    let now = ["--now", "2026-11-12T09:00:00Z", "--tenants", tenants];
    fn with<'a>(args: &[&'a str], now: &[&'a str]) -> Vec<&'a str> {
        [args, now].concat()
    }
    ok(&s.mtm(&with(
        &["restore", "request", "alice@example.com", "2026-11-10"],
        &now,
    )));
    let id = "alice@example.com/1";
    // Globex's admin: refused at every command, and shown an empty queue and list.
    for args in [
        &["restore", "show", id][..],
        &["restore", "plan", id],
        &["restore", "approve", id],
        &["restore", "reject", id, "--reason", "no"],
        &["restore", "cancel", id],
        &["restore", "run", id],
        &["restore", "give-up", id, "--reason", "no"],
        &["restore", "list", "--account", "alice@example.com"],
    ] {
        let out = s.mtm(&with(&[args, &["--admin", "dave"]].concat(), &now));
        assert_eq!(
            out.status.code(),
            Some(9),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let queue = s.json(&with(
        &["restore", "list", "--queue", "--admin", "dave"],
        &now,
    ));
    assert_eq!(queue.as_array().unwrap().len(), 0);
    let all = s.json(&with(&["restore", "list", "--admin", "dave"], &now));
    assert_eq!(all.as_array().unwrap().len(), 0);
    // A name the file does not list is no administrator at all.
    let out = s.mtm(&with(
        &["restore", "list", "--queue", "--admin", "mallory"],
        &now,
    ));
    assert_eq!(out.status.code(), Some(9));
    // The provider's admin sees it but may not decide for ACME (the file does not allow it).
    let queue = s.json(&with(
        &["restore", "list", "--queue", "--admin", "root"],
        &now,
    ));
    assert_eq!(queue[0]["request"]["tenant"], "acme");
    let out = s.mtm(&with(&["restore", "approve", id, "--admin", "root"], &now));
    assert_eq!(out.status.code(), Some(9));
    // ACME's admin approves: billed to ACME at its price.
    let done = s.json(&with(&["restore", "approve", id, "--admin", "carol"], &now));
    assert_eq!(done["request"]["state"], "completed");
    assert_eq!(done["billed"]["tenant"], "acme");
    assert_eq!(done["billed"]["price"], 900);
    let acme = s.json(&with(&["restore", "ledger", "--tenant", "acme"], &now));
    assert_eq!(acme.as_array().unwrap().len(), 1);
    let globex = s.json(&with(&["restore", "ledger", "--admin", "dave"], &now));
    assert_eq!(globex.as_array().unwrap().len(), 0);
    let later = s.json(&with(&["restore", "ledger", "--since", "2026-11-13"], &now));
    assert_eq!(later.as_array().unwrap().len(), 0);
    // The request's email went to ACME's admin, not the provider's.
    let mut to = Vec::new();
    for sub in ["new", "cur"] {
        for entry in std::fs::read_dir(s.outbox.join(sub)).into_iter().flatten() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            to.extend(
                text.lines()
                    .filter(|l| l.starts_with("To: "))
                    .map(str::to_owned),
            );
        }
    }
    to.sort();
    assert_eq!(to, ["To: alice@example.com", "To: carol@example.com"]);
}

#[test]
fn a_bad_tenants_file_is_refused_naming_its_line() {
    let s = Setup::new();
    let path = s.repo.with_file_name("bad.toml");
    std::fs::write(
        &path,
        "[[tenant]]\nid = \"acme\"\nadmins = [{ name = \"carol\" }]\n",
    )
    .unwrap();
    let out = s.mtm(&[
        "restore",
        "list",
        "--admin",
        "carol",
        "--tenants",
        path.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml, line 3"), "{stderr}");
    assert!(stderr.contains("no email address"), "{stderr}");
}
