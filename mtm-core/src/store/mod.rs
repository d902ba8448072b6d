//! The blob store: content-addressed, compressed, deduplicated bytes grouped into immutable
//! pack files, found through index files.
//!
//! Writers append blobs to a [`PackWriter`]; when a pack reaches [`PACK_TARGET`] it is
//! written whole; [`PackWriter::finish`] writes one index file naming every new blob. A blob
//! is visible to readers only once its index file exists, so a crash leaves at worst
//! unreferenced packs, never a dangling reference.

pub(crate) mod codec;
pub(crate) mod format;

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock, mpsc};

use codec::{Codec, Dictionary, Encoder};
use format::{BlobKind, IndexFile, IndexedPack, PackRecord, PackTrailer};

use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::id::{BlobId, IdMap, IdSet};

pub(crate) use format::BlobKind as Kind;

/// Packs are closed once they hold this many stored bytes.
pub(crate) const PACK_TARGET: usize = 4 * 1024 * 1024;
/// A blob at least this large is compressed as a stream straight into a pack file of its
/// own ([`Compressor::write_pack`]): no compressed copy of it is ever held in memory.
pub(crate) const STREAM_FROM: usize = PACK_TARGET;
/// Stored bytes of a blob larger than this are read from their pack in pieces of this size
/// ([`BlobStore::read_append`]).
const READ_CHUNK: u64 = 1024 * 1024;
/// Bytes of messages that the writers of one repository handle may hold in memory at once
/// (see [`BlobStore::in_flight`]): a larger message takes all of it and is read alone.
const IN_FLIGHT: u64 = 32 * 1024 * 1024;

/// The storage key of a pack.
pub(crate) fn pack_key(id: &BlobId) -> String {
    let hex = id.to_hex();
    format!("packs/{}/{hex}", &hex[..2])
}

/// The storage key of a dictionary.
pub(crate) fn dictionary_key(id: &BlobId) -> String {
    format!("dictionaries/{}", id.to_hex())
}

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
struct IndexState {
    /// The index files this state was read from (sorted).
    files: Vec<String>,
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

    fn merge(&mut self, file: &IndexFile) {
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

/// The dictionary writers use (if any is intact), and the damaged ones passed over (key,
/// why).
pub(crate) type IntactDictionary = (Option<Arc<Dictionary>>, Vec<(String, String)>);

/// Statistics of one writing session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WriteStats {
    /// The index file that names the session's blobs (written now, or found identical).
    pub index: Option<String>,
    /// New blobs stored.
    pub blobs: u64,
    /// Their uncompressed size.
    pub raw_bytes: u64,
    /// Their stored (compressed) size.
    pub stored_bytes: u64,
    /// Pack files written.
    pub packs: u64,
}

/// Shared access to every blob of a repository.
#[derive(Debug)]
pub(crate) struct BlobStore {
    backend: Arc<dyn Backend>,
    index: RwLock<IndexState>,
    dictionaries: Mutex<HashMap<BlobId, Arc<Dictionary>>>,
    /// Dictionaries found damaged when picking the one writers use, with why: not read
    /// again by every snapshot of this process (files never change under their name).
    damaged_dictionaries: Mutex<HashMap<BlobId, String>>,
    /// Blobs that a writer of this process has taken on but not yet indexed: two snapshots
    /// running at once store shared content once, and the one that borrows waits for it.
    claims: Mutex<IdMap<BlobId, u64>>,
    claims_released: Condvar,
    next_writer: AtomicU64,
    /// Shared by every snapshot taken through this store (see [`BlobStore::in_flight`]).
    in_flight: crate::pool::Budget,
}

/// Reads every index file into a fresh index, setting aside the damaged ones.
fn load_index(backend: &dyn Backend) -> Result<IndexState> {
    let mut files = Vec::new();
    let mut damaged = Vec::new();
    let keys = backend.list("index/")?;
    for key in keys.iter().cloned() {
        // A damaged index file must not make the whole repository unreadable: its blobs
        // read as missing (an integrity error naming the message), and `verify` reports it.
        match read_index_file(backend, &key) {
            Ok(file) => files.push(file),
            Err(e) if e.kind() == ErrorKind::Integrity => damaged.push((key, e.to_string())),
            Err(e) => return Err(e),
        }
    }
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
    /// Loads every index file, checking each one's hash against its name.
    pub(crate) fn open(backend: Arc<dyn Backend>) -> Result<Self> {
        let state = load_index(backend.as_ref())?;
        Ok(Self::with_index(backend, state))
    }

    /// A store that knows no blob yet (garbage collection repacks through one, so that
    /// every live blob it is given is written again).
    pub(crate) fn with_empty_index(backend: Arc<dyn Backend>) -> Self {
        Self::with_index(backend, IndexState::default())
    }

    fn with_index(backend: Arc<dyn Backend>, state: IndexState) -> Self {
        Self {
            backend,
            index: RwLock::new(state),
            dictionaries: Mutex::new(HashMap::new()),
            damaged_dictionaries: Mutex::new(HashMap::new()),
            claims: Mutex::new(IdMap::default()),
            claims_released: Condvar::new(),
            next_writer: AtomicU64::new(1),
            in_flight: crate::pool::Budget::new(IN_FLIGHT),
        }
    }

    /// Reads the index files again: after a garbage collection (of this process or
    /// another) moved blobs to other packs.
    pub(crate) fn reload(&self) -> Result<()> {
        // Nothing to do if the set of index files is the one already read (the common case:
        // listing a directory costs far less than reading every index file again).
        let keys = self.backend.list("index/")?;
        let mut known: Vec<String> = {
            let state = self.index.read().unwrap_or_else(PoisonError::into_inner);
            state.files.clone()
        };
        known.sort();
        if keys == known {
            return Ok(());
        }
        let state = load_index(self.backend.as_ref())?;
        *self.index.write().unwrap_or_else(PoisonError::into_inner) = state;
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

    /// Decompresses one stored blob and checks it against its id (for verification, which
    /// reads whole packs rather than blob by blob).
    pub(crate) fn check_stored(
        &self,
        pack: &IndexedPack,
        record: &PackRecord,
        stored: &[u8],
    ) -> Result<()> {
        let dictionary = match (record.codec, pack.dictionary) {
            (Codec::ZstdDictionary, Some(d)) => Some(self.dictionary(&d)?),
            _ => None,
        };
        let where_ = || format!("blob {} in pack {}", record.id, pack.id);
        let raw = codec::decompress(
            record.codec,
            stored,
            record.raw_len as usize,
            dictionary.as_deref(),
            &where_,
        )?;
        if BlobId::of(&raw) != record.id {
            return Err(Error::integrity(
                where_(),
                "content does not match its hash",
            ));
        }
        Ok(())
    }

    pub(crate) fn contains(&self, id: &BlobId) -> bool {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .blobs
            .contains_key(id)
    }

    fn locate(&self, id: &BlobId) -> Option<(IndexedPack, PackRecord)> {
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

    /// Loads (and caches) a dictionary, checking its hash.
    pub(crate) fn dictionary(&self, id: &BlobId) -> Result<Arc<Dictionary>> {
        if let Some(d) = self
            .dictionaries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
        {
            return Ok(Arc::clone(d));
        }
        let key = dictionary_key(id);
        // Only a pack (or the writer that just saved it) names a dictionary: one that is
        // gone is damage to the repository, not a message that does not exist.
        let data = self.backend.read(&key).map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::integrity(
                &key,
                "dictionary is missing (blobs compressed with it cannot be read)",
            ),
            _ => e,
        })?;
        if BlobId::of(&data) != *id {
            return Err(Error::integrity(key, "dictionary does not match its hash"));
        }
        let data = Arc::new(Dictionary::new(&data));
        self.dictionaries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(*id, Arc::clone(&data));
        Ok(data)
    }

    /// The dictionary writers use: the one with the smallest id, so that two processes that
    /// each trained one agree from then on. `None` if the repository has no intact one.
    pub(crate) fn current_dictionary(&self) -> Result<Option<Arc<Dictionary>>> {
        Ok(self.intact_dictionary()?.0)
    }

    /// [`current_dictionary`](Self::current_dictionary), and the dictionaries passed over
    /// because they are damaged (key, why): a damaged one must not stop every writer.
    pub(crate) fn intact_dictionary(&self) -> Result<IntactDictionary> {
        let mut damaged = Vec::new();
        for key in self.backend.list("dictionaries/")? {
            let Some(id) = key
                .rsplit('/')
                .next()
                .and_then(|name| BlobId::from_hex(name).ok())
            else {
                continue;
            };
            if let Some(reason) = lock(&self.damaged_dictionaries).get(&id) {
                damaged.push((key, reason.clone()));
                continue;
            }
            match self.dictionary(&id) {
                Ok(dictionary) => return Ok((Some(dictionary), damaged)),
                Err(e) if e.kind() == ErrorKind::Integrity => {
                    lock(&self.damaged_dictionaries).insert(id, e.to_string());
                    damaged.push((key, e.to_string()));
                }
                Err(e) => return Err(e),
            }
        }
        Ok((None, damaged))
    }

    /// Stores a newly trained dictionary and returns its id. A damaged file under its name
    /// (the same training gave the same bytes) is replaced by these bytes, which are what
    /// its name says it holds.
    pub(crate) fn save_dictionary(&self, data: Vec<u8>) -> Result<BlobId> {
        let id = BlobId::of(&data);
        let key = dictionary_key(&id);
        match self.backend.write_new(&key, &data) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                if BlobId::of(&self.backend.read(&key)?) != id {
                    self.backend.delete(&key)?;
                    self.backend.write_new(&key, &data)?;
                }
                lock(&self.damaged_dictionaries).remove(&id);
            }
            Err(e) => return Err(e),
        }
        self.dictionaries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Arc::new(Dictionary::new(&data)));
        Ok(id)
    }

    /// Reads a blob and checks that its bytes hash to its id. `describe` names what the blob
    /// belongs to (a message, a manifest) for the error message.
    pub(crate) fn read(&self, id: &BlobId, describe: &dyn Fn() -> String) -> Result<Vec<u8>> {
        match self.read_once(id, describe) {
            // The pack may have been repacked by a garbage collection since this process
            // read the index: read the index again, then the blob from where it is now.
            Err(e) if e.kind() == ErrorKind::Integrity && self.pack_gone(id) => {
                self.reload()?;
                self.read_once(id, describe)
            }
            other => other,
        }
    }

    /// Appends a blob's bytes to `out`, checked against its id, as [`read`](Self::read)
    /// does; a large blob is read from its pack in pieces and decompressed straight into
    /// `out`, so that it is never held twice. On error `out` is left as it was.
    pub(crate) fn read_append(
        &self,
        id: &BlobId,
        describe: &dyn Fn() -> String,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let start = out.len();
        let result = match self.append_once(id, describe, out) {
            // As in `read`: the pack may have been repacked meanwhile.
            Err(e) if e.kind() == ErrorKind::Integrity && self.pack_gone(id) => {
                out.truncate(start);
                self.reload()?;
                self.append_once(id, describe, out)
            }
            other => other,
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn append_once(
        &self,
        id: &BlobId,
        describe: &dyn Fn() -> String,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let (pack, record) = self.locate(id).ok_or_else(|| {
            Error::integrity(describe(), format!("blob {id} is missing from the index"))
        })?;
        if u64::from(record.stored_len) <= READ_CHUNK {
            out.extend_from_slice(&self.read_once(id, describe)?);
            return Ok(());
        }
        let key = pack_key(&pack.id);
        let where_ = || format!("{} (blob {} in pack {})", describe(), id.to_hex(), pack.id);
        let dictionary = match (record.codec, pack.dictionary) {
            (Codec::ZstdDictionary, Some(d)) => Some(self.dictionary(&d)?),
            _ => None,
        };
        let start = out.len();
        let raw_len = record.raw_len as usize;
        out.reserve(raw_len);
        let mut decoder =
            codec::StreamDecoder::new(record.codec, raw_len, dictionary.as_deref(), out, &where_)?;
        let damaged =
            |e: std::io::Error| Error::integrity(where_(), format!("cannot decompress: {e}"));
        let mut offset = u64::from(record.offset);
        let end = offset + u64::from(record.stored_len);
        while offset < end {
            let len = READ_CHUNK.min(end - offset);
            let piece = self
                .backend
                .read_range(&key, offset, len)
                .map_err(|e| match e.kind() {
                    ErrorKind::NotFound | ErrorKind::Integrity => {
                        Error::integrity(where_(), format!("pack unreadable: {e}"))
                    }
                    _ => e,
                })?;
            decoder.feed(&piece).map_err(damaged)?;
            offset += len;
        }
        decoder.finish().map_err(damaged)?;
        let got = out.len() - start;
        if got != raw_len {
            return Err(Error::integrity(
                where_(),
                format!("decompressed to {got} bytes, expected {raw_len}"),
            ));
        }
        if BlobId::of(&out[start..]) != *id {
            return Err(Error::integrity(
                where_(),
                "content does not match its hash",
            ));
        }
        Ok(())
    }

    /// Whether the pack the index names for `id` no longer exists.
    fn pack_gone(&self, id: &BlobId) -> bool {
        self.locate(id).is_none_or(|(pack, _)| {
            self.backend
                .size(&pack_key(&pack.id))
                .is_err_and(|e| e.kind() == ErrorKind::NotFound)
        })
    }

    fn read_once(&self, id: &BlobId, describe: &dyn Fn() -> String) -> Result<Vec<u8>> {
        let (pack, record) = self.locate(id).ok_or_else(|| {
            Error::integrity(describe(), format!("blob {id} is missing from the index"))
        })?;
        let key = pack_key(&pack.id);
        let where_ = || format!("{} (blob {} in pack {})", describe(), id.to_hex(), pack.id);
        let stored = self
            .backend
            .read_range(&key, u64::from(record.offset), u64::from(record.stored_len))
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound | ErrorKind::Integrity => {
                    Error::integrity(where_(), format!("pack unreadable: {e}"))
                }
                _ => e,
            })?;
        let dictionary = match (record.codec, pack.dictionary) {
            (Codec::ZstdDictionary, Some(d)) => Some(self.dictionary(&d)?),
            _ => None,
        };
        let raw = codec::decompress(
            record.codec,
            &stored,
            record.raw_len as usize,
            dictionary.as_deref(),
            &where_,
        )?;
        if BlobId::of(&raw) != *id {
            return Err(Error::integrity(
                where_(),
                "content does not match its hash",
            ));
        }
        Ok(raw)
    }

    /// Starts a writing session. `dictionary` is used for header-like blobs.
    pub(crate) fn writer(self: &Arc<Self>, dictionary: Option<Arc<Dictionary>>) -> PackWriter {
        PackWriter {
            compressor: Arc::new(Compressor {
                store: Arc::clone(self),
                dictionary,
                writer: self.next_writer.fetch_add(1, Ordering::Relaxed),
                borrowed: Mutex::new(IdSet::default()),
            }),
            uploader: None,
            plain: None,
            body: Vec::new(),
            records: Vec::new(),
            index: IndexFile::default(),
            stats: WriteStats::default(),
        }
    }

    /// The budget of message bytes that the writers of this store hold in memory at once:
    /// workers take a message's size from it before reading the message, and give it back
    /// once the message's blobs are in a pack, so that concurrent workers and snapshots
    /// never hold two huge messages at the same time.
    pub(crate) fn in_flight(&self) -> &crate::pool::Budget {
        &self.in_flight
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

/// A blob compressed by a worker, ready to be appended to a pack.
#[derive(Debug)]
pub(crate) struct CompressedBlob {
    pub id: BlobId,
    pub kind: BlobKind,
    pub codec: Codec,
    pub stored: Vec<u8>,
    pub raw_len: u32,
}

/// The part of a writing session that worker threads share: it tells which blobs are known
/// and compresses new ones.
#[derive(Debug)]
pub(crate) struct Compressor {
    store: Arc<BlobStore>,
    dictionary: Option<Arc<Dictionary>>,
    /// This session's number among the writers of the process.
    writer: u64,
    /// Blobs this session references that another session of the process is storing.
    borrowed: Mutex<IdSet<BlobId>>,
}

impl Compressor {
    /// Whether a blob is stored already, or taken on by this or another running session:
    /// known bytes need no compressing.
    pub(crate) fn is_known(&self, id: &BlobId) -> bool {
        self.store.contains(id) || self.claimed_already(*id, false)
    }

    /// Whether `id` is claimed by a session; with `claim`, claims it for this one if not.
    /// A blob claimed by another session is remembered as borrowed.
    fn claimed_already(&self, id: BlobId, claim: bool) -> bool {
        let mut claims = lock(&self.store.claims);
        match claims.get(&id) {
            Some(owner) => {
                if *owner != self.writer {
                    lock(&self.borrowed).insert(id);
                }
                true
            }
            None => {
                if claim {
                    claims.insert(id, self.writer);
                }
                false
            }
        }
    }

    /// Gives up this session's claims (its blobs are indexed, or it failed) and wakes the
    /// sessions waiting for them.
    fn release(&self) {
        lock(&self.store.claims).retain(|_, owner| *owner != self.writer);
        self.store.claims_released.notify_all();
    }

    /// Waits until every borrowed blob is indexed by the session that claimed it. An error if
    /// that session failed: this session's snapshot would reference missing bytes.
    fn wait_for_borrowed(&self) -> Result<()> {
        let borrowed = std::mem::take(&mut *lock(&self.borrowed));
        let mut claims = lock(&self.store.claims);
        while borrowed.iter().any(|id| claims.contains_key(id)) {
            claims = self
                .store
                .claims_released
                .wait(claims)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(claims);
        match borrowed.iter().find(|id| !self.store.contains(id)) {
            None => Ok(()),
            Some(id) => Err(Error::storage(
                "packs",
                std::io::Error::other(format!(
                    "blob {id}, stored by a concurrent snapshot of this process that failed; \
                     take this snapshot again"
                )),
            )),
        }
    }

    /// Compression contexts for one worker thread, with the session's dictionary.
    pub(crate) fn encoder(&self) -> Result<BlobEncoder<'_>> {
        Ok(BlobEncoder(Encoder::new(self.dictionary.as_deref())?))
    }

    /// Claims a blob for this session; false if it is stored or claimed already.
    fn claim(&self, id: BlobId) -> bool {
        !self.store.contains(&id) && !self.claimed_already(id, true)
    }

    /// Writes the blobs of `blobs` that are not known yet into one new pack of their own,
    /// streamed to storage: blobs of [`STREAM_FROM`] bytes or more are compressed straight
    /// into the pack file, so that no compressed copy of them is held in memory. What a
    /// worker does with a message too large to hand over whole; [`PackWriter::adopt`] then
    /// indexes the pack. Every blob written is claimed for this session first. `None` when
    /// every blob was known.
    pub(crate) fn write_pack(
        &self,
        encoder: &mut BlobEncoder<'_>,
        blobs: &[NewBlob<'_>],
    ) -> Result<Option<WrittenPack>> {
        let too_big = || Error::invalid("pack", "blob does not fit in a pack");
        let mut out: Option<PackOut<'_>> = None;
        let mut records = Vec::new();
        for blob in blobs {
            if !self.claim(blob.id) {
                continue;
            }
            let out = match &mut out {
                Some(out) => out,
                None => out.insert(PackOut::start(self.store.backend.as_ref())?),
            };
            let raw_len = u32::try_from(blob.raw.len()).map_err(|_| too_big())?;
            let offset = out.len;
            let codec = if blob.raw.len() >= STREAM_FROM {
                codec::compress_into(blob.raw, out).map_err(pack_io)?;
                Codec::Zstd
            } else {
                let (codec, stored) = encoder.0.compress(blob.raw, blob.use_dictionary)?;
                out.write_all(&stored).map_err(pack_io)?;
                codec
            };
            records.push(PackRecord {
                id: blob.id,
                kind: blob.kind,
                codec,
                offset: u32::try_from(offset).map_err(|_| too_big())?,
                stored_len: u32::try_from(out.len - offset).map_err(|_| too_big())?,
                raw_len,
            });
        }
        let Some(out) = out else {
            return Ok(None);
        };
        let dictionary = records
            .iter()
            .any(|r| r.codec == Codec::ZstdDictionary)
            .then(|| self.dictionary.as_ref().map(|d| d.id))
            .flatten();
        let trailer = PackTrailer {
            records,
            dictionary,
        };
        let id = out.finish(&trailer)?;
        Ok(Some(WrittenPack {
            id,
            dictionary,
            records: trailer.records,
        }))
    }

    /// Copies one blob of `source` into a new pack of its own, its stored bytes unchanged,
    /// read in pieces and checked against its id by a streaming decode as they go: garbage
    /// collection moves a large live blob without decompressing it into memory or
    /// compressing it again. The stored bytes of a blob are self-contained (raw bytes, or
    /// one zstd frame that needs nothing but the dictionary its pack names, which the new
    /// pack names too). `None` if the blob is stored or claimed already; an integrity error
    /// naming `describe` if its bytes do not match its id.
    pub(crate) fn copy_blob(
        &self,
        source: &BlobStore,
        id: &BlobId,
        describe: &dyn Fn() -> String,
    ) -> Result<Option<WrittenPack>> {
        let (pack, record) = source.locate(id).ok_or_else(|| {
            Error::integrity(describe(), format!("blob {id} is missing from the index"))
        })?;
        if !self.claim(*id) {
            return Ok(None);
        }
        let key = pack_key(&pack.id);
        let where_ = || format!("{} (blob {} in pack {})", describe(), id.to_hex(), pack.id);
        let dictionary_id = match record.codec {
            Codec::ZstdDictionary => pack.dictionary,
            _ => None,
        };
        let dictionary = dictionary_id.map(|d| source.dictionary(&d)).transpose()?;
        let mut check = codec::StreamCheck::new(
            record.codec,
            record.raw_len as usize,
            dictionary.as_deref(),
            &where_,
        )?;
        let damaged =
            |e: std::io::Error| Error::integrity(where_(), format!("cannot decompress: {e}"));
        let mut out = PackOut::start(self.store.backend.as_ref())?;
        let offset = out.len;
        let mut at = u64::from(record.offset);
        let end = at + u64::from(record.stored_len);
        while at < end {
            let len = READ_CHUNK.min(end - at);
            let piece = source
                .backend
                .read_range(&key, at, len)
                .map_err(|e| match e.kind() {
                    ErrorKind::NotFound | ErrorKind::Integrity => {
                        Error::integrity(where_(), format!("pack unreadable: {e}"))
                    }
                    _ => e,
                })?;
            check.feed(&piece).map_err(damaged)?;
            out.write_all(&piece).map_err(pack_io)?;
            at += len;
        }
        let (raw_len, hash) = check.finish().map_err(damaged)?;
        if raw_len != u64::from(record.raw_len) || hash != *id {
            return Err(Error::integrity(
                where_(),
                "content does not match its hash",
            ));
        }
        let too_big = || Error::invalid("pack", "blob does not fit in a pack");
        let trailer = PackTrailer {
            records: vec![PackRecord {
                offset: u32::try_from(offset).map_err(|_| too_big())?,
                ..record
            }],
            dictionary: dictionary_id,
        };
        let id = out.finish(&trailer)?;
        Ok(Some(WrittenPack {
            id,
            dictionary: dictionary_id,
            records: trailer.records,
        }))
    }
}

/// One new blob for [`Compressor::write_pack`]: its id (the hash of `raw`), what it is, and
/// whether it is compressed with the session's dictionary (small blobs only).
#[derive(Debug)]
pub(crate) struct NewBlob<'a> {
    pub id: BlobId,
    pub kind: BlobKind,
    pub use_dictionary: bool,
    pub raw: &'a [u8],
}

/// A pack a worker wrote by itself, for [`PackWriter::adopt`] to index.
#[derive(Debug)]
pub(crate) struct WrittenPack {
    id: BlobId,
    dictionary: Option<BlobId>,
    records: Vec<PackRecord>,
}

/// An error writing a pack to storage.
fn pack_io(e: std::io::Error) -> Error {
    Error::storage("packs", e)
}

/// A pack file being streamed to storage, hashed as it goes (a pack is named by its hash).
struct PackOut<'b> {
    file: Box<dyn crate::backend::StagedFile + 'b>,
    hasher: blake3::Hasher,
    len: u64,
}

impl<'b> PackOut<'b> {
    fn start(backend: &'b dyn Backend) -> Result<Self> {
        let mut out = Self {
            file: backend.stage_new()?,
            hasher: blake3::Hasher::new(),
            len: 0,
        };
        out.write_all(format::PACK_MAGIC).map_err(pack_io)?;
        Ok(out)
    }

    /// Writes the trailer and publishes the pack under its hash; returns the hash.
    fn finish(mut self, trailer: &PackTrailer) -> Result<BlobId> {
        let mut tail = Vec::new();
        format::append_trailer(&mut tail, trailer)?;
        self.write_all(&tail).map_err(pack_io)?;
        let id = BlobId::from_bytes(*self.hasher.finalize().as_bytes());
        match self.file.publish(&pack_key(&id)) {
            // Identical bytes are already there (a retried session): nothing to do.
            Ok(()) => Ok(id),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(id),
            Err(e) => Err(e),
        }
    }
}

impl std::io::Write for PackOut<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes finished packs on a thread of its own, so that reading, hashing and compressing go
/// on while a pack is written and flushed to disk.
#[derive(Debug)]
struct Uploader {
    queue: mpsc::SyncSender<(String, Vec<u8>)>,
    thread: std::thread::JoinHandle<Result<()>>,
}

impl Uploader {
    fn start(backend: Arc<dyn Backend>) -> Self {
        // One pack may wait: enough to cover a slow flush, little memory.
        let (queue, packs) = mpsc::sync_channel::<(String, Vec<u8>)>(1);
        let thread = std::thread::spawn(move || {
            for (key, pack) in packs {
                match backend.write_new(&key, &pack) {
                    // Identical bytes are already there (a retried session): nothing to do.
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        });
        Self { queue, thread }
    }

    /// Queues a pack; false if the thread has stopped at an error (which `finish` returns).
    fn send(&self, key: String, pack: Vec<u8>) -> bool {
        self.queue.send((key, pack)).is_ok()
    }

    /// Waits until every queued pack is written; the first write error, if any.
    fn finish(self) -> Result<()> {
        drop(self.queue);
        self.thread.join().unwrap_or_else(|_| {
            Err(Error::storage(
                "packs",
                std::io::Error::other("the pack writer thread panicked"),
            ))
        })
    }
}

/// One thread's compressor: reuses its zstd contexts blob after blob.
pub(crate) struct BlobEncoder<'d>(Encoder<'d>);

impl std::fmt::Debug for BlobEncoder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlobEncoder")
    }
}

impl BlobEncoder<'_> {
    /// Compresses a blob; header-like blobs (`use_dictionary`) use the session's dictionary.
    /// `id` is the blob's hash, which the caller has computed already.
    pub(crate) fn compress(
        &mut self,
        id: BlobId,
        kind: BlobKind,
        use_dictionary: bool,
        raw: &[u8],
    ) -> Result<CompressedBlob> {
        debug_assert_eq!(id, BlobId::of(raw));
        let raw_len =
            u32::try_from(raw.len()).map_err(|_| Error::invalid("blob", "larger than 4 GiB"))?;
        let (codec, stored) = self.0.compress(raw, use_dictionary)?;
        Ok(CompressedBlob {
            id,
            kind,
            codec,
            stored,
            raw_len,
        })
    }
}

/// Collects new blobs into packs for one writing session.
#[derive(Debug)]
pub(crate) struct PackWriter {
    compressor: Arc<Compressor>,
    plain: Option<BlobEncoder<'static>>,
    uploader: Option<Uploader>,
    body: Vec<u8>,
    records: Vec<PackRecord>,
    index: IndexFile,
    stats: WriteStats,
}

impl PackWriter {
    /// The shareable half of this writer, for worker threads.
    pub(crate) fn compressor(&self) -> Arc<Compressor> {
        Arc::clone(&self.compressor)
    }

    /// Compresses and adds a blob unless it is known. Returns its id. A blob of
    /// [`STREAM_FROM`] bytes or more is streamed into a pack of its own.
    pub(crate) fn add(&mut self, kind: BlobKind, raw: &[u8]) -> Result<BlobId> {
        let id = BlobId::of(raw);
        if !self.compressor.is_known(&id) {
            // Manifests and catalogs never use the header dictionary; one context serves
            // them all (a new one per blob would allocate and zero megabytes each time).
            let encoder = match &mut self.plain {
                Some(encoder) => encoder,
                None => self.plain.insert(BlobEncoder(Encoder::new(None)?)),
            };
            if raw.len() >= STREAM_FROM {
                let blob = NewBlob {
                    id,
                    kind,
                    use_dictionary: false,
                    raw,
                };
                if let Some(pack) = self.compressor.write_pack(encoder, &[blob])? {
                    self.adopt(pack)?;
                }
            } else {
                let blob = encoder.compress(id, kind, false, raw)?;
                self.push(blob)?;
            }
        }
        Ok(id)
    }

    /// Indexes a pack that [`Compressor::write_pack`] wrote (its blobs are claimed for this
    /// session already, and the pack is on storage).
    pub(crate) fn adopt(&mut self, pack: WrittenPack) -> Result<()> {
        let number = u32::try_from(self.index.packs.len())
            .map_err(|_| Error::invalid("index", "too many packs"))?;
        self.index.packs.push(IndexedPack {
            id: pack.id,
            dictionary: pack.dictionary,
        });
        for record in &pack.records {
            self.stats.blobs += 1;
            self.stats.raw_bytes += u64::from(record.raw_len);
            self.stats.stored_bytes += u64::from(record.stored_len);
        }
        self.index
            .entries
            .extend(pack.records.into_iter().map(|r| (number, r)));
        self.stats.packs += 1;
        Ok(())
    }

    /// Appends a compressed blob; a blob already known is dropped.
    pub(crate) fn push(&mut self, blob: CompressedBlob) -> Result<()> {
        if !self.compressor.claim(blob.id) {
            return Ok(());
        }
        if !self.body.is_empty() && self.body.len() + blob.stored.len() > PACK_TARGET {
            self.flush_pack()?;
        }
        if self.body.is_empty() {
            // One allocation per pack rather than a doubling series of them.
            self.body = Vec::with_capacity(PACK_TARGET.max(blob.stored.len() + 64 * 1024));
            self.body.extend_from_slice(format::PACK_MAGIC);
        }
        let too_big = || Error::invalid("pack", "blob does not fit in a pack");
        let offset = u32::try_from(self.body.len()).map_err(|_| too_big())?;
        let stored_len = u32::try_from(blob.stored.len()).map_err(|_| too_big())?;
        self.body.extend_from_slice(&blob.stored);
        self.records.push(PackRecord {
            id: blob.id,
            kind: blob.kind,
            codec: blob.codec,
            offset,
            stored_len,
            raw_len: blob.raw_len,
        });
        self.stats.blobs += 1;
        self.stats.raw_bytes += u64::from(blob.raw_len);
        self.stats.stored_bytes += u64::from(stored_len);
        Ok(())
    }

    fn flush_pack(&mut self) -> Result<()> {
        if self.records.is_empty() {
            return Ok(());
        }
        let dictionary = self
            .records
            .iter()
            .any(|r| r.codec == Codec::ZstdDictionary)
            .then(|| self.compressor.dictionary.as_ref().map(|d| d.id))
            .flatten();
        let trailer = PackTrailer {
            records: std::mem::take(&mut self.records),
            dictionary,
        };
        let pack = format::finish_pack(std::mem::take(&mut self.body), &trailer)?;
        let id = BlobId::of(&pack);
        let backend = &self.compressor.store.backend;
        let uploader = self
            .uploader
            .get_or_insert_with(|| Uploader::start(Arc::clone(backend)));
        if !uploader.send(pack_key(&id), pack)
            && let Some(failed) = self.uploader.take()
        {
            failed.finish()?;
            return Err(Error::storage(
                "packs",
                std::io::Error::other("the pack writer thread stopped"),
            ));
        }
        let number = u32::try_from(self.index.packs.len())
            .map_err(|_| Error::invalid("index", "too many packs"))?;
        self.index.packs.push(IndexedPack { id, dictionary });
        self.index
            .entries
            .extend(trailer.records.into_iter().map(|r| (number, r)));
        self.stats.packs += 1;
        Ok(())
    }

    /// Writes the last pack and the index file, and makes the new blobs visible to readers
    /// of this process. Returns what the session stored.
    pub(crate) fn finish(mut self) -> Result<WriteStats> {
        self.flush_pack()?;
        // Every pack must be on disk before an index file names it.
        if let Some(uploader) = self.uploader.take() {
            uploader.finish()?;
        }
        if !self.index.entries.is_empty() {
            let data = format::encode_index(&self.index)?;
            let key = format!("index/{}", BlobId::of(&data).to_hex());
            match self.compressor.store.backend.write_new(&key, &data) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            let mut state = self
                .compressor
                .store
                .index
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            state.merge(&self.index);
            if let Err(at) = state.files.binary_search(&key) {
                state.files.insert(at, key.clone());
            }
            drop(state);
            self.stats.index = Some(key);
        }
        self.compressor.release();
        self.compressor.wait_for_borrowed()?;
        Ok(std::mem::take(&mut self.stats))
    }
}

impl Drop for PackWriter {
    /// A session that ends without `finish` (an error) must not keep others waiting.
    fn drop(&mut self) {
        self.compressor.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    fn store() -> (Arc<MemoryBackend>, Arc<BlobStore>) {
        let backend = Arc::new(MemoryBackend::new());
        let store = Arc::new(BlobStore::open(backend.clone()).unwrap());
        (backend, store)
    }

    #[test]
    fn blobs_are_invisible_until_finish_then_readable_after_reopen() {
        let (backend, store) = store();
        let mut w = store.writer(None);
        let a = w.add(Kind::Part, b"hello").unwrap();
        let b = w.add(Kind::Manifest, &vec![7u8; 100_000]).unwrap();
        assert!(!store.contains(&a));
        let stats = w.finish().unwrap();
        assert_eq!(stats.blobs, 2);
        assert_eq!(store.read(&a, &|| "t".into()).unwrap(), b"hello");
        let reopened = BlobStore::open(backend).unwrap();
        assert_eq!(
            reopened.read(&b, &|| "t".into()).unwrap(),
            vec![7u8; 100_000]
        );
    }

    #[test]
    fn identical_bytes_are_stored_once() {
        let (_, store) = store();
        let mut w = store.writer(None);
        w.add(Kind::Part, b"same").unwrap();
        w.add(Kind::Part, b"same").unwrap();
        assert_eq!(w.finish().unwrap().blobs, 1);
        let mut w = store.writer(None);
        w.add(Kind::Part, b"same").unwrap();
        assert_eq!(w.finish().unwrap().blobs, 0);
    }

    #[test]
    fn packs_close_at_the_target_size() {
        let (backend, store) = store();
        let mut w = store.writer(None);
        for i in 0..6u32 {
            // Incompressible 1 MiB blobs.
            let mut data = vec![0u8; 1024 * 1024];
            blake3::Hasher::new()
                .update(&i.to_le_bytes())
                .finalize_xof()
                .fill(&mut data);
            w.add(Kind::Part, &data).unwrap();
        }
        let stats = w.finish().unwrap();
        assert_eq!(stats.packs, 2);
        assert_eq!(backend.list("packs/").unwrap().len(), 2);
        assert_eq!(backend.list("index/").unwrap().len(), 1);
    }

    /// Mail-like text that zstd shrinks but not to nothing.
    fn large_text(len: usize) -> Vec<u8> {
        let mut noise = vec![0u8; len.div_ceil(4)];
        blake3::Hasher::new().finalize_xof().fill(&mut noise);
        (0..len)
            .map(|i| b"abcdefghijklmnop"[usize::from(noise[i / 4] >> (2 * (i % 4))) & 15])
            .collect()
    }

    #[test]
    fn a_large_blob_is_streamed_into_a_pack_of_its_own_and_appended_in_place() {
        let (backend, store) = store();
        let large = large_text(STREAM_FROM + 12345);
        let mut w = store.writer(None);
        let small = w.add(Kind::Part, b"small").unwrap();
        let id = w.add(Kind::Part, &large).unwrap();
        assert_eq!(w.add(Kind::Part, &large).unwrap(), id);
        let stats = w.finish().unwrap();
        assert_eq!((stats.blobs, stats.packs), (2, 2));
        assert!(stats.stored_bytes < large.len() as u64);
        let reopened = Arc::new(BlobStore::open(backend.clone()).unwrap());
        let mut out = b"head:".to_vec();
        reopened
            .read_append(&small, &|| "t".into(), &mut out)
            .unwrap();
        reopened.read_append(&id, &|| "t".into(), &mut out).unwrap();
        assert!(out[..10] == *b"head:small" && out[10..] == large[..]);
        assert!(reopened.read(&id, &|| "t".into()).unwrap() == large);
    }

    #[test]
    fn a_damaged_large_blob_is_an_integrity_error_and_appends_nothing() {
        let (backend, store) = store();
        let large = large_text(STREAM_FROM * 2);
        let mut w = store.writer(None);
        let id = w.add(Kind::Part, &large).unwrap();
        w.finish().unwrap();
        let key = backend.list("packs/").unwrap().remove(0);
        let mut pack = backend.read(&key).unwrap();
        let middle = pack.len() / 2;
        pack[middle] ^= 0x40;
        backend.delete(&key).unwrap();
        backend.write_new(&key, &pack).unwrap();
        let mut out = b"kept".to_vec();
        let err = store
            .read_append(&id, &|| "message L".into(), &mut out)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert!(err.to_string().contains("message L"), "{err}");
        assert_eq!(out, b"kept");
    }

    #[test]
    fn a_flipped_bit_in_a_pack_is_an_integrity_error_naming_the_blob() {
        let backend = Arc::new(MemoryBackend::new());
        let store = Arc::new(BlobStore::open(backend.clone()).unwrap());
        let mut w = store.writer(None);
        let id = w
            .add(Kind::Part, b"precious bytes that must not change")
            .unwrap();
        w.finish().unwrap();
        let key = backend.list("packs/").unwrap().remove(0);
        let mut pack = backend.read(&key).unwrap();
        pack[10] ^= 0x01;
        backend.delete(&key).unwrap();
        backend.write_new(&key, &pack).unwrap();
        let err = store.read(&id, &|| "message X".into()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert!(err.to_string().contains("message X"), "{err}");
    }

    #[test]
    fn a_tampered_index_file_is_set_aside_and_its_blobs_read_as_damaged() {
        let backend = Arc::new(MemoryBackend::new());
        let store = Arc::new(BlobStore::open(backend.clone()).unwrap());
        let mut w = store.writer(None);
        w.add(Kind::Part, b"x").unwrap();
        w.finish().unwrap();
        let key = backend.list("index/").unwrap().remove(0);
        let mut data = backend.read(&key).unwrap();
        let last = data.len() - 1;
        data[last] ^= 1;
        backend.delete(&key).unwrap();
        backend.write_new(&key, &data).unwrap();
        let reopened = BlobStore::open(backend).unwrap();
        assert_eq!(reopened.damaged_indexes().len(), 1);
        assert_eq!(reopened.damaged_indexes()[0].0, key);
        let err = reopened
            .read(&BlobId::of(b"x"), &|| "message M".into())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert!(err.to_string().contains("message M"), "{err}");
    }

    #[test]
    fn dictionaries_are_used_for_marked_blobs_and_read_back() {
        let (backend, store) = store();
        let samples: Vec<Vec<u8>> = (0..300)
            .map(|i| format!("Received: from mx{i} by mail; Delivered-To: u{i}@x.org\r\nSubject: s{i}\r\n\r\n").into_bytes())
            .collect();
        let dict = codec::train_dictionary(&samples).unwrap();
        let dict_id = store.save_dictionary(dict).unwrap();
        let current = store.current_dictionary().unwrap().unwrap();
        assert_eq!(current.id, dict_id);
        let mut w = store.writer(Some(current));
        let blob = w
            .compressor()
            .encoder()
            .unwrap()
            .compress(BlobId::of(&samples[5]), Kind::Part, true, &samples[5])
            .unwrap();
        assert_eq!(blob.codec, Codec::ZstdDictionary);
        let id = blob.id;
        w.push(blob).unwrap();
        w.finish().unwrap();
        let fresh = BlobStore::open(backend).unwrap();
        assert_eq!(fresh.read(&id, &|| "t".into()).unwrap(), samples[5]);
    }

    #[test]
    fn a_damaged_dictionary_is_passed_over_and_replaced_when_trained_again() {
        let (backend, store) = store();
        let samples: Vec<Vec<u8>> = (0..300)
            .map(|i| {
                format!("Received: from mx{i}; Delivered-To: u{i}@x.org\r\nSubject: s{i}\r\n\r\n")
                    .into_bytes()
            })
            .collect();
        let dict = codec::train_dictionary(&samples).unwrap();
        let id = store.save_dictionary(dict.clone()).unwrap();
        let key = dictionary_key(&id);
        let mut damaged = dict.clone();
        damaged[7] ^= 0x01;
        backend.delete(&key).unwrap();
        backend.write_new(&key, &damaged).unwrap();
        let fresh = BlobStore::open(backend.clone()).unwrap();
        let (current, passed_over) = fresh.intact_dictionary().unwrap();
        assert!(current.is_none());
        assert_eq!(passed_over.len(), 1);
        assert_eq!(passed_over[0].0, key);
        // The same training gives the same bytes: they replace the damaged file.
        assert_eq!(fresh.save_dictionary(dict.clone()).unwrap(), id);
        assert!(
            backend.read(&key).unwrap() == dict,
            "the damaged file was kept"
        );
        let again = BlobStore::open(backend).unwrap();
        assert_eq!(again.intact_dictionary().unwrap().0.unwrap().id, id);
    }

    #[test]
    fn a_blob_claimed_by_a_concurrent_session_is_stored_once_and_waited_for() {
        let (_, store) = store();
        let mut a = store.writer(None);
        let mut b = store.writer(None);
        a.add(Kind::Part, b"shared newsletter body").unwrap();
        let shared = b.add(Kind::Part, b"shared newsletter body").unwrap();
        b.add(Kind::Part, b"b's own trace headers").unwrap();
        let b_done = std::thread::spawn(move || b.finish());
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(
            !b_done.is_finished(),
            "b committed before the blob it borrowed was indexed"
        );
        assert_eq!(a.finish().unwrap().blobs, 1);
        assert_eq!(b_done.join().unwrap().unwrap().blobs, 1);
        assert_eq!(
            store.read(&shared, &|| "t".into()).unwrap(),
            b"shared newsletter body"
        );
    }

    #[test]
    fn a_failed_session_fails_its_borrowers_instead_of_leaving_them_dangling() {
        let (_, store) = store();
        let mut a = store.writer(None);
        let mut b = store.writer(None);
        a.add(Kind::Part, b"shared").unwrap();
        b.add(Kind::Part, b"shared").unwrap();
        drop(a);
        let err = b.finish().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(
            err.to_string().contains("take this snapshot again"),
            "{err}"
        );
    }
}
