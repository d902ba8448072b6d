//! Class 10 (availability): one damaged restore journal, one flipped byte in the last entry
//! of one account's request, made `requests`, `queue`, `expire_overdue` and
//! `deliver_pending` fail for every account. Each of them now goes on past it and lists it
//! as damaged, by name; a call on that request alone is an integrity error naming it, and
//! `verify` names it too.

use std::path::Path;
use std::sync::{Arc, Mutex};

use mtm_core::{
    AccountId, Actor, ErrorKind, FixedClock, MaildirRoot, Notification, NotificationKind, Notifier,
    Recipient, RequestId, RequestState, RestoreDesk, RestoreScope, RestoreSettings, VerifyOptions,
};
use mtm_tests::hostile::{chown_tree, mail_owner};
use mtm_tests::{Maildir, TestRepo, day, message};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

fn account(name: &str) -> AccountId {
    AccountId::new(name).unwrap()
}

fn at(text: &str) -> FixedClock {
    FixedClock::parse(text).unwrap()
}

fn carol() -> Actor {
    Actor::admin("carol").unwrap()
}

#[derive(Debug, Default)]
struct Outbox(Mutex<Vec<Notification>>);

impl Notifier for Outbox {
    fn notify(&self, n: &Notification) -> mtm_core::Result<()> {
        self.0.lock().unwrap().push(n.clone());
        Ok(())
    }
}

/// Flips one byte in the middle of the last entry of a journal directory (as damage on
/// disk would).
fn damage_last_entry(journal: &Path) {
    let mut entries: Vec<_> = std::fs::read_dir(journal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let last = entries.last().unwrap();
    let mut data = std::fs::read(last).unwrap();
    let middle = data.len() / 2;
    data[middle] ^= 0x10;
    std::fs::remove_file(last).unwrap();
    std::fs::write(last, data).unwrap();
}

#[test]
fn class10_a_damaged_restore_journal_is_reported_by_name_and_stops_no_other_request() {
    let t = TestRepo::new();
    let root = t.dir.path().join("mail");
    let mut alice = Maildir::create(root.join(ALICE));
    let mut bob = Maildir::create(root.join(BOB));
    alice.deliver(
        "INBOX",
        &message("a@example.org", ALICE, "For Alice", "a"),
        "",
        1_763_000_000,
    );
    bob.deliver(
        "INBOX",
        &message("b@example.org", BOB, "For Bob", "b"),
        "",
        1_763_000_000,
    );
    if let Some(owner) = mail_owner() {
        chown_tree(&root, owner);
    }
    t.snapshot(ALICE, &alice, "2026-11-10");
    t.snapshot(BOB, &bob, "2026-11-10");
    // No notifier yet: the notifications stay pending for `deliver_pending`.
    let desk = RestoreDesk::new(
        t.repo.clone(),
        MaildirRoot::new(&root),
        RestoreSettings::default(),
    );
    let asked = at("2026-11-12T09:00:00Z");
    for name in [ALICE, BOB] {
        let user = Actor::User(account(name));
        desk.request(
            &user,
            &account(name),
            day("2026-11-10"),
            RestoreScope::Account,
            &asked,
        )
        .unwrap();
    }
    damage_last_entry(&t.path().join("restores").join(ALICE).join("000001"));
    let alice_1 = RequestId::new(account(ALICE), 1).unwrap();
    let bob_1 = RequestId::new(account(BOB), 1).unwrap();
    let names_alice =
        |text: &str| text.contains("alice@example.com/1") && text.contains("0001.json");

    // Listing: Bob's request is listed, Alice's is reported as damaged, by name.
    let listed = desk
        .requests(&carol(), None)
        .expect("one damaged journal must not stop the list");
    let ids: Vec<&RequestId> = listed.items.iter().map(|r| &r.id).collect();
    assert_eq!(ids, [&bob_1]);
    assert_eq!(listed.damaged.len(), 1, "{:?}", listed.damaged);
    assert_eq!(listed.damaged[0].id, alice_1);
    assert!(
        names_alice(&listed.damaged[0].to_string()),
        "{}",
        listed.damaged[0]
    );
    // Alice herself sees that her request cannot be read.
    let own = desk.requests(&Actor::User(account(ALICE)), None).unwrap();
    assert!(own.items.is_empty());
    assert_eq!(own.damaged[0].id, alice_1);

    // The queue: Bob's request waits; Alice's may be waiting too, and is reported.
    let queue = desk.queue(&carol(), &at("2026-11-12T10:00:00Z")).unwrap();
    let queued: Vec<&RequestId> = queue.items.iter().map(|q| &q.request.id).collect();
    assert_eq!(queued, [&bob_1]);
    assert_eq!(
        queue.damaged.iter().map(|d| &d.id).collect::<Vec<_>>(),
        [&alice_1]
    );

    // A call on the damaged request alone is an integrity error naming it.
    let err = desk.get(&carol(), &alice_1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(names_alice(&err.to_string()), "{err}");

    // At the deadline Bob's request expires; Alice's is reported, not silently skipped.
    let expired = desk.expire_overdue(&at("2026-11-25T00:00:00Z")).unwrap();
    assert_eq!(expired.items.len(), 1);
    assert_eq!(expired.items[0].request.id, bob_1);
    assert_eq!(expired.items[0].request.state, RequestState::Expired);
    assert_eq!(
        expired.damaged.iter().map(|d| &d.id).collect::<Vec<_>>(),
        [&alice_1]
    );

    // With a notifier, the pending notifications of Bob's request go out.
    let outbox = Arc::new(Outbox::default());
    let desk = desk.with_notifier(outbox.clone());
    let delivered = desk.deliver_pending(&at("2026-11-25T01:00:00Z")).unwrap();
    assert!(delivered.items.is_empty(), "{:?}", delivered.items);
    assert_eq!(
        delivered.damaged.iter().map(|d| &d.id).collect::<Vec<_>>(),
        [&alice_1]
    );
    let sent: Vec<(NotificationKind, Recipient, RequestId)> = outbox
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|n| (n.kind, n.recipient.clone(), n.request.id.clone()))
        .collect();
    assert_eq!(
        sent,
        [
            (
                NotificationKind::NewRequest,
                Recipient::Admins,
                bob_1.clone()
            ),
            (
                NotificationKind::Expired,
                Recipient::User(account(BOB)),
                bob_1.clone()
            ),
        ]
    );

    // `verify` names the same request.
    let report = t.repo.verify(&VerifyOptions::default()).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.location == format!("restore request {alice_1}")),
        "{:?}",
        report.problems
    );
}

/// Alice's request to restore 2026-11-10, in a repository with her snapshot of that day.
fn alices_request(t: &TestRepo) -> (RestoreDesk, RequestId) {
    let root = t.dir.path().join("mail");
    let mut alice = Maildir::create(root.join(ALICE));
    alice.deliver(
        "INBOX",
        &message("a@example.org", ALICE, "For Alice", "a"),
        "",
        1_763_000_000,
    );
    if let Some(owner) = mail_owner() {
        chown_tree(&root, owner);
    }
    t.snapshot(ALICE, &alice, "2026-11-10");
    let desk = RestoreDesk::new(
        t.repo.clone(),
        MaildirRoot::new(&root),
        RestoreSettings::default(),
    );
    let request = desk
        .request(
            &Actor::User(account(ALICE)),
            &account(ALICE),
            day("2026-11-10"),
            RestoreScope::Account,
            &at("2026-11-12T09:00:00Z"),
        )
        .unwrap();
    (desk, request.request.id)
}

#[test]
fn class10_a_journal_entry_one_flipped_bit_damaged_is_mended_by_a_recovery_from_its_seal() {
    let t = TestRepo::new();
    let (desk, alice_1) = alices_request(&t);
    let entry = t.path().join("restores").join(ALICE).join("000001");
    let original = std::fs::read(entry.join("0001.json")).unwrap();
    damage_last_entry(&entry);
    assert!(desk.get(&carol(), &alice_1).is_err());

    let plan = t.repo.recovery_plan(&[]).unwrap();
    assert!(plan.unrepairable.is_empty(), "{plan:#?}");
    assert_eq!(plan.journal_entries.len(), 1, "{plan:#?}");
    let said = plan.journal_entries[0].describe();
    assert!(
        said.contains("restore request alice@example.com/1")
            && said.contains("its seal proves the original"),
        "{said}"
    );
    let report = t.repo.recover(&plan, &at("2026-11-12T10:00:00Z")).unwrap();
    assert_eq!(report.journal_entries_mended, 1);
    assert_eq!(std::fs::read(entry.join("0001.json")).unwrap(), original);
    let kept = t
        .path()
        .join("damaged/restores")
        .join(ALICE)
        .join("000001/0001.json");
    assert_ne!(
        std::fs::read(kept).unwrap(),
        original,
        "the damaged bytes are kept"
    );

    let request = desk.get(&carol(), &alice_1).unwrap();
    assert_eq!(request.request.state, RequestState::Requested);
    assert!(desk.requests(&carol(), None).unwrap().damaged.is_empty());
    let verified = t.repo.verify(&VerifyOptions::default()).unwrap();
    assert!(verified.is_ok(), "{:?}", verified.problems);
    assert!(t.repo.recovery_plan(&[]).unwrap().is_empty());
}

#[test]
fn class10_a_journal_no_seal_can_mend_is_named_and_left_as_it_is() {
    let t = TestRepo::new();
    let (desk, alice_1) = alices_request(&t);
    let entry = t
        .path()
        .join("restores")
        .join(ALICE)
        .join("000001/0001.json");
    let mut data = std::fs::read(&entry).unwrap();
    let middle = data.len() / 2;
    data[middle..middle + 16].fill(b'0');
    std::fs::remove_file(&entry).unwrap();
    std::fs::write(&entry, &data).unwrap();

    let plan = t.repo.recovery_plan(&[]).unwrap();
    assert!(plan.journal_entries.is_empty(), "{plan:#?}");
    assert_eq!(plan.unrepairable.len(), 1, "{plan:#?}");
    assert_eq!(
        plan.unrepairable[0].location,
        format!("restore request {alice_1}")
    );
    t.repo.recover(&plan, &at("2026-11-12T10:00:00Z")).unwrap();
    assert_eq!(std::fs::read(&entry).unwrap(), data, "left as it is");
    assert!(desk.get(&carol(), &alice_1).is_err());
}

#[test]
fn a_recovery_interrupted_while_it_replaced_a_journal_entry_is_completed_by_the_next() {
    let t = TestRepo::new();
    let (desk, alice_1) = alices_request(&t);
    let key = format!("restores/{ALICE}/000001/0001.json");
    let entry = t.path().join(&key);
    let original = std::fs::read(&entry).unwrap();
    // As a crash leaves it: the original kept aside, the damaged entry deleted, the
    // original not yet written back (the journal would read as one entry shorter).
    let kept = t.path().join(format!("damaged/{key}.original"));
    std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
    std::fs::write(&kept, &original).unwrap();
    std::fs::remove_file(&entry).unwrap();

    let plan = t.repo.recovery_plan(&[]).unwrap();
    assert_eq!(plan.journal_entries.len(), 1, "{plan:#?}");
    assert_eq!(plan.journal_entries[0].moved_to, None);
    assert_eq!(plan.journal_entries[0].key, key);
    t.repo.recover(&plan, &at("2026-11-12T10:00:00Z")).unwrap();
    assert_eq!(std::fs::read(&entry).unwrap(), original);
    assert!(!kept.exists());
    assert!(desk.get(&carol(), &alice_1).is_ok());
    assert!(t.repo.recovery_plan(&[]).unwrap().is_empty());
}
