//! Measuring child processes (wall time, peak RSS) and directories (bytes, files).

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// GNU time from Debian's `time` package: reports the child's peak RSS (`%M`, KiB).
pub const GNU_TIME: &str = "/usr/bin/time";

/// A failed child process or a missing tool.
#[derive(Debug)]
pub struct RunError(pub String);

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

/// The result of one measured child process.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Wall-clock seconds from spawn to exit.
    pub seconds: f64,
    /// Peak resident set size in KiB, when GNU time is available.
    pub peak_rss_kib: Option<u64>,
    /// Captured standard output.
    pub stdout: String,
}

/// Runs `program args...` (with `envs`, in `cwd` if given) to completion, measuring wall time
/// and peak RSS (through `/usr/bin/time -f %M` when present). A non-zero exit is an error that
/// carries the command line and the end of its stderr.
pub fn run_measured(
    program: &Path,
    args: &[String],
    envs: &[(String, String)],
    cwd: Option<&Path>,
    scratch: &Path,
) -> Result<Measured, RunError> {
    let rss_file = scratch.join("peak-rss.txt");
    let use_time = Path::new(GNU_TIME).is_file();
    let mut cmd = if use_time {
        let mut c = Command::new(GNU_TIME);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let line = format!("{} {}", program.display(), args.join(" "));
    let start = Instant::now();
    let output = cmd
        .output()
        .map_err(|e| RunError(format!("cannot run `{line}`: {e}")))?;
    let seconds = start.elapsed().as_secs_f64();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(RunError(format!(
            "`{line}` failed ({}):\n{}",
            output.status,
            tail.join("\n")
        )));
    }
    let peak_rss_kib = if use_time {
        fs::read_to_string(&rss_file)
            .ok()
            .and_then(|t| t.lines().rev().find_map(|l| l.trim().parse::<u64>().ok()))
    } else {
        None
    };
    Ok(Measured {
        seconds,
        peak_rss_kib,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    })
}

/// Finds `name` on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Sizes of a directory tree.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DirUsage {
    /// Regular files.
    pub files: u64,
    /// Sum of file lengths.
    pub apparent_bytes: u64,
    /// Disk usage as `du` counts it (allocated blocks of files and directories).
    pub disk_bytes: u64,
}

/// Walks `root` (not following symlinks) and adds up its files.
pub fn dir_usage(root: &Path) -> io::Result<DirUsage> {
    let mut usage = DirUsage::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let meta = fs::symlink_metadata(&dir)?;
        usage.disk_bytes += meta.blocks() * 512;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                usage.disk_bytes += meta.blocks() * 512;
                if meta.is_file() {
                    usage.files += 1;
                    usage.apparent_bytes += meta.len();
                }
            }
        }
    }
    Ok(usage)
}

/// Median of the values (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_works() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn usage_counts_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("a")).unwrap();
        fs::write(dir.path().join("a/x"), vec![1u8; 5000]).unwrap();
        fs::write(dir.path().join("y"), b"abc").unwrap();
        let u = dir_usage(dir.path()).unwrap();
        assert_eq!(u.files, 2);
        assert_eq!(u.apparent_bytes, 5003);
        assert!(u.disk_bytes >= 5003);
    }

    #[test]
    fn measured_run_reports_failure_and_rss() {
        let dir = tempfile::tempdir().unwrap();
        let ok = run_measured(
            Path::new("/bin/sh"),
            &["-c".into(), "echo hi".into()],
            &[],
            None,
            dir.path(),
        )
        .unwrap();
        assert_eq!(ok.stdout.trim(), "hi");
        if Path::new(GNU_TIME).is_file() {
            assert!(ok.peak_rss_kib.unwrap() > 0);
        }
        let err = run_measured(
            Path::new("/bin/sh"),
            &["-c".into(), "echo boom >&2; exit 3".into()],
            &[],
            None,
            dir.path(),
        )
        .unwrap_err();
        assert!(err.0.contains("boom"));
    }
}
