//! A model-based property test: random sequences of mail arriving and leaving, snapshots,
//! days passing, prunes and garbage collections, checked after every step against a plain model of what each
//! retained snapshot must contain.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mtm_core::{AccountId, FixedClock, FolderName, MessageId, MessageQuery, SnapshotOptions};
use mtm_tests::{Maildir, TestRepo, message};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    /// A new message for account 0 or 1.
    Deliver(usize, u16),
    /// The n-th (modulo) present message of an account is deleted.
    Delete(usize, usize),
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
        4 => (0..2usize, any::<u16>()).prop_map(|(a, n)| Step::Deliver(a, n)),
        2 => (0..2usize, any::<usize>()).prop_map(|(a, n)| Step::Delete(a, n)),
        2 => Just(Step::Snapshot),
        2 => Just(Step::NextDay),
        1 => Just(Step::Prune),
        1 => Just(Step::Gc),
    ]
}

const ACCOUNTS: [&str; 2] = ["alice@example.com", "bob@example.com"];
const KEEP_DAYS: u32 = 3;

fn date(day: u32) -> String {
    format!("2026-11-{:02}", day + 1)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn every_retained_snapshot_always_reads_back_exactly(steps in prop::collection::vec(step(), 1..40)) {
        let t = TestRepo::with_options(mtm_core::RepositoryOptions { retention_days: KEEP_DAYS, ..Default::default() });
        let mut maildirs: Vec<Maildir> = ACCOUNTS.iter().map(|a| Maildir::create(t.dir.path().join(a))).collect();
        // The model: what each account holds now, and what each snapshot holds.
        let mut live: Vec<Vec<(PathBuf, Vec<u8>)>> = vec![Vec::new(), Vec::new()];
        let mut snapshots: BTreeMap<(usize, u32), Vec<Vec<u8>>> = BTreeMap::new();
        let mut today = 0u32;
        let mut serial = 0i64;
        for step in steps {
            match step {
                Step::Deliver(a, n) => {
                    serial += 1;
                    // Some messages repeat across accounts and days, as list mail does.
                    let raw = message("s@example.org", ACCOUNTS[a], &format!("M{}", n % 50), &"body ".repeat(usize::from(n % 40)));
                    let path = maildirs[a].deliver("INBOX", &raw, "", 1_790_000_000 + serial);
                    live[a].push((path, raw));
                }
                Step::Delete(a, n) => {
                    if !live[a].is_empty() {
                        let at = n % live[a].len();
                        let (path, _) = live[a].remove(at);
                        std::fs::remove_file(path).unwrap();
                    }
                }
                Step::Snapshot => {
                    for (a, account) in ACCOUNTS.iter().enumerate() {
                        let clock = FixedClock::parse(&format!("{}T00:00:30Z", date(today))).unwrap();
                        let result = t.repo.snapshot(&AccountId::new(*account).unwrap(), &maildirs[a].source(), &clock, &SnapshotOptions::default());
                        match snapshots.entry((a, today)) {
                            std::collections::btree_map::Entry::Vacant(slot) => {
                                result.unwrap();
                                slot.insert(live[a].iter().map(|(_, raw)| raw.clone()).collect());
                            }
                            std::collections::btree_map::Entry::Occupied(_) => {
                                prop_assert_eq!(result.unwrap_err().kind(), mtm_core::ErrorKind::AlreadyExists);
                            }
                        }
                    }
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
                for ((_, day), raws) in snapshots.iter().filter(|((x, _), _)| *x == a) {
                    let view = view.as_ref().unwrap();
                    let d = mtm_tests::day(&date(*day));
                    let page = view.messages(d, &FolderName::inbox(), &MessageQuery::default().page(1, 1000)).unwrap();
                    prop_assert_eq!(page.total as usize, raws.len());
                    for raw in raws {
                        prop_assert_eq!(&view.raw(d, &MessageId::of(raw)).unwrap(), raw);
                    }
                }
            }
        }
    }
}
