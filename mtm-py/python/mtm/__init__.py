"""Mail Time Machine from Python: daily, deduplicated, read-only snapshots of Maildir
mailboxes, browsing any retained day, byte-exact ``.eml`` download, search, diff, retention
and integrity checks.

>>> import mtm, datetime
>>> with mtm.Repository.open("/srv/mtm") as repo:                    # doctest: +SKIP
...     for result in repo.snapshot_root("/var/mail/maildirs"):
...         print(result.account, result.report or result.error)

Restores go through :class:`RestoreDesk`: a user requests, an administrator approves (the
restore runs, is billed, and the user is told) or rejects; see its methods.

Every call into the library releases the GIL, so a thread pool can snapshot several accounts
at once. Every error is an :class:`MtmError` subclass carrying the library's message.
"""

from __future__ import annotations

from . import _errors, _types
from ._errors import *  # noqa: F403  (the names are listed in _errors.__all__)
from ._mtm import (
    Account,
    MessageIterator,
    RecoveryPlan,
    Repository,
    RestoreDesk,
    TenantsFile,
    __version__,
)
from ._types import *  # noqa: F403  (the names are listed in _types.__all__)

__all__ = [
    "__version__",
    "Repository",
    "Account",
    "MessageIterator",
    "RestoreDesk",
    "RecoveryPlan",
    "TenantsFile",
]
__all__ += _errors.__all__
__all__ += _types.__all__
