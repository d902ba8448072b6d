"""The exceptions of :mod:`mtm`: one hierarchy rooted at :class:`MtmError`.

The native module raises these classes; each carries the core library's message, written
for people (``str(error)``). Where a built-in exception means the same thing, the class
also derives from it, so ``except ValueError`` or ``except LookupError`` keeps working.
"""

from __future__ import annotations

__all__ = [
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
]


class MtmError(Exception):
    """Base class of every error raised by :mod:`mtm`."""


class InvalidInputError(MtmError, ValueError):
    """An argument was malformed: an account id, folder name, message id, time or option."""


class NotFoundError(MtmError, LookupError):
    """The thing asked for does not exist: repository, account, day, folder or message."""


class AlreadyExistsError(MtmError):
    """The thing to create exists already: a repository, or that account's snapshot of that day."""


class IntegrityError(MtmError):
    """Stored bytes do not match their hash, or a stored structure cannot be decoded."""


class UnsupportedFormatError(MtmError):
    """The repository was written in a format version this library cannot read."""


class StorageError(MtmError, OSError):
    """The operating system or the storage backend failed."""


class SourceError(MtmError):
    """A Maildir could not be read."""


class BusyError(MtmError):
    """Another process holds a conflicting lock on the repository; try again later."""


class InvalidTransitionError(MtmError):
    """A restore request cannot make that step from its current state."""


class PermissionDeniedError(MtmError, PermissionError):
    """The caller may not do this (for example, approve a restore request without being an admin)."""


class ClosedError(MtmError):
    """The repository was closed (its ``with`` block ended, or ``close()`` was called)."""


class InternalError(MtmError):
    """A bug in the library (a Rust panic, caught at the boundary). Please report it."""
