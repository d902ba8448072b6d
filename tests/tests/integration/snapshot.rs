//! Taking snapshots: what is captured, what is stored, what is reused.

use std::sync::{Arc, Mutex};

use mtm_core::{
    AccountId, ErrorKind, Flag, FolderName, MessageId, MessageQuery, SnapshotOptions,
    SnapshotProgress,
};
use mtm_tests::{Maildir, TestRepo, day, delivered, message};

fn sample(root: &std::path::Path) -> Maildir {
    let mut m = Maildir::create(root);
    m.add_folder("Sent", true);
    m.add_folder("Archive", true);
    m.add_folder("Archive/2024", false);
    m.deliver(
        "INBOX",
        &message("ann@example.org", "alice@example.com", "Hello", "hi"),
        "S",
        1_790_000_000,
    );
    m.deliver(
        "INBOX",
        &message("bob@example.org", "alice@example.com", "Invoice", "pay"),
        "",
        1_790_000_100,
    );
    m.deliver(
        "Sent",
        &message("alice@example.com", "ann@example.org", "Re: Hello", "yo"),
        "RS",
        1_790_000_200,
    );
    m.deliver(
        "Archive/2024",
        &message("bank@example.org", "alice@example.com", "Statement", "€"),
        "S",
        1_780_000_000,
    );
    m
}

#[test]
fn a_snapshot_captures_every_folder_subscribed_or_not_with_flags_and_dates() {
    let t = TestRepo::new();
    let m = sample(&t.dir.path().join("alice"));
    let report = t.snapshot("alice@example.com", &m, "2026-11-20");
    assert_eq!(
        (report.folders, report.messages, report.vanished),
        (4, 4, 0)
    );
    let view = t
        .repo
        .account(&AccountId::new("alice@example.com").unwrap())
        .unwrap();
    let folders = view.folders(day("2026-11-20")).unwrap();
    let names: Vec<(&str, bool, u64)> = folders
        .iter()
        .map(|f| (f.name.as_str(), f.subscribed, f.messages))
        .collect();
    assert_eq!(
        names,
        [
            ("INBOX", true, 2),
            ("Archive", true, 0),
            ("Archive/2024", false, 1),
            ("Sent", true, 1)
        ]
    );
    let sent = view
        .messages(
            day("2026-11-20"),
            &FolderName::new("Sent").unwrap(),
            &MessageQuery::default(),
        )
        .unwrap();
    let m0 = &sent.messages[0];
    assert!(m0.flags.contains(Flag::Replied) && m0.flags.contains(Flag::Seen));
    assert_eq!(m0.received.timestamp(), 1_790_000_200);
    assert_eq!(m0.summary.subject, "Re: Hello");
}

#[test]
fn the_same_account_and_day_cannot_be_snapshotted_twice() {
    let t = TestRepo::new();
    let m = sample(&t.dir.path().join("alice"));
    t.snapshot("alice@example.com", &m, "2026-11-20");
    let err = t
        .try_snapshot(
            "alice@example.com",
            &m,
            "2026-11-20",
            &SnapshotOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    // The next day is fine, and the first day is unchanged.
    t.snapshot("alice@example.com", &m, "2026-11-21");
    let view = t
        .repo
        .account(&AccountId::new("alice@example.com").unwrap())
        .unwrap();
    assert_eq!(view.days().unwrap(), [day("2026-11-20"), day("2026-11-21")]);
}

#[test]
fn the_day_is_the_providers_local_date() {
    let t = TestRepo::with_options(mtm_core::RepositoryOptions {
        time_zone: "Europe/Rome".into(),
        header_dictionary: true,
        ..Default::default()
    });
    let m = sample(&t.dir.path().join("alice"));
    // 23:00:30 UTC on the 20th is 00:00:30 on the 21st in Rome.
    let clock = mtm_core::FixedClock::parse("2026-11-20T23:00:30Z").unwrap();
    let report = t
        .repo
        .snapshot(
            &AccountId::new("alice@example.com").unwrap(),
            &m.source(),
            &clock,
            &SnapshotOptions::default(),
        )
        .unwrap();
    assert_eq!(report.day, day("2026-11-21"));
}

#[test]
fn an_unchanged_mailbox_is_not_read_again_and_costs_no_new_blobs() {
    let t = TestRepo::new();
    let mut m = sample(&t.dir.path().join("alice"));
    let first = t.snapshot("alice@example.com", &m, "2026-11-20");
    assert_eq!(first.files_read, 4);
    let second = t.snapshot("alice@example.com", &m, "2026-11-21");
    assert_eq!(
        (
            second.files_read,
            second.files_unchanged,
            second.stored_blobs
        ),
        (0, 4, 0)
    );
    // A flag change renames the file: still not read, and only that folder's manifest is new.
    let inbox = m.folder_dir("INBOX").join("cur");
    let file = std::fs::read_dir(&inbox)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    m.set_flags(&file, "FS");
    let third = t.snapshot("alice@example.com", &m, "2026-11-22");
    assert_eq!((third.files_read, third.stored_blobs), (0, 1));
    // New mail: only it is read.
    m.deliver(
        "INBOX",
        &message("c@example.org", "alice@example.com", "New", "n"),
        "",
        1_790_100_000,
    );
    let fourth = t.snapshot("alice@example.com", &m, "2026-11-23");
    assert_eq!((fourth.files_read, fourth.new_messages), (1, 1));
}

#[test]
fn list_copies_differing_only_in_delivery_headers_share_their_stored_bytes() {
    let t = TestRepo::new();
    // 20 KB of hex digits from a simple generator: compresses only about 2x, like real text.
    let body: String = (0..2500u64)
        .map(|i| format!("{:08x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32))
        .collect();
    let newsletter = message(
        "news@lists.example.org",
        "subscribers@lists.example.org",
        "Weekly digest",
        &body,
    );
    let mut stored = Vec::new();
    for i in 0..5 {
        let account = format!("user{i}@example.com");
        let mut m = Maildir::create(t.dir.path().join(&account));
        let copy = delivered(&account, &format!("lmtp{i:04}"), &newsletter);
        m.deliver("INBOX", &copy, "", 1_790_000_000);
        stored.push(t.snapshot(&account, &m, "2026-11-20").stored_bytes);
    }
    // The first copy stores the body; each further copy only its trace headers plus its
    // small manifest and catalog.
    assert!(stored[0] > 8_000, "{stored:?}");
    for later in &stored[1..] {
        assert!(*later * 8 < stored[0], "{stored:?}");
    }
}

#[test]
fn empty_garbage_unparsable_and_non_utf8_messages_are_stored_byte_exact() {
    let t = TestRepo::new();
    let mut m = Maildir::create(t.dir.path().join("alice"));
    let mut garbage: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    garbage.extend_from_slice(b"\xff\xfe\x00\x00");
    let latin1 =
        b"From: J\xe9r\xf4me <j@example.fr>\r\nSubject: Caf\xe9 cr\xe8me\r\n\r\nD\xe9j\xe0 vu\r\n"
            .to_vec();
    let no_blank_line = b"Subject: only a header".to_vec();
    let samples = [Vec::new(), garbage, latin1, no_blank_line];
    for raw in &samples {
        m.deliver("INBOX", raw, "", 1_790_000_000);
    }
    t.snapshot("alice@example.com", &m, "2026-11-20");
    let view = t
        .repo
        .account(&AccountId::new("alice@example.com").unwrap())
        .unwrap();
    for raw in &samples {
        let id = MessageId::of(raw);
        assert_eq!(&view.raw(day("2026-11-20"), &id).unwrap(), raw);
    }
    let empty = view
        .message(day("2026-11-20"), &MessageId::of(b""))
        .unwrap();
    assert!(!empty.summary.parsed);
}

#[test]
fn a_large_message_round_trips() {
    let t = TestRepo::new();
    let mut m = Maildir::create(t.dir.path().join("alice"));
    let mut raw =
        b"From: big@example.org\r\nSubject: big\r\nContent-Type: text/plain\r\n\r\n".to_vec();
    raw.extend((0..50 * 1024 * 1024usize).map(|i| b'a' + ((i * 7 + i / 4093) % 26) as u8));
    m.deliver("INBOX", &raw, "", 1_790_000_000);
    t.snapshot("alice@example.com", &m, "2026-11-20");
    let view = t
        .repo
        .account(&AccountId::new("alice@example.com").unwrap())
        .unwrap();
    assert!(view.raw(day("2026-11-20"), &MessageId::of(&raw)).unwrap() == raw);
}

#[test]
fn large_messages_are_streamed_into_packs_of_their_own_and_share_their_attachment() {
    let t = TestRepo::new();
    let mut m = Maildir::create(t.dir.path().join("alice"));
    // 6 MiB of base64-like text, not repetitive enough to shrink to nothing.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let attachment: String = (0..6 * 1024 * 1024)
        .map(|i| {
            if i % 78 == 76 {
                return '\r';
            }
            if i % 78 == 77 {
                return '\n';
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    [(state % 64) as usize],
            )
        })
        .collect();
    let with = |subject: &str| {
        format!(
            "From: scans@example.org\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
             Content-Type: text/plain\r\n\r\n{subject}\r\n--b\r\n\
             Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n\
             {attachment}--b--\r\n"
        )
        .into_bytes()
    };
    let (first, second) = (with("scans"), with("the same scans again"));
    m.deliver("INBOX", &first, "S", 1_790_000_000);
    m.deliver("INBOX", &second, "S", 1_790_000_100);
    let report = t.snapshot("alice@example.com", &m, "2026-11-20");
    assert_eq!(report.messages, 2);
    // One copy of the attachment, plus each message's own header and text.
    assert!(
        report.stored_bytes < attachment.len() as u64,
        "{} bytes stored for a {} byte attachment sent twice",
        report.stored_bytes,
        attachment.len()
    );
    let view = t
        .repo
        .account(&AccountId::new("alice@example.com").unwrap())
        .unwrap();
    for raw in [&first, &second] {
        assert!(view.raw(day("2026-11-20"), &MessageId::of(raw)).unwrap() == *raw);
    }
    let check = t
        .repo
        .verify(&mtm_core::VerifyOptions { read_data: 1.0 })
        .unwrap();
    assert!(check.is_ok(), "{:?}", check.problems);
    assert_eq!(check.unreferenced_packs, 0);
}

/// Changes the mailbox at the moment the snapshot has listed it and starts reading.
struct Meddler(Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl std::fmt::Debug for Meddler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Meddler")
    }
}

impl SnapshotProgress for Meddler {
    fn started(&self, _: &AccountId, _: u64, _: u64, _: u64) {
        if let Some(f) = self.0.lock().unwrap().take() {
            f();
        }
    }
    fn advanced(&self, _: u64) {}
}

#[test]
fn mail_that_moves_during_the_snapshot_is_captured_once_and_vanished_mail_is_reported() {
    let t = TestRepo::new();
    let mut m = Maildir::create(t.dir.path().join("alice"));
    m.add_folder("Archive", true);
    let renamed = m.deliver(
        "INBOX",
        &message("a@x.org", "alice@x.org", "Renamed", "1"),
        "",
        1_790_000_000,
    );
    let moved = m.deliver(
        "INBOX",
        &message("b@x.org", "alice@x.org", "Moved", "2"),
        "",
        1_790_000_000,
    );
    let deleted = m.deliver(
        "INBOX",
        &message("c@x.org", "alice@x.org", "Deleted", "3"),
        "",
        1_790_000_000,
    );
    let archive = m.folder_dir("Archive").join("cur");
    let meddle = move || {
        let name = renamed
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replace(":2,", ":2,S");
        std::fs::rename(&renamed, renamed.with_file_name(name)).unwrap();
        std::fs::rename(&moved, archive.join(moved.file_name().unwrap())).unwrap();
        std::fs::remove_file(&deleted).unwrap();
    };
    let options = SnapshotOptions {
        threads: 2,
        progress: Some(Arc::new(Meddler(Mutex::new(Some(Box::new(meddle)))))),
        ..SnapshotOptions::default()
    };
    let report = t
        .try_snapshot("alice@example.com", &m, "2026-11-20", &options)
        .unwrap();
    assert_eq!((report.messages, report.vanished), (2, 1), "{report:?}");
    assert!(
        report.warnings.iter().any(|w| w.contains("vanished")),
        "{:?}",
        report.warnings
    );
    let view = t
        .repo
        .account(&AccountId::new("alice@example.com").unwrap())
        .unwrap();
    let d = day("2026-11-20");
    let inbox = view
        .messages(d, &FolderName::inbox(), &MessageQuery::default())
        .unwrap();
    assert_eq!(inbox.total, 1);
    assert_eq!(inbox.messages[0].summary.subject, "Renamed");
    assert!(inbox.messages[0].flags.contains(Flag::Seen));
    let arch = view
        .messages(
            d,
            &FolderName::new("Archive").unwrap(),
            &MessageQuery::default(),
        )
        .unwrap();
    assert_eq!(
        arch.messages
            .iter()
            .map(|m| m.summary.subject.as_str())
            .collect::<Vec<_>>(),
        ["Moved"]
    );
}

#[test]
fn a_damaged_pack_gives_an_integrity_error_that_names_the_message() {
    let t = TestRepo::with_options(mtm_core::RepositoryOptions {
        time_zone: "UTC".into(),
        header_dictionary: false,
        ..Default::default()
    });
    let mut m = Maildir::create(t.dir.path().join("alice"));
    let raw = message(
        "ann@example.org",
        "alice@example.com",
        "Quarterly report",
        &"numbers ".repeat(100),
    );
    m.deliver("INBOX", &raw, "", 1_790_000_000);
    t.snapshot("alice@example.com", &m, "2026-11-20");
    // Flip one bit in every pack, after the pack magic.
    let packs = t.path().join("packs");
    for dir in std::fs::read_dir(&packs).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let path = f.unwrap().path();
            let mut data = std::fs::read(&path).unwrap();
            data[12] ^= 0x04;
            std::fs::remove_file(&path).unwrap();
            std::fs::write(&path, data).unwrap();
        }
    }
    // The message's header part is the first blob of the pack: reading the message fails
    // with an error that says which message, never with wrong bytes.
    let repo = mtm_core::Repository::open(t.path()).unwrap();
    let view = repo
        .account(&AccountId::new("alice@example.com").unwrap())
        .unwrap();
    let err = view
        .raw(day("2026-11-20"), &MessageId::of(&raw))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("Quarterly report") && text.contains("alice@example.com"),
        "{text}"
    );
}

#[test]
fn accounts_snapshotted_side_by_side_store_shared_content_once() {
    let newsletters: Vec<Vec<u8>> = (0..20)
        .map(|i| {
            let body: String = (0..800u64)
                .map(|j| {
                    format!(
                        "{:08x}",
                        (j + i * 1000).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32
                    )
                })
                .collect();
            message(
                "news@lists.example.org",
                "list@example.org",
                &format!("Issue {i}"),
                &body,
            )
        })
        .collect();
    let build = |t: &TestRepo| -> Vec<(AccountId, mtm_core::MaildirAccount)> {
        (0..6)
            .map(|a| {
                let account = format!("user{a}@example.com");
                let mut m = Maildir::create(t.dir.path().join(&account));
                for (i, n) in newsletters.iter().enumerate() {
                    m.deliver(
                        "INBOX",
                        &delivered(&account, &format!("{a}-{i}"), n),
                        "",
                        1_790_000_000 + i as i64,
                    );
                }
                (AccountId::new(account).unwrap(), m.source())
            })
            .collect()
    };
    let clock = mtm_core::FixedClock::parse("2026-11-20T00:00:30Z").unwrap();
    let side_by_side = TestRepo::new();
    let accounts = build(&side_by_side);
    let options = SnapshotOptions {
        threads: 3,
        progress: None,
        ..SnapshotOptions::default()
    };
    for result in side_by_side.repo.snapshot_many(&accounts, &clock, &options) {
        assert_eq!(result.unwrap().messages, 20);
    }
    let one_by_one = TestRepo::new();
    for (account, source) in build(&one_by_one) {
        one_by_one
            .repo
            .snapshot(&account, &source, &clock, &SnapshotOptions::default())
            .unwrap();
    }
    let (a, b) = (
        side_by_side.repo.stats().unwrap(),
        one_by_one.repo.stats().unwrap(),
    );
    assert_eq!(
        a.blobs, b.blobs,
        "side by side stored {} blobs, one by one {}",
        a.blobs, b.blobs
    );
    // Every copy reads back from the repository written side by side.
    for (account, _) in &accounts {
        let view = side_by_side.repo.account(account).unwrap();
        let copy = delivered(
            account.as_str(),
            &format!("{}-3", &account.as_str()[4..5]),
            &newsletters[3],
        );
        assert_eq!(
            view.raw(day("2026-11-20"), &MessageId::of(&copy)).unwrap(),
            copy
        );
    }
}
