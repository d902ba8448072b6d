//! The classic workload is pinned: the same seed writes the same tree as when its figures
//! were first published, so old and new classic figures stay comparable. A change to the
//! classic generator (or to the day steps) fails here; change the pinned digest only on
//! purpose, and say so in the README.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;

use mtm_benches::workload::{self, CopyMode, DayMode, WorkloadConfig};

/// BLAKE3 over (relative path, content digest, mtime of message files) of everything under
/// `root`, sorted.
fn tree_digest(root: &Path) -> String {
    let mut entries = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if entry.file_type().unwrap().is_dir() {
                entries.push(format!("{rel}/"));
                stack.push(path);
            } else {
                // Message files carry the received date; markers and subscriptions do not.
                let in_maildir = path
                    .parent()
                    .and_then(|p| p.file_name())
                    .is_some_and(|n| n == "cur" || n == "new");
                let meta = entry.metadata().unwrap();
                let mtime = if in_maildir {
                    filetime::FileTime::from_last_modification_time(&meta).unix_seconds()
                } else {
                    0
                };
                let hash = blake3::hash(&fs::read(&path).unwrap());
                entries.push(format!("{rel} {hash} {mtime}"));
            }
        }
    }
    entries.sort();
    blake3::hash(entries.join("\n").as_bytes())
        .to_hex()
        .to_string()
}

fn classic(copies: CopyMode) -> WorkloadConfig {
    WorkloadConfig {
        accounts: 4,
        messages_per_account: 120,
        seed: 11,
        copies,
    }
}

#[test]
fn classic_workload_is_unchanged() {
    let mut digests = Vec::new();
    for (copies, mode) in [
        (CopyMode::PerRecipientHeaders, DayMode::Growing),
        (CopyMode::Identical, DayMode::Balanced),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let c = classic(copies);
        workload::generate(dir.path(), &c).unwrap();
        for day in 1..=2 {
            workload::day_step_with(dir.path(), &c, day, mode).unwrap();
        }
        digests.push(tree_digest(dir.path()));
    }
    assert_eq!(
        digests,
        [
            "2979b12ba51c7a93bc3120b8688d0d495e985816ea771284119c3ac0c54dbb6e",
            "b6dd20bcdd8365649bdc08f09a7a1ef3f3bd68f5df60baf045e2681276710575",
        ]
    );
}
