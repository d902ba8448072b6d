//! The restore workflow: request, decision, billing, notifications, the run, the prune pin,
//! races and resumption, through `RestoreDesk` on a real repository and real Maildirs.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mtm_core::{
    AccountId, Actor, AuditEvent, BillingRecord, BillingSink, Error, ErrorKind, FixedClock,
    MaildirRoot, Notification, NotificationKind, Notifier, Pricing, Recipient, Repository,
    RequestState, RestoreDesk, RestoreScope, RestoreSettings,
};
use mtm_tests::{Maildir, TestRepo, day, message};

const ALICE: &str = "alice@example.com";

fn alice() -> AccountId {
    AccountId::new(ALICE).unwrap()
}

fn admin(name: &str) -> Actor {
    Actor::admin(name).unwrap()
}

fn at(text: &str) -> FixedClock {
    FixedClock::parse(text).unwrap()
}

/// Every notification handed over, in order; fails while `failing` is set.
#[derive(Debug, Default)]
struct RecordingNotifier {
    sent: Mutex<Vec<Notification>>,
    failing: Mutex<bool>,
}

impl Notifier for RecordingNotifier {
    fn notify(&self, notification: &Notification) -> mtm_core::Result<()> {
        if *self.failing.lock().unwrap() {
            return Err(Error::Source {
                path: PathBuf::from("smtp://127.0.0.1:1"),
                reason: "connection refused".into(),
            });
        }
        self.sent.lock().unwrap().push(notification.clone());
        Ok(())
    }
}

impl RecordingNotifier {
    fn kinds(&self) -> Vec<(NotificationKind, Recipient)> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|n| (n.kind, n.recipient.clone()))
            .collect()
    }
}

/// Every bill handed over; fails while `failing` is set.
#[derive(Debug, Default)]
struct RecordingBilling {
    bills: Mutex<Vec<BillingRecord>>,
    failing: Mutex<bool>,
}

impl BillingSink for RecordingBilling {
    fn bill(&self, record: &BillingRecord) -> mtm_core::Result<()> {
        if *self.failing.lock().unwrap() {
            return Err(Error::Busy {
                reason: "billing system down".into(),
            });
        }
        self.bills.lock().unwrap().push(record.clone());
        Ok(())
    }
}

/// Alice's Maildir under a root of accounts, snapshotted on 2026-11-10 with three messages
/// in INBOX and one in Projects; then the contract and the whole Projects folder are lost
/// and a new message arrives.
struct World {
    repo: TestRepo,
    mail_root: tempfile::TempDir,
    maildir: Maildir,
    notifier: Arc<RecordingNotifier>,
}

impl World {
    fn new() -> Self {
        let repo = TestRepo::new();
        let mail_root = tempfile::tempdir().unwrap();
        let mut maildir = Maildir::create(mail_root.path().join(ALICE));
        maildir.add_folder("Projects", true);
        let lunch = message("bob@example.com", ALICE, "Lunch?", "noon");
        let contract = message("carol@example.com", ALICE, "The contract", "signed copy");
        let report = message("dave@example.com", ALICE, "Report", "numbers");
        let plan = message("erin@example.com", ALICE, "Project plan", "phase 1");
        maildir.deliver("INBOX", &lunch, "S", 1_763_000_000);
        let contract_path = maildir.deliver("INBOX", &contract, "FS", 1_763_000_100);
        maildir.deliver("INBOX", &report, "", 1_763_000_200);
        maildir.deliver("Projects", &plan, "S", 1_763_000_300);
        repo.snapshot(ALICE, &maildir, "2026-11-10");
        // The losses, and new mail.
        fs::remove_file(contract_path).unwrap();
        fs::remove_dir_all(maildir.folder_dir("Projects")).unwrap();
        let news = message("frank@example.com", ALICE, "Arrived later", "hello");
        maildir.deliver("INBOX", &news, "", 1_763_500_000);
        Self {
            repo,
            mail_root,
            maildir,
            notifier: Arc::new(RecordingNotifier::default()),
        }
    }

    fn desk(&self) -> RestoreDesk {
        self.desk_on(self.repo.repo.clone())
    }

    fn desk_on(&self, repo: Repository) -> RestoreDesk {
        let settings = RestoreSettings {
            pricing: Pricing {
                currency: "EUR".into(),
                base: 500,
                per_gib: 100,
            },
            tag_keyword: None,
            ..Default::default()
        };
        RestoreDesk::new(repo, MaildirRoot::new(self.mail_root.path()), settings)
            .with_notifier(self.notifier.clone())
    }

    /// (folder, subject) of every live message, counting duplicates.
    fn live(&self) -> Vec<(String, String)> {
        let scan = self.maildir.source().scan().unwrap();
        let mut found = Vec::new();
        for folder in scan.folders {
            for file in folder.messages {
                let raw = fs::read(&file.path).unwrap();
                let text = String::from_utf8_lossy(&raw).into_owned();
                let subject = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Subject: "))
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                found.push((folder.name.to_string(), subject));
            }
        }
        found.sort();
        found
    }
}

/// Alice asks for her whole account as it was on the 10th, on the 12th.
fn ask(desk: &RestoreDesk) -> mtm_core::RestoreOutcome {
    desk.request(
        &Actor::User(alice()),
        &alice(),
        day("2026-11-10"),
        RestoreScope::Account,
        &at("2026-11-12T09:00:00Z"),
    )
    .unwrap()
}

fn expected_after_restore() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        ("INBOX", "Arrived later"),
        ("INBOX", "Lunch?"),
        ("INBOX", "Report"),
        ("INBOX", "The contract"),
        ("Projects", "Project plan"),
    ]
    .iter()
    .map(|(f, s)| (f.to_string(), s.to_string()))
    .collect();
    v.sort();
    v
}

#[test]
fn a_request_approved_runs_at_once_is_billed_once_and_the_user_is_told() {
    let world = World::new();
    let desk = world.desk();
    let asked = ask(&desk);
    assert_eq!(asked.request.state, RequestState::Requested);
    assert_eq!(asked.request.id.to_string(), "alice@example.com/1");
    // The snapshot of the 10th leaves a 15-day window at the start of the 25th (UTC).
    assert_eq!(
        asked.request.deadline.to_rfc3339(),
        "2026-11-25T00:00:00+00:00"
    );
    let plan = asked.plan.clone().unwrap();
    assert_eq!((plan.messages, plan.already_present), (2, 2));
    assert!(asked.problems.is_empty(), "{:?}", asked.problems);
    // The administrators hear of it, with the plan and the deadline.
    let sent = world.notifier.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].kind, &sent[0].recipient),
        (NotificationKind::NewRequest, &Recipient::Admins)
    );
    assert_eq!(sent[0].plan.as_ref(), Some(&plan));

    let done = desk
        .approve(
            &admin("carol"),
            &asked.request.id,
            &at("2026-11-12T10:00:00Z"),
        )
        .unwrap();
    assert_eq!(done.request.state, RequestState::Completed);
    assert_eq!(done.request.decided_by.as_deref(), Some("carol"));
    let result = done.result.clone().unwrap();
    assert_eq!(result.messages_restored, 2);
    assert_eq!(world.live(), expected_after_restore());

    let bill = done.billed.clone().unwrap();
    assert_eq!(
        (bill.price, bill.messages, bill.bytes),
        (600, 2, plan.bytes)
    );
    assert_eq!(
        world.repo.repo.billing_ledger().records().unwrap(),
        vec![bill]
    );
    assert_eq!(
        world.notifier.kinds(),
        vec![
            (NotificationKind::NewRequest, Recipient::Admins),
            (NotificationKind::Completed, Recipient::User(alice())),
        ]
    );
    let completed = world.notifier.sent.lock().unwrap()[1].clone();
    assert_eq!(completed.result, Some(result));

    // Running it again is refused, and nothing is billed or written twice.
    let again = desk.run(
        &admin("carol"),
        &asked.request.id,
        &at("2026-11-12T11:00:00Z"),
    );
    assert_eq!(again.unwrap_err().kind(), ErrorKind::InvalidTransition);
    assert_eq!(world.repo.repo.billing_ledger().records().unwrap().len(), 1);
    assert_eq!(world.live(), expected_after_restore());
}

#[test]
fn the_audit_trail_says_who_did_what_when_and_from_which_state() {
    let world = World::new();
    let desk = world.desk();
    let id = ask(&desk).request.id;
    desk.approve(&admin("carol"), &id, &at("2026-11-12T10:00:00Z"))
        .unwrap();
    let audit = desk.audit(&admin("dan"), &id).unwrap();
    let moves: Vec<(String, RequestState, RequestState)> = audit
        .iter()
        .filter_map(|e| match &e.event {
            AuditEvent::Moved {
                action, from, to, ..
            } => Some((format!("{} by {}", action.verb(), e.actor), *from, *to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        moves,
        vec![
            (
                "approve by admin carol".into(),
                RequestState::Requested,
                RequestState::Approved
            ),
            (
                "start by admin carol".into(),
                RequestState::Approved,
                RequestState::Running
            ),
            (
                "complete by admin carol".into(),
                RequestState::Running,
                RequestState::Completed
            ),
        ]
    );
    assert!(matches!(audit[0].event, AuditEvent::Requested { .. }));
    assert_eq!(audit[0].actor, Actor::User(alice()));
    assert_eq!(audit[0].at.to_rfc3339(), "2026-11-12T09:00:00+00:00");
    let seqs: Vec<u32> = audit.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=audit.len() as u32).collect::<Vec<_>>());
    assert!(
        audit
            .iter()
            .any(|e| matches!(e.event, AuditEvent::Billed { .. }))
    );
}

#[test]
fn a_rejected_request_is_never_billed_and_the_user_hears_why() {
    let world = World::new();
    let desk = world.desk();
    let id = ask(&desk).request.id;
    let rejected = desk
        .reject(
            &admin("carol"),
            &id,
            "the contract is in the shared drive",
            &at("2026-11-12T10:00:00Z"),
        )
        .unwrap();
    assert_eq!(rejected.request.state, RequestState::Rejected);
    let sent = world.notifier.sent.lock().unwrap().clone();
    assert_eq!(sent[1].kind, NotificationKind::Rejected);
    assert_eq!(
        sent[1].request.reason.as_deref(),
        Some("the contract is in the shared drive")
    );
    let late = desk.approve(&admin("dan"), &id, &at("2026-11-12T11:00:00Z"));
    assert_eq!(late.unwrap_err().kind(), ErrorKind::InvalidTransition);
    assert!(
        world
            .repo
            .repo
            .billing_ledger()
            .records()
            .unwrap()
            .is_empty()
    );
    assert!(
        !world
            .live()
            .contains(&("INBOX".into(), "The contract".into()))
    );
    let empty_reason = desk.reject(&admin("carol"), &id, "  ", &at("2026-11-12T11:00:00Z"));
    assert_eq!(empty_reason.unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[test]
fn users_act_only_on_their_own_account_and_only_admins_decide() {
    let world = World::new();
    let desk = world.desk();
    let now = at("2026-11-12T09:00:00Z");
    let bob = Actor::User(AccountId::new("bob@example.com").unwrap());
    let err = desk
        .request(
            &bob,
            &alice(),
            day("2026-11-10"),
            RestoreScope::Account,
            &now,
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    let id = desk
        .request(
            &Actor::User(alice()),
            &alice(),
            day("2026-11-10"),
            RestoreScope::Account,
            &now,
        )
        .unwrap()
        .request
        .id;
    for denied in [
        desk.get(&bob, &id).map(|_| ()),
        desk.audit(&bob, &id).map(|_| ()),
        desk.plan(&bob, &id).map(|_| ()),
        desk.cancel(&bob, &id, &now).map(|_| ()),
        desk.approve(&Actor::User(alice()), &id, &now).map(|_| ()),
        desk.reject(&Actor::User(alice()), &id, "no", &now)
            .map(|_| ()),
        desk.run(&Actor::User(alice()), &id, &now).map(|_| ()),
        desk.requests(&bob, Some(&alice())).map(|_| ()),
        desk.queue(&Actor::User(alice()), &now).map(|_| ()),
    ] {
        assert_eq!(denied.unwrap_err().kind(), ErrorKind::PermissionDenied);
    }
    assert!(desk.requests(&bob, None).unwrap().items.is_empty());
    assert_eq!(
        desk.requests(&Actor::User(alice()), None)
            .unwrap()
            .items
            .len(),
        1
    );
    let cancelled = desk.cancel(&Actor::User(alice()), &id, &now).unwrap();
    assert_eq!(cancelled.request.state, RequestState::Cancelled);
    assert_eq!(
        desk.approve(&admin("carol"), &id, &now).unwrap_err().kind(),
        ErrorKind::InvalidTransition
    );
}

#[test]
fn an_account_has_one_open_request_at_a_time() {
    let world = World::new();
    let desk = world.desk();
    let now = at("2026-11-12T09:00:00Z");
    let first = desk
        .request(
            &Actor::User(alice()),
            &alice(),
            day("2026-11-10"),
            RestoreScope::Account,
            &now,
        )
        .unwrap();
    let second = desk.request(
        &admin("carol"),
        &alice(),
        day("2026-11-10"),
        RestoreScope::Account,
        &now,
    );
    assert_eq!(second.unwrap_err().kind(), ErrorKind::AlreadyExists);
    desk.cancel(&Actor::User(alice()), &first.request.id, &now)
        .unwrap();
    let third = desk
        .request(
            &admin("carol"),
            &alice(),
            day("2026-11-10"),
            RestoreScope::Account,
            &now,
        )
        .unwrap();
    assert_eq!(third.request.id.number(), 2);
    assert_eq!(third.request.requested_by, admin("carol"));
    // A day without a snapshot, and an empty scope, are refused up front.
    desk.cancel(&admin("carol"), &third.request.id, &now)
        .unwrap();
    let no_snapshot = desk.request(
        &Actor::User(alice()),
        &alice(),
        day("2026-11-11"),
        RestoreScope::Account,
        &now,
    );
    assert_eq!(no_snapshot.unwrap_err().kind(), ErrorKind::NotFound);
    let empty = RestoreScope::Folders { folders: vec![] };
    let empty = desk.request(
        &Actor::User(alice()),
        &alice(),
        day("2026-11-10"),
        empty,
        &now,
    );
    assert_eq!(empty.unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[test]
fn of_two_admins_approving_at_once_exactly_one_wins() {
    for round in 0..5 {
        let world = World::new();
        let id = ask(&world.desk()).request.id;
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let outcomes: Vec<mtm_core::Result<_>> = std::thread::scope(|s| {
            let handles: Vec<_> = ["carol", "dan"]
                .into_iter()
                .map(|name| {
                    // Two panels: two desks on two opened repositories.
                    let desk = world.desk_on(Repository::open(world.repo.path()).unwrap());
                    let barrier = barrier.clone();
                    let id = id.clone();
                    s.spawn(move || {
                        barrier.wait();
                        desk.approve(&admin(name), &id, &at("2026-11-12T10:00:00Z"))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let wins = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(wins, 1, "round {round}: {outcomes:?}");
        let loser = outcomes.iter().find_map(|o| o.as_ref().err()).unwrap();
        assert_eq!(loser.kind(), ErrorKind::InvalidTransition, "{loser}");
        assert_eq!(world.repo.repo.billing_ledger().records().unwrap().len(), 1);
        assert_eq!(world.live(), expected_after_restore());
    }
}

#[test]
fn an_undecided_request_expires_at_its_deadline_exactly() {
    let world = World::new();
    let desk = world.desk();
    let id = ask(&desk).request.id;
    assert!(
        desk.expire_overdue(&at("2026-11-24T23:59:59Z"))
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        desk.queue(&admin("carol"), &at("2026-11-24T23:59:59Z"))
            .unwrap()
            .items
            .len(),
        1
    );
    // At the deadline the admin is too late: the request expires and the user is told.
    let late = desk.approve(&admin("carol"), &id, &at("2026-11-25T00:00:00Z"));
    assert_eq!(late.unwrap_err().kind(), ErrorKind::InvalidTransition);
    let now = desk.get(&Actor::User(alice()), &id).unwrap().request;
    assert_eq!(now.state, RequestState::Expired);
    assert_eq!(now.updated_by, Actor::System);
    assert_eq!(
        world.notifier.kinds().last(),
        Some(&(NotificationKind::Expired, Recipient::User(alice())))
    );
    assert!(
        world
            .repo
            .repo
            .billing_ledger()
            .records()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_sweep_expires_overdue_requests_and_a_new_request_is_then_allowed() {
    let world = World::new();
    let desk = world.desk();
    ask(&desk);
    let expired = desk
        .expire_overdue(&at("2026-11-25T00:00:00Z"))
        .unwrap()
        .items;
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].request.state, RequestState::Expired);
    assert!(
        desk.expire_overdue(&at("2026-11-26T00:00:00Z"))
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        desk.queue(&admin("carol"), &at("2026-11-25T00:00:00Z"))
            .unwrap()
            .items
            .is_empty()
    );
}

#[test]
fn a_failing_notifier_or_billing_sink_loses_no_state_change_and_is_retried() {
    let world = World::new();
    let billing = Arc::new(RecordingBilling::default());
    let desk = world.desk().with_billing(billing.clone());
    *world.notifier.failing.lock().unwrap() = true;
    *billing.failing.lock().unwrap() = true;
    let asked = ask(&desk);
    assert_eq!(asked.request.state, RequestState::Requested);
    assert_eq!(asked.problems.len(), 1, "{:?}", asked.problems);
    let done = desk
        .approve(
            &admin("carol"),
            &asked.request.id,
            &at("2026-11-12T10:00:00Z"),
        )
        .unwrap();
    assert_eq!(done.request.state, RequestState::Completed);
    assert_eq!(done.billed, None);
    assert_eq!(done.problems.len(), 3, "{:?}", done.problems); // the bill, the new-request mail again, the completion mail
    let audit = desk.audit(&admin("carol"), &asked.request.id).unwrap();
    assert!(
        audit
            .iter()
            .any(|e| matches!(e.event, AuditEvent::BillingFailed { .. }))
    );
    assert!(
        audit
            .iter()
            .any(|e| matches!(e.event, AuditEvent::NotificationFailed { .. }))
    );

    *world.notifier.failing.lock().unwrap() = false;
    *billing.failing.lock().unwrap() = false;
    assert!(
        desk.deliver_pending(&at("2026-11-12T11:00:00Z"))
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(billing.bills.lock().unwrap().len(), 1);
    assert_eq!(
        world.notifier.kinds(),
        vec![
            (NotificationKind::NewRequest, Recipient::Admins),
            (NotificationKind::Completed, Recipient::User(alice())),
        ]
    );
    // Delivered once: a second retry sends and bills nothing.
    assert!(
        desk.deliver_pending(&at("2026-11-12T12:00:00Z"))
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(billing.bills.lock().unwrap().len(), 1);
    assert_eq!(world.notifier.sent.lock().unwrap().len(), 2);
    assert_eq!(
        desk.get(&admin("carol"), &asked.request.id)
            .unwrap()
            .billed
            .unwrap()
            .price,
        600
    );
}

#[test]
fn a_scope_of_folders_or_messages_restores_only_that() {
    let world = World::new();
    let desk = world.desk();
    let scope = RestoreScope::Folders {
        folders: vec![mtm_core::FolderName::new("Projects").unwrap()],
    };
    let asked = desk
        .request(
            &Actor::User(alice()),
            &alice(),
            day("2026-11-10"),
            scope,
            &at("2026-11-12T09:00:00Z"),
        )
        .unwrap();
    let plan = asked.plan.unwrap();
    assert_eq!(plan.messages, 1);
    assert_eq!(plan.folders_to_recreate().len(), 1);
    desk.approve(
        &admin("carol"),
        &asked.request.id,
        &at("2026-11-12T10:00:00Z"),
    )
    .unwrap();
    let live: BTreeSet<_> = world.live().into_iter().collect();
    assert!(live.contains(&("Projects".into(), "Project plan".into())));
    assert!(!live.contains(&("INBOX".into(), "The contract".into())));
}

#[test]
fn an_approved_restore_keeps_its_snapshot_from_pruning_until_it_completes() {
    let world = World::new();
    let repo = &world.repo.repo;
    let id = ask(&world.desk()).request.id;
    // The restore is approved, billed and started, and writes the mail back; then the
    // repository fails (a storage error, as in a crash) before it records completion: the
    // request stays running, to be resumed.
    let faulty = Arc::new(mtm_core::FaultInjectingBackend::new(
        Arc::new(mtm_core::LocalBackend::new(world.repo.path()).unwrap()),
        5, // 1 approve, 2 the ledger, 3 billed, 4 start; 5 complete fails
    ));
    let broken = world.desk_on(Repository::open_with_backend(faulty).unwrap());
    let err = broken
        .approve(&admin("carol"), &id, &at("2026-11-12T10:00:00Z"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    let desk = world.desk();
    assert_eq!(
        desk.get(&admin("carol"), &id).unwrap().request.state,
        RequestState::Running
    );

    // Weeks later the snapshot is past the window, but the running request keeps it.
    let later = at("2026-12-01T03:00:00Z");
    let plan = repo.prune_plan(&later, None).unwrap();
    assert!(plan.expired.is_empty(), "{:?}", plan.expired);
    assert_eq!(plan.pinned.len(), 1);
    assert_eq!(plan.pinned[0].request, id);
    repo.prune(&plan, &later).unwrap();

    let resumed = desk.run(&admin("carol"), &id, &later).unwrap();
    assert_eq!(resumed.request.state, RequestState::Completed);
    assert_eq!(world.live(), expected_after_restore());
    assert_eq!(repo.billing_ledger().records().unwrap().len(), 1);
    let audit = desk.audit(&admin("carol"), &id).unwrap();
    assert!(audit.iter().any(|e| matches!(e.event, AuditEvent::Resumed)));

    // Decided: the snapshot goes at the next prune.
    let plan = repo.prune_plan(&later, None).unwrap();
    assert_eq!(plan.expired.len(), 1);
    assert!(plan.pinned.is_empty());
}

#[test]
fn a_restore_that_crashes_at_any_read_is_finished_by_run_without_duplicates_or_gaps() {
    // Count the reads of a whole approval first, then crash at every one of them in turn.
    let total = {
        let world = World::new();
        let id = ask(&world.desk()).request.id;
        let counting = Arc::new(mtm_core::FaultInjectingBackend::new(
            Arc::new(mtm_core::LocalBackend::new(world.repo.path()).unwrap()),
            0,
        ));
        let desk = world.desk_on(Repository::open_with_backend(counting.clone()).unwrap());
        let before = counting.reads();
        desk.approve(&admin("carol"), &id, &at("2026-11-12T10:00:00Z"))
            .unwrap();
        counting.reads() - before
    };
    assert!(total > 10, "{total} reads");
    let mut interrupted_while_running = 0;
    for crash_at in 1..=total {
        let world = World::new();
        let id = ask(&world.desk()).request.id;
        let faulty = Arc::new(mtm_core::FaultInjectingBackend::new(
            Arc::new(mtm_core::LocalBackend::new(world.repo.path()).unwrap()),
            0,
        ));
        let broken = world.desk_on(Repository::open_with_backend(faulty.clone()).unwrap());
        faulty.fail_reads_from(faulty.reads() + crash_at);
        let crashed = broken.approve(&admin("carol"), &id, &at("2026-11-12T10:00:00Z"));
        let desk = world.desk();
        let state = desk.get(&admin("carol"), &id).unwrap().request.state;
        match (&crashed, state) {
            (Err(e), RequestState::Requested) => {
                assert_eq!(e.kind(), ErrorKind::Storage, "at read {crash_at}: {e}");
                desk.approve(&admin("carol"), &id, &at("2026-11-12T11:00:00Z"))
                    .unwrap();
            }
            (
                Err(e),
                RequestState::Approved | RequestState::Running | RequestState::Interrupted,
            ) => {
                assert_eq!(e.kind(), ErrorKind::Storage, "at read {crash_at}: {e}");
                interrupted_while_running += u32::from(state == RequestState::Running);
                desk.run(&admin("carol"), &id, &at("2026-11-12T11:00:00Z"))
                    .unwrap();
            }
            // The crash hit only a side effect's bookkeeping after completion.
            (_, RequestState::Completed) => {}
            (other, state) => panic!("at read {crash_at}: {other:?} left the request {state}"),
        }
        assert!(
            desk.deliver_pending(&at("2026-11-12T12:00:00Z"))
                .unwrap()
                .items
                .is_empty()
        );
        assert_eq!(
            desk.get(&admin("carol"), &id).unwrap().request.state,
            RequestState::Completed
        );
        assert_eq!(world.live(), expected_after_restore(), "at read {crash_at}");
        assert_eq!(
            world.repo.repo.billing_ledger().records().unwrap().len(),
            1,
            "at read {crash_at}"
        );
    }
    assert!(
        interrupted_while_running > 0,
        "no crash fell inside the run"
    );
}

/// The billing entries of a request's journal.
fn billed_entries(desk: &RestoreDesk, id: &mtm_core::RequestId) -> usize {
    desk.audit(&admin("carol"), id)
        .unwrap()
        .iter()
        .filter(|e| matches!(e.event, AuditEvent::Billed { .. }))
        .count()
}

#[test]
fn a_run_that_stops_is_retried_until_it_completes_billed_once_and_the_user_told_once() {
    let world = World::new();
    let desk = world.desk();
    let id = ask(&desk).request.id;
    // Where the lost Projects folder is to be recreated, there is a file.
    let projects = world.maildir.folder_dir("Projects");
    fs::write(&projects, "not a folder").unwrap();

    let err = desk
        .approve(&admin("carol"), &id, &at("2026-11-12T10:00:00Z"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::RestoreIncomplete { state, .. } if state == "interrupted"),
        "{err}"
    );
    assert!(err.to_string().contains(".Projects"), "{err}");
    let stopped = desk.get(&admin("carol"), &id).unwrap().request;
    assert_eq!(stopped.state, RequestState::Interrupted);
    assert!(stopped.reason.as_deref().unwrap().contains(".Projects"));
    let queue = desk
        .queue(&admin("carol"), &at("2026-11-12T10:30:00Z"))
        .unwrap()
        .items;
    assert_eq!(
        queue
            .iter()
            .map(|q| (&q.request.id, q.request.state))
            .collect::<Vec<_>>(),
        vec![(&id, RequestState::Interrupted)],
        "the admin's queue shows the restore that waits for a retry or a give-up"
    );
    assert_eq!(
        world.notifier.kinds(),
        vec![(NotificationKind::NewRequest, Recipient::Admins)],
        "the user hears nothing of a run that will be retried"
    );

    // Still broken: a second run stops the same way and bills nothing more.
    let again = desk.run(&admin("carol"), &id, &at("2026-11-12T11:00:00Z"));
    assert!(matches!(again, Err(Error::RestoreIncomplete { .. })));
    // The account cannot ask again while it waits, and its snapshot is kept.
    let second = desk.request(
        &Actor::User(alice()),
        &alice(),
        day("2026-11-10"),
        RestoreScope::Account,
        &at("2026-11-12T11:30:00Z"),
    );
    assert_eq!(second.unwrap_err().kind(), ErrorKind::AlreadyExists);
    let plan = world
        .repo
        .repo
        .prune_plan(&at("2026-12-01T03:00:00Z"), None)
        .unwrap();
    assert_eq!(plan.pinned.len(), 1);

    // Fixed, it completes, weeks after the deadline.
    fs::remove_file(&projects).unwrap();
    let done = desk
        .run(&admin("dan"), &id, &at("2026-12-01T09:00:00Z"))
        .unwrap();
    assert_eq!(done.request.state, RequestState::Completed);
    assert_eq!(done.request.reason, None);
    assert_eq!(world.live(), expected_after_restore());
    assert_eq!(world.repo.repo.billing_ledger().records().unwrap().len(), 1);
    assert_eq!(billed_entries(&desk, &id), 1);
    assert_eq!(
        world.notifier.kinds(),
        vec![
            (NotificationKind::NewRequest, Recipient::Admins),
            (NotificationKind::Completed, Recipient::User(alice())),
        ]
    );
    let moves: Vec<String> = desk
        .audit(&admin("carol"), &id)
        .unwrap()
        .iter()
        .filter_map(|e| match &e.event {
            AuditEvent::Moved { action, .. } => Some(action.verb().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(
        moves,
        [
            "approve",
            "start",
            "interrupt",
            "retry",
            "interrupt",
            "retry",
            "complete"
        ]
    );
}

#[test]
fn an_admin_gives_up_on_an_interrupted_restore_and_the_user_is_told_why() {
    let world = World::new();
    let desk = world.desk();
    let id = ask(&desk).request.id;
    fs::write(world.maildir.folder_dir("Projects"), "not a folder").unwrap();
    desk.approve(&admin("carol"), &id, &at("2026-11-12T10:00:00Z"))
        .unwrap_err();

    let user = desk.give_up(
        &Actor::User(alice()),
        &id,
        "no",
        &at("2026-11-12T11:00:00Z"),
    );
    assert_eq!(user.unwrap_err().kind(), ErrorKind::PermissionDenied);
    let silent = desk.give_up(&admin("carol"), &id, "  ", &at("2026-11-12T11:00:00Z"));
    assert_eq!(silent.unwrap_err().kind(), ErrorKind::InvalidInput);

    let reason = "your Projects folder is a file on the server: please ask support";
    let given_up = desk
        .give_up(&admin("carol"), &id, reason, &at("2026-11-12T11:00:00Z"))
        .unwrap();
    assert_eq!(given_up.request.state, RequestState::Failed);
    assert_eq!(given_up.request.reason.as_deref(), Some(reason));
    let sent = world.notifier.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (sent[1].kind, &sent[1].recipient),
        (NotificationKind::Failed, &Recipient::User(alice()))
    );
    assert_eq!(sent[1].request.reason.as_deref(), Some(reason));
    // Billed at approval, once; the account may ask again; the snapshot is no longer held.
    assert_eq!(world.repo.repo.billing_ledger().records().unwrap().len(), 1);
    let run = desk.run(&admin("carol"), &id, &at("2026-11-12T12:00:00Z"));
    assert_eq!(run.unwrap_err().kind(), ErrorKind::InvalidTransition);
    let plan = world
        .repo
        .repo
        .prune_plan(&at("2026-12-01T03:00:00Z"), None)
        .unwrap();
    assert!(plan.pinned.is_empty());
    desk.request(
        &Actor::User(alice()),
        &alice(),
        day("2026-11-10"),
        RestoreScope::Account,
        &at("2026-11-12T13:00:00Z"),
    )
    .unwrap();
}
