"""Repair from Python: the index rebuilt from pack trailers; damaged snapshots recovered
from the live Maildir, planned first."""

from __future__ import annotations

import struct
from datetime import datetime, timezone
from pathlib import Path

import pytest

import mtm
from conftest import ALICE, DAY1, DAY2, Maildir, mail


def flip_catalogs(pack: Path) -> int:
    """Flips a byte inside every catalog blob of a pack (its trailer lists them, FORMAT.md)."""
    data = bytearray(pack.read_bytes())
    (count,) = struct.unpack("<I", data[-12:-8])
    table = len(data) - 44 - 48 * count
    flipped = 0
    for i in range(count):
        record = data[table + 48 * i : table + 48 * (i + 1)]
        if record[32] == 2:
            (offset,) = struct.unpack("<I", record[36:40])
            data[offset + 2] ^= 0x01
            flipped += 1
    pack.unlink()
    pack.write_bytes(bytes(data))
    return flipped


def test_repair_index_rebuilds_a_lost_index(repo: mtm.Repository, maildir: Maildir, tmp_path: Path) -> None:
    maildir.add(mail("kept", body="x" * 3000))
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    for index in (tmp_path / "repo" / "index").iterdir():
        index.unlink()
    assert not repo.verify().ok
    report = repo.repair_index()
    assert isinstance(report, mtm.IndexRepairReport)
    assert report.ok and report.blobs_indexed > 0 and len(report.index_files_written) == 1
    assert repo.verify().ok
    assert repo.repair_index().blobs_indexed == 0


def test_recovery_is_planned_then_executed(repo: mtm.Repository, maildir: Maildir, tmp_path: Path) -> None:
    maildir.add(mail("first day"))
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    packs = tmp_path / "repo" / "packs"
    before = {p for p in packs.rglob("*") if p.is_file()}
    maildir.add(mail("kept"))
    gone = maildir.add(mail("deleted later"))
    repo.snapshot(ALICE, maildir.root, now=DAY2)
    assert sum(flip_catalogs(p) for p in packs.rglob("*") if p.is_file() and p not in before) == 1
    gone.unlink()

    plan = repo.recovery_plan({ALICE: maildir.root})
    assert isinstance(plan, mtm.RecoveryPlan)
    assert (plan.recovered_messages, plan.lost_messages) == (1, 1)
    (snapshot,) = plan.snapshots
    assert snapshot.account == ALICE and snapshot.lost[0].file == gone.name
    assert not repo.verify().ok, "planning changes nothing"

    report = repo.recover(plan, now=datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc))
    assert report == mtm.RecoveryReport(
        snapshots_rewritten=1,
        messages_recovered=1,
        messages_lost=1,
        blobs_rescued=report.blobs_rescued,
        index_files_rewritten=report.index_files_rewritten,
        packs_deleted=1,
        dictionaries_deleted=0,
    )
    assert repo.verify().ok
    repo.gc()
    assert repo.recovery_plan({ALICE: maildir.root}).empty


def test_a_stale_plan_is_refused(repo: mtm.Repository, maildir: Maildir, tmp_path: Path) -> None:
    maildir.add(mail("only"))
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    for pack in (tmp_path / "repo" / "packs").rglob("*"):
        if pack.is_file():
            flip_catalogs(pack)
    plan = repo.recovery_plan({ALICE: maildir.root})
    assert plan.recovered_messages == 1
    for path in list(maildir.files.values()):
        path.unlink()
    with pytest.raises(mtm.InvalidInputError, match="plan again"):
        repo.recover(plan)


def test_a_record_one_flipped_bit_damaged_is_mended_and_one_damaged_beyond_proof_moved_aside(
    repo: mtm.Repository, maildir: Maildir, tmp_path: Path
) -> None:
    maildir.add(mail("kept"))
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    repo.snapshot(ALICE, maildir.root, now=DAY2)
    records = sorted((tmp_path / "repo" / "snapshots" / ALICE).iterdir())
    flipped, zeroed = bytearray(records[0].read_bytes()), bytearray(records[1].read_bytes())
    flipped[len(flipped) // 2] ^= 0x10
    zeroed[len(zeroed) // 2 : len(zeroed) // 2 + 16] = bytes(16)
    for path, data in zip(records, (flipped, zeroed)):
        path.unlink()
        path.write_bytes(bytes(data))

    plan = repo.recovery_plan({ALICE: maildir.root})
    said = plan.set_aside
    assert len(said) == 2, said
    assert any("one bit of it was flipped" in s for s in said), said
    assert any("is unreadable" in s and "dropped" in s for s in said), said
    report = repo.recover(plan, now=datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc))
    assert (report.records_mended, report.records_quarantined) == (1, 1)
    assert repo.verify().ok
    assert repo.account(ALICE).days() == [DAY1.date()]
