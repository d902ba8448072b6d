//! `mtm-bench`: generates a deterministic Maildir++ corpus, simulates days of mail, and
//! measures the `mtm` command against restic and borg on the same corpus in the same run.

use std::error::Error;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use mtm_benches::measure::{self, DirUsage, Measured, RunError, dir_usage, median, which};
use mtm_benches::techniques::{self, Techniques};
use mtm_benches::workload::{
    self, CopyMode, DayMode, FOLDERS, MessageFile, WorkloadConfig, WorkloadKind, day_start_secs,
    iso_date, parse_shape,
};

type BoxResult<T> = Result<T, Box<dyn Error>>;

const RESTIC_PASSWORD: &str = "mtm-bench";
const TIME_ZONE: &str = "Europe/Rome";
const MB: f64 = 1_000_000.0;

/// Benchmark Mail Time Machine (`mtm`) against restic and borg on a generated Maildir corpus.
#[derive(Parser, Debug)]
#[command(name = "mtm-bench", version, about, long_about = None)]
struct Args {
    /// Small preset: 2 accounts x 300 messages x 3 days (explicit options still win).
    #[arg(long)]
    quick: bool,
    /// Keep only this many days: after each day's snapshot every tool prunes (mtm prune +
    /// gc, restic forget --prune, borg prune + compact), and the report shows each day's
    /// repository size (the steady-state curve) and the prune times.
    #[arg(long)]
    retain: Option<u32>,
    /// Balanced days: each day deletes as many bytes of old mail as it delivers, so the live
    /// corpus keeps its size and, with --retain, the repositories should stop growing once
    /// the window is full (the report gives each tool's growth after that day).
    #[arg(long)]
    balanced: bool,
    /// Which mail: `classic` (the original workload, unchanged), `real` (mail that looks
    /// like real mail, with the extra figures), or `both` (one run of each, two reports).
    #[arg(long, value_enum, default_value_t = WorkloadArg::Classic)]
    workload: WorkloadArg,
    /// Accounts x messages per account: `10x5000` (the default), `1000x50`, `10000x20`, or
    /// any `AxM` (explicit --accounts / --messages still win).
    #[arg(long)]
    shape: Option<String>,
    /// Number of accounts [default: 10].
    #[arg(long)]
    accounts: Option<usize>,
    /// Message files per account in the initial corpus [default: 5000].
    #[arg(long)]
    messages: Option<usize>,
    /// Simulated days after the first snapshot [default: 15].
    #[arg(long)]
    days: Option<u32>,
    /// Seed of the workload.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Copies delivered to several accounts are byte-identical (no per-recipient
    /// Delivered-To/Received headers).
    #[arg(long)]
    identical_copies: bool,
    /// Working directory (corpus and repositories); must be empty or absent. Default: a
    /// fresh directory under /tmp, removed at the end unless --keep.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the default temporary working directory.
    #[arg(long)]
    keep: bool,
    /// Do not run restic and borg.
    #[arg(long)]
    skip_peers: bool,
    /// Do not run mtm (generator and peers only).
    #[arg(long)]
    skip_mtm: bool,
    /// Path of the `mtm` binary [default: next to this binary, then
    /// <workspace>/target/release/mtm, then PATH].
    #[arg(long)]
    mtm: Option<PathBuf>,
    /// Runs of each query (ls, search, cat, find); the median is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
}

/// `--workload`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum WorkloadArg {
    Classic,
    Real,
    Both,
}

impl WorkloadArg {
    fn kinds(self) -> Vec<WorkloadKind> {
        match self {
            WorkloadArg::Classic => vec![WorkloadKind::Classic],
            WorkloadArg::Real => vec![WorkloadKind::Real],
            WorkloadArg::Both => vec![WorkloadKind::Classic, WorkloadKind::Real],
        }
    }
}

struct Plan {
    cfg: WorkloadConfig,
    days: u32,
}

impl Args {
    fn plan(&self) -> BoxResult<Plan> {
        let (mut accounts, mut messages, days) = if self.quick {
            (2, 300, 3)
        } else {
            (10, 5_000, 15)
        };
        if let Some(shape) = &self.shape {
            (accounts, messages) = parse_shape(shape)?;
        }
        let cfg = WorkloadConfig {
            accounts: self.accounts.unwrap_or(accounts),
            messages_per_account: self.messages.unwrap_or(messages),
            seed: self.seed,
            copies: if self.identical_copies {
                CopyMode::Identical
            } else {
                CopyMode::PerRecipientHeaders
            },
        };
        cfg.validate()?;
        let days = self.days.unwrap_or(days);
        if days > 365 {
            return Err(format!("--days must be at most 365, got {days}").into());
        }
        if self.repeat == 0 || self.repeat > 100 {
            return Err(format!("--repeat must be between 1 and 100, got {}", self.repeat).into());
        }
        Ok(Plan { cfg, days })
    }
}

/// One tool under test: how to init it and take a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mtm,
    Restic,
    Borg,
}

#[derive(Debug)]
struct Tool {
    kind: Kind,
    program: PathBuf,
    repo: PathBuf,
    envs: Vec<(String, String)>,
    first: Option<Measured>,
    incrementals: Vec<Measured>,
    usage: Option<DirUsage>,
    /// Seconds of each day's prune (and gc / compact), with `--retain`.
    prunes: Vec<f64>,
    /// Repository size after each day, with `--retain`.
    sizes: Vec<u64>,
    /// Nightly runs with no change in the corpus (real workload): the night after the first
    /// snapshot and the night after the last day.
    quiet: Vec<Measured>,
}

impl Tool {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Mtm => "mtm",
            Kind::Restic => "restic",
            Kind::Borg => "borg",
        }
    }

    fn run(
        &self,
        args: &[String],
        cwd: Option<&Path>,
        scratch: &Path,
    ) -> Result<Measured, RunError> {
        measure::run_measured(&self.program, args, &self.envs, cwd, scratch)
    }

    /// Keeps the last `keep` daily snapshots and reclaims what that frees: returns the
    /// seconds it took. mtm does both in one `prune --gc` (one walk of the snapshots, like
    /// restic's `forget --prune`).
    fn prune(&self, day: u32, keep: u32, scratch: &Path) -> Result<f64, RunError> {
        flush_dirty_pages();
        let repo = self.repo.display().to_string();
        let keep = keep.to_string();
        let runs: Vec<Vec<String>> = match self.kind {
            Kind::Mtm => vec![vec![
                "--repo".into(),
                repo,
                "prune".into(),
                "--now".into(),
                snapshot_now(day),
                "--gc".into(),
            ]],
            Kind::Restic => vec![vec![
                "-r".into(),
                repo,
                "forget".into(),
                "--quiet".into(),
                "--keep-last".into(),
                keep,
                "--prune".into(),
            ]],
            Kind::Borg => vec![
                vec!["prune".into(), "--keep-last".into(), keep, repo.clone()],
                vec!["compact".into(), repo],
            ],
        };
        let mut seconds = 0.0;
        for args in runs {
            seconds += self.run(&args, None, scratch)?.seconds;
        }
        Ok(seconds)
    }

    fn init(&self, scratch: &Path, retain: Option<u32>) -> BoxResult<()> {
        let repo = self.repo.display().to_string();
        let args: Vec<String> = match self.kind {
            Kind::Mtm => {
                let mut args = vec![
                    "--repo".into(),
                    repo,
                    "init".into(),
                    "--time-zone".into(),
                    TIME_ZONE.into(),
                ];
                if let Some(keep) = retain {
                    args.extend(["--retention-days".into(), keep.to_string()]);
                }
                args
            }
            Kind::Restic => vec![
                "-r".into(),
                repo,
                "init".into(),
                "--repository-version".into(),
                "2".into(),
            ],
            Kind::Borg => vec!["init".into(), "-e".into(), "none".into(), repo],
        };
        self.run(&args, None, scratch)?;
        Ok(())
    }

    /// Snapshot of the whole corpus for snapshot day `day` (0 = first). Dirty pages left by
    /// the generator or the previous tool are flushed first, so that no tool pays for another's
    /// writes.
    fn snapshot(&self, corpus: &Path, day: u32, scratch: &Path) -> Result<Measured, RunError> {
        flush_dirty_pages();
        let repo = self.repo.display().to_string();
        let corpus_arg = corpus.display().to_string();
        let args: Vec<String> = match self.kind {
            Kind::Mtm => vec![
                "--repo".into(),
                repo,
                "snapshot".into(),
                "--root".into(),
                corpus_arg,
                "--now".into(),
                snapshot_now(day),
                "--quiet".into(),
            ],
            Kind::Restic => vec![
                "-r".into(),
                repo,
                "backup".into(),
                "--quiet".into(),
                "--host".into(),
                "mtm-bench".into(),
                corpus_arg,
            ],
            Kind::Borg => vec![
                "create".into(),
                "--compression".into(),
                "zstd,3".into(),
                format!("{repo}::day-{day:03}"),
                corpus_arg,
            ],
        };
        self.run(&args, None, scratch)
    }
}

/// `sync`: writes every dirty page out before a measured run. A failure only makes the
/// figures noisier, so it is not an error.
fn flush_dirty_pages() {
    let _ = std::process::Command::new("sync").status();
}

/// The `--now` of snapshot day `day`: 30 s after midnight UTC (the same date in Europe/Rome).
fn snapshot_now(day: u32) -> String {
    format!("{}T00:00:30Z", iso_date(day_start_secs(day)))
}

fn resolve_mtm(explicit: Option<&PathBuf>) -> BoxResult<PathBuf> {
    if let Some(p) = explicit {
        if p.is_file() {
            return Ok(p.clone());
        }
        return Err(format!("--mtm {}: no such file", p.display()).into());
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join("mtm"));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/mtm"));
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return Ok(found.clone());
    }
    which("mtm").ok_or_else(|| {
        format!(
            "the mtm binary was not found (looked at {} and on PATH); build it with \
             `cargo build --release -p mtm-cli`, pass --mtm PATH, or use --skip-mtm",
            candidates
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
        .into()
    })
}

fn prepare_out(args: &Args) -> BoxResult<(PathBuf, Option<tempfile::TempDir>)> {
    match &args.out {
        Some(dir) => {
            if dir.exists() {
                if !dir.is_dir() {
                    return Err(format!("--out {}: not a directory", dir.display()).into());
                }
                if fs::read_dir(dir)?.next().is_some() {
                    return Err(format!(
                        "--out {}: directory is not empty (choose a new or empty one)",
                        dir.display()
                    )
                    .into());
                }
            }
            fs::create_dir_all(dir)?;
            Ok((fs::canonicalize(dir)?, None))
        }
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("mtm-bench-")
                .tempdir_in("/tmp")?;
            let path = tmp.path().to_path_buf();
            if args.keep {
                let _kept = tmp.keep();
                Ok((path, None))
            } else {
                Ok((path, Some(tmp)))
            }
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mtm-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn secs_str(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |s| format!("{s:.3}"))
}

fn num_str(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".into(), |s| format!("{s:.decimals$}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

fn mib(kib: Option<u64>) -> Option<f64> {
    kib.map(|k| k as f64 / 1024.0)
}

fn run(args: &Args) -> BoxResult<()> {
    let plan = args.plan()?;
    let mtm_program = if args.skip_mtm {
        None
    } else {
        Some(resolve_mtm(args.mtm.as_ref())?)
    };
    let (restic, borg) = if args.skip_peers {
        (None, None)
    } else {
        (which("restic"), which("borg"))
    };
    let (out, guard) = prepare_out(args)?;
    let kinds = args.workload.kinds();
    for &kind in &kinds {
        // With --workload both, each kind gets its own corpus and repositories.
        let dir = if kinds.len() > 1 {
            out.join(kind.name())
        } else {
            out.clone()
        };
        let programs = Programs {
            mtm: mtm_program.clone(),
            restic: restic.clone(),
            borg: borg.clone(),
        };
        let report = run_kind(args, &plan, kind, &dir, programs)?;
        // Each report as soon as it is complete (a long run prints the classic first).
        print!("{report}");
    }
    println!(
        "working dir: {}{}",
        out.display(),
        if guard.is_some() { " (removed)" } else { "" }
    );
    Ok(())
}

/// The programs found for this run.
struct Programs {
    mtm: Option<PathBuf>,
    restic: Option<PathBuf>,
    borg: Option<PathBuf>,
}

/// One workload kind from generation to report, in `out`; returns the report.
fn run_kind(
    args: &Args,
    plan: &Plan,
    kind: WorkloadKind,
    out: &Path,
    programs: Programs,
) -> BoxResult<String> {
    let cfg = &plan.cfg;
    let real = kind == WorkloadKind::Real;
    let (mtm_program, restic, borg) = (programs.mtm, programs.restic, programs.borg);
    let corpus = out.join("corpus");
    let scratch = out.join("scratch");
    fs::create_dir_all(&scratch)?;
    let copies = match cfg.copies {
        CopyMode::PerRecipientHeaders => "per-recipient delivery headers",
        CopyMode::Identical => "identical copies",
    };
    let mode = if args.balanced {
        format!("{copies}, balanced days")
    } else {
        copies.to_owned()
    };
    let label = format!(
        "workload {}, shape {}x{}",
        kind.name(),
        cfg.accounts,
        cfg.messages_per_account
    );
    eprintln!(
        "mtm-bench: {label}: {} accounts x {} messages, {} days, seed {}, {mode}; working dir {}",
        cfg.accounts,
        cfg.messages_per_account,
        plan.days,
        cfg.seed,
        out.display()
    );

    let start = Instant::now();
    let gen_stats = kind.generate(&corpus, cfg)?;
    let gen_secs = start.elapsed().as_secs_f64();
    let raw0 = message_usage(&corpus, cfg)?;
    eprintln!(
        "generated {} files, {:.1} MB in {gen_secs:.1} s",
        gen_stats.files,
        gen_stats.bytes as f64 / MB
    );

    let mut tools = Vec::new();
    if let Some(p) = mtm_program {
        tools.push(Tool {
            kind: Kind::Mtm,
            program: p,
            repo: out.join("mtm-repo"),
            envs: vec![],
            first: None,
            incrementals: vec![],
            usage: None,
            prunes: vec![],
            sizes: vec![],
            quiet: vec![],
        });
    }
    if let Some(p) = restic {
        tools.push(Tool {
            kind: Kind::Restic,
            program: p,
            repo: out.join("restic-repo"),
            envs: vec![
                ("RESTIC_PASSWORD".into(), RESTIC_PASSWORD.into()),
                (
                    "RESTIC_CACHE_DIR".into(),
                    out.join("cache/restic").display().to_string(),
                ),
            ],
            first: None,
            incrementals: vec![],
            usage: None,
            prunes: vec![],
            sizes: vec![],
            quiet: vec![],
        });
    } else if !args.skip_peers {
        eprintln!("restic not on PATH: skipped");
    }
    if let Some(p) = borg {
        tools.push(Tool {
            kind: Kind::Borg,
            program: p,
            repo: out.join("borg-repo"),
            envs: vec![
                (
                    "BORG_BASE_DIR".into(),
                    out.join("cache/borg").display().to_string(),
                ),
                (
                    "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK".into(),
                    "yes".into(),
                ),
                ("BORG_RELOCATED_REPO_ACCESS_IS_OK".into(), "yes".into()),
            ],
            first: None,
            incrementals: vec![],
            usage: None,
            prunes: vec![],
            sizes: vec![],
            quiet: vec![],
        });
    } else if !args.skip_peers {
        eprintln!("borg not on PATH: skipped");
    }

    for tool in &mut tools {
        tool.init(&scratch, args.retain)?;
        let m = tool.snapshot(&corpus, 0, &scratch)?;
        eprintln!("first snapshot: {} {:.2} s", tool.name(), m.seconds);
        tool.first = Some(m);
    }

    // zstd's own speed on the same bytes: at the level mtm compresses bodies with (the
    // target's "level used"), and at the level borg is given (real workload).
    let zstd_figures = if real {
        let mut both = Vec::new();
        for level in [MTM_BODY_LEVEL, BORG_LEVEL] {
            let z = zstd_corpus(&corpus, cfg, level)?;
            eprintln!(
                "zstd -{level} in-process: {:.2} s for {:.1} MB",
                z.seconds,
                z.raw as f64 / MB
            );
            both.push(z);
        }
        Some(both)
    } else {
        None
    };
    // Size techniques for bodies, one by one, on the same distinct parts (real workload).
    let techniques = if real {
        let t = size_techniques(&corpus, cfg)?;
        eprintln!(
            "size techniques: {} distinct parts, {:.1} MB",
            t.parts,
            t.raw as f64 / MB
        );
        Some(t)
    } else {
        None
    };

    // The header dictionary, measured: the first snapshot again into a repository without
    // one, side by side with the repository that has one.
    let mut dictionary_effect = None;
    if let Some(mtm) = tools.iter().find(|t| t.kind == Kind::Mtm) {
        let plain_repo = out.join("mtm-repo-no-dictionary");
        let plain = Tool {
            kind: Kind::Mtm,
            program: mtm.program.clone(),
            repo: plain_repo.clone(),
            envs: mtm.envs.clone(),
            first: None,
            incrementals: vec![],
            usage: None,
            prunes: vec![],
            sizes: vec![],
            quiet: vec![],
        };
        let init = [
            "--repo".into(),
            plain_repo.display().to_string(),
            "init".into(),
            "--no-dictionary".into(),
        ];
        plain.run(&init, None, &scratch)?;
        let m = plain.snapshot(&corpus, 0, &scratch)?;
        dictionary_effect = Some((dir_usage(&mtm.repo)?, dir_usage(&plain_repo)?, m.seconds));
        fs::remove_dir_all(&plain_repo)?;
    }

    let day_mode = if args.balanced {
        DayMode::Balanced
    } else {
        DayMode::Growing
    };
    let mut step_secs = Vec::new();
    // Raw corpus bytes after each day (measured on disk).
    let mut corpus_sizes = Vec::new();
    // Real workload: a night with no change first (snapshot day 1), the churn days after it,
    // and one more night with no change after the last of them.
    let offset = u32::from(real);
    let mut walks = Walks::default();
    let mut churn_shares = Vec::new();
    if real {
        walks.quiet_first = find_walk(&corpus, args.repeat, &scratch)?;
        quiet_night(&mut tools, &corpus, 1, &scratch)?;
    }
    for step in 1..=plan.days {
        let day = step + offset;
        let t = Instant::now();
        let s = kind.day_step(&corpus, cfg, day, day_mode)?;
        step_secs.push(t.elapsed().as_secs_f64());
        let changed = s.added.files + s.deleted + s.flag_changes + s.moved;
        churn_shares.push(100.0 * changed as f64 / s.files_before.max(1) as f64);
        let mut line = format!(
            "day {day:2}: +{} files, -{} deleted, {} flag changes, {} moved;",
            s.added.files, s.deleted, s.flag_changes, s.moved
        );
        if real && (step == 1 || step == plan.days) {
            let walk = find_walk(&corpus, args.repeat, &scratch)?;
            let _ = write!(line, " find {} s;", secs_str(walk));
            if step == 1 {
                walks.churn_first = walk;
            }
            if step == plan.days {
                walks.churn_last = walk;
            }
        }
        for tool in &mut tools {
            let m = tool.snapshot(&corpus, day, &scratch)?;
            let _ = write!(line, " {} {:.2} s", tool.name(), m.seconds);
            tool.incrementals.push(m);
            if let Some(keep) = args.retain {
                let seconds = tool.prune(day, keep, &scratch)?;
                let size = dir_usage(&tool.repo)?.disk_bytes;
                let _ = write!(line, " (prune {seconds:.2} s, {:.0} MB)", size as f64 / MB);
                tool.prunes.push(seconds);
                tool.sizes.push(size);
            }
        }
        eprintln!("{line}");
        corpus_sizes.push(message_usage(&corpus, cfg)?.apparent_bytes);
    }
    let last_snapshot_day = plan.days + 2 * offset;
    if real {
        walks.quiet_last = find_walk(&corpus, args.repeat, &scratch)?;
        quiet_night(&mut tools, &corpus, last_snapshot_day, &scratch)?;
    }
    let raw_end = message_usage(&corpus, cfg)?;
    for tool in &mut tools {
        tool.usage = Some(dir_usage(&tool.repo)?);
    }

    // Report.
    let mut report = String::new();
    let _ = writeln!(
        report,
        "\n== mtm-bench: {label}: {} accounts x {} messages, {} days, seed {}, {mode} ==",
        cfg.accounts, cfg.messages_per_account, plan.days, cfg.seed
    );
    let _ = writeln!(
        report,
        "corpus: first day {} message files, {:.1} MB raw ({} delivered messages, {:.1}% to several \
         accounts, {:.1}% with attachments, {} forwarded attachments); after {} days {} message \
         files, {:.1} MB raw",
        raw0.files,
        raw0.apparent_bytes as f64 / MB,
        gen_stats.delivered,
        100.0 * gen_stats.multi_delivered as f64 / gen_stats.delivered.max(1) as f64,
        100.0 * gen_stats.with_attachment as f64 / gen_stats.delivered.max(1) as f64,
        gen_stats.forwarded_attachments,
        plan.days,
        raw_end.files,
        raw_end.apparent_bytes as f64 / MB
    );
    let _ = writeln!(
        report,
        "generator: {gen_secs:.2} s for the corpus, median day step {} s",
        secs_str(median(&step_secs))
    );

    let get = |kind: Kind| tools.iter().find(|t| t.kind == kind);
    let names = [Kind::Mtm, Kind::Restic, Kind::Borg];
    type Metric<'a> = (&'a str, Box<dyn Fn(&Tool) -> Option<f64> + 'a>, usize);
    let raw0_bytes = raw0.apparent_bytes as f64;
    let raw_end_bytes = raw_end.apparent_bytes as f64;
    let metrics: Vec<Metric> = vec![
        (
            "first snapshot (s)",
            Box::new(|t: &Tool| t.first.as_ref().map(|m| m.seconds)),
            3,
        ),
        (
            "first snapshot (MB/s)",
            Box::new(move |t: &Tool| {
                t.first
                    .as_ref()
                    .map(|m| raw0_bytes / MB / m.seconds.max(1e-9))
            }),
            1,
        ),
        (
            "median daily incremental (s)",
            Box::new(|t: &Tool| {
                median(&t.incrementals.iter().map(|m| m.seconds).collect::<Vec<_>>())
            }),
            3,
        ),
        (
            "max daily incremental (s)",
            Box::new(|t: &Tool| t.incrementals.iter().map(|m| m.seconds).reduce(f64::max)),
            3,
        ),
        (
            "repository size, du (MB)",
            Box::new(|t: &Tool| t.usage.map(|u| u.disk_bytes as f64 / MB)),
            1,
        ),
        (
            "repository / raw corpus",
            Box::new(move |t: &Tool| {
                t.usage
                    .map(|u| u.disk_bytes as f64 / raw_end_bytes.max(1.0))
            }),
            3,
        ),
        (
            "repository files",
            Box::new(|t: &Tool| t.usage.map(|u| u.files as f64)),
            0,
        ),
        (
            "peak RSS first snapshot (MiB)",
            Box::new(|t: &Tool| mib(t.first.as_ref().and_then(|m| m.peak_rss_kib))),
            1,
        ),
        (
            "peak RSS incrementals (MiB)",
            Box::new(|t: &Tool| mib(t.incrementals.iter().filter_map(|m| m.peak_rss_kib).max())),
            1,
        ),
    ];
    let _ = writeln!(
        report,
        "{:<32} {:>10} {:>10} {:>10} {:>11} {:>9}",
        "figure", "mtm", "restic", "borg", "mtm/restic", "mtm/borg"
    );
    for (label, f, decimals) in &metrics {
        let vals: Vec<Option<f64>> = names.iter().map(|k| get(*k).and_then(f)).collect();
        let _ = writeln!(
            report,
            "{label:<32} {:>10} {:>10} {:>10} {:>11} {:>9}",
            num_str(vals[0], *decimals),
            num_str(vals[1], *decimals),
            num_str(vals[2], *decimals),
            ratio(vals[0], vals[1]),
            ratio(vals[0], vals[2])
        );
    }

    if let Some(keep) = args.retain {
        let prune_metric = |t: &Tool| median(&t.prunes);
        let vals: Vec<Option<f64>> = names
            .iter()
            .map(|k| get(*k).and_then(prune_metric))
            .collect();
        let _ = writeln!(
            report,
            "{:<32} {:>10} {:>10} {:>10} {:>11} {:>9}",
            "median daily prune+gc (s)",
            num_str(vals[0], 3),
            num_str(vals[1], 3),
            num_str(vals[2], 3),
            ratio(vals[0], vals[1]),
            ratio(vals[0], vals[2])
        );
        let _ = writeln!(
            report,
            "repository size by day with {keep}-day retention (MB), and the raw corpus:"
        );
        for day in 0..plan.days as usize {
            let size = |k: Kind| {
                get(k)
                    .and_then(|t| t.sizes.get(day))
                    .map_or("-".to_owned(), |b| format!("{:.1}", *b as f64 / MB))
            };
            let _ = writeln!(
                report,
                "  day {:2}: mtm {:>8}  restic {:>8}  borg {:>8}  corpus {:>8.1}",
                day + 1,
                size(Kind::Mtm),
                size(Kind::Restic),
                size(Kind::Borg),
                corpus_sizes.get(day).map_or(0.0, |b| *b as f64 / MB)
            );
        }
        let _ = writeln!(
            report,
            "{}",
            steady_state(keep, plan.days, &corpus_sizes, |k| get(k)
                .map(|t| t.sizes.as_slice()))
        );
    }
    if let Some((with, without, seconds)) = dictionary_effect {
        let _ = writeln!(
            report,
            "header dictionary, first snapshot: repository {:.1} MB with it, {:.1} MB without \
             ({:.3}x; {seconds:.2} s without)",
            with.disk_bytes as f64 / MB,
            without.disk_bytes as f64 / MB,
            with.disk_bytes as f64 / (without.disk_bytes as f64).max(1.0)
        );
    }

    // Queries: a sample message of the first account, still present after the last day.
    let sample = pick_sample(&corpus, cfg)?;
    let sample_path = sample.path(&corpus);
    let sample_bytes = fs::read(&sample_path)?;
    let subject = search_text(&sample_bytes);
    let last_day = iso_date(day_start_secs(last_snapshot_day));
    let account = workload::account_id(sample.account);
    let folder = FOLDERS.get(sample.folder).map_or("INBOX", |f| f.name);
    let _ = writeln!(
        report,
        "sample message: {account} {folder} {} ({} bytes), subject search text {subject:?}",
        sample.name,
        sample_bytes.len()
    );
    let repeat = args.repeat;
    let mut queries = None;
    if let Some(mtm) = get(Kind::Mtm) {
        let repo = mtm.repo.display().to_string();
        let days_out = mtm.run(
            &[
                "--repo".into(),
                repo.clone(),
                "--json".into(),
                "days".into(),
                account.clone(),
            ],
            None,
            &scratch,
        )?;
        let listed = dates_in(&days_out.stdout);
        let _ = writeln!(
            report,
            "mtm days {account}: {} day(s) listed, last {}{}",
            listed.len(),
            listed.last().map_or("-", String::as_str),
            if listed.contains(&last_day) {
                ""
            } else {
                " (WARNING: last snapshot day missing)"
            }
        );
        let ls = repeat_run(
            mtm,
            repeat,
            &scratch,
            &[
                "--repo".into(),
                repo.clone(),
                "ls".into(),
                account.clone(),
                last_day.clone(),
                "INBOX".into(),
                "--page".into(),
                "1".into(),
                "--per-page".into(),
                "50".into(),
            ],
        )?;
        let search = repeat_run(
            mtm,
            repeat,
            &scratch,
            &[
                "--repo".into(),
                repo.clone(),
                "search".into(),
                account.clone(),
                "--subject".into(),
                subject.clone(),
                "--all-days".into(),
            ],
        )?;
        let id = blake3::hash(&sample_bytes).to_hex().to_string();
        let eml = scratch.join("sample.eml");
        let cat = repeat_run(
            mtm,
            repeat,
            &scratch,
            &[
                "--repo".into(),
                repo.clone(),
                "cat".into(),
                account.clone(),
                last_day.clone(),
                id,
                "-o".into(),
                eml.display().to_string(),
            ],
        )?;
        let exact = fs::read(&eml).map(|b| b == sample_bytes).unwrap_or(false);
        queries = Some(((cat.0, cat.1), (ls.0, ls.1)));
        let _ = writeln!(
            report,
            "mtm ls page 1 x 50 of INBOX (s)  {:>10}   peak RSS {} MiB, {} output lines",
            secs_str(ls.0),
            num_str(mib(ls.1), 1),
            ls.2.lines().count()
        );
        let _ = writeln!(
            report,
            "mtm search subject, all days (s) {:>10}   peak RSS {} MiB, {} output lines",
            secs_str(search.0),
            num_str(mib(search.1), 1),
            search.2.lines().count()
        );
        let _ = writeln!(
            report,
            "mtm cat one .eml, fresh proc (s) {:>10}   peak RSS {} MiB, byte-exact: {}",
            secs_str(cat.0),
            num_str(mib(cat.1), 1),
            if exact { "yes" } else { "NO" }
        );
        if let Some(restic) = get(Kind::Restic) {
            let find = restic_find(restic, &sample, repeat, &scratch)?;
            let _ = writeln!(
                report,
                "restic find name, all snaps (s)  {:>10}   peak RSS {} MiB; mtm search / restic find = {}",
                secs_str(find.0),
                num_str(mib(find.1), 1),
                ratio(search.0, find.0)
            );
        }
    } else if let Some(restic) = get(Kind::Restic) {
        let find = restic_find(restic, &sample, repeat, &scratch)?;
        let _ = writeln!(
            report,
            "restic find name, all snaps (s)  {:>10}   peak RSS {} MiB",
            secs_str(find.0),
            num_str(mib(find.1), 1)
        );
    }
    if real {
        let figures = RealFigures {
            label: &label,
            key: format!(
                "workload={} shape={}x{}",
                kind.name(),
                cfg.accounts,
                cfg.messages_per_account
            ),
            days: plan.days,
            retain: args.retain,
            zstd: zstd_figures.as_deref(),
            techniques: techniques.as_ref(),
            walks: &walks,
            churn_shares: &churn_shares,
            queries,
            repeat,
        };
        report.push_str(&real_report(&figures, get));
    }
    Ok(report)
}

/// Median seconds of the `find` walk before each kind of night (real workload).
#[derive(Debug, Default)]
struct Walks {
    quiet_first: Option<f64>,
    churn_first: Option<f64>,
    churn_last: Option<f64>,
    quiet_last: Option<f64>,
}

/// `find CORPUS -type f | wc -l` in a shell, as a child process like the tools (so process
/// start-up counts alike): the time any nightly job needs just to walk the tree. Median of
/// `repeat` runs.
fn find_walk(corpus: &Path, repeat: usize, scratch: &Path) -> BoxResult<Option<f64>> {
    let args = [
        "-c".to_string(),
        "find \"$1\" -type f | wc -l".to_string(),
        "sh".to_string(),
        corpus.display().to_string(),
    ];
    let mut secs = Vec::new();
    for _ in 0..repeat {
        secs.push(measure::run_measured(Path::new("/bin/sh"), &args, &[], None, scratch)?.seconds);
    }
    Ok(median(&secs))
}

/// A night with no change in the corpus: every tool snapshots it again on `day`.
fn quiet_night(tools: &mut [Tool], corpus: &Path, day: u32, scratch: &Path) -> BoxResult<()> {
    let mut line = format!("day {day:2}: no change;");
    for tool in tools.iter_mut() {
        let m = tool.snapshot(corpus, day, scratch)?;
        let _ = write!(line, " {} {:.2} s", tool.name(), m.seconds);
        tool.quiet.push(m);
    }
    eprintln!("{line}");
    Ok(())
}

/// The zstd level mtm compresses with (`mtm-core`'s `codec::LEVEL`; header blocks take the
/// same level, with the repository's dictionary).
const MTM_BODY_LEVEL: i32 = 1;
/// The zstd level borg is given (`--compression zstd,3`).
const BORG_LEVEL: i32 = 3;

/// zstd on the corpus, in-process.
#[derive(Debug)]
struct ZstdFigures {
    level: i32,
    seconds: f64,
    raw: u64,
    compressed: u64,
    files: u64,
}

/// Compresses every message file of the corpus with the `zstd` crate at `level` on one
/// thread, each file on its own (one reused context, as an archiver compressing files one by
/// one), timing only the compression: the files are read before the clock starts.
fn zstd_corpus(corpus: &Path, cfg: &WorkloadConfig, level: i32) -> BoxResult<ZstdFigures> {
    let mut compressor = zstd::bulk::Compressor::new(level)?;
    let mut z = ZstdFigures {
        level,
        seconds: 0.0,
        raw: 0,
        compressed: 0,
        files: 0,
    };
    for f in workload::scan(corpus, cfg)? {
        let data = fs::read(f.path(corpus))?;
        let t = Instant::now();
        let out = compressor.compress(&data)?;
        z.seconds += t.elapsed().as_secs_f64();
        z.raw += data.len() as u64;
        z.compressed += out.len() as u64;
        z.files += 1;
    }
    Ok(z)
}

/// At most this many raw bytes of distinct parts are measured by the size techniques (they
/// are held in memory).
const TECHNIQUES_SAMPLE: u64 = 768 * 1_000_000;

/// Measures the body size techniques on the corpus's distinct body and attachment parts, in
/// the corpus's order, up to [`TECHNIQUES_SAMPLE`] bytes.
fn size_techniques(corpus: &Path, cfg: &WorkloadConfig) -> BoxResult<Techniques> {
    let files = workload::scan(corpus, cfg)?;
    let messages = files.iter().map(|f| fs::read(f.path(corpus)));
    let parts = techniques::distinct_parts(messages, TECHNIQUES_SAMPLE)?;
    Ok(techniques::measure(&parts, MTM_BODY_LEVEL)?)
}

/// The size techniques' lines of the report: each technique's stored bytes against the
/// parts stored alone (what mtm does), and its compression time.
fn techniques_report(t: &Techniques) -> String {
    let mut out = String::new();
    let mb = |b: u64| b as f64 / MB;
    let versus = |b: u64, base: u64| b as f64 / (base as f64).max(1.0);
    let _ = writeln!(
        out,
        "size techniques, on {} distinct body and attachment parts ({:.1} MB raw, cut as mtm \
         cuts them), zstd level {MTM_BODY_LEVEL}, 1 thread:",
        t.parts,
        mb(t.raw)
    );
    let _ = writeln!(
        out,
        "  each part alone (what mtm stores)        {:>9.1} MB  {:.2} s",
        mb(t.alone.bytes),
        t.alone.seconds
    );
    for (name, s) in [
        (
            format!(
                "body dictionary ({} KiB, included)",
                techniques::DICTIONARY_SIZE / 1024
            ),
            t.dictionary,
        ),
        (
            format!(
                "small parts (< {} KiB) grouped by {} KiB",
                techniques::SMALL / 1024,
                techniques::GROUP / 1024
            ),
            t.grouped,
        ),
    ] {
        let _ = writeln!(
            out,
            "  {name:<40} {:>9.1} MB  {:.2} s  ({:.3} of alone)",
            mb(s.bytes),
            s.seconds,
            versus(s.bytes, t.alone.bytes)
        );
    }
    let _ = writeln!(
        out,
        "  base64 attachments that re-encode exactly: {} parts, {:.1} MB raw; stored as text \
         {:.1} MB ({:.2} s), decoded {:.1} MB ({:.2} s, decoding included): {:.3} of as text",
        t.base64_parts,
        mb(t.base64_raw),
        mb(t.base64_as_text.bytes),
        t.base64_as_text.seconds,
        mb(t.base64_decoded.bytes),
        t.base64_decoded.seconds,
        versus(t.base64_decoded.bytes, t.base64_as_text.bytes)
    );
    out
}

/// What the real workload's extra figures are made of.
struct RealFigures<'a> {
    label: &'a str,
    /// `workload=real shape=AxM`.
    key: String,
    days: u32,
    retain: Option<u32>,
    /// zstd at mtm's body level, then at borg's.
    zstd: Option<&'a [ZstdFigures]>,
    /// The body size techniques, each on the same distinct parts.
    techniques: Option<&'a Techniques>,
    walks: &'a Walks,
    churn_shares: &'a [f64],
    /// ((cat median s, cat peak RSS KiB), (ls median s, ls peak RSS KiB)).
    queries: Option<QueryFigures>,
    repeat: usize,
}

type QueryFigures = ((Option<f64>, Option<u64>), (Option<f64>, Option<u64>));

/// The real workload's figures (issue 10): first snapshot against zstd's own speed, the
/// nightly runs with and without change against a `find` walk, the queries, the sizes, and
/// one `summary:` line of key=value pairs to compare shapes.
fn real_report<'a>(r: &RealFigures<'_>, get: impl Fn(Kind) -> Option<&'a Tool>) -> String {
    let mut out = String::new();
    let names = [Kind::Mtm, Kind::Restic, Kind::Borg];
    let col = |f: &dyn Fn(&Tool) -> Option<f64>| -> Vec<Option<f64>> {
        names.iter().map(|k| get(*k).and_then(f)).collect()
    };
    let _ = writeln!(out, "-- {}: real-mail figures --", r.label);
    let first = col(&|t: &Tool| t.first.as_ref().map(|m| m.seconds));
    let _ = writeln!(
        out,
        "first snapshot (s): mtm {}  restic {}  borg {}  mtm/restic {}  mtm/borg {}",
        secs_str(first[0]),
        secs_str(first[1]),
        secs_str(first[2]),
        ratio(first[0], first[1]),
        ratio(first[0], first[2])
    );
    // The target's ratio: against zstd at the level mtm uses for bodies.
    let zstd_secs = r.zstd.and_then(|z| z.first()).map(|z| z.seconds);
    for z in r.zstd.unwrap_or_default() {
        let _ = writeln!(
            out,
            "zstd level {} (zstd crate in-process, 1 thread, each of the {} message files alone, \
             reads not timed{}): {:.3} s for {:.1} MB ({:.0} MB/s), compressed to {:.3} of raw; \
             mtm first snapshot / zstd = {}",
            z.level,
            z.files,
            if z.level == MTM_BODY_LEVEL {
                "; the level mtm compresses bodies with"
            } else {
                "; borg's level"
            },
            z.seconds,
            z.raw as f64 / MB,
            z.raw as f64 / MB / z.seconds.max(1e-9),
            z.compressed as f64 / (z.raw as f64).max(1.0),
            ratio(first[0], Some(z.seconds))
        );
    }
    if let Some(t) = r.techniques {
        out.push_str(&techniques_report(t));
    }
    let gc = if r.retain.is_some() {
        "with daily prune+gc"
    } else {
        "without gc"
    };
    let d = r.days;
    type Row<'b> = (
        String,
        Box<dyn Fn(&Tool) -> Option<&Measured> + 'b>,
        Option<f64>,
    );
    let rows: Vec<Row> = vec![
        (
            "no change, day 1".into(),
            Box::new(|t: &Tool| t.quiet.first()),
            r.walks.quiet_first,
        ),
        (
            "1.5% churn, day 2 (first)".into(),
            Box::new(|t: &Tool| t.incrementals.first()),
            r.walks.churn_first,
        ),
        (
            format!("1.5% churn, day {} (last, {gc})", d + 1),
            Box::new(|t: &Tool| t.incrementals.last()),
            r.walks.churn_last,
        ),
        (
            format!("no change, day {} ({gc})", d + 2),
            Box::new(|t: &Tool| t.quiet.get(1)),
            r.walks.quiet_last,
        ),
    ];
    let _ = writeln!(
        out,
        "{:<40} {:>8} {:>8} {:>8} {:>9} {:>8} {:>10} {:>8}",
        "nightly run (s)",
        "mtm",
        "restic",
        "borg",
        "find walk",
        "mtm/find",
        "mtm/restic",
        "mtm/borg"
    );
    let mut summary_nights = Vec::new();
    for (label, pick, walk) in &rows {
        let v = col(&|t: &Tool| pick(t).map(|m| m.seconds));
        let _ = writeln!(
            out,
            "  {label:<38} {:>8} {:>8} {:>8} {:>9} {:>8} {:>10} {:>8}",
            secs_str(v[0]),
            secs_str(v[1]),
            secs_str(v[2]),
            secs_str(*walk),
            ratio(v[0], *walk),
            ratio(v[0], v[1]),
            ratio(v[0], v[2])
        );
        summary_nights.push((v[0], *walk));
    }
    let _ = writeln!(
        out,
        "  (find walk: `find CORPUS -type f | wc -l` in /bin/sh, median of {}, just before the night's snapshots)",
        r.repeat
    );
    let med =
        col(&|t: &Tool| median(&t.incrementals.iter().map(|m| m.seconds).collect::<Vec<_>>()));
    let _ = writeln!(
        out,
        "  {:<38} {:>8} {:>8} {:>8} {:>9} {:>8} {:>10} {:>8}",
        format!("1.5% churn, median of {d} days"),
        secs_str(med[0]),
        secs_str(med[1]),
        secs_str(med[2]),
        "",
        "",
        ratio(med[0], med[1]),
        ratio(med[0], med[2])
    );
    let _ = writeln!(
        out,
        "{:<40} {:>8} {:>8} {:>8}",
        "nightly peak RSS (MiB)", "mtm", "restic", "borg"
    );
    for (label, pick, _) in &rows {
        let v = col(&|t: &Tool| mib(pick(t).and_then(|m| m.peak_rss_kib)));
        let _ = writeln!(
            out,
            "  {label:<38} {:>8} {:>8} {:>8}",
            num_str(v[0], 1),
            num_str(v[1], 1),
            num_str(v[2], 1)
        );
    }
    let night_rss = col(&|t: &Tool| {
        mib(t
            .incrementals
            .iter()
            .chain(&t.quiet)
            .filter_map(|m| m.peak_rss_kib)
            .max())
    });
    let _ = writeln!(
        out,
        "  {:<38} {:>8} {:>8} {:>8}",
        "largest of all nights",
        num_str(night_rss[0], 1),
        num_str(night_rss[1], 1),
        num_str(night_rss[2], 1)
    );
    let _ = writeln!(
        out,
        "churn: median {}% of the message files changed a day (new, deleted, flag changes, moves)",
        num_str(median(r.churn_shares), 2)
    );
    let size = col(&|t: &Tool| t.usage.map(|u| u.disk_bytes as f64 / MB));
    let _ = writeln!(
        out,
        "repository size at the last day, du (MB): mtm {}  restic {}  borg (zstd,3) {}  \
         mtm/restic {}  mtm/borg {}",
        num_str(size[0], 1),
        num_str(size[1], 1),
        num_str(size[2], 1),
        ratio(size[0], size[1]),
        ratio(size[0], size[2])
    );
    let ((cat_s, cat_rss), (ls_s, ls_rss)) = r.queries.unwrap_or(((None, None), (None, None)));
    let _ = writeln!(
        out,
        "mtm fresh process, median of {}: cat one message {} s (peak RSS {} MiB), ls one folder page {} s (peak RSS {} MiB)",
        r.repeat,
        secs_str(cat_s),
        num_str(mib(cat_rss), 1),
        secs_str(ls_s),
        num_str(mib(ls_rss), 1)
    );
    let kv = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |x| format!("{x:.3}"));
    let ratio_kv = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.3}", a / b),
        _ => "-".to_owned(),
    };
    let _ = writeln!(
        out,
        "summary: {} days={} first_s={} zstd_s={} first_over_zstd={} first_over_restic={} first_over_borg={} \
         nochange_s={} nochange_over_find={} churn_s={} churn_over_find={} last_churn_s={} \
         last_nochange_s={} night_rss_mib={} cat_s={} cat_rss_mib={} ls_s={} ls_rss_mib={} \
         repo_mb={} repo_over_restic={} repo_over_borg={}",
        r.key,
        r.days,
        kv(first[0]),
        kv(zstd_secs),
        ratio_kv(first[0], zstd_secs),
        ratio_kv(first[0], first[1]),
        ratio_kv(first[0], first[2]),
        kv(summary_nights[0].0),
        ratio_kv(summary_nights[0].0, summary_nights[0].1),
        kv(summary_nights[1].0),
        ratio_kv(summary_nights[1].0, summary_nights[1].1),
        kv(summary_nights[2].0),
        kv(summary_nights[3].0),
        kv(night_rss[0]),
        kv(cat_s),
        kv(mib(cat_rss)),
        kv(ls_s),
        kv(mib(ls_rss)),
        kv(size[0]),
        ratio_kv(size[0], size[1]),
        ratio_kv(size[0], size[2])
    );
    out
}

/// Growth from the first day after the retention window filled (day `keep + 1`) to the last
/// day, for each tool's repository and for the raw corpus: the steady-state figure.
fn steady_state<'a>(
    keep: u32,
    days: u32,
    corpus: &[u64],
    sizes: impl Fn(Kind) -> Option<&'a [u64]>,
) -> String {
    let (from, to) = (keep as usize + 1, days as usize);
    if to <= from {
        return format!(
            "steady state: needs --days above --retain + 1 (day {from} to a later day)"
        );
    }
    let growth = |series: Option<&[u64]>| match series {
        Some(s) => match (s.get(from - 1), s.get(to - 1)) {
            (Some(&a), Some(&b)) if a > 0 => {
                format!("{:+.1}%", 100.0 * (b as f64 / a as f64 - 1.0))
            }
            _ => "-".to_owned(),
        },
        None => "-".to_owned(),
    };
    format!(
        "steady state, growth day {from} -> day {to}: mtm {}  restic {}  borg {}  raw corpus {}",
        growth(sizes(Kind::Mtm)),
        growth(sizes(Kind::Restic)),
        growth(sizes(Kind::Borg)),
        growth(Some(corpus))
    )
}

/// Median seconds, max peak RSS and the last stdout of `repeat` runs.
fn repeat_run(
    tool: &Tool,
    repeat: usize,
    scratch: &Path,
    args: &[String],
) -> BoxResult<(Option<f64>, Option<u64>, String)> {
    let mut secs = Vec::new();
    let mut rss = None;
    let mut stdout = String::new();
    for _ in 0..repeat {
        let m = tool.run(args, None, scratch)?;
        secs.push(m.seconds);
        rss = rss.max(m.peak_rss_kib);
        stdout = m.stdout;
    }
    Ok((median(&secs), rss, stdout))
}

fn restic_find(
    restic: &Tool,
    sample: &MessageFile,
    repeat: usize,
    scratch: &Path,
) -> BoxResult<(Option<f64>, Option<u64>, String)> {
    let unique = sample.base().split(',').next().unwrap_or(sample.base());
    repeat_run(
        restic,
        repeat,
        scratch,
        &[
            "-r".into(),
            restic.repo.display().to_string(),
            "find".into(),
            format!("{unique}*"),
        ],
    )
}

/// The first INBOX message of the first account at least 8 KB long (else the first at all).
fn pick_sample(corpus: &Path, cfg: &WorkloadConfig) -> BoxResult<MessageFile> {
    let files = workload::scan(corpus, cfg)?;
    let inbox: Vec<&MessageFile> = files
        .iter()
        .filter(|f| f.account == 0 && f.folder == 0)
        .collect();
    let candidates = if inbox.is_empty() {
        files.iter().collect()
    } else {
        inbox
    };
    let big = candidates.iter().find(|f| {
        fs::metadata(f.path(corpus))
            .map(|m| m.len() >= 8 * 1024)
            .unwrap_or(false)
    });
    big.or(candidates.first())
        .map(|f| (*f).clone())
        .ok_or_else(|| "the corpus has no message files".into())
}

/// The sample's subject without `Re:`/`Fwd:`/`[list]` prefixes: the text to search for.
fn search_text(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\n\n").next().unwrap_or("");
    let subject = head
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or("invoice")
        .trim();
    let decoded = decode_q_word(subject);
    let mut s = decoded.as_str();
    loop {
        let before = s;
        s = s.strip_prefix("Re: ").unwrap_or(s);
        s = s.strip_prefix("Fwd: ").unwrap_or(s);
        if s.starts_with('[')
            && let Some((_, rest)) = s.split_once("] ")
        {
            s = rest;
        }
        if s == before {
            break;
        }
    }
    s.to_string()
}

/// The text of a subject that is one RFC 2047 `Q` encoded word in UTF-8 (as the real
/// workload writes them; mtm searches the decoded subject); anything else as it is.
fn decode_q_word(subject: &str) -> String {
    let Some(inner) = subject
        .strip_prefix("=?UTF-8?Q?")
        .and_then(|r| r.strip_suffix("?="))
    else {
        return subject.to_string();
    };
    let b = inner.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < b.len() => match u8::from_str_radix(&inner[i + 1..i + 3], 16) {
                Ok(v) => {
                    out.push(v);
                    i += 2;
                }
                Err(_) => out.push(b'='),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Message files and their bytes (the raw corpus, without folder markers and subscriptions).
fn message_usage(corpus: &Path, cfg: &WorkloadConfig) -> BoxResult<DirUsage> {
    let mut usage = DirUsage::default();
    for f in workload::scan(corpus, cfg)? {
        let meta = fs::metadata(f.path(corpus))?;
        usage.files += 1;
        usage.apparent_bytes += meta.len();
    }
    usage.disk_bytes = dir_usage(corpus)?.disk_bytes;
    Ok(usage)
}

/// Every `YYYY-MM-DD` in `text`, sorted and deduplicated.
fn dates_in(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for i in 0..b.len().saturating_sub(9) {
        let w = &b[i..i + 10];
        let digits = [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&j| w[j].is_ascii_digit());
        if digits && w[4] == b'-' && w[7] == b'-' {
            out.push(String::from_utf8_lossy(w).into_owned());
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_decodes_encoded_subjects() {
        assert_eq!(decode_q_word("=?UTF-8?Q?Stra=C3=9Fe_good?="), "Straße good");
        assert_eq!(decode_q_word("plain"), "plain");
        assert_eq!(
            search_text(b"Subject: =?UTF-8?Q?Re=3A_caf=C3=A9_ok?=\r\n\r\nbody"),
            "café ok"
        );
        assert_eq!(search_text(b"Subject: Fwd: [x] hello\n\nbody"), "hello");
    }
}
