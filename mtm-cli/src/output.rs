//! Printing: tables for people, JSON for scripts; the one stdout every command writes to;
//! errors and warnings as JSON; spinners; the one way to write a user-given output file. Above `error`
//! only: every command module prints through it.
//!
//! **Standard output.** Every `println!` and `print!` of this crate is the macro below, not
//! std's (main.rs declares this module first, with `#[macro_use]`, so the textual macro
//! shadows the prelude's in every module after it), and raw bytes go through
//! [`write_stdout`]. When the reader has gone away (`mtm ls … | head`), the first failed write
//! marks stdout closed, later output is dropped, the command finishes what it was doing (no
//! lock or half-done step is left behind by an exit in the middle) and `mtm` exits with
//! [`crate::error::exit::BROKEN_PIPE`] (141, what a shell reports for a process killed by SIGPIPE,
//! as coreutils are) without a word. Any other write failure (a full disk behind `>`) is
//! reported once at the end, exit 1. `eprintln!` ignores failures: there is nowhere left to
//! report them.

use std::fmt;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use mtm_core::{DamagedRequest, RootAccounts};
use serde::Serialize;

use crate::error::{CliError, CliResult};

/// Prints a line on stdout through [`print_stdout`] (shadows std's `println!`).
macro_rules! println {
    () => {
        $crate::output::print_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::print_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints on stdout through [`print_stdout`] (shadows std's `print!`).
#[allow(unused_macros, reason = "for commands that print without a newline")]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::output::print_stdout(format_args!($($arg)*))
    };
}

/// Prints a line on stderr, ignoring failures (shadows std's `eprintln!`, which panics).
macro_rules! eprintln {
    ($($arg:tt)*) => {
        $crate::output::print_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// What became of stdout.
#[derive(Debug)]
pub enum Stdout {
    /// Every write went through.
    Open,
    /// The reader went away (a broken pipe); later output was dropped.
    Closed,
    /// A write failed otherwise; later output was dropped.
    Failed(io::Error),
}

static STDOUT: Mutex<Stdout> = Mutex::new(Stdout::Open);

/// Runs one write on stdout unless an earlier one failed; a failure closes it for good.
fn with_stdout(write: impl FnOnce(&mut io::StdoutLock<'_>) -> io::Result<()>) {
    let mut state = STDOUT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !matches!(*state, Stdout::Open) {
        return;
    }
    if let Err(e) = write(&mut io::stdout().lock()) {
        *state = match e.kind() {
            io::ErrorKind::BrokenPipe => Stdout::Closed,
            _ => Stdout::Failed(e),
        };
    }
}

/// Writes formatted text on stdout (the `println!` and `print!` of this crate).
pub fn print_stdout(args: fmt::Arguments<'_>) {
    with_stdout(|out| out.write_fmt(args));
}

/// Writes bytes on stdout (a raw message).
pub fn write_stdout(bytes: &[u8]) {
    with_stdout(|out| out.write_all(bytes));
}

/// Writes formatted text on stderr; a failure is ignored (the `eprintln!` of this crate).
pub fn print_stderr(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// Flushes stdout and says what became of it: main's last word on output.
pub fn finish_stdout() -> Stdout {
    with_stdout(|out| out.flush());
    let mut state = STDOUT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    std::mem::replace(&mut *state, Stdout::Closed)
}

/// An error as `--json` prints it on stderr: one line,
/// `{"error": {"kind": "not_found", "message": "…", "exit_code": 3}}`, with `"account"` too
/// for one account's failure in a snapshot of many.
pub fn json_error(kind: &str, message: &str, exit_code: u8, account: Option<&str>) -> String {
    let mut error = serde_json::json!({ "kind": kind, "message": message, "exit_code": exit_code });
    if let Some(account) = account {
        error["account"] = account.into();
    }
    serde_json::json!({ "error": error }).to_string()
}

/// Prints an error on stderr: `mtm: …` for people, one JSON line with `--json`. `account`
/// names the account of one failure among many (a snapshot of every account).
pub fn report_error(json: bool, err: &CliError, account: Option<&str>) {
    let (kind, code) = err.classify();
    match (json, account) {
        (true, _) => eprintln!("{}", json_error(kind, &err.to_string(), code, account)),
        (false, Some(account)) => eprintln!("mtm: {account}: {err}"),
        (false, None) => eprintln!("mtm: {err}"),
    }
}

/// A spinner on stderr while a long call runs (hidden when stderr is not a terminal, and
/// with `--json`).
pub fn busy<T>(json: bool, message: &str, work: impl FnOnce() -> T) -> T {
    let spinner = (!json).then(|| {
        let s = indicatif::ProgressBar::new_spinner();
        s.set_message(message.to_owned());
        s.enable_steady_tick(std::time::Duration::from_millis(120));
        s
    });
    let result = work();
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    result
}

/// A warning as `--json` prints it on stderr: one line,
/// `{"warning": {"path": "…", "message": "…"}}`, beside the JSON error lines.
pub fn json_warning(path: &Path, message: &str) -> String {
    serde_json::json!({ "warning": { "path": path, "message": message } }).to_string()
}

/// Prints a warning about a path on stderr: `mtm: PATH: MESSAGE` for people, one JSON line
/// ([`json_warning`]) with `--json`.
pub fn warning(json: bool, path: &Path, message: &str) {
    if json {
        eprintln!("{}", json_warning(path, message));
    } else {
        eprintln!("mtm: {}: {message}", path.display());
    }
}

/// Prints what a look for the accounts under `root` skipped: the account directories it
/// could not take (a symlink not followed, one that cannot be opened) and the Maildirs
/// whose name is not an account id (`mtm: skipping DIR: …` for people).
pub fn skipped_accounts(json: bool, root: &Path, found: &RootAccounts) {
    for w in &found.warnings {
        warning(json, &w.path, &w.message);
    }
    for invalid in &found.invalid {
        let path = root.join(&invalid.name);
        if json {
            let message = format!("account skipped: {}", invalid.error);
            eprintln!("{}", json_warning(&path, &message));
        } else {
            eprintln!("mtm: skipping {}: {}", path.display(), invalid.error);
        }
    }
}

/// Prints the restore requests a walk over many went past because their journal cannot be
/// read: `mtm: warning: restore request ID cannot be read (…): ERROR` for people, one JSON
/// line `{"warning": {"request": "ID", "message": "…"}}` with `--json`.
pub fn damaged_requests(json: bool, damaged: &[DamagedRequest]) {
    for d in damaged {
        if json {
            let message = d.to_string();
            let line = serde_json::json!({ "warning": { "request": d.id.to_string(), "message": message } });
            eprintln!("{line}");
        } else {
            eprintln!("mtm: warning: {d}");
        }
    }
}

/// Writes `data` to a path the user named for output (`cat -o`), never replacing anything
/// but a regular file:
///
/// - absent, or a regular file: written to a new temporary file beside it (created
///   exclusively, so never through a link planted at its name), synced, then renamed over
///   `path`: a failed write never leaves half a file, and a rename replaces the name, never
///   writing into another link of the old file;
/// - a character device or a FIFO (`/dev/null`, a named pipe): opened for writing (not
///   following a link, not truncating) and written to, as `cat > path` would; a FIFO waits
///   for its reader;
/// - a symbolic link: refused (mtm runs as root over directories others can write; name the
///   link's target instead), as are directories, block devices and sockets.
pub fn write_file(path: &Path, data: &[u8]) -> CliResult {
    let failed = |e: io::Error| {
        CliError::Io(io::Error::new(
            e.kind(),
            format!("cannot write {}: {e}", path.display()),
        ))
    };
    let refused = |what: &str| CliError::Usage(format!("{}: {what}; not written", path.display()));
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => replace_file(path, data).map_err(failed),
        Err(e) => Err(failed(e)),
        Ok(seen) => {
            let kind = seen.file_type();
            if kind.is_file() {
                replace_file(path, data).map_err(failed)
            } else if kind.is_char_device() || kind.is_fifo() {
                write_into(path, &seen, data).map_err(failed)
            } else if kind.is_symlink() {
                Err(refused(
                    "is a symbolic link, and mtm does not write through links (name its target)",
                ))
            } else if kind.is_dir() {
                Err(refused("is a directory"))
            } else {
                Err(refused(
                    "is a block device or a socket (mtm writes regular files, character \
                     devices and FIFOs)",
                ))
            }
        }
    }
}

/// A new file beside `path`, renamed over it once complete and synced.
fn replace_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".mtm-")
        .suffix(".part")
        .tempfile_in(&dir)?;
    temp.write_all(data)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    // The rename itself is durable once the directory is synced.
    File::open(&dir)?.sync_all()
}

/// Writes into the device or FIFO at `path`, which must still be the file `seen` described.
fn write_into(path: &Path, seen: &Metadata, data: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)?;
    let opened = file.metadata()?;
    if (opened.dev(), opened.ino()) != (seen.dev(), seen.ino()) {
        return Err(io::Error::other("it was replaced while being opened"));
    }
    file.write_all(data)?;
    file.flush()
}

/// Prints a value as pretty JSON on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), serde_json::Error> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A table with a header row; columns whose header starts with `>` are right-aligned.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY);
    t.set_header(headers.iter().map(|h| h.trim_start_matches('>')));
    for row in rows {
        t.add_row(row.into_iter().zip(headers).map(|(text, h)| {
            let cell = Cell::new(text);
            if h.starts_with('>') {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    }
    t.to_string()
}

/// Cuts text to `max` characters with an ellipsis.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_counts_characters_not_bytes() {
        assert_eq!(clip("Grüße aus Köln", 6), "Grüße…");
        assert_eq!(clip("short", 10), "short");
    }

    #[test]
    fn tables_align_numbers_right() {
        let t = table(
            &["name", ">size"],
            vec![
                vec!["a".into(), "1".into()],
                vec!["bb".into(), "100".into()],
            ],
        );
        assert!(t.contains("name"));
        assert!(t.contains("  1"), "{t}");
    }
}
