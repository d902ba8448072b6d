"""Every exception class, each raised by a real bad input or a real bad repository."""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import date, datetime
from pathlib import Path

import pytest

import mtm
from conftest import ALICE, DAY1, Maildir, mail


@pytest.fixture
def snapped(repo: mtm.Repository, maildir: Maildir) -> mtm.Repository:
    maildir.add(mail("hello", body="x" * 3000))
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    return repo


def test_the_hierarchy() -> None:
    for name in mtm._errors.__all__:
        cls = getattr(mtm, name)
        assert issubclass(cls, mtm.MtmError) and issubclass(cls, Exception)
    assert issubclass(mtm.InvalidInputError, ValueError)
    assert issubclass(mtm.NotFoundError, LookupError)
    assert issubclass(mtm.StorageError, OSError)
    assert issubclass(mtm.PermissionDeniedError, PermissionError)
    # Restore's errors: the classes exist now; the core raises them once restore lands.
    assert not issubclass(mtm.InvalidTransitionError, ValueError)


@pytest.mark.parametrize(
    "call",
    [
        lambda r, m: r.account("../etc"),
        lambda r, m: r.snapshot("", m),
        lambda r, m: r.snapshot(ALICE, m, now=datetime(2026, 11, 21)),  # naive: refused
        lambda r, m: r.snapshot(ALICE, m, threads=-1),
        lambda r, m: r.account(ALICE).raw(date(2026, 11, 20), "not-hex"),
        lambda r, m: r.account(ALICE).raw(date(2026, 11, 20), "abc"),
        lambda r, m: r.account(ALICE).history("0123"),
        lambda r, m: r.account(ALICE).messages(date(2026, 11, 20), limit=-5),
        lambda r, m: r.account(ALICE).messages(date(2026, 11, 20), sort="sideways"),  # type: ignore[arg-type]
        lambda r, m: r.account(ALICE).messages(date(2026, 11, 20), folder="a//b"),
        lambda r, m: r.account(ALICE).iter_messages(date(2026, 11, 20), page_size=0),
        lambda r, m: r.account(ALICE).search(day=date(2026, 11, 20), days=(date(2026, 11, 20), date(2026, 11, 21))),
        lambda r, m: r.gc(repack_below=2.0),
        lambda r, m: r.verify(read_data=-0.1),
        lambda r, m: r.prune("not a plan"),  # type: ignore[arg-type]
        lambda r, m: r.day_at(date(2026, 11, 20)),  # type: ignore[arg-type]
    ],
)
def test_invalid_input(snapped: mtm.Repository, maildir: Maildir, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(mtm.InvalidInputError) as info:
        call(snapped, maildir.root)
    assert str(info.value)  # the core's (or the binding's) message, for people


def test_invalid_time_zone(tmp_path: Path) -> None:
    with pytest.raises(mtm.InvalidInputError, match="Mars/Base"):
        mtm.Repository.init(tmp_path / "repo", time_zone="Mars/Base")


@pytest.mark.parametrize(
    "call",
    [
        lambda r, m: r.account(ALICE).folders(date(2020, 1, 1)),
        lambda r, m: r.account("nobody@example.com").snapshot(date(2026, 11, 20)),
        lambda r, m: r.account(ALICE).messages(date(2026, 11, 20), "No such folder"),
        lambda r, m: r.account(ALICE).raw(date(2026, 11, 20), "0" * 64),
        lambda r, m: r.account(ALICE).history("f" * 64),
        lambda r, m: r.snapshot(ALICE, m / "missing"),
        lambda r, m: r.snapshot_root(m / "missing"),
    ],
)
def test_not_found(snapped: mtm.Repository, maildir: Maildir, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(mtm.NotFoundError, match="not found"):
        call(snapped, maildir.root)


def test_not_found_repository(tmp_path: Path) -> None:
    with pytest.raises(mtm.NotFoundError, match="repository"):
        mtm.Repository.open(tmp_path / "nothing here")


def test_already_exists(snapped: mtm.Repository, maildir: Maildir) -> None:
    with pytest.raises(mtm.AlreadyExistsError, match="2026-11-20"):
        snapped.snapshot(ALICE, maildir.root, now=DAY1)
    with pytest.raises(mtm.AlreadyExistsError):
        mtm.Repository.init(snapped.path)


def test_integrity_error_names_the_damaged_message(snapped: mtm.Repository) -> None:
    account = snapped.account(ALICE)
    info = account.messages(date(2026, 11, 20)).messages[0]
    # Damage every pack: whichever holds the body, reading it back must fail loudly.
    for pack in (snapped.path / "packs").rglob("*"):
        if pack.is_file():
            data = bytearray(pack.read_bytes())
            for i in range(64, len(data), 97):
                data[i] ^= 0x5A
            pack.write_bytes(bytes(data))
    fresh = mtm.Repository.open(snapped.path).account(ALICE)
    with pytest.raises(mtm.IntegrityError):
        fresh.raw(date(2026, 11, 20), info.id)


def test_unsupported_format(snapped: mtm.Repository) -> None:
    config = snapped.path / "config"
    # The config is sealed; write it back unsealed (as version 1 configs were) with a
    # version this library does not know.
    settings = json.loads(config.read_text())["record"]
    settings["format"] = 999
    config.write_text(json.dumps(settings))
    with pytest.raises(mtm.UnsupportedFormatError, match="999"):
        mtm.Repository.open(snapped.path)


def test_damaged_config(snapped: mtm.Repository) -> None:
    config = snapped.path / "config"
    config.write_text(config.read_text().replace('"retention_days": 15', '"retention_days": 0'))
    with pytest.raises(mtm.IntegrityError, match="config"):
        mtm.Repository.open(snapped.path)


def test_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a directory")
    with pytest.raises(mtm.StorageError) as info:
        mtm.Repository.init(blocker / "repo")
    assert isinstance(info.value, OSError)


def test_source_error(repo: mtm.Repository, tmp_path: Path) -> None:
    (tmp_path / "empty dir").mkdir()
    with pytest.raises(mtm.SourceError, match="not a maildir"):
        repo.snapshot(ALICE, tmp_path / "empty dir")


def test_busy_while_another_process_snapshots(snapped: mtm.Repository) -> None:
    # What a running snapshot in another live process leaves: a shared lock naming it.
    locks = snapped.path / "locks"
    locks.mkdir(exist_ok=True)
    host = Path("/proc/sys/kernel/hostname").read_text().strip() if Path("/proc/sys/kernel/hostname").exists() else socket.gethostname()
    lock = {"kind": "snapshot", "host": host, "pid": os.getppid() or 1, "taken": int(time.time())}
    (locks / "snapshot-00000000000000aa.json").write_text(json.dumps(lock))
    with pytest.raises(mtm.BusyError, match="busy"):
        snapped.gc()
    (locks / "snapshot-00000000000000aa.json").unlink()
    assert snapped.gc().blobs_removed == 0


def test_closed(snapped: mtm.Repository) -> None:
    snapped.close()
    with pytest.raises(mtm.ClosedError):
        snapped.stats()
    with pytest.raises(mtm.ClosedError):
        with snapped:
            pass


def test_a_panic_is_an_internal_error_not_a_crash() -> None:
    with pytest.raises(mtm.InternalError, match="boom"):
        mtm._mtm._panic_for_tests("boom")


def test_wrong_types_are_type_errors(snapped: mtm.Repository) -> None:
    with pytest.raises(TypeError):
        snapped.account(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        snapped.account(ALICE).days(1)  # type: ignore[call-arg]
