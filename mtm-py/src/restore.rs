//! `mtm.RestoreDesk`: the restore workflow (request, plan, approve, reject, cancel, expire,
//! audit), and the Python hooks that serve as the core's `Notifier` and `BillingSink`.

use std::path::PathBuf;
use std::sync::Arc;

use mtm_core::{
    AccessPolicy, BillingRecord, BillingSink, Error, Language, LedgerQuery, MaildirRoot,
    Notification, Notifier, RestoreDesk as CoreRestoreDesk, RestoreSettings, TenantDirectory,
    TenantId,
};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::convert;
use crate::error::{invalid, run, to_py};
use crate::repo::Repository;
use crate::tenants::{PyTenantDirectory, TenantsFile};

/// A Python object called by the core (with the GIL re-acquired) through one method.
#[derive(Debug)]
struct Hook {
    /// What it is, for error messages: "notifier" or "billing sink".
    role: &'static str,
    method: &'static str,
    object: Py<PyAny>,
}

impl Hook {
    /// Checks that `object` has a callable `method`.
    fn new(object: &Bound<'_, PyAny>, role: &'static str, method: &'static str) -> PyResult<Self> {
        let py = object.py();
        let callable = object
            .getattr(method)
            .map(|m| m.is_callable())
            .unwrap_or(false);
        if !callable {
            return Err(invalid(
                py,
                format!("the {role} must have a {method}() method, got {object}"),
            ));
        }
        Ok(Self {
            role,
            method,
            object: object.clone().unbind(),
        })
    }

    /// Converts the value, calls the method, and turns a Python exception into a core error
    /// (which the core records as a failed side effect and retries later).
    fn call<T>(
        &self,
        value: &T,
        convert: impl for<'py> Fn(Python<'py>, &T) -> PyResult<Bound<'py, PyAny>>,
    ) -> mtm_core::Result<()> {
        Python::attach(|py| {
            convert(py, value)
                .and_then(|arg| self.object.bind(py).call_method1(self.method, (arg,)))
                .map(|_| ())
                .map_err(|e| Error::Storage {
                    path: PathBuf::from(format!("Python {}", self.role)),
                    source: std::io::Error::other(e.to_string()),
                })
        })
    }
}

/// A Python object with `notify(notification)`, as the core's notifier.
#[derive(Debug)]
struct PyNotifier(Hook);

impl Notifier for PyNotifier {
    fn notify(&self, notification: &Notification) -> mtm_core::Result<()> {
        self.0.call(notification, convert::notification)
    }
}

/// A Python object with `bill(record)`, as the core's billing sink.
#[derive(Debug)]
struct PyBillingSink(Hook);

impl BillingSink for PyBillingSink {
    fn bill(&self, record: &BillingRecord) -> mtm_core::Result<()> {
        self.0.call(record, convert::billing_record)
    }
}

/// The restore workflow of one repository, restoring into the accounts under a Maildir
/// root (`<root>/<account>/` or `<root>/<account>/Maildir/`; a symlink as either is refused
/// unless `follow_account_symlinks`). Every method takes the
/// acting `mtm.Actor`; request ids are `"<account>/<number>"` strings or `mtm.RequestId`s;
/// `now` is an aware datetime (default: the system clock). Keeps working after the
/// repository it was made from is closed.
#[pyclass(module = "mtm", frozen)]
pub(crate) struct RestoreDesk {
    inner: CoreRestoreDesk,
    maildirs: PathBuf,
}

#[pymethods]
impl RestoreDesk {
    #[new]
    #[pyo3(signature = (repo, maildirs, *, pricing = None, tag_keyword = None, notifier = None, billing = None, follow_account_symlinks = false, tenants = None, provider_decides_for_tenants = None, language = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        repo: &Bound<'_, Repository>,
        maildirs: PathBuf,
        pricing: Option<&Bound<'_, PyAny>>,
        tag_keyword: Option<String>,
        notifier: Option<&Bound<'_, PyAny>>,
        billing: Option<&Bound<'_, PyAny>>,
        follow_account_symlinks: bool,
        tenants: Option<&Bound<'_, PyAny>>,
        provider_decides_for_tenants: Option<bool>,
        language: Option<&str>,
    ) -> PyResult<Self> {
        let repo = repo.get().get(py)?;
        // Tenants the file gives no time zone get the repository's.
        let file = tenants
            .and_then(|t| t.cast::<TenantsFile>().ok())
            .map(|f| Arc::new((*f.get().inner).clone().for_repository(&repo)));
        let directory: Option<Arc<dyn TenantDirectory>> = match (tenants, &file) {
            (_, Some(file)) => Some(Arc::clone(file) as Arc<dyn TenantDirectory>),
            (Some(object), None) => Some(Arc::new(PyTenantDirectory::new(object)?)),
            (None, _) => None,
        };
        let language = match (language, &file) {
            (Some(tag), _) => Language::new(tag).map_err(|e| to_py(py, &e))?,
            (None, Some(file)) => file.provider_language().clone(),
            (None, None) => Language::english(),
        };
        let decides = provider_decides_for_tenants
            .or_else(|| {
                file.as_ref()
                    .map(|f| f.policy().provider_decides_for_tenants)
            })
            .unwrap_or(false);
        let settings = RestoreSettings {
            pricing: convert::pricing_from(pricing)?,
            tag_keyword,
            access: AccessPolicy {
                provider_decides_for_tenants: decides,
            },
            language,
        };
        let mut desk = CoreRestoreDesk::new(
            repo,
            MaildirRoot::new(maildirs.clone())
                .with_options(crate::repo::source_options(follow_account_symlinks)),
            settings,
        );
        if let Some(notifier) = notifier {
            desk = desk.with_notifier(Arc::new(PyNotifier(Hook::new(
                notifier, "notifier", "notify",
            )?)));
        }
        if let Some(billing) = billing {
            desk = desk.with_billing(Arc::new(PyBillingSink(Hook::new(
                billing,
                "billing sink",
                "bill",
            )?)));
        }
        if let Some(directory) = directory {
            desk = desk.with_tenants(directory);
        }
        Ok(Self {
            inner: desk,
            maildirs,
        })
    }

    /// The tenant that owns `account` now, or None (the provider's own account).
    fn owner<'py>(&self, py: Python<'py>, account: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        let account = convert::account_id(py, account)?;
        let owner = run(py, || self.inner.owner(&account))?;
        owner.map(|t| convert::tenant(py, &t)).transpose()
    }

    /// The bills of the repository's ledger that `actor` may see (a tenant administrator
    /// only its tenant's, a provider administrator any; users none), narrowed to one
    /// `tenant`'s, to the provider's own accounts (`provider_only`), and to those approved
    /// at or after `since` and before `before` (aware datetimes).
    #[pyo3(signature = (actor, *, tenant = None, provider_only = false, since = None, before = None))]
    fn ledger<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyAny>,
        tenant: Option<&str>,
        provider_only: bool,
        since: Option<&Bound<'py, PyAny>>,
        before: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let actor = convert::actor_from(actor)?;
        let mut query = LedgerQuery::default();
        if let Some(tenant) = tenant {
            query = query.tenant(TenantId::new(tenant).map_err(|e| to_py(py, &e))?);
        }
        if provider_only {
            query = query.provider_only();
        }
        if let Some(since) = since {
            query = query.since(convert::clock(Some(since))?.now());
        }
        if let Some(before) = before {
            query = query.before(convert::clock(Some(before))?.now());
        }
        let bills = run(py, || self.inner.ledger(&actor, &query))?;
        let items = bills
            .iter()
            .map(|b| convert::billing_record(py, b))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// The Maildir root restores write into.
    #[getter]
    fn maildirs(&self) -> PathBuf {
        self.maildirs.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "<mtm.RestoreDesk {:?}>",
            self.maildirs.display().to_string()
        )
    }

    /// When the snapshot of `day` leaves retention: a request for it must be decided before.
    fn deadline(&self, day: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
        self.inner.deadline(day)
    }

    /// A user (for their own account) or an administrator asks for `account` as it was on
    /// `day`, all of it (`scope` None) or part. The administrators are told, with the plan.
    /// `AlreadyExistsError` if the account has an open request.
    #[pyo3(signature = (actor, account, day, scope = None, *, now = None))]
    fn request<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyAny>,
        account: &str,
        day: chrono::NaiveDate,
        scope: Option<&Bound<'py, PyAny>>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = convert::actor_from(actor)?;
        let account = convert::account_id(py, account)?;
        let scope = convert::scope_from(scope)?;
        let clock = convert::clock(now)?;
        let outcome = run(py, || {
            self.inner
                .request(&actor, &account, day, scope, clock.as_ref())
        })?;
        convert::restore_outcome(py, &outcome)
    }

    /// A request as it stands, with its plan, result and bill (its owner and admins only).
    fn get<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyAny>,
        request: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = convert::actor_from(actor)?;
        let id = convert::request_id_from(request)?;
        let outcome = run(py, || self.inner.get(&actor, &id))?;
        convert::restore_outcome(py, &outcome)
    }

    /// A fresh dry run of a request against the live Maildir as it is now.
    fn plan<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyAny>,
        request: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = convert::actor_from(actor)?;
        let id = convert::request_id_from(request)?;
        let plan = run(py, || self.inner.plan(&actor, &id))?;
        convert::restore_plan(py, &plan)
    }

    /// The audit trail of a request, oldest first.
    fn audit<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyAny>,
        request: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let actor = convert::actor_from(actor)?;
        let id = convert::request_id_from(request)?;
        let entries = run(py, || self.inner.audit(&actor, &id))?;
        let items = entries
            .iter()
            .map(|e| convert::audit_entry(py, e))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// An administrator approves: the request is billed, the restore runs at once, and the
    /// user is told when it completes. `InvalidTransitionError` if it is not waiting for a
    /// decision. If the run stops (a folder path that is a file, a read-only Maildir, a
    /// server's lock), raises the exception of that cause (`SourceError`, `StorageError`
    /// …) and leaves the request `interrupted`: `run` retries it, `give_up` ends it.
    #[pyo3(signature = (actor, request, *, now = None))]
    fn approve<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyAny>,
        request: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = convert::actor_from(actor)?;
        let id = convert::request_id_from(request)?;
        let clock = convert::clock(now)?;
        let outcome = run(py, || self.inner.approve(&actor, &id, clock.as_ref()))?;
        convert::restore_outcome(py, &outcome)
    }

    /// An administrator runs an approved restore, retries an interrupted one (once its cause
    /// is fixed), or resumes one cut off by a crash; billed once however often it runs.
    /// Raises like `approve` when the run stops again.
    #[pyo3(signature = (actor, request, *, now = None))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyAny>,
        request: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = convert::actor_from(actor)?;
        let id = convert::request_id_from(request)?;
        let clock = convert::clock(now)?;
        let outcome = run(py, || self.inner.run(&actor, &id, clock.as_ref()))?;
        convert::restore_outcome(py, &outcome)
    }

    /// An administrator rejects, saying why (the user is told the reason). Nothing is billed.
    #[pyo3(signature = (actor, request, reason, *, now = None))]
    fn reject<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyAny>,
        request: &Bound<'py, PyAny>,
        reason: &str,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = convert::actor_from(actor)?;
        let id = convert::request_id_from(request)?;
        let clock = convert::clock(now)?;
        let outcome = run(py, || {
            self.inner.reject(&actor, &id, reason, clock.as_ref())
        })?;
        convert::restore_outcome(py, &outcome)
    }

    /// An administrator gives up on an approved restore that did not complete, saying why:
    /// it ends as `failed`, and the user is told the reason. The bill stands.
    #[pyo3(signature = (actor, request, reason, *, now = None))]
    fn give_up<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyAny>,
        request: &Bound<'py, PyAny>,
        reason: &str,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = convert::actor_from(actor)?;
        let id = convert::request_id_from(request)?;
        let clock = convert::clock(now)?;
        let outcome = run(py, || {
            self.inner.give_up(&actor, &id, reason, clock.as_ref())
        })?;
        convert::restore_outcome(py, &outcome)
    }

    /// The user (or an administrator for them) withdraws a request nobody decided yet.
    #[pyo3(signature = (actor, request, *, now = None))]
    fn cancel<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyAny>,
        request: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = convert::actor_from(actor)?;
        let id = convert::request_id_from(request)?;
        let clock = convert::clock(now)?;
        let outcome = run(py, || self.inner.cancel(&actor, &id, clock.as_ref()))?;
        convert::restore_outcome(py, &outcome)
    }

    /// Expires every request still undecided at its deadline and tells each user: a
    /// `RequestListing` of the outcomes, whose `damaged` lists the accounts whose latest
    /// request cannot be read (the others are expired).
    #[pyo3(signature = (*, now = None))]
    fn expire_overdue<'py>(
        &self,
        py: Python<'py>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let clock = convert::clock(now)?;
        let outcomes = run(py, || self.inner.expire_overdue(clock.as_ref()))?;
        convert::request_listing(py, &outcomes, convert::restore_outcome)
    }

    /// Retries every bill and notification that failed or was never sent: a
    /// `RequestListing` of what still fails (empty when everything went through), whose
    /// `damaged` lists the requests that cannot be read (the others are delivered).
    #[pyo3(signature = (*, now = None))]
    fn deliver_pending<'py>(
        &self,
        py: Python<'py>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let clock = convert::clock(now)?;
        let problems = run(py, || self.inner.deliver_pending(clock.as_ref()))?;
        convert::request_listing(py, &problems, |py, p: &String| {
            Ok(p.into_pyobject(py)?.into_any())
        })
    }

    /// The requests an actor may see: a user their own account's, an administrator
    /// everyone's (or one `account`'s), by account and number; a `RequestListing` whose
    /// `damaged` lists the requests that cannot be read.
    #[pyo3(signature = (actor, account = None))]
    fn requests<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyAny>,
        account: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = convert::actor_from(actor)?;
        let account = account.map(|a| convert::account_id(py, a)).transpose()?;
        let requests = run(py, || self.inner.requests(&actor, account.as_ref()))?;
        convert::request_listing(py, &requests, convert::restore_request)
    }

    /// An administrator's queue: requests waiting for a decision, nearest deadline first,
    /// then interrupted restores; a `RequestListing` whose `damaged` lists the accounts
    /// whose latest request cannot be read (it may be waiting).
    #[pyo3(signature = (actor, *, now = None))]
    fn queue<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = convert::actor_from(actor)?;
        let clock = convert::clock(now)?;
        let queue = run(py, || self.inner.queue(&actor, clock.as_ref()))?;
        convert::request_listing(py, &queue, convert::queued_request)
    }
}
