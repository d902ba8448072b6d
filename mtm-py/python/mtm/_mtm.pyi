# Type stubs of the native module mtm._mtm (the Rust half of the package). The result types
# and exceptions are ordinary Python in _types.py and _errors.py.
from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Iterable, Iterator, Mapping, Optional, Tuple, Type, Union

from ._types import (
    AccountSnapshot,
    Actor,
    AuditEntry,
    BillingRecord,
    BillingSink,
    Notifier,
    Tenant,
    TenantDirectory,
    Pricing,
    QueuedRequest,
    RequestId,
    RequestListing,
    RestoreOutcome,
    RestorePlan,
    RestoreRequest,
    Scope,
    FolderInfo,
    GcReport,
    IndexRepairReport,
    UpgradeReport,
    Problem,
    RecoveryReport,
    RepairedSnapshot,
    MessageInfo,
    MessagePage,
    ParsedMessage,
    PrunePlan,
    PruneReport,
    RepositoryStats,
    SearchHit,
    Sighting,
    SnapshotDiff,
    SnapshotInfo,
    SnapshotReport,
    SortKey,
    VerifyReport,
)

_Path = Union[str, "os.PathLike[str]"]

__version__: str

class Repository:
    @classmethod
    def init(
        cls,
        path: _Path,
        *,
        time_zone: str = "UTC",
        header_dictionary: bool = True,
        retention_days: int = 15,
    ) -> Repository: ...
    @classmethod
    def open(cls, path: _Path) -> Repository: ...
    @classmethod
    def upgrade(cls, path: _Path) -> UpgradeReport: ...
    @property
    def path(self) -> Path: ...
    @property
    def time_zone(self) -> str: ...
    @property
    def retention_days(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Repository: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
    def day_at(self, instant: datetime) -> date: ...
    def accounts(self) -> list[str]: ...
    def account(self, account: str) -> Account: ...
    def snapshot(
        self,
        account: str,
        maildir: _Path,
        *,
        now: Optional[datetime] = None,
        threads: int = 0,
        follow_account_symlinks: bool = False,
    ) -> SnapshotReport: ...
    def snapshot_many(
        self,
        accounts: Union[Iterable[Tuple[str, _Path]], Mapping[str, _Path]],
        *,
        now: Optional[datetime] = None,
        threads: int = 0,
        follow_account_symlinks: bool = False,
    ) -> list[AccountSnapshot]: ...
    def snapshot_root(
        self,
        root: _Path,
        *,
        now: Optional[datetime] = None,
        threads: int = 0,
        follow_account_symlinks: bool = False,
    ) -> list[AccountSnapshot]: ...
    def stats(self) -> RepositoryStats: ...
    def prune_plan(
        self, *, now: Optional[datetime] = None, account: Optional[str] = None
    ) -> PrunePlan: ...
    def prune(self, plan: PrunePlan, *, now: Optional[datetime] = None) -> PruneReport: ...
    def gc(self, *, repack_below: float = 0.5, max_unused: float = 0.05) -> GcReport: ...
    def verify(self, *, read_data: float = 1.0) -> VerifyReport: ...
    def restore_plan(
        self,
        account: str,
        day: date,
        scope: Optional[Scope],
        maildir: _Path,
        *,
        follow_account_symlinks: bool = False,
    ) -> RestorePlan: ...
    def billing_ledger(self) -> list[BillingRecord]: ...
    def repair_index(self) -> IndexRepairReport: ...
    def recovery_plan(
        self, maildirs: Union[Iterable[Tuple[str, _Path]], Mapping[str, _Path]]
    ) -> RecoveryPlan: ...
    def recover(
        self, plan: RecoveryPlan, *, now: Optional[datetime] = None
    ) -> RecoveryReport: ...

class RecoveryPlan:
    @property
    def snapshots(self) -> Tuple[RepairedSnapshot, ...]: ...
    @property
    def damaged_packs(self) -> list[str]: ...
    @property
    def damaged_blobs(self) -> int: ...
    @property
    def damaged_dictionaries(self) -> list[str]: ...
    @property
    def set_aside(self) -> list[str]: ...
    @property
    def unrepairable(self) -> Tuple[Problem, ...]: ...
    @property
    def recovered_messages(self) -> int: ...
    @property
    def lost_messages(self) -> int: ...
    @property
    def empty(self) -> bool: ...

class Account:
    @property
    def name(self) -> str: ...
    def days(self) -> list[date]: ...
    def snapshot(self, day: date) -> SnapshotInfo: ...
    def folders(self, day: date) -> list[FolderInfo]: ...
    def messages(
        self,
        day: date,
        folder: str = "INBOX",
        *,
        sort: Optional[SortKey] = None,
        descending: bool = True,
        offset: int = 0,
        limit: int = 50,
    ) -> MessagePage: ...
    def iter_messages(
        self,
        day: date,
        folder: str = "INBOX",
        *,
        sort: Optional[SortKey] = None,
        descending: bool = True,
        page_size: int = 500,
    ) -> MessageIterator: ...
    def resolve_id(self, day: date, prefix: str) -> str: ...
    def message(self, day: date, id: str) -> MessageInfo: ...
    def raw(self, day: date, id: str) -> bytes: ...
    def parsed(self, day: date, id: str) -> ParsedMessage: ...
    def attachment(self, day: date, id: str, index: int) -> bytes: ...
    def search(
        self,
        *,
        day: Optional[date] = None,
        days: Optional[Tuple[date, date]] = None,
        from_: Optional[str] = None,
        to: Optional[str] = None,
        subject: Optional[str] = None,
        message_id: Optional[str] = None,
        since: Optional[date] = None,
        until: Optional[date] = None,
        has_attachment: Optional[bool] = None,
    ) -> list[SearchHit]: ...
    def diff(self, from_day: date, to_day: date) -> SnapshotDiff: ...
    def diff_live(
        self, day: date, maildir: _Path, *, follow_account_symlinks: bool = False
    ) -> SnapshotDiff: ...
    def history(self, id: str) -> list[Sighting]: ...

class MessageIterator(Iterator[MessageInfo]):
    def __iter__(self) -> MessageIterator: ...
    def __next__(self) -> MessageInfo: ...

_RequestRef = Union[str, RequestId]

class TenantsFile:
    @staticmethod
    def read(path: _Path) -> TenantsFile: ...
    @staticmethod
    def parse(text: str, origin: str = "<string>") -> TenantsFile: ...
    @property
    def tenants(self) -> Tuple[Tenant, ...]: ...
    @property
    def provider_admins(self) -> list[Tuple[str, str]]: ...
    @property
    def provider_decides_for_tenants(self) -> bool: ...
    @property
    def provider_language(self) -> str: ...
    def owner(self, account: str) -> Optional[Tenant]: ...
    def admin(self, name: str) -> Actor: ...

class RestoreDesk:
    def __init__(
        self,
        repo: Repository,
        maildirs: _Path,
        *,
        pricing: Optional[Pricing] = None,
        tag_keyword: Optional[str] = None,
        notifier: Optional[Notifier] = None,
        billing: Optional[BillingSink] = None,
        follow_account_symlinks: bool = False,
        tenants: Union[TenantsFile, TenantDirectory, None] = None,
        provider_decides_for_tenants: Optional[bool] = None,
        language: Optional[str] = None,
    ) -> None: ...
    @property
    def maildirs(self) -> Path: ...
    def owner(self, account: str) -> Optional[Tenant]: ...
    def ledger(
        self,
        actor: Actor,
        *,
        tenant: Optional[str] = None,
        provider_only: bool = False,
        since: Optional[datetime] = None,
        before: Optional[datetime] = None,
    ) -> list[BillingRecord]: ...
    def deadline(self, day: date) -> datetime: ...
    def request(
        self,
        actor: Actor,
        account: str,
        day: date,
        scope: Optional[Scope] = None,
        *,
        now: Optional[datetime] = None,
    ) -> RestoreOutcome: ...
    def get(self, actor: Actor, request: _RequestRef) -> RestoreOutcome: ...
    def plan(self, actor: Actor, request: _RequestRef) -> RestorePlan: ...
    def audit(self, actor: Actor, request: _RequestRef) -> list[AuditEntry]: ...
    def approve(
        self, actor: Actor, request: _RequestRef, *, now: Optional[datetime] = None
    ) -> RestoreOutcome: ...
    def run(
        self, actor: Actor, request: _RequestRef, *, now: Optional[datetime] = None
    ) -> RestoreOutcome: ...
    def reject(
        self,
        actor: Actor,
        request: _RequestRef,
        reason: str,
        *,
        now: Optional[datetime] = None,
    ) -> RestoreOutcome: ...
    def give_up(
        self,
        actor: Actor,
        request: _RequestRef,
        reason: str,
        *,
        now: Optional[datetime] = None,
    ) -> RestoreOutcome: ...
    def cancel(
        self, actor: Actor, request: _RequestRef, *, now: Optional[datetime] = None
    ) -> RestoreOutcome: ...
    def expire_overdue(
        self, *, now: Optional[datetime] = None
    ) -> RequestListing[RestoreOutcome]: ...
    def deliver_pending(self, *, now: Optional[datetime] = None) -> RequestListing[str]: ...
    def requests(
        self, actor: Actor, account: Optional[str] = None
    ) -> RequestListing[RestoreRequest]: ...
    def queue(
        self, actor: Actor, *, now: Optional[datetime] = None
    ) -> RequestListing[QueuedRequest]: ...

def _panic_for_tests(message: str) -> None: ...
