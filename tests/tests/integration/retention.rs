//! Retention: planned, then carried out; nothing retained is lost.

use mtm_core::{AccountId, FixedClock, MessageId, MessageQuery};
use mtm_tests::{Maildir, TestRepo, day, message};

/// `days` daily snapshots of two accounts; each day one new message arrives and the oldest
/// one is deleted.
fn twenty_days(t: &TestRepo) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for account in ["alice@example.com", "bob@example.com"] {
        let mut m = Maildir::create(t.dir.path().join(account));
        let mut delivered = Vec::new();
        for d in 1..=20u32 {
            let raw = message(
                "s@example.org",
                account,
                &format!("Day {d} for {account}"),
                &"x".repeat(500 + d as usize),
            );
            delivered.push(m.deliver("INBOX", &raw, "", 1_790_000_000 + i64::from(d) * 86_400));
            all.push(raw);
            if d > 3 {
                std::fs::remove_file(delivered.remove(0)).unwrap();
            }
            t.snapshot(account, &m, &format!("2026-11-{d:02}"));
        }
    }
    all
}

#[test]
fn prune_keeps_fifteen_days_and_reports_what_gc_can_reclaim() {
    let t = TestRepo::new();
    let mail = twenty_days(&t);
    let clock = FixedClock::parse("2026-11-20T12:00:00Z").unwrap();
    let plan = t.repo.prune_plan(&clock, None).unwrap();
    assert_eq!(plan.keep_from, day("2026-11-06"));
    assert_eq!(plan.expired.len(), 10); // days 1-5 of both accounts
    assert_eq!(plan.kept, 30);
    assert!(
        plan.reclaimable_blobs > 0 && plan.reclaimable_bytes > 0,
        "{plan:?}"
    );
    // Planning changes nothing.
    let alice = AccountId::new("alice@example.com").unwrap();
    assert_eq!(t.repo.account(&alice).unwrap().days().unwrap().len(), 20);

    let report = t.repo.prune(&plan, &clock).unwrap();
    assert_eq!(report.removed, 10);
    let view = t.repo.account(&alice).unwrap();
    let days = view.days().unwrap();
    assert_eq!((days.len(), days[0]), (15, day("2026-11-06")));
    // Every message of every retained snapshot still reads back byte for byte.
    for d in days {
        let page = view
            .messages(d, &mtm_core::FolderName::inbox(), &MessageQuery::default())
            .unwrap();
        for m in page.messages {
            let raw = view.raw(d, &m.id).unwrap();
            assert!(mail.iter().any(|x| MessageId::of(x) == m.id && *x == raw));
        }
    }
    // Running it again removes nothing more.
    let again = t.repo.prune_plan(&clock, None).unwrap();
    assert!(again.expired.is_empty());
    assert_eq!(t.repo.prune(&plan, &clock).unwrap().removed, 0);
    assert!(
        t.repo
            .verify(&mtm_core::VerifyOptions::default())
            .unwrap()
            .is_ok()
    );
}

#[test]
fn pruning_one_account_leaves_the_others_alone() {
    let t = TestRepo::new();
    twenty_days(&t);
    let clock = FixedClock::parse("2026-11-20T12:00:00Z").unwrap();
    let bob = AccountId::new("bob@example.com").unwrap();
    let plan = t.repo.prune_plan(&clock, Some(&bob)).unwrap();
    assert!(plan.expired.iter().all(|s| s.account == bob));
    t.repo.prune(&plan, &clock).unwrap();
    assert_eq!(t.repo.account(&bob).unwrap().days().unwrap().len(), 15);
    let alice = AccountId::new("alice@example.com").unwrap();
    assert_eq!(t.repo.account(&alice).unwrap().days().unwrap().len(), 20);
}

#[test]
fn a_plan_carried_out_later_still_prunes_what_has_expired_meanwhile_too() {
    let t = TestRepo::new();
    twenty_days(&t);
    let planned = FixedClock::parse("2026-11-20T12:00:00Z").unwrap();
    let plan = t.repo.prune_plan(&planned, None).unwrap();
    // A day later every snapshot the plan names is still past the window: it is carried out.
    let later = FixedClock::parse("2026-11-21T12:00:00Z").unwrap();
    assert_eq!(t.repo.prune(&plan, &later).unwrap().removed, 10);
    // Carried out a day before it was made, it names snapshots still in the window.
    let plan = t.repo.prune_plan(&later, None).unwrap();
    assert_eq!(plan.expired.len(), 2);
    let err = t.repo.prune(&plan, &planned).unwrap_err();
    assert_eq!(err.kind(), mtm_core::ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("2026-11-06"), "{err}");
    let alice = AccountId::new("alice@example.com").unwrap();
    assert_eq!(t.repo.account(&alice).unwrap().days().unwrap().len(), 15);
}
