//! The index in memory: which pack holds each blob, read from the index files.

use std::sync::PoisonError;

use super::BlobStore;
use super::codec::Codec;
use super::format::{self, BlobKind, IndexFile, IndexedPack, PackRecord};
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

#[derive(Debug, Default)]
pub(super) struct IndexState {
    /// The index files this state was read from (sorted).
    pub(super) files: Vec<String>,
    /// Index files that could not be read, with why.
    damaged: Vec<(String, String)>,
    packs: Vec<IndexedPack>,
    pack_numbers: IdMap<BlobId, u32>,
    blobs: IdMap<BlobId, Location>,
}

impl IndexState {
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

pub(super) fn load_index(backend: &dyn Backend) -> Result<IndexState> {
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
    Ok(state)
}

impl BlobStore {
    /// Reads the index files again: after a garbage collection (of this process or
    /// another) moved blobs to other packs.
    ///
    /// Costs what changed: when every index file already read is still there (the common
    /// case: other writers only added files), only the new files are read and merged; the
    /// whole index is read again only when files were removed (a collection rewrote them).
    /// A writer of many accounts reloads before each, so reading every file each time would
    /// cost the accounts times the index files.
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
        let (files, damaged) = read_index_files(self.backend.as_ref(), &added)?;
        let mut state = self.index.write().unwrap_or_else(PoisonError::into_inner);
        for file in &files {
            state.merge(file);
        }
        for key in added {
            // Another thread of this process may have added it meanwhile (its own write).
            if let Err(at) = state.files.binary_search(&key) {
                state.files.insert(at, key);
            }
        }
        state.damaged.extend(damaged);
        Ok(())
    }

    /// Reads every index file again, even if their names are the ones already read (a
    /// repair replaced a damaged file by the bytes its name promises).
    pub(crate) fn reload_all(&self) -> Result<()> {
        let state = load_index(self.backend.as_ref())?;
        *self.index.write().unwrap_or_else(PoisonError::into_inner) = state;
        Ok(())
    }

    /// The index files that could not be read, with why.
    pub(crate) fn damaged_indexes(&self) -> Vec<(String, String)> {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .damaged
            .clone()
    }

    /// Every indexed blob: its pack, the pack's dictionary, and its record.
    pub(crate) fn indexed_blobs(&self) -> Vec<(IndexedPack, PackRecord)> {
        let state = self.index.read().unwrap_or_else(PoisonError::into_inner);
        state
            .blobs
            .iter()
            .map(|(id, loc)| {
                let record = PackRecord {
                    id: *id,
                    kind: loc.kind,
                    codec: loc.codec,
                    offset: loc.offset,
                    stored_len: loc.stored_len,
                    raw_len: loc.raw_len,
                };
                (state.packs[loc.pack as usize], record)
            })
            .collect()
    }

    /// The packs that the readable index files name.
    pub(crate) fn indexed_packs(&self) -> IdSet<BlobId> {
        let state = self.index.read().unwrap_or_else(PoisonError::into_inner);
        state.packs.iter().map(|p| p.id).collect()
    }

    pub(crate) fn contains(&self, id: &BlobId) -> bool {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .blobs
            .contains_key(id)
    }

    pub(super) fn locate(&self, id: &BlobId) -> Option<(IndexedPack, PackRecord)> {
        let state = self.index.read().unwrap_or_else(PoisonError::into_inner);
        let loc = state.blobs.get(id)?;
        let record = PackRecord {
            id: *id,
            kind: loc.kind,
            codec: loc.codec,
            offset: loc.offset,
            stored_len: loc.stored_len,
            raw_len: loc.raw_len,
        };
        Some((state.packs[loc.pack as usize], record))
    }

    /// Every pack file key referenced by the index.
    pub(crate) fn indexed_blob_count(&self) -> usize {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .blobs
            .len()
    }
}
