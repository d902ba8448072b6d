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

use crate::error::{ErrorKind, Result};
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
        let inner = &self.inner;
        // Check the repository as it is now, not as this handle first saw it.
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
    for (pack, record) in inner.store.indexed_blobs() {
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
        let data = inner.backend.read(&key)?;
        report.packs_read += 1;
        if BlobId::of(&data) != *id {
            // The pack is damaged; which blobs, and so which messages, the checks of each
            // blob below tell.
            report
                .problems
                .push(problem(&key, "content does not match its hash"));
        }
        for record in records {
            let start = record.offset as usize;
            let end = start + record.stored_len as usize;
            report.blobs_checked += 1;
            let result = match data.get(start..end) {
                Some(stored) => inner.store.check_stored(pack, record, stored),
                None => Err(crate::Error::integrity(
                    &key,
                    "blob beyond the end of the pack",
                )),
            };
            match result {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Integrity => {
                    damaged.insert(record.id, e.to_string());
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok((damaged, unindexed))
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
        let account = key
            .strip_prefix("snapshots/")
            .and_then(|k| k.split_once('/'))
            .map(|(a, _)| a);
        match account.map(AccountId::new) {
            Some(Ok(account)) => {
                accounts.insert(account);
            }
            _ => report
                .problems
                .push(problem(&key, "not a snapshot record of a valid account")),
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
