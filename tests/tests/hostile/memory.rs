//! Class 17 of issue 9, scale of bad input: a huge message (a mail user can deliver or
//! write one of any size) costs a snapshot, and reading it back, at most its own size plus a
//! small constant, however many workers run.
//!
//! The same bound holds for what reads a huge message's blobs afterwards: `verify` reading
//! every pack's data, `repair recover`'s survey doing the same and its storing the message
//! again from the Maildir, and `gc` rewriting the pack that holds it.
//!
//! Memory is measured as the peak resident set (`VmHWM` in `/proc/self/status`) of a child
//! process that runs nothing but one such operation: this test binary, started again on the
//! ignored test [`snapshot_one_account_and_print_the_peak`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use mtm_core::{
    AccountId, FixedClock, FolderName, MaildirAccount, MessageQuery, Repository, RepositoryOptions,
    SnapshotOptions,
};
use mtm_tests::Maildir;

const MIB: u64 = 1024 * 1024;
/// Where the child finds its Maildir and repository.
const CHILD_DIR: &str = "MTM_MEMORY_TEST_DIR";
/// How many snapshot workers the child runs.
const CHILD_THREADS: &str = "MTM_MEMORY_TEST_THREADS";
/// What the child does: `snapshot` (unset), `read`, `verify` or `gc` (see [`Child`]).
const CHILD_DOES: &str = "MTM_MEMORY_TEST_DOES";

/// What a child process does with the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Child {
    /// Snapshots the Maildir into a new repository.
    Snapshot,
    /// Reads every message of the snapshot back (the `.eml` download).
    Read,
    /// Shows every message of the snapshot as webmail does (`mtm show`: the parsed view).
    Show,
    /// `verify` reading every pack's data (`--read-data 1.0`).
    Verify,
    /// `repair recover`'s plan, whose survey reads every pack's data as verify does.
    Plan,
    /// `repair recover` storing the huge message again from the Maildir (the test damaged
    /// its attachment's pack).
    Recover,
    /// `gc` rewriting every pack that holds any garbage (even only its own trailer), so
    /// that the pack of the huge message is repacked.
    Gc,
}

impl Child {
    fn name(self) -> &'static str {
        match self {
            Child::Snapshot => "snapshot",
            Child::Read => "read",
            Child::Show => "show",
            Child::Verify => "verify",
            Child::Plan => "plan",
            Child::Recover => "recover",
            Child::Gc => "gc",
        }
    }
}
/// What a snapshot may use beyond its largest message. A child that snapshots one small
/// message peaks at about 10 MiB (the test harness, the repository's zstd contexts and index);
/// reading, compressing and writing a message in streams adds a few MiB of buffers, and the
/// other workers keep small messages in flight (a few batches of 1 MiB). 64 MiB leaves room
/// for allocator slack while staying far below a second copy of a 300 MiB message.
const ALLOWANCE: u64 = 64 * MIB;

/// The child: does what `$MTM_MEMORY_TEST_DOES` says ([`Child`]) with the Maildir in
/// `$MTM_MEMORY_TEST_DIR/maildir` and the repository there, then prints its peak resident
/// set. Does nothing when run on its own.
#[test]
#[ignore = "started by the memory tests in a process of its own"]
fn snapshot_one_account_and_print_the_peak() {
    let Some(dir) = std::env::var_os(CHILD_DIR).map(PathBuf::from) else {
        return;
    };
    let account = AccountId::new("big@example.com").unwrap();
    let clock = FixedClock::parse("2026-11-21T00:00:30Z").unwrap();
    let does = std::env::var(CHILD_DOES).unwrap_or_default();
    if does == Child::Verify.name() {
        let repo = Repository::open(dir.join("repo")).unwrap();
        let report = repo
            .verify(&mtm_core::VerifyOptions { read_data: 1.0 })
            .unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        println!("verify checked {} blobs", report.blobs_checked);
    } else if does == Child::Plan.name() {
        let repo = Repository::open(dir.join("repo")).unwrap();
        let plan = repo.recovery_plan(&[]).unwrap();
        assert!(plan.is_empty(), "{plan:?}");
        println!("nothing to recover");
    } else if does == Child::Recover.name() {
        let repo = Repository::open(dir.join("repo")).unwrap();
        let source = MaildirAccount::open(dir.join("maildir")).unwrap();
        let plan = repo.recovery_plan(&[(account.clone(), source)]).unwrap();
        let recovered = repo.recover(&plan, &clock).unwrap();
        println!("recovered {} messages", recovered.messages_recovered);
    } else if does == Child::Gc.name() {
        let repo = Repository::open(dir.join("repo")).unwrap();
        let options = mtm_core::GcOptions {
            repack_below: 1.0,
            max_unused: 0.0,
        };
        let report = repo.gc(&options).unwrap();
        println!("gc repacked {} packs", report.packs_repacked);
    } else if does == Child::Show.name() {
        let repo = Repository::open(dir.join("repo")).unwrap();
        let view = repo.account(&account).unwrap();
        let day = mtm_core::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let query = MessageQuery::default().page(1, 1000);
        let mut attachments = 0;
        for message in view
            .messages(day, &FolderName::inbox(), &query)
            .unwrap()
            .messages
        {
            let parsed = view.parsed(day, &message.id).unwrap();
            assert!(parsed.summary.parsed, "{:?}", message.id);
            attachments += parsed.attachments.len();
        }
        println!("showed {attachments} attachments");
    } else if does == Child::Read.name() {
        let repo = Repository::open(dir.join("repo")).unwrap();
        let view = repo.account(&account).unwrap();
        let day = mtm_core::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let query = MessageQuery::default().page(1, 1000);
        let mut bytes = 0;
        for message in view
            .messages(day, &FolderName::inbox(), &query)
            .unwrap()
            .messages
        {
            let raw = view.raw(day, &message.id).unwrap();
            assert_eq!(raw.len() as u64, message.size);
            bytes += raw.len();
        }
        println!("read {bytes} bytes");
    } else {
        let threads = std::env::var(CHILD_THREADS).map_or(0, |t| t.parse().unwrap());
        let repo = Repository::init(dir.join("repo"), RepositoryOptions::default()).unwrap();
        let source = MaildirAccount::open(dir.join("maildir")).unwrap();
        let options = SnapshotOptions {
            threads,
            ..SnapshotOptions::default()
        };
        let report = repo.snapshot(&account, &source, &clock, &options).unwrap();
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        println!("snapshot stored {} bytes", report.stored_bytes);
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim();
    println!("peak {peak}");
}

/// Runs the child on `dir` (snapshots on `threads` workers) and returns its peak resident
/// set in bytes and what it printed.
fn child_run(dir: &Path, threads: usize, does: Child) -> (u64, String) {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "--exact",
            "hostile::memory::snapshot_one_account_and_print_the_peak",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_THREADS, threads.to_string());
    child.env(CHILD_DOES, does.name());
    let output = child.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let kib: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("peak "))
        .and_then(|v| v.strip_suffix(" kB"))
        .unwrap_or_else(|| panic!("no peak in the child's output: {stdout}"))
        .trim()
        .parse()
        .unwrap();
    (kib * 1024, stdout.into_owned())
}

/// The peak resident set in bytes of a child that does `does` on `dir`.
fn peak_of_child(dir: &Path, threads: usize, does: Child) -> u64 {
    child_run(dir, threads, does).0
}

/// Writes a multipart message of about `size` bytes into `maildir`: a short text part and
/// one base64 attachment of pseudo-random bytes (it compresses as real attachments do, to
/// about three quarters). Returns the file's size.
fn deliver_huge(maildir: &Path, name: &str, size: u64, seed: u64) -> u64 {
    deliver_huge_with_boundary(maildir, name, size, seed, "b1")
}

/// [`deliver_huge`] with the parts delimited by `boundary` while the header declares `b1`:
/// with another boundary the message's MIME structure is broken (no delimiter is found), as
/// a careless or hostile sender writes it.
fn deliver_huge_with_boundary(
    maildir: &Path,
    name: &str,
    size: u64,
    seed: u64,
    boundary: &str,
) -> u64 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let path = maildir.join("cur").join(format!("{name}:2,S"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let head = format!(
        "From: Archive <archive@example.com>\r\nTo: big@example.com\r\nSubject: scans {name}\r\n\
         Date: Tue, 17 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{name}@example.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe scans are attached.\r\n\
         --{boundary}\r\nContent-Type: application/octet-stream; name=\"scans.tar\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n"
    );
    let tail = format!("--{boundary}--\r\n");
    out.write_all(head.as_bytes()).unwrap();
    let lines = (size - (head.len() + tail.len()) as u64).div_ceil(78);
    let mut state = seed | 1;
    let mut line = [0u8; 78];
    line[76] = b'\r';
    line[77] = b'\n';
    for _ in 0..lines {
        // Ten base64 digits from each 64-bit xorshift step.
        for chunk in line[..76].chunks_mut(10) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut bits = state;
            for c in chunk {
                *c = ALPHABET[(bits & 63) as usize];
                bits >>= 6;
            }
        }
        out.write_all(&line).unwrap();
    }
    out.write_all(tail.as_bytes()).unwrap();
    out.flush().unwrap();
    drop(out);
    std::fs::metadata(&path).unwrap().len()
}

/// The largest file below `dir` (a directory of directories of files, as `packs/` is).
fn largest_file(dir: &Path) -> PathBuf {
    let mut files = Vec::new();
    for sub in std::fs::read_dir(dir).unwrap() {
        for file in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            files.push((std::fs::metadata(&path).unwrap().len(), path));
        }
    }
    files.into_iter().max().unwrap().1
}

/// A mailbox of a few ordinary messages, around which the huge ones are delivered.
fn ordinary_mailbox(dir: &Path) -> Maildir {
    let mut maildir = Maildir::create(dir.join("maildir"));
    for i in 0..50 {
        let body = format!("message {i}: ").repeat(200);
        let raw = mtm_tests::message("a@example.com", "big@example.com", &format!("m{i}"), &body);
        maildir.deliver("INBOX", &raw, "S", 1_790_000_000 + i);
    }
    maildir
}

/// As a real deployment has it: the mail user owns the Maildir, `mtm` runs as root.
fn give_to_the_mail_user(maildir: &Maildir) {
    if let Some(owner) = mtm_tests::hostile::mail_owner() {
        mtm_tests::hostile::chown_tree(&maildir.root, owner);
    }
}

#[test]
fn a_300_mib_message_costs_its_size_plus_a_small_constant_to_snapshot_read_show_collect_verify_and_recover()
 {
    let small = tempfile::tempdir().unwrap();
    ordinary_mailbox(small.path());
    let baseline = peak_of_child(small.path(), 0, Child::Snapshot);
    assert!(
        baseline < ALLOWANCE / 2,
        "a small snapshot alone peaks at {} MiB",
        baseline / MIB
    );

    let dir = tempfile::tempdir().unwrap();
    let maildir = ordinary_mailbox(dir.path());
    let size = deliver_huge(&maildir.root, "1790000100.M1P1.huge", 300 * MIB, 7);
    give_to_the_mail_user(&maildir);
    let snapshot = peak_of_child(dir.path(), 0, Child::Snapshot);
    let read = peak_of_child(dir.path(), 0, Child::Read);
    let (show, said) = child_run(dir.path(), 0, Child::Show);
    assert!(said.contains("showed 1 attachments"), "{said}");
    let (gc, said) = child_run(dir.path(), 0, Child::Gc);
    assert!(
        !said.contains("gc repacked 0 packs"),
        "gc rewrote no pack: {said}"
    );
    // After the gc: verify also checks the huge blob's copy.
    let verify = peak_of_child(dir.path(), 0, Child::Verify);
    let plan = peak_of_child(dir.path(), 0, Child::Plan);
    // A flipped byte in the huge attachment: the recovery stores it again from the Maildir.
    let pack = largest_file(&dir.path().join("repo/packs"));
    let mut data = std::fs::read(&pack).unwrap();
    let middle = data.len() / 2;
    data[middle] ^= 0x20;
    std::fs::remove_file(&pack).unwrap();
    std::fs::write(&pack, data).unwrap();
    let (recover, said) = child_run(dir.path(), 0, Child::Recover);
    assert!(said.contains("recovered 1 messages"), "{said}");
    eprintln!(
        "peak of a small snapshot {} MiB; with a {} MiB message: snapshot {} MiB, reading it \
         back {} MiB, showing it {} MiB, gc repacking it {} MiB, verify reading every pack {} MiB, a recovery plan {} MiB, recovering it {} MiB",
        baseline / MIB,
        size / MIB,
        snapshot / MIB,
        read / MIB,
        show / MIB,
        gc / MIB,
        verify / MIB,
        plan / MIB,
        recover / MIB
    );
    for (what, peak) in [
        ("snapshot", snapshot),
        ("read", read),
        ("show", show),
        ("gc", gc),
        ("verify", verify),
        ("recovery plan", plan),
        ("recovery", recover),
    ] {
        assert!(
            peak <= size + ALLOWANCE,
            "the {what} of a {} MiB message peaked at {} MiB, more than its size plus {} MiB",
            size / MIB,
            peak / MIB,
            ALLOWANCE / MIB
        );
    }
}

#[test]
fn two_huge_messages_are_never_held_at_once_by_two_workers() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = ordinary_mailbox(dir.path());
    let a = deliver_huge(&maildir.root, "1790000100.M1P1.huge", 150 * MIB, 7);
    let b = deliver_huge(&maildir.root, "1790000101.M2P1.huge", 150 * MIB, 11);
    give_to_the_mail_user(&maildir);
    let peak = peak_of_child(dir.path(), 2, Child::Snapshot);
    eprintln!(
        "two messages of {} MiB with two workers: peak {} MiB",
        a / MIB,
        peak / MIB
    );
    assert!(
        peak <= a.max(b) + ALLOWANCE,
        "messages of {} and {} MiB peaked at {} MiB, more than the larger plus {} MiB",
        a / MIB,
        b / MIB,
        peak / MIB,
        ALLOWANCE / MIB
    );
}

#[test]
fn a_300_mib_message_with_a_broken_mime_structure_costs_its_size_plus_a_small_constant_to_snapshot_and_show()
 {
    let dir = tempfile::tempdir().unwrap();
    let maildir = ordinary_mailbox(dir.path());
    let size =
        deliver_huge_with_boundary(&maildir.root, "1790000100.M1P1.huge", 300 * MIB, 7, "b2");
    give_to_the_mail_user(&maildir);
    let snapshot = peak_of_child(dir.path(), 0, Child::Snapshot);
    let (show, said) = child_run(dir.path(), 0, Child::Show);
    eprintln!(
        "a {} MiB message with a broken structure: snapshot {} MiB, showing it {} MiB ({said})",
        size / MIB,
        snapshot / MIB,
        show / MIB
    );
    for (what, peak) in [("snapshot", snapshot), ("show", show)] {
        assert!(
            peak <= size + ALLOWANCE,
            "the {what} of a {} MiB message with a broken structure peaked at {} MiB, more \
             than its size plus {} MiB",
            size / MIB,
            peak / MIB,
            ALLOWANCE / MIB
        );
    }
}
