//! A model-based property test: random sequences of mail arriving, changing flags, moving
//! between folders and leaving, snapshots, days passing, prunes and garbage collections,
//! checked after every step against a plain model of what each retained snapshot must
//! contain. Folder stamps are trusted however recent (the mailbox's next change comes a
//! clock tick after each snapshot), so snapshots pass over the folders that did not change.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mtm_core::{AccountId, FixedClock, FolderName, MessageQuery, SnapshotOptions};
use mtm_tests::{Maildir, TestRepo, message};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    /// A new message for account 0 or 1, in folder 0 or 1.
    Deliver(usize, usize, u16),
    /// The n-th (modulo) present message of an account is deleted.
    Delete(usize, usize),
    /// The n-th (modulo) present message of an account is marked seen, or unseen.
    Flag(usize, usize),
    /// The n-th (modulo) present message of an account moves to the other folder.
    Move(usize, usize),
    /// Every account is snapshotted today.
    Snapshot,
    /// Midnight passes.
    NextDay,
    /// Snapshots older than the window (3 days) are pruned.
    Prune,
    /// Garbage is collected (repacking eagerly, to exercise it).
    Gc,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..2usize, 0..2usize, any::<u16>()).prop_map(|(a, f, n)| Step::Deliver(a, f, n)),
        2 => (0..2usize, any::<usize>()).prop_map(|(a, n)| Step::Delete(a, n)),
        1 => (0..2usize, any::<usize>()).prop_map(|(a, n)| Step::Flag(a, n)),
        1 => (0..2usize, any::<usize>()).prop_map(|(a, n)| Step::Move(a, n)),
        2 => Just(Step::Snapshot),
        2 => Just(Step::NextDay),
        1 => Just(Step::Prune),
        1 => Just(Step::Gc),
    ]
}

const ACCOUNTS: [&str; 2] = ["alice@example.com", "bob@example.com"];
const FOLDERS: [&str; 2] = ["INBOX", "Archive"];

/// A message as the model knows it: its file, folder and bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    folder: usize,
    name: String,
    raw: Vec<u8>,
}

impl Held {
    fn new(folder: usize, path: &std::path::Path, raw: Vec<u8>) -> Held {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        Held { folder, name, raw }
    }
}
const KEEP_DAYS: u32 = 3;

fn date(day: u32) -> String {
    format!("2026-11-{:02}", day + 1)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn every_retained_snapshot_always_reads_back_exactly(steps in prop::collection::vec(step(), 1..40)) {
        mtm_core::testing::trust_recent_folder_stamps_on_this_thread(true);
        let t = TestRepo::with_options(mtm_core::RepositoryOptions { retention_days: KEEP_DAYS, ..Default::default() });
        let mut maildirs: Vec<Maildir> = ACCOUNTS.iter().map(|a| Maildir::create(t.dir.path().join(a))).collect();
        for maildir in &mut maildirs {
            maildir.add_folder(FOLDERS[1], true);
        }
        // The model: what each account holds now, and what each snapshot holds.
        let mut live: Vec<Vec<(PathBuf, Held)>> = vec![Vec::new(), Vec::new()];
        let mut snapshots: BTreeMap<(usize, u32), Vec<Held>> = BTreeMap::new();
        let mut today = 0u32;
        let mut serial = 0i64;
        for step in steps {
            match step {
                Step::Deliver(a, f, n) => {
                    serial += 1;
                    // Some messages repeat across accounts and days, as list mail does.
                    let raw = message("s@example.org", ACCOUNTS[a], &format!("M{}", n % 50), &"body ".repeat(usize::from(n % 40)));
                    let path = maildirs[a].deliver(FOLDERS[f], &raw, "", 1_790_000_000 + serial);
                    let held = Held::new(f, &path, raw);
                    live[a].push((path, held));
                }
                Step::Delete(a, n) => {
                    if !live[a].is_empty() {
                        let at = n % live[a].len();
                        let (path, _) = live[a].remove(at);
                        std::fs::remove_file(path).unwrap();
                    }
                }
                Step::Flag(a, n) => {
                    if !live[a].is_empty() {
                        let at = n % live[a].len();
                        let (path, held) = &mut live[a][at];
                        let flags = if held.name.ends_with(":2,") { "S" } else { "" };
                        *path = maildirs[a].set_flags(path, flags);
                        *held = Held::new(held.folder, path, held.raw.clone());
                    }
                }
                Step::Move(a, n) => {
                    if !live[a].is_empty() {
                        let at = n % live[a].len();
                        let (path, held) = &mut live[a][at];
                        let to = 1 - held.folder;
                        *path = maildirs[a].move_to(path, FOLDERS[to]);
                        *held = Held::new(to, path, held.raw.clone());
                    }
                }
                Step::Snapshot => {
                    for (a, account) in ACCOUNTS.iter().enumerate() {
                        let clock = FixedClock::parse(&format!("{}T00:00:30Z", date(today))).unwrap();
                        let result = t.repo.snapshot(&AccountId::new(*account).unwrap(), &maildirs[a].source(), &clock, &SnapshotOptions::default());
                        match snapshots.entry((a, today)) {
                            std::collections::btree_map::Entry::Vacant(slot) => {
                                result.unwrap();
                                let mut held: Vec<Held> = live[a].iter().map(|(_, h)| h.clone()).collect();
                                held.sort();
                                slot.insert(held);
                            }
                            std::collections::btree_map::Entry::Occupied(_) => {
                                prop_assert_eq!(result.unwrap_err().kind(), mtm_core::ErrorKind::AlreadyExists);
                            }
                        }
                    }
                    // The mailboxes' next changes come at least a clock tick after the scans.
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Step::NextDay => today += 1,
                Step::Gc => {
                    t.repo.gc(&mtm_core::GcOptions { repack_below: 0.9, ..Default::default() }).unwrap();
                }
                Step::Prune => {
                    let clock = FixedClock::parse(&format!("{}T12:00:00Z", date(today))).unwrap();
                    let plan = t.repo.prune_plan(&clock, None).unwrap();
                    t.repo.prune(&plan, &clock).unwrap();
                    snapshots.retain(|(_, day), _| *day + KEEP_DAYS > today);
                }
            }
            // After every step: exactly the model's snapshots exist, and read back exactly.
            for (a, account) in ACCOUNTS.iter().enumerate() {
                let expected_days: Vec<String> = snapshots.keys().filter(|(x, _)| *x == a).map(|(_, d)| date(*d)).collect();
                let view = t.repo.account(&AccountId::new(*account).unwrap());
                let days: Vec<String> = match &view {
                    Ok(view) => view.days().unwrap().iter().map(ToString::to_string).collect(),
                    Err(e) => { prop_assert_eq!(e.kind(), mtm_core::ErrorKind::NotFound); Vec::new() }
                };
                prop_assert_eq!(&days, &expected_days);
                for ((_, day), expected) in snapshots.iter().filter(|((x, _), _)| *x == a) {
                    let view = view.as_ref().unwrap();
                    let d = mtm_tests::day(&date(*day));
                    let mut found = Vec::new();
                    for (f, folder) in FOLDERS.iter().enumerate() {
                        let folder = FolderName::new(*folder).unwrap();
                        let page = view.messages(d, &folder, &MessageQuery::default().page(1, 1000)).unwrap();
                        for m in page.messages {
                            let raw = view.raw(d, &m.id).unwrap();
                            found.push(Held { folder: f, name: m.file_name, raw });
                        }
                    }
                    found.sort();
                    prop_assert_eq!(&found, expected);
                }
            }
        }
    }
}
