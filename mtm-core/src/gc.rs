//! Garbage collection: reclaims the bytes no snapshot references any more (after a prune).
//!
//! Safety under concurrent writers comes from a lock (see `lock.rs`): gc takes the
//! repository's exclusive lock, so no snapshot is writing while it marks and deletes, and a
//! snapshot waits for no gc (it fails `Busy` and is retried). Under the lock, gc:
//!
//! 1. refuses while an interrupted recovery left a replacement record staged
//!    (`<day>.json.repair`: what it names is reachable from no published record); reads the
//!    index afresh and marks every blob reachable from any snapshot record, and refuses (an
//!    integrity error that names `mtm repair index`) if any live blob is in no index file:
//!    the sweep decides by the index, and would otherwise delete, as unreferenced, a pack
//!    whose index file was lost while it holds the only copy of live mail;
//! 2. deletes packs with no live blob, and repacks packs whose live share is small into new
//!    packs (with their own new index file);
//! 3. writes one new index file for the live blobs of the packs it keeps;
//! 4. only then deletes the old index files, then the old packs.
//!
//! A crash at any point leaves every live blob indexed (old and new index files may overlap,
//! which readers allow) and at worst unreferenced packs, which the next gc deletes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};
use crate::id::{BlobId, IdSet};
use crate::lock::{LockKind, acquire};
use crate::names::AccountId;
use crate::reach::reachable;
use crate::repo::Repository;
use crate::retention::{PrunePlan, PruneReport};
use crate::store::codec::Codec;
use crate::store::format::{IndexFile, IndexedPack, PackRecord, encode_index};
use crate::store::{BlobStore, STREAM_FROM, pack_key};
use crate::verify::unindexed_packs;

/// How aggressive a collection is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GcOptions {
    /// A pack whose live bytes are below this share of its bytes is rewritten with only its
    /// live blobs (default 0.5). Packs with no live blob are always deleted.
    pub repack_below: f64,
    /// The largest share of all pack bytes that may stay unreferenced after a collection
    /// (default 0.05). Deleted mail is spread thinly over old packs, so few of them ever fall
    /// under `repack_below`; when the garbage left in the kept packs adds up to more than
    /// this share, the packs with the most garbage are rewritten too, until it does not.
    pub max_unused: f64,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self {
            repack_below: 0.5,
            max_unused: 0.05,
        }
    }
}

impl GcOptions {
    /// Checks that both shares are between 0 and 1.
    pub fn validate(&self) -> Result<()> {
        for (name, share) in [
            ("repack_below", self.repack_below),
            ("max_unused", self.max_unused),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(Error::invalid(
                    "gc options",
                    format!("{name} is a share between 0 and 1, not {share}"),
                ));
            }
        }
        Ok(())
    }
}

/// What a collection does with one pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PackFate {
    Keep,
    Repack,
    Delete,
}

/// Decides each pack's fate from its (total, live) stored bytes: packs with nothing live go,
/// packs under `repack_below` are rewritten, and then the packs with the largest dead share
/// are rewritten until the dead bytes left are at most `max_unused` of all pack bytes.
fn decide(sizes: &[(u64, u64)], options: &GcOptions) -> Vec<PackFate> {
    let mut fates: Vec<PackFate> = sizes
        .iter()
        .map(|&(total, live)| {
            if live == 0 {
                PackFate::Delete
            } else if (live as f64) < options.repack_below * total as f64 {
                PackFate::Repack
            } else {
                PackFate::Keep
            }
        })
        .collect();
    let after = |fates: &[PackFate]| -> (u64, u64) {
        sizes
            .iter()
            .zip(fates)
            .fold((0, 0), |(all, dead), (&(total, live), fate)| match fate {
                PackFate::Keep => (all + total, dead + (total - live)),
                PackFate::Repack => (all + live, dead),
                PackFate::Delete => (all, dead),
            })
    };
    let (mut all, mut dead) = after(&fates);
    let mut candidates: Vec<usize> = (0..sizes.len())
        .filter(|&i| fates[i] == PackFate::Keep && sizes[i].1 < sizes[i].0)
        .collect();
    // Most garbage (by share) first; ties by the larger amount.
    candidates.sort_by(|&a, &b| {
        let share = |i: usize| sizes[i].1 as f64 / sizes[i].0.max(1) as f64;
        share(a)
            .total_cmp(&share(b))
            .then((sizes[b].0 - sizes[b].1).cmp(&(sizes[a].0 - sizes[a].1)))
    });
    for i in candidates {
        if (dead as f64) <= options.max_unused * all as f64 {
            break;
        }
        let garbage = sizes[i].0 - sizes[i].1;
        fates[i] = PackFate::Repack;
        dead -= garbage;
        all -= garbage;
    }
    fates
}

/// What a collection did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Blobs no snapshot referenced, now gone.
    pub blobs_removed: u64,
    /// Packs deleted whole (nothing live in them, or not indexed at all).
    pub packs_deleted: u64,
    /// Packs rewritten with only their live blobs.
    pub packs_repacked: u64,
    /// Bytes of pack files before, and after.
    pub pack_bytes_before: u64,
    /// Bytes of pack files after.
    pub pack_bytes_after: u64,
}

impl Repository {
    /// Reclaims unreferenced bytes. Fails with [`ErrorKind::Busy`](crate::ErrorKind::Busy)
    /// while a snapshot is being written, and refuses to run on a repository with a damaged
    /// index or snapshot record (run `verify`), or whose index has lost track of a blob a
    /// snapshot references (run `mtm repair index`): it never deletes on partial knowledge.
    pub fn gc(&self, options: &GcOptions) -> Result<GcReport> {
        options.validate()?;
        let backend = Arc::clone(&self.inner.backend);
        let _lock = acquire(backend.as_ref(), LockKind::Gc)?;
        let _full = self.inner.store.full_index()?;
        let (old_indexes, old_packs) = self.gc_start()?;
        let live = self.live_blobs().map_err(mark_failed)?;
        self.refuse_unindexed(&live)?;
        self.sweep(options, &old_indexes, &old_packs, &live)
    }

    /// Prunes as of `clock.now()` and collects the garbage in one go, under the gc lock: the
    /// walk that plans the prune (what the kept snapshots reach) is the mark of the
    /// collection, so every manifest and catalog is read once instead of twice. The plan is
    /// made under the lock, so no snapshot can be written between the mark and the sweep.
    /// Same refusals as [`Repository::gc`].
    pub fn prune_and_gc(
        &self,
        clock: &dyn Clock,
        account: Option<&AccountId>,
        options: &GcOptions,
    ) -> Result<(PrunePlan, PruneReport, GcReport)> {
        options.validate()?;
        let backend = Arc::clone(&self.inner.backend);
        let _lock = acquire(backend.as_ref(), LockKind::Gc)?;
        let _full = self.inner.store.full_index()?;
        let (old_indexes, old_packs) = self.gc_start()?;
        let (plan, kept) = self
            .plan_and_reach(clock, account, true)
            .map_err(mark_failed)?;
        let live =
            kept.ok_or_else(|| Error::invalid("prune", "the kept snapshots were not walked"))?;
        self.refuse_unindexed(&live)?;
        let pruned = self.prune_checked(&plan, clock.now())?;
        let collected = self.sweep(options, &old_indexes, &old_packs, &live)?;
        Ok((plan, pruned, collected))
    }

    /// Under the gc lock: reads the index afresh, refuses a damaged one, and lists the index
    /// files and packs that exist before the mark.
    fn gc_start(&self) -> Result<(Vec<String>, Vec<String>)> {
        let backend = &self.inner.backend;
        let store = &self.inner.store;
        store.reload()?;
        if let Some((key, reason)) = store.damaged_indexes().first() {
            return Err(Error::integrity(
                key,
                format!(
                    "gc will not run on a damaged index: {reason}; gc deleted nothing: \
                     `mtm repair index` rebuilds the index from the pack trailers"
                ),
            ));
        }
        refuse_staged_records(backend.as_ref())?;
        Ok((backend.list("index/")?, backend.list("packs/")?))
    }

    /// Deletes and repacks what `live` does not name (under the gc lock; `old_indexes` and
    /// `old_packs` listed before `live` was marked).
    fn sweep(
        &self,
        options: &GcOptions,
        old_indexes: &[String],
        old_packs: &[String],
        live: &IdSet<BlobId>,
    ) -> Result<GcReport> {
        let backend = Arc::clone(&self.inner.backend);
        let store = &self.inner.store;
        let mut by_pack: BTreeMap<BlobId, (IndexedPack, Vec<PackRecord>)> = BTreeMap::new();
        for (pack, record) in store.indexed_blobs()? {
            by_pack
                .entry(pack.id)
                .or_insert_with(|| (pack, Vec::new()))
                .1
                .push(record);
        }
        let mut report = GcReport::default();
        let mut doomed: BTreeSet<String> = BTreeSet::new();
        let mut kept = IndexFile::default();
        // Live blobs of sparse packs are written again through a store that knows no blob,
        // so that none is skipped as "already stored".
        let repacker = Arc::new(BlobStore::with_empty_index(Arc::clone(&backend)));
        let mut writer = repacker.writer(store.current_dictionary()?);
        let compressor = writer.compressor();
        let mut encoder = compressor.encoder()?;
        // A pack's size is its file's, not the sum of its indexed blobs: blobs an earlier
        // collection dropped from the index are still in the file, and are garbage too.
        let mut sizes: Vec<(u64, u64)> = Vec::with_capacity(by_pack.len());
        for (id, (_, records)) in &by_pack {
            let alive: u64 = records
                .iter()
                .filter(|r| live.contains(&r.id))
                .map(|r| u64::from(r.stored_len))
                .sum();
            let file = backend.size(&pack_key(id))?;
            sizes.push((file.max(alive), alive));
        }
        let fates = decide(&sizes, options);
        for ((id, (pack, records)), fate) in by_pack.iter().zip(fates) {
            let (alive, dead): (Vec<&PackRecord>, Vec<&PackRecord>) =
                records.iter().partition(|r| live.contains(&r.id));
            report.blobs_removed += dead.len() as u64;
            match fate {
                PackFate::Delete => {
                    doomed.insert(pack_key(id));
                    report.packs_deleted += 1;
                }
                PackFate::Repack => {
                    for r in alive {
                        let describe = || format!("blob {} being repacked", r.id);
                        if r.raw_len as usize >= STREAM_FROM || r.stored_len as usize >= STREAM_FROM
                        {
                            // A large blob is copied as it is stored, in pieces: never held
                            // whole, never compressed again.
                            if let Some(copied) = compressor.copy_blob(store, &r.id, &describe)? {
                                writer.adopt(copied)?;
                            }
                            continue;
                        }
                        let raw = store.read(&r.id, &describe)?;
                        let use_dictionary = r.codec == Codec::ZstdDictionary;
                        writer.push(encoder.compress(r.id, r.kind, use_dictionary, &raw)?)?;
                    }
                    doomed.insert(pack_key(id));
                    report.packs_repacked += 1;
                }
                PackFate::Keep => {
                    let number = u32::try_from(kept.packs.len())
                        .map_err(|_| Error::invalid("index", "too many packs"))?;
                    kept.packs.push(*pack);
                    kept.entries.extend(alive.into_iter().map(|r| (number, *r)));
                }
            }
        }
        drop(encoder);
        let indexed_packs: BTreeSet<String> = by_pack.keys().map(pack_key).collect();
        for key in old_packs {
            report.pack_bytes_before += backend.size(key)?;
            if !indexed_packs.contains(key) {
                // Left by an interrupted writer: every live blob is indexed (checked after
                // the mark), so nothing here is the only copy of anything live.
                doomed.insert(key.clone());
            }
        }
        if doomed.is_empty() && report.blobs_removed == 0 && old_indexes.len() <= 1 {
            // Nothing to reclaim and nothing to merge: writing the same index again and
            // reading it back would only cost time.
            remove_leftover_temps(backend.as_ref())?;
            report.pack_bytes_after = report.pack_bytes_before;
            return Ok(report);
        }
        let repacked = writer.finish()?;
        // An index file this run wrote may carry the name of an old one (a crashed earlier
        // gc wrote the same bytes): it must survive the deletion of the old files.
        let mut new_indexes: BTreeSet<String> = repacked.index.into_iter().collect();
        if !kept.entries.is_empty() {
            let data = encode_index(&kept)?;
            let key = format!("index/{}", BlobId::of(&data).to_hex());
            match backend.write_new(&key, &data) {
                Err(e) if e.kind() != ErrorKind::AlreadyExists => return Err(e),
                _ => {}
            }
            new_indexes.insert(key);
        }
        // What the new index files name must survive, even a pack that a crashed earlier gc
        // already wrote with the same bytes and that looked unreferenced.
        let mut needed: BTreeSet<String> = kept.packs.iter().map(|p| pack_key(&p.id)).collect();
        needed.extend(repacked.pack_ids.iter().map(pack_key));
        new_indexes.extend(
            backend
                .list("index/")?
                .into_iter()
                .filter(|k| !old_indexes.contains(k)),
        );
        // Old index files go first, then the packs nothing indexes any more.
        for key in old_indexes.iter().filter(|k| !new_indexes.contains(*k)) {
            backend.delete(key)?;
        }
        for key in doomed.iter().filter(|k| !needed.contains(*k)) {
            backend.delete(key)?;
        }
        remove_leftover_temps(backend.as_ref())?;
        for key in backend.list("packs/")? {
            report.pack_bytes_after += backend.size(&key)?;
        }
        store.reload()?;
        Ok(report)
    }

    /// Refuses to collect while a live blob is in no index file. The sweep decides by the
    /// index which packs hold live blobs; a live blob the index does not know (a lost or
    /// damaged index file) may sit in a pack the sweep would delete as unreferenced, or be
    /// left out of a repacked one. Costs one lookup per live blob when all is well; only on
    /// refusal are the packs that no index names read, to say where the blobs are.
    fn refuse_unindexed(&self, live: &IdSet<BlobId>) -> Result<()> {
        let store = &self.inner.store;
        let mut missing: Vec<BlobId> = live
            .iter()
            .filter(|b| !store.contains(b))
            .copied()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        let indexed: BTreeSet<String> = store
            .indexed_blobs()?
            .iter()
            .map(|(pack, _)| pack_key(&pack.id))
            .collect();
        let candidates: Vec<String> = self
            .inner
            .backend
            .list("packs/")?
            .into_iter()
            .filter(|key| !indexed.contains(key))
            .collect();
        let found = unindexed_packs(&self.inner, candidates)?;
        let mut holders: BTreeMap<&str, u64> = BTreeMap::new();
        for blob in &missing {
            if let Some(pack) = found.blobs.get(blob) {
                *holders.entry(pack.as_str()).or_default() += 1;
            }
        }
        let located: u64 = holders.values().sum();
        let mut whereabouts: Vec<String> = holders
            .iter()
            .map(|(pack, n)| format!("{pack} holds {n} of them (its trailer lists them)"))
            .collect();
        let lost = missing.len() as u64 - located;
        if lost > 0 {
            whereabouts.push(format!(
                "{lost} are in no pack that the index omits (`mtm verify` names the messages \
                 that need them)"
            ));
        }
        Err(Error::integrity(
            "the repository index",
            format!(
                "{} blob(s) that snapshots reference are in no index file (the first is blob \
                 {}): {}. gc deleted nothing; run `mtm repair index` to rebuild the index from \
                 the pack trailers, then `mtm verify`",
                missing.len(),
                missing[0],
                whereabouts.join("; ")
            ),
        ))
    }

    /// Every blob reachable from any snapshot record: manifests, catalogs, and the parts of
    /// the messages the manifests list.
    fn live_blobs(&self) -> Result<IdSet<BlobId>> {
        let mut manifests = Vec::new();
        for account in self.accounts()? {
            for day in self.inner.days(&account)? {
                let record = self.inner.snapshot_record(&account, day)?;
                manifests.extend(record.folders.into_iter().map(|f| f.manifest));
            }
        }
        reachable(&self.inner.store, &manifests, &IdSet::default())
    }
}

/// Refuses to collect while an interrupted recovery left a replacement snapshot record
/// staged (`<day>.json.repair`, FORMAT.md *Repair*): the new manifests and catalog it names
/// are reachable from no published record (the old one may be deleted already, or still
/// published and naming the damaged blobs instead), so a mark of the published records would
/// have the sweep delete them, and the recovery would then publish a record whose blobs are
/// gone. Refusing here, at the start that `gc` and `prune --gc` share, covers every mark;
/// marking the staged records instead would have to be taught to every walk of the
/// records, and would collect a repository that is halfway through a rewrite. `mtm repair
/// recover` publishes the staged records first thing.
fn refuse_staged_records(backend: &dyn crate::backend::Backend) -> Result<()> {
    let staged: Vec<String> = backend
        .list("snapshots/")?
        .into_iter()
        .filter(|key| key.ends_with(".json.repair"))
        .collect();
    let Some(first) = staged.first() else {
        return Ok(());
    };
    Err(Error::integrity(
        first,
        format!(
            "a recovery was interrupted before it published {} replacement snapshot \
             record(s) (the first is {first}); gc deleted nothing: run `mtm repair recover` \
             (with the Maildirs, as before) to finish it, then gc",
            staged.len()
        ),
    ))
}

/// A mark that could not read what a snapshot references refuses the collection: says so,
/// and what to run.
fn mark_failed(error: Error) -> Error {
    match error {
        Error::Integrity { location, reason } => Error::integrity(
            location,
            format!(
                "{reason}; gc deleted nothing: run `mtm verify` (if it reports blobs missing \
                 from the index, `mtm repair index` rebuilds the index from the pack trailers)"
            ),
        ),
        other => other,
    }
}

/// Deletes the files under `tmp/` that no live writer owns. A writer (a snapshot starting
/// beside this gc, even to write its lock) names its temp file `<pid>-…`: the file of a
/// process that still runs on this host may be published any moment, so it stays.
fn remove_leftover_temps(backend: &dyn crate::backend::Backend) -> Result<()> {
    let proc_visible = std::path::Path::new("/proc/self").exists();
    for key in backend.list("tmp/")? {
        let name = key.rsplit('/').next().unwrap_or(&key);
        let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let live = match pid {
            Some(pid) => {
                !proc_visible || std::path::Path::new("/proc").join(pid.to_string()).exists()
            }
            None => false,
        };
        if !live {
            backend.delete(&key)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use PackFate::*;

    fn options(repack_below: f64, max_unused: f64) -> GcOptions {
        GcOptions {
            repack_below,
            max_unused,
        }
    }

    #[test]
    fn empty_packs_go_and_sparse_packs_are_rewritten() {
        let sizes = [(100, 0), (100, 40), (100, 90)];
        assert_eq!(decide(&sizes, &options(0.5, 1.0)), [Delete, Repack, Keep]);
    }

    #[test]
    fn thin_garbage_everywhere_is_rewritten_until_under_the_limit() {
        // Ten packs each 20% dead: none is sparse, but 20% of all bytes is garbage.
        let sizes = [(100, 80); 10];
        let fates = decide(&sizes, &options(0.5, 0.1));
        let repacked = fates.iter().filter(|f| **f == Repack).count();
        // Rewriting k packs leaves 20(10-k) dead of 1000-20k bytes: k = 6 is the first
        // that reaches 10% (80 / 880).
        assert_eq!(repacked, 6);
        assert_eq!(decide(&sizes, &options(0.5, 0.25)), [Keep; 10]);
    }

    #[test]
    fn the_packs_with_the_most_garbage_go_first() {
        let sizes = [(100, 95), (100, 60), (100, 99), (100, 70)];
        assert_eq!(
            decide(&sizes, &options(0.5, 0.05)),
            [Keep, Repack, Keep, Repack]
        );
    }
}
