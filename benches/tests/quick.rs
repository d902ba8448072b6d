//! End-to-end checks of the generator and of the `mtm-bench` command.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use mtm_benches::measure::which;
use mtm_benches::workload::{self, CopyMode, FOLDERS, WorkloadConfig};

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mtm-bench"))
}

fn run_ok(args: &[&str]) -> String {
    let out = bench().args(args).output().expect("mtm-bench runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mtm-bench {args:?} failed:\n{stderr}");
    String::from_utf8(out.stdout).expect("UTF-8 report")
}

/// The line of the figures table starting with `label`, split into its columns.
fn figure<'a>(report: &'a str, label: &str) -> Vec<&'a str> {
    let line = report
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{report}"));
    line[label.len()..].split_whitespace().collect()
}

#[test]
fn tiny_tree_is_a_dovecot_maildir() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = WorkloadConfig {
        accounts: 2,
        messages_per_account: 25,
        seed: 3,
        copies: CopyMode::PerRecipientHeaders,
    };
    workload::generate(dir.path(), &cfg).unwrap();
    let acct = dir.path().join("user02@example.com");
    assert_eq!(
        fs::read_to_string(acct.join("subscriptions")).unwrap(),
        "V\t2\n\nINBOX\nSent\nDrafts\nArchive\nArchive\t2024\nTrash\n"
    );
    for f in FOLDERS {
        assert!(acct.join(f.dir).join("cur").is_dir());
    }
    assert!(acct.join(".Archive.2024/maildirfolder").is_file());
    let files = workload::scan(dir.path(), &cfg).unwrap();
    assert_eq!(files.len(), 50);
    for f in &files {
        assert!(f.name.contains(".bench,S="), "{}", f.name);
        assert!(
            f.name.contains(":2,"),
            "initial corpus is all in cur/: {}",
            f.name
        );
    }
    let stats = workload::day_step(dir.path(), &cfg, 1).unwrap();
    let after = workload::scan(dir.path(), &cfg).unwrap();
    assert_eq!(after.len() as u64, 50 - stats.deleted + stats.added.files);
}

#[test]
fn bad_arguments_are_clear_errors() {
    for args in [
        &["--accounts", "0", "--skip-mtm", "--skip-peers"][..],
        &["--messages", "0", "--skip-mtm", "--skip-peers"][..],
        &["--days", "9999", "--skip-mtm", "--skip-peers"][..],
        &["--accounts", "many"][..],
        &["--mtm", "/nonexistent/mtm", "--skip-peers"][..],
    ] {
        let out = bench().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        assert!(stderr.contains("error"), "{args:?}: {stderr}");
    }
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("precious"), b"x").unwrap();
    let out = bench()
        .args(["--quick", "--skip-mtm", "--skip-peers", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert!(dir.path().join("precious").is_file());
}

#[test]
fn quick_generator_only() {
    let report = run_ok(&["--quick", "--skip-mtm", "--skip-peers", "--days", "2"]);
    assert!(
        report.contains("corpus: first day 600 message files"),
        "{report}"
    );
    assert!(report.contains("generator:"), "{report}");
    assert_eq!(figure(&report, "first snapshot (s)")[..3], ["-", "-", "-"]);
}

#[test]
fn quick_with_peers() {
    if which("restic").is_none() || which("borg").is_none() {
        assert!(
            std::env::var_os("MTM_BENCH_REQUIRE_PEERS").is_none(),
            "MTM_BENCH_REQUIRE_PEERS is set but restic or borg is not on PATH"
        );
        eprintln!("skipped: restic or borg not on PATH");
        return;
    }
    let report = run_ok(&["--quick", "--skip-mtm", "--days", "1", "--repeat", "1"]);
    for label in [
        "first snapshot (s)",
        "median daily incremental (s)",
        "repository size, du (MB)",
        "repository files",
        "peak RSS first snapshot (MiB)",
    ] {
        let cols = figure(&report, label);
        assert_eq!(cols[0], "-", "{label}: mtm skipped");
        for (i, col) in cols[1..3].iter().enumerate() {
            let v: f64 = col
                .parse()
                .unwrap_or_else(|_| panic!("{label} column {i}: {col:?}"));
            assert!(v > 0.0, "{label}: {v}");
        }
    }
    assert!(
        report.contains("restic find name, all snaps (s)"),
        "{report}"
    );
}

/// The `mtm` binary of this workspace, when it has been built.
fn mtm_binary() -> Option<PathBuf> {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_mtm-bench"));
    let sibling = exe.parent().map(|d| d.join("mtm"));
    let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/mtm");
    [sibling, Some(release)]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
}

#[test]
fn quick_end_to_end_with_mtm() {
    let Some(mtm) = mtm_binary() else {
        assert!(
            std::env::var_os("MTM_BENCH_REQUIRE_MTM").is_none(),
            "MTM_BENCH_REQUIRE_MTM is set but no mtm binary is built (cargo build -p mtm-cli)"
        );
        eprintln!("skipped: no mtm binary built (cargo build -p mtm-cli)");
        return;
    };
    let mtm = mtm.display().to_string();
    let report = run_ok(&["--quick", "--skip-peers", "--repeat", "1", "--mtm", &mtm]);
    for label in [
        "first snapshot (s)",
        "first snapshot (MB/s)",
        "median daily incremental (s)",
        "repository size, du (MB)",
        "repository / raw corpus",
        "repository files",
        "peak RSS first snapshot (MiB)",
    ] {
        let v: f64 = figure(&report, label)[0].parse().unwrap();
        assert!(v > 0.0, "{label}: {v}");
    }
    for label in [
        "mtm ls page 1 x 50 of INBOX (s)",
        "mtm search subject, all days (s)",
        "mtm cat one .eml, fresh proc (s)",
    ] {
        let v: f64 = figure(&report, label)[0].parse().unwrap();
        assert!(v > 0.0, "{label}: {v}");
    }
    assert!(report.contains("byte-exact: yes"), "{report}");
}

#[test]
fn both_workloads_are_labelled_generator_only() {
    let report = run_ok(&[
        "--workload",
        "both",
        "--shape",
        "40x5",
        "--skip-mtm",
        "--skip-peers",
        "--days",
        "1",
        "--repeat",
        "1",
    ]);
    let classic = report
        .find("== mtm-bench: workload classic, shape 40x5:")
        .expect("classic report");
    let real = report
        .find("== mtm-bench: workload real, shape 40x5:")
        .expect("real report");
    assert!(classic < real, "{report}");
    assert_eq!(
        report
            .matches("corpus: first day 200 message files")
            .count(),
        2
    );
    assert!(report.contains("-- workload real, shape 40x5: real-mail figures --"));
    assert!(report.contains("zstd level 3 (zstd crate in-process, 1 thread"));
    let summary = report
        .lines()
        .find(|l| l.starts_with("summary: workload=real shape=40x5 days=1 "))
        .unwrap_or_else(|| panic!("no summary line in:\n{report}"));
    // Without tools, only the zstd figure has a value.
    let zstd: f64 = summary
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("zstd_s="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(zstd > 0.0);
    assert!(summary.contains(" first_s=- "), "{summary}");
    assert!(
        bench()
            .args(["--shape", "12"])
            .output()
            .unwrap()
            .status
            .code()
            != Some(0)
    );
}

#[test]
fn real_end_to_end_with_mtm() {
    let Some(mtm) = mtm_binary() else {
        assert!(
            std::env::var_os("MTM_BENCH_REQUIRE_MTM").is_none(),
            "MTM_BENCH_REQUIRE_MTM is set but no mtm binary is built (cargo build -p mtm-cli)"
        );
        eprintln!("skipped: no mtm binary built (cargo build -p mtm-cli)");
        return;
    };
    let mtm = mtm.display().to_string();
    let report = run_ok(&[
        "--workload",
        "real",
        "--shape",
        "3x60",
        "--days",
        "2",
        "--skip-peers",
        "--repeat",
        "1",
        "--mtm",
        &mtm,
    ]);
    let summary = report
        .lines()
        .find(|l| l.starts_with("summary: workload=real shape=3x60 days=2 "))
        .unwrap_or_else(|| panic!("no summary line in:\n{report}"));
    for key in [
        "first_s",
        "zstd_s",
        "first_over_zstd",
        "nochange_s",
        "nochange_over_find",
        "churn_s",
        "churn_over_find",
        "last_churn_s",
        "last_nochange_s",
        "night_rss_mib",
        "cat_s",
        "cat_rss_mib",
        "ls_s",
        "ls_rss_mib",
        "repo_mb",
    ] {
        let v: f64 = summary
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} missing: {summary}"))
            .parse()
            .unwrap_or_else(|_| panic!("{key} not a number: {summary}"));
        assert!(v > 0.0, "{key}: {v}");
    }
    // Snapshot days 0 (first), 1 (no change), 2-3 (churn), 4 (no change): five listed.
    assert!(
        report.contains("5 day(s) listed, last 2026-11-05"),
        "{report}"
    );
    assert!(report.contains("byte-exact: yes"), "{report}");
}
