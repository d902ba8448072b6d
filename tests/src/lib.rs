//! Shared fixtures for the end-to-end tests: a Maildir written the way Dovecot writes it,
//! and a repository in a temporary directory.
#![allow(clippy::unwrap_used, missing_docs)]

pub mod hostile;

use std::fs;
use std::path::{Path, PathBuf};

use filetime::FileTime;
use mtm_core::{
    AccountId, FixedClock, MaildirAccount, Repository, RepositoryOptions, SnapshotOptions,
    SnapshotReport,
};

/// A Maildir++ tree for one account, written as Dovecot does: `cur/new/tmp` per folder,
/// `.Name` folder directories with `maildirfolder`, a `subscriptions` file, and file names
/// `<unique>,S=<size>,W=<size>:2,<flags>` with the mtime as received date.
#[derive(Debug)]
pub struct Maildir {
    pub root: PathBuf,
    counter: u64,
    subscribed: Vec<String>,
}

impl Maildir {
    pub fn create(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(root.join(sub)).unwrap();
        }
        let maildir = Self {
            root,
            counter: 0,
            subscribed: Vec::new(),
        };
        maildir.write_subscriptions();
        maildir
    }

    /// The directory of a folder ("INBOX", "Archive/2024").
    pub fn folder_dir(&self, folder: &str) -> PathBuf {
        if folder == "INBOX" {
            self.root.clone()
        } else {
            self.root.join(format!(".{}", folder.replace('/', ".")))
        }
    }

    /// Creates a folder, subscribed or not.
    pub fn add_folder(&mut self, folder: &str, subscribed: bool) {
        let dir = self.folder_dir(folder);
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        fs::write(dir.join("maildirfolder"), "").unwrap();
        if subscribed {
            self.subscribed.push(folder.to_owned());
            self.write_subscriptions();
        }
    }

    fn write_subscriptions(&self) {
        let mut text = String::from("V\t2\n\n");
        for f in &self.subscribed {
            text.push_str(&f.replace('/', "\t"));
            text.push('\n');
        }
        fs::write(self.root.join("subscriptions"), text).unwrap();
    }

    /// Delivers `raw` into `folder/cur` with `flags`, received at `received` (unix seconds).
    pub fn deliver(&mut self, folder: &str, raw: &[u8], flags: &str, received: i64) -> PathBuf {
        self.counter += 1;
        let name = format!(
            "{received}.M{}P1000.test,S={},W={}:2,{flags}",
            self.counter,
            raw.len(),
            raw.len() + raw.iter().filter(|b| **b == b'\n').count()
        );
        let path = self.folder_dir(folder).join("cur").join(name);
        fs::write(&path, raw).unwrap();
        filetime::set_file_mtime(&path, FileTime::from_unix_time(received, 0)).unwrap();
        path
    }

    /// Renames a message file to carry new flags, as an IMAP client's STORE does.
    pub fn set_flags(&self, path: &Path, flags: &str) -> PathBuf {
        let name = path.file_name().unwrap().to_str().unwrap();
        let unique = name.split_once(':').map_or(name, |(u, _)| u);
        let new = path.with_file_name(format!("{unique}:2,{flags}"));
        fs::rename(path, &new).unwrap();
        new
    }

    /// Moves a message file to another folder, keeping its name.
    pub fn move_to(&self, path: &Path, folder: &str) -> PathBuf {
        let new = self
            .folder_dir(folder)
            .join("cur")
            .join(path.file_name().unwrap());
        fs::rename(path, &new).unwrap();
        new
    }

    pub fn source(&self) -> MaildirAccount {
        MaildirAccount::open(&self.root).unwrap()
    }
}

/// A plain text message with the given headers.
pub fn message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Tue, 17 Nov 2026 10:00:00 +0000\r\n\
         Message-ID: <{}@test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        tag_of(subject, body)
    )
    .into_bytes()
}

/// The same message as delivered to `recipient` over LMTP: per-recipient trace headers first.
pub fn delivered(recipient: &str, lmtp_id: &str, raw: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "Return-Path: <news@lists.example.org>\r\nDelivered-To: {recipient}\r\n\
         Received: from mx1.example.net by mail.example.com with LMTP id {lmtp_id}\r\n\
         \tfor <{recipient}>; Tue, 17 Nov 2026 10:00:05 +0000\r\n"
    )
    .into_bytes();
    out.extend_from_slice(raw);
    out
}

fn tag_of(a: &str, b: &str) -> String {
    let mut h = 0xcbf29ce484222325u64;
    for byte in a.bytes().chain(b.bytes()) {
        h = (h ^ u64::from(byte)).wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// A repository in a temporary directory, with helpers to snapshot on a given day.
#[derive(Debug)]
pub struct TestRepo {
    pub dir: tempfile::TempDir,
    pub repo: Repository,
}

impl TestRepo {
    pub fn new() -> Self {
        Self::with_options(RepositoryOptions::default())
    }

    pub fn with_options(options: RepositoryOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path().join("repo"), options).unwrap();
        Self { dir, repo }
    }

    /// Snapshots `maildir` as `account` at 00:00:30 UTC of `day` (YYYY-MM-DD).
    pub fn snapshot(&self, account: &str, maildir: &Maildir, day: &str) -> SnapshotReport {
        self.try_snapshot(account, maildir, day, &SnapshotOptions::default())
            .unwrap()
    }

    pub fn try_snapshot(
        &self,
        account: &str,
        maildir: &Maildir,
        day: &str,
        options: &SnapshotOptions,
    ) -> mtm_core::Result<SnapshotReport> {
        let clock = FixedClock::parse(&format!("{day}T00:00:30Z")).unwrap();
        self.repo.snapshot(
            &AccountId::new(account).unwrap(),
            &maildir.source(),
            &clock,
            options,
        )
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
}

impl Default for TestRepo {
    fn default() -> Self {
        Self::new()
    }
}

/// Parses YYYY-MM-DD.
pub fn day(text: &str) -> mtm_core::NaiveDate {
    mtm_core::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}
