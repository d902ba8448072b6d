//! The restore dry run through the public API: what would come back into a live Maildir.
//! (Executing the merge is crate-internal and tested in `mtm-core`'s `restore::merge`.)

use std::fs;

use mtm_core::{AccountId, ErrorKind, FolderName, MessageId, RestoreScope};
use mtm_tests::{Maildir, TestRepo, day, delivered, message};

fn alice() -> AccountId {
    AccountId::new("alice@example.com").unwrap()
}

#[test]
fn the_plan_counts_deleted_moved_and_new_mail_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut maildir = Maildir::create(dir.path().join("alice"));
    maildir.add_folder("Archive/2024", true);
    maildir.add_folder("Sent", true);
    let news = delivered(
        "alice@example.com",
        "L1",
        &message("news@example.org", "alice@example.com", "News", "hello"),
    );
    let lost = message("bob@example.org", "alice@example.com", "Lost", "gone");
    let moved = message("bob@example.org", "alice@example.com", "Moved", "elsewhere");
    let sent = message("alice@example.com", "bob@example.org", "Re: hi", "sure");
    maildir.deliver("INBOX", &news, "S", 1_790_000_000);
    let lost_path = maildir.deliver("INBOX", &lost, "FS", 1_790_000_100);
    let moved_path = maildir.deliver("INBOX", &moved, "", 1_790_000_200);
    let sent_path = maildir.deliver("Sent", &sent, "S", 1_790_000_300);
    let repo = TestRepo::new();
    repo.snapshot("alice@example.com", &maildir, "2026-11-20");

    fs::remove_file(lost_path).unwrap();
    maildir.move_to(&moved_path, "Archive/2024");
    fs::remove_file(sent_path).unwrap();
    fs::remove_dir_all(maildir.folder_dir("Sent")).unwrap();
    maildir.deliver(
        "INBOX",
        b"Subject: later\n\nafter the snapshot\n",
        "",
        1_790_100_000,
    );
    let listing = |m: &Maildir| {
        let mut all = Vec::new();
        for entry in walk(&m.root) {
            all.push(entry);
        }
        all.sort();
        all
    };
    let before = listing(&maildir);

    let plan = repo
        .repo
        .restore_plan(
            &alice(),
            day("2026-11-20"),
            &RestoreScope::Account,
            &maildir.source(),
        )
        .unwrap();
    let rows: Vec<(&str, u64, u64, u64, bool, bool)> = plan
        .folders
        .iter()
        .map(|f| {
            (
                f.folder.as_str(),
                f.in_snapshot,
                f.to_restore,
                f.already_present,
                f.recreate,
                f.resubscribe,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("INBOX", 3, 1, 2, false, false),
            ("Archive/2024", 0, 0, 0, false, false),
            ("Sent", 1, 1, 0, true, false),
        ]
    );
    assert_eq!(plan.messages, 2);
    assert_eq!(plan.bytes, (lost.len() + sent.len()) as u64);
    assert_eq!(plan.already_present, 2);
    assert_eq!(
        plan.folders_to_recreate(),
        [&FolderName::new("Sent").unwrap()]
    );
    assert_eq!(listing(&maildir), before, "a dry run writes nothing");

    // Unsubscribed since: the plan would subscribe Archive/2024 again.
    fs::write(maildir.root.join("subscriptions"), "V\t2\n\n").unwrap();
    let plan = repo
        .repo
        .restore_plan(
            &alice(),
            day("2026-11-20"),
            &RestoreScope::Account,
            &maildir.source(),
        )
        .unwrap();
    let resubscribe: Vec<&str> = plan
        .folders
        .iter()
        .filter(|f| f.resubscribe)
        .map(|f| f.folder.as_str())
        .collect();
    assert_eq!(resubscribe, ["Archive/2024", "Sent"]);

    // Scopes.
    let only_lost = RestoreScope::Messages {
        messages: vec![MessageId::of(&lost)],
    };
    let plan = repo
        .repo
        .restore_plan(&alice(), day("2026-11-20"), &only_lost, &maildir.source())
        .unwrap();
    assert_eq!(
        (plan.folders.len(), plan.messages, plan.bytes),
        (1, 1, lost.len() as u64)
    );
    let inbox_only = RestoreScope::Folders {
        folders: vec![FolderName::inbox()],
    };
    let plan = repo
        .repo
        .restore_plan(&alice(), day("2026-11-20"), &inbox_only, &maildir.source())
        .unwrap();
    assert_eq!((plan.folders.len(), plan.messages), (1, 1));
}

#[test]
fn unknown_days_folders_and_messages_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut maildir = Maildir::create(dir.path().join("alice"));
    maildir.deliver(
        "INBOX",
        &message("a@x", "alice@example.com", "A", "a"),
        "",
        1_790_000_000,
    );
    let repo = TestRepo::new();
    repo.snapshot("alice@example.com", &maildir, "2026-11-20");
    let source = maildir.source();
    let plan = |day_text: &str, scope: RestoreScope| {
        repo.repo
            .restore_plan(&alice(), day(day_text), &scope, &source)
            .unwrap_err()
            .kind()
    };
    assert_eq!(
        plan("2026-11-19", RestoreScope::Account),
        ErrorKind::NotFound
    );
    let folders = RestoreScope::Folders {
        folders: vec![FolderName::new("Nope").unwrap()],
    };
    assert_eq!(plan("2026-11-20", folders), ErrorKind::NotFound);
    let messages = RestoreScope::Messages {
        messages: vec![MessageId::of(b"never delivered")],
    };
    assert_eq!(plan("2026-11-20", messages), ErrorKind::NotFound);
    let bob = AccountId::new("bob@example.com").unwrap();
    let err = repo
        .repo
        .restore_plan(&bob, day("2026-11-20"), &RestoreScope::Account, &source)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// Every path under `root`, relative, with its size for files.
fn walk(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if entry.file_type().unwrap().is_dir() {
                out.push(format!("{rel}/"));
                stack.push(path);
            } else {
                out.push(format!("{rel} {}", entry.metadata().unwrap().len()));
            }
        }
    }
    out
}
