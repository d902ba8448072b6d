//! `mtm.RecoveryPlan`, and the conversions of the repair results: `Repository.repair_index`,
//! `recovery_plan` and `recover` (in `repo.rs`) return them.

use mtm_core::{IndexRepairReport, RecoveryReport, RepairedMessage, RepairedSnapshot};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::convert;

/// A recovery plan from `Repository.recovery_plan()`: what `Repository.recover()` would
/// store again and drop. Opaque: it is passed back as it is (and checked again under the
/// repository's lock before anything changes).
#[pyclass(module = "mtm", frozen)]
pub(crate) struct RecoveryPlan {
    pub(crate) plan: mtm_core::RecoveryPlan,
}

fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("mtm._types")?.getattr(name)
}

fn repaired_message<'py>(py: Python<'py>, m: &RepairedMessage) -> PyResult<Bound<'py, PyAny>> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("folder", m.folder.as_str())?;
    kwargs.set_item("file", m.file.as_deref())?;
    kwargs.set_item("id", m.id.map(|id| id.to_hex()))?;
    kwargs.set_item("messages", m.messages)?;
    kwargs.set_item("reason", m.reason.as_str())?;
    class(py, "RepairedMessage")?.call((), Some(&kwargs))
}

fn messages<'py>(py: Python<'py>, list: &[RepairedMessage]) -> PyResult<Bound<'py, PyTuple>> {
    let items = list
        .iter()
        .map(|m| repaired_message(py, m))
        .collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(py, items)
}

fn repaired_snapshot<'py>(py: Python<'py>, s: &RepairedSnapshot) -> PyResult<Bound<'py, PyAny>> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("account", s.account.as_str())?;
    kwargs.set_item("day", s.day)?;
    kwargs.set_item("recovered", messages(py, &s.recovered)?)?;
    kwargs.set_item("lost", messages(py, &s.lost)?)?;
    class(py, "RepairedSnapshot")?.call((), Some(&kwargs))
}

#[pymethods]
impl RecoveryPlan {
    /// The snapshots whose records are rewritten, with what each recovers and loses.
    #[getter]
    fn snapshots<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let items = self
            .plan
            .snapshots
            .iter()
            .map(|s| repaired_snapshot(py, s))
            .collect::<PyResult<Vec<_>>>()?;
        PyTuple::new(py, items)
    }

    /// Damaged or missing pack files (their readable blobs are moved, then they go).
    #[getter]
    fn damaged_packs(&self) -> Vec<String> {
        self.plan.damaged_packs.clone()
    }

    /// Index entries of unreadable blobs that are dropped.
    #[getter]
    fn damaged_blobs(&self) -> u64 {
        self.plan.damaged_blobs
    }

    /// Dictionaries that do not match their hash (deleted).
    #[getter]
    fn damaged_dictionaries(&self) -> Vec<String> {
        self.plan.damaged_dictionaries.clone()
    }

    /// What the recovery moves aside or mends from a seal, one sentence each, as the plan
    /// says it (`mtm repair recover` prints the same): unreadable snapshot records moved
    /// aside under `damaged/` (their days dropped), records and restore journal entries
    /// whose seal proves their original (published again).
    #[getter]
    fn set_aside(&self) -> Vec<String> {
        self.plan
            .quarantined
            .iter()
            .map(|q| q.describe())
            .chain(self.plan.journal_entries.iter().map(|e| e.describe()))
            .collect()
    }

    /// Damage a recovery cannot mend, left as it is.
    #[getter]
    fn unrepairable<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let items = self
            .plan
            .unrepairable
            .iter()
            .map(|p| convert::problem(py, p))
            .collect::<PyResult<Vec<_>>>()?;
        PyTuple::new(py, items)
    }

    /// Messages stored again (once per snapshot).
    #[getter]
    fn recovered_messages(&self) -> u64 {
        self.plan.recovered_messages()
    }

    /// Messages dropped (once per snapshot).
    #[getter]
    fn lost_messages(&self) -> u64 {
        self.plan.lost_messages()
    }

    /// Whether there is nothing to do.
    #[getter]
    fn empty(&self) -> bool {
        self.plan.is_empty()
    }

    fn __repr__(&self) -> String {
        format!(
            "RecoveryPlan(snapshots={}, recovered_messages={}, lost_messages={}, damaged_packs={})",
            self.plan.snapshots.len(),
            self.plan.recovered_messages(),
            self.plan.lost_messages(),
            self.plan.damaged_packs.len()
        )
    }
}

pub(crate) fn index_repair_report<'py>(
    py: Python<'py>,
    r: &IndexRepairReport,
) -> PyResult<Bound<'py, PyAny>> {
    let problems = r
        .problems
        .iter()
        .map(|p| convert::problem(py, p))
        .collect::<PyResult<Vec<_>>>()?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("packs", r.packs)?;
    kwargs.set_item("packs_read", r.packs_read)?;
    kwargs.set_item("packs_indexed", r.packs_indexed)?;
    kwargs.set_item("blobs_indexed", r.blobs_indexed)?;
    kwargs.set_item(
        "index_files_written",
        PyTuple::new(py, &r.index_files_written)?,
    )?;
    kwargs.set_item(
        "damaged_index_files_removed",
        PyTuple::new(py, &r.damaged_index_files_removed)?,
    )?;
    kwargs.set_item("problems", PyTuple::new(py, problems)?)?;
    class(py, "IndexRepairReport")?.call((), Some(&kwargs))
}

pub(crate) fn recovery_report<'py>(
    py: Python<'py>,
    r: &RecoveryReport,
) -> PyResult<Bound<'py, PyAny>> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("snapshots_rewritten", r.snapshots_rewritten)?;
    kwargs.set_item("messages_recovered", r.messages_recovered)?;
    kwargs.set_item("messages_lost", r.messages_lost)?;
    kwargs.set_item("blobs_rescued", r.blobs_rescued)?;
    kwargs.set_item("index_files_rewritten", r.index_files_rewritten)?;
    kwargs.set_item("packs_deleted", r.packs_deleted)?;
    kwargs.set_item("dictionaries_deleted", r.dictionaries_deleted)?;
    kwargs.set_item("records_quarantined", r.records_quarantined)?;
    kwargs.set_item("records_mended", r.records_mended)?;
    kwargs.set_item("journal_entries_mended", r.journal_entries_mended)?;
    class(py, "RecoveryReport")?.call((), Some(&kwargs))
}
