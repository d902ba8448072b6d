//! `mtm.Repository`: open or create a repository, snapshot, and maintain it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use mtm_core::{
    AccountId, GcOptions, MaildirAccount, Repository as CoreRepository, RepositoryOptions,
    SnapshotOptions, SourceOptions, VerifyOptions,
};
use pyo3::prelude::*;
use pyo3::types::{PyDateTime, PyList, PyType};

use crate::account::Account;
use crate::convert;
use crate::error::{invalid, raise, run};

/// A repository of daily snapshots. Use it as a context manager; after `close()` (or the
/// end of the `with` block) every call raises `mtm.ClosedError`. Safe to share between
/// threads: long calls release the GIL.
#[pyclass(module = "mtm", frozen)]
pub(crate) struct Repository {
    path: PathBuf,
    inner: Mutex<Option<CoreRepository>>,
}

impl Repository {
    fn new(path: PathBuf, repo: CoreRepository) -> Self {
        Self {
            path,
            inner: Mutex::new(Some(repo)),
        }
    }

    /// The open repository (a cheap clone sharing the same state), or `ClosedError`.
    pub(crate) fn get(&self, py: Python<'_>) -> PyResult<CoreRepository> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| raise(py, "ClosedError", "the repository is closed"))
    }
}

/// Opens each account's Maildir (the first that cannot be opened is the error).
fn open_maildirs(
    sources: &[(AccountId, PathBuf)],
    options: &mtm_core::SourceOptions,
) -> mtm_core::Result<Vec<(AccountId, MaildirAccount)>> {
    sources
        .iter()
        .map(|(id, path)| Ok((id.clone(), MaildirAccount::open_with(path, options)?)))
        .collect()
}

fn snapshot_options(py: Python<'_>, threads: i64) -> PyResult<SnapshotOptions> {
    Ok(SnapshotOptions {
        threads: convert::count(py, "threads", threads)?,
        ..SnapshotOptions::default()
    })
}

#[pymethods]
impl Repository {
    /// Creates a repository in a local directory (created if missing; it must be empty).
    #[classmethod]
    #[pyo3(signature = (path, *, time_zone = "UTC".to_owned(), header_dictionary = true, retention_days = mtm_core::DEFAULT_RETENTION_DAYS))]
    fn init(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        path: PathBuf,
        time_zone: String,
        header_dictionary: bool,
        retention_days: u32,
    ) -> PyResult<Self> {
        let options = RepositoryOptions {
            time_zone,
            header_dictionary,
            retention_days,
        };
        let at = path.clone();
        let repo = run(py, move || CoreRepository::init(&at, options))?;
        Ok(Self::new(path, repo))
    }

    /// Opens an existing repository.
    #[classmethod]
    fn open(_cls: &Bound<'_, PyType>, py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let at = path.clone();
        let repo = run(py, move || CoreRepository::open(&at))?;
        Ok(Self::new(path, repo))
    }

    /// Converts a repository written by an older version to the format this one writes, in
    /// place (an older repository opens read-only, and every write raises
    /// `UnsupportedFormatError` naming this). Safe to run again, and a crash at any step
    /// leaves a repository that opens. Raises `BusyError` while a snapshot or gc runs.
    #[classmethod]
    fn upgrade<'py>(
        _cls: &Bound<'_, PyType>,
        py: Python<'py>,
        path: PathBuf,
    ) -> PyResult<Bound<'py, PyAny>> {
        let report = run(py, move || CoreRepository::upgrade(&path))?;
        convert::upgrade_report(py, &report)
    }

    /// The repository's directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The provider's IANA time zone, which decides a snapshot's day.
    #[getter]
    fn time_zone(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.get(py)?.time_zone().to_owned())
    }

    /// How many days of snapshots prune keeps (today included).
    #[getter]
    fn retention_days(&self, py: Python<'_>) -> PyResult<u32> {
        Ok(self.get(py)?.retention_days())
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// Closes the repository. Accounts already taken from it stay usable.
    fn close(&self) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().get(slf.py())?;
        Ok(slf)
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        let state = if self.closed() { " closed" } else { "" };
        format!(
            "<mtm.Repository {:?}{state}>",
            self.path.display().to_string()
        )
    }

    /// The provider-local day of an aware datetime.
    fn day_at(&self, py: Python<'_>, instant: &Bound<'_, PyAny>) -> PyResult<chrono::NaiveDate> {
        if !instant.is_instance_of::<PyDateTime>() {
            return Err(invalid(py, "day_at takes a datetime.datetime"));
        }
        let clock = convert::clock(Some(instant))?;
        Ok(self.get(py)?.day_at(clock.now()))
    }

    /// The accounts with at least one snapshot, sorted.
    fn accounts(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let repo = self.get(py)?;
        let accounts = run(py, move || repo.accounts())?;
        Ok(accounts.iter().map(|a| a.as_str().to_owned()).collect())
    }

    /// A read-only view of one account's snapshots.
    fn account(&self, py: Python<'_>, account: &str) -> PyResult<Account> {
        let id = convert::account_id(py, account)?;
        let repo = self.get(py)?;
        let view = run(py, move || repo.account(&id))?;
        Ok(Account::new(Arc::new(view)))
    }

    /// Snapshots one account's Maildir as of `now` (an aware datetime; default: the system
    /// clock). `threads` = 0 uses one worker per core. A `maildir` that is a symlink is
    /// refused unless `follow_account_symlinks` (symlinks inside it never are followed).
    #[pyo3(signature = (account, maildir, *, now = None, threads = 0, follow_account_symlinks = false))]
    fn snapshot<'py>(
        &self,
        py: Python<'py>,
        account: &str,
        maildir: PathBuf,
        now: Option<&Bound<'py, PyAny>>,
        threads: i64,
        follow_account_symlinks: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let source_options = source_options(follow_account_symlinks);
        let id = convert::account_id(py, account)?;
        let clock = convert::clock(now)?;
        let options = snapshot_options(py, threads)?;
        let repo = self.get(py)?;
        let report = run(py, move || {
            let source = MaildirAccount::open_with(&maildir, &source_options)?;
            repo.snapshot(&id, &source, clock.as_ref(), &options)
        })?;
        convert::snapshot_report(py, &report)
    }

    /// Snapshots several accounts side by side, one per core (`threads` = 0) or `threads`
    /// at a time. `accounts` is pairs of (account id, Maildir path), or a mapping of them.
    /// One failing account does not stop the others: each gets an `AccountSnapshot` with
    /// its report or its error. `follow_account_symlinks` as for `snapshot`.
    #[pyo3(signature = (accounts, *, now = None, threads = 0, follow_account_symlinks = false))]
    fn snapshot_many<'py>(
        &self,
        py: Python<'py>,
        accounts: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
        threads: i64,
        follow_account_symlinks: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let source_options = source_options(follow_account_symlinks);
        let sources = convert::account_maildirs(py, accounts)?;
        let clock = convert::clock(now)?;
        let options = snapshot_options(py, threads)?;
        let repo = self.get(py)?;
        let (names, outcomes) = run(py, move || {
            let opened = open_maildirs(&sources, &source_options)?;
            let outcomes = repo.snapshot_many(&opened, clock.as_ref(), &options);
            Ok((sources, outcomes))
        })?;
        let results = names
            .iter()
            .zip(&outcomes)
            .map(|((id, path), outcome)| convert::account_snapshot(py, id.as_str(), path, outcome))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, results)
    }

    /// Snapshots every account under a Maildir root (each subdirectory that is a Maildir or
    /// holds `<name>/Maildir`; the directory name is the account id). A directory whose name
    /// is not a valid account id, and an account directory (or `Maildir`) that is a symlink
    /// while `follow_account_symlinks` is false, is reported as that account's error (a
    /// `SourceError` naming the path), not snapshotted. Sorted by account name.
    #[pyo3(signature = (root, *, now = None, threads = 0, follow_account_symlinks = false))]
    fn snapshot_root<'py>(
        &self,
        py: Python<'py>,
        root: PathBuf,
        now: Option<&Bound<'py, PyAny>>,
        threads: i64,
        follow_account_symlinks: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let clock = convert::clock(now)?;
        let options = snapshot_options(py, threads)?;
        let source_options = source_options(follow_account_symlinks);
        let repo = self.get(py)?;
        let (invalid, skipped, outcomes) = run(py, move || {
            let found = MaildirAccount::discover_accounts(&root, &source_options)?;
            let outcomes = repo.snapshot_many(&found.accounts, clock.as_ref(), &options);
            let snapshotted = found.accounts.into_iter().zip(outcomes);
            let outcomes: Vec<_> = snapshotted
                .map(|((id, source), outcome)| (id, source.root().to_path_buf(), outcome))
                .collect();
            let skipped: Vec<(String, PathBuf, String)> = found
                .warnings
                .into_iter()
                .map(|w| (account_of(&root, &w.path), w.path, w.message))
                .collect();
            Ok((found.invalid, skipped, outcomes))
        })?;
        // Every Maildir in name order: the ones snapshotted, the ones whose name is not an
        // account id and the ones skipped (a symlinked account), each with its error.
        let mut results = Vec::with_capacity(outcomes.len() + invalid.len() + skipped.len());
        for (id, path, outcome) in &outcomes {
            let result = convert::account_snapshot(py, id.as_str(), path, outcome)?;
            results.push((id.as_str().to_owned(), result));
        }
        for bad in invalid {
            let result = convert::account_snapshot(py, &bad.name, &bad.path, &Err(bad.error))?;
            results.push((bad.name, result));
        }
        for (name, path, message) in skipped {
            let error =
                crate::error::raise(py, "SourceError", format!("{}: {message}", path.display()));
            let result = convert::account_skipped(py, &name, &path, error)?;
            results.push((name, result));
        }
        results.sort_by(|a, b| a.0.cmp(&b.0));
        PyList::new(py, results.into_iter().map(|(_, result)| result))
    }

    /// The size of the repository: files, bytes, packs, snapshots, blobs.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let repo = self.get(py)?;
        let stats = run(py, move || repo.stats())?;
        convert::repository_stats(py, &stats)
    }

    /// Plans a prune as of `now` (default: the system clock), of every account or one:
    /// which snapshots fall out of the retention window and what that frees.
    #[pyo3(signature = (*, now = None, account = None))]
    fn prune_plan<'py>(
        &self,
        py: Python<'py>,
        now: Option<&Bound<'py, PyAny>>,
        account: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let clock = convert::clock(now)?;
        let account = account.map(|a| convert::account_id(py, a)).transpose()?;
        let repo = self.get(py)?;
        let plan = run(py, move || {
            repo.prune_plan(clock.as_ref(), account.as_ref())
        })?;
        convert::prune_plan(py, &plan)
    }

    /// Carries out a plan from `prune_plan()` as of `now` (default: the system clock):
    /// removes its expired snapshots. Every snapshot the plan names is checked again first
    /// (older than the window at `now`, kept by no open restore request); if any is not,
    /// `InvalidInputError` and nothing is removed. Running it again is harmless. Run `gc()`
    /// afterwards to reclaim the bytes.
    #[pyo3(signature = (plan, *, now = None))]
    fn prune<'py>(
        &self,
        py: Python<'py>,
        plan: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let plan = convert::prune_plan_from(plan)?;
        let clock = convert::clock(now)?;
        let repo = self.get(py)?;
        let report = run(py, move || repo.prune(&plan, clock.as_ref()))?;
        convert::prune_report(py, &report)
    }

    /// Reclaims stored bytes no snapshot references. Raises `BusyError` while a snapshot
    /// is being written.
    #[pyo3(signature = (*, repack_below = 0.5, max_unused = 0.05))]
    fn gc<'py>(
        &self,
        py: Python<'py>,
        repack_below: f64,
        max_unused: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let repo = self.get(py)?;
        let options = GcOptions {
            repack_below,
            max_unused,
        };
        let report = run(py, move || repo.gc(&options))?;
        convert::gc_report(py, &report)
    }

    /// A dry run of restoring `account` as it was on `day` (`scope` None: all of it) into
    /// the live Maildir at `maildir`: per folder, what would come back. Writes nothing.
    #[pyo3(signature = (account, day, scope, maildir, *, follow_account_symlinks = false))]
    fn restore_plan<'py>(
        &self,
        py: Python<'py>,
        account: &str,
        day: chrono::NaiveDate,
        scope: Option<&Bound<'py, PyAny>>,
        maildir: PathBuf,
        follow_account_symlinks: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let source_options = source_options(follow_account_symlinks);
        let id = convert::account_id(py, account)?;
        let scope = convert::scope_from(scope)?;
        let repo = self.get(py)?;
        let plan = run(py, move || {
            let live = MaildirAccount::open_with(&maildir, &source_options)?;
            repo.restore_plan(&id, day, &scope, &live)
        })?;
        convert::restore_plan(py, &plan)
    }

    /// Every bill in the repository's own ledger (the default billing sink of a
    /// `RestoreDesk`), by account and request number.
    fn billing_ledger<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let repo = self.get(py)?;
        let records = run(py, move || repo.billing_ledger().records())?;
        let items = records
            .iter()
            .map(|r| convert::billing_record(py, r))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// Rebuilds lost or damaged index files from the pack trailers (only adds entries; a
    /// second run does nothing). Raises `BusyError` while a snapshot or gc runs.
    fn repair_index<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let repo = self.get(py)?;
        let report = run(py, move || repo.repair_index())?;
        crate::repair::index_repair_report(py, &report)
    }

    /// Plans the recovery of every damaged snapshot from the live Maildirs (a mapping or
    /// pairs of account and directory): what is stored again, what is dropped. Changes
    /// nothing. Raises `InvalidInputError` until `repair_index()` has run when the index
    /// is damaged.
    fn recovery_plan(
        &self,
        py: Python<'_>,
        maildirs: &Bound<'_, PyAny>,
    ) -> PyResult<crate::repair::RecoveryPlan> {
        let sources = convert::account_maildirs(py, maildirs)?;
        let repo = self.get(py)?;
        let plan = run(py, move || {
            let opened = open_maildirs(&sources, &SourceOptions::default())?;
            repo.recovery_plan(&opened)
        })?;
        Ok(crate::repair::RecoveryPlan { plan })
    }

    /// Executes a plan from `recovery_plan()` under the repository's lock; refused
    /// (`InvalidInputError`) if the repository or a Maildir changed since. Rewritten
    /// records are dated `now` (default: the system clock).
    #[pyo3(signature = (plan, *, now = None))]
    fn recover<'py>(
        &self,
        py: Python<'py>,
        plan: &crate::repair::RecoveryPlan,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let clock = convert::clock(now)?;
        let plan = plan.plan.clone();
        let repo = self.get(py)?;
        let report = run(py, move || repo.recover(&plan, clock.as_ref()))?;
        crate::repair::recovery_report(py, &report)
    }

    /// Checks every hash and reference; `read_data` is the share of packs (0 to 1) whose
    /// data is read and hashed. The report names the messages any damage hurts.
    #[pyo3(signature = (*, read_data = 1.0))]
    fn verify<'py>(&self, py: Python<'py>, read_data: f64) -> PyResult<Bound<'py, PyAny>> {
        let repo = self.get(py)?;
        let report = run(py, move || repo.verify(&VerifyOptions { read_data }))?;
        convert::verify_report(py, &report)
    }
}

/// The source options of the `follow_account_symlinks` keyword.
pub(crate) fn source_options(follow_account_symlinks: bool) -> mtm_core::SourceOptions {
    mtm_core::SourceOptions::default().follow_root_symlink(follow_account_symlinks)
}

/// The account a path below a directory of accounts belongs to: its first component below
/// `root` (`<root>/<name>` or `<root>/<name>/Maildir`).
fn account_of(root: &std::path::Path, path: &std::path::Path) -> String {
    path.strip_prefix(root)
        .ok()
        .and_then(|rel| rel.components().next())
        .map_or_else(
            || path.display().to_string(),
            |name| name.as_os_str().to_string_lossy().into_owned(),
        )
}
