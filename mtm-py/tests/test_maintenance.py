"""Retention (prune plan, prune), garbage collection, verify, stats; snapshots of a root."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

import mtm
from conftest import ALICE, DAY1, Maildir, mail


def test_prune_then_gc_reclaims_expired_days(tmp_path: Path, maildir: Maildir) -> None:
    with mtm.Repository.init(tmp_path / "repo", retention_days=3) as repo:
        for day in range(5):
            maildir.add(mail(f"day {day}", body=f"unique body {day}\n" * 200))
            repo.snapshot(ALICE, maildir.root, now=DAY1 + timedelta(days=day))
            maildir.delete(next(iter(maildir.files)))  # each day's mail lives one day only
        today = DAY1 + timedelta(days=4)
        plan = repo.prune_plan(now=today)
        assert plan.today == date(2026, 11, 24) and plan.keep_from == date(2026, 11, 22)
        assert [(e.account, e.day) for e in plan.expired] == [(ALICE, date(2026, 11, 20)), (ALICE, date(2026, 11, 21))]
        assert plan.kept == 3
        assert plan.reclaimable_bytes > 0
        assert repo.prune_plan(now=today, account="bob@example.com").expired == ()

        # A plan built by hand that names a day inside the window is refused whole.
        forged = dataclasses.replace(
            plan, expired=plan.expired + (mtm.ExpiredSnapshot(ALICE, date(2026, 11, 23), 1, 1),)
        )
        with pytest.raises(mtm.InvalidInputError, match="2026-11-23"):
            repo.prune(forged, now=today)
        assert len(repo.account(ALICE).days()) == 5

        before = repo.stats()
        assert repo.prune(plan, now=today) == mtm.PruneReport(removed=2)
        assert repo.prune(plan).removed == 0  # running it again is harmless
        assert repo.account(ALICE).days() == [date(2026, 11, 22), date(2026, 11, 23), date(2026, 11, 24)]
        gc = repo.gc(repack_below=1.0)
        assert gc.blobs_removed > 0
        assert gc.pack_bytes_after < gc.pack_bytes_before
        after = repo.stats()
        assert after.snapshots == before.snapshots - 2 == 3
        report = repo.verify()
        assert report.ok and report.snapshots == 3 and report.problems == ()


def test_verify_names_damaged_messages(repo: mtm.Repository, maildir: Maildir, tmp_path: Path) -> None:
    maildir.add(mail("precious", body="x" * 5000))
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    assert repo.verify().ok
    packs = sorted((tmp_path / "repo").rglob("packs/**/*"))
    pack = next(p for p in packs if p.is_file())
    data = bytearray(pack.read_bytes())
    data[len(data) // 3] ^= 0xFF
    pack.write_bytes(bytes(data))
    report = repo.verify(read_data=1.0)
    assert not report.ok
    assert report.problems


def test_snapshot_root_and_many(tmp_path: Path) -> None:
    root = tmp_path / "maildirs"
    for name in ["alice@example.com", "bob@example.com", "carol@example.com"]:
        box = Maildir(root / name)
        box.add(mail(f"shared newsletter"))
        box.add(mail(f"for {name}"))
    Maildir(root / "bad name!" / "Maildir").add(mail("x"))
    now = datetime(2026, 11, 21, 0, 0, 30, tzinfo=timezone.utc)
    with mtm.Repository.init(tmp_path / "repo") as repo:
        results = repo.snapshot_root(root, now=now, threads=2)
        by_account = {r.account: r for r in results}
        assert sorted(by_account) == ["alice@example.com", "bad name!", "bob@example.com", "carol@example.com"]
        assert isinstance(by_account["bad name!"].error, mtm.InvalidInputError)
        assert not by_account["bad name!"].ok and by_account["bad name!"].report is None
        for name in ["alice@example.com", "bob@example.com", "carol@example.com"]:
            result = by_account[name]
            assert result.ok and result.report is not None
            assert result.report.messages == 2
            assert result.maildir == root / name
        assert repo.accounts() == ["alice@example.com", "bob@example.com", "carol@example.com"]

        # The same day again: each account fails on its own, as AlreadyExistsError.
        again = repo.snapshot_many({"alice@example.com": root / "alice@example.com"}, now=now)
        assert isinstance(again[0].error, mtm.AlreadyExistsError)
        later = repo.snapshot_many([("alice@example.com", str(root / "alice@example.com"))], now=now + timedelta(days=1))
        assert later[0].report is not None and later[0].report.files_unchanged == 2


def test_an_older_repository_is_read_only_until_upgraded(tmp_path: Path, maildir: Maildir) -> None:
    old = tmp_path / "repo"
    old.mkdir()
    # A config as the first versions wrote it: plain JSON, format 1.
    (old / "config").write_text('{"format": 1, "id": "0123456789abcdef", "time_zone": "UTC", "header_dictionary": false}')
    maildir.add(mail("hello"))
    with mtm.Repository.open(old) as repo:
        assert repo.accounts() == []  # reads work
        with pytest.raises(mtm.UnsupportedFormatError, match="mtm upgrade"):
            repo.snapshot(ALICE, maildir.root, now=DAY1)
    report = mtm.Repository.upgrade(old)
    assert report == mtm.UpgradeReport(from_format=1, to_format=4, index_files_merged=0)
    assert report.upgraded
    with mtm.Repository.open(old) as repo:
        repo.snapshot(ALICE, maildir.root, now=DAY1)
        assert repo.account(ALICE).days() == [date(2026, 11, 20)]
    again = mtm.Repository.upgrade(old)
    assert not again.upgraded and again.to_format == 4
    with pytest.raises(mtm.NotFoundError):
        mtm.Repository.upgrade(tmp_path / "nowhere")
