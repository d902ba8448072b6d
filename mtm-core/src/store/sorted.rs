//! Sorted index files: the entries sorted by blob id behind a fanout table, so that a reader
//! finds one blob with two small range reads instead of loading the file, and (version 3,
//! `MTMIDX03`) a membership filter after them, so that a writer learns that a new blob is in
//! none of the files without reading any of them.
//!
//! ```text
//!  8          magic "MTMIDX03" ("MTMIDX02": no filter, no f below)
//!  1          b, fanout bits (0 to 16)      3  zero
//!  4          p, number of packs            4  e, number of entries
//!  4          f, filter blocks (version 3 only: ⌈10 e / 512⌉)
//!  64 × p     packs: 32 pack id, 32 dictionary id (all zero if none)
//!  4 × (2^b + 1)  fanout: entry k is the number of entries whose id's first b bits are
//!                 below k (so the last is e)
//!  52 × e     entries as in version 1, sorted by blob id, each id at most once
//!  64 × f     the filter of the entries' ids (version 3 only; see `filter`)
//! ```
//!
//! The file is named by its BLAKE3 like every index file. A reader that range-reads it
//! cannot check that hash; a damaged entry then points at wrong bytes, which fail the blob's
//! own hash check (an integrity error naming the message), a damaged filter hides blobs
//! (stored again by a writer, read as missing by a reader), and `verify` reads the whole file.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use super::filter::{self, Filter};
use super::format::{INDEX_ENTRY_LEN, IndexFile, IndexedPack, PackRecord};
use super::lock;
use crate::backend::{Backend, OpenFile};
use crate::error::{Error, ErrorKind, Result};
use crate::id::BlobId;

/// The sorted files this version writes: with a filter.
pub(crate) const SORTED_MAGIC: &[u8; 8] = b"MTMIDX03";
/// Sorted files without a filter, written before version 3; still read and probed.
pub(crate) const SORTED_V2_MAGIC: &[u8; 8] = b"MTMIDX02";
const V2_HEADER_LEN: u64 = 20;
/// The longest header, read first when a file is opened.
const HEADER_LEN: u64 = 24;
/// Probes of one file made without its filter before the filter is read: a reader that
/// looks up a few blobs (a fresh-process `cat`) never pays for reading filters.
const PROBES_BEFORE_FILTER: u32 = 16;
const PACK_LEN: u64 = 64;
/// The widest fanout: 65,537 counters (256 KiB), for files of millions of entries.
pub(crate) const MAX_BITS: u8 = 16;
/// Entries per fanout bucket a writer aims at: one bucket is read per lookup.
const BUCKET_TARGET: usize = 8;

/// The fanout width for `entries` entries: buckets of about [`BUCKET_TARGET`] entries.
pub(crate) fn fanout_bits(entries: usize) -> u8 {
    let mut bits = 0u8;
    while bits < MAX_BITS && (entries >> bits) > BUCKET_TARGET {
        bits += 1;
    }
    bits
}

/// The fanout bucket of an id: its first `bits` bits.
pub(crate) fn bucket(id: &BlobId, bits: u8) -> usize {
    if bits == 0 {
        return 0;
    }
    let b = id.as_bytes();
    let top = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (top >> (32 - u32::from(bits))) as usize
}

/// Encodes `index` as a sorted index file: entries sorted by id, a blob listed twice kept
/// once (the first), packs no entry names left out.
pub(crate) fn encode_sorted(index: &IndexFile) -> Result<Vec<u8>> {
    let too_many = || Error::invalid("index", "too many entries in one index file");
    let mut entries: Vec<&(u32, PackRecord)> = index.entries.iter().collect();
    // Stable: of two entries for one id, the first given stays first and is kept.
    entries.sort_by_key(|(_, r)| r.id);
    entries.dedup_by_key(|(_, r)| r.id);
    let mut renumber: Vec<Option<u32>> = vec![None; index.packs.len()];
    let mut packs: Vec<IndexedPack> = Vec::new();
    for (pack, _) in &entries {
        let slot = renumber
            .get_mut(*pack as usize)
            .ok_or_else(|| Error::invalid("index", "entry names a pack that is not listed"))?;
        if slot.is_none() {
            *slot = Some(u32::try_from(packs.len()).map_err(|_| too_many())?);
            packs.push(index.packs[*pack as usize]);
        }
    }
    let header = Header::current(packs.len(), entries.len() as u64)?;
    let bits = header.bits;
    let buckets = 1usize << bits;
    let mut out = Vec::with_capacity(usize::try_from(header.file_len()).unwrap_or_default());
    header.put(&mut out);
    for p in &packs {
        out.extend_from_slice(p.id.as_bytes());
        out.extend_from_slice(&p.dictionary.map_or([0; 32], |d| *d.as_bytes()));
    }
    let mut below = 0usize;
    for k in 0..=buckets {
        while below < entries.len() && bucket(&entries[below].1.id, bits) < k {
            below += 1;
        }
        out.extend_from_slice(&(below as u32).to_le_bytes());
    }
    let mut membership = Filter::with_blocks(header.filter_blocks);
    for (pack, r) in entries {
        let pack = renumber[*pack as usize].unwrap_or_default();
        super::format::put_entry(&mut out, pack, r);
        membership.insert(&r.id);
    }
    membership.put(&mut out);
    Ok(out)
}

/// The fixed header of a sorted index file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// 2 (no filter) or 3.
    version: u8,
    bits: u8,
    packs: u32,
    entries: u32,
    filter_blocks: u32,
}

impl Header {
    /// The header of a file of the current version (3) listing `packs` packs and
    /// `entries` entries: the fanout and filter sized for them.
    pub(crate) fn current(packs: usize, entries: u64) -> Result<Self> {
        let too_many = || Error::invalid("index", "too many entries in one index file");
        Ok(Self {
            version: 3,
            bits: fanout_bits(usize::try_from(entries).map_err(|_| too_many())?),
            packs: u32::try_from(packs).map_err(|_| too_many())?,
            entries: u32::try_from(entries).map_err(|_| too_many())?,
            filter_blocks: filter::blocks_for(entries),
        })
    }

    fn parse(data: &[u8], what: &str) -> Result<Self> {
        let damaged = |why: &str| Error::integrity(what, why.to_owned());
        let version = if data.starts_with(SORTED_MAGIC) {
            3
        } else if data.starts_with(SORTED_V2_MAGIC) {
            2
        } else {
            return Err(damaged("not a sorted index file (bad magic)"));
        };
        if (data.len() as u64) < header_len(version) {
            return Err(damaged("not a sorted index file (too short)"));
        }
        let bits = data[8];
        if bits > MAX_BITS || data[9..12] != [0, 0, 0] {
            return Err(damaged("bad fanout width"));
        }
        let u32_at =
            |at: usize| u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        let header = Self {
            version,
            bits,
            packs: u32_at(12),
            entries: u32_at(16),
            filter_blocks: if version == 3 { u32_at(20) } else { 0 },
        };
        if version == 3 && header.filter_blocks != filter::blocks_for(u64::from(header.entries)) {
            return Err(damaged("filter size does not match the entry count"));
        }
        Ok(header)
    }

    /// Appends the header's bytes (a version 3 header).
    pub(crate) fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(SORTED_MAGIC);
        out.extend_from_slice(&[self.bits, 0, 0, 0]);
        out.extend_from_slice(&self.packs.to_le_bytes());
        out.extend_from_slice(&self.entries.to_le_bytes());
        out.extend_from_slice(&self.filter_blocks.to_le_bytes());
    }

    /// The fanout width.
    pub(crate) fn bits(&self) -> u8 {
        self.bits
    }

    /// The filter's blocks.
    pub(crate) fn filter_blocks(&self) -> u32 {
        self.filter_blocks
    }

    fn packs_at(&self) -> u64 {
        header_len(self.version)
    }

    fn fanout_at(&self) -> u64 {
        self.packs_at() + PACK_LEN * u64::from(self.packs)
    }

    fn entries_at(&self) -> u64 {
        self.fanout_at() + 4 * ((1u64 << self.bits) + 1)
    }

    fn filter_at(&self) -> u64 {
        self.entries_at() + INDEX_ENTRY_LEN as u64 * u64::from(self.entries)
    }

    fn file_len(&self) -> u64 {
        self.filter_at() + filter::BLOCK_LEN as u64 * u64::from(self.filter_blocks)
    }
}

/// The length of the fixed header of a sorted file of `version` (2 or 3).
fn header_len(version: u8) -> u64 {
    if version == 3 {
        HEADER_LEN
    } else {
        V2_HEADER_LEN
    }
}

/// Decodes a whole sorted index file, checking its layout: the sizes add up, the fanout
/// agrees with the entries, the entries are sorted and name listed packs.
pub(crate) fn decode_sorted(data: &[u8], what: &str) -> Result<IndexFile> {
    let header = Header::parse(data, what)?;
    if header.file_len() != data.len() as u64 {
        return Err(Error::integrity(
            what,
            "entry count does not match the file size",
        ));
    }
    let mut packs = Vec::with_capacity(header.packs as usize);
    for i in 0..header.packs as usize {
        let at = header.packs_at() as usize + i * 64;
        packs.push(super::format::pack_from(&data[at..at + 64]));
    }
    let fanout_at = header.fanout_at() as usize;
    let entries_at = header.entries_at() as usize;
    let mut entries: Vec<(u32, PackRecord)> = Vec::with_capacity(header.entries as usize);
    for i in 0..header.entries as usize {
        let at = entries_at + i * INDEX_ENTRY_LEN;
        let (pack, record) =
            super::format::entry_from(&data[at..at + INDEX_ENTRY_LEN], packs.len(), what)?;
        if let Some((_, last)) = entries.last()
            && last.id >= record.id
        {
            return Err(Error::integrity(what, "entries are not sorted"));
        }
        entries.push((pack, record));
    }
    let count_at = |k: usize| {
        let at = fanout_at + 4 * k;
        u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize
    };
    let mut below = 0usize;
    for k in 0..=(1usize << header.bits) {
        while below < entries.len() && bucket(&entries[below].1.id, header.bits) < k {
            below += 1;
        }
        if count_at(k) != below {
            return Err(Error::integrity(
                what,
                "fanout table does not match the entries",
            ));
        }
    }
    if header.filter_blocks > 0 {
        let mut expected = Filter::with_blocks(header.filter_blocks);
        for (_, record) in &entries {
            expected.insert(&record.id);
        }
        if Filter::from_bytes(&data[header.filter_at() as usize..]) != Some(expected) {
            return Err(Error::integrity(what, "filter does not match the entries"));
        }
    }
    Ok(IndexFile { packs, entries })
}

/// A sorted index file on storage, probed blob by blob with range reads: only its header
/// (and the packs its hits name) are kept in memory.
#[derive(Debug)]
pub(crate) struct SortedFile {
    pub(super) key: String,
    header: Header,
    packs: Mutex<HashMap<u32, IndexedPack>>,
    /// The file kept open, where the backend can ([`Backend::keep_open`]).
    open: Option<Box<dyn OpenFile>>,
    /// Probes made so far without the filter.
    probes: AtomicU32,
    /// The filter, once [`PROBES_BEFORE_FILTER`] probes have been made (version 3).
    filter: OnceLock<Filter>,
}

/// What [`SortedFile::open`] found.
#[derive(Debug)]
pub(crate) enum Opened {
    /// A sorted file, ready to probe.
    Sorted(SortedFile),
    /// A version 1 file (`MTMIDX01`), which must be read whole.
    Unsorted,
}

impl SortedFile {
    /// Reads the header of the index file `key` and checks the file's size against it.
    pub(crate) fn open(backend: &dyn Backend, key: &str) -> Result<Opened> {
        let open = backend.keep_open(key)?;
        let size = match &open {
            Some(file) => file.size(),
            None => backend.size(key)?,
        };
        let head = read_part(backend, open.as_deref(), key, 0, HEADER_LEN.min(size))?;
        if head.starts_with(super::format::INDEX_MAGIC) {
            return Ok(Opened::Unsorted);
        }
        let header = Header::parse(&head, key)?;
        if size != header.file_len() {
            return Err(Error::integrity(
                key,
                "entry count does not match the file size",
            ));
        }
        Ok(Opened::Sorted(Self {
            key: key.to_owned(),
            header,
            packs: Mutex::new(HashMap::new()),
            open,
            probes: AtomicU32::new(0),
            filter: OnceLock::new(),
        }))
    }

    /// How many blobs the file lists.
    pub(crate) fn entries(&self) -> u32 {
        self.header.entries
    }

    /// How many packs the file's pack list holds.
    pub(crate) fn pack_count(&self) -> u32 {
        self.header.packs
    }

    /// Where the entries start: the header, pack list and fanout come before.
    pub(crate) fn entries_at(&self) -> u64 {
        self.header.entries_at()
    }

    /// Where the pack list starts (after the header).
    pub(crate) fn packs_at(&self) -> u64 {
        self.header.packs_at()
    }

    /// What follows the entries: the filter's offset and length (none in version 2).
    pub(crate) fn trailer(&self) -> (u64, u64) {
        let at = self.header.filter_at();
        (at, self.header.file_len() - at)
    }

    /// Whether the file is of the version this library writes (with a filter).
    pub(crate) fn is_current(&self) -> bool {
        self.header.version == 3
    }

    /// Where the file says `id` is, if it lists it: two range reads (the bucket's bounds,
    /// then its entries) and, the first time a pack is named, a third for the pack.
    pub(crate) fn find(
        &self,
        backend: &dyn Backend,
        id: &BlobId,
    ) -> Result<Option<(IndexedPack, PackRecord)>> {
        if let Some(filter) = self.filter(backend)?
            && !filter.may_contain(id)
        {
            return Ok(None);
        }
        let k = bucket(id, self.header.bits) as u64;
        let bounds = self.read(backend, self.header.fanout_at() + 4 * k, 8)?;
        let lo = u64::from(u32::from_le_bytes([
            bounds[0], bounds[1], bounds[2], bounds[3],
        ]));
        let hi = u64::from(u32::from_le_bytes([
            bounds[4], bounds[5], bounds[6], bounds[7],
        ]));
        if lo > hi || hi > u64::from(self.header.entries) {
            return Err(Error::integrity(&self.key, "fanout table out of order"));
        }
        if lo == hi {
            return Ok(None);
        }
        let len = INDEX_ENTRY_LEN as u64;
        let bucket = self.read(
            backend,
            self.header.entries_at() + lo * len,
            (hi - lo) * len,
        )?;
        let found = bucket
            .chunks_exact(INDEX_ENTRY_LEN)
            .collect::<Vec<_>>()
            .binary_search_by(|entry| entry[..32].cmp(id.as_bytes().as_slice()));
        let Ok(at) = found else {
            return Ok(None);
        };
        let entry = &bucket[at * INDEX_ENTRY_LEN..(at + 1) * INDEX_ENTRY_LEN];
        let (pack_no, record) =
            super::format::entry_from(entry, self.header.packs as usize, &self.key)?;
        Ok(Some((self.pack(backend, pack_no)?, record)))
    }

    /// The file's filter, read once this handle has probed the file often enough that
    /// reading it costs less than the probes it saves. None before that, and in files
    /// without one.
    fn filter(&self, backend: &dyn Backend) -> Result<Option<&Filter>> {
        if let Some(filter) = self.filter.get() {
            return Ok(Some(filter));
        }
        if self.header.filter_blocks == 0
            || self.probes.fetch_add(1, Ordering::Relaxed) < PROBES_BEFORE_FILTER
        {
            return Ok(None);
        }
        let (at, len) = self.trailer();
        let bytes = self.read(backend, at, len)?;
        let filter = Filter::from_bytes(&bytes)
            .ok_or_else(|| Error::integrity(&self.key, "filter cut short"))?;
        Ok(Some(self.filter.get_or_init(|| filter)))
    }

    fn pack(&self, backend: &dyn Backend, number: u32) -> Result<IndexedPack> {
        if let Some(pack) = lock(&self.packs).get(&number) {
            return Ok(*pack);
        }
        let bytes = self.read(
            backend,
            self.header.packs_at() + PACK_LEN * u64::from(number),
            PACK_LEN,
        )?;
        let pack = super::format::pack_from(&bytes);
        lock(&self.packs).insert(number, pack);
        Ok(pack)
    }
}

impl SortedFile {
    fn read(&self, backend: &dyn Backend, offset: u64, len: u64) -> Result<Vec<u8>> {
        read_part(backend, self.open.as_deref(), &self.key, offset, len)
    }
}

/// A range of an index file, through the open file if there is one. A file shorter than
/// its header promises is damage (an integrity error); a file gone (a consolidation
/// replaced it) is `NotFound`.
fn read_part(
    backend: &dyn Backend,
    open: Option<&dyn OpenFile>,
    key: &str,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>> {
    let read = match open {
        Some(file) => file.read_at(offset, len),
        None => backend.read_range(key, offset, len),
    };
    read.map_err(|e| match e.kind() {
        ErrorKind::NotFound => e,
        ErrorKind::Integrity | ErrorKind::InvalidInput => {
            Error::integrity(key, format!("index file truncated: {e}"))
        }
        _ => e,
    })
}

/// Whether `data` starts like a sorted index file (of either version).
pub(crate) fn is_sorted(data: &[u8]) -> bool {
    data.starts_with(SORTED_MAGIC) || data.starts_with(SORTED_V2_MAGIC)
}

/// A version 3 file as version 2 wrote it: the filter left out (for the tests of readers
/// and upgrades of repositories written before filters).
#[cfg(test)]
pub(crate) fn without_filter(data: &[u8]) -> Vec<u8> {
    let header = Header::parse(data, "index").expect("a sorted file");
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(SORTED_V2_MAGIC);
    out.extend_from_slice(&data[8..V2_HEADER_LEN as usize]);
    out.extend_from_slice(&data[HEADER_LEN as usize..header.filter_at() as usize]);
    out
}

#[cfg(test)]
mod tests {
    use super::super::codec::Codec;
    use super::super::format::BlobKind;
    use super::*;
    use crate::backend::MemoryBackend;

    fn record(i: u32) -> PackRecord {
        PackRecord {
            id: BlobId::of(&i.to_le_bytes()),
            kind: BlobKind::Part,
            codec: Codec::Zstd,
            offset: 8 + i,
            stored_len: 3,
            raw_len: 10 + i,
        }
    }

    fn index(n: u32) -> IndexFile {
        let packs = (0..3u8)
            .map(|p| IndexedPack {
                id: BlobId::of(&[p]),
                dictionary: (p == 1).then(|| BlobId::of(b"dict")),
            })
            .collect();
        IndexFile {
            packs,
            entries: (0..n).map(|i| (i % 3, record(i))).collect(),
        }
    }

    #[test]
    fn every_entry_is_found_by_range_reads_and_absent_ids_are_not() {
        for n in [0u32, 1, 7, 9, 100, 5000] {
            let backend = MemoryBackend::new();
            let index = index(n);
            let data = encode_sorted(&index).unwrap();
            backend.write_new("index/x", &data).unwrap();
            let Opened::Sorted(file) = SortedFile::open(&backend, "index/x").unwrap() else {
                panic!("a sorted file")
            };
            assert_eq!(file.entries(), n);
            for (pack, r) in &index.entries {
                let (found_pack, found) = file.find(&backend, &r.id).unwrap().unwrap();
                assert_eq!(found, *r);
                assert_eq!(found_pack, index.packs[*pack as usize]);
            }
            for i in n..n + 50 {
                assert!(file.find(&backend, &record(i).id).unwrap().is_none());
            }
            let decoded = decode_sorted(&data, "i").unwrap();
            assert_eq!(decoded.entries.len(), n as usize);
        }
    }

    #[test]
    fn files_without_a_filter_still_decode_and_are_probed() {
        let index = index(500);
        let old = without_filter(&encode_sorted(&index).unwrap());
        assert!(old.starts_with(SORTED_V2_MAGIC) && is_sorted(&old));
        assert_eq!(decode_sorted(&old, "i").unwrap().entries.len(), 500);
        let backend = MemoryBackend::new();
        backend.write_new("index/old", &old).unwrap();
        let Opened::Sorted(file) = SortedFile::open(&backend, "index/old").unwrap() else {
            panic!("a sorted file")
        };
        assert!(!file.is_current());
        assert_eq!(file.trailer().1, 0);
        for (_, r) in &index.entries {
            assert_eq!(file.find(&backend, &r.id).unwrap().unwrap().1, *r);
        }
        assert!(file.find(&backend, &record(9999).id).unwrap().is_none());
    }

    #[test]
    fn a_damaged_filter_is_found_when_the_file_is_read_whole() {
        let data = encode_sorted(&index(500)).unwrap();
        let h = Header::parse(&data, "i").unwrap();
        assert_eq!(h.filter_blocks, filter::blocks_for(500));
        let mut damaged = data.clone();
        damaged[h.filter_at() as usize + 3] ^= 0x10;
        let err = decode_sorted(&damaged, "i").unwrap_err();
        assert!(err.to_string().contains("filter"), "{err}");
        // A header whose filter size disagrees with its entries is refused on opening.
        let mut resized = data;
        resized[20] ^= 1;
        assert!(Header::parse(&resized, "i").is_err());
    }

    #[test]
    fn a_fanout_keeps_buckets_small() {
        assert_eq!(fanout_bits(0), 0);
        assert_eq!(fanout_bits(8), 0);
        assert_eq!(fanout_bits(9), 1);
        assert_eq!(fanout_bits(1 << 30), MAX_BITS);
        let data = encode_sorted(&index(5000)).unwrap();
        assert_eq!(Header::parse(&data, "i").unwrap().bits, 10);
    }

    #[test]
    fn duplicates_are_kept_once_and_unused_packs_dropped() {
        let mut index = index(4);
        index.entries.push((2, record(1)));
        index.packs.push(IndexedPack {
            id: BlobId::of(b"unused"),
            dictionary: None,
        });
        let decoded = decode_sorted(&encode_sorted(&index).unwrap(), "i").unwrap();
        assert_eq!(decoded.entries.len(), 4);
        assert_eq!(decoded.packs.len(), 3);
    }

    #[test]
    fn damage_is_refused_when_decoding_and_never_panics() {
        let data = encode_sorted(&index(40)).unwrap();
        for cut in 0..data.len() {
            assert!(decode_sorted(&data[..cut], "i").is_err(), "cut at {cut}");
        }
        // An entry moved out of order, a fanout counter changed.
        let h = Header::parse(&data, "i").unwrap();
        let mut swapped = data.clone();
        let first = h.entries_at() as usize;
        let (a, b) = swapped[first..first + 2 * INDEX_ENTRY_LEN].split_at_mut(INDEX_ENTRY_LEN);
        a.swap_with_slice(b);
        assert!(decode_sorted(&swapped, "i").is_err());
        let mut fanout = data.clone();
        fanout[h.fanout_at() as usize + 4] ^= 1;
        assert!(decode_sorted(&fanout, "i").is_err());
        // Probing a file cut short is an integrity error, not a panic.
        let backend = MemoryBackend::new();
        backend
            .write_new("index/t", &data[..data.len() - 10])
            .unwrap();
        assert_eq!(
            SortedFile::open(&backend, "index/t").unwrap_err().kind(),
            ErrorKind::Integrity
        );
    }
}
