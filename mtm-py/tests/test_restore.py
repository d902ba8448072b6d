"""The restore workflow from Python: RestoreDesk with Python notifier and billing hooks."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import List

import pytest

import mtm

from conftest import ALICE, DAY1, Maildir, folder_dir, mail

DAY = date(2026, 11, 20)  # the day of the DAY1 snapshot (the repository is in UTC)
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
USER = mtm.Actor.user(ALICE)
CAROL = mtm.Actor.admin("carol")
BOB = mtm.Actor.user("bob@example.com")
FIRST = f"{ALICE}/1"
PRICING = mtm.Pricing(currency="EUR", base=500, per_gib=200)

LUNCH = mail("Lunch?")
CONTRACT = mail("The contract", body="signed copy\n")
REPORT = mail("Report")
PLAN = mail("Project plan", body="phase 1\n")
LATER = mail("Arrived later")


class HookDown(Exception):
    pass


@dataclass
class RecordingNotifier:
    sent: List[mtm.Notification] = field(default_factory=list)
    failing: bool = False

    def notify(self, notification: mtm.Notification) -> None:
        if self.failing:
            raise HookDown("smtp down")
        self.sent.append(notification)


@dataclass
class RecordingBilling:
    bills: List[mtm.BillingRecord] = field(default_factory=list)
    failing: bool = False

    def bill(self, record: mtm.BillingRecord) -> None:
        if self.failing:
            raise HookDown("billing system down")
        self.bills.append(record)


@dataclass
class World:
    repo: mtm.Repository
    maildir: Maildir
    notifier: RecordingNotifier
    billing: RecordingBilling
    desk: mtm.RestoreDesk

    def files(self) -> List[bytes]:
        """The bytes of every live message file, sorted."""
        return sorted(p.read_bytes() for p in self.maildir.root.rglob("*") if p.parent.name in ("cur", "new") and p.is_file())


@pytest.fixture
def world(repo: mtm.Repository, maildir: Maildir) -> World:
    """Alice's snapshot of DAY: three messages in INBOX, one in Projects. Then the contract
    and the whole Projects folder are lost, and new mail arrives."""
    maildir.folder("Projects")
    maildir.add(LUNCH, flags="S")
    maildir.add(CONTRACT, flags="FS", key="contract")
    maildir.add(REPORT)
    maildir.add(PLAN, folder="Projects", flags="S")
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    maildir.delete("contract")
    shutil.rmtree(folder_dir(maildir.root, "Projects"))
    maildir.add(LATER)
    notifier, billing = RecordingNotifier(), RecordingBilling()
    desk = mtm.RestoreDesk(
        repo, maildir.root.parent, pricing=PRICING, notifier=notifier, billing=billing
    )
    return World(repo, maildir, notifier, billing, desk)


def ask(world: World) -> mtm.RestoreOutcome:
    return world.desk.request(USER, ALICE, DAY, now=NOW)


def test_request_plan_approve_restores_byte_exact_notifies_and_bills(world: World) -> None:
    asked = ask(world)
    assert asked.request.state is mtm.RequestState.REQUESTED
    assert str(asked.request.id) == FIRST
    assert asked.request.id == mtm.RequestId(ALICE, 1)
    assert asked.request.requested_by == USER
    assert asked.request.scope == mtm.Scope.account()
    assert asked.problems == ()
    plan = asked.plan
    assert plan is not None
    assert (plan.messages, plan.already_present) == (2, 2)
    assert plan.bytes == len(CONTRACT) + len(PLAN)
    projects = next(f for f in plan.folders if f.folder == "Projects")
    assert projects.recreate and projects.to_restore == 1
    # The administrators hear of it, with the plan; nothing is written or billed yet.
    assert [(n.kind, n.recipient) for n in world.notifier.sent] == [
        (mtm.NotificationKind.NEW_REQUEST, None)
    ]
    assert world.notifier.sent[0].to_admins and world.notifier.sent[0].plan == plan
    assert CONTRACT not in world.files() and world.billing.bills == []
    assert world.desk.plan(CAROL, FIRST).messages == 2
    assert [q.request.id for q in world.desk.queue(CAROL, now=NOW)] == [asked.request.id]

    done = world.desk.approve(CAROL, FIRST, now=NOW)
    assert done.request.state is mtm.RequestState.COMPLETED
    assert done.request.decided_by == "carol"
    assert done.problems == ()
    assert done.result is not None
    assert done.result.messages_restored == 2
    assert done.result.folders_recreated == ("Projects",)
    # The lost messages are back, byte for byte; what arrived later is untouched.
    assert world.files() == sorted([LUNCH, CONTRACT, REPORT, PLAN, LATER])
    assert any(p.read_bytes() == PLAN for p in (folder_dir(world.maildir.root, "Projects") / "cur").iterdir())
    # The user is told, with the result; billed once, at the configured price.
    kinds = [(n.kind, n.recipient) for n in world.notifier.sent]
    assert kinds == [
        (mtm.NotificationKind.NEW_REQUEST, None),
        (mtm.NotificationKind.COMPLETED, ALICE),
    ]
    assert world.notifier.sent[1].result == done.result
    assert world.notifier.sent[1].request.state is mtm.RequestState.COMPLETED
    assert len(world.billing.bills) == 1
    bill = world.billing.bills[0]
    assert bill == done.billed
    assert (bill.request, bill.price, bill.currency, bill.approved_by) == (
        mtm.RequestId(ALICE, 1),
        500 + 200,  # the base fee and one started GiB
        "EUR",
        "carol",
    )
    assert (bill.messages, bill.bytes, bill.day) == (2, plan.bytes, DAY)
    assert world.repo.billing_ledger() == []  # a custom sink replaces the ledger
    assert world.desk.queue(CAROL, now=NOW) == []


def test_without_a_billing_hook_bills_go_to_the_repository_ledger(
    world: World,
) -> None:
    desk = mtm.RestoreDesk(world.repo, world.maildir.root.parent, pricing=PRICING)
    asked = desk.request(USER, ALICE, DAY, now=NOW)
    assert any("no notifier" in p for p in asked.problems)
    done = desk.approve(CAROL, asked.request.id, now=NOW)
    assert done.billed is not None and done.billed.price == 700
    assert world.repo.billing_ledger() == [done.billed]


def test_reject_says_why_bills_nothing_and_tells_the_user(world: World) -> None:
    ask(world)
    with pytest.raises(mtm.InvalidInputError):
        world.desk.reject(CAROL, FIRST, "  ", now=NOW)
    rejected = world.desk.reject(CAROL, FIRST, "no budget", now=NOW)
    assert rejected.request.state is mtm.RequestState.REJECTED
    assert (rejected.request.reason, rejected.request.decided_by) == ("no budget", "carol")
    assert rejected.billed is None and world.billing.bills == []
    last = world.notifier.sent[-1]
    assert (last.kind, last.recipient) == (mtm.NotificationKind.REJECTED, ALICE)
    assert last.request.reason == "no budget"
    assert CONTRACT not in world.files()


def test_the_user_cancels_and_then_nobody_can_approve(world: World) -> None:
    ask(world)
    cancelled = world.desk.cancel(USER, FIRST, now=NOW)
    assert cancelled.request.state is mtm.RequestState.CANCELLED
    assert cancelled.request.updated_by == USER
    with pytest.raises(mtm.InvalidTransitionError):
        world.desk.approve(CAROL, FIRST, now=NOW)
    # A new request is allowed once the first is closed; it gets the next number.
    again = ask(world)
    assert str(again.request.id) == f"{ALICE}/2"


def test_approving_twice_is_an_invalid_transition(world: World) -> None:
    ask(world)
    world.desk.approve(CAROL, FIRST, now=NOW)
    with pytest.raises(mtm.InvalidTransitionError, match="completed"):
        world.desk.approve(CAROL, FIRST, now=NOW)
    assert len(world.billing.bills) == 1


def test_a_second_open_request_already_exists(world: World) -> None:
    ask(world)
    with pytest.raises(mtm.AlreadyExistsError):
        world.desk.request(USER, ALICE, DAY, mtm.Scope.folders(["Projects"]), now=NOW)


def test_permissions(world: World) -> None:
    ask(world)
    with pytest.raises(mtm.PermissionDeniedError):
        world.desk.request(BOB, ALICE, DAY, now=NOW)
    with pytest.raises(mtm.PermissionDeniedError):
        world.desk.get(BOB, FIRST)
    with pytest.raises(mtm.PermissionDeniedError):
        world.desk.cancel(BOB, FIRST, now=NOW)
    with pytest.raises(mtm.PermissionDeniedError):
        world.desk.requests(BOB, ALICE)
    with pytest.raises(PermissionError):  # also a built-in PermissionError
        world.desk.approve(USER, FIRST, now=NOW)  # a user cannot approve their own
    with pytest.raises(mtm.PermissionDeniedError):
        world.desk.queue(USER, now=NOW)
    assert world.desk.get(USER, FIRST).request.state is mtm.RequestState.REQUESTED
    assert [r.id for r in world.desk.requests(USER)] == [mtm.RequestId(ALICE, 1)]
    assert world.desk.requests(BOB) == []


def test_an_undecided_request_expires_exactly_at_its_deadline(world: World) -> None:
    asked = ask(world)
    deadline = world.desk.deadline(DAY)
    assert deadline == datetime(2026, 12, 5, tzinfo=timezone.utc)  # 15 days of retention
    assert asked.request.deadline == deadline
    assert world.desk.expire_overdue(now=deadline - timedelta(seconds=1)) == []
    expired = world.desk.expire_overdue(now=deadline)
    assert [o.request.state for o in expired] == [mtm.RequestState.EXPIRED]
    assert expired[0].request.updated_by == mtm.Actor.system()
    last = world.notifier.sent[-1]
    assert (last.kind, last.recipient) == (mtm.NotificationKind.EXPIRED, ALICE)
    with pytest.raises(mtm.InvalidTransitionError):
        world.desk.approve(CAROL, FIRST, now=deadline)
    assert world.billing.bills == []


def test_a_failing_notifier_leaves_the_move_standing_and_is_retried(world: World) -> None:
    world.notifier.failing = True
    asked = ask(world)
    assert asked.request.state is mtm.RequestState.REQUESTED
    assert len(asked.problems) == 1
    assert "HookDown: smtp down" in asked.problems[0]
    assert world.desk.get(CAROL, FIRST).request.state is mtm.RequestState.REQUESTED
    failed = [e for e in world.desk.audit(CAROL, FIRST) if e.event == "notification_failed"]
    assert len(failed) == 1 and failed[0].error is not None and "smtp down" in failed[0].error
    assert failed[0].notification is mtm.NotificationKind.NEW_REQUEST
    assert world.desk.deliver_pending(now=NOW) != []  # still down
    world.notifier.failing = False
    assert world.desk.deliver_pending(now=NOW) == []
    assert [n.kind for n in world.notifier.sent] == [mtm.NotificationKind.NEW_REQUEST]
    assert world.desk.deliver_pending(now=NOW) == []  # delivered once, not again
    assert len(world.notifier.sent) == 1


def test_a_failing_billing_hook_does_not_stop_the_restore_and_is_retried(
    world: World,
) -> None:
    ask(world)
    world.billing.failing = True
    done = world.desk.approve(CAROL, FIRST, now=NOW)
    assert done.request.state is mtm.RequestState.COMPLETED
    assert done.billed is None
    assert any("billing system down" in p for p in done.problems)
    world.billing.failing = False
    assert world.desk.deliver_pending(now=NOW) == []
    assert [b.request for b in world.billing.bills] == [mtm.RequestId(ALICE, 1)]
    assert world.desk.get(CAROL, FIRST).billed == world.billing.bills[0]


def test_the_audit_trail_lists_the_moves_with_their_actors(world: World) -> None:
    ask(world)
    world.desk.approve(CAROL, mtm.RequestId(ALICE, 1), now=NOW)
    trail = world.desk.audit(USER, FIRST)
    assert [e.seq for e in trail] == sorted({e.seq for e in trail})
    assert (trail[0].event, trail[0].actor, trail[0].to_state) == (
        "requested",
        USER,
        mtm.RequestState.REQUESTED,
    )
    assert trail[0].at == NOW and trail[0].plan is not None
    moves = [(e.action, e.from_state, e.to_state, e.actor) for e in trail if e.event == "moved"]
    S = mtm.RequestState
    assert moves == [
        ("approve", S.REQUESTED, S.APPROVED, CAROL),
        ("start", S.APPROVED, S.RUNNING, CAROL),
        ("complete", S.RUNNING, S.COMPLETED, CAROL),
    ]
    billed = [e.bill for e in trail if e.event == "billed"]
    assert len(billed) == 1 and billed[0] is not None and billed[0].price == 700
    notified = [(e.notification, e.recipient) for e in trail if e.event == "notified"]
    assert notified == [
        (mtm.NotificationKind.NEW_REQUEST, None),
        (mtm.NotificationKind.COMPLETED, ALICE),
    ]


def test_the_audit_trail_keeps_a_rejections_reason(world: World) -> None:
    ask(world)
    world.desk.reject(CAROL, FIRST, "ask your admin", now=NOW)
    moves = [e for e in world.desk.audit(CAROL, FIRST) if e.event == "moved"]
    assert [(e.action, e.reason, e.actor) for e in moves] == [("reject", "ask your admin", CAROL)]


def test_repository_restore_plan_is_a_dry_run(world: World) -> None:
    before = world.files()
    whole = world.repo.restore_plan(ALICE, DAY, None, world.maildir.root)
    assert (whole.messages, whole.already_present) == (2, 2)
    assert whole.scope == mtm.Scope.account()
    folders = world.repo.restore_plan(ALICE, DAY, mtm.Scope.folders(["Projects"]), world.maildir.root)
    assert (folders.messages, [f.folder for f in folders.folders]) == (1, ["Projects"])
    view = world.repo.account(ALICE)
    contract = next(m.id for m in view.messages(DAY).messages if m.summary.subject == "The contract")
    one = world.repo.restore_plan(ALICE, DAY, mtm.Scope.messages([contract]), world.maildir.root)
    assert (one.messages, one.bytes) == (1, len(CONTRACT))
    assert one.scope.names == (contract,)
    assert world.files() == before


def test_arguments_are_checked(world: World, tmp_path: Path) -> None:
    assert mtm.RequestId.parse(FIRST) == mtm.RequestId(ALICE, 1)
    with pytest.raises(mtm.InvalidInputError):
        mtm.RequestId.parse("alice")
    with pytest.raises(mtm.InvalidInputError):
        world.desk.get(CAROL, f"{ALICE}/0")
    with pytest.raises(mtm.InvalidInputError):
        world.desk.get(CAROL, 7)  # type: ignore[arg-type]
    with pytest.raises(mtm.InvalidInputError):
        mtm.Actor("root", "x")
    with pytest.raises(mtm.InvalidInputError):
        world.desk.get(mtm.Actor.admin(" "), FIRST)
    with pytest.raises(mtm.InvalidInputError):
        world.desk.get("carol", FIRST)  # type: ignore[arg-type]
    with pytest.raises(mtm.InvalidInputError):
        mtm.Scope.folders("INBOX")
    with pytest.raises(mtm.InvalidInputError):
        world.desk.request(USER, ALICE, DAY, mtm.Scope.folders([]), now=NOW)
    with pytest.raises(mtm.InvalidInputError):
        world.desk.request(USER, ALICE, DAY, now=datetime(2026, 11, 21, 9, 0))
    with pytest.raises(mtm.NotFoundError):
        world.desk.request(USER, ALICE, date(2026, 11, 19), now=NOW)
    with pytest.raises(mtm.InvalidInputError, match="notify"):
        mtm.RestoreDesk(world.repo, tmp_path, notifier=object())  # type: ignore[arg-type]
    with pytest.raises(mtm.InvalidInputError, match="per_gib"):
        mtm.RestoreDesk(world.repo, tmp_path, pricing=mtm.Pricing("EUR", 0, -1))
    world.repo.close()
    with pytest.raises(mtm.ClosedError):
        mtm.RestoreDesk(world.repo, tmp_path)
    # A desk made before the close keeps working, like an Account.
    assert world.desk.requests(CAROL) == []


def test_a_run_that_stops_raises_its_cause_and_is_retried_billed_once(world: World) -> None:
    ask(world)
    projects = folder_dir(world.maildir.root, "Projects")
    projects.write_text("in the way")
    with pytest.raises(mtm.SourceError, match="did not complete"):
        world.desk.approve(CAROL, FIRST, now=NOW)
    stopped = world.desk.get(CAROL, FIRST).request
    assert stopped.state is mtm.RequestState.INTERRUPTED and stopped.state.is_open
    assert stopped.reason is not None and ".Projects" in stopped.reason
    assert [n.kind for n in world.notifier.sent] == [mtm.NotificationKind.NEW_REQUEST]
    assert len(world.billing.bills) == 1

    projects.unlink()
    done = world.desk.run(CAROL, FIRST, now=NOW + timedelta(days=20))
    assert done.request.state is mtm.RequestState.COMPLETED
    assert len(world.billing.bills) == 1
    assert [n.kind for n in world.notifier.sent] == [
        mtm.NotificationKind.NEW_REQUEST,
        mtm.NotificationKind.COMPLETED,
    ]
    actions = [e.action for e in world.desk.audit(CAROL, FIRST) if e.event == "moved"]
    assert actions == ["approve", "start", "interrupt", "retry", "complete"]


def test_an_admin_gives_up_and_the_user_is_told_why(world: World) -> None:
    ask(world)
    folder_dir(world.maildir.root, "Projects").write_text("in the way")
    with pytest.raises(mtm.MtmError):
        world.desk.approve(CAROL, FIRST, now=NOW)
    with pytest.raises(mtm.PermissionDeniedError):
        world.desk.give_up(USER, FIRST, "no", now=NOW)
    given_up = world.desk.give_up(CAROL, FIRST, "the folder is in the way", now=NOW)
    assert given_up.request.state is mtm.RequestState.FAILED
    told = world.notifier.sent[-1]
    assert (told.kind, told.recipient) == (mtm.NotificationKind.FAILED, ALICE)
    assert told.request.reason == "the folder is in the way"
    last = world.desk.audit(CAROL, FIRST)
    moved = [e for e in last if e.event == "moved"][-1]
    assert (moved.action, moved.reason) == ("give_up", "the folder is in the way")
    with pytest.raises(mtm.InvalidTransitionError):
        world.desk.run(CAROL, FIRST, now=NOW)


def test_a_damaged_journal_is_listed_as_damaged_and_stops_no_other_request(
    world: World, tmp_path: Path
) -> None:
    bob_mail = Maildir(tmp_path / "maildirs" / "bob@example.com")
    bob_mail.add(mail("For Bob"))
    world.repo.snapshot("bob@example.com", bob_mail.root, now=DAY1)
    ask(world)
    world.desk.request(BOB, "bob@example.com", DAY, now=NOW)
    journal = world.repo.path / "restores" / ALICE / "000001"
    last = sorted(journal.iterdir())[-1]
    data = bytearray(last.read_bytes())
    data[len(data) // 2] ^= 0x10
    last.unlink()
    last.write_bytes(bytes(data))
    alice_1, bob_1 = mtm.RequestId(ALICE, 1), mtm.RequestId("bob@example.com", 1)

    listed = world.desk.requests(CAROL)
    assert [r.id for r in listed] == [bob_1]
    assert [d.id for d in listed.damaged] == [alice_1]
    assert isinstance(listed.damaged[0], mtm.DamagedRequest)
    assert f"restore request {alice_1}" in str(listed.damaged[0])
    queue = world.desk.queue(CAROL, now=NOW)
    assert [q.request.id for q in queue] == [bob_1]
    assert [d.id for d in queue.damaged] == [alice_1]
    with pytest.raises(mtm.IntegrityError, match=f"restore request {ALICE}/1"):
        world.desk.get(CAROL, alice_1)

    expired = world.desk.expire_overdue(now=world.desk.deadline(DAY))
    assert [o.request.id for o in expired] == [bob_1]
    assert [d.id for d in expired.damaged] == [alice_1]
    delivered = world.desk.deliver_pending(now=NOW)
    assert delivered == [] and [d.id for d in delivered.damaged] == [alice_1]
    assert (mtm.NotificationKind.EXPIRED, "bob@example.com") in [
        (n.kind, n.recipient) for n in world.notifier.sent
    ]
    # An intact repository lists nothing as damaged.
    assert world.desk.requests(BOB).damaged == ()
