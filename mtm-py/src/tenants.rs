//! `mtm.TenantsFile` (the core's checked TOML tenants file) and the Python object that
//! serves as the core's `TenantDirectory` (an application's own customer database).

use std::path::PathBuf;
use std::sync::Arc;

use mtm_core::{
    AccountId, Error, Tenant, TenantDirectory, TenantId, TenantsFile as CoreTenantsFile,
};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert;
use crate::error::{invalid, run};

/// The provider's customers read from a TOML tenants file, checked when read: a mistake
/// raises `InvalidInputError` naming its line. Pass it as `RestoreDesk(tenants=...)`.
#[pyclass(module = "mtm", frozen)]
pub(crate) struct TenantsFile {
    pub(crate) inner: Arc<CoreTenantsFile>,
}

#[pymethods]
impl TenantsFile {
    /// Reads and checks the tenants file at `path`.
    #[staticmethod]
    fn read(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = run(py, || CoreTenantsFile::read(&path))?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Checks the text of a tenants file; `origin` names it in errors.
    #[staticmethod]
    #[pyo3(signature = (text, origin = "<string>"))]
    fn parse(py: Python<'_>, text: &str, origin: &str) -> PyResult<Self> {
        let inner = run(py, || CoreTenantsFile::parse(text, origin))?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Every tenant, in the order of the file.
    #[getter]
    fn tenants<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let items = self
            .inner
            .tenants()
            .iter()
            .map(|t| convert::tenant(py, t))
            .collect::<PyResult<Vec<_>>>()?;
        PyTuple::new(py, items)
    }

    /// The provider's administrators (`[provider] admins`), as `(name, email)` pairs.
    #[getter]
    fn provider_admins(&self) -> Vec<(String, String)> {
        self.inner
            .provider_admins()
            .iter()
            .map(|a| (a.name.clone(), a.email.clone()))
            .collect()
    }

    /// Whether provider administrators may decide tenants' requests.
    #[getter]
    fn provider_decides_for_tenants(&self) -> bool {
        self.inner.policy().provider_decides_for_tenants
    }

    /// The language of emails about the provider's own accounts.
    #[getter]
    fn provider_language(&self) -> String {
        self.inner.provider_language().to_string()
    }

    /// The tenant that owns `account`, or None (the provider's own account).
    fn owner<'py>(&self, py: Python<'py>, account: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        let account = convert::account_id(py, account)?;
        let owner = run(py, || self.inner.owner(&account))?;
        owner.map(|t| convert::tenant(py, &t)).transpose()
    }

    /// The `mtm.Actor` an administrator's name stands for: a provider administrator or a
    /// tenant's. `PermissionDeniedError` for a name the file does not list.
    fn admin<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let actor = run(py, || self.inner.admin(name))?;
        convert::actor(py, &actor)
    }

    fn __repr__(&self) -> String {
        format!(
            "<mtm.TenantsFile of {} tenants>",
            self.inner.tenants().len()
        )
    }
}

/// A Python object with `owner(account)` (and optionally `tenant(id)`), called with the GIL
/// re-acquired, as the core's tenant directory. A Python exception, or a value that is not
/// an `mtm.Tenant` or None, fails the call that asked.
#[derive(Debug)]
pub(crate) struct PyTenantDirectory(Py<PyAny>);

impl PyTenantDirectory {
    pub(crate) fn new(object: &Bound<'_, PyAny>) -> PyResult<Self> {
        let callable = object
            .getattr("owner")
            .map(|m| m.is_callable())
            .unwrap_or(false);
        if !callable {
            return Err(invalid(
                object.py(),
                format!(
                    "a tenant directory must be a mtm.TenantsFile or have an owner(account) method, got {object}"
                ),
            ));
        }
        Ok(Self(object.clone().unbind()))
    }

    fn ask(&self, method: &str, arg: &str) -> mtm_core::Result<Option<Tenant>> {
        Python::attach(|py| {
            let object = self.0.bind(py);
            if method != "owner" && !object.hasattr(method).unwrap_or(false) {
                return Ok(None);
            }
            let answer = object.call_method1(method, (arg,)).and_then(|value| {
                if value.is_none() {
                    Ok(None)
                } else {
                    convert::tenant_from(&value).map(Some)
                }
            });
            answer.map_err(|e| Error::Storage {
                path: PathBuf::from("Python tenant directory"),
                source: std::io::Error::other(format!("{method}({arg:?}) failed: {e}")),
            })
        })
    }
}

impl TenantDirectory for PyTenantDirectory {
    fn owner(&self, account: &AccountId) -> mtm_core::Result<Option<Tenant>> {
        self.ask("owner", account.as_str())
    }

    fn tenant(&self, id: &TenantId) -> mtm_core::Result<Option<Tenant>> {
        self.ask("tenant", id.as_str())
    }
}
