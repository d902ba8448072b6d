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
from typing import Generic, Iterable, List, Optional, Protocol, Tuple, TypeVar

from ._errors import InvalidInputError, MtmError

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
    "IndexRepairReport",
    "UpgradeReport",
    "RepairedMessage",
    "RepairedSnapshot",
    "RecoveryReport",
    "Actor",
    "RequestId",
    "Scope",
    "RequestState",
    "NotificationKind",
    "Pricing",
    "AdminContact",
    "Tenant",
    "TenantDirectory",
    "RestoreRequest",
    "FolderPlan",
    "RestorePlan",
    "RestoreResult",
    "BillingRecord",
    "RestoreOutcome",
    "QueuedRequest",
    "DamagedRequest",
    "RequestListing",
    "AuditEntry",
    "Notification",
    "Notifier",
    "BillingSink",
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
    KEYWORDS_CHANGED = "keywords_changed"


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
    """One attachment; ``data`` holds its decoded bytes.

    An attachment larger than the view decodes (4 MiB of encoded
    body) is ``omitted``: ``data`` is empty, ``size`` is its decoded size, and
    ``AccountView.attachment(day, id, index)`` gives its bytes.
    """

    name: Optional[str]
    content_type: str
    size: int
    data: bytes = field(repr=False)
    omitted: bool = False


@dataclass(frozen=True)
class ParsedMessage:
    """A message as webmail shows it.

    ``truncated`` says that ``text`` or ``html`` is only the beginning of a body longer
    than the view decodes; ``AccountView.raw`` gives the whole message.
    """

    summary: Summary
    headers: Tuple[Header, ...]
    text: Optional[str]
    html: Optional[str]
    attachments: Tuple[Attachment, ...]
    truncated: bool = False


@dataclass(frozen=True)
class Sighting:
    """Where and how a message was on one day: its folder, flags and IMAP keywords."""

    day: date
    folder: str
    flags: frozenset[Flag]
    keywords: frozenset[str] = frozenset()


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
    """A folder a message was in, with its flags and IMAP keywords (``$label1``, ``Junk``
    …) there."""

    folder: str
    flags: frozenset[Flag]
    keywords: frozenset[str] = frozenset()


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
    ``warnings`` names what the live side skipped (symlinks, FIFOs, unreadable or vanished
    messages: an unreadable one may show as removed); always empty between two days.
    """

    from_day: Optional[date]
    to_day: Optional[date]
    entries: Tuple[DiffEntry, ...]
    note: str
    warnings: Tuple[str, ...] = ()

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
class UpgradeReport:
    """What ``Repository.upgrade()`` did: the repository's format before and after, and how
    many index files it merged into one sorted file (nothing when the format was current)."""

    from_format: int
    to_format: int
    index_files_merged: int

    @property
    def upgraded(self) -> bool:
        """Whether there was anything to convert."""
        return self.from_format != self.to_format


@dataclass(frozen=True)
class IndexRepairReport:
    """What ``Repository.repair_index()`` did: index entries rebuilt from pack trailers."""

    packs: int
    packs_read: int
    packs_indexed: int
    blobs_indexed: int
    index_files_written: Tuple[str, ...]
    damaged_index_files_removed: Tuple[str, ...]
    problems: Tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """Whether every pack's trailer could be read."""
        return not self.problems


@dataclass(frozen=True)
class RepairedMessage:
    """A damaged message a recovery stores again or drops (``file`` and ``id`` are None,
    and ``messages`` the folder's count, when its folder's manifest is unreadable)."""

    folder: str
    file: Optional[str]
    id: Optional[str]
    messages: int
    reason: str


@dataclass(frozen=True)
class RepairedSnapshot:
    """What a recovery does to one snapshot."""

    account: str
    day: date
    recovered: Tuple[RepairedMessage, ...]
    lost: Tuple[RepairedMessage, ...]


@dataclass(frozen=True)
class RecoveryReport:
    """What ``Repository.recover()`` did."""

    snapshots_rewritten: int
    messages_recovered: int
    messages_lost: int
    blobs_rescued: int
    index_files_rewritten: int
    packs_deleted: int
    dictionaries_deleted: int
    #: Unreadable snapshot records moved aside under ``damaged/`` (their days dropped).
    records_quarantined: int = 0
    #: Damaged records whose seal proved the original: published again, the day kept.
    records_mended: int = 0
    #: Restore journal entries whose seal proved the original: published again.
    journal_entries_mended: int = 0


@dataclass(frozen=True)
class RepositoryStats:
    """The size of a repository."""

    files: int
    bytes: int
    packs: int
    pack_bytes: int
    snapshots: int
    blobs: int


# ---- restore ----


@dataclass(frozen=True)
class Actor:
    """Who makes a move in the restore workflow: ``Actor.user(account)`` (the owner of an
    account), ``Actor.admin(name)`` (a provider administrator), ``Actor.tenant_admin(tenant,
    name)`` (an administrator of one tenant, who sees and decides only the requests of the
    accounts that tenant owns), or ``Actor.system()`` (the library itself, which expires
    overdue requests). ``name`` is the account id of a user, the name of an administrator,
    and empty for the system; ``tenant`` is the tenant id of a tenant administrator, and
    empty for the other roles. ``TenantsFile.admin(name)`` gives the actor a name stands for."""

    role: str
    name: str = ""
    tenant: str = ""

    def __post_init__(self) -> None:
        if self.role not in ("user", "admin", "tenant_admin", "system"):
            raise InvalidInputError(
                f"invalid actor role {self.role!r}: one of user, admin, tenant_admin, system"
            )
        if self.role == "tenant_admin" and not self.tenant:
            raise InvalidInputError("a tenant administrator needs its tenant")
        if self.role != "tenant_admin" and self.tenant:
            raise InvalidInputError(
                f"only a tenant_admin has a tenant, not a {self.role} (got {self.tenant!r})"
            )

    @classmethod
    def user(cls, account: str) -> Actor:
        return cls("user", account)

    @classmethod
    def admin(cls, name: str) -> Actor:
        return cls("admin", name)

    @classmethod
    def tenant_admin(cls, tenant: str, name: str) -> Actor:
        return cls("tenant_admin", name, tenant)

    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    def __str__(self) -> str:
        if self.role == "system":
            return "the system"
        if self.role == "tenant_admin":
            return f"admin {self.name} of {self.tenant}"
        return f"{self.role} {self.name}"


@dataclass(frozen=True)
class RequestId:
    """A restore request: the account's n-th. ``str()`` gives ``<account>/<number>``, the
    form every method also accepts."""

    account: str
    number: int

    @classmethod
    def parse(cls, text: str) -> RequestId:
        account, sep, number = text.rpartition("/")
        if not sep or not number.isdigit():
            raise InvalidInputError(
                f"invalid restore request id: {text!r}: expected <account>/<number>"
            )
        return cls(account, int(number))

    def __str__(self) -> str:
        return f"{self.account}/{self.number}"


def _names(items: Iterable[str]) -> Tuple[str, ...]:
    if isinstance(items, str):
        raise InvalidInputError("scope names must be a list of strings, not one string")
    return tuple(items)


@dataclass(frozen=True)
class Scope:
    """What a restore covers: ``Scope.account()`` (everything), ``Scope.folders([...])``
    (folder names, ``/``-separated) or ``Scope.messages([...])`` (message ids in hex).
    ``kind`` is ``"account"``, ``"folders"`` or ``"messages"``; ``names`` holds the folders
    or message ids."""

    kind: str
    names: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("account", "folders", "messages"):
            raise InvalidInputError(
                f"invalid scope kind {self.kind!r}: one of account, folders, messages"
            )
        object.__setattr__(self, "names", _names(self.names))
        if self.kind == "account" and self.names:
            raise InvalidInputError("a whole-account scope names nothing")

    @classmethod
    def account(cls) -> Scope:
        return cls("account")

    @classmethod
    def folders(cls, folders: Iterable[str]) -> Scope:
        return cls("folders", _names(folders))

    @classmethod
    def messages(cls, messages: Iterable[str]) -> Scope:
        return cls("messages", _names(messages))


class RequestState(enum.Enum):
    """Where a restore request stands. Requested, approved, running and interrupted are
    open; the others are final. ``interrupted``: the last run stopped with an error (the
    request's reason says which); ``RestoreDesk.run`` retries it, ``RestoreDesk.give_up``
    ends it as ``failed``."""

    REQUESTED = "requested"
    APPROVED = "approved"
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in (
            RequestState.REQUESTED,
            RequestState.APPROVED,
            RequestState.RUNNING,
            RequestState.INTERRUPTED,
        )


class NotificationKind(enum.Enum):
    """Why a notification is sent."""

    NEW_REQUEST = "new_request"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Pricing:
    """What a restore costs, in minor units of ``currency`` (cents): ``base`` for every
    restore plus ``per_gib`` for each started GiB restored."""

    currency: str = "EUR"
    base: int = 0
    per_gib: int = 0


@dataclass(frozen=True)
class AdminContact:
    """An administrator: the name they act under and the address new requests go to."""

    name: str
    email: str


@dataclass(frozen=True)
class Tenant:
    """A customer of the provider: the mail domains (and single accounts) it owns, its
    administrators, its prices (``None``: the provider's), the language and IANA time zone
    of its emails. ``name`` is for people; ``id`` is stored in journals and bills."""

    id: str
    name: str = ""
    domains: Tuple[str, ...] = ()
    accounts: Tuple[str, ...] = ()
    admins: Tuple[AdminContact, ...] = ()
    pricing: Optional[Pricing] = None
    language: str = "en"
    time_zone: str = "UTC"



class TenantDirectory(Protocol):
    """What ``RestoreDesk(tenants=...)`` asks who owns an account: your customer database.
    ``owner`` returns the ``Tenant`` that owns ``account`` now, or ``None`` for the
    provider's own accounts. A desk also calls ``tenant(id)``, when you define it, to price
    a bill retried after its approval."""

    def owner(self, account: str) -> Optional[Tenant]: ...

@dataclass(frozen=True)
class RestoreRequest:
    """A restore request as it stands. ``deadline`` is when the snapshot leaves retention:
    a request still undecided then expires. ``decided_by`` names the administrator who
    approved or rejected; ``reason`` is the rejection's or the failure's. ``tenant`` is the
    id of the tenant that owned the account when the request was last moved (``None``: the
    provider)."""

    id: RequestId
    day: date
    scope: Scope
    requested_by: Actor
    requested_at: datetime
    deadline: datetime
    state: RequestState
    updated_by: Actor
    updated_at: datetime
    decided_by: Optional[str]
    reason: Optional[str]
    tenant: Optional[str] = None


@dataclass(frozen=True)
class FolderPlan:
    """One folder of a restore plan."""

    folder: str
    in_snapshot: int
    to_restore: int
    bytes_to_restore: int
    already_present: int
    recreate: bool
    resubscribe: bool


@dataclass(frozen=True)
class RestorePlan:
    """A dry run of a restore against the live Maildir: per folder, what would come back."""

    account: str
    day: date
    scope: Scope
    folders: Tuple[FolderPlan, ...]
    messages: int
    bytes: int
    already_present: int


@dataclass(frozen=True)
class RestoreResult:
    """What a restore run did."""

    messages_restored: int
    bytes_restored: int
    already_present: int
    folders_recreated: Tuple[str, ...]
    folders_resubscribed: Tuple[str, ...]
    warnings: Tuple[str, ...]


@dataclass(frozen=True)
class BillingRecord:
    """One bill, written when a request is approved (never for a rejected one, never twice).
    ``price`` is in minor units of ``currency``; deduplicate on ``request``. ``tenant`` is
    the id of the tenant billed (the approval was made for it, at its prices), ``None`` for
    the provider's own accounts."""

    request: RequestId
    account: str
    day: date
    scope: Scope
    messages: int
    bytes: int
    price: int
    currency: str
    approved_by: str
    at: datetime
    tenant: Optional[str] = None


@dataclass(frozen=True)
class RestoreOutcome:
    """What a workflow call did: the request as it now stands and what came with the move.
    ``problems`` lists side effects that failed (billing, notifications): the state change
    stands, and ``RestoreDesk.deliver_pending`` retries them."""

    request: RestoreRequest
    plan: Optional[RestorePlan]
    result: Optional[RestoreResult]
    billed: Optional[BillingRecord]
    problems: Tuple[str, ...]


@dataclass(frozen=True)
class QueuedRequest:
    """A request waiting for an administrator's decision, with its plan."""

    request: RestoreRequest
    plan: Optional[RestorePlan]


@dataclass(frozen=True)
class DamagedRequest:
    """A restore request whose journal cannot be read (a damaged entry). The calls that walk
    many requests go on past it and list it in ``damaged``; ``Repository.verify`` names it
    too; a call on this request alone raises ``IntegrityError``. ``str()`` is the warning."""

    id: RequestId
    error: str

    def __str__(self) -> str:
        return f"restore request {self.id} cannot be read (`mtm verify` names it): {self.error}"


_T = TypeVar("_T")


class RequestListing(List[_T], Generic[_T]):
    """What a call that walks many restore requests returns: a list of what it listed or
    did, and ``damaged``, the requests it went past because their journal cannot be read
    (empty when every one was read)."""

    damaged: Tuple[DamagedRequest, ...]

    def __init__(self, items: Iterable[_T] = (), damaged: Iterable[DamagedRequest] = ()):
        super().__init__(items)
        self.damaged = tuple(damaged)

    def __repr__(self) -> str:
        return f"RequestListing({list.__repr__(self)}, damaged={self.damaged!r})"


@dataclass(frozen=True)
class AuditEntry:
    """One entry of a request's audit trail. ``event`` is one of ``requested``, ``moved``,
    ``resumed``, ``owner_changed``, ``billed``, ``billing_failed``, ``notified``,
    ``notification_failed``; the fields after it are set where the event has them:

    - ``requested``: ``to_state`` (requested), ``plan``;
    - ``moved``: ``action`` (approve, reject, cancel, expire, start, complete, interrupt,
      retry, give_up, fail), ``from_state``, ``to_state``, ``reason`` (reject, interrupt,
      give_up, fail), ``plan``, ``result``;
    - ``billed``: ``bill``; ``billing_failed``: ``error``;
    - ``notified``: ``notification``, ``recipient``; ``notification_failed``: those and ``error``;
    - ``owner_changed`` (the account moved to another tenant; the new one decides from then
      on): ``from_tenant``, ``to_tenant`` (``None``: the provider).

    ``recipient`` is the account told, or ``None`` for the administrators. ``tenant`` is the
    tenant that owned the account when the entry was written (``None``: the provider);
    ``on_behalf_of`` is that tenant when a provider administrator made the entry."""

    seq: int
    at: datetime
    actor: Actor
    event: str
    action: Optional[str] = None
    from_state: Optional[RequestState] = None
    to_state: Optional[RequestState] = None
    reason: Optional[str] = None
    plan: Optional[RestorePlan] = None
    result: Optional[RestoreResult] = None
    bill: Optional[BillingRecord] = None
    notification: Optional[NotificationKind] = None
    recipient: Optional[str] = None
    error: Optional[str] = None
    from_tenant: Optional[str] = None
    to_tenant: Optional[str] = None
    tenant: Optional[str] = None
    on_behalf_of: Optional[str] = None


@dataclass(frozen=True)
class Notification:
    """One notification handed to a notifier. ``recipient`` is the account to tell, or
    ``None`` for the administrators. ``plan`` comes with a new request, ``result`` with a
    completed restore. ``sent_at`` is when it is handed over, by the ``now`` of the call
    that sends it (an email's ``Date``). ``tenant`` is the tenant that owns the account now
    (who its administrators are), ``None`` for the provider's own accounts; ``language``
    and ``time_zone`` (an IANA name) are the ones to write in: the tenant's, or the
    provider's."""

    kind: NotificationKind
    recipient: Optional[str]
    request: RestoreRequest
    plan: Optional[RestorePlan]
    result: Optional[RestoreResult]
    sent_at: datetime
    tenant: Optional[Tenant] = None
    language: str = "en"
    time_zone: str = "UTC"

    @property
    def to_admins(self) -> bool:
        return self.recipient is None


class Notifier(Protocol):
    """What ``RestoreDesk(notifier=...)`` calls to send a notification. An exception it
    raises does not undo the move: it is recorded in the audit trail, reported in the
    outcome's ``problems``, and retried by ``RestoreDesk.deliver_pending``."""

    def notify(self, notification: Notification) -> None: ...


class BillingSink(Protocol):
    """What ``RestoreDesk(billing=...)`` calls to bill an approved restore (the default is the
    repository's own ledger). An exception it raises is recorded and retried like a
    notifier's. The same record may be offered again after a crash: deduplicate on
    ``record.request``."""

    def bill(self, record: BillingRecord) -> None: ...
