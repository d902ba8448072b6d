//! The snapshot algorithm: scan, reuse what the previous snapshot already knows, read and
//! store the rest in parallel, then write catalog, manifests, index and record, in that
//! order, so that a crash at any point leaves no reference to missing bytes.
//!
//! [`Repository::snapshot`] reads as those steps, each handing the next what it found:
//! `plan` ([`Plan`]), `read_and_store` ([`Stored`]), `assemble` ([`Assembled`]), `publish`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::path::PathBuf;
use std::sync::Arc;

use super::model::{
    Catalog, CatalogEntry, FORMAT_VERSION, FolderRecord, Manifest, ManifestEntry, SnapshotRecord,
    encode_renewed, snapshot_key,
};
use super::{SnapshotOptions, SnapshotReport};
use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};
use crate::id::{BlobId, IdMap, IdSet, MessageId, NameHasher};
use crate::message::{PartKind, analyze, split_message};
use crate::names::{AccountId, FolderName};
use crate::repo::{RepoInner, Repository, load_blob};
use crate::source::{
    FolderStamp, MaildirAccount, MaildirReader, MessageFile, ScanBasis, unique_key,
};
use crate::store::codec::Dictionary;
use crate::store::{
    BlobEncoder, CompressedBlob, Durability, Kind, NewBlob, PackWriter, STREAM_FROM, WrittenPack,
};

/// A snapshot may reference at most this many catalogs; past it, the catalogs it needs are
/// merged into one, so that listing a folder never loads hundreds of small catalogs.
const MAX_CATALOGS: usize = 32;
/// How much of each sampled message is read: enough for its header block.
const DICTIONARY_SAMPLE_BYTES: u64 = 16 * 1024;
/// A worker's read buffer larger than this is freed after its message: kept, it would hold
/// the memory of the largest message read for the rest of the snapshot.
const KEEP_BUFFER: usize = STREAM_FROM;
/// A worker hands over its results after 32 messages or 1 MiB read, whichever comes first,
/// with two batches in flight to the writer: memory stays bounded by a few batches.
const BATCHES: crate::pool::Batch = crate::pool::Batch {
    items: 32,
    weight: 1024 * 1024,
    in_flight: 2,
};

/// A snapshot stored, whose record is still to be written: its report, the record's bytes,
/// and the blobs it names that other sessions of a group commit were still storing
/// ([`BlobStore::settle_awaited`](crate::store::BlobStore::settle_awaited) waits for them
/// before the record is written; always empty outside a group commit).
pub(super) struct Sealed {
    pub(super) report: SnapshotReport,
    pub(super) record: Vec<u8>,
    pub(super) awaited: IdSet<BlobId>,
}

/// What one snapshot writes: when it is taken, its day, its record's key.
pub(super) struct Target {
    taken_at: chrono::DateTime<chrono::Utc>,
    pub(super) day: chrono::NaiveDate,
    pub(super) key: String,
}

impl Repository {
    /// Takes today's snapshot of `account` from its Maildir.
    ///
    /// The day is the provider-local date of `clock.now()`. A snapshot is immutable: taking
    /// the same account and day twice is [`ErrorKind::AlreadyExists`]. Files unchanged since
    /// the previous snapshot (same unique name, size and mtime) are not read again, and a
    /// folder whose directories have not changed since is not even listed (FORMAT.md, the
    /// snapshot record's `stamp`).
    ///
    /// ```
    /// # use mtm_core::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let maildir = dir.path().join("alice");
    /// # for sub in ["cur", "new", "tmp"] { std::fs::create_dir_all(maildir.join(sub)).unwrap(); }
    /// # std::fs::write(maildir.join("cur/1.M1.host:2,S"), "Subject: hi\n\nhello\n").unwrap();
    /// let repo = Repository::init(dir.path().join("repo"), RepositoryOptions::default())?;
    /// let alice = AccountId::new("alice@example.com")?;
    /// let source = MaildirAccount::open(&maildir)?;
    /// let clock = FixedClock::parse("2026-11-21T00:00:30Z")?;
    /// let report = repo.snapshot(&alice, &source, &clock, &SnapshotOptions::default())?;
    /// assert_eq!(report.messages, 1);
    /// let again = repo.snapshot(&alice, &source, &clock, &SnapshotOptions::default());
    /// assert_eq!(again.unwrap_err().kind(), ErrorKind::AlreadyExists);
    /// # Ok::<(), mtm_core::Error>(())
    /// ```
    pub fn snapshot(
        &self,
        account: &AccountId,
        source: &MaildirAccount,
        clock: &dyn Clock,
        options: &SnapshotOptions,
    ) -> Result<SnapshotReport> {
        let target = self.target(account, clock)?;
        // Held until the record is written: no garbage collection runs meanwhile.
        let _lock = self.lock_out_gc(options)?;
        let Sealed {
            mut report, record, ..
        } = self.snapshot_under_lock(account, source, options, &target, Durability::EachFile)?;
        self.inner
            .backend
            .write_new(&target.key, &record)
            .map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => already_taken(account, target.day),
                _ => e,
            })?;
        self.consolidate_index(&mut report.warnings);
        Ok(report)
    }

    /// Merges index files once a size tier is full (see `store::consolidate`), under the
    /// snapshot lock the caller holds. A failure loses nothing (every input is kept until
    /// its merged file is written): it is a warning, and the files stay as they are.
    pub(super) fn consolidate_index(&self, warnings: &mut Vec<String>) {
        if let Err(e) = self.inner.store.consolidate() {
            warnings.push(format!("index files not consolidated: {e}"));
        }
    }

    /// What a snapshot of `account` taken now writes: the instant, its day and the record's
    /// key. [`ErrorKind::AlreadyExists`] if that day has its snapshot already.
    pub(super) fn target(&self, account: &AccountId, clock: &dyn Clock) -> Result<Target> {
        let taken_at = clock.now();
        let day = self.inner.zone().day_of(taken_at);
        let key = snapshot_key(account, day);
        ensure_absent(&self.inner, &key, account, day)?;
        Ok(Target { taken_at, day, key })
    }

    /// The snapshot itself, while the caller holds a snapshot lock (taken after any
    /// garbage collection that ran, with the index reloaded under it): everything stored
    /// and indexed, durable as `durability` says. Returns the report and the record's
    /// bytes, which the caller writes (the record comes last: it names only what is stored),
    /// with [`Durability::AtSync`] once the blobs it awaits are settled.
    pub(super) fn snapshot_under_lock(
        &self,
        account: &AccountId,
        source: &MaildirAccount,
        options: &SnapshotOptions,
        target: &Target,
        durability: Durability,
    ) -> Result<Sealed> {
        let plan = self.plan(account, target.day, source, options)?;
        let stored = self.read_and_store(source, plan, options, durability)?;
        let assembled = self.assemble(stored)?;
        self.seal_record(account, target.day, target.taken_at, assembled)
    }

    /// Takes the snapshot lock, so that no garbage collection runs until the record is
    /// written, and reloads the index under it.
    pub(super) fn lock_out_gc(
        &self,
        options: &SnapshotOptions,
    ) -> Result<crate::lock::LockGuard<'_>> {
        // A running collection is waited for (it is short); only after `lock_wait` is this
        // one given up.
        let waited_since = std::time::Instant::now();
        let lock = loop {
            match crate::lock::acquire(self.inner.backend.as_ref(), crate::lock::LockKind::Snapshot)
            {
                Err(e)
                    if e.kind() == ErrorKind::Busy
                        && waited_since.elapsed() < options.lock_wait =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => break other?,
            }
        };
        // What this handle knows of the index may predate a garbage collection that ran
        // while it waited: a blob it thinks stored may be gone. Under the lock no gc runs,
        // so the index read now stays true until the record is written.
        self.inner.store.reload()?;
        Ok(lock)
    }

    /// Step 1, plan: scans the Maildir and sorts every listed file into known (unchanged
    /// since the previous snapshot: reused) or to be read. A folder whose directories stand
    /// as the previous snapshot saw them is not listed: its record is reused whole.
    fn plan(
        &self,
        account: &AccountId,
        day: chrono::NaiveDate,
        source: &MaildirAccount,
        options: &SnapshotOptions,
    ) -> Result<Plan> {
        let mut previous = Previous::load(&self.inner, account, day)?;
        let rescan = source.scan_since(&mut Basis {
            inner: &self.inner,
            previous: &mut previous,
        })?;
        // Folders gone since (renamed, deleted): their files may be in another folder now.
        let passed_over: HashSet<FolderName> =
            rescan.unchanged.iter().map(|u| u.name.clone()).collect();
        previous.load_remaining(&self.inner, &passed_over)?;
        let scan = rescan.listed;
        let unchanged: Vec<(FolderRecord, bool)> = rescan
            .unchanged
            .into_iter()
            .filter_map(|u| {
                // Taken, not copied: the scan is over, and no one looks a folder up again.
                let record = previous.folders.remove(&u.name)?;
                Some((record, u.subscribed))
            })
            .collect();
        let mut report = SnapshotReport {
            account: account.clone(),
            day,
            folders: 0,
            messages: 0,
            bytes: 0,
            files_read: 0,
            files_unchanged: 0,
            new_messages: 0,
            stored_blobs: 0,
            stored_bytes: 0,
            vanished: 0,
            warnings: std::mem::take(&mut previous.warnings),
        };
        report.warnings.extend(
            scan.warnings
                .iter()
                .map(|w| format!("{}: {}", w.path.display(), w.message)),
        );

        // Plan: every listed file is either known (reuse) or to be read.
        let passed_over_messages: u64 = unchanged.iter().map(|(f, _)| f.messages).sum();
        let listed_messages: u64 = scan.folders.iter().map(|f| f.messages.len() as u64).sum();
        let listed_bytes: u64 = scan
            .folders
            .iter()
            .flat_map(|f| &f.messages)
            .map(|m| m.size)
            .chain(unchanged.iter().map(|(f, _)| f.bytes))
            .sum();
        let mut placed: Vec<Placed> = Vec::with_capacity(listed_messages as usize);
        let mut to_read: Vec<MessageFile> = Vec::new();
        let mut folders: BTreeMap<FolderName, bool> = BTreeMap::new();
        for folder in scan.folders {
            folders.insert(folder.name, folder.subscribed);
            for file in folder.messages {
                match previous.unchanged_file(&file) {
                    Some(id) => placed.push(Placed { file, id }),
                    None => to_read.push(file),
                }
            }
        }
        report.files_unchanged = placed.len() as u64 + passed_over_messages;
        if let Some(progress) = &options.progress {
            let messages = listed_messages + passed_over_messages;
            progress.started(account, messages, listed_bytes, to_read.len() as u64);
        }
        Ok(Plan {
            report,
            previous,
            placed,
            to_read,
            folders,
            stamps: rescan.stamps,
            unchanged,
        })
    }

    /// Step 2, read and store: reads, hashes, splits and compresses the files to read on the
    /// worker pool, and appends their blobs to packs on this thread.
    fn read_and_store(
        &self,
        source: &MaildirAccount,
        plan: Plan,
        options: &SnapshotOptions,
        durability: Durability,
    ) -> Result<Stored> {
        let Plan {
            mut report,
            previous,
            mut placed,
            to_read,
            mut folders,
            mut stamps,
            unchanged,
        } = plan;
        let passed_over: HashSet<&FolderName> = unchanged.iter().map(|(f, _)| &f.name).collect();
        let dictionary = self.dictionary_for_writing(source, &to_read, &mut report.warnings)?;
        let mut writer = self.inner.store.writer(dictionary);
        if durability == Durability::AtSync {
            writer.defer_durability();
        }
        let compressor = writer.compressor();

        // Read, hash, split and compress in parallel; append to packs on this thread.
        let mut new_entries: IdMap<MessageId, CatalogEntry> = IdMap::default();
        let threads = crate::pool::workers(options.threads);
        let known = &previous.catalog_of;
        // One read pass: a burst of renames since the scan costs one listing, not one each.
        let reader = source.reader()?;
        let source = &reader;
        // Takes in one worker result: its blobs go into packs, its message into the plan.
        let absorb = |processed: Processed| -> Result<()> {
            match processed {
                // Its folder is listed again next time, so the file is tried (and reported)
                // again.
                Processed::Vanished { path, folder } => {
                    stamps.remove(&folder);
                    report.vanished += 1;
                    report
                        .warnings
                        .push(format!("{}: vanished during the snapshot", path.display()));
                }
                Processed::Unreadable {
                    path,
                    folder,
                    reason,
                } => {
                    stamps.remove(&folder);
                    report
                        .warnings
                        .push(format!("{}: skipped, {reason}", path.display()));
                }
                Processed::Read(read) => {
                    let ReadMessage {
                        mut file,
                        listed,
                        id,
                        new,
                        blobs,
                        pack,
                    } = *read;
                    if let Some(listed) = listed {
                        // Moved since the scan. Into a folder passed over as unchanged (its
                        // stamp predates the move), it stays where the scan saw it: that
                        // folder is recorded as it stood then.
                        stamps.remove(&listed.folder);
                        stamps.remove(&file.folder);
                        if passed_over.contains(&file.folder) {
                            file = listed;
                        }
                    }
                    report.files_read += 1;
                    if let Some(progress) = &options.progress {
                        progress.advanced(file.size);
                    }
                    for blob in blobs {
                        writer.push(blob)?;
                    }
                    if let Some(pack) = pack {
                        writer.adopt(pack)?;
                    }
                    if let Some(entry) = new {
                        new_entries.entry(id).or_insert(entry);
                    }
                    placed.push(Placed { file, id });
                }
            }
            Ok(())
        };
        crate::pool::map_consume(
            &to_read,
            threads,
            BATCHES,
            // A message is in memory from its read until its blobs are in a pack.
            self.inner.store.in_flight(),
            // Each worker reuses its compression contexts and its read buffer.
            || Ok((compressor.encoder()?, Vec::new())),
            |(encoder, buffer), file| {
                let processed = process(source, file, known, &compressor, encoder, buffer);
                // A huge message's buffer is not kept for the next (small) one.
                if buffer.capacity() > KEEP_BUFFER {
                    *buffer = Vec::new();
                }
                processed
            },
            |file| file.size,
            absorb,
        )?;

        // A file moved or renamed during the walk may have been listed twice: keep one.
        let mut seen_paths = HashSet::new();
        placed.retain(|p| seen_paths.insert(p.file.path.clone()));
        for p in &placed {
            folders.entry(p.file.folder.clone()).or_insert(false);
        }
        Ok(Stored {
            report,
            previous,
            placed,
            folders,
            stamps,
            unchanged,
            new_entries,
            writer,
        })
    }

    /// Step 3, assemble: the catalogs the snapshot names, then one manifest per folder.
    fn assemble(&self, stored: Stored) -> Result<Assembled> {
        let Stored {
            mut report,
            previous,
            placed,
            folders,
            stamps,
            unchanged,
            new_entries,
            mut writer,
        } = stored;
        report.new_messages = new_entries.len() as u64;
        let catalog_of = self.write_catalogs(&previous, &placed, new_entries, &mut writer)?;
        let mut folders = write_manifests(
            &previous,
            &placed,
            &folders,
            &stamps,
            &catalog_of,
            &mut writer,
            &mut report,
        )?;
        // The folders passed over keep their records; only their subscription is read anew.
        for (mut record, subscribed) in unchanged {
            record.subscribed = subscribed || record.name.is_inbox();
            report.messages += record.messages;
            report.bytes += record.bytes;
            folders.push(record);
        }
        folders.sort_by(|a, b| a.name.cmp(&b.name));
        report.folders = folders.len() as u64;
        Ok(Assembled {
            report,
            folders,
            writer,
        })
    }

    /// Catalogs: the new one, plus the previous ones still referenced; merged when too many.
    /// Returns the catalog of every placed message.
    fn write_catalogs(
        &self,
        previous: &Previous,
        placed: &[Placed],
        new_entries: IdMap<MessageId, CatalogEntry>,
        writer: &mut PackWriter,
    ) -> Result<IdMap<MessageId, BlobId>> {
        let mut catalog_of: IdMap<MessageId, BlobId> = IdMap::default();
        let mut new_catalog: Vec<CatalogEntry> = new_entries.into_values().collect();
        let mut referenced: BTreeSet<BlobId> = BTreeSet::new();
        for p in placed {
            if let Some(c) = previous.catalog_of.get(&p.id) {
                referenced.insert(*c);
            }
        }
        if referenced.len() + 1 > MAX_CATALOGS {
            let wanted: HashSet<MessageId> = placed.iter().map(|p| p.id).collect();
            for catalog_id in &referenced {
                let catalog: Catalog = load_blob(&self.inner, catalog_id, "catalog")?;
                new_catalog.extend(
                    catalog
                        .messages
                        .into_iter()
                        .filter(|e| wanted.contains(&e.id)),
                );
            }
            new_catalog.sort_by_key(|e| e.id);
            new_catalog.dedup_by_key(|e| e.id);
        } else {
            for p in placed {
                if let Some(c) = previous.catalog_of.get(&p.id) {
                    catalog_of.insert(p.id, *c);
                }
            }
        }
        if !new_catalog.is_empty() {
            new_catalog.sort_by_key(|e| e.id);
            let ids: Vec<MessageId> = new_catalog.iter().map(|e| e.id).collect();
            let mut catalog = Catalog {
                messages: new_catalog,
                renewed: 0,
            };
            // About 600 bytes of JSON per message: summary, parts and id.
            let (json, id) = encode_renewed(&mut catalog, &previous.damaged, ids.len() * 640)?;
            writer.add_with_id(Kind::Catalog, &json, id)?;
            for message in ids {
                catalog_of.insert(message, id);
            }
        }
        Ok(catalog_of)
    }

    /// Step 4, seal: finishes the packs and the index, then encodes the record, which the
    /// caller writes last, so that it names only what is stored.
    fn seal_record(
        &self,
        account: &AccountId,
        day: chrono::NaiveDate,
        taken_at: chrono::DateTime<chrono::Utc>,
        assembled: Assembled,
    ) -> Result<Sealed> {
        let Assembled {
            mut report,
            folders: folder_records,
            writer,
        } = assembled;
        let stats = writer.finish()?;
        report.stored_blobs = stats.blobs;
        report.stored_bytes = stats.stored_bytes;

        let record = SnapshotRecord {
            format: FORMAT_VERSION,
            account: account.clone(),
            day,
            taken_at,
            time_zone: self.inner.zone().name().to_owned(),
            folders: folder_records,
            messages: report.messages,
            bytes: report.bytes,
            repaired_at: None,
            lost: Vec::new(),
        };
        Ok(Sealed {
            report,
            record: record.encode()?,
            awaited: stats.awaited,
        })
    }

    /// The dictionary for header blobs: the repository's, or one trained now from samples of
    /// the messages about to be read (with those of earlier snapshots of this process), if
    /// the repository wants one and has none yet.
    ///
    /// A damaged dictionary is passed over (a warning names it): a new one is trained, or
    /// none used, so that one bad file never stops every account's snapshot.
    fn dictionary_for_writing(
        &self,
        source: &MaildirAccount,
        to_read: &[MessageFile],
        warnings: &mut Vec<String>,
    ) -> Result<Option<Arc<Dictionary>>> {
        if !self.inner.header_dictionary() {
            return Ok(None);
        }
        let (current, damaged) = self.inner.store.intact_dictionary()?;
        warnings.extend(damaged.into_iter().map(|(key, reason)| {
            format!("{key}: {reason}; new headers are compressed without it")
        }));
        if let Some(current) = current {
            return Ok(Some(current));
        }
        let wanted = self.inner.store.dictionary_samples_wanted();
        if wanted == 0 || to_read.is_empty() {
            return Ok(None);
        }
        let step = (to_read.len() / wanted).max(1);
        let mut samples = Vec::new();
        let mut messages = 0;
        for file in to_read.iter().step_by(step).take(wanted) {
            if let Ok(Some(bytes)) = source.read_head(file, DICTIONARY_SAMPLE_BYTES) {
                messages += 1;
                samples.extend(
                    split_message(&bytes)
                        .into_iter()
                        .filter(|p| uses_dictionary(p.kind))
                        .map(|p| bytes[p.range].to_vec()),
                );
            }
        }
        self.inner.store.offer_dictionary_samples(messages, samples)
    }
}

fn uses_dictionary(kind: PartKind) -> bool {
    matches!(kind, PartKind::Trace | PartKind::Header)
}

pub(super) fn already_taken(account: &AccountId, day: chrono::NaiveDate) -> Error {
    Error::AlreadyExists {
        what: "snapshot",
        name: format!("{account} on {day}"),
    }
}

fn ensure_absent(
    inner: &RepoInner,
    key: &str,
    account: &AccountId,
    day: chrono::NaiveDate,
) -> Result<()> {
    match inner.backend.size(key) {
        Ok(_) => Err(already_taken(account, day)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Manifests, one per folder: returns the folders' records, and counts their messages and
/// bytes into the report.
fn write_manifests(
    previous: &Previous,
    placed: &[Placed],
    folders: &BTreeMap<FolderName, bool>,
    stamps: &HashMap<FolderName, FolderStamp>,
    catalog_of: &IdMap<MessageId, BlobId>,
    writer: &mut PackWriter,
    report: &mut SnapshotReport,
) -> Result<Vec<FolderRecord>> {
    let mut by_folder: BTreeMap<FolderName, Vec<&Placed>> =
        folders.keys().map(|f| (f.clone(), Vec::new())).collect();
    for p in placed {
        by_folder.entry(p.file.folder.clone()).or_default().push(p);
    }
    let mut folder_records = Vec::with_capacity(by_folder.len());
    for (name, mut messages) in by_folder {
        messages.sort_by(|a, b| a.file.file_name.cmp(&b.file.file_name));
        let mut manifest = build_manifest(&messages, catalog_of)?;
        let bytes: u64 = messages.iter().map(|p| p.file.size).sum();
        // About 200 bytes of JSON per message: file name, id, size, date, flags.
        let hint = manifest.messages.len() * 200 + 256;
        let (json, manifest_id) = encode_renewed(&mut manifest, &previous.damaged, hint)?;
        writer.add_with_id(Kind::Manifest, &json, manifest_id)?;
        report.messages += messages.len() as u64;
        report.bytes += bytes;
        folder_records.push(FolderRecord {
            subscribed: folders.get(&name).copied().unwrap_or(false) || name.is_inbox(),
            stamp: stamps.get(&name).copied(),
            name,
            messages: messages.len() as u64,
            bytes,
            manifest: manifest_id,
        });
    }
    Ok(folder_records)
}

/// What step 1 found: the files to read, and those placed without reading.
struct Plan {
    report: SnapshotReport,
    previous: Previous,
    /// The message files of the new snapshot with their content ids: so far the unchanged.
    placed: Vec<Placed>,
    /// The files that are new or changed since the previous snapshot.
    to_read: Vec<MessageFile>,
    /// Every folder listed, and whether it is subscribed.
    folders: BTreeMap<FolderName, bool>,
    /// The stamps to store with listed folders (see `source/stamp.rs`).
    stamps: HashMap<FolderName, FolderStamp>,
    /// The folders passed over as unchanged: their previous records, and whether each is
    /// subscribed now.
    unchanged: Vec<(FolderRecord, bool)>,
}

/// What step 2 leaves: every message placed, the new contents' catalog entries, and the
/// open pack writer holding their blobs.
struct Stored {
    report: SnapshotReport,
    previous: Previous,
    placed: Vec<Placed>,
    folders: BTreeMap<FolderName, bool>,
    /// As [`Plan::stamps`], less the folders a read found changed since.
    stamps: HashMap<FolderName, FolderStamp>,
    unchanged: Vec<(FolderRecord, bool)>,
    /// The catalog entries of the contents this account had not seen before.
    new_entries: IdMap<MessageId, CatalogEntry>,
    writer: PackWriter,
}

/// What step 3 leaves: the folders' records, their catalogs and manifests in the writer.
struct Assembled {
    report: SnapshotReport,
    folders: Vec<FolderRecord>,
    writer: PackWriter,
}

/// A message file placed in the new snapshot.
struct Placed {
    file: MessageFile,
    id: MessageId,
}

/// What the previous snapshot of the account tells: its folders' records, which files are
/// unchanged, and which message contents already have a catalog entry.
///
/// Only the record is read up front. A folder's manifest is read when the folder is listed
/// (a folder passed over as unchanged needs none), and those of folders gone since after the
/// scan, so a night's reads follow the folders that changed.
///
/// Damage in it never stops a snapshot: an unreadable record, manifest or catalog only means
/// that the messages it would have vouched for are read and stored again (a warning names
/// the damaged file), so the new snapshot does not lean on it.
#[derive(Default)]
struct Previous {
    /// The day of the previous snapshot, if there is one.
    day: Option<chrono::NaiveDate>,
    /// Its folders' records by name.
    folders: BTreeMap<FolderName, FolderRecord>,
    /// The folders whose manifests were read (or found damaged) already.
    loaded: HashSet<FolderName>,
    by_unique: HashMap<String, (u64, i64, MessageId), BuildHasherDefault<NameHasher>>,
    catalog_of: IdMap<MessageId, BlobId>,
    /// The damaged manifests and catalogs: new ones must not get their ids.
    damaged: IdSet<BlobId>,
    /// The damage found, for the report.
    warnings: Vec<String>,
}

/// Whether an error reading a stored file is damage to it (rather than a failing storage).
fn is_damage(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Integrity | ErrorKind::UnsupportedFormat
    )
}

impl Previous {
    /// Reads the record of the newest snapshot of `account` before `day`.
    ///
    /// The catalogs its manifests name are not read: a night's cost follows what changed,
    /// and reading every catalog of every account each night (one range read per catalog, a
    /// catalog per day an account received mail) would make it follow what exists. A
    /// damaged catalog, or the manifest of a folder passed over, is found by `verify` and
    /// mended by `repair recover`; until then today's snapshot points at it as yesterday's
    /// did, and loses nothing more.
    fn load(inner: &RepoInner, account: &AccountId, day: chrono::NaiveDate) -> Result<Self> {
        let mut previous = Previous::default();
        let Some(last) = inner.days(account)?.into_iter().rfind(|d| *d != day) else {
            return Ok(previous);
        };
        let record = match inner.snapshot_record(account, last) {
            Ok(record) => record,
            Err(e) if is_damage(&e) || e.kind() == ErrorKind::NotFound => {
                previous.warnings.push(format!(
                    "{}: previous snapshot unreadable ({e}); every message is read again",
                    snapshot_key(account, last)
                ));
                return Ok(previous);
            }
            Err(e) => return Err(e),
        };
        previous.day = Some(last);
        previous.folders = record
            .folders
            .into_iter()
            .map(|f| (f.name.clone(), f))
            .collect();
        Ok(previous)
    }

    /// Whether `folder`, found with `stamp` now, stands as the previous snapshot listed it:
    /// that snapshot kept the same stamp for it.
    ///
    /// Its manifest is not looked up in the index: a record names only what was stored when
    /// it was written, and a cold index lookup per folder was most of a cold night at
    /// 10,000 accounts. A manifest lost since (damage) is pointed at as yesterday's record
    /// did: `verify` finds it, and garbage collection refuses to run while a live blob is in
    /// no index file.
    fn unchanged(&self, folder: &FolderName, stamp: FolderStamp) -> bool {
        self.folders
            .get(folder)
            .is_some_and(|record| record.stamp == Some(stamp))
    }

    /// Reads the manifest of the previous snapshot's `folder` (once): its files become known.
    fn load_folder(&mut self, inner: &RepoInner, folder: &FolderName) -> Result<()> {
        let Some(record) = self.folders.get(folder) else {
            return Ok(());
        };
        if !self.loaded.insert(folder.clone()) {
            return Ok(());
        }
        let manifest: Manifest = match load_blob(inner, &record.manifest, "manifest") {
            Ok(manifest) => manifest,
            Err(e) if is_damage(&e) => {
                self.warnings.push(format!(
                    "manifest {} of folder {} on {} is damaged ({e}); its messages are read \
                     again",
                    record.manifest,
                    record.name,
                    self.day.map(|d| d.to_string()).unwrap_or_default(),
                ));
                self.damaged.insert(record.manifest);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        for entry in &manifest.messages {
            let Ok(catalog) = manifest.catalog_of(entry) else {
                continue;
            };
            self.catalog_of.insert(entry.id, *catalog);
            self.by_unique.insert(
                unique_key(&entry.file).to_owned(),
                (entry.size, entry.received, entry.id),
            );
        }
        Ok(())
    }

    /// Reads the manifests of the previous snapshot's folders that the scan neither listed
    /// nor passed over (gone since: their messages may have moved to a listed folder).
    fn load_remaining(
        &mut self,
        inner: &RepoInner,
        passed_over: &HashSet<FolderName>,
    ) -> Result<()> {
        let remaining: Vec<FolderName> = self
            .folders
            .keys()
            .filter(|f| !self.loaded.contains(*f) && !passed_over.contains(*f))
            .cloned()
            .collect();
        for folder in remaining {
            self.load_folder(inner, &folder)?;
        }
        Ok(())
    }

    /// The content id of `file` if the previous snapshot had the same file unchanged.
    fn unchanged_file(&self, file: &MessageFile) -> Option<MessageId> {
        let (size, received, id) = self.by_unique.get(file.unique_key())?;
        (*size == file.size && *received == file.received).then_some(*id)
    }
}

/// The previous snapshot as the scan's basis: a folder is passed over if its stamp is the
/// one stored, and otherwise its manifest is read before it is listed.
struct Basis<'a> {
    inner: &'a RepoInner,
    previous: &'a mut Previous,
}

impl ScanBasis for Basis<'_> {
    fn unchanged(&mut self, folder: &FolderName, stamp: Option<FolderStamp>) -> Result<bool> {
        if let Some(stamp) = stamp
            && self.previous.unchanged(folder, stamp)
        {
            return Ok(true);
        }
        self.previous.load_folder(self.inner, folder)?;
        Ok(false)
    }

    fn known(&self, unique: &str) -> Option<(u64, i64)> {
        self.previous
            .by_unique
            .get(unique)
            .map(|(size, received, _)| (*size, *received))
    }
}

/// What a worker made of one listed file; `folder` is the folder the scan listed it in.
enum Processed {
    Vanished {
        path: PathBuf,
        folder: FolderName,
    },
    Unreadable {
        path: PathBuf,
        folder: FolderName,
        reason: String,
    },
    Read(Box<ReadMessage>),
}

/// A message read by a worker: where it is now, its id, and what to store for it.
struct ReadMessage {
    file: MessageFile,
    /// The file as the scan listed it, if it has moved or been renamed since.
    listed: Option<MessageFile>,
    id: MessageId,
    /// Its catalog entry, if the account did not know this content yet.
    new: Option<CatalogEntry>,
    /// Its parts not yet in the repository, compressed.
    blobs: Vec<CompressedBlob>,
    /// Or, for a large message, the pack the worker wrote them into.
    pack: Option<WrittenPack>,
}

/// Reads one message and prepares everything to store it (runs on a worker thread).
fn process(
    source: &MaildirReader<'_>,
    listed: &MessageFile,
    known: &IdMap<MessageId, BlobId>,
    compressor: &crate::store::Compressor,
    encoder: &mut BlobEncoder<'_>,
    bytes: &mut Vec<u8>,
) -> Result<Processed> {
    let file = match source.read_into(listed, bytes) {
        Ok(Some(file)) => file,
        Ok(None) => {
            return Ok(Processed::Vanished {
                path: listed.path.clone(),
                folder: listed.folder.clone(),
            });
        }
        Err(e) if e.kind() == ErrorKind::Source || e.kind() == ErrorKind::NotFound => {
            return Ok(Processed::Unreadable {
                path: listed.path.clone(),
                folder: listed.folder.clone(),
                reason: e.to_string(),
            });
        }
        Err(e) => return Err(e),
    };
    let listed = (file.path != listed.path).then(|| listed.clone());
    let bytes = &bytes[..];
    let id = MessageId::of(bytes);
    if known.contains_key(&id) {
        return Ok(Processed::Read(Box::new(ReadMessage {
            file,
            listed,
            id,
            new: None,
            blobs: Vec::new(),
            pack: None,
        })));
    }
    let mut parts = Vec::new();
    let mut blobs = Vec::new();
    let mut large = Vec::new();
    let (cuts, summary) = analyze(bytes);
    // A large message is not handed over to the writer with a compressed copy of its parts
    // (twice its size in memory): the worker streams them into a pack of its own.
    let own_pack = bytes.len() >= STREAM_FROM;
    for part in cuts {
        let raw = &bytes[part.range];
        let part_id = BlobId::of(raw);
        if own_pack {
            large.push(NewBlob {
                id: part_id,
                kind: Kind::Part,
                use_dictionary: uses_dictionary(part.kind),
                raw,
            });
        } else if !compressor.is_known(&part_id)
            && !blobs.iter().any(|b: &CompressedBlob| b.id == part_id)
        {
            blobs.push(encoder.compress(part_id, Kind::Part, uses_dictionary(part.kind), raw)?);
        }
        parts.push(part_id);
    }
    let pack = compressor.write_pack(encoder, &large)?;
    Ok(Processed::Read(Box::new(ReadMessage {
        pack,
        new: Some(CatalogEntry {
            id,
            size: bytes.len() as u64,
            parts,
            summary,
        }),
        file,
        listed,
        id,
        blobs,
    })))
}

fn build_manifest(messages: &[&Placed], catalog_of: &IdMap<MessageId, BlobId>) -> Result<Manifest> {
    let catalogs: Vec<BlobId> = messages
        .iter()
        .filter_map(|p| catalog_of.get(&p.id).copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let position: IdMap<BlobId, u32> = catalogs
        .iter()
        .enumerate()
        .map(|(i, c)| (*c, u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    let entries = messages
        .iter()
        .map(|p| {
            let catalog = catalog_of
                .get(&p.id)
                .and_then(|c| position.get(c))
                .copied()
                .ok_or_else(|| Error::integrity(format!("message {}", p.id), "no catalog entry"))?;
            Ok(ManifestEntry {
                file: p.file.file_name.clone(),
                id: p.id,
                size: p.file.size,
                received: p.file.received,
                flags: p.file.flags,
                keywords: p.file.keywords.clone(),
                catalog,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Manifest {
        catalogs,
        messages: entries,
        renewed: 0,
    })
}
