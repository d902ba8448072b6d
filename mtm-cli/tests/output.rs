//! Where `mtm` output goes: `cat -o` never replaces what is not a regular file, a closed
//! pipe ends the output quietly, and with `--json` errors are JSON too.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// `mtm --repo REPO ARGS…`, not yet run.
fn mtm(repo: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mtm"));
    command
        .arg("--repo")
        .arg(repo)
        .args(args)
        .env_remove("MTM_REPO");
    command
}

fn run(repo: &Path, args: &[&str]) -> Output {
    mtm(repo, args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A repository with one snapshot of `alice@example.com` (a folder of 40 messages, so that
/// its listing is more than a line), and the id of one of its messages.
struct Repo {
    _dir: tempfile::TempDir,
    path: PathBuf,
    message: String,
    raw: Vec<u8>,
}

const ACCOUNT: &str = "alice@example.com";
const DAY: &str = "2026-11-21";

impl Repo {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("alice");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        for i in 0..40 {
            let raw = format!("From: bob@example.org\r\nSubject: Report {i}\r\n\r\nbody {i}\r\n");
            fs::write(
                maildir
                    .join("cur")
                    .join(format!("17000000{i}.M{i}.test:2,S")),
                raw,
            )
            .unwrap();
        }
        let path = dir.path().join("repo");
        assert!(run(&path, &["init"]).status.success());
        let snapshot = run(
            &path,
            &[
                "snapshot",
                "--quiet",
                "--account",
                ACCOUNT,
                "--maildir",
                maildir.to_str().unwrap(),
                "--now",
                "2026-11-21T10:00:00Z",
            ],
        );
        assert!(snapshot.status.success(), "{}", stderr(&snapshot));
        let page = run(&path, &["--json", "ls", ACCOUNT, DAY, "INBOX"]);
        let page: serde_json::Value = serde_json::from_slice(&page.stdout).unwrap();
        let message = page["messages"][0]["id"].as_str().unwrap().to_owned();
        let raw = run(&path, &["cat", ACCOUNT, DAY, &message]).stdout;
        assert!(raw.starts_with(b"From: bob@example.org"));
        Repo {
            _dir: dir,
            path,
            message,
            raw,
        }
    }

    fn cat_to(&self, output: &Path) -> Output {
        run(
            &self.path,
            &[
                "cat",
                ACCOUNT,
                DAY,
                &self.message,
                "-o",
                output.to_str().unwrap(),
            ],
        )
    }
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

#[test]
fn cat_into_a_character_device_writes_to_it_and_leaves_it_a_device() {
    let repo = Repo::new();
    let dir = tempfile::tempdir().unwrap();
    // As root (as CI runs), a private null device: the unfixed command replaced the device
    // node, and doing that to the real /dev/null would break the machine. As anyone else,
    // /dev/null itself (which only root could replace).
    let device = if is_root() {
        let node = dir.path().join("null");
        let made = Command::new("mknod")
            .arg(&node)
            .args(["c", "1", "3"])
            .status()
            .unwrap();
        assert!(made.success());
        node
    } else {
        PathBuf::from("/dev/null")
    };
    let out = repo.cat_to(&device);
    assert!(out.status.success(), "{}", stderr(&out));
    let kind = fs::symlink_metadata(&device).unwrap().file_type();
    assert!(
        kind.is_char_device(),
        "{} is now {kind:?}",
        device.display()
    );
    assert_eq!(fs::read(&device).unwrap(), b"", "still the null device");
}

#[test]
fn cat_into_a_fifo_writes_the_message_to_its_reader() {
    let repo = Repo::new();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // A second name for the FIFO, to reach it even if its first name is replaced.
    let same_fifo = dir.path().join("same-fifo");
    fs::hard_link(&fifo, &same_fifo).unwrap();
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            fs::File::open(fifo).unwrap().read_to_end(&mut got).unwrap();
            got
        })
    };
    let out = repo.cat_to(&fifo);
    assert!(out.status.success(), "{}", stderr(&out));
    if !reader.is_finished() {
        // The unfixed command renamed a file over the FIFO and never opened it: unblock
        // the reader so that the assertions below report it.
        drop(fs::OpenOptions::new().write(true).open(&same_fifo));
    }
    assert_eq!(reader.join().unwrap(), repo.raw);
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn cat_refuses_a_symlink_and_a_directory_naming_the_path() {
    let repo = Repo::new();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("precious");
    fs::write(&target, "precious content").unwrap();
    let link = dir.path().join("download.eml");
    std::os::unix::fs::symlink(&target, &link).unwrap();

    let out = repo.cat_to(&link);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("download.eml"), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious content");

    let out = repo.cat_to(dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 2, "no temporary file left behind: {left:?}");
}

/// Runs `mtm` with stdout a pipe whose reader is already closed.
fn into_closed_pipe(repo: &Path, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = mtm(repo, args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn output_into_a_closed_pipe_stops_quietly_with_status_141() {
    let repo = Repo::new();
    let message = repo.message.clone();
    for args in [
        vec!["ls", ACCOUNT, DAY, "INBOX"],
        vec!["--json", "ls", ACCOUNT, DAY, "INBOX"],
        vec!["accounts"],
        vec!["cat", ACCOUNT, DAY, &message],
        vec!["search", ACCOUNT, "--subject", "Report"],
    ] {
        let out = into_closed_pipe(&repo.path, &args);
        assert_eq!(
            out.status.code(),
            Some(141),
            "mtm {args:?}: {}",
            stderr(&out)
        );
        assert_eq!(stderr(&out), "", "mtm {args:?} says nothing");
    }
}

#[test]
fn an_error_into_a_closed_stderr_still_exits_with_its_code() {
    let repo = Repo::new();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = mtm(&repo.path, &["--json", "days", "nobody@example.com"])
        .stdout(Stdio::null())
        .stderr(writer)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
}

/// The one JSON error on stderr, checked against the exit status.
fn json_error(out: &Output) -> serde_json::Value {
    let text = stderr(out);
    let value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    let error = &value["error"];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(
        error["exit_code"].as_i64(),
        out.status.code().map(i64::from),
        "{text}"
    );
    error.clone()
}

#[test]
fn with_json_errors_are_json_on_stderr_with_kind_message_and_exit_code() {
    let repo = Repo::new();
    let missing = run(
        &repo.path,
        &["--json", "cat", ACCOUNT, DAY, &"0".repeat(64)],
    );
    let error = json_error(&missing);
    assert_eq!(error["kind"], "not_found");
    assert_eq!(error["exit_code"], 3);
    assert!(missing.stdout.is_empty());

    let bad_day = run(&repo.path, &["--json", "ls", ACCOUNT, "yesterday"]);
    assert_eq!(json_error(&bad_day)["kind"], "invalid_input");

    let no_repo = run(&repo.path.join("nowhere"), &["--json", "accounts"]);
    assert_eq!(json_error(&no_repo)["kind"], "not_found");

    // Arguments that do not parse: still JSON, exit 2.
    let unparsed = run(&repo.path, &["--json", "ls"]);
    let error = json_error(&unparsed);
    assert_eq!(error["kind"], "invalid_input");
    assert_eq!(error["exit_code"], 2);

    // Without --json, the same error stays a sentence for people.
    let plain = run(&repo.path, &["cat", ACCOUNT, DAY, &"0".repeat(64)]);
    assert_eq!(plain.status.code(), Some(3));
    assert!(stderr(&plain).starts_with("mtm: "), "{}", stderr(&plain));
}

#[test]
fn with_json_each_failed_account_of_a_snapshot_is_a_json_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("maildirs");
    for account in ["alice@example.com", "bob@example.com"] {
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(root.join(account).join(sub)).unwrap();
        }
    }
    let repo = dir.path().join("repo");
    assert!(run(&repo, &["init"]).status.success());
    let snapshot = [
        "--json",
        "snapshot",
        "--root",
        root.to_str().unwrap(),
        "--now",
        "2026-11-21T10:00:00Z",
    ];
    assert!(run(&repo, &snapshot).status.success());
    // The same day again: both accounts have their snapshot already.
    let again = run(&repo, &snapshot);
    assert_eq!(again.status.code(), Some(4));
    let lines: Vec<serde_json::Value> = stderr(&again)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let accounts: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["error"]["account"].as_str())
        .collect();
    assert_eq!(accounts, ["alice@example.com", "bob@example.com"]);
    assert!(lines.iter().all(|l| l["error"]["kind"] == "already_exists"));
}

#[test]
fn a_full_disk_behind_stdout_is_reported_once_with_exit_1() {
    let repo = Repo::new();
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = mtm(&repo.path, &["ls", ACCOUNT, DAY, "INBOX"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "mtm: cannot write to stdout: No space left on device (os error 28)\n"
    );
}

/// A repository and a Maildir root with one good account, one Maildir whose name is no
/// account id and one symlinked account (skipped without --follow-account-symlinks).
struct SkippingRoot {
    _dir: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
}

impl SkippingRoot {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("maildirs");
        for account in ["alice@example.com", "not an id", "elsewhere/carol"] {
            for sub in ["cur", "new", "tmp"] {
                fs::create_dir_all(root.join(account).join(sub)).unwrap();
            }
        }
        std::os::unix::fs::symlink(root.join("elsewhere/carol"), root.join("carol@example.com"))
            .unwrap();
        let repo = dir.path().join("repo");
        assert!(run(&repo, &["init"]).status.success());
        Self {
            _dir: dir,
            root,
            repo,
        }
    }

    /// `snapshot --root ROOT --now … ARGS`.
    fn snapshot(&self, args: &[&str]) -> Output {
        let root = self.root.to_str().unwrap();
        let snapshot = ["snapshot", "--root", root, "--now", "2026-11-21T10:00:00Z"];
        run(&self.repo, &[&snapshot[..], args].concat())
    }

    /// `repair recover --maildirs ROOT ARGS`.
    fn recover(&self, args: &[&str]) -> Output {
        let recover = [
            "repair",
            "recover",
            "--maildirs",
            self.root.to_str().unwrap(),
        ];
        run(&self.repo, &[&recover[..], args].concat())
    }

    /// The two skipped: the symlinked account, then the name that is no account id.
    fn skipped(&self) -> [PathBuf; 2] {
        [
            self.root.join("carol@example.com"),
            self.root.join("not an id"),
        ]
    }
}

/// Every line of stderr, each parsed as JSON.
fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    stderr(out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn warning_paths(warnings: &[serde_json::Value]) -> Vec<PathBuf> {
    warnings
        .iter()
        .map(|w| PathBuf::from(w["warning"]["path"].as_str().unwrap()))
        .collect()
}

#[test]
fn with_json_the_accounts_a_snapshot_of_a_root_skips_are_json_warnings() {
    let root = SkippingRoot::new();
    let out = root.snapshot(&["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let warnings = json_lines(&out);
    assert_eq!(warning_paths(&warnings), root.skipped());
    for w in &warnings {
        let message = w["warning"]["message"].as_str().unwrap();
        assert!(message.starts_with("account skipped: "), "{message}");
    }
    let bad_name = warnings[1]["warning"]["message"].as_str().unwrap();
    assert!(bad_name.contains("account id"), "{bad_name}");
    // Only alice was snapshotted, and stdout is the JSON reports alone.
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports.as_array().unwrap().len(), 1);
    assert_eq!(reports[0]["account"], "alice@example.com");
}

#[test]
fn with_json_the_accounts_a_recovery_root_skips_are_json_warnings_too() {
    let root = SkippingRoot::new();
    let out = root.recover(&["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(warning_paths(&json_lines(&out)), root.skipped());
}

#[test]
fn without_json_the_accounts_a_snapshot_or_a_recovery_skips_are_plain_lines_naming_them() {
    let root = SkippingRoot::new();
    let [symlinked, bad_name] = root.skipped();
    for out in [root.snapshot(&["--quiet"]), root.recover(&[])] {
        assert!(out.status.success(), "{}", stderr(&out));
        let lines: Vec<String> = stderr(&out).lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        let symlink_line = format!("mtm: {}: account skipped", symlinked.display());
        assert!(lines[0].starts_with(&symlink_line), "{lines:?}");
        let bad_line = format!("mtm: skipping {}: ", bad_name.display());
        assert!(lines[1].starts_with(&bad_line), "{lines:?}");
    }
}
