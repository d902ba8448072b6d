//! Core errors and panics as Python exceptions: the one place that maps [`ErrorKind`]s.
//!
//! The exception classes are plain Python classes in `mtm/_errors.py` (so that they can also
//! derive from `ValueError`, `LookupError`, `PermissionError` …); they are looked up once.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mtm_core::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// Looks up an exception class of `mtm._errors`, once per class.
macro_rules! exception_class {
    ($py:expr, $name:literal) => {{
        static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        CLASS.import($py, "mtm._errors", $name)
    }};
}

/// The name of the exception class for `kind`.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "InvalidInputError",
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::AlreadyExists => "AlreadyExistsError",
        ErrorKind::Integrity => "IntegrityError",
        ErrorKind::UnsupportedFormat => "UnsupportedFormatError",
        ErrorKind::Storage => "StorageError",
        ErrorKind::Source => "SourceError",
        ErrorKind::Busy => "BusyError",
        ErrorKind::InvalidTransition => "InvalidTransitionError",
        ErrorKind::PermissionDenied => "PermissionDeniedError",
        // `ErrorKind` is non-exhaustive: a kind this binding does not know yet is still an
        // `MtmError` with the core's message.
        _ => "MtmError",
    }
}

/// The class object for a class name of [`class_name`] (or the few binding-only ones).
fn class<'py>(py: Python<'py>, name: &str) -> PyResult<&'py Bound<'py, PyType>> {
    match name {
        "InvalidInputError" => exception_class!(py, "InvalidInputError"),
        "NotFoundError" => exception_class!(py, "NotFoundError"),
        "AlreadyExistsError" => exception_class!(py, "AlreadyExistsError"),
        "IntegrityError" => exception_class!(py, "IntegrityError"),
        "UnsupportedFormatError" => exception_class!(py, "UnsupportedFormatError"),
        "StorageError" => exception_class!(py, "StorageError"),
        "SourceError" => exception_class!(py, "SourceError"),
        "BusyError" => exception_class!(py, "BusyError"),
        "InvalidTransitionError" => exception_class!(py, "InvalidTransitionError"),
        "PermissionDeniedError" => exception_class!(py, "PermissionDeniedError"),
        "ClosedError" => exception_class!(py, "ClosedError"),
        "InternalError" => exception_class!(py, "InternalError"),
        _ => exception_class!(py, "MtmError"),
    }
}

/// An exception of class `name` with `message`. If the class cannot be found (the Python
/// half of the package is missing), the import error is returned instead.
pub(crate) fn raise(py: Python<'_>, name: &str, message: impl Into<String>) -> PyErr {
    match class(py, name) {
        Ok(cls) => PyErr::from_type(cls.clone(), message.into()),
        Err(import_error) => import_error,
    }
}

/// The Python exception for a core error, carrying the core's message.
pub(crate) fn to_py(py: Python<'_>, error: &Error) -> PyErr {
    raise(py, class_name(error.kind()), error.to_string())
}

/// `InvalidInputError` for an argument the binding itself refuses.
pub(crate) fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    raise(py, "InvalidInputError", message)
}

/// `InternalError` for a panic caught at the boundary.
fn panicked(py: Python<'_>, payload: &(dyn Any + Send)) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    raise(
        py,
        "InternalError",
        format!("internal error (a bug): {what}"),
    )
}

/// Runs core work with the GIL released (other Python threads keep running), and turns its
/// error or a panic into a Python exception. Every call into `mtm-core` goes through here.
pub(crate) fn run<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    F: FnOnce() -> mtm_core::Result<T> + Send,
    T: Send,
{
    match py.detach(|| catch_unwind(AssertUnwindSafe(work))) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(to_py(py, &error)),
        Err(payload) => Err(panicked(py, payload.as_ref())),
    }
}

/// Lets the test suite check that a Rust panic reaches Python as `mtm.InternalError`.
#[pyfunction]
#[pyo3(name = "_panic_for_tests")]
pub(crate) fn panic_for_tests(py: Python<'_>, message: String) -> PyResult<()> {
    run(py, move || -> mtm_core::Result<()> { panic!("{message}") })
}
