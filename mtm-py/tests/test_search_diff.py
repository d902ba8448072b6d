"""Search, diff (between days and against the live Maildir), history."""

from __future__ import annotations

from datetime import date

import pytest

import mtm
from conftest import ALICE, DAY1, DAY2, Maildir, mail

D1, D2 = date(2026, 11, 20), date(2026, 11, 21)


@pytest.fixture
def two_days(repo: mtm.Repository, maildir: Maildir) -> mtm.Account:
    maildir.add(mail("Invoice 42", sender="Billing <billing@shop.example>"), key="invoice")
    maildir.add(mail("Lunch?", to="alice@example.com, dave@example.com"), key="lunch")
    maildir.add(mail("Old news"), key="old")
    maildir.add(mail("Project plan", extra="Cc: erin@example.net\n"), key="plan")
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    maildir.delete("old")
    maildir.folder("Archive")
    maildir.move("plan", "Archive")
    maildir.set_flags("lunch", "RS")
    maildir.add(mail("Invoice 43", sender="Billing <billing@shop.example>"), key="invoice2")
    repo.snapshot(ALICE, maildir.root, now=DAY2)
    return repo.account(ALICE)


def test_diff_between_days(two_days: mtm.Account) -> None:
    diff = two_days.diff(D1, D2)
    assert (diff.from_day, diff.to_day) == (D1, D2)
    kinds = [(e.change, e.summary.subject) for e in diff.entries]
    assert kinds == [
        (mtm.ChangeKind.REMOVED, "Old news"),
        (mtm.ChangeKind.ADDED, "Invoice 43"),
        (mtm.ChangeKind.MOVED, "Project plan"),
        (mtm.ChangeKind.FLAGS_CHANGED, "Lunch?"),
    ]
    assert diff.count(mtm.ChangeKind.REMOVED) == 1
    moved = diff.entries[2]
    assert moved.before == (mtm.Placement("INBOX", frozenset()),)
    assert moved.after == (mtm.Placement("Archive", frozenset()),)
    flagged = diff.entries[3]
    assert flagged.after[0].flags == frozenset({mtm.Flag.REPLIED, mtm.Flag.SEEN})
    assert "POP3" in diff.note


def test_diff_against_the_live_maildir(two_days: mtm.Account, maildir: Maildir) -> None:
    maildir.delete("invoice")
    maildir.add(mail("Arrived today"))
    diff = two_days.diff_live(D2, maildir.root)
    assert (diff.from_day, diff.to_day) == (D2, None)
    assert [(e.change, e.summary.subject) for e in diff.entries] == [
        (mtm.ChangeKind.REMOVED, "Invoice 42"),
        (mtm.ChangeKind.ADDED, "Arrived today"),
    ]


def test_search_by_criteria_and_days(two_days: mtm.Account) -> None:
    hits = two_days.search(subject="INVOICE")
    assert sorted(h.summary.subject for h in hits) == ["Invoice 42", "Invoice 43"]
    assert {h.summary.subject for h in two_days.search(from_="billing@shop")} == {"Invoice 42", "Invoice 43"}
    assert [h.summary.subject for h in two_days.search(to="erin@")] == ["Project plan"]  # Cc counts
    assert [h.summary.subject for h in two_days.search(to="dave@")] == ["Lunch?"]
    assert [h.summary.subject for h in two_days.search(subject="invoice", day=D1)] == ["Invoice 42"]
    assert len(two_days.search(subject="invoice", days=(D1, D2))) == 2
    assert two_days.search(subject="old news", day=D2) == []
    assert two_days.search(subject="nothing like this") == []
    assert len(two_days.search(since=date(2026, 11, 19), until=date(2026, 11, 19))) == 5
    assert two_days.search(since=date(2026, 11, 20)) == []
    (plan,) = two_days.search(subject="project")
    assert [(s.day, s.folder) for s in plan.seen] == [(D1, "INBOX"), (D2, "Archive")]
    msgid = plan.summary.message_id
    assert [h.id for h in two_days.search(message_id=f"<{msgid}>")] == [plan.id]


def test_history_follows_a_message_across_days(two_days: mtm.Account) -> None:
    (lunch,) = two_days.search(subject="lunch")
    history = two_days.history(lunch.id)
    assert history == [
        mtm.Sighting(D1, "INBOX", frozenset()),
        mtm.Sighting(D2, "INBOX", frozenset({mtm.Flag.REPLIED, mtm.Flag.SEEN})),
    ]
    assert two_days.history(lunch.id[:10]) == history


def test_keyword_only_changes_show_in_diff_and_history(repo: mtm.Repository, maildir: Maildir) -> None:
    (maildir.root / "dovecot-keywords").write_text("0 $label1\n1 Junk\n")
    maildir.add(mail("Tagged"), flags="S", key="tagged")
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    maildir.set_flags("tagged", "Sb")
    repo.snapshot(ALICE, maildir.root, now=DAY2)
    account = repo.account(ALICE)
    d1, d2 = account.days()
    diff = account.diff(d1, d2)
    (entry,) = diff.entries
    assert entry.change is mtm.ChangeKind.KEYWORDS_CHANGED
    assert entry.before[0].keywords == frozenset()
    assert entry.after[0].keywords == frozenset({"Junk"})
    history = account.history(entry.id)
    assert [s.keywords for s in history] == [frozenset(), frozenset({"Junk"})]
