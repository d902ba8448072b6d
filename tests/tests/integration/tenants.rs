//! Tenants in the restore workflow: each customer's administrators see and decide only their
//! own accounts' requests, bills go to the customer at its prices, notifications carry the
//! customer's language and zone; a provider administrator sees everything and decides for a
//! customer only where allowed; an account that moves to another customer is decided by its
//! new owner.

use std::sync::{Arc, Mutex};

use mtm_core::{
    AccessPolicy, AccountId, Actor, AuditEvent, EmailNotifier, EmailSettings, EmailTransport,
    ErrorKind, FixedClock, Language, LedgerQuery, MaildirRoot, Notification, Notifier, Pricing,
    RequestId, RequestState, RestoreDesk, RestoreScope, RestoreSettings, Tenant, TenantDirectory,
    TenantId, TimeZone,
};
use mtm_tests::{Maildir, TestRepo, day, message};

const ALICE: &str = "alice@acme.example";
const BOB: &str = "bob@globex.example";
const EVE: &str = "eve@provider.example";

fn account(text: &str) -> AccountId {
    AccountId::new(text).unwrap()
}

fn tenant_id(text: &str) -> TenantId {
    TenantId::new(text).unwrap()
}

fn now() -> FixedClock {
    FixedClock::parse("2026-11-11T09:00:00Z").unwrap()
}

fn acme() -> Tenant {
    Tenant::new(tenant_id("acme"))
        .with_name("ACME S.p.A.")
        .with_domains(["acme.example"])
        .with_admin("carol", "carol@acme.example")
        .with_pricing(Pricing {
            currency: "EUR".into(),
            base: 700,
            per_gib: 0,
        })
        .with_language(Language::italian())
        .with_time_zone(TimeZone::parse("Europe/Rome").unwrap())
}

fn globex() -> Tenant {
    Tenant::new(tenant_id("globex"))
        .with_domains(["globex.example"])
        .with_admin("dave", "dave@globex.example")
        .with_time_zone(TimeZone::parse("America/New_York").unwrap())
}

fn carol() -> Actor {
    Actor::tenant_admin(tenant_id("acme"), "carol").unwrap()
}

fn dave() -> Actor {
    Actor::tenant_admin(tenant_id("globex"), "dave").unwrap()
}

fn root() -> Actor {
    Actor::admin("root").unwrap()
}

/// The provider's customer database, which the test may change between calls.
#[derive(Debug)]
struct Customers(Mutex<Vec<Tenant>>);

impl TenantDirectory for Customers {
    fn owner(&self, account: &AccountId) -> mtm_core::Result<Option<Tenant>> {
        let tenants = self.0.lock().unwrap();
        Ok(tenants.iter().find(|t| t.owns(account)).cloned())
    }

    fn tenant(&self, id: &TenantId) -> mtm_core::Result<Option<Tenant>> {
        Ok(self.0.lock().unwrap().iter().find(|t| t.id == *id).cloned())
    }
}

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<Notification>>);

impl Notifier for Recorder {
    fn notify(&self, notification: &Notification) -> mtm_core::Result<()> {
        self.0.lock().unwrap().push(notification.clone());
        Ok(())
    }
}

/// Three accounts snapshotted on 2026-11-10, each of which then lost its one message: Alice
/// at customer ACME, Bob at customer Globex, Eve the provider's own.
struct World {
    repo: TestRepo,
    mail_root: tempfile::TempDir,
    customers: Arc<Customers>,
    notifier: Arc<Recorder>,
}

impl World {
    fn new() -> Self {
        let repo = TestRepo::new();
        let mail_root = tempfile::tempdir().unwrap();
        for (n, owner) in [ALICE, BOB, EVE].into_iter().enumerate() {
            let mut maildir = Maildir::create(mail_root.path().join(owner));
            let mail = message("someone@example.net", owner, "Lost", "gone tomorrow");
            let path = maildir.deliver("INBOX", &mail, "S", 1_763_000_000 + n as i64);
            repo.snapshot(owner, &maildir, "2026-11-10");
            std::fs::remove_file(path).unwrap();
        }
        Self {
            repo,
            mail_root,
            customers: Arc::new(Customers(Mutex::new(vec![acme(), globex()]))),
            notifier: Arc::new(Recorder::default()),
        }
    }

    fn desk(&self, provider_decides_for_tenants: bool) -> RestoreDesk {
        let settings = RestoreSettings {
            pricing: Pricing {
                currency: "EUR".into(),
                base: 500,
                per_gib: 0,
            },
            access: AccessPolicy {
                provider_decides_for_tenants,
            },
            ..Default::default()
        };
        RestoreDesk::new(
            self.repo.repo.clone(),
            MaildirRoot::new(self.mail_root.path()),
            settings,
        )
        .with_tenants(self.customers.clone())
        .with_notifier(self.notifier.clone())
    }

    fn request(&self, desk: &RestoreDesk, owner: &str) -> RequestId {
        let user = Actor::User(account(owner));
        desk.request(
            &user,
            &account(owner),
            day("2026-11-10"),
            RestoreScope::Account,
            &now(),
        )
        .unwrap()
        .request
        .id
    }
}

fn denied<T: std::fmt::Debug>(result: mtm_core::Result<T>) {
    assert_eq!(result.unwrap_err().kind(), ErrorKind::PermissionDenied);
}

#[test]
fn a_tenant_admin_decides_its_own_requests_and_the_bill_goes_to_its_tenant_at_its_prices() {
    let world = World::new();
    let desk = world.desk(false);
    let id = world.request(&desk, ALICE);
    assert_eq!(
        desk.get(&carol(), &id).unwrap().request.tenant,
        Some(tenant_id("acme"))
    );
    let done = desk.approve(&carol(), &id, &now()).unwrap();
    assert_eq!(done.request.state, RequestState::Completed);
    let bill = done.billed.unwrap();
    assert_eq!(bill.tenant, Some(tenant_id("acme")));
    assert_eq!(bill.price, 700);
    assert_eq!(bill.approved_by, "carol");
    let audit = desk.audit(&carol(), &id).unwrap();
    assert!(
        audit
            .iter()
            .all(|e| e.tenant == Some(tenant_id("acme")) && e.on_behalf_of().is_none())
    );

    let eve = world.request(&desk, EVE);
    let bill = desk.approve(&root(), &eve, &now()).unwrap().billed.unwrap();
    assert_eq!((bill.tenant, bill.price), (None, 500));
}

#[test]
fn another_tenants_admin_is_refused_at_every_entry_point_and_sees_nothing_listed() {
    let world = World::new();
    let desk = world.desk(false);
    let id = world.request(&desk, ALICE);
    let bobs = world.request(&desk, BOB);
    denied(desk.get(&dave(), &id));
    denied(desk.plan(&dave(), &id));
    denied(desk.audit(&dave(), &id));
    denied(desk.approve(&dave(), &id, &now()));
    denied(desk.reject(&dave(), &id, "not yours", &now()));
    denied(desk.cancel(&dave(), &id, &now()));
    denied(desk.run(&dave(), &id, &now()));
    denied(desk.give_up(&dave(), &id, "not yours", &now()));
    denied(desk.requests(&dave(), Some(&account(ALICE))));
    denied(desk.request(
        &dave(),
        &account(ALICE),
        day("2026-11-10"),
        RestoreScope::Account,
        &now(),
    ));
    // A request id that does not exist is refused the same way: nothing is given away.
    let unknown = RequestId::new(account("zed@acme.example"), 9).unwrap();
    denied(desk.get(&dave(), &unknown));

    let listed: Vec<RequestId> = desk
        .requests(&dave(), None)
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, std::slice::from_ref(&bobs));
    let queued: Vec<RequestId> = desk
        .queue(&dave(), &now())
        .unwrap()
        .items
        .into_iter()
        .map(|q| q.request.id)
        .collect();
    assert_eq!(queued, [bobs]);
    // Untouched by all of that.
    assert_eq!(
        desk.get(&carol(), &id).unwrap().request.state,
        RequestState::Requested
    );
}

#[test]
fn a_provider_admin_sees_everything_but_decides_for_a_tenant_only_where_allowed() {
    let world = World::new();
    let strict = world.desk(false);
    let id = world.request(&strict, ALICE);
    assert_eq!(strict.queue(&root(), &now()).unwrap().items.len(), 1);
    assert!(strict.get(&root(), &id).is_ok());
    denied(strict.approve(&root(), &id, &now()));
    denied(strict.reject(&root(), &id, "no", &now()));
    denied(strict.cancel(&root(), &id, &now()));

    let lenient = world.desk(true);
    let done = lenient.approve(&root(), &id, &now()).unwrap();
    assert_eq!(done.request.state, RequestState::Completed);
    assert_eq!(done.billed.unwrap().tenant, Some(tenant_id("acme")));
    let audit = lenient.audit(&carol(), &id).unwrap();
    let approval = audit
        .iter()
        .find(|e| {
            matches!(
                &e.event,
                AuditEvent::Moved {
                    to: RequestState::Approved,
                    ..
                }
            )
        })
        .unwrap();
    assert_eq!(approval.actor, root());
    assert_eq!(approval.on_behalf_of(), Some(&tenant_id("acme")));
}

#[test]
fn an_account_moved_to_another_tenant_is_decided_by_its_new_owner_and_the_trail_says_so() {
    let world = World::new();
    let desk = world.desk(false);
    let id = world.request(&desk, ALICE);
    // ACME hands alice's domain over to Globex before anyone decides.
    {
        let mut tenants = world.customers.0.lock().unwrap();
        tenants[0].domains.clear();
        tenants[1].domains.push("acme.example".into());
    }
    denied(desk.approve(&carol(), &id, &now()));
    let done = desk.approve(&dave(), &id, &now()).unwrap();
    assert_eq!(done.request.tenant, Some(tenant_id("globex")));
    let bill = done.billed.unwrap();
    assert_eq!((bill.tenant, bill.price), (Some(tenant_id("globex")), 500));
    let audit = desk.audit(&dave(), &id).unwrap();
    let moved = audit
        .iter()
        .position(|e| {
            e.event
                == AuditEvent::OwnerChanged {
                    from: Some(tenant_id("acme")),
                    to: Some(tenant_id("globex")),
                }
        })
        .expect("the audit trail notes the new owner");
    assert_eq!(audit[0].tenant, Some(tenant_id("acme")));
    assert!(
        audit[moved..]
            .iter()
            .all(|e| e.tenant == Some(tenant_id("globex")))
    );
}

#[test]
fn two_tenants_admins_racing_on_their_own_requests_both_win_once() {
    let world = World::new();
    let desk = world.desk(false);
    let alices = world.request(&desk, ALICE);
    let bobs = world.request(&desk, BOB);
    let outcomes: Vec<_> = std::thread::scope(|s| {
        let runs: Vec<_> = [(carol(), alices.clone()), (dave(), bobs.clone())]
            .into_iter()
            .flat_map(|(admin, id)| {
                // Each admin clicks twice, at once.
                let desk = &desk;
                (0..2).map(move |_| {
                    let (admin, id) = (admin.clone(), id.clone());
                    s.spawn(move || desk.approve(&admin, &id, &now()))
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(won, 2, "{outcomes:?}");
    for lost in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(lost.kind(), ErrorKind::InvalidTransition);
    }
    let ledger = world.repo.repo.billing_ledger();
    let acme_bills = ledger
        .query(&LedgerQuery::default().tenant(tenant_id("acme")))
        .unwrap();
    let globex_bills = ledger
        .query(&LedgerQuery::default().tenant(tenant_id("globex")))
        .unwrap();
    assert_eq!(acme_bills.len(), 1);
    assert_eq!(acme_bills[0].request, alices);
    assert_eq!(globex_bills.len(), 1);
    assert_eq!(globex_bills[0].request, bobs);
    // Each admin sees only its own tenant's bills, whatever it asks for.
    let seen = desk
        .ledger(
            &carol(),
            &LedgerQuery::default().tenant(tenant_id("globex")),
        )
        .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].request, alices);
    assert_eq!(
        desk.ledger(&root(), &LedgerQuery::default()).unwrap().len(),
        2
    );
    denied(desk.ledger(&Actor::User(account(ALICE)), &LedgerQuery::default()));
}

#[test]
fn the_ledger_lists_one_period() {
    let world = World::new();
    let desk = world.desk(false);
    let alices = world.request(&desk, ALICE);
    desk.approve(&carol(), &alices, &now()).unwrap();
    let bobs = world.request(&desk, BOB);
    let later = FixedClock::parse("2026-11-12T09:00:00Z").unwrap();
    desk.approve(&dave(), &bobs, &later).unwrap();
    let instant = |t: &str| mtm_core::DateTime::parse_from_rfc3339(t).unwrap().to_utc();
    let day_of_the_11th = LedgerQuery::default()
        .since(instant("2026-11-11T00:00:00Z"))
        .before(instant("2026-11-12T00:00:00Z"));
    let bills = desk.ledger(&root(), &day_of_the_11th).unwrap();
    assert_eq!(bills.len(), 1);
    assert_eq!(bills[0].request, alices);
    let provider = desk
        .ledger(&root(), &LedgerQuery::default().provider_only())
        .unwrap();
    assert!(provider.is_empty());
}

#[test]
fn notifications_go_to_the_owners_admins_in_its_language_and_zone() {
    let world = World::new();
    let desk = world.desk(false);
    world.request(&desk, ALICE);
    world.request(&desk, EVE);
    let sent = world.notifier.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    let to_acme = &sent[0];
    assert_eq!(to_acme.tenant.as_ref().map(|t| t.id.as_str()), Some("acme"));
    assert_eq!(to_acme.language, Language::italian());
    assert_eq!(to_acme.time_zone.name(), "Europe/Rome");
    let to_provider = &sent[1];
    assert_eq!(to_provider.tenant, None);
    assert_eq!(to_provider.language, Language::english());
    assert_eq!(to_provider.time_zone.name(), "UTC");

    // As email: ACME's request reaches carol, in Italian, with the deadline in Rome's time;
    // a tenant without administrators falls back to the provider's.
    let outbox = tempfile::tempdir().unwrap();
    let email = EmailNotifier::new(
        EmailSettings::new("mtm@provider.example", ["ops@provider.example"]),
        EmailTransport::Maildir(outbox.path().join("out")),
    )
    .unwrap();
    let acme_mail = String::from_utf8(email.compose(to_acme).unwrap()).unwrap();
    assert!(acme_mail.contains("To: carol@acme.example"), "{acme_mail}");
    assert!(
        !acme_mail.contains("ops@provider.example\r\n"),
        "{acme_mail}"
    );
    let mut orphan = to_acme.clone();
    orphan.tenant.as_mut().unwrap().admins.clear();
    let orphan_mail = String::from_utf8(email.compose(&orphan).unwrap()).unwrap();
    assert!(
        orphan_mail.contains("To: ops@provider.example"),
        "{orphan_mail}"
    );
}
