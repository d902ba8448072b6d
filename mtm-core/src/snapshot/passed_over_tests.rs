//! Folders passed over as unchanged (`source/stamp.rs`): a snapshot does not list a folder
//! whose directories stand as the previous snapshot saw them, and reads back the same.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::source::beneath::listings_on_this_thread;
use crate::source::stamp::trust_recent_stamps_on_this_thread;
use crate::{
    AccountId, FixedClock, FolderName, MaildirAccount, MessageQuery, Repository, RepositoryOptions,
    SnapshotOptions, SnapshotProgress, SnapshotReport,
};

/// A folder of a day: its name, and its messages' file names and bytes.
type Folder = (String, Vec<(String, Vec<u8>)>);

/// An account with INBOX, Archive and Sent, two messages each, in a new repository.
struct Fixture {
    _dir: tempfile::TempDir,
    maildir: PathBuf,
    repo: Repository,
    account: AccountId,
}

const FOLDERS: [&str; 3] = ["", ".Archive", ".Sent"];

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("alice");
        for folder in FOLDERS {
            for sub in ["cur", "new", "tmp"] {
                std::fs::create_dir_all(maildir.join(folder).join(sub)).unwrap();
            }
            for m in 0..2 {
                write_message(&maildir, folder, &format!("{m}{folder}"));
            }
        }
        let options = RepositoryOptions {
            header_dictionary: false,
            ..RepositoryOptions::default()
        };
        let repo = Repository::init(dir.path().join("repo"), options).unwrap();
        Fixture {
            _dir: dir,
            maildir,
            repo,
            account: AccountId::new("alice@example.com").unwrap(),
        }
    }

    /// The snapshot of `day` (`2026-11-DD`), and how many directories it listed.
    fn snapshot(&self, day: u32, options: &SnapshotOptions) -> (SnapshotReport, u64) {
        let clock = FixedClock::parse(&format!("2026-11-{day:02}T00:00:30Z")).unwrap();
        let source = MaildirAccount::open(&self.maildir).unwrap();
        let before = listings_on_this_thread();
        let report = self
            .repo
            .snapshot(&self.account, &source, &clock, options)
            .unwrap();
        // The mailbox's next change comes at least a clock tick after this scan.
        std::thread::sleep(std::time::Duration::from_millis(10));
        (report, listings_on_this_thread() - before)
    }

    /// Every folder of `day`: its name, and its messages' file names and bytes.
    fn contents(&self, day: u32) -> Vec<Folder> {
        let view = self.repo.account(&self.account).unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        let mut folders = Vec::new();
        for folder in view.folders(day).unwrap() {
            let page = view
                .messages(day, &folder.name, &MessageQuery::default().page(1, 100))
                .unwrap();
            let mut messages: Vec<(String, Vec<u8>)> = page
                .messages
                .iter()
                .map(|m| (m.file_name.clone(), view.raw(day, &m.id).unwrap()))
                .collect();
            messages.sort();
            folders.push((folder.name.to_string(), messages));
        }
        folders
    }
}

fn write_message(maildir: &Path, folder: &str, tag: &str) -> PathBuf {
    let body = format!("Subject: {tag}\r\n\r\nbody of {tag}\r\n");
    let path = maildir.join(folder).join("cur").join(format!(
        "17000{}.M{tag}.host,S={}:2,",
        tag.len(),
        body.len()
    ));
    std::fs::write(&path, body).unwrap();
    path
}

/// Directories a snapshot lists when it lists every folder: the account root (for its
/// folders) and each folder's `new/` and `cur/`.
const ALL_LISTED: u64 = 1 + 2 * FOLDERS.len() as u64;

#[test]
fn a_night_without_change_lists_no_folder_and_reads_back_the_same() {
    trust_recent_stamps_on_this_thread(true);
    let f = Fixture::new();
    let (_, listed) = f.snapshot(1, &SnapshotOptions::default());
    assert_eq!(listed, ALL_LISTED);
    let (report, listed) = f.snapshot(2, &SnapshotOptions::default());
    assert_eq!(listed, 1, "only the account root is listed");
    assert_eq!((report.folders, report.messages), (3, 6));
    assert_eq!((report.files_unchanged, report.files_read), (6, 0));
    assert_eq!(f.contents(2), f.contents(1));
    assert_eq!(f.contents(2).iter().map(|(_, m)| m.len()).sum::<usize>(), 6);
}

#[test]
fn a_recent_stamp_is_not_trusted_and_every_folder_is_listed_again() {
    trust_recent_stamps_on_this_thread(false);
    let f = Fixture::new();
    f.snapshot(1, &SnapshotOptions::default());
    let (report, listed) = f.snapshot(2, &SnapshotOptions::default());
    // The fixture was written just now: within the racy margin of the first scan.
    assert_eq!(listed, ALL_LISTED);
    assert_eq!(report.files_unchanged, 6);
    assert_eq!(f.contents(2), f.contents(1));
}

#[test]
fn only_the_folders_that_changed_are_listed_and_their_changes_are_kept() {
    trust_recent_stamps_on_this_thread(true);
    let f = Fixture::new();
    f.snapshot(1, &SnapshotOptions::default());
    // A delivery to Archive, a flag change in Sent; INBOX untouched.
    write_message(&f.maildir, ".Archive", "new");
    let sent = f.maildir.join(".Sent/cur");
    let old = std::fs::read_dir(&sent)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let flagged = PathBuf::from(format!("{}S", old.display()));
    std::fs::rename(&old, &flagged).unwrap();
    let (report, listed) = f.snapshot(2, &SnapshotOptions::default());
    assert_eq!(
        listed,
        1 + 2 * 2,
        "the root, and Archive's and Sent's new/ and cur/"
    );
    assert_eq!((report.messages, report.files_read), (7, 1));
    let day2 = f.contents(2);
    let names = |folder: &str| -> Vec<String> {
        let (_, messages) = day2.iter().find(|(name, _)| name == folder).unwrap();
        messages.iter().map(|(name, _)| name.clone()).collect()
    };
    assert_eq!(names("Archive").len(), 3);
    let flagged_name = flagged.file_name().unwrap().to_str().unwrap();
    assert!(names("Sent").iter().any(|n| n == flagged_name));
    assert_eq!(day2[0], f.contents(1)[0], "INBOX as it was");
    // The next night, nothing changed: nothing listed.
    let (_, listed) = f.snapshot(3, &SnapshotOptions::default());
    assert_eq!(listed, 1);
    assert_eq!(f.contents(3), day2);
}

#[test]
fn a_renamed_folder_is_listed_under_its_new_name_and_its_messages_are_not_read_again() {
    trust_recent_stamps_on_this_thread(true);
    let f = Fixture::new();
    f.snapshot(1, &SnapshotOptions::default());
    std::fs::rename(f.maildir.join(".Archive"), f.maildir.join(".Old")).unwrap();
    let (report, _) = f.snapshot(2, &SnapshotOptions::default());
    assert_eq!((report.messages, report.files_read), (6, 0));
    let names: Vec<String> = f.contents(2).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["INBOX", "Old", "Sent"]);
}

/// A FIFO in Archive (the scan skips it) and a sparse file in Sent (the read refuses it).
#[test]
fn a_folder_with_a_file_it_cannot_take_is_listed_and_warned_about_every_night() {
    trust_recent_stamps_on_this_thread(true);
    let f = Fixture::new();
    let fifo = f.maildir.join(".Archive/cur/1700.fifo,S=10:2,");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let sparse = std::fs::File::create(f.maildir.join(".Sent/cur/1700.sparse:2,")).unwrap();
    sparse.set_len(1 << 20).unwrap();
    for day in 1..=3 {
        let (report, listed) = f.snapshot(day, &SnapshotOptions::default());
        for name in ["1700.fifo", "1700.sparse"] {
            let named = report.warnings.iter().filter(|w| w.contains(name)).count();
            assert_eq!(named, 1, "day {day}, {name}: {:?}", report.warnings);
        }
        let expected = if day == 1 { ALL_LISTED } else { 1 + 2 * 2 };
        assert_eq!(
            listed, expected,
            "day {day}: Archive and Sent are listed again"
        );
    }
}

/// Moves a message from INBOX to Archive once the scan is done, before it is read.
#[derive(Debug)]
struct MoveAfterScan {
    from: PathBuf,
    to: PathBuf,
}

impl SnapshotProgress for MoveAfterScan {
    fn started(&self, _: &AccountId, _: u64, _: u64, _: u64) {
        std::fs::rename(&self.from, &self.to).unwrap();
    }

    fn advanced(&self, _: u64) {}
}

#[test]
fn a_message_moved_into_a_passed_over_folder_during_the_snapshot_stays_where_the_scan_saw_it() {
    trust_recent_stamps_on_this_thread(true);
    let f = Fixture::new();
    f.snapshot(1, &SnapshotOptions::default());
    // INBOX changes (so it is listed and its new message read); Archive does not.
    let new = write_message(&f.maildir, "", "moving");
    let name = new.file_name().unwrap().to_owned();
    let options = SnapshotOptions {
        progress: Some(Arc::new(MoveAfterScan {
            from: new.clone(),
            to: f.maildir.join(".Archive/cur").join(&name),
        })),
        ..SnapshotOptions::default()
    };
    let (report, _) = f.snapshot(2, &options);
    assert_eq!((report.messages, report.files_read), (7, 1));
    let day2 = f.contents(2);
    let inbox: Vec<&String> = day2[0].1.iter().map(|(n, _)| n).collect();
    assert!(inbox.iter().any(|n| n.as_str() == name.to_str().unwrap()));
    assert_eq!(day2[1], f.contents(1)[1], "Archive as the scan saw it");
    // The next night sees the message where it is now, in Archive (its stamp changed).
    let (report, _) = f.snapshot(3, &SnapshotOptions::default());
    assert_eq!((report.messages, report.files_read), (7, 0));
    let day3 = f.contents(3);
    assert_eq!(day3[0], f.contents(1)[0]);
    assert_eq!(day3[1].1.len(), 3);
}

#[test]
fn the_folder_records_of_a_night_without_change_are_the_previous_ones() {
    trust_recent_stamps_on_this_thread(true);
    let f = Fixture::new();
    f.snapshot(1, &SnapshotOptions::default());
    f.snapshot(2, &SnapshotOptions::default());
    let inner = &f.repo.inner;
    let one = inner.snapshot_record(&f.account, day(1)).unwrap();
    let two = inner.snapshot_record(&f.account, day(2)).unwrap();
    let manifests = |r: &super::model::SnapshotRecord| -> Vec<_> {
        r.folders.iter().map(|f| (f.manifest, f.stamp)).collect()
    };
    assert_eq!(manifests(&two), manifests(&one));
    assert!(one.folders.iter().all(|f| f.stamp.is_some()));
    let names: Vec<&FolderName> = two.folders.iter().map(|f| &f.name).collect();
    assert_eq!(names.len(), 3);
}

fn day(d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}
