"""Account directories that are symlinks: refused (and named) by default, followed with
`follow_account_symlinks=True`, wherever Python opens a Maildir or a directory of them."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest

import mtm
from conftest import ALICE, DAY1, Maildir, mail

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
BOB = "bob@example.com"


def linked_bob(tmp_path: Path) -> Path:
    """Bob's Maildir lives elsewhere; `maildirs/bob@example.com` is a symlink to it."""
    elsewhere = Maildir(tmp_path / "data" / BOB)
    elsewhere.add(mail("Hi Bob", to=BOB), flags="S")
    link = tmp_path / "maildirs" / BOB
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere.root)
    return link


def test_snapshot_root_reports_a_symlinked_account_it_skipped(
    tmp_path: Path, repo: mtm.Repository, maildir: Maildir
) -> None:
    maildir.add(mail("Hello"), flags="S")
    link = linked_bob(tmp_path)

    results = repo.snapshot_root(maildir.root.parent, now=DAY1)
    assert [r.account for r in results] == [ALICE, BOB]
    assert results[0].ok
    skipped = results[1]
    assert skipped.report is None
    assert isinstance(skipped.error, mtm.SourceError)
    assert str(link) in str(skipped.error) and "symlink" in str(skipped.error)
    assert repo.accounts() == [ALICE]

    later = datetime(2026, 11, 21, 0, 0, 30, tzinfo=timezone.utc)
    followed = repo.snapshot_root(maildir.root.parent, now=later, follow_account_symlinks=True)
    assert [(r.account, r.ok) for r in followed] == [(ALICE, True), (BOB, True)]
    assert repo.accounts() == [ALICE, BOB]


def test_a_symlinked_maildir_is_snapshotted_only_when_asked(tmp_path: Path, repo: mtm.Repository) -> None:
    link = linked_bob(tmp_path)
    with pytest.raises(mtm.SourceError, match="symlink"):
        repo.snapshot(BOB, link, now=DAY1)
    with pytest.raises(mtm.SourceError, match="symlink"):
        repo.snapshot_many([(BOB, link)], now=DAY1)
    report = repo.snapshot(BOB, link, now=DAY1, follow_account_symlinks=True)
    assert report.messages == 1
    many = repo.snapshot_many([(BOB, link)], now=NOW, follow_account_symlinks=True)
    assert many[0].ok
    with pytest.raises(mtm.SourceError, match="symlink"):
        repo.restore_plan(BOB, DAY, None, link)
    assert repo.restore_plan(BOB, DAY, None, link, follow_account_symlinks=True).already_present == 1
    with pytest.raises(mtm.SourceError, match="symlink"):
        repo.account(BOB).diff_live(DAY, link)
    diff = repo.account(BOB).diff_live(DAY, link, follow_account_symlinks=True)
    assert diff.entries == ()


def test_the_restore_desk_follows_a_symlinked_account_only_when_asked(
    tmp_path: Path, repo: mtm.Repository
) -> None:
    link = linked_bob(tmp_path)
    repo.snapshot(BOB, link, now=DAY1, follow_account_symlinks=True)
    lost = next((link / "cur").iterdir())
    lost.unlink()
    user = mtm.Actor.user(BOB)

    refusing = mtm.RestoreDesk(repo, link.parent)
    with pytest.raises(mtm.SourceError) as refused:
        refusing.request(user, BOB, DAY, now=NOW)
    assert str(link) in str(refused.value) and "symlink" in str(refused.value)

    desk = mtm.RestoreDesk(repo, link.parent, follow_account_symlinks=True)
    asked = desk.request(user, BOB, DAY, now=NOW)
    done = desk.approve(mtm.Actor.admin("carol"), asked.request.id, now=NOW)
    assert done.request.state is mtm.RequestState.COMPLETED
    assert [p.read_bytes() for p in (tmp_path / "data" / BOB / "cur").iterdir()] == [
        mail("Hi Bob", to=BOB)
    ]


def test_diff_live_names_what_the_live_scan_skipped(repo: mtm.Repository, maildir: Maildir) -> None:
    maildir.add(mail("Hello"), flags="S")
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    stolen = maildir.folder("Stolen") / "cur"
    stolen.rmdir()
    stolen.symlink_to(maildir.root.parent / "elsewhere")
    (maildir.root.parent / "elsewhere").mkdir()

    diff = repo.account(ALICE).diff_live(DAY, maildir.root)
    assert diff.entries == ()
    assert any(str(stolen) in w and "symlink" in w for w in diff.warnings), diff.warnings
    assert repo.account(ALICE).diff(DAY, DAY).warnings == ()
