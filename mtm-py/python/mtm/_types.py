"""Result types of :mod:`mtm`: frozen dataclasses and enums.

Every object the library returns is immutable, compares by value, and has a readable
``repr``. Sequences are tuples, flag sets are ``frozenset``\\ s, days are ``datetime.date``
(the provider's local calendar day), instants are time-zone aware ``datetime.datetime``
in UTC, and message bodies are ``bytes``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Optional, Tuple

from ._errors import MtmError

__all__ = [
    "Flag",
    "SortKey",
    "ChangeKind",
    "SnapshotReport",
    "AccountSnapshot",
    "SnapshotInfo",
    "FolderInfo",
    "Summary",
    "MessageInfo",
    "MessagePage",
    "Header",
    "Attachment",
    "ParsedMessage",
    "Sighting",
    "SearchHit",
    "Placement",
    "DiffEntry",
    "SnapshotDiff",
    "ExpiredSnapshot",
    "PinnedSnapshot",
    "PrunePlan",
    "PruneReport",
    "GcReport",
    "DamagedMessage",
    "Problem",
    "VerifyReport",
    "RepositoryStats",
]


class Flag(enum.Enum):
    """An IMAP system flag; the value is its Maildir letter."""

    DRAFT = "D"
    FLAGGED = "F"
    PASSED = "P"
    REPLIED = "R"
    SEEN = "S"
    TRASHED = "T"


class SortKey(enum.Enum):
    """The order of a message list."""

    DATE = "date"
    RECEIVED = "received"
    FROM = "from"
    SUBJECT = "subject"
    SIZE = "size"


class ChangeKind(enum.Enum):
    """How a message changed between the two sides of a diff."""

    REMOVED = "removed"
    ADDED = "added"
    MOVED = "moved"
    FLAGS_CHANGED = "flags_changed"


@dataclass(frozen=True)
class SnapshotReport:
    """What one snapshot stored and what it saw."""

    account: str
    day: date
    folders: int
    messages: int
    bytes: int
    files_read: int
    files_unchanged: int
    new_messages: int
    stored_blobs: int
    stored_bytes: int
    vanished: int
    warnings: Tuple[str, ...]


@dataclass(frozen=True)
class AccountSnapshot:
    """The outcome for one account of a snapshot of many: a report, or the error."""

    account: str
    maildir: Path
    report: Optional[SnapshotReport]
    error: Optional[MtmError]

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class SnapshotInfo:
    """One snapshot, as a day picker shows it."""

    account: str
    day: date
    taken_at: datetime
    folders: int
    messages: int
    bytes: int


@dataclass(frozen=True)
class FolderInfo:
    """One folder of a snapshot (subscribed or not)."""

    name: str
    subscribed: bool
    messages: int
    bytes: int


@dataclass(frozen=True)
class Summary:
    """What a message list shows of a message's headers. ``parsed`` is false when the
    bytes are not a message at all (then every field is empty)."""

    from_: str
    to: str
    cc: str
    subject: str
    date: Optional[datetime]
    message_id: str
    has_attachments: bool
    parsed: bool


@dataclass(frozen=True)
class MessageInfo:
    """One message of a folder on one day. ``id`` is the BLAKE3 of its raw bytes, in hex."""

    id: str
    folder: str
    file_name: str
    size: int
    received: datetime
    flags: frozenset[Flag]
    keywords: Tuple[str, ...]
    summary: Summary


@dataclass(frozen=True)
class MessagePage:
    """One page of a folder's message list."""

    total: int
    offset: int
    messages: Tuple[MessageInfo, ...]


@dataclass(frozen=True)
class Header:
    """One header field, unfolded and decoded to text."""

    name: str
    value: str


@dataclass(frozen=True)
class Attachment:
    """One attachment; ``data`` holds its decoded bytes."""

    name: Optional[str]
    content_type: str
    size: int
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class ParsedMessage:
    """A message as webmail shows it."""

    summary: Summary
    headers: Tuple[Header, ...]
    text: Optional[str]
    html: Optional[str]
    attachments: Tuple[Attachment, ...]


@dataclass(frozen=True)
class Sighting:
    """Where and how a message was on one day."""

    day: date
    folder: str
    flags: frozenset[Flag]


@dataclass(frozen=True)
class SearchHit:
    """One message found, with every day and folder where the snapshots saw it."""

    id: str
    size: int
    received: datetime
    summary: Summary
    seen: Tuple[Sighting, ...]


@dataclass(frozen=True)
class Placement:
    """A folder a message was in, with its flags there."""

    folder: str
    flags: frozenset[Flag]


@dataclass(frozen=True)
class DiffEntry:
    """One changed message: where it was before and after."""

    change: ChangeKind
    id: str
    summary: Summary
    size: int
    before: Tuple[Placement, ...]
    after: Tuple[Placement, ...]


@dataclass(frozen=True)
class SnapshotDiff:
    """The changes between two sides; a side of ``None`` is the live Maildir.

    ``note`` says what no diff can show: mail received and deleted between two snapshots.
    """

    from_day: Optional[date]
    to_day: Optional[date]
    entries: Tuple[DiffEntry, ...]
    note: str

    def count(self, kind: ChangeKind) -> int:
        """How many entries are of ``kind``."""
        return sum(1 for e in self.entries if e.change is kind)


@dataclass(frozen=True)
class ExpiredSnapshot:
    """A snapshot a prune would remove."""

    account: str
    day: date
    messages: int
    bytes: int


@dataclass(frozen=True)
class PinnedSnapshot:
    """A snapshot past the retention window that an open restore request keeps (until the
    request is decided or its deadline passes). ``request`` is ``<account>/<number>``."""

    account: str
    day: date
    request: str


@dataclass(frozen=True)
class PrunePlan:
    """What a prune would do; pass it to ``Repository.prune``. ``pinned`` lists the
    snapshots past the window that open restore requests keep."""

    today: date
    keep_from: date
    expired: Tuple[ExpiredSnapshot, ...]
    kept: int
    reclaimable_blobs: int
    reclaimable_bytes: int
    pinned: Tuple[PinnedSnapshot, ...] = ()


@dataclass(frozen=True)
class PruneReport:
    """What a prune did."""

    removed: int


@dataclass(frozen=True)
class GcReport:
    """What a garbage collection did."""

    blobs_removed: int
    packs_deleted: int
    packs_repacked: int
    pack_bytes_before: int
    pack_bytes_after: int


@dataclass(frozen=True)
class DamagedMessage:
    """A message that stored damage makes unreadable on one day."""

    account: str
    day: date
    folder: str
    subject: str
    id: str


@dataclass(frozen=True)
class Problem:
    """One thing verify found wrong, and the messages it hurts."""

    location: str
    reason: str
    messages: Tuple[DamagedMessage, ...]


@dataclass(frozen=True)
class VerifyReport:
    """What verify checked and found."""

    index_files: int
    packs: int
    packs_read: int
    blobs_checked: int
    snapshots: int
    messages: int
    unreferenced_packs: int
    problems: Tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems


@dataclass(frozen=True)
class RepositoryStats:
    """The size of a repository."""

    files: int
    bytes: int
    packs: int
    pack_bytes: int
    snapshots: int
    blobs: int
