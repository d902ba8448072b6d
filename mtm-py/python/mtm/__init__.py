"""Mail Time Machine from Python: daily, deduplicated, read-only snapshots of Maildir
mailboxes, browsing any retained day, byte-exact ``.eml`` download, search, diff, retention
and integrity checks.

>>> import mtm, datetime
>>> with mtm.Repository.open("/srv/mtm") as repo:                    # doctest: +SKIP
...     for result in repo.snapshot_root("/var/mail/maildirs"):
...         print(result.account, result.report or result.error)

Every call into the library releases the GIL, so a thread pool can snapshot several accounts
at once. Every error is an :class:`MtmError` subclass carrying the library's message.
"""

from __future__ import annotations

from ._errors import (
    AlreadyExistsError,
    BusyError,
    ClosedError,
    IntegrityError,
    InternalError,
    InvalidInputError,
    InvalidTransitionError,
    MtmError,
    NotFoundError,
    PermissionDeniedError,
    SourceError,
    StorageError,
    UnsupportedFormatError,
)
from ._mtm import Account, MessageIterator, Repository, __version__
from ._types import (
    AccountSnapshot,
    Attachment,
    ChangeKind,
    DamagedMessage,
    DiffEntry,
    ExpiredSnapshot,
    Flag,
    FolderInfo,
    GcReport,
    Header,
    MessageInfo,
    MessagePage,
    ParsedMessage,
    PinnedSnapshot,
    Placement,
    Problem,
    PrunePlan,
    PruneReport,
    RepositoryStats,
    SearchHit,
    Sighting,
    SnapshotDiff,
    SnapshotInfo,
    SnapshotReport,
    SortKey,
    Summary,
    VerifyReport,
)

__all__ = [
    "__version__",
    "Repository",
    "Account",
    "MessageIterator",
    "MtmError",
    "InvalidInputError",
    "NotFoundError",
    "AlreadyExistsError",
    "IntegrityError",
    "UnsupportedFormatError",
    "StorageError",
    "SourceError",
    "BusyError",
    "InvalidTransitionError",
    "PermissionDeniedError",
    "ClosedError",
    "InternalError",
    "Flag",
    "SortKey",
    "ChangeKind",
    "AccountSnapshot",
    "Attachment",
    "DamagedMessage",
    "DiffEntry",
    "ExpiredSnapshot",
    "PinnedSnapshot",
    "FolderInfo",
    "GcReport",
    "Header",
    "MessageInfo",
    "MessagePage",
    "ParsedMessage",
    "Placement",
    "Problem",
    "PrunePlan",
    "PruneReport",
    "RepositoryStats",
    "SearchHit",
    "Sighting",
    "SnapshotDiff",
    "SnapshotInfo",
    "SnapshotReport",
    "Summary",
    "VerifyReport",
]
