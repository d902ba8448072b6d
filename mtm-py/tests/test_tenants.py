"""Tenants from Python: each customer's administrator sees and decides only its own
customer's requests, bills name the customer, and a Python object can be the directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest

import mtm

from conftest import DAY1, Maildir, mail

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
ALICE = "alice@acme.example"
BOB = "bob@globex.example"
EVE = "eve@provider.example"
CAROL = mtm.Actor.tenant_admin("acme", "carol")
DAVE = mtm.Actor.tenant_admin("globex", "dave")
ROOT = mtm.Actor.admin("root")

TENANTS = """
[provider]
admins = [{ name = "root", email = "ops@provider.example" }]

[[tenant]]
id = "acme"
name = "ACME S.p.A."
domains = ["acme.example"]
admins = [{ name = "carol", email = "carol@acme.example" }]
language = "it"
time_zone = "Europe/Rome"
pricing = { currency = "EUR", base = 700, per_gib = 0 }

[[tenant]]
id = "globex"
domains = ["globex.example"]
admins = [{ name = "dave", email = "dave@globex.example" }]
"""


@dataclass
class Recorder:
    sent: List[mtm.Notification] = field(default_factory=list)

    def notify(self, notification: mtm.Notification) -> None:
        self.sent.append(notification)


@dataclass
class World:
    repo: mtm.Repository
    root: Path
    tenants: mtm.TenantsFile
    notifier: Recorder

    def desk(self, **options: object) -> mtm.RestoreDesk:
        options.setdefault("tenants", self.tenants)
        return mtm.RestoreDesk(
            self.repo,
            self.root,
            pricing=mtm.Pricing(base=500),
            notifier=self.notifier,
            **options,  # type: ignore[arg-type]
        )


@pytest.fixture
def world(repo: mtm.Repository, tmp_path: Path) -> World:
    """Alice (ACME), Bob (Globex) and Eve (the provider's) each lost a message of DAY."""
    root = tmp_path / "maildirs"
    for account in (ALICE, BOB, EVE):
        box = Maildir(root / account)
        box.add(mail("Lost", to=account), key="lost")
        repo.snapshot(account, box.root, now=DAY1)
        box.delete("lost")
    return World(repo, root, mtm.TenantsFile.parse(TENANTS, "tenants.toml"), Recorder())


def ask(desk: mtm.RestoreDesk, account: str) -> mtm.RequestId:
    return desk.request(mtm.Actor.user(account), account, DAY, now=NOW).request.id


def test_the_tenants_file_says_who_owns_what_and_who_each_admin_is(world: World) -> None:
    file = world.tenants
    assert [t.id for t in file.tenants] == ["acme", "globex"]
    acme = file.owner(ALICE)
    assert acme is not None and acme.name == "ACME S.p.A." and acme.language == "it"
    assert acme.pricing == mtm.Pricing("EUR", 700, 0)
    assert acme.admins == (mtm.AdminContact("carol", "carol@acme.example"),)
    assert file.owner(EVE) is None
    assert file.admin("carol") == CAROL
    assert file.admin("root") == ROOT
    assert str(CAROL) == "admin carol of acme"
    with pytest.raises(mtm.PermissionDeniedError):
        file.admin("mallory")
    assert file.provider_admins == [("root", "ops@provider.example")]


def test_a_tenant_admin_approves_its_own_and_the_bill_goes_to_its_tenant(world: World) -> None:
    desk = world.desk()
    first = ask(desk, ALICE)
    done = desk.approve(CAROL, first, now=NOW)
    assert done.request.state is mtm.RequestState.COMPLETED
    assert done.request.tenant == "acme"
    assert done.billed is not None
    assert (done.billed.tenant, done.billed.price) == ("acme", 700)
    trail = desk.audit(CAROL, first)
    assert {e.tenant for e in trail} == {"acme"}
    assert all(e.on_behalf_of is None for e in trail)
    eve = ask(desk, EVE)
    bill = desk.approve(ROOT, eve, now=NOW).billed
    assert bill is not None and (bill.tenant, bill.price) == (None, 500)


ENTRY_POINTS: Dict[str, Callable[[mtm.RestoreDesk, mtm.Actor, mtm.RequestId], object]] = {
    "get": lambda d, a, r: d.get(a, r),
    "plan": lambda d, a, r: d.plan(a, r),
    "audit": lambda d, a, r: d.audit(a, r),
    "approve": lambda d, a, r: d.approve(a, r, now=NOW),
    "reject": lambda d, a, r: d.reject(a, r, "no", now=NOW),
    "cancel": lambda d, a, r: d.cancel(a, r, now=NOW),
    "run": lambda d, a, r: d.run(a, r, now=NOW),
    "give_up": lambda d, a, r: d.give_up(a, r, "no", now=NOW),
    "requests": lambda d, a, r: d.requests(a, r.account),
    "request": lambda d, a, r: d.request(a, r.account, DAY, now=NOW),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_another_tenants_admin_is_refused_at_every_entry_point(world: World, entry: str) -> None:
    desk = world.desk()
    alices = ask(desk, ALICE)
    with pytest.raises(mtm.PermissionDeniedError):
        ENTRY_POINTS[entry](desk, DAVE, alices)
    assert desk.get(CAROL, alices).request.state is mtm.RequestState.REQUESTED


def test_listings_hold_only_the_admins_own_tenants_requests(world: World) -> None:
    desk = world.desk()
    ask(desk, ALICE)
    bobs = ask(desk, BOB)
    assert [r.id for r in desk.requests(DAVE)] == [bobs]
    assert [q.request.id for q in desk.queue(DAVE, now=NOW)] == [bobs]
    assert len(desk.queue(ROOT, now=NOW)) == 2


def test_a_provider_admin_decides_for_a_tenant_only_where_allowed(world: World) -> None:
    strict = world.desk()
    alices = ask(strict, ALICE)
    with pytest.raises(mtm.PermissionDeniedError):
        strict.approve(ROOT, alices, now=NOW)
    lenient = world.desk(provider_decides_for_tenants=True)
    lenient.approve(ROOT, alices, now=NOW)
    approval = next(e for e in lenient.audit(ROOT, alices) if e.action == "approve")
    assert approval.actor == ROOT and approval.on_behalf_of == "acme"


@dataclass
class Customers:
    """An application's own customer database, as a tenant directory."""

    tenants: List[mtm.Tenant]
    down: bool = False
    asked: List[str] = field(default_factory=list)

    def owner(self, account: str) -> Optional[mtm.Tenant]:
        self.asked.append(account)
        if self.down:
            raise ConnectionError("customer database down")
        domain = account.rpartition("@")[2]
        return next((t for t in self.tenants if domain in t.domains), None)


def test_a_python_directory_decides_and_a_moved_account_goes_to_its_new_owner(world: World) -> None:
    acme = mtm.Tenant("acme", domains=("acme.example",), admins=(mtm.AdminContact("carol", "carol@acme.example"),))
    globex = mtm.Tenant("globex", domains=("globex.example",), time_zone="America/New_York")
    customers = Customers([acme, globex])
    desk = world.desk(tenants=customers)
    alices = ask(desk, ALICE)
    assert ALICE in customers.asked
    # ACME's domain moves to Globex before anyone decides.
    customers.tenants = [mtm.Tenant("acme"), mtm.Tenant("globex", domains=("globex.example", "acme.example"))]
    with pytest.raises(mtm.PermissionDeniedError):
        desk.approve(CAROL, alices, now=NOW)
    done = desk.approve(DAVE, alices, now=NOW)
    assert done.request.tenant == "globex"
    moved = [e for e in desk.audit(DAVE, alices) if e.event == "owner_changed"]
    assert [(e.from_tenant, e.to_tenant) for e in moved] == [("acme", "globex")]

    customers.down = True
    with pytest.raises(mtm.StorageError, match="customer database down"):
        desk.get(DAVE, alices)


def test_a_directory_without_owner_or_returning_junk_is_refused(world: World) -> None:
    with pytest.raises(mtm.InvalidInputError):
        world.desk(tenants=object())

    class Junk:
        def owner(self, account: str) -> object:
            return "acme"

    desk = world.desk(tenants=Junk())
    with pytest.raises(mtm.StorageError, match="mtm.Tenant"):
        ask(desk, ALICE)


def test_notifications_carry_the_owner_its_language_and_zone(world: World) -> None:
    desk = world.desk()
    ask(desk, ALICE)
    ask(desk, EVE)
    acme, provider = world.notifier.sent
    assert acme.tenant is not None and acme.tenant.id == "acme"
    assert (acme.language, acme.time_zone) == ("it", "Europe/Rome")
    assert provider.tenant is None and provider.language == "en"


def test_the_ledger_by_tenant_and_by_period(world: World) -> None:
    desk = world.desk()
    desk.approve(CAROL, ask(desk, ALICE), now=NOW)
    later = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
    desk.approve(DAVE, ask(desk, BOB), now=later)
    assert [b.tenant for b in desk.ledger(ROOT)] == ["acme", "globex"]
    assert [b.tenant for b in desk.ledger(ROOT, tenant="globex")] == ["globex"]
    assert desk.ledger(ROOT, provider_only=True) == []
    day = desk.ledger(ROOT, since=datetime(2026, 11, 21, tzinfo=timezone.utc), before=datetime(2026, 11, 22, tzinfo=timezone.utc))
    assert [b.tenant for b in day] == ["acme"]
    # A tenant's admin sees its own bills only, whatever it asks for.
    assert [b.tenant for b in desk.ledger(CAROL, tenant="globex")] == ["acme"]
    with pytest.raises(mtm.PermissionDeniedError):
        desk.ledger(mtm.Actor.user(ALICE))


def test_a_bad_tenants_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "tenants.toml"
    path.write_text('[[tenant]]\nid = "a"\ndomains = ["x.example"]\n[[tenant]]\nid = "b"\ndomains = ["x.example"]\n')
    with pytest.raises(mtm.InvalidInputError, match=r"tenants.toml, line 6: domain x.example"):
        mtm.TenantsFile.read(path)
    with pytest.raises(mtm.InvalidInputError, match="line 3: unknown language"):
        mtm.TenantsFile.parse('[[tenant]]\nid = "a"\nlanguage = "xx"\n')
