"""Fixtures: Maildirs written by the tests themselves (Dovecot's Maildir++ layout)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest

import mtm

DAY1 = datetime(2026, 11, 20, 0, 0, 30, tzinfo=timezone.utc)
DAY2 = datetime(2026, 11, 21, 0, 0, 30, tzinfo=timezone.utc)
ALICE = "alice@example.com"


def folder_dir(root: Path, folder: str) -> Path:
    """The Maildir++ directory of a folder (ASCII names only, enough for these tests)."""
    if folder == "INBOX":
        return root
    return root / ("." + folder.replace("/", "."))


@dataclass
class Maildir:
    """A Maildir++ account under construction."""

    root: Path
    counter: int = 0
    files: Dict[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for sub in ("cur", "new", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def folder(self, name: str, subscribed: bool = True) -> Path:
        path = folder_dir(self.root, name)
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        (path / "maildirfolder").touch()
        if subscribed and name != "INBOX":
            subs = self.root / "subscriptions"
            lines = subs.read_text().splitlines()[2:] if subs.exists() else []
            if name not in lines:
                lines.append(name.replace("/", "\t"))
            subs.write_text("V\t2\n\n" + "".join(line + "\n" for line in lines))
        return path

    def add(
        self,
        raw: bytes,
        folder: str = "INBOX",
        flags: str = "",
        received: Optional[float] = None,
        key: Optional[str] = None,
    ) -> Path:
        """Delivers `raw` into `folder`; returns the file. `key` names it for later moves."""
        self.counter += 1
        name = f"{1700000000 + self.counter}.M{self.counter}P1.test,S={len(raw)}:2,{flags}"
        path = folder_dir(self.root, folder) / "cur" / name
        if not path.parent.exists():
            self.folder(folder)
        path.write_bytes(raw)
        stamp = received if received is not None else 1_763_000_000 + self.counter
        os.utime(path, (stamp, stamp))
        self.files[key or name] = path
        return path

    def move(self, key: str, folder: str) -> None:
        src = self.files[key]
        dst = folder_dir(self.root, folder) / "cur" / src.name
        src.rename(dst)
        self.files[key] = dst

    def set_flags(self, key: str, flags: str) -> None:
        src = self.files[key]
        dst = src.with_name(src.name.split(":2,")[0] + ":2," + flags)
        src.rename(dst)
        self.files[key] = dst

    def delete(self, key: str) -> None:
        self.files.pop(key).unlink()


def mail(
    subject: str,
    body: str = "Hello\n",
    sender: str = "Bob <bob@example.org>",
    to: str = "alice@example.com",
    extra: str = "",
) -> bytes:
    return (
        f"From: {sender}\nTo: {to}\nSubject: {subject}\n"
        f"Date: Thu, 19 Nov 2026 10:00:00 +0000\nMessage-ID: <{abs(hash(subject))}@example.org>\n"
        f"{extra}\n{body}"
    ).encode()


@pytest.fixture
def maildir(tmp_path: Path) -> Maildir:
    return Maildir(tmp_path / "maildirs" / ALICE)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[mtm.Repository]:
    with mtm.Repository.init(tmp_path / "repo") as repo:
        yield repo
