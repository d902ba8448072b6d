//! Property tests: any mailbox round-trips byte-exact, identical content is stored once, and
//! an incremental snapshot equals a full one.

use std::collections::BTreeMap;

use mtm_core::{AccountId, AccountView, FolderName, MessageId, MessageQuery};
use mtm_tests::{Maildir, TestRepo, day};
use proptest::prelude::*;

const FOLDERS: [&str; 4] = ["INBOX", "Sent", "Archive", "Archive/2024"];

fn mailbox() -> impl Strategy<Value = Vec<(usize, Vec<u8>, String)>> {
    let raw = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        ("[a-zA-Z ]{0,40}", "[ -~\n]{0,400}").prop_map(|(s, b)| format!("Subject: {s}\nFrom: x@y.z\n\n{b}").into_bytes()),
    ];
    proptest::collection::vec((0..FOLDERS.len(), raw, "[DFPRST]{0,3}"), 0..25)
}

fn build(t: &TestRepo, name: &str, msgs: &[(usize, Vec<u8>, String)]) -> Maildir {
    let mut m = Maildir::create(t.dir.path().join(name));
    for f in &FOLDERS[1..] {
        m.add_folder(f, true);
    }
    for (i, (folder, raw, flags)) in msgs.iter().enumerate() {
        let mut letters: Vec<char> = flags.chars().collect();
        letters.sort_unstable();
        letters.dedup();
        m.deliver(FOLDERS[*folder], raw, &letters.into_iter().collect::<String>(), 1_790_000_000 + i as i64);
    }
    m
}

/// Everything a user can see of one day, keyed by folder.
fn picture(v: &AccountView, d: &str) -> BTreeMap<String, Vec<(String, String, String, u64)>> {
    let d = day(d);
    v.folders(d)
        .unwrap()
        .into_iter()
        .map(|f| {
            let page = v.messages(d, &f.name, &MessageQuery::default().page(1, 10_000)).unwrap();
            let mut rows: Vec<_> = page
                .messages
                .into_iter()
                .map(|m| (m.file_name, m.id.to_hex(), format!("{}|{:?}", m.flags, m.summary), m.size))
                .collect();
            rows.sort();
            (f.name.to_string(), rows)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_message_reads_back_byte_exact(msgs in mailbox()) {
        let t = TestRepo::new();
        let m = build(&t, "alice", &msgs);
        let report = t.snapshot("alice@example.com", &m, "2026-11-20");
        prop_assert_eq!(report.messages, msgs.len() as u64);
        let v = t.repo.account(&AccountId::new("alice@example.com").unwrap()).unwrap();
        for (folder, raw, _) in &msgs {
            let id = MessageId::of(raw);
            prop_assert_eq!(&v.raw(day("2026-11-20"), &id).unwrap(), raw);
            let page = v.messages(day("2026-11-20"), &FolderName::new(FOLDERS[*folder]).unwrap(), &MessageQuery::default().page(1, 1000)).unwrap();
            prop_assert!(page.messages.iter().any(|m| m.id == id));
        }
    }

    #[test]
    fn identical_content_is_stored_once(msgs in mailbox()) {
        let t = TestRepo::new();
        let a = build(&t, "a", &msgs);
        t.snapshot("a@example.com", &a, "2026-11-20");
        let blobs_after_a = t.repo.stats().unwrap().blobs;
        let b = build(&t, "b", &msgs);
        let report = t.snapshot("b@example.com", &b, "2026-11-20");
        // The second account adds no message bytes: at most its own manifests and catalog.
        let new_blobs = t.repo.stats().unwrap().blobs - blobs_after_a;
        prop_assert!(new_blobs <= FOLDERS.len() as u64 + 1, "{} new blobs", new_blobs);
        prop_assert_eq!(report.stored_blobs, new_blobs);
    }

    #[test]
    fn an_incremental_snapshot_equals_a_full_one(first in mailbox(), later in mailbox(), drop_every in 2usize..5) {
        let incremental = TestRepo::new();
        let mut m = build(&incremental, "alice", &first);
        incremental.snapshot("alice@example.com", &m, "2026-11-20");
        // Day 2: delete some, re-flag some, deliver new mail.
        let mut files: Vec<_> = FOLDERS.iter().flat_map(|f| std::fs::read_dir(m.folder_dir(f).join("cur")).unwrap()).map(|e| e.unwrap().path()).collect();
        files.sort();
        for (i, path) in files.iter().enumerate() {
            if i % drop_every == 0 { std::fs::remove_file(path).unwrap(); } else if i % 3 == 0 { m.set_flags(path, "FS"); }
        }
        for (folder, raw, _) in &later {
            m.deliver(FOLDERS[*folder], raw, "", 1_790_500_000);
        }
        incremental.snapshot("alice@example.com", &m, "2026-11-21");
        let full = TestRepo::new();
        full.snapshot("alice@example.com", &m, "2026-11-21");
        let account = AccountId::new("alice@example.com").unwrap();
        let a = picture(&incremental.repo.account(&account).unwrap(), "2026-11-21");
        let b = picture(&full.repo.account(&account).unwrap(), "2026-11-21");
        prop_assert_eq!(a, b);
    }
}
