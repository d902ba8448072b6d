//! Read-only browsing of one account: days, folders, message lists, single messages.
//!
//! An [`AccountView`] can reach only the snapshots of its own account and the messages they
//! name; there is no call that takes a raw blob id, so deduplicated bytes shared with other
//! accounts are reachable only through this account's own references.

mod days;
mod diff;
mod paging;
mod search;

pub use days::parse_day;
pub use diff::{ChangeKind, DIFF_NOTE, DiffEntry, DiffSide, Placement, Sighting, SnapshotDiff};
pub use paging::{MessagePager, MessagePages};
pub use search::{DayScope, SearchHit, SearchQuery};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::flags::Flags;
use crate::id::{BlobId, IdMap, MessageId};
use crate::message::{ParsedMessage, Summary, attachment_data, parse_view};
use crate::names::{AccountId, FolderName};
use crate::repo::{RepoInner, Repository, load_blob};
use crate::snapshot::model::{
    Catalog, CatalogEntry, FolderRecord, Manifest, ManifestEntry, SnapshotRecord,
};

/// One snapshot, as the day picker shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotInfo {
    /// The account.
    pub account: AccountId,
    /// The provider-local day.
    pub day: NaiveDate,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
    /// Folders in it.
    pub folders: u64,
    /// Messages in it.
    pub messages: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// One folder of a snapshot, as the folder tree shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FolderInfo {
    /// Its path, `/`-separated.
    pub name: FolderName,
    /// Whether the user was subscribed to it (INBOX always is).
    pub subscribed: bool,
    /// Messages in it.
    pub messages: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// One message of a folder, as a message list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageInfo {
    /// The content id (BLAKE3 of the raw bytes): what [`AccountView::raw`] takes.
    pub id: MessageId,
    /// The folder it is in.
    pub folder: FolderName,
    /// The Maildir file name it had.
    pub file_name: String,
    /// Size in bytes.
    pub size: u64,
    /// When the server received it (the file's mtime).
    pub received: DateTime<Utc>,
    /// Its flags that day.
    pub flags: Flags,
    /// Its IMAP keywords that day.
    pub keywords: Vec<String>,
    /// From, To, Subject and the rest, parsed from its headers.
    pub summary: Summary,
}

/// The order of a message list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// The `Date:` header (the received date when it has none). The default.
    #[default]
    Date,
    /// The received date.
    Received,
    /// The sender, case-insensitively.
    From,
    /// The subject, case-insensitively.
    Subject,
    /// The size.
    Size,
}

/// Which page of a folder to list, in which order.
///
/// ```
/// use mtm_core::{MessageQuery, SortKey};
/// let q = MessageQuery::default().sort(SortKey::Subject, false).page(2, 25);
/// assert_eq!((q.offset, q.limit), (25, 25));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageQuery {
    /// The sort key.
    pub sort: SortKey,
    /// Largest, newest or last first (the default, as webmail shows dates).
    pub descending: bool,
    /// How many messages to skip.
    pub offset: usize,
    /// How many to return at most.
    pub limit: usize,
}

impl Default for MessageQuery {
    fn default() -> Self {
        Self {
            sort: SortKey::Date,
            descending: true,
            offset: 0,
            limit: 50,
        }
    }
}

impl MessageQuery {
    /// Sets the order.
    #[must_use]
    pub fn sort(mut self, key: SortKey, descending: bool) -> Self {
        self.sort = key;
        self.descending = descending;
        self
    }

    /// Selects page `number` (from 1) of `per_page` messages.
    #[must_use]
    pub fn page(mut self, number: usize, per_page: usize) -> Self {
        self.offset = number.saturating_sub(1).saturating_mul(per_page);
        self.limit = per_page;
        self
    }
}

/// A page of a message list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessagePage {
    /// Messages in the whole folder.
    pub total: u64,
    /// Where this page starts.
    pub offset: u64,
    /// The messages of this page.
    pub messages: Vec<MessageInfo>,
}

type CatalogMap = IdMap<MessageId, CatalogEntry>;

/// A read-only view of one account's snapshots. Get one with
/// [`Repository::account`](crate::Repository::account).
#[derive(Debug)]
pub struct AccountView {
    inner: Arc<RepoInner>,
    account: AccountId,
    records: Mutex<HashMap<NaiveDate, Arc<SnapshotRecord>>>,
    manifests: Mutex<IdMap<BlobId, Arc<Manifest>>>,
    catalogs: Mutex<IdMap<BlobId, Arc<CatalogMap>>>,
}

impl Repository {
    /// A read-only view of one account. The view can reach only that account's snapshots
    /// and the messages they name. [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if it
    /// has no snapshot.
    pub fn account(&self, account: &AccountId) -> Result<AccountView> {
        if self.inner.days(account)?.is_empty() {
            return Err(Error::not_found("account", account.as_str()));
        }
        Ok(AccountView::new(Arc::clone(&self.inner), account.clone()))
    }
}

impl AccountView {
    pub(crate) fn new(inner: Arc<RepoInner>, account: AccountId) -> Self {
        Self {
            inner,
            account,
            records: Mutex::default(),
            manifests: Mutex::default(),
            catalogs: Mutex::default(),
        }
    }

    /// The account this view shows.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The days with a snapshot, oldest first.
    pub fn days(&self) -> Result<Vec<NaiveDate>> {
        self.inner.days(&self.account)
    }

    /// The snapshot of one day.
    pub fn snapshot(&self, day: NaiveDate) -> Result<SnapshotInfo> {
        let r = self.record(day)?;
        Ok(SnapshotInfo {
            account: r.account.clone(),
            day: r.day,
            taken_at: r.taken_at,
            folders: r.folders.len() as u64,
            messages: r.messages,
            bytes: r.bytes,
        })
    }

    /// The folder tree of one day, subscribed and unsubscribed folders alike, sorted by
    /// path with INBOX first.
    pub fn folders(&self, day: NaiveDate) -> Result<Vec<FolderInfo>> {
        let mut folders: Vec<FolderInfo> = self
            .record(day)?
            .folders
            .iter()
            .map(|f| FolderInfo {
                name: f.name.clone(),
                subscribed: f.subscribed,
                messages: f.messages,
                bytes: f.bytes,
            })
            .collect();
        folders.sort_by(|a, b| {
            (!a.name.is_inbox(), a.name.as_str()).cmp(&(!b.name.is_inbox(), b.name.as_str()))
        });
        Ok(folders)
    }

    /// One page of a folder's messages.
    pub fn messages(
        &self,
        day: NaiveDate,
        folder: &FolderName,
        query: &MessageQuery,
    ) -> Result<MessagePage> {
        let record = self.record(day)?;
        let folder_record = find_folder(&record, folder)?;
        let manifest = self.manifest(&folder_record.manifest)?;
        let catalogs = self.catalogs_of(&manifest)?;
        let mut all = manifest
            .messages
            .iter()
            .map(|entry| self.info(folder, entry, &manifest, &catalogs))
            .collect::<Result<Vec<_>>>()?;
        sort_messages(&mut all, query.sort, query.descending);
        let total = all.len() as u64;
        let messages = all
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .collect();
        Ok(MessagePage {
            total,
            offset: query.offset as u64,
            messages,
        })
    }

    /// One message of a day: its first occurrence (folders in name order).
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if that day has no such message.
    pub fn message(&self, day: NaiveDate, id: &MessageId) -> Result<MessageInfo> {
        let record = self.record(day)?;
        for folder in &record.folders {
            let manifest = self.manifest(&folder.manifest)?;
            if let Some(entry) = manifest.messages.iter().find(|e| e.id == *id) {
                let catalogs = self.catalogs_of(&manifest)?;
                return self.info(&folder.name, entry, &manifest, &catalogs);
            }
        }
        Err(self.missing_message(day, id))
    }

    /// The raw bytes of a message as it was stored: the `.eml` download, byte for byte.
    /// The bytes are checked against the message id before they are returned; damage is
    /// an [`ErrorKind::Integrity`](crate::ErrorKind::Integrity) error naming the message.
    pub fn raw(&self, day: NaiveDate, id: &MessageId) -> Result<Vec<u8>> {
        let info = self.message(day, id)?;
        let entry = self.catalog_entry(day, id)?;
        let describe = || {
            format!(
                "message {} of {} on {day} in {} (subject {:?})",
                id, self.account, info.folder, info.summary.subject
            )
        };
        // Each part is appended in place: the message is held once, not once more per part.
        let mut raw = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
        for part in &entry.parts {
            self.inner.store.read_append(part, &describe, &mut raw)?;
        }
        if MessageId::of(&raw) != *id {
            return Err(Error::integrity(
                describe(),
                "rebuilt bytes do not match the message id",
            ));
        }
        Ok(raw)
    }

    /// The raw bytes of one manifest entry of a day's folder, checked against its id: what
    /// [`raw`](Self::raw) gives, without looking the message up again (a restore reads
    /// every message of a folder it already holds the manifest of).
    pub(crate) fn raw_entry(
        &self,
        day: NaiveDate,
        folder: &FolderName,
        manifest: &Manifest,
        entry: &ManifestEntry,
    ) -> Result<Vec<u8>> {
        let catalog = self.catalog(manifest.catalog_of(entry)?)?;
        let id = &entry.id;
        let describe = || format!("message {id} of {} on {day} in {folder}", self.account);
        let parts = &catalog
            .get(id)
            .ok_or_else(|| Error::integrity(describe(), "missing from its catalog"))?
            .parts;
        let mut raw = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
        for part in parts {
            self.inner.store.read_append(part, &describe, &mut raw)?;
        }
        if MessageId::of(&raw) != *id {
            return Err(Error::integrity(
                describe(),
                "rebuilt bytes do not match the message id",
            ));
        }
        Ok(raw)
    }

    /// A message parsed for reading: headers, text and HTML bodies, attachments.
    pub fn parsed(&self, day: NaiveDate, id: &MessageId) -> Result<ParsedMessage> {
        Ok(parse_view(&self.raw(day, id)?))
    }

    /// The decoded bytes of attachment `index` of [`parsed`](Self::parsed)'s list, an
    /// `omitted` one included (see [`attachment_data`]). Costs the message's size plus the
    /// attachment's.
    pub fn attachment(&self, day: NaiveDate, id: &MessageId, index: usize) -> Result<Vec<u8>> {
        attachment_data(&self.raw(day, id)?, index).ok_or_else(|| {
            Error::not_found(
                "attachment",
                format!("{index} of message {id} in {} on {day}", self.account),
            )
        })
    }

    /// Finds a message by a prefix of its hex id (at least 8 digits), among the messages of
    /// one day. Ambiguous prefixes are an error.
    pub fn resolve_id(&self, day: NaiveDate, prefix: &str) -> Result<MessageId> {
        self.resolve_among(&[day], prefix, || format!("{} on {day}", self.account))
    }

    /// Finds a message by its hex id or a prefix of it (at least 8 digits), as
    /// [`resolve_id`](Self::resolve_id) does, among the messages of every retained day:
    /// what [`history`](Self::history) takes.
    pub fn resolve_id_any_day(&self, prefix: &str) -> Result<MessageId> {
        let days = self.days()?;
        self.resolve_among(&days, prefix, || {
            format!("any snapshot of {}", self.account)
        })
    }

    /// The one prefix resolution: a whole id is taken as it is; a prefix must be 8 or more
    /// hex digits and name exactly one message of `days`.
    fn resolve_among(
        &self,
        days: &[NaiveDate],
        prefix: &str,
        place: impl Fn() -> String,
    ) -> Result<MessageId> {
        if let Ok(id) = MessageId::from_hex(prefix) {
            return Ok(id);
        }
        let prefix = prefix.to_ascii_lowercase();
        if prefix.len() < 8 || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::invalid(
                "message id",
                format!("{prefix:?}: give at least 8 hex digits"),
            ));
        }
        let mut found: Option<MessageId> = None;
        for day in days {
            for folder in &self.record(*day)?.folders {
                for entry in &self.manifest(&folder.manifest)?.messages {
                    if entry.id.to_hex().starts_with(&prefix) {
                        match found {
                            Some(other) if other != entry.id => {
                                return Err(Error::invalid(
                                    "message id",
                                    format!("{prefix} is ambiguous"),
                                ));
                            }
                            _ => found = Some(entry.id),
                        }
                    }
                }
            }
        }
        found.ok_or_else(|| Error::not_found("message", format!("{prefix} in {}", place())))
    }

    fn missing_message(&self, day: NaiveDate, id: &MessageId) -> Error {
        Error::not_found("message", format!("{id} in {} on {day}", self.account))
    }

    fn catalog_entry(&self, day: NaiveDate, id: &MessageId) -> Result<CatalogEntry> {
        let record = self.record(day)?;
        for folder in &record.folders {
            let manifest = self.manifest(&folder.manifest)?;
            if let Some(entry) = manifest.messages.iter().find(|e| e.id == *id) {
                let catalog = self.catalog(manifest.catalog_of(entry)?)?;
                return catalog.get(id).cloned().ok_or_else(|| {
                    Error::integrity(format!("message {id}"), "missing from its catalog")
                });
            }
        }
        Err(self.missing_message(day, id))
    }

    fn info(
        &self,
        folder: &FolderName,
        entry: &ManifestEntry,
        manifest: &Manifest,
        catalogs: &[Arc<CatalogMap>],
    ) -> Result<MessageInfo> {
        let summary = catalogs
            .get(entry.catalog as usize)
            .and_then(|c| c.get(&entry.id))
            .map(|c| c.summary.clone())
            .ok_or_else(|| {
                Error::integrity(
                    format!(
                        "message {} in {folder} ({} catalogs)",
                        entry.id,
                        manifest.catalogs.len()
                    ),
                    "missing from its catalog",
                )
            })?;
        Ok(MessageInfo {
            id: entry.id,
            folder: folder.clone(),
            file_name: entry.file.clone(),
            size: entry.size,
            received: DateTime::from_timestamp(entry.received, 0).unwrap_or_default(),
            flags: entry.flags,
            keywords: entry.keywords.clone(),
            summary,
        })
    }

    pub(crate) fn record(&self, day: NaiveDate) -> Result<Arc<SnapshotRecord>> {
        if let Some(r) = lock(&self.records).get(&day) {
            return Ok(Arc::clone(r));
        }
        let record = Arc::new(self.inner.snapshot_record(&self.account, day)?);
        lock(&self.records).insert(day, Arc::clone(&record));
        Ok(record)
    }

    pub(crate) fn manifest(&self, id: &BlobId) -> Result<Arc<Manifest>> {
        if let Some(m) = lock(&self.manifests).get(id) {
            return Ok(Arc::clone(m));
        }
        let manifest: Arc<Manifest> = Arc::new(load_blob(&self.inner, id, "manifest")?);
        lock(&self.manifests).insert(*id, Arc::clone(&manifest));
        Ok(manifest)
    }

    pub(crate) fn catalog(&self, id: &BlobId) -> Result<Arc<CatalogMap>> {
        if let Some(c) = lock(&self.catalogs).get(id) {
            return Ok(Arc::clone(c));
        }
        let catalog: Catalog = load_blob(&self.inner, id, "catalog")?;
        let map: Arc<CatalogMap> =
            Arc::new(catalog.messages.into_iter().map(|e| (e.id, e)).collect());
        lock(&self.catalogs).insert(*id, Arc::clone(&map));
        Ok(map)
    }

    /// Loads the manifests and catalogs of `days` into this view's caches, one thread per
    /// core: what search, diff and history read next is then decoded in parallel.
    pub(crate) fn preload(&self, days: &[NaiveDate]) -> Result<()> {
        let mut manifests = Vec::new();
        for day in days {
            manifests.extend(self.record(*day)?.folders.iter().map(|f| f.manifest));
        }
        manifests.sort_unstable();
        manifests.dedup();
        crate::pool::for_each(&manifests, crate::pool::workers(0), |id| {
            let manifest = self.manifest(id)?;
            self.catalogs_of(&manifest)?;
            Ok(())
        })
    }

    pub(crate) fn catalogs_of(&self, manifest: &Manifest) -> Result<Vec<Arc<CatalogMap>>> {
        manifest.catalogs.iter().map(|c| self.catalog(c)).collect()
    }

    pub(crate) fn summary_of(&self, manifest: &Manifest, entry: &ManifestEntry) -> Result<Summary> {
        let catalog = self.catalog(manifest.catalog_of(entry)?)?;
        catalog
            .get(&entry.id)
            .map(|c| c.summary.clone())
            .ok_or_else(|| {
                Error::integrity(format!("message {}", entry.id), "missing from its catalog")
            })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn find_folder<'r>(
    record: &'r SnapshotRecord,
    folder: &FolderName,
) -> Result<&'r FolderRecord> {
    record
        .folders
        .iter()
        .find(|f| f.name == *folder)
        .ok_or_else(|| {
            Error::not_found(
                "folder",
                format!("{folder} in {} on {}", record.account, record.day),
            )
        })
}

/// The date a message list sorts by: the Date header, else the received date.
pub(crate) fn effective_date(summary: &Summary, received: i64) -> i64 {
    summary.date.unwrap_or(received)
}

fn sort_messages(messages: &mut [MessageInfo], key: SortKey, descending: bool) {
    let date = |m: &MessageInfo| effective_date(&m.summary, m.received.timestamp());
    messages.sort_by(|a, b| {
        let primary = match key {
            SortKey::Date => date(a).cmp(&date(b)),
            SortKey::Received => a.received.cmp(&b.received),
            SortKey::From => a
                .summary
                .from
                .to_lowercase()
                .cmp(&b.summary.from.to_lowercase()),
            SortKey::Subject => a
                .summary
                .subject
                .to_lowercase()
                .cmp(&b.summary.subject.to_lowercase()),
            SortKey::Size => a.size.cmp(&b.size),
        };
        let primary = if descending {
            primary.reverse()
        } else {
            primary
        };
        primary.then_with(|| a.file_name.cmp(&b.file_name))
    });
}
