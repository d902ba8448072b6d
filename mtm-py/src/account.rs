//! `mtm.Account`: read-only browsing of one account's snapshots, and `mtm.MessageIterator`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use mtm_core::{
    AccountView, DayScope, FolderName, MaildirAccount, MessagePager, MessageQuery, SearchQuery,
};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::convert;
use crate::error::{invalid, run, to_py};

/// A read-only view of one account's snapshots: it can reach only this account's data.
/// Get one with `Repository.account(name)`. Message ids are 64 hex digits (the BLAKE3 of
/// the raw bytes); calls that take a day also accept a unique prefix of 8 or more digits.
#[pyclass(module = "mtm", frozen)]
pub(crate) struct Account {
    view: Arc<AccountView>,
}

impl Account {
    pub(crate) fn new(view: Arc<AccountView>) -> Self {
        Self { view }
    }
}

fn list<'py, T>(
    py: Python<'py>,
    items: &[T],
    convert: impl Fn(Python<'py>, &T) -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let items = items
        .iter()
        .map(|item| convert(py, item))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

#[pymethods]
impl Account {
    /// The account id.
    #[getter]
    fn name(&self) -> String {
        self.view.account().as_str().to_owned()
    }

    fn __repr__(&self) -> String {
        format!("<mtm.Account {:?}>", self.view.account().as_str())
    }

    /// The days with a snapshot, oldest first.
    fn days(&self, py: Python<'_>) -> PyResult<Vec<NaiveDate>> {
        let view = Arc::clone(&self.view);
        run(py, move || view.days())
    }

    /// The snapshot of one day.
    fn snapshot<'py>(&self, py: Python<'py>, day: NaiveDate) -> PyResult<Bound<'py, PyAny>> {
        let view = Arc::clone(&self.view);
        let info = run(py, move || view.snapshot(day))?;
        convert::snapshot_info(py, &info)
    }

    /// The folder tree of one day, subscribed and unsubscribed, INBOX first.
    fn folders<'py>(&self, py: Python<'py>, day: NaiveDate) -> PyResult<Bound<'py, PyList>> {
        let view = Arc::clone(&self.view);
        let folders = run(py, move || view.folders(day))?;
        list(py, &folders, convert::folder_info)
    }

    /// One page of a folder's messages (default: newest first, 50).
    #[pyo3(signature = (day, folder = "INBOX", *, sort = None, descending = true, offset = 0, limit = 50))]
    #[allow(clippy::too_many_arguments)]
    fn messages<'py>(
        &self,
        py: Python<'py>,
        day: NaiveDate,
        folder: &str,
        sort: Option<&Bound<'py, PyAny>>,
        descending: bool,
        offset: i64,
        limit: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let folder = convert::folder_name(py, folder)?;
        let query = MessageQuery {
            sort: sort.map(convert::sort_key).transpose()?.unwrap_or_default(),
            descending,
            offset: convert::count(py, "offset", offset)?,
            limit: convert::count(py, "limit", limit)?,
        };
        let view = Arc::clone(&self.view);
        let page = run(py, move || view.messages(day, &folder, &query))?;
        convert::message_page(py, &page)
    }

    /// Every message of a folder, fetched lazily `page_size` at a time: for long listings.
    #[pyo3(signature = (day, folder = "INBOX", *, sort = None, descending = true, page_size = 500))]
    fn iter_messages(
        &self,
        py: Python<'_>,
        day: NaiveDate,
        folder: &str,
        sort: Option<&Bound<'_, PyAny>>,
        descending: bool,
        page_size: i64,
    ) -> PyResult<MessageIterator> {
        let folder = convert::folder_name(py, folder)?;
        let sort = sort.map(convert::sort_key).transpose()?.unwrap_or_default();
        let pager = MessagePager::new(MessageQuery {
            sort,
            descending,
            offset: 0,
            limit: convert::count(py, "page_size", page_size)?,
        })
        .map_err(|e| to_py(py, &e))?;
        Ok(MessageIterator {
            view: Arc::clone(&self.view),
            day,
            folder,
            pager,
            buffer: VecDeque::new(),
        })
    }

    /// The full hex id of the message that `prefix` (8 or more hex digits) names on `day`.
    fn resolve_id(&self, py: Python<'_>, day: NaiveDate, prefix: String) -> PyResult<String> {
        let view = Arc::clone(&self.view);
        Ok(run(py, move || view.resolve_id(day, &prefix))?.to_hex())
    }

    /// One message of a day (its first folder, in name order).
    fn message<'py>(
        &self,
        py: Python<'py>,
        day: NaiveDate,
        id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let view = Arc::clone(&self.view);
        let info = run(py, move || view.message(day, &view.resolve_id(day, &id)?))?;
        convert::message_info(py, &info)
    }

    /// The message's raw bytes, byte-exact (the `.eml` download), checked against its id.
    fn raw<'py>(
        &self,
        py: Python<'py>,
        day: NaiveDate,
        id: String,
    ) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let view = Arc::clone(&self.view);
        let bytes = run(py, move || view.raw(day, &view.resolve_id(day, &id)?))?;
        Ok(pyo3::types::PyBytes::new(py, &bytes))
    }

    /// The message parsed for reading: headers, text and HTML bodies, attachments.
    fn parsed<'py>(
        &self,
        py: Python<'py>,
        day: NaiveDate,
        id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let view = Arc::clone(&self.view);
        let parsed = run(py, move || view.parsed(day, &view.resolve_id(day, &id)?))?;
        convert::parsed_message(py, &parsed)
    }

    /// The decoded bytes of attachment `index` of `parsed`'s list, one the view left out
    /// (`omitted`, larger than the view decodes) included.
    fn attachment<'py>(
        &self,
        py: Python<'py>,
        day: NaiveDate,
        id: String,
        index: usize,
    ) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let view = Arc::clone(&self.view);
        let bytes = run(py, move || {
            view.attachment(day, &view.resolve_id(day, &id)?, index)
        })?;
        Ok(pyo3::types::PyBytes::new(py, &bytes))
    }

    /// Searches the snapshots: every day (default), one `day`, or the `days` range
    /// (first, last). Text criteria are case-insensitive substrings; all given must match.
    /// Hits are newest first. Only what the snapshots saw can be found.
    #[pyo3(signature = (*, day = None, days = None, from_ = None, to = None, subject = None, message_id = None, since = None, until = None, has_attachment = None))]
    #[allow(clippy::too_many_arguments)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        day: Option<NaiveDate>,
        days: Option<(NaiveDate, NaiveDate)>,
        from_: Option<String>,
        to: Option<String>,
        subject: Option<String>,
        message_id: Option<String>,
        since: Option<NaiveDate>,
        until: Option<NaiveDate>,
        has_attachment: Option<bool>,
    ) -> PyResult<Bound<'py, PyList>> {
        let scope = match (day, days) {
            (None, None) => DayScope::All,
            (Some(day), None) => DayScope::Day(day),
            (None, Some((first, last))) => DayScope::Range(first, last),
            (Some(_), Some(_)) => {
                return Err(invalid(py, "give day or days, not both"));
            }
        };
        let query = SearchQuery {
            days: scope,
            from: from_,
            to,
            subject,
            message_id,
            since,
            until,
            has_attachment,
        };
        let view = Arc::clone(&self.view);
        let hits = run(py, move || view.search(&query))?;
        list(py, &hits, convert::search_hit)
    }

    /// What changed from one snapshot day to another (removed, added, moved, flags).
    fn diff<'py>(
        &self,
        py: Python<'py>,
        from_day: NaiveDate,
        to_day: NaiveDate,
    ) -> PyResult<Bound<'py, PyAny>> {
        let view = Arc::clone(&self.view);
        let diff = run(py, move || view.diff(from_day, to_day))?;
        convert::snapshot_diff(py, &diff)
    }

    /// What changed from a snapshot day to the live Maildir now (`to_day` is then `None`).
    /// A `maildir` that is a symlink is refused unless `follow_account_symlinks`.
    #[pyo3(signature = (day, maildir, *, follow_account_symlinks = false))]
    fn diff_live<'py>(
        &self,
        py: Python<'py>,
        day: NaiveDate,
        maildir: PathBuf,
        follow_account_symlinks: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let view = Arc::clone(&self.view);
        let options = crate::repo::source_options(follow_account_symlinks);
        let diff = run(py, move || {
            view.diff_live(day, &MaildirAccount::open_with(&maildir, &options)?)
        })?;
        convert::snapshot_diff(py, &diff)
    }

    /// Every day and folder where a message was, oldest first (its id, or a unique prefix
    /// of 8 or more hex digits among every retained day's messages).
    fn history<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyList>> {
        let id = id.to_owned();
        let view = Arc::clone(&self.view);
        let seen = run(py, move || view.history(&view.resolve_id_any_day(&id)?))?;
        list(py, &seen, convert::sighting)
    }
}

/// Iterates over a folder's messages, fetching one page at a time.
#[pyclass(module = "mtm")]
pub(crate) struct MessageIterator {
    view: Arc<AccountView>,
    day: NaiveDate,
    folder: FolderName,
    /// Which page to fetch next, if any.
    pager: MessagePager,
    buffer: VecDeque<Py<PyAny>>,
}

#[pymethods]
impl MessageIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        if let Some(next) = self.buffer.pop_front() {
            return Ok(Some(next));
        }
        let Some(query) = self.pager.next_query() else {
            return Ok(None);
        };
        let view = Arc::clone(&self.view);
        let (day, folder) = (self.day, self.folder.clone());
        let page = run(py, move || view.messages(day, &folder, &query))?;
        self.pager.advance(&page);
        for info in &page.messages {
            self.buffer
                .push_back(convert::message_info(py, info)?.unbind());
        }
        Ok(self.buffer.pop_front())
    }
}
