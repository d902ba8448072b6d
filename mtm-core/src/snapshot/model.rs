//! The stored structures of a snapshot (see FORMAT.md): the snapshot record, folder
//! manifests and message catalogs. Manifests and catalogs are JSON blobs, content-addressed,
//! so an unchanged folder or catalog costs no new bytes.

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::flags::Flags;
use crate::id::{BlobId, MessageId};
use crate::message::Summary;
use crate::names::{AccountId, FolderName};
use crate::source::FolderStamp;

/// The format version written into every snapshot record and the repository config.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// The storage key of the snapshot of `account` on `day`.
pub(crate) fn snapshot_key(account: &AccountId, day: NaiveDate) -> String {
    format!("snapshots/{account}/{day}.json")
}

/// `snapshots/<account>/<YYYY-MM-DD>.json`: one account on one day.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SnapshotRecord {
    pub format: u32,
    pub account: AccountId,
    pub day: NaiveDate,
    pub taken_at: DateTime<Utc>,
    pub time_zone: String,
    pub folders: Vec<FolderRecord>,
    pub messages: u64,
    pub bytes: u64,
    /// When a repair rewrote this record (FORMAT.md, *Repair*); absent if it never did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repaired_at: Option<DateTime<Utc>>,
    /// What repairs dropped from this snapshot because it was damaged and no longer in the
    /// live Maildir; absent if nothing was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<LostMessages>,
}

/// Messages a repair dropped from a snapshot: one message (`file` and `id` known), or every
/// message of a folder whose manifest was unreadable (`messages` of them, names unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LostMessages {
    pub folder: FolderName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<MessageId>,
    pub messages: u64,
    pub reason: String,
}

impl SnapshotRecord {
    /// The file content: the record, sealed with its hash (see `sealed.rs`).
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        crate::sealed::seal(self, "snapshot record")
    }

    pub(crate) fn decode(data: &[u8], key: &str) -> Result<Self> {
        let record: SnapshotRecord = crate::sealed::unseal(data, key, "snapshot record")?;
        if record.format != FORMAT_VERSION {
            return Err(Error::UnsupportedFormat {
                found: record.format,
                supported: FORMAT_VERSION,
            });
        }
        Ok(record)
    }
}

/// One folder of a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FolderRecord {
    pub name: FolderName,
    pub subscribed: bool,
    pub messages: u64,
    pub bytes: u64,
    pub manifest: BlobId,
    /// How the folder's directories stood when it was listed (`source/stamp.rs`): the next
    /// snapshot passes over the folder, reusing this record, if they still stand so. Absent
    /// if the listing was not clean or the stamp too recent to trust, and in records written
    /// before stamps existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<FolderStamp>,
}

/// The messages of one folder on one day, sorted by file name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// The catalogs that hold these messages' parts and summaries.
    pub catalogs: Vec<BlobId>,
    pub messages: Vec<ManifestEntry>,
    /// Set when the same bytes are a stored blob found damaged, so that this one gets
    /// another id (see [`encode_renewed`]); absent (0) otherwise.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub renewed: u32,
}

impl Manifest {
    /// The catalog that describes `entry`; an integrity error if the manifest is damaged.
    pub(crate) fn catalog_of(&self, entry: &ManifestEntry) -> Result<&BlobId> {
        self.catalogs.get(entry.catalog as usize).ok_or_else(|| {
            Error::integrity(
                format!("message {}", entry.id),
                "catalog index out of range",
            )
        })
    }
}

/// One message file of a folder: what can change from day to day (name, flags) plus the
/// content id and where its catalog entry is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ManifestEntry {
    /// The Maildir file name, flags suffix included.
    pub file: String,
    pub id: MessageId,
    pub size: u64,
    /// The received date (the file's mtime), unix seconds.
    pub received: i64,
    #[serde(default, skip_serializing_if = "no_flags")]
    pub flags: Flags,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Position of this message's catalog in [`Manifest::catalogs`].
    pub catalog: u32,
}

fn no_flags(flags: &Flags) -> bool {
    flags.is_empty()
}

/// A batch of message descriptions: for each message, its parts and summary. A snapshot
/// writes one catalog for the messages its account had not seen before.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Catalog {
    pub messages: Vec<CatalogEntry>,
    /// As [`Manifest::renewed`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub renewed: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A stored structure that can be given another id without changing what it says.
pub(crate) trait Renewable: Serialize {
    fn renewed(&mut self) -> &mut u32;
}

impl Renewable for Manifest {
    fn renewed(&mut self) -> &mut u32 {
        &mut self.renewed
    }
}

impl Renewable for Catalog {
    fn renewed(&mut self) -> &mut u32 {
        &mut self.renewed
    }
}

/// Encodes a manifest or catalog whose id must not be one of `damaged`: a blob with the same
/// bytes as a damaged stored one would be taken as stored already and read as damaged, so
/// its `renewed` count is raised until its bytes (and id) differ. Returns the bytes and
/// their id (hashed once, here: the writer takes it).
pub(crate) fn encode_renewed<T: Renewable>(
    value: &mut T,
    damaged: &crate::id::IdSet<BlobId>,
    size_hint: usize,
) -> Result<(Vec<u8>, BlobId)> {
    loop {
        let data = encode(value, size_hint)?;
        let id = BlobId::of(&data);
        if !damaged.contains(&id) {
            return Ok((data, id));
        }
        let renewed = value.renewed();
        *renewed = renewed
            .checked_add(1)
            .ok_or_else(|| Error::invalid("stored structure", "cannot be renewed"))?;
    }
}

/// How to rebuild one message and what lists show of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CatalogEntry {
    pub id: MessageId,
    pub size: u64,
    /// Concatenated in order, these blobs give back the message byte for byte.
    pub parts: Vec<BlobId>,
    pub summary: Summary,
}

/// A manifest as reachability reads it (garbage collection, retention): the catalogs it
/// names, and for each message only its content id and which catalog describes it (file
/// names, flags and the rest are skipped).
#[derive(Debug, Deserialize)]
pub(crate) struct ManifestRefs {
    pub catalogs: Vec<BlobId>,
    pub messages: Vec<ManifestEntryRefs>,
}

/// One message of a [`ManifestRefs`].
#[derive(Debug, Deserialize)]
pub(crate) struct ManifestEntryRefs {
    pub id: MessageId,
    pub catalog: u32,
}

/// A catalog as reachability reads it: only each message's parts; the summaries (most of a
/// catalog's bytes) are checked to be well-formed JSON and otherwise skipped.
#[derive(Debug, Deserialize)]
pub(crate) struct CatalogRefs {
    pub messages: Vec<CatalogEntryRefs>,
}

/// The parts of one catalog entry.
#[derive(Debug, Deserialize)]
pub(crate) struct CatalogEntryRefs {
    pub id: MessageId,
    pub parts: Vec<BlobId>,
    #[serde(rename = "summary")]
    _summary: IgnoredAny,
}

/// Serializes a stored structure. `size_hint` is a guess of the encoded size: one allocation
/// of about the right size instead of a doubling series of them.
pub(crate) fn encode<T: Serialize>(value: &T, size_hint: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size_hint);
    serde_json::to_writer(&mut out, value)
        .map_err(|e| Error::invalid("stored structure", e.to_string()))?;
    Ok(out)
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(data: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(data).map_err(|e| Error::integrity(what, format!("cannot decode: {e}")))
}
