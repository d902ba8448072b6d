//! Core results as the frozen dataclasses and enums of `mtm/_types.py`, and Python
//! arguments as core values. Conversion only: no logic.

use chrono::{DateTime, NaiveDate, Utc};
use mtm_core::{
    AccountId, Action, Actor, AdminContact, AuditEntry, AuditEvent, BillingRecord, ChangeKind,
    DamagedMessage, DamagedRequest, DiffEntry, DiffSide, ExpiredSnapshot, Flag, Flags, FolderInfo,
    FolderName, FolderPlan, GcReport, Language, MessageId, MessageInfo, MessagePage, Notification,
    NotificationKind, ParsedMessage, PinnedSnapshot, Placement, Pricing, Problem, PrunePlan,
    PruneReport, QueuedRequest, Recipient, RepositoryStats, RequestId, RequestListing,
    RequestState, RestoreOutcome, RestorePlan, RestoreRequest, RestoreResult, RestoreScope,
    SearchHit, Sighting, SnapshotDiff, SnapshotInfo, SnapshotReport, SortKey, Summary, Tenant,
    TenantId, TimeZone, VerifyReport,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyFrozenSet, PyString, PyTuple, PyType};

use crate::error::{invalid, to_py};

/// Looks up a class of `mtm._types` once per call site.
macro_rules! types_class {
    ($py:expr, $name:literal) => {{
        static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        CLASS.import($py, "mtm._types", $name)
    }};
}

/// Builds an instance of a `mtm._types` dataclass from keyword arguments.
macro_rules! build {
    ($py:expr, $class:literal { $($field:ident : $value:expr),* $(,)? }) => {{
        let py: Python<'_> = $py;
        let kwargs = PyDict::new(py);
        $( kwargs.set_item(stringify!($field), $value)?; )*
        types_class!(py, $class)?.call((), Some(&kwargs))
    }};
}

type Obj<'py> = PyResult<Bound<'py, PyAny>>;

/// A tuple of converted items.
fn tuple<'py, T>(
    py: Python<'py>,
    items: impl IntoIterator<Item = T>,
    convert: impl Fn(Python<'py>, T) -> Obj<'py>,
) -> PyResult<Bound<'py, PyTuple>> {
    let items = items
        .into_iter()
        .map(|item| convert(py, item))
        .collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(py, items)
}

fn strings<'py>(py: Python<'py>, items: &[String]) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, items)
}

pub(crate) fn flag<'py>(py: Python<'py>, flag: Flag) -> Obj<'py> {
    types_class!(py, "Flag")?.call1((flag.letter().to_string(),))
}

pub(crate) fn flags<'py>(py: Python<'py>, flags: Flags) -> Obj<'py> {
    let members = flags
        .iter()
        .map(|f| flag(py, f))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyFrozenSet::new(py, &members)?.into_any())
}

fn change_kind<'py>(py: Python<'py>, kind: ChangeKind) -> Obj<'py> {
    types_class!(py, "ChangeKind")?.call1((kind.as_str(),))
}

fn day_side(side: DiffSide) -> Option<NaiveDate> {
    match side {
        DiffSide::Day(day) => Some(day),
        DiffSide::Live => None,
    }
}

fn instant(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}

pub(crate) fn snapshot_report<'py>(py: Python<'py>, r: &SnapshotReport) -> Obj<'py> {
    build!(py, "SnapshotReport" {
        account: r.account.as_str(),
        day: r.day,
        folders: r.folders,
        messages: r.messages,
        bytes: r.bytes,
        files_read: r.files_read,
        files_unchanged: r.files_unchanged,
        new_messages: r.new_messages,
        stored_blobs: r.stored_blobs,
        stored_bytes: r.stored_bytes,
        vanished: r.vanished,
        warnings: strings(py, &r.warnings)?,
    })
}

pub(crate) fn account_snapshot<'py>(
    py: Python<'py>,
    account: &str,
    maildir: &std::path::Path,
    outcome: &mtm_core::Result<SnapshotReport>,
) -> Obj<'py> {
    let (report, error) = match outcome {
        Ok(report) => (Some(snapshot_report(py, report)?), None),
        Err(e) => (None, Some(to_py(py, e).into_value(py))),
    };
    build!(py, "AccountSnapshot" {
        account: account,
        maildir: maildir,
        report: report,
        error: error,
    })
}

/// An `AccountSnapshot` for an account that was not snapshotted at all, with `error`.
pub(crate) fn account_skipped<'py>(
    py: Python<'py>,
    account: &str,
    maildir: &std::path::Path,
    error: PyErr,
) -> Obj<'py> {
    let error = Some(error.into_value(py));
    build!(py, "AccountSnapshot" {
        account: account,
        maildir: maildir,
        report: None::<Bound<'py, PyAny>>,
        error: error,
    })
}

pub(crate) fn snapshot_info<'py>(py: Python<'py>, s: &SnapshotInfo) -> Obj<'py> {
    build!(py, "SnapshotInfo" {
        account: s.account.as_str(),
        day: s.day,
        taken_at: s.taken_at,
        folders: s.folders,
        messages: s.messages,
        bytes: s.bytes,
    })
}

pub(crate) fn folder_info<'py>(py: Python<'py>, f: &FolderInfo) -> Obj<'py> {
    build!(py, "FolderInfo" {
        name: f.name.as_str(),
        subscribed: f.subscribed,
        messages: f.messages,
        bytes: f.bytes,
    })
}

pub(crate) fn summary<'py>(py: Python<'py>, s: &Summary) -> Obj<'py> {
    build!(py, "Summary" {
        from_: s.from.as_str(),
        to: s.to.as_str(),
        cc: s.cc.as_str(),
        subject: s.subject.as_str(),
        date: s.date.and_then(instant),
        message_id: s.message_id.as_str(),
        has_attachments: s.has_attachments,
        parsed: s.parsed,
    })
}

pub(crate) fn message_info<'py>(py: Python<'py>, m: &MessageInfo) -> Obj<'py> {
    build!(py, "MessageInfo" {
        id: m.id.to_hex(),
        folder: m.folder.as_str(),
        file_name: m.file_name.as_str(),
        size: m.size,
        received: m.received,
        flags: flags(py, m.flags)?,
        keywords: strings(py, &m.keywords)?,
        summary: summary(py, &m.summary)?,
    })
}

pub(crate) fn message_page<'py>(py: Python<'py>, p: &MessagePage) -> Obj<'py> {
    build!(py, "MessagePage" {
        total: p.total,
        offset: p.offset,
        messages: tuple(py, &p.messages, message_info)?,
    })
}

pub(crate) fn parsed_message<'py>(py: Python<'py>, m: &ParsedMessage) -> Obj<'py> {
    let headers = tuple(
        py,
        &m.headers,
        |py, h| build!(py, "Header" { name: h.name.as_str(), value: h.value.as_str() }),
    )?;
    let attachments = tuple(py, &m.attachments, |py, a| {
        build!(py, "Attachment" {
            name: a.name.as_deref(),
            content_type: a.content_type.as_str(),
            size: a.size,
            data: PyBytes::new(py, &a.data),
            omitted: a.omitted,
        })
    })?;
    build!(py, "ParsedMessage" {
        summary: summary(py, &m.summary)?,
        headers: headers,
        text: m.text.as_deref(),
        html: m.html.as_deref(),
        truncated: m.truncated,
        attachments: attachments,
    })
}

pub(crate) fn sighting<'py>(py: Python<'py>, s: &Sighting) -> Obj<'py> {
    build!(py, "Sighting" {
        day: s.day,
        folder: s.folder.as_str(),
        flags: flags(py, s.flags)?,
        keywords: PyFrozenSet::new(py, &s.keywords)?,
    })
}

pub(crate) fn search_hit<'py>(py: Python<'py>, h: &SearchHit) -> Obj<'py> {
    build!(py, "SearchHit" {
        id: h.id.to_hex(),
        size: h.size,
        received: h.received,
        summary: summary(py, &h.summary)?,
        seen: tuple(py, &h.seen, sighting)?,
    })
}

fn placement<'py>(py: Python<'py>, p: &Placement) -> Obj<'py> {
    build!(py, "Placement" {
        folder: p.folder.as_str(),
        flags: flags(py, p.flags)?,
        keywords: PyFrozenSet::new(py, &p.keywords)?,
    })
}

fn diff_entry<'py>(py: Python<'py>, e: &DiffEntry) -> Obj<'py> {
    build!(py, "DiffEntry" {
        change: change_kind(py, e.change)?,
        id: e.id.to_hex(),
        summary: summary(py, &e.summary)?,
        size: e.size,
        before: tuple(py, &e.before, placement)?,
        after: tuple(py, &e.after, placement)?,
    })
}

pub(crate) fn snapshot_diff<'py>(py: Python<'py>, d: &SnapshotDiff) -> Obj<'py> {
    build!(py, "SnapshotDiff" {
        from_day: day_side(d.from),
        to_day: day_side(d.to),
        entries: tuple(py, &d.entries, diff_entry)?,
        note: d.note,
        warnings: strings(py, &d.warnings)?,
    })
}

fn expired_snapshot<'py>(py: Python<'py>, e: &ExpiredSnapshot) -> Obj<'py> {
    build!(py, "ExpiredSnapshot" {
        account: e.account.as_str(),
        day: e.day,
        messages: e.messages,
        bytes: e.bytes,
    })
}

fn pinned_snapshot<'py>(py: Python<'py>, p: &PinnedSnapshot) -> Obj<'py> {
    build!(py, "PinnedSnapshot" {
        account: p.account.as_str(),
        day: p.day,
        request: p.request.to_string(),
    })
}

pub(crate) fn prune_plan<'py>(py: Python<'py>, p: &PrunePlan) -> Obj<'py> {
    build!(py, "PrunePlan" {
        today: p.today,
        keep_from: p.keep_from,
        expired: tuple(py, &p.expired, expired_snapshot)?,
        kept: p.kept,
        reclaimable_blobs: p.reclaimable_blobs,
        reclaimable_bytes: p.reclaimable_bytes,
        pinned: tuple(py, &p.pinned, pinned_snapshot)?,
    })
}

/// A `PrunePlan` dataclass (as [`prune_plan`] made it) back into the core's plan.
pub(crate) fn prune_plan_from(plan: &Bound<'_, PyAny>) -> PyResult<PrunePlan> {
    let py = plan.py();
    if !plan.is_instance(types_class!(py, "PrunePlan")?)? {
        return Err(invalid(
            py,
            "prune takes the PrunePlan that prune_plan() returned",
        ));
    }
    let mut expired = Vec::new();
    for item in plan.getattr("expired")?.try_iter()? {
        let item = item?;
        let account: String = item.getattr("account")?.extract()?;
        expired.push(ExpiredSnapshot {
            account: account_id(py, &account)?,
            day: item.getattr("day")?.extract()?,
            messages: item.getattr("messages")?.extract()?,
            bytes: item.getattr("bytes")?.extract()?,
        });
    }
    let mut pinned = Vec::new();
    for item in plan.getattr("pinned")?.try_iter()? {
        let item = item?;
        let account: String = item.getattr("account")?.extract()?;
        let request: String = item.getattr("request")?.extract()?;
        pinned.push(PinnedSnapshot {
            account: account_id(py, &account)?,
            day: item.getattr("day")?.extract()?,
            request: request.parse().map_err(|e| to_py(py, &e))?,
        });
    }
    Ok(PrunePlan {
        today: plan.getattr("today")?.extract()?,
        keep_from: plan.getattr("keep_from")?.extract()?,
        expired,
        kept: plan.getattr("kept")?.extract()?,
        reclaimable_blobs: plan.getattr("reclaimable_blobs")?.extract()?,
        reclaimable_bytes: plan.getattr("reclaimable_bytes")?.extract()?,
        pinned,
    })
}

pub(crate) fn prune_report<'py>(py: Python<'py>, r: &PruneReport) -> Obj<'py> {
    build!(py, "PruneReport" { removed: r.removed })
}

pub(crate) fn upgrade_report<'py>(py: Python<'py>, r: &mtm_core::UpgradeReport) -> Obj<'py> {
    build!(py, "UpgradeReport" {
        from_format: r.from_format,
        to_format: r.to_format,
        index_files_merged: r.index_files_merged,
    })
}

pub(crate) fn gc_report<'py>(py: Python<'py>, r: &GcReport) -> Obj<'py> {
    build!(py, "GcReport" {
        blobs_removed: r.blobs_removed,
        packs_deleted: r.packs_deleted,
        packs_repacked: r.packs_repacked,
        pack_bytes_before: r.pack_bytes_before,
        pack_bytes_after: r.pack_bytes_after,
    })
}

fn damaged_message<'py>(py: Python<'py>, m: &DamagedMessage) -> Obj<'py> {
    build!(py, "DamagedMessage" {
        account: m.account.as_str(),
        day: m.day,
        folder: m.folder.as_str(),
        subject: m.subject.as_str(),
        id: m.id.to_hex(),
    })
}

pub(crate) fn problem<'py>(py: Python<'py>, p: &Problem) -> Obj<'py> {
    build!(py, "Problem" {
        location: p.location.as_str(),
        reason: p.reason.as_str(),
        messages: tuple(py, &p.messages, damaged_message)?,
    })
}

pub(crate) fn verify_report<'py>(py: Python<'py>, r: &VerifyReport) -> Obj<'py> {
    build!(py, "VerifyReport" {
        index_files: r.index_files,
        packs: r.packs,
        packs_read: r.packs_read,
        blobs_checked: r.blobs_checked,
        snapshots: r.snapshots,
        messages: r.messages,
        unreferenced_packs: r.unreferenced_packs,
        problems: tuple(py, &r.problems, problem)?,
    })
}

pub(crate) fn repository_stats<'py>(py: Python<'py>, s: &RepositoryStats) -> Obj<'py> {
    build!(py, "RepositoryStats" {
        files: s.files,
        bytes: s.bytes,
        packs: s.packs,
        pack_bytes: s.pack_bytes,
        snapshots: s.snapshots,
        blobs: s.blobs,
    })
}

// ---- restore ----

fn folder_names<'py>(py: Python<'py>, names: &[FolderName]) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, names.iter().map(FolderName::as_str))
}

pub(crate) fn actor<'py>(py: Python<'py>, a: &Actor) -> Obj<'py> {
    let (role, name, tenant) = match a {
        Actor::User(account) => ("user", account.as_str(), ""),
        Actor::Admin(name) => ("admin", name.as_str(), ""),
        Actor::TenantAdmin { tenant, name } => ("tenant_admin", name.as_str(), tenant.as_str()),
        Actor::System => ("system", "", ""),
    };
    types_class!(py, "Actor")?.call1((role, name, tenant))
}

fn tenant_id(t: Option<&TenantId>) -> Option<&str> {
    t.map(TenantId::as_str)
}

fn pricing<'py>(py: Python<'py>, p: &Pricing) -> Obj<'py> {
    build!(py, "Pricing" {
        currency: p.currency.as_str(),
        base: p.base,
        per_gib: p.per_gib,
    })
}

pub(crate) fn tenant<'py>(py: Python<'py>, t: &Tenant) -> Obj<'py> {
    let admins = tuple(py, &t.admins, |py, a: &AdminContact| {
        build!(py, "AdminContact" {
            name: a.name.as_str(),
            email: a.email.as_str(),
        })
    })?;
    let accounts: Vec<String> = t.accounts.iter().map(|a| a.as_str().to_owned()).collect();
    build!(py, "Tenant" {
        id: t.id.as_str(),
        name: t.name.as_str(),
        domains: strings(py, &t.domains)?,
        accounts: strings(py, &accounts)?,
        admins: admins,
        pricing: optional(py, t.pricing.as_ref(), pricing)?,
        language: t.language.as_str(),
        time_zone: t.time_zone.name(),
    })
}

fn request_id<'py>(py: Python<'py>, id: &RequestId) -> Obj<'py> {
    types_class!(py, "RequestId")?.call1((id.account().as_str(), id.number()))
}

fn scope<'py>(py: Python<'py>, s: &RestoreScope) -> Obj<'py> {
    let (kind, names): (&str, Vec<String>) = match s {
        RestoreScope::Account => ("account", Vec::new()),
        RestoreScope::Folders { folders } => (
            "folders",
            folders.iter().map(|f| f.as_str().to_owned()).collect(),
        ),
        RestoreScope::Messages { messages } => {
            ("messages", messages.iter().map(MessageId::to_hex).collect())
        }
    };
    types_class!(py, "Scope")?.call1((kind, strings(py, &names)?))
}

fn request_state<'py>(py: Python<'py>, state: RequestState) -> Obj<'py> {
    types_class!(py, "RequestState")?.call1((state.as_str(),))
}

fn notification_kind<'py>(py: Python<'py>, kind: NotificationKind) -> Obj<'py> {
    types_class!(py, "NotificationKind")?.call1((kind.as_str(),))
}

/// The account told, or `None` for the administrators.
fn recipient(r: &Recipient) -> Option<&str> {
    match r {
        Recipient::Admins => None,
        Recipient::User(account) => Some(account.as_str()),
    }
}

pub(crate) fn restore_request<'py>(py: Python<'py>, r: &RestoreRequest) -> Obj<'py> {
    build!(py, "RestoreRequest" {
        id: request_id(py, &r.id)?,
        day: r.day,
        scope: scope(py, &r.scope)?,
        requested_by: actor(py, &r.requested_by)?,
        requested_at: r.requested_at,
        deadline: r.deadline,
        state: request_state(py, r.state)?,
        updated_by: actor(py, &r.updated_by)?,
        updated_at: r.updated_at,
        decided_by: r.decided_by.as_deref(),
        reason: r.reason.as_deref(),
        tenant: tenant_id(r.tenant.as_ref()),
    })
}

fn folder_plan<'py>(py: Python<'py>, f: &FolderPlan) -> Obj<'py> {
    build!(py, "FolderPlan" {
        folder: f.folder.as_str(),
        in_snapshot: f.in_snapshot,
        to_restore: f.to_restore,
        bytes_to_restore: f.bytes_to_restore,
        already_present: f.already_present,
        recreate: f.recreate,
        resubscribe: f.resubscribe,
    })
}

pub(crate) fn restore_plan<'py>(py: Python<'py>, p: &RestorePlan) -> Obj<'py> {
    build!(py, "RestorePlan" {
        account: p.account.as_str(),
        day: p.day,
        scope: scope(py, &p.scope)?,
        folders: tuple(py, &p.folders, folder_plan)?,
        messages: p.messages,
        bytes: p.bytes,
        already_present: p.already_present,
    })
}

fn restore_result<'py>(py: Python<'py>, r: &RestoreResult) -> Obj<'py> {
    build!(py, "RestoreResult" {
        messages_restored: r.messages_restored,
        bytes_restored: r.bytes_restored,
        already_present: r.already_present,
        folders_recreated: folder_names(py, &r.folders_recreated)?,
        folders_resubscribed: folder_names(py, &r.folders_resubscribed)?,
        warnings: strings(py, &r.warnings)?,
    })
}

pub(crate) fn billing_record<'py>(py: Python<'py>, b: &BillingRecord) -> Obj<'py> {
    build!(py, "BillingRecord" {
        request: request_id(py, &b.request)?,
        account: b.account.as_str(),
        day: b.day,
        scope: scope(py, &b.scope)?,
        messages: b.messages,
        bytes: b.bytes,
        price: b.price,
        currency: b.currency.as_str(),
        approved_by: b.approved_by.as_str(),
        at: b.at,
        tenant: tenant_id(b.tenant.as_ref()),
    })
}

fn optional<'py, T>(
    py: Python<'py>,
    value: Option<&T>,
    convert: impl Fn(Python<'py>, &T) -> Obj<'py>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    value.map(|v| convert(py, v)).transpose()
}

pub(crate) fn restore_outcome<'py>(py: Python<'py>, o: &RestoreOutcome) -> Obj<'py> {
    build!(py, "RestoreOutcome" {
        request: restore_request(py, &o.request)?,
        plan: optional(py, o.plan.as_ref(), restore_plan)?,
        result: optional(py, o.result.as_ref(), restore_result)?,
        billed: optional(py, o.billed.as_ref(), billing_record)?,
        problems: strings(py, &o.problems)?,
    })
}

/// A walk's listing: a `RequestListing` (a list) of the converted items, with `damaged`.
pub(crate) fn request_listing<'py, T>(
    py: Python<'py>,
    listing: &RequestListing<T>,
    convert: impl Fn(Python<'py>, &T) -> Obj<'py>,
) -> Obj<'py> {
    let items = tuple(py, &listing.items, convert)?;
    let damaged = tuple(py, &listing.damaged, |py, d: &DamagedRequest| {
        build!(py, "DamagedRequest" {
            id: request_id(py, &d.id)?,
            error: d.error.as_str(),
        })
    })?;
    types_class!(py, "RequestListing")?.call1((items, damaged))
}

pub(crate) fn queued_request<'py>(py: Python<'py>, q: &QueuedRequest) -> Obj<'py> {
    build!(py, "QueuedRequest" {
        request: restore_request(py, &q.request)?,
        plan: optional(py, q.plan.as_ref(), restore_plan)?,
    })
}

pub(crate) fn audit_entry<'py>(py: Python<'py>, e: &AuditEntry) -> Obj<'py> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("seq", e.seq)?;
    kwargs.set_item("at", e.at)?;
    kwargs.set_item("actor", actor(py, &e.actor)?)?;
    kwargs.set_item("tenant", tenant_id(e.tenant.as_ref()))?;
    kwargs.set_item("on_behalf_of", tenant_id(e.on_behalf_of()))?;
    let event = match &e.event {
        AuditEvent::Requested { request, plan } => {
            kwargs.set_item("to_state", request_state(py, request.state)?)?;
            kwargs.set_item("plan", optional(py, plan.as_ref(), restore_plan)?)?;
            "requested"
        }
        AuditEvent::Moved {
            action,
            from,
            to,
            plan,
            result,
        } => {
            let name = match action {
                Action::GiveUp { .. } => "give_up",
                other => other.verb(),
            };
            kwargs.set_item("action", name)?;
            if let Action::Reject { reason }
            | Action::Interrupt { reason }
            | Action::GiveUp { reason }
            | Action::Fail { reason } = action
            {
                kwargs.set_item("reason", reason)?;
            }
            kwargs.set_item("from_state", request_state(py, *from)?)?;
            kwargs.set_item("to_state", request_state(py, *to)?)?;
            kwargs.set_item("plan", optional(py, plan.as_ref(), restore_plan)?)?;
            kwargs.set_item("result", optional(py, result.as_ref(), restore_result)?)?;
            "moved"
        }
        AuditEvent::Resumed => "resumed",
        AuditEvent::OwnerChanged { from, to } => {
            kwargs.set_item("from_tenant", tenant_id(from.as_ref()))?;
            kwargs.set_item("to_tenant", tenant_id(to.as_ref()))?;
            "owner_changed"
        }
        AuditEvent::Billed { record } => {
            kwargs.set_item("bill", billing_record(py, record)?)?;
            "billed"
        }
        AuditEvent::BillingFailed { error } => {
            kwargs.set_item("error", error)?;
            "billing_failed"
        }
        AuditEvent::Notified { kind, recipient: r } => {
            kwargs.set_item("notification", notification_kind(py, *kind)?)?;
            kwargs.set_item("recipient", recipient(r))?;
            "notified"
        }
        AuditEvent::NotificationFailed {
            kind,
            recipient: r,
            error,
        } => {
            kwargs.set_item("notification", notification_kind(py, *kind)?)?;
            kwargs.set_item("recipient", recipient(r))?;
            kwargs.set_item("error", error)?;
            "notification_failed"
        }
    };
    kwargs.set_item("event", event)?;
    types_class!(py, "AuditEntry")?.call((), Some(&kwargs))
}

pub(crate) fn notification<'py>(py: Python<'py>, n: &Notification) -> Obj<'py> {
    build!(py, "Notification" {
        kind: notification_kind(py, n.kind)?,
        recipient: recipient(&n.recipient),
        request: restore_request(py, &n.request)?,
        plan: optional(py, n.plan.as_ref(), restore_plan)?,
        result: optional(py, n.result.as_ref(), restore_result)?,
        sent_at: n.sent_at,
        tenant: optional(py, n.tenant.as_ref(), tenant)?,
        language: n.language.as_str(),
        time_zone: n.time_zone.name(),
    })
}

// ---- arguments ----

pub(crate) fn account_id(py: Python<'_>, name: &str) -> PyResult<AccountId> {
    AccountId::new(name).map_err(|e| to_py(py, &e))
}

pub(crate) fn folder_name(py: Python<'_>, name: &str) -> PyResult<FolderName> {
    FolderName::new(name).map_err(|e| to_py(py, &e))
}

/// Accounts and their Maildirs: a mapping of account id to path, or pairs of them.
pub(crate) fn account_maildirs(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
) -> PyResult<Vec<(AccountId, std::path::PathBuf)>> {
    let pairs = if let Ok(mapping) = value.cast::<pyo3::types::PyMapping>() {
        mapping.items()?.into_any()
    } else {
        value.clone()
    };
    let mut sources = Vec::new();
    for pair in pairs.try_iter()? {
        let (name, path): (String, std::path::PathBuf) = pair?.extract()?;
        sources.push((account_id(py, &name)?, path));
    }
    Ok(sources)
}

/// A `SortKey` member, or its value as a string (`"subject"`).
pub(crate) fn sort_key(key: &Bound<'_, PyAny>) -> PyResult<SortKey> {
    let py = key.py();
    let value = if key.is_instance_of::<PyString>() {
        key.clone()
    } else if key.is_instance(types_class!(py, "SortKey")?)? {
        key.getattr("value")?
    } else {
        return Err(invalid(py, "sort must be a mtm.SortKey"));
    };
    let name: String = value.extract()?;
    name.parse::<SortKey>().map_err(|e| to_py(py, &e))
}

/// An aware `datetime.datetime` as a fixed clock; `None` is the system clock. A naive
/// datetime (no time zone) is refused: it would silently mean the machine's zone.
pub(crate) fn clock(now: Option<&Bound<'_, PyAny>>) -> PyResult<Box<dyn mtm_core::Clock>> {
    let Some(now) = now else {
        return Ok(Box::new(mtm_core::SystemClock));
    };
    let py = now.py();
    if !now.is_instance_of::<pyo3::types::PyDateTime>() {
        return Err(invalid(py, "now must be a datetime.datetime"));
    }
    if now.call_method0("utcoffset")?.is_none() {
        return Err(invalid(
            py,
            format!("now must be time-zone aware, got the naive datetime {now}"),
        ));
    }
    let text: String = now.call_method0("isoformat")?.extract()?;
    mtm_core::FixedClock::parse(&text)
        .map(|c| Box::new(c) as Box<dyn mtm_core::Clock>)
        .map_err(|e| to_py(py, &e))
}

/// A non-negative count argument.
pub(crate) fn count(py: Python<'_>, what: &str, value: i64) -> PyResult<usize> {
    usize::try_from(value).map_err(|_| invalid(py, format!("{what} must be >= 0, got {value}")))
}

/// An `mtm.Actor` as the core's actor (an admin's name is checked here).
pub(crate) fn actor_from(value: &Bound<'_, PyAny>) -> PyResult<Actor> {
    let py = value.py();
    if !value.is_instance(types_class!(py, "Actor")?)? {
        return Err(invalid(
            py,
            "an actor must be a mtm.Actor (Actor.user(account), Actor.admin(name) or \
             Actor.tenant_admin(tenant, name))",
        ));
    }
    let role: String = value.getattr("role")?.extract()?;
    let name: String = value.getattr("name")?.extract()?;
    match role.as_str() {
        "user" => Ok(Actor::User(account_id(py, &name)?)),
        "admin" => Actor::admin(name).map_err(|e| to_py(py, &e)),
        "tenant_admin" => {
            let tenant: String = value.getattr("tenant")?.extract()?;
            let tenant = TenantId::new(tenant).map_err(|e| to_py(py, &e))?;
            Actor::tenant_admin(tenant, name).map_err(|e| to_py(py, &e))
        }
        "system" => Ok(Actor::System),
        other => Err(invalid(py, format!("invalid actor role {other:?}"))),
    }
}

/// A request id: `"<account>/<number>"` or an `mtm.RequestId`.
pub(crate) fn request_id_from(value: &Bound<'_, PyAny>) -> PyResult<RequestId> {
    let py = value.py();
    if value.is_instance_of::<PyString>() {
        let text: String = value.extract()?;
        return text.parse().map_err(|e| to_py(py, &e));
    }
    if !value.is_instance(types_class!(py, "RequestId")?)? {
        return Err(invalid(
            py,
            "a request id must be a str \"<account>/<number>\" or a mtm.RequestId",
        ));
    }
    let account: String = value.getattr("account")?.extract()?;
    let number: i64 = value.getattr("number")?.extract()?;
    let number = u32::try_from(number)
        .map_err(|_| invalid(py, format!("invalid restore request number {number}")))?;
    RequestId::new(account_id(py, &account)?, number).map_err(|e| to_py(py, &e))
}

/// An `mtm.Scope` as the core's scope; `None` is the whole account.
pub(crate) fn scope_from(value: Option<&Bound<'_, PyAny>>) -> PyResult<RestoreScope> {
    let Some(value) = value else {
        return Ok(RestoreScope::Account);
    };
    let py = value.py();
    if !value.is_instance(types_class!(py, "Scope")?)? {
        return Err(invalid(
            py,
            "a scope must be a mtm.Scope (Scope.account(), Scope.folders([...]), Scope.messages([...]))",
        ));
    }
    let kind: String = value.getattr("kind")?.extract()?;
    let names: Vec<String> = value.getattr("names")?.extract()?;
    match kind.as_str() {
        "account" => Ok(RestoreScope::Account),
        "folders" => RestoreScope::folders_named(&names).map_err(|e| to_py(py, &e)),
        "messages" => RestoreScope::messages_named(&names).map_err(|e| to_py(py, &e)),
        other => Err(invalid(py, format!("invalid scope kind {other:?}"))),
    }
}

/// An `mtm.Tenant` as the core's, checked (ids, domains, language, time zone).
pub(crate) fn tenant_from(value: &Bound<'_, PyAny>) -> PyResult<Tenant> {
    let py = value.py();
    if !value.is_instance(types_class!(py, "Tenant")?)? {
        return Err(invalid(
            py,
            format!("a tenant directory's owner() must return a mtm.Tenant or None, got {value}"),
        ));
    }
    let core = |e: mtm_core::Error| to_py(py, &e);
    let id: String = value.getattr("id")?.extract()?;
    let mut t = Tenant::new(TenantId::new(id).map_err(core)?);
    let name: String = value.getattr("name")?.extract()?;
    if !name.is_empty() {
        t.name = name;
    }
    let domains: Vec<String> = value.getattr("domains")?.extract()?;
    t = t.with_domains(domains);
    let accounts: Vec<String> = value.getattr("accounts")?.extract()?;
    for account in accounts {
        t.accounts.push(account_id(py, &account)?);
    }
    for admin in value.getattr("admins")?.try_iter()? {
        let admin = admin?;
        let name: String = admin.getattr("name")?.extract()?;
        let email: String = admin.getattr("email")?.extract()?;
        t = t.with_admin(name, email);
    }
    let price = value.getattr("pricing")?;
    if !price.is_none() {
        t.pricing = Some(pricing_from(Some(&price))?);
    }
    let language: String = value.getattr("language")?.extract()?;
    t.language = Language::new(language).map_err(core)?;
    let zone: String = value.getattr("time_zone")?.extract()?;
    t.time_zone = TimeZone::parse(&zone).map_err(core)?;
    Ok(t)
}

/// An `mtm.Pricing` as the core's; `None` is the core's default (free).
pub(crate) fn pricing_from(value: Option<&Bound<'_, PyAny>>) -> PyResult<Pricing> {
    let Some(value) = value else {
        return Ok(Pricing::default());
    };
    let py = value.py();
    if !value.is_instance(types_class!(py, "Pricing")?)? {
        return Err(invalid(py, "pricing must be a mtm.Pricing"));
    }
    let amount = |field: &str| -> PyResult<u64> {
        let amount: i64 = value.getattr(field)?.extract()?;
        u64::try_from(amount)
            .map_err(|_| invalid(py, format!("pricing.{field} must be >= 0, got {amount}")))
    };
    Ok(Pricing {
        currency: value.getattr("currency")?.extract()?,
        base: amount("base")?,
        per_gib: amount("per_gib")?,
    })
}
