//! The index in memory: which pack holds each blob, read from the index files.

use std::sync::{Arc, PoisonError};

use super::BlobStore;
use super::codec::Codec;
use super::format::{self, BlobKind, IndexFile, IndexedPack, PackRecord};
use super::sorted::{Opened, SortedFile};
use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::id::{BlobId, IdMap, IdSet};

#[derive(Debug, Clone, Copy)]
/// Where a blob is: its pack (by number) and its place in it. The id is the map's key, so it
/// is not repeated here (a large index stays small in memory).
struct Location {
    pack: u32,
    kind: BlobKind,
    codec: Codec,
    offset: u32,
    stored_len: u32,
    raw_len: u32,
}

/// What the index of one handle knows, and where each part of it lives.
///
/// *Lazy* (the normal state): sorted index files stay on storage and are probed blob by
/// blob ([`SortedFile::find`]); memory holds only the entries this handle wrote itself
/// (until there are [`OWN_ENTRIES_IN_MEMORY`] of them) and those of version 1 files, which
/// are not sorted and are read whole. A lookup's cost then follows what it looks up, not
/// how many accounts and days the repository holds.
///
/// *Full*: every index file read whole into memory, for the operations that walk every
/// blob anyway (verify, gc, repairs); see [`BlobStore::full_index`].
#[derive(Debug, Default)]
pub(super) struct IndexState {
    /// The index files this state was read from (sorted).
    pub(super) files: Vec<String>,
    /// Index files that could not be read, with why.
    damaged: Vec<(String, String)>,
    packs: Vec<IndexedPack>,
    pack_numbers: IdMap<BlobId, u32>,
    blobs: IdMap<BlobId, Location>,
    /// Sorted files whose entries are in `blobs` (this handle's own writes): moved to
    /// `unopened` when memory is given back.
    in_memory: Vec<String>,
    /// Whether `blobs` holds entries of version 1 files (never given back: they cannot be
    /// probed on storage).
    pinned: bool,
    /// Sorted files probed on storage.
    lazy: Vec<Arc<SortedFile>>,
    /// Listed files not looked at yet (opened on the first lookup that misses memory).
    unopened: Vec<String>,
    /// Holders of [`BlobStore::full_index`]: while any, every file is in memory.
    full_holders: usize,
}

/// How many entries a handle keeps of its own writes before relying on its sorted files
/// on storage: about 16 MiB, so that a run over many accounts stays flat in memory.
const OWN_ENTRIES_IN_MEMORY: usize = 256 * 1024;

impl IndexState {
    fn listed(keys: Vec<String>) -> Self {
        Self {
            unopened: keys.clone(),
            files: keys,
            ..Self::default()
        }
    }

    fn add_pack(&mut self, pack: IndexedPack) -> u32 {
        if let Some(n) = self.pack_numbers.get(&pack.id) {
            return *n;
        }
        let n = u32::try_from(self.packs.len()).unwrap_or(u32::MAX);
        self.packs.push(pack);
        self.pack_numbers.insert(pack.id, n);
        n
    }

    pub(super) fn merge(&mut self, file: &IndexFile) {
        let numbers: Vec<u32> = file.packs.iter().map(|p| self.add_pack(*p)).collect();
        for (pack, record) in &file.entries {
            let pack = numbers[*pack as usize];
            self.blobs.entry(record.id).or_insert(Location {
                pack,
                kind: record.kind,
                codec: record.codec,
                offset: record.offset,
                stored_len: record.stored_len,
                raw_len: record.raw_len,
            });
        }
    }

    /// Takes in an index file this handle has just written (`key`, with `file` its content).
    pub(super) fn add_own(&mut self, key: &str, file: &IndexFile) {
        if let Err(at) = self.files.binary_search_by(|k| k.as_str().cmp(key)) {
            self.files.insert(at, key.to_owned());
        }
        self.merge(file);
        if self.full_holders > 0 {
            return;
        }
        self.in_memory.push(key.to_owned());
        if self.blobs.len() > OWN_ENTRIES_IN_MEMORY {
            // Given back: the entries are in sorted files on storage, probed from now on.
            self.forget_own();
        }
    }

    /// The sorted files probed on storage.
    pub(super) fn lazy_files(&self) -> Vec<Arc<SortedFile>> {
        self.lazy.clone()
    }

    /// The index files this handle wrote whose entries it holds in memory.
    pub(super) fn own_files(&self) -> Vec<String> {
        self.in_memory.clone()
    }

    /// After a merge of `inputs` into `merged`: the inputs are forgotten (their entries
    /// still in memory stay: the merged file lists them too), the merged file is probed.
    pub(super) fn replace_lazy(&mut self, inputs: &[String], merged: &str, file: Arc<SortedFile>) {
        self.files.retain(|k| !inputs.contains(k));
        self.lazy.retain(|f| !inputs.contains(&f.key));
        self.unopened.retain(|k| !inputs.contains(k));
        self.in_memory.retain(|k| !inputs.contains(k));
        if let Err(at) = self.files.binary_search_by(|k| k.as_str().cmp(merged)) {
            self.files.insert(at, merged.to_owned());
        }
        if !self.lazy.iter().any(|f| f.key == merged) {
            self.lazy.push(file);
        }
    }

    /// Gives the memory of this handle's own writes back: their sorted files are probed
    /// from now on.
    fn forget_own(&mut self) {
        if self.pinned || self.full_holders > 0 {
            return;
        }
        self.blobs = IdMap::default();
        self.packs.clear();
        self.pack_numbers = IdMap::default();
        self.unopened.append(&mut self.in_memory);
    }

    fn location(&self, id: &BlobId) -> Option<(IndexedPack, PackRecord)> {
        let loc = self.blobs.get(id)?;
        let record = PackRecord {
            id: *id,
            kind: loc.kind,
            codec: loc.codec,
            offset: loc.offset,
            stored_len: loc.stored_len,
            raw_len: loc.raw_len,
        };
        Some((self.packs[loc.pack as usize], record))
    }
}

/// Reads one index file, checking its content against the hash in its name.
fn read_index_file(backend: &dyn Backend, key: &str) -> Result<IndexFile> {
    let data = backend.read(key)?;
    let name = key.rsplit('/').next().unwrap_or_default();
    if BlobId::of(&data).to_hex() != name {
        return Err(Error::integrity(key, "index file does not match its hash"));
    }
    format::decode_index(&data, key)
}

/// Reads every index file into a fresh index, setting aside the damaged ones.
/// An index file that cannot be read, and why.
type DamagedIndex = (String, String);

/// Reads the index files `keys`: the readable ones, and the damaged ones with why. A
/// damaged index file must not make the whole repository unreadable: its blobs read as
/// missing (an integrity error naming the message), and `verify` reports it.
fn read_index_files(
    backend: &dyn Backend,
    keys: &[String],
) -> Result<(Vec<IndexFile>, Vec<DamagedIndex>)> {
    let mut files = Vec::with_capacity(keys.len());
    let mut damaged = Vec::new();
    for key in keys {
        match read_index_file(backend, key) {
            Ok(file) => files.push(file),
            Err(e) if e.kind() == ErrorKind::Integrity => {
                damaged.push((key.clone(), e.to_string()))
            }
            Err(e) => return Err(e),
        }
    }
    Ok((files, damaged))
}

/// Reads every index file whole (the full state).
pub(super) fn load_full(backend: &dyn Backend) -> Result<IndexState> {
    let keys = backend.list("index/")?;
    let (files, damaged) = read_index_files(backend, &keys)?;
    // Sized once: growing the map entry by entry would rehash it many times over.
    let mut state = IndexState::default();
    state
        .blobs
        .reserve(files.iter().map(|f| f.entries.len()).sum());
    for file in &files {
        state.merge(file);
    }
    state.damaged = damaged;
    state.files = keys;
    state.pinned = true;
    Ok(state)
}

/// Lists the index files without reading them (the lazy state).
pub(super) fn load_lazy(backend: &dyn Backend) -> Result<IndexState> {
    Ok(IndexState::listed(backend.list("index/")?))
}

impl BlobStore {
    /// Reads the index files again: after a garbage collection (of this process or
    /// another) moved blobs to other packs, or other writers added files.
    ///
    /// Costs what changed: when every index file already known is still there (the common
    /// case: other writers only added files), only the new files are taken in (listed for
    /// lazy probing, or read whole while the index is full); everything is listed again only
    /// when files were removed (a collection or a consolidation rewrote them).
    pub(crate) fn reload(&self) -> Result<()> {
        let keys = self.backend.list("index/")?;
        let added: Vec<String> = {
            let state = self.index.read().unwrap_or_else(PoisonError::into_inner);
            let removed = state
                .files
                .iter()
                .any(|known| keys.binary_search(known).is_err());
            if removed {
                drop(state);
                return self.reload_all();
            }
            keys.into_iter()
                .filter(|key| state.files.binary_search(key).is_err())
                .collect()
        };
        if added.is_empty() {
            return Ok(());
        }
        let full = self
            .index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .full_holders
            > 0;
        let (files, damaged) = if full {
            read_index_files(self.backend.as_ref(), &added)?
        } else {
            (Vec::new(), Vec::new())
        };
        let mut state = self.index.write().unwrap_or_else(PoisonError::into_inner);
        for file in &files {
            state.merge(file);
        }
        for key in added {
            // Another thread of this process may have added it meanwhile (its own write).
            if let Err(at) = state.files.binary_search(&key) {
                state.files.insert(at, key.clone());
                if !full {
                    state.unopened.push(key);
                }
            }
        }
        state.damaged.extend(damaged);
        Ok(())
    }

    /// Reads the index afresh, even files whose names are the ones already read (a repair
    /// replaced a damaged file by the bytes its name promises): whole while the index is
    /// full, else listed for probing.
    pub(crate) fn reload_all(&self) -> Result<()> {
        // The same order as the group commit's: held entries, then the index.
        let held = super::lock(&self.held);
        let mut state = self.index.write().unwrap_or_else(PoisonError::into_inner);
        let holders = state.full_holders;
        let mut fresh = if holders > 0 {
            load_full(self.backend.as_ref())?
        } else {
            load_lazy(self.backend.as_ref())?
        };
        fresh.full_holders = holders;
        // Entries held for a group commit are in no file yet: they stay known.
        fresh.merge(&held);
        *state = fresh;
        Ok(())
    }

    /// Reads every index file whole and keeps them in memory until the guard is dropped:
    /// for the operations that walk every blob (verify, gc, repairs, prune plans), which
    /// need the whole index and its damage. Afterwards the handle goes back to probing.
    pub(crate) fn full_index(&self) -> Result<FullIndex<'_>> {
        let mut state = self.index.write().unwrap_or_else(PoisonError::into_inner);
        if state.full_holders == 0 {
            *state = load_full(self.backend.as_ref())?;
        }
        state.full_holders += 1;
        Ok(FullIndex { store: self })
    }

    /// Gives back the memory holding this handle's own writes (their files are probed on
    /// storage from now on), as a handle does by itself past [`OWN_ENTRIES_IN_MEMORY`].
    #[cfg(test)]
    pub(crate) fn forget_own_writes(&self) {
        self.index
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .forget_own();
    }

    /// Opens the listed files not looked at yet: a sorted file's header is read, a version
    /// 1 file is read whole into memory; a damaged one is set aside.
    /// True if entries were added to memory (version 1 files).
    pub(super) fn open_listed_files(&self) -> Result<bool> {
        // Under the write lock throughout: a concurrent lookup waits for the files to be
        // open rather than find none of them.
        let mut state = self.index.write().unwrap_or_else(PoisonError::into_inner);
        if state.unopened.is_empty() {
            return Ok(false);
        }
        let pending = std::mem::take(&mut state.unopened);
        let mut unsorted = false;
        for (at, key) in pending.iter().enumerate() {
            let opened = match SortedFile::open(self.backend.as_ref(), key) {
                Ok(Opened::Sorted(file)) => Ok(Some(file)),
                Ok(Opened::Unsorted) => read_index_file(self.backend.as_ref(), key).map(|file| {
                    state.merge(&file);
                    state.pinned = true;
                    unsorted = true;
                    None
                }),
                Err(e) => Err(e),
            };
            match opened {
                Ok(Some(file)) => state.lazy.push(Arc::new(file)),
                Ok(None) => {}
                Err(e) if e.kind() == ErrorKind::Integrity => {
                    state.damaged.push((key.clone(), e.to_string()))
                }
                // Gone meanwhile (a consolidation replaced it): the next listing says.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    // Tried again by the next lookup.
                    state.unopened.extend_from_slice(&pending[at..]);
                    return Err(e);
                }
            }
        }
        Ok(unsorted)
    }

    /// The index files that could not be read, with why (of those looked at so far: all
    /// of them under [`full_index`](Self::full_index)).
    pub(crate) fn damaged_indexes(&self) -> Vec<(String, String)> {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .damaged
            .clone()
    }

    /// Every indexed blob: its pack, the pack's dictionary, and its record. Reads the whole
    /// index (see [`full_index`](Self::full_index)).
    pub(crate) fn indexed_blobs(&self) -> Result<Vec<(IndexedPack, PackRecord)>> {
        let _full = self.full_index()?;
        let state = self.index.read().unwrap_or_else(PoisonError::into_inner);
        Ok(state
            .blobs
            .keys()
            .filter_map(|id| state.location(id))
            .collect())
    }

    /// The packs that the readable index files name. Reads the whole index.
    pub(crate) fn indexed_packs(&self) -> Result<IdSet<BlobId>> {
        let _full = self.full_index()?;
        let state = self.index.read().unwrap_or_else(PoisonError::into_inner);
        Ok(state.packs.iter().map(|p| p.id).collect())
    }

    /// Whether `id` is indexed. A probe that fails (storage error) counts as not indexed:
    /// a writer then stores the blob again, which costs space but never loses it.
    pub(crate) fn contains(&self, id: &BlobId) -> bool {
        self.locate(id).ok().flatten().is_some()
    }

    /// Where a blob is: memory first, then the sorted files on storage. A file that has
    /// vanished (a consolidation replaced it by a merged one) makes the handle list the
    /// index again and look once more; a file found damaged is set aside.
    pub(super) fn locate(&self, id: &BlobId) -> Result<Option<(IndexedPack, PackRecord)>> {
        for attempt in 0..2 {
            if let Some(found) = self
                .index
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .location(id)
            {
                return Ok(Some(found));
            }
            if self.open_listed_files()?
                && let Some(found) = self
                    .index
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .location(id)
            {
                // A version 1 file just read whole into memory.
                return Ok(Some(found));
            }
            let lazy = self
                .index
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .lazy
                .clone();
            let mut vanished = false;
            for file in &lazy {
                match file.find(self.backend.as_ref(), id) {
                    Ok(Some(found)) => return Ok(Some(found)),
                    Ok(None) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => vanished = true,
                    Err(e) if e.kind() == ErrorKind::Integrity => self.set_aside(file, &e),
                    Err(e) => return Err(e),
                }
            }
            if !vanished || attempt == 1 {
                break;
            }
            self.reload()?;
        }
        Ok(None)
    }

    /// Stops probing a sorted file found damaged; `verify` reports it.
    fn set_aside(&self, file: &Arc<SortedFile>, error: &Error) {
        let mut state = self.index.write().unwrap_or_else(PoisonError::into_inner);
        state.lazy.retain(|f| !Arc::ptr_eq(f, file));
        if !state.damaged.iter().any(|(key, _)| *key == file.key) {
            state.damaged.push((file.key.clone(), error.to_string()));
        }
    }

    /// How many distinct blobs the index lists. Reads the whole index.
    pub(crate) fn indexed_blob_count(&self) -> Result<usize> {
        let _full = self.full_index()?;
        Ok(self
            .index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .blobs
            .len())
    }
}

/// The whole index held in memory (see [`BlobStore::full_index`]); dropped, the handle goes
/// back to probing its sorted files.
#[derive(Debug)]
pub(crate) struct FullIndex<'s> {
    store: &'s BlobStore,
}

impl Drop for FullIndex<'_> {
    fn drop(&mut self) {
        let mut state = self
            .store
            .index
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        state.full_holders = state.full_holders.saturating_sub(1);
        if state.full_holders == 0 {
            let files = std::mem::take(&mut state.files);
            let damaged = std::mem::take(&mut state.damaged);
            *state = IndexState::listed(files);
            // Files known damaged stay known: they are not probed again.
            state
                .unopened
                .retain(|k| !damaged.iter().any(|(d, _)| d == k));
            state.damaged = damaged;
        }
    }
}
