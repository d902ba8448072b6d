//! `verify`: the repository checks itself. Every index file, pack, dictionary, snapshot
//! record, manifest and catalog is read and its hash recomputed; every message part that a
//! snapshot references must be indexed, and (for the packs whose data is read) must
//! decompress to its hash. Damage is reported by what it hurts: the messages, by account,
//! day, folder and subject.
//!
//! A pack that no index file names is harmless only if it holds nothing a snapshot needs:
//! its trailer (which lists every blob of the pack) is read, and a pack holding a referenced
//! blob that no index names (a lost or damaged index file) is reported as damage, with the
//! fix, `mtm repair index`, which rebuilds the index from the pack trailers.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::id::{BlobId, IdMap, IdSet, MessageId};
use crate::names::{AccountId, FolderName};
use crate::repo::{RepoInner, Repository, load_blob};
use crate::snapshot::model::{Catalog, CatalogEntry, Manifest};
use crate::store::format::{IndexedPack, PackRecord, read_pack_trailer};
use crate::store::{dictionary_key, pack_key};

/// How thorough a check is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VerifyOptions {
    /// The share of packs (0.0 to 1.0) whose data is read whole and every blob decompressed
    /// and hashed. Packs are picked by their id, so repeated runs with 0.1 check different
    /// tenths only if the packs change; 1.0 (the default) checks everything. Manifests and
    /// catalogs are always read and checked.
    pub read_data: f64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self { read_data: 1.0 }
    }
}

impl VerifyOptions {
    /// Checks that `read_data` is a share between 0 and 1 (what
    /// [`Repository::verify`](crate::Repository::verify) checks first).
    pub fn validate(&self) -> Result<()> {
        if (0.0..=1.0).contains(&self.read_data) {
            Ok(())
        } else {
            Err(Error::invalid(
                "verify options",
                format!(
                    "read_data is a share between 0 and 1, not {}",
                    self.read_data
                ),
            ))
        }
    }
}

/// A message that damage makes unreadable.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct DamagedMessage {
    /// Its account.
    pub account: AccountId,
    /// The snapshot day.
    pub day: NaiveDate,
    /// The folder.
    pub folder: FolderName,
    /// Its subject, as the catalog has it ("" if the catalog is what is damaged).
    pub subject: String,
    /// Its content id.
    pub id: MessageId,
}

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The damaged file or blob.
    pub location: String,
    /// What is wrong with it.
    pub reason: String,
    /// The messages it makes unreadable (empty when none, or when not known).
    pub messages: Vec<DamagedMessage>,
}

/// What a check found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Index files read.
    pub index_files: u64,
    /// Pack files the index names.
    pub packs: u64,
    /// Packs whose data was read and every blob checked.
    pub packs_read: u64,
    /// Blobs decompressed and hashed.
    pub blobs_checked: u64,
    /// Snapshot records checked.
    pub snapshots: u64,
    /// Message entries checked across all snapshots.
    pub messages: u64,
    /// Pack files no index names and that hold no blob a snapshot needs: left by an
    /// interrupted writer, harmless, reclaimable by `gc`. A pack no index names that holds a
    /// blob a snapshot needs (a lost or damaged index file) is not counted here: it is a
    /// [`Problem`], and `mtm repair index` (`Repository::repair_index`) fixes it.
    pub unreferenced_packs: u64,
    /// Restore requests whose journal was read and checked against the state machine.
    pub restore_requests: u64,
    /// Billing records checked.
    pub bills: u64,
    /// Files kept under `damaged/`: the bytes of unreadable records that `repair recover`
    /// moved aside. Not part of the repository (not checked, never collected), counted so
    /// that they are not forgotten.
    pub damaged_files: u64,
    /// Everything wrong, in the order found.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Repository {
    /// Checks the whole repository. Damage is reported, not returned as an error: the
    /// answer lists every problem with the messages it affects. Only a failure to read the
    /// storage at all is an error.
    ///
    /// ```
    /// # use mtm_core::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let repo = Repository::init(dir.path().join("repo"), RepositoryOptions::default())?;
    /// let report = repo.verify(&VerifyOptions::default())?;
    /// assert!(report.is_ok());
    /// # Ok::<(), mtm_core::Error>(())
    /// ```
    pub fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport> {
        options.validate()?;
        let inner = &self.inner;
        // Check the repository as it is now, not as this handle first saw it: every index
        // file read whole, its hash checked.
        let _full = inner.store.full_index()?;
        inner.store.reload()?;
        let mut report = VerifyReport::default();
        for (key, reason) in inner.store.damaged_indexes() {
            report.problems.push(problem(key, reason));
        }
        report.index_files =
            inner.backend.list("index/")?.len() as u64 - inner.store.damaged_indexes().len() as u64;

        let (damaged_blobs, unindexed) = check_packs(inner, options, &mut report)?;
        let unindexed = unindexed_packs(inner, unindexed)?;
        check_dictionaries(inner, &mut report)?;
        let needed = check_snapshots(inner, &damaged_blobs, &unindexed, &mut report)?;
        check_unindexed_packs(&unindexed, &needed, &mut report);
        check_restores(inner, &mut report)?;
        report.damaged_files = inner.backend.list(crate::repair::DAMAGED)?.len() as u64;
        Ok(report)
    }
}

/// Every restore journal folds under the state machine, and every bill is intact.
fn check_restores(inner: &RepoInner, report: &mut VerifyReport) -> Result<()> {
    let journal = crate::restore::journal::Journal::new(inner.backend.as_ref());
    for account in journal.accounts()? {
        for number in journal.numbers(&account)? {
            let id = crate::restore::RequestId::new(account.clone(), number)?;
            match journal.load(&id) {
                Ok(_) => report.restore_requests += 1,
                Err(e) if e.kind() == crate::ErrorKind::Integrity => report
                    .problems
                    .push(problem(format!("restore request {id}"), e.to_string())),
                Err(e) => return Err(e),
            }
        }
    }
    for key in inner.backend.list("billing/")? {
        let data = inner.backend.read(&key)?;
        match crate::sealed::unseal::<crate::restore::BillingRecord>(&data, &key, "billing record")
        {
            Ok(_) => report.bills += 1,
            Err(e) => report.problems.push(problem(key, e.to_string())),
        }
    }
    Ok(())
}

fn problem(location: impl Into<String>, reason: impl Into<String>) -> Problem {
    Problem {
        location: location.into(),
        reason: reason.into(),
        messages: Vec::new(),
    }
}

/// Whether a pack's data is read under `fraction`: picked by the first bytes of its id.
fn selected(pack: &BlobId, fraction: f64) -> bool {
    if fraction >= 1.0 {
        return true;
    }
    let mut first = [0u8; 8];
    first.copy_from_slice(&pack.as_bytes()[..8]);
    (u64::from_le_bytes(first) as f64 / u64::MAX as f64) < fraction
}

/// What the packs that no index file names hold, by their trailers (which list every blob
/// of a pack): after a lost or damaged index file, the only record of where those blobs are.
#[derive(Debug, Default)]
pub(crate) struct UnindexedPacks {
    /// Every such pack, in key order.
    pub packs: Vec<String>,
    /// Each blob such a pack's trailer lists and no index file names, with the pack.
    pub blobs: IdMap<BlobId, String>,
    /// Such packs whose trailer cannot be read, with why.
    pub unreadable: Vec<(String, String)>,
}

impl UnindexedPacks {
    /// Where `blob` is, for a message that says it is missing from the index.
    pub(crate) fn whereabouts(&self, blob: &BlobId) -> String {
        match self.blobs.get(blob) {
            Some(pack) => format!(
                "pack {pack} holds it (its trailer lists it) but no index file names that \
                 pack: run `mtm repair index`"
            ),
            None if self.unreadable.is_empty() => {
                "no pack that the index omits holds it either".to_owned()
            }
            None => format!(
                "it may be in {}, whose trailer is unreadable",
                self.unreadable
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// What the trailers of `packs` (pack files no index file names) list. Only those packs are
/// read: after a clean run there are none, and an interrupted writer leaves a few.
pub(crate) fn unindexed_packs(inner: &RepoInner, packs: Vec<String>) -> Result<UnindexedPacks> {
    let mut found = UnindexedPacks::default();
    for key in packs {
        let data = match inner.backend.read(&key) {
            Ok(data) => data,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        match read_pack_trailer(&data, &key) {
            Ok(trailer) => {
                for record in trailer.records {
                    if !inner.store.contains(&record.id) {
                        found.blobs.entry(record.id).or_insert_with(|| key.clone());
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::Integrity => {
                found.unreadable.push((key.clone(), e.to_string()));
            }
            Err(e) => return Err(e),
        }
        found.packs.push(key);
    }
    Ok(found)
}

/// Reports each pack no index names: harmless if it holds nothing a snapshot needs, damage
/// if it does (the index lost track of live blobs).
fn check_unindexed_packs(
    unindexed: &UnindexedPacks,
    needed: &IdSet<BlobId>,
    report: &mut VerifyReport,
) {
    let mut held: BTreeMap<&str, u64> = BTreeMap::new();
    for blob in needed {
        if let Some(pack) = unindexed.blobs.get(blob) {
            *held.entry(pack.as_str()).or_default() += 1;
        }
    }
    let unlocated = needed
        .iter()
        .filter(|b| !unindexed.blobs.contains_key(b))
        .count();
    for key in &unindexed.packs {
        let unreadable = unindexed.unreadable.iter().find(|(k, _)| k == key);
        match (held.get(key.as_str()), unreadable) {
            (Some(n), _) => report.problems.push(problem(
                key,
                format!(
                    "no index file names this pack, but it holds {n} blob(s) that snapshots \
                     reference (its trailer lists them): the repository is damaged (a lost or \
                     damaged index file) and gc will not run; `mtm repair index` rebuilds the \
                     index from the pack trailers"
                ),
            )),
            (None, Some((_, reason))) if unlocated > 0 => report.problems.push(problem(
                key,
                format!(
                    "no index file names this pack and its trailer is unreadable ({reason}); \
                     {unlocated} blob(s) that snapshots reference are missing from the index \
                     and may be in it"
                ),
            )),
            _ => report.unreferenced_packs += 1,
        }
    }
}

/// Checks every indexed pack; returns the blobs found damaged, with why, and the pack files
/// that no index file names.
fn check_packs(
    inner: &RepoInner,
    options: &VerifyOptions,
    report: &mut VerifyReport,
) -> Result<(IdMap<BlobId, String>, Vec<String>)> {
    let mut by_pack: BTreeMap<BlobId, (IndexedPack, Vec<PackRecord>)> = BTreeMap::new();
    for (pack, record) in inner.store.indexed_blobs()? {
        by_pack
            .entry(pack.id)
            .or_insert_with(|| (pack, Vec::new()))
            .1
            .push(record);
    }
    report.packs = by_pack.len() as u64;
    let on_disk: BTreeSet<String> = inner.backend.list("packs/")?.into_iter().collect();
    let indexed: BTreeSet<String> = by_pack.keys().map(pack_key).collect();
    let unindexed: Vec<String> = on_disk.difference(&indexed).cloned().collect();

    let mut damaged: IdMap<BlobId, String> = IdMap::default();
    for (id, (pack, records)) in &by_pack {
        let key = pack_key(id);
        let mut fail_all = |reason: String, report: &mut VerifyReport| {
            report.problems.push(problem(&key, reason.clone()));
            for r in records {
                damaged.insert(r.id, format!("pack {key}: {reason}"));
            }
        };
        if !on_disk.contains(&key) {
            fail_all("indexed but missing".into(), report);
            continue;
        }
        if !selected(id, options.read_data) {
            // Without reading the data: every record must at least lie inside the file.
            let size = inner.backend.size(&key)?;
            let end = records
                .iter()
                .map(|r| u64::from(r.offset) + u64::from(r.stored_len))
                .max();
            if end.is_some_and(|end| end > size) {
                fail_all(
                    format!(
                        "truncated: {size} bytes, records reach {}",
                        end.unwrap_or(0)
                    ),
                    report,
                );
            }
            continue;
        }
        read_pack_data(inner, pack, records, report, &mut damaged)?;
    }
    Ok((damaged, unindexed))
}

/// A pack file up to this size is read with one read; a larger one (a large message part
/// has a pack of its own) in pieces of [`PIECE`] bytes.
const WHOLE_PACK: u64 = 8 * 1024 * 1024;
/// How much of a large pack is read at once.
const PIECE: u64 = 1024 * 1024;
/// A blob whose raw or stored bytes are larger than this is decompressed as a stream and
/// hashed as its pieces are read, never held whole (a huge message part costs verify a few
/// MiB, not twice its size).
const STREAM_CHECK: u32 = 1024 * 1024;

/// A blob whose stored bytes span more than one piece of its pack, while they are read.
enum Open<'d> {
    /// A small blob: its stored bytes so far.
    Buffer(Vec<u8>),
    /// A large blob, checked as it goes.
    Stream(Box<crate::store::codec::StreamCheck<'d>>),
    /// A blob already found damaged (the rest of its bytes are skipped).
    Failed(String),
}

/// Reads a pack's data and checks its hash and every blob of `records`, recording damaged
/// blobs in `damaged`.
fn read_pack_data(
    inner: &RepoInner,
    pack: &IndexedPack,
    records: &[PackRecord],
    report: &mut VerifyReport,
    damaged: &mut IdMap<BlobId, String>,
) -> Result<()> {
    report.packs_read += 1;
    let intact = check_pack_data(inner, pack, records, |record, reason| {
        report.blobs_checked += 1;
        if let Some(reason) = reason {
            damaged.insert(record.id, reason);
        }
    })?;
    if !intact {
        // The pack is damaged; which blobs, and so which messages, the checks of each blob
        // tell.
        report.problems.push(problem(
            pack_key(&pack.id),
            "content does not match its hash",
        ));
    }
    Ok(())
}

/// Reads a pack's data, a small pack with one read, a large one piece by piece, and checks
/// each blob of `records` as its bytes go by: `blob` is told each one's fate (why it is
/// damaged, or `None`). Returns whether the pack's bytes hash to its id. Memory stays at a
/// piece and a small blob, whatever the size of the pack and its blobs (verify and the
/// recovery's survey read every pack with it). An error only if the storage fails.
pub(crate) fn check_pack_data(
    inner: &RepoInner,
    pack: &IndexedPack,
    records: &[PackRecord],
    mut blob: impl FnMut(&PackRecord, Option<String>),
) -> Result<bool> {
    use crate::store::codec::{Codec, StreamCheck};
    let key = pack_key(&pack.id);
    let size = inner.backend.size(&key)?;
    let mut order: Vec<&PackRecord> = records.iter().collect();
    order.sort_by_key(|r| r.offset);
    let large = |r: &PackRecord| r.raw_len > STREAM_CHECK || r.stored_len > STREAM_CHECK;
    // The dictionary of large blobs that need it (small ones load it through the store).
    let mut dictionary_failure = None;
    let dictionary = match pack.dictionary {
        Some(d)
            if order
                .iter()
                .any(|r| large(r) && r.codec == Codec::ZstdDictionary) =>
        {
            match inner.store.dictionary(&d) {
                Ok(dictionary) => Some(dictionary),
                Err(e) if e.kind() == ErrorKind::Integrity => {
                    dictionary_failure = Some(e.to_string());
                    None
                }
                Err(e) => return Err(e),
            }
        }
        _ => None,
    };
    let where_ = |r: &PackRecord| format!("blob {} in pack {}", r.id, pack.id);
    let start = |r: &PackRecord| -> Open<'_> {
        if !large(r) {
            return Open::Buffer(Vec::with_capacity(r.stored_len as usize));
        }
        if let (Codec::ZstdDictionary, Some(reason)) = (r.codec, &dictionary_failure) {
            return Open::Failed(format!("{}: {reason}", where_(r)));
        }
        match StreamCheck::new(r.codec, r.raw_len as usize, dictionary.as_deref(), &|| {
            where_(r)
        }) {
            Ok(check) => Open::Stream(Box::new(check)),
            Err(e) => Open::Failed(e.to_string()),
        }
    };
    // The outcome of a blob whose stored bytes are all in: `Err` only if storage failed.
    let finish = |r: &PackRecord, open: Open<'_>| -> Result<Option<String>> {
        let result = match open {
            Open::Failed(reason) => return Ok(Some(reason)),
            Open::Buffer(stored) => inner.store.check_stored(pack, r, &stored),
            Open::Stream(check) => match check.finish() {
                Ok((len, id)) if (len, id) == (u64::from(r.raw_len), r.id) => Ok(()),
                Ok((len, _)) if len != u64::from(r.raw_len) => Err(crate::Error::integrity(
                    where_(r),
                    format!("decompressed to {len} bytes, expected {}", r.raw_len),
                )),
                Ok(_) => Err(crate::Error::integrity(
                    where_(r),
                    "content does not match its hash",
                )),
                Err(e) => Err(crate::Error::integrity(
                    where_(r),
                    format!("cannot decompress: {e}"),
                )),
            },
        };
        match result {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == ErrorKind::Integrity => Ok(Some(e.to_string())),
            Err(e) => Err(e),
        }
    };
    let piece = if size <= WHOLE_PACK { size } else { PIECE };
    let mut hasher = blake3::Hasher::new();
    let mut open: Vec<(&PackRecord, Open<'_>)> = Vec::new();
    let mut next = 0;
    let mut at = 0u64;
    while at < size {
        let data = inner.backend.read_range(&key, at, piece.min(size - at))?;
        if data.is_empty() {
            break;
        }
        hasher.update(&data);
        let end = at + data.len() as u64;
        while next < order.len() && u64::from(order[next].offset) < end {
            open.push((order[next], start(order[next])));
            next += 1;
        }
        let mut still_open = Vec::with_capacity(open.len());
        for (r, mut state) in open.drain(..) {
            let (from, to) = (
                u64::from(r.offset),
                u64::from(r.offset) + u64::from(r.stored_len),
            );
            let slice = &data[(from.max(at) - at) as usize..(to.min(end) - at) as usize];
            match &mut state {
                Open::Buffer(stored) => stored.extend_from_slice(slice),
                Open::Stream(check) => {
                    if let Err(e) = check.feed(slice) {
                        state = Open::Failed(format!("{}: cannot decompress: {e}", where_(r)));
                    }
                }
                Open::Failed(_) => {}
            }
            if to <= end {
                blob(r, finish(r, state)?);
            } else {
                still_open.push((r, state));
            }
        }
        open = still_open;
        at = end;
    }
    let intact = BlobId::from_bytes(*hasher.finalize().as_bytes()) == pack.id && at == size;
    let beyond = open
        .into_iter()
        .map(|(r, _)| r)
        .chain(order[next..].iter().copied());
    for r in beyond {
        let reason = if u64::from(r.offset) + u64::from(r.stored_len) <= at {
            // An empty blob at the very end.
            finish(r, Open::Buffer(Vec::new()))?
        } else {
            Some(format!("{key}: blob beyond the end of the pack"))
        };
        blob(r, reason);
    }
    Ok(intact)
}

fn check_dictionaries(inner: &RepoInner, report: &mut VerifyReport) -> Result<()> {
    for key in inner.backend.list("dictionaries/")? {
        let data = inner.backend.read(&key)?;
        let named = key
            .rsplit('/')
            .next()
            .and_then(|n| BlobId::from_hex(n).ok());
        if named != Some(BlobId::of(&data)) || dictionary_key(&BlobId::of(&data)) != key {
            report
                .problems
                .push(problem(&key, "dictionary does not match its hash"));
        }
    }
    Ok(())
}

/// What a file under `snapshots/` is, by its name.
enum SnapshotFile {
    /// `<account>/<YYYY-MM-DD>.json`, a record.
    Record(AccountId),
    /// `<account>/<YYYY-MM-DD>.json.repair`, a recovery's staged record.
    Staged,
    /// Anything else: no reader looks at it.
    Stray,
}

fn snapshot_file(key: &str) -> SnapshotFile {
    let Some((account, name)) = key
        .strip_prefix("snapshots/")
        .and_then(|k| k.split_once('/'))
    else {
        return SnapshotFile::Stray;
    };
    let Ok(account) = AccountId::new(account) else {
        return SnapshotFile::Stray;
    };
    let (stem, staged) = match name.strip_suffix(".json.repair") {
        Some(stem) => (stem, true),
        None => match name.strip_suffix(".json") {
            Some(stem) => (stem, false),
            None => return SnapshotFile::Stray,
        },
    };
    // Exactly as a record is named (`days` parses the same way; `2026-1-5` is no day of it).
    let day = NaiveDate::parse_from_str(stem, "%Y-%m-%d").ok();
    match day {
        Some(day) if day.format("%Y-%m-%d").to_string() == stem => {
            if staged {
                SnapshotFile::Staged
            } else {
                SnapshotFile::Record(account)
            }
        }
        _ => SnapshotFile::Stray,
    }
}

/// Checks every snapshot down to its messages' parts, and names the messages that damage
/// makes unreadable.
fn check_snapshots(
    inner: &RepoInner,
    damaged_blobs: &IdMap<BlobId, String>,
    unindexed: &UnindexedPacks,
    report: &mut VerifyReport,
) -> Result<IdSet<BlobId>> {
    // Every blob a snapshot references that no index file names.
    let mut needed: IdSet<BlobId> = IdSet::default();
    let mut missing = |blob: &BlobId, reason: String| -> String {
        if inner.store.contains(blob) {
            reason
        } else {
            needed.insert(*blob);
            format!("{reason}; {}", unindexed.whereabouts(blob))
        }
    };
    let mut accounts: BTreeSet<AccountId> = BTreeSet::new();
    for key in inner.backend.list("snapshots/")? {
        match snapshot_file(&key) {
            SnapshotFile::Record(account) => {
                accounts.insert(account);
            }
            SnapshotFile::Staged => report.problems.push(problem(
                &key,
                "a replacement record that an interrupted recovery left unpublished: gc \
                 refuses until `mtm repair recover` publishes it",
            )),
            SnapshotFile::Stray => report.problems.push(problem(
                &key,
                "not a file of the repository (no snapshot record is named so): left alone, \
                 read by nothing; move it out of the repository",
            )),
        }
    }
    // Blob problems found while reading manifests and catalogs, by blob.
    let mut unreadable: IdMap<BlobId, String> = IdMap::default();
    let mut manifests: IdMap<BlobId, Option<Manifest>> = IdMap::default();
    let mut catalogs: IdMap<BlobId, Option<IdMap<MessageId, CatalogEntry>>> = IdMap::default();
    let mut hurt: BTreeMap<String, (String, BTreeSet<DamagedMessage>)> = BTreeMap::new();

    for account in &accounts {
        for day in inner.days(account)? {
            let record = match inner.snapshot_record(account, day) {
                Ok(record) => record,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Integrity | ErrorKind::UnsupportedFormat
                    ) =>
                {
                    report.problems.push(problem(
                        format!("snapshot of {account} on {day}"),
                        e.to_string(),
                    ));
                    continue;
                }
                Err(e) => return Err(e),
            };
            report.snapshots += 1;
            let listed: u64 = record.folders.iter().map(|f| f.messages).sum();
            let bytes: u64 = record.folders.iter().map(|f| f.bytes).sum();
            if (listed, bytes) != (record.messages, record.bytes) {
                report.problems.push(problem(
                    format!("snapshot of {account} on {day}"),
                    "its totals do not match its folders",
                ));
            }
            for folder in &record.folders {
                let manifest =
                    manifests.entry(folder.manifest).or_insert_with(|| {
                        match load_blob::<Manifest>(inner, &folder.manifest, "manifest") {
                            Ok(m) => Some(m),
                            Err(e) => {
                                let reason = missing(&folder.manifest, e.to_string());
                                unreadable.insert(folder.manifest, reason);
                                None
                            }
                        }
                    });
                let Some(manifest) = manifest else {
                    let reason = unreadable
                        .get(&folder.manifest)
                        .cloned()
                        .unwrap_or_default();
                    report.problems.push(problem(
                        format!(
                            "{account} on {day}, folder {} (manifest {})",
                            folder.name, folder.manifest
                        ),
                        format!("its message list is unreadable: {reason}"),
                    ));
                    continue;
                };
                let size: u64 = manifest.messages.iter().map(|e| e.size).sum();
                if (manifest.messages.len() as u64, size) != (folder.messages, folder.bytes) {
                    report.problems.push(problem(
                        format!("{account} on {day}, folder {}", folder.name),
                        "the record's message count or size does not match the manifest",
                    ));
                }
                for entry in &manifest.messages {
                    report.messages += 1;
                    let catalog_id = match manifest.catalog_of(entry) {
                        Ok(id) => *id,
                        Err(e) => {
                            report.problems.push(problem(
                                format!("manifest {}", folder.manifest),
                                e.to_string(),
                            ));
                            continue;
                        }
                    };
                    let catalog = catalogs.entry(catalog_id).or_insert_with(|| {
                        match load_blob::<Catalog>(inner, &catalog_id, "catalog") {
                            Ok(c) => Some(c.messages.into_iter().map(|e| (e.id, e)).collect()),
                            Err(e) => {
                                let reason = missing(&catalog_id, e.to_string());
                                unreadable.insert(catalog_id, reason);
                                None
                            }
                        }
                    });
                    let message = |subject: &str| DamagedMessage {
                        account: account.clone(),
                        day,
                        folder: folder.name.clone(),
                        subject: subject.to_owned(),
                        id: entry.id,
                    };
                    let Some(described) = catalog.as_ref().and_then(|c| c.get(&entry.id)) else {
                        let location = format!("catalog {catalog_id}");
                        let reason = unreadable.get(&catalog_id).cloned().unwrap_or_else(|| {
                            "does not describe a message its manifest lists".into()
                        });
                        hurt.entry(location)
                            .or_insert_with(|| (reason, BTreeSet::new()))
                            .1
                            .insert(message(""));
                        continue;
                    };
                    for part in &described.parts {
                        let reason = match damaged_blobs.get(part) {
                            Some(reason) => reason.clone(),
                            None if !inner.store.contains(part) => {
                                missing(part, "missing from the index".to_owned())
                            }
                            None => continue,
                        };
                        hurt.entry(format!("blob {part}"))
                            .or_insert_with(|| (reason, BTreeSet::new()))
                            .1
                            .insert(message(&described.summary.subject));
                    }
                }
            }
        }
    }
    for (location, (reason, messages)) in hurt {
        report.problems.push(Problem {
            location,
            reason,
            messages: messages.into_iter().collect(),
        });
    }
    Ok(needed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Kind;
    use crate::{Repository, RepositoryOptions};

    fn packs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for sub in std::fs::read_dir(dir).unwrap() {
            for file in std::fs::read_dir(sub.unwrap().path()).unwrap() {
                out.push(file.unwrap().path());
            }
        }
        out
    }

    #[test]
    fn a_large_pack_is_read_in_pieces_and_a_flipped_byte_in_its_blob_found() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        let repo = Repository::init(&root, RepositoryOptions::default()).unwrap();
        let inner = &repo.inner;
        // Incompressible: the pack is larger than one read, the blob spans many pieces.
        let mut large = vec![0u8; (WHOLE_PACK + 3 * PIECE + 12345) as usize];
        blake3::Hasher::new().finalize_xof().fill(&mut large);
        let mut writer = inner.store.writer(None);
        let small = writer.add(Kind::Part, b"a small blob").unwrap();
        let id = writer.add(Kind::Part, &large).unwrap();
        writer.finish().unwrap();
        let check = |report: &mut VerifyReport| {
            check_packs(inner, &VerifyOptions::default(), report)
                .unwrap()
                .0
        };
        let mut report = VerifyReport::default();
        assert!(check(&mut report).is_empty());
        assert_eq!((report.packs_read, report.blobs_checked), (2, 2));
        assert!(report.is_ok(), "{:?}", report.problems);

        let pack = packs(&root.join("packs"))
            .into_iter()
            .find(|p| std::fs::metadata(p).unwrap().len() > WHOLE_PACK)
            .unwrap();
        let mut data = std::fs::read(&pack).unwrap();
        data[(WHOLE_PACK / 2) as usize] ^= 0x10;
        std::fs::remove_file(&pack).unwrap();
        std::fs::write(&pack, data).unwrap();
        let mut report = VerifyReport::default();
        let damaged = check(&mut report);
        assert!(damaged.contains_key(&id) && !damaged.contains_key(&small));
        assert!(
            damaged[&id].contains("does not match its hash"),
            "{damaged:?}"
        );
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(
            report.problems[0]
                .reason
                .contains("does not match its hash")
        );
    }
}

#[cfg(test)]
mod options_tests {
    use super::*;

    #[test]
    fn read_data_is_a_share_between_zero_and_one() {
        for ok in [0.0, 0.25, 1.0] {
            assert!(VerifyOptions { read_data: ok }.validate().is_ok(), "{ok}");
        }
        for bad in [-0.1, 1.5, f64::NAN] {
            let err = VerifyOptions { read_data: bad }.validate().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
        }
    }
}
