//! Recovery of damaged snapshots: what a damaged manifest, catalog, message part, pack or
//! dictionary made unreadable is stored again from the live Maildir where the message is
//! still there, and dropped from its snapshots (and listed as lost in their records) where
//! it is not. Afterwards every blob a snapshot reaches is readable: `verify` is clean and
//! `gc` runs.
//!
//! The survey reads everything, as `verify` does (a large pack in pieces): every indexed
//! pack (its hash and every blob), every dictionary, every snapshot record, manifest and
//! catalog. The Maildir of an account is scanned only if one of its snapshots lost a
//! message; a live file is read only if its unique name and size match the lost one's, or
//! else its size does.
//!
//! A snapshot record that cannot be read (damaged seal or JSON) names nothing that can be
//! trusted, so it cannot be rewritten: it is moved aside under `damaged/` (its bytes kept,
//! never deleted) and its day dropped; what only it reached becomes garbage.
//!
//! Execution, under the gc lock, surveys again and refuses a plan that no longer matches,
//! moves the unreadable records aside, then in this order (a crash between two steps leaves a repository that a second run
//! finishes, and never a record that reaches a missing blob):
//!
//! 1. writes the recovered messages, the readable blobs of damaged packs, one new catalog
//!    per account and the rewritten manifests into new packs, with their index file;
//! 2. replaces each damaged snapshot record (the new one is first written beside it as
//!    `<day>.json.repair`, which a later run publishes if a crash came between; until then
//!    gc refuses to run, as what it names is reachable from no published record);
//! 3. rewrites the index files that name damaged blobs or packs without them;
//! 4. deletes the damaged packs and dictionaries.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};
use crate::id::{BlobId, IdMap, IdSet, MessageId};
use crate::lock::{LockKind, acquire};
use crate::message::analyze;
use crate::names::{AccountId, FolderName};
use crate::repo::{RepoInner, Repository, load_blob};
use crate::snapshot::model::{
    Catalog, CatalogEntry, LostMessages, Manifest, SnapshotRecord, encode, snapshot_key,
};
use crate::source::{MaildirAccount, MessageFile};
use crate::store::codec::Codec;
use crate::store::format::{IndexFile, IndexedPack, PackRecord, decode_index, encode_index};
use crate::store::{BlobStore, Kind, NewBlob, STREAM_FROM, dictionary_key, pack_key};
use crate::verify::Problem;

use super::journals::{MendedJournalEntry, mend_journals, survey_journals};

/// Suffix of a replacement snapshot record waiting to be published.
const STAGED: &str = ".repair";

/// Where damaged files a recovery moved aside are kept (FORMAT.md, *Repair*): never read as
/// part of the repository, never deleted by gc.
pub(crate) const DAMAGED: &str = "damaged/";

/// One message (or, for an unreadable manifest, one folder's messages) that a recovery
/// stores again or drops.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RepairedMessage {
    /// The folder of the snapshot.
    pub folder: FolderName,
    /// The Maildir file name the snapshot had (`None` when its manifest is unreadable).
    pub file: Option<String>,
    /// Its content id (`None` when its manifest is unreadable).
    pub id: Option<MessageId>,
    /// How many messages this is: 1, or the folder's count when its manifest is unreadable.
    pub messages: u64,
    /// What was damaged; for a recovered message, also where the live copy is.
    pub reason: String,
}

/// A snapshot record that cannot be read at all (its seal or its JSON is damaged): the
/// recovery moves its bytes aside, under `damaged/` (never deleted), and the day is dropped.
/// The messages it listed that no other record reaches become garbage: what the damage
/// already lost, and nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantinedRecord {
    /// The account.
    pub account: AccountId,
    /// The snapshot day that is dropped.
    pub day: NaiveDate,
    /// The key of the damaged record (`snapshots/<account>/<day>.json`).
    pub record: String,
    /// Where its bytes are kept (`damaged/snapshots/<account>/<day>.json`, with a `.<n>`
    /// suffix if an earlier, different damaged copy of that day is kept there already).
    pub moved_to: String,
    /// Why it cannot be read.
    pub reason: String,
    /// How it is mended, when its seal proves the original (one flipped bit, or damage in
    /// the seal or the framing only): the original is published again and the day kept.
    /// `None`: the day is dropped.
    pub mended: Option<String>,
}

impl QuarantinedRecord {
    /// The plan's sentence for it, as an operator reads it before confirming.
    pub fn describe(&self) -> String {
        if let Some(how) = &self.mended {
            return format!(
                "the snapshot of {} on {} is damaged ({}), but {how} and its seal proves the \
                 original: the original is published again and the day kept; the damaged \
                 bytes are moved aside to `{}`",
                self.account, self.day, self.reason, self.moved_to
            );
        }
        format!(
            "the snapshot of {} on {} is unreadable ({}): its record is moved aside to \
             `{}` and the day is dropped; the messages it listed that no other record \
             reaches become garbage",
            self.account, self.day, self.reason, self.moved_to
        )
    }
}

/// What a recovery does to one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairedSnapshot {
    /// The account.
    pub account: AccountId,
    /// The snapshot day.
    pub day: NaiveDate,
    /// Damaged messages found intact in the live Maildir: stored again.
    pub recovered: Vec<RepairedMessage>,
    /// Damaged messages that are not in the live Maildir: dropped from the snapshot and
    /// listed as lost in its record.
    pub lost: Vec<RepairedMessage>,
}

/// What [`Repository::recover`] would do: made by [`Repository::recovery_plan`], shown to
/// an operator, then executed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryPlan {
    /// The snapshots whose records are rewritten.
    pub snapshots: Vec<RepairedSnapshot>,
    /// Damaged or missing pack files: their readable blobs are written again, and then the
    /// files deleted (a missing one is only dropped from the index).
    pub damaged_packs: Vec<String>,
    /// Index entries of unreadable blobs, dropped from the index files that hold them.
    pub damaged_blobs: u64,
    /// Dictionaries that do not match their hash: deleted.
    pub damaged_dictionaries: Vec<String>,
    /// Replacement records a crashed recovery left unpublished: published.
    pub staged_records: Vec<String>,
    /// Snapshot records that cannot be read at all: moved aside under `damaged/`, their
    /// days dropped.
    pub quarantined: Vec<QuarantinedRecord>,
    /// Restore journal entries whose seal proves their original: published again, their
    /// damaged bytes moved aside under `damaged/`.
    pub journal_entries: Vec<MendedJournalEntry>,
    /// Damage a recovery cannot mend (a snapshot record of a format this version does not
    /// know, which a newer version reads; a restore journal no seal mends): left as it is.
    pub unrepairable: Vec<Problem>,
    /// The live Maildirs the plan was made with (not serialized).
    #[serde(skip)]
    sources: Vec<(AccountId, MaildirAccount)>,
}

impl RecoveryPlan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
            && self.damaged_packs.is_empty()
            && self.damaged_blobs == 0
            && self.damaged_dictionaries.is_empty()
            && self.staged_records.is_empty()
            && self.quarantined.is_empty()
            && self.journal_entries.is_empty()
    }

    /// How many unreadable snapshot records are moved aside (their days dropped), and how
    /// many damaged ones are mended from their seal (their days kept).
    pub fn records_dropped_and_mended(&self) -> (usize, usize) {
        let mended = self
            .quarantined
            .iter()
            .filter(|q| q.mended.is_some())
            .count();
        (self.quarantined.len() - mended, mended)
    }

    /// How many messages are stored again (counted once per snapshot).
    pub fn recovered_messages(&self) -> u64 {
        self.snapshots
            .iter()
            .flat_map(|s| &s.recovered)
            .map(|m| m.messages)
            .sum()
    }

    /// How many messages are dropped (counted once per snapshot).
    pub fn lost_messages(&self) -> u64 {
        self.snapshots
            .iter()
            .flat_map(|s| &s.lost)
            .map(|m| m.messages)
            .sum()
    }

    /// Whether this plan and `other` do the same (their live Maildirs aside).
    fn same_work(&self, other: &RecoveryPlan) -> bool {
        self.snapshots == other.snapshots
            && self.damaged_packs == other.damaged_packs
            && self.damaged_blobs == other.damaged_blobs
            && self.damaged_dictionaries == other.damaged_dictionaries
            && self.staged_records == other.staged_records
            && self.quarantined == other.quarantined
            && self.journal_entries == other.journal_entries
    }
}

/// What [`Repository::recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecoveryReport {
    /// Snapshot records rewritten.
    pub snapshots_rewritten: u64,
    /// Messages stored again from the live Maildir.
    pub messages_recovered: u64,
    /// Messages dropped from their snapshots.
    pub messages_lost: u64,
    /// Readable blobs moved out of damaged packs.
    pub blobs_rescued: u64,
    /// Index files rewritten without damaged entries.
    pub index_files_rewritten: u64,
    /// Pack files deleted.
    pub packs_deleted: u64,
    /// Dictionaries deleted.
    pub dictionaries_deleted: u64,
    /// Unreadable snapshot records moved aside under `damaged/` (their days dropped).
    pub records_quarantined: u64,
    /// Damaged snapshot records whose original their seal proved: published again (their
    /// damaged bytes kept under `damaged/`).
    pub records_mended: u64,
    /// Restore journal entries mended from their seal.
    pub journal_entries_mended: u64,
}

/// What the survey of the blobs found.
#[derive(Debug, Default)]
struct BlobDamage {
    /// Indexed blobs that cannot be read, with why.
    unreadable: IdMap<BlobId, String>,
    /// Damaged or missing packs, by key.
    packs: BTreeSet<String>,
    /// Readable blobs of damaged packs, to write again.
    rescue: Vec<(IndexedPack, PackRecord)>,
    /// Index entries to drop: (pack, blob).
    drop: BTreeSet<(BlobId, BlobId)>,
    dictionaries: Vec<String>,
}

/// What happens to one damaged message of one snapshot.
#[derive(Debug, Clone)]
enum Fate {
    Recover(MessageFile),
    Lose,
}

/// One record to rewrite, with what the survey decided for it.
#[derive(Debug)]
struct Rewrite {
    record: SnapshotRecord,
    /// Folders by position in the record: their manifest (None: unreadable) and, for each
    /// damaged message, its fate.
    folders: Vec<(Option<Manifest>, IdMap<MessageId, Fate>)>,
}

/// Everything a survey found: the plan and what executing it needs.
#[derive(Debug)]
struct Survey {
    plan: RecoveryPlan,
    damage: BlobDamage,
    rewrites: Vec<Rewrite>,
    /// The originals of the mended records, by key.
    mended: BTreeMap<String, Vec<u8>>,
    /// The originals of the mended journal entries, by key.
    journal_originals: BTreeMap<String, Vec<u8>>,
}

impl Repository {
    /// Plans the recovery of every damaged snapshot (see [`RecoveryPlan`]): reads every
    /// pack, dictionary, record, manifest and catalog, and, for the accounts that lost
    /// messages, their live Maildir in `sources` (an account with damage and no Maildir
    /// there loses its damaged messages). Changes nothing.
    ///
    /// Refused ([`ErrorKind::InvalidInput`]) while an index file is damaged, or a blob a
    /// snapshot needs is in a pack that no index file names: those blobs would count as
    /// lost, and [`repair_index`](Self::repair_index) finds them again.
    pub fn recovery_plan(&self, sources: &[(AccountId, MaildirAccount)]) -> Result<RecoveryPlan> {
        let _full = self.inner.store.full_index()?;
        self.inner.store.reload()?;
        Ok(survey(&self.inner, sources)?.plan)
    }

    /// Executes a recovery plan, under the exclusive gc lock ([`ErrorKind::Busy`] while a
    /// snapshot or gc runs): the repository is surveyed again, and a plan that does not
    /// match what the survey finds now is refused ([`ErrorKind::InvalidInput`]: plan
    /// again). Rewritten records carry `clock.now()` as their repair time.
    pub fn recover(&self, plan: &RecoveryPlan, clock: &dyn Clock) -> Result<RecoveryReport> {
        let backend = Arc::clone(&self.inner.backend);
        let _lock = acquire(backend.as_ref(), LockKind::Gc)?;
        let _full = self.inner.store.full_index()?;
        self.inner.store.reload()?;
        let fresh = survey(&self.inner, &plan.sources)?;
        if !fresh.plan.same_work(plan) {
            return Err(Error::invalid(
                "recovery plan",
                "the repository or a Maildir changed since the plan was made: plan again",
            ));
        }
        execute(&self.inner, fresh, clock)
    }
}

fn survey(inner: &RepoInner, sources: &[(AccountId, MaildirAccount)]) -> Result<Survey> {
    // Blobs that are only unindexed would count as lost: the index is mended first. A pack
    // no index names is usually what an interrupted writer left (garbage, which gc
    // reclaims); it matters only if it holds a blob that a snapshot needs.
    if let Some((key, _)) = inner.store.damaged_indexes().first() {
        return Err(Error::invalid(
            "recovery",
            format!(
                "index file {key} is damaged: run `mtm repair index` \
                 (Repository::repair_index) first"
            ),
        ));
    }
    let named = inner.store.indexed_packs()?;
    let mut unindexed: IdSet<BlobId> = IdSet::default();
    for key in inner.backend.list("packs/")? {
        if super::index::pack_id(&key).is_some_and(|id| named.contains(&id)) {
            continue;
        }
        match super::index::read_trailer(inner.backend.as_ref(), &key) {
            Ok(trailer) => unindexed.extend(trailer.records.iter().map(|r| r.id)),
            Err(e) if e.kind() == ErrorKind::Integrity => {}
            Err(e) => return Err(e),
        }
    }
    let needs_index = std::cell::Cell::new(None::<BlobId>);
    let damage = survey_blobs(inner)?;
    let journals = survey_journals(inner)?;
    let mut plan = RecoveryPlan {
        snapshots: Vec::new(),
        damaged_packs: damage.packs.iter().cloned().collect(),
        damaged_blobs: damage.drop.len() as u64,
        damaged_dictionaries: damage.dictionaries.clone(),
        staged_records: Vec::new(),
        quarantined: Vec::new(),
        journal_entries: journals.mended,
        unrepairable: journals.unrepairable,
        sources: sources.to_vec(),
    };
    let journal_originals = journals.originals;
    let usable = |id: &BlobId| {
        if !inner.store.contains(id) && unindexed.contains(id) {
            needs_index.set(Some(*id));
        }
        inner.store.contains(id) && !damage.unreadable.contains_key(id)
    };
    let mut rewrites = Vec::new();
    let mut accounts: BTreeSet<AccountId> = BTreeSet::new();
    for key in inner.backend.list("snapshots/")? {
        if key.ends_with(STAGED) {
            plan.staged_records.push(key.clone());
        }
        let account = key
            .strip_prefix("snapshots/")
            .and_then(|k| k.split_once('/'))
            .and_then(|(a, _)| AccountId::new(a).ok());
        accounts.extend(account);
    }
    let mut manifests: IdMap<BlobId, Option<Manifest>> = IdMap::default();
    let mut catalogs: IdMap<BlobId, Option<IdMap<MessageId, Vec<BlobId>>>> = IdMap::default();
    let mut mended: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for account in &accounts {
        let mut live = LiveLookup::new(sources.iter().find(|(a, _)| a == account));
        for day in inner.days(account)? {
            let record = match inner.snapshot_record(account, day) {
                Ok(record) => record,
                Err(e) if e.kind() == ErrorKind::Integrity => {
                    let record = snapshot_key(account, day);
                    let data = inner.backend.read(&record)?;
                    let moved_to = quarantine_key(inner, &record, &data)?;
                    let salvaged = super::salvage::salvage_sealed(&data).filter(|(bytes, _)| {
                        SnapshotRecord::decode(bytes, &record)
                            .is_ok_and(|r| r.account == *account && r.day == day)
                    });
                    let how = salvaged.map(|(bytes, how)| {
                        mended.insert(record.clone(), bytes);
                        how.to_owned()
                    });
                    plan.quarantined.push(QuarantinedRecord {
                        account: account.clone(),
                        day,
                        record,
                        moved_to,
                        reason: e.to_string(),
                        mended: how,
                    });
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::UnsupportedFormat => {
                    plan.unrepairable.push(Problem {
                        location: snapshot_key(account, day),
                        reason: e.to_string(),
                        messages: Vec::new(),
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut planned = RepairedSnapshot {
                account: account.clone(),
                day,
                recovered: Vec::new(),
                lost: Vec::new(),
            };
            let mut folders = Vec::with_capacity(record.folders.len());
            for folder in &record.folders {
                let manifest = match manifests.get(&folder.manifest) {
                    Some(known) => known.clone(),
                    None => {
                        let read = if usable(&folder.manifest) {
                            damage_to_none(load_blob::<Manifest>(
                                inner,
                                &folder.manifest,
                                "manifest",
                            ))?
                        } else {
                            None
                        };
                        manifests.insert(folder.manifest, read.clone());
                        read
                    }
                };
                let Some(manifest) = manifest else {
                    planned.lost.push(RepairedMessage {
                        folder: folder.name.clone(),
                        file: None,
                        id: None,
                        messages: folder.messages,
                        reason: format!("manifest {} is unreadable", folder.manifest),
                    });
                    folders.push((None, IdMap::default()));
                    continue;
                };
                let mut fates: IdMap<MessageId, Fate> = IdMap::default();
                for entry in &manifest.messages {
                    let catalog_id = manifest.catalog_of(entry).ok().copied();
                    let reason = match catalog_id {
                        None => Some("its catalog index is out of range".to_owned()),
                        Some(c) => {
                            if let std::collections::hash_map::Entry::Vacant(slot) =
                                catalogs.entry(c)
                            {
                                let read = if usable(&c) {
                                    damage_to_none(load_blob::<Catalog>(inner, &c, "catalog"))?.map(
                                        |cat| {
                                            cat.messages
                                                .into_iter()
                                                .map(|e| (e.id, e.parts))
                                                .collect()
                                        },
                                    )
                                } else {
                                    None
                                };
                                slot.insert(read);
                            }
                            let catalog = catalogs.get(&c).and_then(Option::as_ref);
                            match catalog.map(|c| c.get(&entry.id)) {
                                None => Some(format!("catalog {c} is unreadable")),
                                Some(None) => Some(format!("catalog {c} does not describe it")),
                                Some(Some(parts)) => parts
                                    .iter()
                                    .find(|p| !usable(p))
                                    .map(|p| format!("part {p} is unreadable")),
                            }
                        }
                    };
                    let Some(reason) = reason else { continue };
                    if fates.contains_key(&entry.id) {
                        continue;
                    }
                    let mut message = RepairedMessage {
                        folder: folder.name.clone(),
                        file: Some(entry.file.clone()),
                        id: Some(entry.id),
                        messages: 1,
                        reason,
                    };
                    match live.find(entry.id, &entry.file, entry.size)? {
                        Some(file) => {
                            message.reason =
                                format!("{}; live copy {}", message.reason, file.path.display());
                            planned.recovered.push(message);
                            fates.insert(entry.id, Fate::Recover(file));
                        }
                        None => {
                            if let Some(why) = &live.unreadable {
                                message.reason =
                                    format!("{}; live file unreadable: {why}", message.reason);
                            } else if live.source.is_none() {
                                message.reason =
                                    format!("{}; no live Maildir given", message.reason);
                            } else {
                                message.reason =
                                    format!("{}; not in the live Maildir", message.reason);
                            }
                            planned.lost.push(message);
                            fates.insert(entry.id, Fate::Lose);
                        }
                    }
                }
                folders.push((Some(manifest), fates));
            }
            if planned.recovered.is_empty() && planned.lost.is_empty() {
                continue;
            }
            planned.recovered.sort();
            planned.lost.sort();
            plan.snapshots.push(planned);
            rewrites.push(Rewrite { record, folders });
        }
    }
    if let Some(id) = needs_index.get() {
        return Err(Error::invalid(
            "recovery",
            format!(
                "blob {id} is in a pack that no index file names: run `mtm repair index` \
                 (Repository::repair_index) first"
            ),
        ));
    }
    Ok(Survey {
        plan,
        damage,
        rewrites,
        mended,
        journal_originals,
    })
}

/// Where the damaged record `key` is moved: `damaged/<key>`, or, if an earlier and
/// different damaged copy of that day is kept there, the first free `damaged/<key>.<n>`.
/// A name already holding these very bytes is reused (a crash after the copy and before
/// the deletion of the record left it).
pub(super) fn quarantine_key(inner: &RepoInner, key: &str, data: &[u8]) -> Result<String> {
    let base = format!("{DAMAGED}{key}");
    for n in 1u32.. {
        let candidate = if n == 1 {
            base.clone()
        } else {
            format!("{base}.{n}")
        };
        match inner.backend.read(&candidate) {
            Ok(kept) if kept == *data => return Ok(candidate),
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(candidate),
            Err(e) => return Err(e),
        }
    }
    Err(Error::invalid(
        "recovery",
        format!("no free name for {key} under {DAMAGED}"),
    ))
}

/// `None` for a stored file that is damaged; other errors (a failing storage) stop the
/// survey, so that no message is planned as lost because a disk hiccuped.
/// Writes `data` at `key` unless these very bytes are there already (a crashed run left
/// them); other bytes there are an error: the plan is stale.
pub(super) fn write_once(inner: &RepoInner, key: &str, data: &[u8]) -> Result<()> {
    match inner.backend.write_new(key, data) {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            if inner.backend.read(key)? == data {
                Ok(())
            } else {
                Err(Error::invalid(
                    "recovery plan",
                    format!("{key} appeared since the plan was made: plan again"),
                ))
            }
        }
        other => other,
    }
}

fn damage_to_none<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::Integrity | ErrorKind::UnsupportedFormat
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Reads every indexed pack and every dictionary.
fn survey_blobs(inner: &RepoInner) -> Result<BlobDamage> {
    let store = &inner.store;
    let mut damage = BlobDamage::default();
    for key in inner.backend.list("dictionaries/")? {
        let data = inner.backend.read(&key)?;
        if dictionary_key(&BlobId::of(&data)) != key {
            damage.dictionaries.push(key);
        }
    }
    let mut by_pack: BTreeMap<BlobId, (IndexedPack, Vec<PackRecord>)> = BTreeMap::new();
    for (pack, record) in store.indexed_blobs()? {
        by_pack
            .entry(pack.id)
            .or_insert_with(|| (pack, Vec::new()))
            .1
            .push(record);
    }
    for (id, (pack, records)) in &by_pack {
        let key = pack_key(id);
        // Read in pieces, each blob checked as it goes: a huge message part is never held.
        let mut fates: Vec<(PackRecord, Option<String>)> = Vec::with_capacity(records.len());
        let whole = match crate::verify::check_pack_data(inner, pack, records, |r, reason| {
            fates.push((*r, reason));
        }) {
            Ok(whole) => whole,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                fates = records
                    .iter()
                    .map(|r| (*r, Some(format!("{key}: missing or truncated"))))
                    .collect();
                false
            }
            Err(e) => return Err(e),
        };
        if !whole {
            damage.packs.insert(key.clone());
        }
        for (record, reason) in fates {
            match reason {
                None if whole => {}
                None => damage.rescue.push((*pack, record)),
                Some(reason) => {
                    damage.unreadable.insert(record.id, reason);
                    damage.drop.insert((*id, record.id));
                }
            }
        }
    }
    Ok(damage)
}

/// Finds a message's content in an account's live Maildir.
struct LiveLookup<'a> {
    source: Option<&'a MaildirAccount>,
    /// Whether the Maildir was listed (on first use).
    listed: bool,
    by_unique: BTreeMap<String, Vec<MessageFile>>,
    by_size: BTreeMap<u64, Vec<MessageFile>>,
    /// Content ids of the files read so far, by path (None: unreadable).
    hashed: BTreeMap<std::path::PathBuf, Option<MessageId>>,
    /// Why a candidate of the last search could not be read, for the plan.
    unreadable: Option<String>,
}

impl<'a> LiveLookup<'a> {
    fn new(source: Option<&'a (AccountId, MaildirAccount)>) -> Self {
        Self {
            source: source.map(|(_, s)| s),
            listed: false,
            by_unique: BTreeMap::new(),
            by_size: BTreeMap::new(),
            hashed: BTreeMap::new(),
            unreadable: None,
        }
    }

    /// A live file whose bytes hash to `id`: first one with the snapshot file's unique name
    /// and size, then any of that size.
    fn find(&mut self, id: MessageId, file_name: &str, size: u64) -> Result<Option<MessageFile>> {
        self.unreadable = None;
        let Some(source) = self.source else {
            return Ok(None);
        };
        if !self.listed {
            for folder in source.scan()?.folders {
                for file in folder.messages {
                    self.by_unique
                        .entry(file.unique.clone())
                        .or_default()
                        .push(file.clone());
                    self.by_size.entry(file.size).or_default().push(file);
                }
            }
            self.listed = true;
        }
        let unique = crate::source::unique_key(file_name);
        let candidates = self
            .by_unique
            .get(unique)
            .into_iter()
            .flatten()
            .chain(self.by_size.get(&size).into_iter().flatten())
            .filter(|f| f.size == size);
        for file in candidates {
            let hashed = match self.hashed.get(&file.path) {
                Some(hashed) => *hashed,
                None => {
                    let hashed = match source.read(file) {
                        Ok(crate::source::ReadOutcome::Read { bytes, .. }) => {
                            Some(MessageId::of(&bytes))
                        }
                        Ok(crate::source::ReadOutcome::Vanished) => None,
                        // A file the Maildir's owner made unreadable must not stop the
                        // recovery of everyone else: it is named in the plan instead.
                        Err(e) if matches!(e.kind(), ErrorKind::Source | ErrorKind::NotFound) => {
                            self.unreadable = Some(format!("{}: {e}", file.path.display()));
                            None
                        }
                        Err(e) => return Err(e),
                    };
                    self.hashed.insert(file.path.clone(), hashed);
                    hashed
                }
            };
            if hashed == Some(id) {
                return Ok(Some(file.clone()));
            }
        }
        Ok(None)
    }
}

fn execute(inner: &RepoInner, survey: Survey, clock: &dyn Clock) -> Result<RecoveryReport> {
    let Survey {
        plan,
        damage,
        rewrites,
        mended,
        journal_originals,
    } = survey;
    let backend = Arc::clone(&inner.backend);
    let store = &inner.store;
    let mut report = RecoveryReport::default();

    // 0. Replacement records a crashed run left: published, or dropped if already in place.
    for staged in &plan.staged_records {
        let Some(key) = staged.strip_suffix(STAGED) else {
            continue;
        };
        let data = backend.read(staged)?;
        // What this code staged is a sealed record of the day its name says; anything else
        // is damage, which never replaces a published record (the published one, if
        // damaged, is planned and replaced by this run's step 2 like any other).
        let intact = SnapshotRecord::decode(&data, staged)
            .is_ok_and(|record| snapshot_key(&record.account, record.day) == key);
        match backend.read(key) {
            Ok(current) if current == data => report.snapshots_rewritten += 1,
            Ok(_) if !intact => {}
            Ok(_) => {
                backend.delete(key)?;
                backend.write_new(key, &data)?;
                report.snapshots_rewritten += 1;
            }
            // Published even if damaged: a record that `verify` names is better than a day
            // that silently disappears.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                backend.write_new(key, &data)?;
                report.snapshots_rewritten += 1;
            }
            Err(e) => return Err(e),
        }
        backend.delete(staged)?;
    }

    // 0b. Unreadable records: copied aside (create-only; a copy of the same bytes that a
    // crashed run left counts as done), then deleted, which drops their days.
    for q in &plan.quarantined {
        let data = backend.read(&q.record)?;
        write_once(inner, &q.moved_to, &data)?;
        match mended.get(&q.record) {
            // Staged first, as a rewrite is: a crash before it is published leaves the
            // staged original for the next run, which publishes it.
            Some(original) => {
                let staged = format!("{}{STAGED}", q.record);
                backend.delete(&staged)?;
                backend.write_new(&staged, original)?;
                backend.delete(&q.record)?;
                backend.write_new(&q.record, original)?;
                backend.delete(&staged)?;
                report.records_mended += 1;
            }
            None => {
                backend.delete(&q.record)?;
                report.records_quarantined += 1;
            }
        }
    }

    // 0c. Journal entries their seal mends.
    report.journal_entries_mended =
        mend_journals(inner, &plan.journal_entries, &journal_originals)?;

    // 1. New blobs, through a store that knows none: a damaged blob that is indexed must
    // still be written again.
    let fresh = Arc::new(BlobStore::with_empty_index(Arc::clone(&backend)));
    let mut writer = fresh.writer(store.current_dictionary()?);
    let compressor = writer.compressor();
    let mut encoder = compressor.encoder()?;
    for (pack, record) in &damage.rescue {
        let describe = || format!("blob {} being rescued", record.id);
        if record.raw_len as usize >= STREAM_FROM || record.stored_len as usize >= STREAM_FROM {
            // A large blob is copied as it is stored, in pieces, as gc moves one.
            if let Some(copied) = compressor.copy_blob(store, &record.id, &describe)? {
                writer.adopt(copied)?;
            }
            report.blobs_rescued += 1;
            continue;
        }
        let raw = store.read(&record.id, &describe)?;
        let use_dictionary = record.codec == Codec::ZstdDictionary && pack.dictionary.is_some();
        writer.push(encoder.compress(record.id, record.kind, use_dictionary, &raw)?)?;
        report.blobs_rescued += 1;
    }
    let usable = |id: &BlobId| store.contains(id) && !damage.unreadable.contains_key(id);
    // One new catalog per account, for the messages recovered in any of its snapshots.
    let mut new_catalogs: BTreeMap<AccountId, BlobId> = BTreeMap::new();
    let mut by_account: BTreeMap<AccountId, Vec<&Rewrite>> = BTreeMap::new();
    for rewrite in &rewrites {
        by_account
            .entry(rewrite.record.account.clone())
            .or_default()
            .push(rewrite);
    }
    let source_of = |account: &AccountId| {
        plan.sources
            .iter()
            .find(|(a, _)| a == account)
            .map(|(_, s)| s)
    };
    let mut written_parts: IdSet<BlobId> = IdSet::default();
    for (account, rewrites) in &by_account {
        let mut entries: IdMap<MessageId, CatalogEntry> = IdMap::default();
        for rewrite in rewrites {
            for (_, fates) in &rewrite.folders {
                for (id, fate) in fates {
                    let Fate::Recover(file) = fate else { continue };
                    if entries.contains_key(id) {
                        continue;
                    }
                    let source = source_of(account)
                        .ok_or_else(|| Error::invalid("recovery plan", "no Maildir"))?;
                    let bytes = match source.read(file)? {
                        crate::source::ReadOutcome::Read { bytes, .. } => bytes,
                        crate::source::ReadOutcome::Vanished => Vec::new(),
                    };
                    if MessageId::of(&bytes) != *id {
                        return Err(Error::invalid(
                            "recovery plan",
                            format!(
                                "{} changed since the plan was made: plan again",
                                file.path.display()
                            ),
                        ));
                    }
                    let (cuts, summary) = analyze(&bytes);
                    let mut parts = Vec::with_capacity(cuts.len());
                    // A large message's parts are streamed into a pack of its own, as a
                    // snapshot stores them: no compressed copy of them is held.
                    let mut large = Vec::new();
                    for part in cuts {
                        let raw = &bytes[part.range];
                        let part_id = BlobId::of(raw);
                        if !usable(&part_id) && written_parts.insert(part_id) {
                            let header = matches!(
                                part.kind,
                                crate::message::PartKind::Trace | crate::message::PartKind::Header
                            );
                            if bytes.len() >= STREAM_FROM {
                                large.push(NewBlob {
                                    id: part_id,
                                    kind: Kind::Part,
                                    use_dictionary: header,
                                    raw,
                                });
                            } else {
                                writer.push(encoder.compress(
                                    part_id,
                                    Kind::Part,
                                    header,
                                    raw,
                                )?)?;
                            }
                        }
                        parts.push(part_id);
                    }
                    if let Some(pack) = compressor.write_pack(&mut encoder, &large)? {
                        writer.adopt(pack)?;
                    }
                    drop(large);
                    entries.insert(
                        *id,
                        CatalogEntry {
                            id: *id,
                            size: bytes.len() as u64,
                            parts,
                            summary,
                        },
                    );
                }
            }
        }
        if entries.is_empty() {
            continue;
        }
        let mut messages: Vec<CatalogEntry> = entries.into_values().collect();
        messages.sort_by_key(|e| e.id);
        let size = messages.len() * 640;
        let id = writer.add(
            Kind::Catalog,
            &encode(
                &Catalog {
                    messages,
                    renewed: 0,
                },
                size,
            )?,
        )?;
        new_catalogs.insert(account.clone(), id);
    }

    // Rewritten manifests and records.
    let now = clock.now();
    let mut records: Vec<(String, Vec<u8>)> = Vec::new();
    for (planned, rewrite) in plan.snapshots.iter().zip(&rewrites) {
        let mut record = rewrite.record.clone();
        let new_catalog = new_catalogs.get(&record.account).copied();
        for (folder, (manifest, fates)) in record.folders.iter_mut().zip(&rewrite.folders) {
            let manifest = match manifest {
                None => Manifest::default(),
                Some(_) if fates.is_empty() => continue,
                Some(m) => rewrite_manifest(m, fates, new_catalog)?,
            };
            let json = encode(&manifest, manifest.messages.len() * 200 + 256)?;
            folder.manifest = writer.add(Kind::Manifest, &json)?;
            // The folder's directories no longer vouch for this manifest: the next snapshot
            // lists the folder.
            folder.stamp = None;
            folder.messages = manifest.messages.len() as u64;
            folder.bytes = manifest.messages.iter().map(|e| e.size).sum();
        }
        record.messages = record.folders.iter().map(|f| f.messages).sum();
        record.bytes = record.folders.iter().map(|f| f.bytes).sum();
        record.repaired_at = Some(now);
        record
            .lost
            .extend(planned.lost.iter().map(|m| LostMessages {
                folder: m.folder.clone(),
                file: m.file.clone(),
                id: m.id,
                messages: m.messages,
                reason: m.reason.clone(),
            }));
        report.messages_recovered += planned.recovered.len() as u64;
        report.messages_lost += planned.lost.iter().map(|m| m.messages).sum::<u64>();
        records.push((snapshot_key(&record.account, record.day), record.encode()?));
    }
    writer.finish()?;
    store.reload()?;

    // 2. Records: staged beside the old one, then swapped.
    for (key, data) in &records {
        let staged = format!("{key}{STAGED}");
        backend.delete(&staged)?;
        backend.write_new(&staged, data)?;
        backend.delete(key)?;
        backend.write_new(key, data)?;
        backend.delete(&staged)?;
        report.snapshots_rewritten += 1;
    }

    // 3. Index files without the damaged entries (new file first, then the old one goes).
    let damaged_packs: IdSet<BlobId> = damage
        .packs
        .iter()
        .filter_map(|k| k.rsplit('/').next().and_then(|n| BlobId::from_hex(n).ok()))
        .collect();
    for key in backend.list("index/")? {
        let data = backend.read(&key)?;
        // A damaged index file is `repair_index`'s to remove, never rewritten as if sound.
        if key.rsplit('/').next() != Some(BlobId::of(&data).to_hex().as_str()) {
            continue;
        }
        let Ok(file) = decode_index(&data, &key) else {
            continue;
        };
        let kept_entries: Vec<(u32, PackRecord)> = file
            .entries
            .iter()
            .filter(|(n, r)| {
                let pack = file.packs[*n as usize].id;
                !damaged_packs.contains(&pack) && !damage.drop.contains(&(pack, r.id))
            })
            .copied()
            .collect();
        if kept_entries.len() == file.entries.len() {
            continue;
        }
        if !kept_entries.is_empty() {
            let mut used: Vec<u32> = kept_entries.iter().map(|(n, _)| *n).collect();
            used.sort_unstable();
            used.dedup();
            let mut out = IndexFile::default();
            for n in &used {
                out.packs.push(file.packs[*n as usize]);
            }
            for (n, r) in kept_entries {
                let at = used.binary_search(&n).unwrap_or_default();
                out.entries.push((u32::try_from(at).unwrap_or(u32::MAX), r));
            }
            let bytes = encode_index(&out)?;
            let new_key = format!("index/{}", BlobId::of(&bytes).to_hex());
            match backend.write_new(&new_key, &bytes) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        backend.delete(&key)?;
        report.index_files_rewritten += 1;
    }
    store.reload()?;

    // 4. What nothing names any more.
    for key in &damage.packs {
        backend.delete(key)?;
        report.packs_deleted += 1;
    }
    for key in &damage.dictionaries {
        backend.delete(key)?;
        report.dictionaries_deleted += 1;
    }
    store.reload()?;
    Ok(report)
}

/// A manifest without its lost messages, with its recovered ones described by `recovered`.
fn rewrite_manifest(
    manifest: &Manifest,
    fates: &IdMap<MessageId, Fate>,
    recovered: Option<BlobId>,
) -> Result<Manifest> {
    let mut entries = Vec::with_capacity(manifest.messages.len());
    for entry in &manifest.messages {
        let catalog = match fates.get(&entry.id) {
            None => *manifest.catalog_of(entry)?,
            Some(Fate::Lose) => continue,
            Some(Fate::Recover(_)) => recovered
                .ok_or_else(|| Error::invalid("recovery", "no catalog for recovered messages"))?,
        };
        entries.push((entry.clone(), catalog));
    }
    let catalogs: Vec<BlobId> = entries
        .iter()
        .map(|(_, c)| *c)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let messages = entries
        .into_iter()
        .map(|(mut entry, catalog)| {
            let at = catalogs.binary_search(&catalog).unwrap_or_default();
            entry.catalog = u32::try_from(at).unwrap_or(u32::MAX);
            entry
        })
        .collect();
    Ok(Manifest {
        catalogs,
        messages,
        renewed: 0,
    })
}
