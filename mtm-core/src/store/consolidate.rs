//! Index consolidation: merging index files into larger sorted ones in normal operation, so
//! that the number of files a lookup probes stays small (about three per size tier, tiers
//! growing fourfold) without waiting for a garbage collection.
//!
//! A merge streams its inputs (each read in order, in pieces, its hash checked against its
//! name) into one new sorted file, publishes it, and only then deletes the inputs: at every
//! moment each blob is listed by some index file. Two writers merging at once at worst list
//! a blob twice, which readers allow; a reader whose file vanished lists the index again.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::Write as _;
use std::sync::{Arc, PoisonError};

use super::BlobStore;
use super::filter::Filter;
use super::format::{self, INDEX_ENTRY_LEN, IndexedPack, PackRecord};
use super::sorted::{self, Opened, SortedFile};
use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::id::BlobId;

/// Files of one size tier that make a merge: with tiers growing fourfold, a lookup probes
/// at most three files per tier.
const MERGE_AT: usize = 4;
/// Entries read from an input at a time (about 200 KiB).
const CHUNK_ENTRIES: u64 = 4096;

/// The size tier of a file of `entries` entries: ⌊log₄ entries⌋.
fn tier(entries: u64) -> u32 {
    if entries == 0 { 0 } else { entries.ilog2() / 2 }
}

/// Which files to merge, given each file's key and entry count: the lowest tier holding
/// [`MERGE_AT`] files or more, with every smaller file. `None` when no tier is that full.
pub(crate) fn plan(files: &[(String, u64)]) -> Option<Vec<String>> {
    let mut by_tier: std::collections::BTreeMap<u32, usize> = Default::default();
    for (_, entries) in files {
        *by_tier.entry(tier(*entries)).or_default() += 1;
    }
    let full = by_tier
        .iter()
        .find(|(_, count)| **count >= MERGE_AT)
        .map(|(t, _)| *t)?;
    let mut chosen: Vec<String> = files
        .iter()
        .filter(|(_, entries)| tier(*entries) <= full)
        .map(|(key, _)| key.clone())
        .collect();
    chosen.sort();
    Some(chosen)
}

/// What a consolidation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Consolidated {
    /// Index files merged (and deleted).
    pub merged: u64,
    /// Index files written.
    pub written: u64,
}

impl BlobStore {
    /// Merges index files while a size tier is full (see [`plan`]). The caller holds a
    /// snapshot lock (no garbage collection deletes files meanwhile). A damaged input stops
    /// the merge before anything is deleted (an integrity error naming it: `verify` and
    /// `repair index` deal with it).
    pub(crate) fn consolidate(&self) -> Result<Consolidated> {
        self.reload()?;
        self.open_listed_files()?;
        let mut done = Consolidated::default();
        loop {
            let sizes = self.index_file_sizes()?;
            let Some(inputs) = plan(&sizes) else {
                return Ok(done);
            };
            let key = merge_files(self.backend.as_ref(), &inputs)?;
            for input in inputs.iter().filter(|k| **k != key) {
                self.backend.delete(input)?;
            }
            done.merged += inputs.len() as u64;
            done.written += 1;
            self.replace_files(&inputs, &key)?;
        }
    }

    /// Merges every index file into one sorted file (`mtm upgrade`, `mtm maintenance`):
    /// version 1 and 2 files included. Nothing to do with one current file or none.
    pub(crate) fn consolidate_all(&self) -> Result<Consolidated> {
        let keys = self.backend.list("index/")?;
        let current = keys.len() <= 1
            && keys.iter().all(|k| {
                matches!(
                    SortedFile::open(self.backend.as_ref(), k),
                    Ok(Opened::Sorted(file)) if file.is_current()
                )
            });
        if keys.is_empty() || current {
            return Ok(Consolidated::default());
        }
        let key = merge_files(self.backend.as_ref(), &keys)?;
        for input in keys.iter().filter(|k| **k != key) {
            self.backend.delete(input)?;
        }
        self.reload_all()?;
        Ok(Consolidated {
            merged: keys.len() as u64,
            written: 1,
        })
    }

    /// Every sorted index file this handle knows and its entry count: the ones it probes,
    /// and the ones it wrote itself (whose entries it holds in memory).
    fn index_file_sizes(&self) -> Result<Vec<(String, u64)>> {
        let (lazy, own) = {
            let state = self.index.read().unwrap_or_else(PoisonError::into_inner);
            (state.lazy_files(), state.own_files())
        };
        let mut sizes: Vec<(String, u64)> = lazy
            .iter()
            .map(|f| (f.key.clone(), u64::from(f.entries())))
            .collect();
        for key in own {
            if let Opened::Sorted(file) = SortedFile::open(self.backend.as_ref(), &key)? {
                sizes.push((key, u64::from(file.entries())));
            }
        }
        Ok(sizes)
    }

    /// After a merge: the inputs are gone, the merged file is listed.
    fn replace_files(&self, inputs: &[String], merged: &str) -> Result<()> {
        let opened = match SortedFile::open(self.backend.as_ref(), merged)? {
            Opened::Sorted(file) => Arc::new(file),
            Opened::Unsorted => return Err(Error::integrity(merged, "merged file is unsorted")),
        };
        self.index
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .replace_lazy(inputs, merged, opened);
        Ok(())
    }
}

/// One input of a merge, read in order: a sorted file in pieces, or a version 1 file read
/// whole and sorted in memory. Every byte read is hashed, and the hash checked against the
/// file's name at the end.
struct Cursor {
    key: String,
    packs: Vec<IndexedPack>,
    source: Source,
    hasher: blake3::Hasher,
}

enum Source {
    Sorted {
        next: u64,
        entries: u64,
        entries_at: u64,
        /// The bytes after the entries (the filter): hashed at the end, not parsed (the
        /// merged file has a filter of its own).
        trailer: (u64, u64),
        buffer: std::collections::VecDeque<(u32, PackRecord)>,
    },
    Memory(std::vec::IntoIter<(u32, PackRecord)>),
}

impl Cursor {
    fn open(backend: &dyn Backend, key: &str) -> Result<Self> {
        match SortedFile::open(backend, key)? {
            Opened::Unsorted => {
                let data = backend.read(key)?;
                let file = format::decode_index(&data, key)?;
                let mut entries = file.entries;
                entries.sort_by_key(|(_, r)| r.id);
                entries.dedup_by_key(|(_, r)| r.id);
                Ok(Self {
                    key: key.to_owned(),
                    packs: file.packs,
                    source: Source::Memory(entries.into_iter()),
                    hasher: {
                        let mut h = blake3::Hasher::new();
                        h.update(&data);
                        h
                    },
                })
            }
            Opened::Sorted(file) => {
                // The header, pack list and fanout, read whole (hashed; the fanout is not
                // needed to stream the entries).
                let head = backend.read_range(key, 0, file.entries_at())?;
                let mut hasher = blake3::Hasher::new();
                hasher.update(&head);
                let at = file.packs_at() as usize;
                let packs = (0..file.pack_count() as usize)
                    .map(|i| format::pack_from(&head[at + 64 * i..at + 64 * (i + 1)]))
                    .collect();
                Ok(Self {
                    key: key.to_owned(),
                    packs,
                    source: Source::Sorted {
                        next: 0,
                        entries: u64::from(file.entries()),
                        entries_at: file.entries_at(),
                        trailer: file.trailer(),
                        buffer: Default::default(),
                    },
                    hasher,
                })
            }
        }
    }

    fn next(&mut self, backend: &dyn Backend) -> Result<Option<(IndexedPack, PackRecord)>> {
        let entry = match &mut self.source {
            Source::Memory(entries) => entries.next(),
            Source::Sorted {
                next,
                entries,
                entries_at,
                buffer,
                ..
            } => {
                if buffer.is_empty() && *next < *entries {
                    let count = CHUNK_ENTRIES.min(*entries - *next);
                    let len = INDEX_ENTRY_LEN as u64;
                    let bytes =
                        backend.read_range(&self.key, *entries_at + *next * len, count * len)?;
                    self.hasher.update(&bytes);
                    for chunk in bytes.chunks_exact(INDEX_ENTRY_LEN) {
                        let entry = format::entry_from(chunk, self.packs.len(), &self.key)?;
                        if let Some((_, last)) = buffer.back()
                            && last.id >= entry.1.id
                        {
                            return Err(Error::integrity(&self.key, "entries are not sorted"));
                        }
                        buffer.push_back(entry);
                    }
                    *next += count;
                }
                buffer.pop_front()
            }
        };
        Ok(entry.map(|(pack, record)| (self.packs[pack as usize], record)))
    }

    /// Checks that what was read is the file its name promises (reading the bytes after
    /// the entries first).
    fn finish(mut self, backend: &dyn Backend) -> Result<()> {
        if let Source::Sorted {
            trailer: (at, len), ..
        } = self.source
            && len > 0
        {
            self.hasher.update(&backend.read_range(&self.key, at, len)?);
        }
        let name = self.key.rsplit('/').next().unwrap_or_default();
        if self.hasher.finalize().to_hex().as_str() != name {
            return Err(Error::integrity(
                &self.key,
                "index file does not match its hash",
            ));
        }
        Ok(())
    }
}

/// Merges `inputs` into one sorted index file and returns its key. Two passes over the
/// inputs, each streamed: the first counts the distinct blobs, their packs and the fanout
/// (and checks every input's hash), the second writes the file. Memory: one piece of each
/// input, the pack list and the fanout table.
fn merge_files(backend: &dyn Backend, inputs: &[String]) -> Result<String> {
    // Pass 1: what the merged file holds.
    let mut packs: Vec<IndexedPack> = Vec::new();
    let mut numbers: HashMap<BlobId, u32> = HashMap::new();
    let mut entries = 0u64;
    // Counted at the widest fanout; the file's own width is known only at the end.
    let mut widest = vec![0u32; 1usize << sorted::MAX_BITS];
    merge_pass(backend, inputs, &mut |pack, record| {
        numbers.entry(pack.id).or_insert_with(|| {
            packs.push(pack);
            packs.len() as u32 - 1
        });
        entries += 1;
        widest[sorted::bucket(&record.id, sorted::MAX_BITS)] += 1;
        Ok(())
    })?;
    let header = sorted::Header::current(packs.len(), entries)?;
    let bits = header.bits();
    let mut fanout = vec![0u32; (1usize << bits) + 1];
    for (k, count) in widest.iter().enumerate() {
        fanout[(k >> (sorted::MAX_BITS - bits)) + 1] += count;
    }
    for k in 1..fanout.len() {
        fanout[k] += fanout[k - 1];
    }

    // Pass 2: the file, streamed to storage and named by its hash.
    let mut out = backend.stage_new()?;
    let mut hasher = blake3::Hasher::new();
    let mut head = Vec::with_capacity(24 + 64 * packs.len() + 4 * fanout.len());
    header.put(&mut head);
    for p in &packs {
        head.extend_from_slice(p.id.as_bytes());
        head.extend_from_slice(&p.dictionary.map_or([0; 32], |d| *d.as_bytes()));
    }
    for count in &fanout {
        head.extend_from_slice(&count.to_le_bytes());
    }
    let io = |e: std::io::Error| Error::storage("index", e);
    out.write_all(&head).map_err(io)?;
    hasher.update(&head);
    let mut piece = Vec::with_capacity(CHUNK_ENTRIES as usize * INDEX_ENTRY_LEN);
    let mut written = 0u64;
    let mut membership = Filter::with_blocks(header.filter_blocks());
    merge_pass(backend, inputs, &mut |pack, record| {
        format::put_entry(&mut piece, numbers[&pack.id], &record);
        membership.insert(&record.id);
        written += 1;
        if piece.len() >= CHUNK_ENTRIES as usize * INDEX_ENTRY_LEN {
            out.write_all(&piece).map_err(io)?;
            hasher.update(&piece);
            piece.clear();
        }
        Ok(())
    })?;
    membership.put(&mut piece);
    out.write_all(&piece).map_err(io)?;
    hasher.update(&piece);
    if written != entries {
        return Err(Error::integrity(
            "index",
            "index files changed while they were merged",
        ));
    }
    let key = format!("index/{}", hasher.finalize().to_hex());
    match out.publish(&key) {
        Ok(()) => Ok(key),
        // The same merge made by another writer: the same bytes.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(key),
        Err(e) => Err(e),
    }
}

/// Streams the union of `inputs` in blob id order, each id once (from the first input that
/// lists it), to `each`; checks every input's hash at its end.
fn merge_pass(
    backend: &dyn Backend,
    inputs: &[String],
    each: &mut dyn FnMut(IndexedPack, PackRecord) -> Result<()>,
) -> Result<()> {
    let mut cursors = inputs
        .iter()
        .map(|key| Cursor::open(backend, key))
        .collect::<Result<Vec<_>>>()?;
    let mut heads: BinaryHeap<Reverse<(BlobId, usize)>> = BinaryHeap::new();
    let mut current: Vec<Option<(IndexedPack, PackRecord)>> = Vec::with_capacity(cursors.len());
    for (i, cursor) in cursors.iter_mut().enumerate() {
        let head = cursor.next(backend)?;
        if let Some((_, r)) = &head {
            heads.push(Reverse((r.id, i)));
        }
        current.push(head);
    }
    let mut last: Option<BlobId> = None;
    while let Some(Reverse((id, i))) = heads.pop() {
        let Some((pack, record)) = current[i].take() else {
            continue;
        };
        if last != Some(id) {
            each(pack, record)?;
            last = Some(id);
        }
        let next = cursors[i].next(backend)?;
        if let Some((_, r)) = &next {
            heads.push(Reverse((r.id, i)));
        }
        current[i] = next;
    }
    for cursor in cursors {
        cursor.finish(backend)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;
    use crate::store::Kind;

    #[test]
    fn a_tier_is_merged_once_it_holds_four_files_with_every_smaller_file() {
        let files = |sizes: &[u64]| -> Vec<(String, u64)> {
            sizes
                .iter()
                .enumerate()
                .map(|(i, n)| (format!("index/{i:02}"), *n))
                .collect()
        };
        assert_eq!(plan(&files(&[])), None);
        assert_eq!(plan(&files(&[100, 100, 100])), None);
        assert_eq!(
            plan(&files(&[100, 100, 100, 120])).map(|v| v.len()),
            Some(4)
        );
        // A big file is left alone while small ones merge; a tiny one joins them.
        let merged = plan(&files(&[1_000_000, 100, 100, 100, 100, 2])).unwrap();
        assert_eq!(merged.len(), 5);
        assert!(!merged.contains(&"index/00".to_string()));
        // Files of different tiers do not merge.
        assert_eq!(plan(&files(&[5, 50, 500, 5000, 50_000])), None);
    }

    #[test]
    fn merged_files_list_every_blob_once_and_the_inputs_are_gone() {
        let backend = Arc::new(MemoryBackend::new());
        let store = Arc::new(BlobStore::open(backend.clone()).unwrap());
        let mut ids = Vec::new();
        for i in 0..4u32 {
            let mut w = store.writer(None);
            for j in 0..50u32 {
                ids.push(w.add(Kind::Part, &(i * 1000 + j).to_le_bytes()).unwrap());
            }
            // One blob in two files: listed once after the merge.
            w.add(Kind::Part, b"shared").unwrap();
            w.finish().unwrap();
            store.forget_own_writes();
        }
        assert_eq!(backend.list("index/").unwrap().len(), 4);
        let done = store.consolidate().unwrap();
        assert_eq!((done.merged, done.written), (4, 1));
        let keys = backend.list("index/").unwrap();
        assert_eq!(keys.len(), 1);
        let merged = format::decode_index(&backend.read(&keys[0]).unwrap(), "m").unwrap();
        assert_eq!(merged.entries.len(), 201);
        let fresh = BlobStore::open(backend.clone()).unwrap();
        for id in &ids {
            assert!(fresh.contains(id));
        }
        assert!(
            store.contains(&ids[7]),
            "the merging handle still finds its blobs"
        );
        assert_eq!(store.consolidate().unwrap(), Consolidated::default());
    }

    #[test]
    fn the_index_files_a_handle_wrote_itself_are_merged_too() {
        let backend = Arc::new(MemoryBackend::new());
        let store = Arc::new(BlobStore::open(backend.clone()).unwrap());
        let mut ids = Vec::new();
        for i in 0..6u32 {
            let mut w = store.writer(None);
            ids.push(w.add(Kind::Part, &i.to_le_bytes()).unwrap());
            w.finish().unwrap();
        }
        assert_eq!(store.consolidate().unwrap().merged, 6);
        assert_eq!(backend.list("index/").unwrap().len(), 1);
        let fresh = BlobStore::open(backend).unwrap();
        assert!(ids.iter().all(|id| fresh.contains(id)));
    }

    #[test]
    fn a_reader_whose_files_were_merged_away_lists_the_index_again() {
        let backend = Arc::new(MemoryBackend::new());
        let writer = Arc::new(BlobStore::open(backend.clone()).unwrap());
        let mut ids = Vec::new();
        for i in 0..4u32 {
            let mut w = writer.writer(None);
            ids.push(w.add(Kind::Part, &i.to_le_bytes()).unwrap());
            w.finish().unwrap();
        }
        let reader = BlobStore::open(backend.clone()).unwrap();
        assert!(reader.contains(&ids[0]), "every file opened by the reader");
        assert_eq!(writer.consolidate().unwrap().merged, 4);
        for id in &ids {
            assert_eq!(
                reader.read(id, &|| "t".into()).unwrap().len(),
                4,
                "found in the merged file"
            );
        }
    }

    #[test]
    fn a_damaged_input_stops_the_merge_before_anything_is_deleted() {
        let backend = Arc::new(MemoryBackend::new());
        let store = Arc::new(BlobStore::open(backend.clone()).unwrap());
        for i in 0..4u32 {
            let mut w = store.writer(None);
            w.add(Kind::Part, &i.to_le_bytes()).unwrap();
            w.finish().unwrap();
        }
        let victim = backend.list("index/").unwrap()[2].clone();
        let mut data = backend.read(&victim).unwrap();
        let last = data.len() - 1;
        data[last] ^= 1;
        backend.delete(&victim).unwrap();
        backend.write_new(&victim, &data).unwrap();
        let fresh = BlobStore::open(backend.clone()).unwrap();
        let err = fresh.consolidate().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert!(err.to_string().contains(&victim), "{err}");
        assert_eq!(backend.list("index/").unwrap().len(), 4);
    }

    #[test]
    fn version_1_files_are_merged_into_one_sorted_file() {
        let backend = Arc::new(MemoryBackend::new());
        let mut ids = Vec::new();
        for i in 0..3u8 {
            let pack = IndexedPack {
                id: BlobId::of(&[i]),
                dictionary: None,
            };
            let record = PackRecord {
                id: BlobId::of(&[i, i]),
                kind: Kind::Part,
                codec: super::super::codec::Codec::Raw,
                offset: 8,
                stored_len: 2,
                raw_len: 2,
            };
            ids.push(record.id);
            let data = format::encode_index_v1(&format::IndexFile {
                packs: vec![pack],
                entries: vec![(0, record)],
            })
            .unwrap();
            backend
                .write_new(&format!("index/{}", BlobId::of(&data).to_hex()), &data)
                .unwrap();
        }
        let store = BlobStore::open(backend.clone()).unwrap();
        assert_eq!(store.consolidate_all().unwrap().merged, 3);
        let keys = backend.list("index/").unwrap();
        assert_eq!(keys.len(), 1);
        assert!(sorted::is_sorted(&backend.read(&keys[0]).unwrap()));
        let fresh = BlobStore::open(backend).unwrap();
        assert!(ids.iter().all(|id| fresh.contains(id)));
    }
}
