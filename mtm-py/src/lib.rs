//! The Python binding of Mail Time Machine: the native half (`mtm._mtm`) of the `mtm`
//! package. It converts types and errors and releases the GIL around every call into
//! `mtm-core`; all logic lives in the core.
//!
//! Layout: `repo.rs` (`Repository`), `account.rs` (`Account`, `MessageIterator`),
//! `convert.rs` (core values to the dataclasses of `python/mtm/_types.py` and back),
//! `error.rs` (`ErrorKind` to the exceptions of `python/mtm/_errors.py`, panics, GIL release),
//! `restore.rs` (`RestoreDesk` and the Python notifier and billing hooks), `repair.rs`
//! (`RecoveryPlan` and the repair reports), `tenants.rs` (`TenantsFile`, and a Python
//! tenant directory).
//! A new area adds its own module file and one `add_class` line below.

mod account;
mod convert;
mod error;
mod repair;
mod repo;
mod restore;
mod tenants;

use pyo3::prelude::*;

/// The native module, imported by `mtm/__init__.py`.
#[pymodule]
fn _mtm(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<repo::Repository>()?;
    m.add_class::<account::Account>()?;
    m.add_class::<account::MessageIterator>()?;
    m.add_class::<restore::RestoreDesk>()?;
    m.add_class::<tenants::TenantsFile>()?;
    m.add_class::<repair::RecoveryPlan>()?;
    m.add_function(wrap_pyfunction!(error::panic_for_tests, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
