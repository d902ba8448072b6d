//! Writing sessions: blobs compressed by workers, appended to packs, streamed when large,
//! uploaded on a thread of their own, and indexed when the session finishes.

use std::io::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};

use super::codec::{self, Codec, Dictionary, Encoder};
use super::format::{self, BlobKind, IndexFile, IndexedPack, PackRecord, PackTrailer};
use super::shared::SHARED_WRITER;
use super::{BlobStore, PACK_TARGET, READ_CHUNK, STREAM_FROM, lock, pack_key};
use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::id::{BlobId, IdMap, IdSet};

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
    /// The packs the index file names (every pack the session wrote or adopted).
    pub pack_ids: Vec<BlobId>,
    /// Blobs the session names that other sessions of a group commit were still storing
    /// when it finished: the commit that takes its record waits for them first
    /// ([`BlobStore::settle_awaited`]). Always empty for [`Durability::EachFile`].
    pub awaited: IdSet<BlobId>,
}

/// When a writing session's files must be durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Durability {
    /// Each pack and index file durable when written (a single snapshot, gc, repairs).
    #[default]
    EachFile,
    /// Durable at the caller's next [`Backend::sync`]: a run over many accounts syncs once
    /// for all of them before it writes their records (group commit).
    AtSync,
}

impl BlobStore {
    /// Starts a writing session. `dictionary` is used for header-like blobs.
    pub(crate) fn writer(self: &Arc<Self>, dictionary: Option<Arc<Dictionary>>) -> PackWriter {
        PackWriter {
            durability: Durability::EachFile,
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

    /// Settles the blobs this session borrowed from other sessions of the process, as
    /// `durability` asks.
    ///
    /// A session of a group commit ([`Durability::AtSync`]) does not wait: its record is
    /// written by a later commit, which first waits for the sessions still storing what it
    /// borrowed ([`BlobStore::settle_awaited`]). It returns those blobs; the blobs of the
    /// shared pack are left to the commit, which writes that pack before anything that names
    /// them. So a worker never sits idle while another account, on another core, stores
    /// content the two share.
    ///
    /// Any other session writes its record at once: it waits until every borrowed blob is
    /// indexed by the session that claimed it, and if it borrowed from a group still to be
    /// committed, it commits the group first ([`BlobStore::commit_group`]), so that what it
    /// names is durable and indexed. It returns no blob.
    ///
    /// Either way, an error if a blob's session failed: this session's snapshot would
    /// reference missing bytes.
    fn settle_borrowed(&self, durability: Durability) -> Result<IdSet<BlobId>> {
        let borrowed = std::mem::take(&mut *lock(&self.borrowed));
        if durability == Durability::AtSync {
            let claims = lock(&self.store.claims);
            let (awaited, settled): (IdSet<BlobId>, IdSet<BlobId>) = borrowed
                .into_iter()
                .partition(|id| claims.get(id).is_some_and(|owner| *owner != SHARED_WRITER));
            self.store.check_borrowed(&claims, &settled, true)?;
            return Ok(awaited);
        }
        let mut claims = self.store.wait_for_claims(&borrowed);
        if !borrowed.is_empty() {
            let in_shared_pack = borrowed.iter().any(|id| claims.contains_key(id));
            drop(claims);
            if in_shared_pack || self.store.held_entries() > 0 {
                self.store.commit_group()?;
            }
            claims = lock(&self.store.claims);
        }
        self.store.check_borrowed(&claims, &borrowed, false)?;
        Ok(IdSet::default())
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
        let (pack, record) = source.locate(id)?.ok_or_else(|| {
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

/// Writes finished packs on a thread of its own, so that reading, hashing and compressing go
/// on while a pack is written and flushed to disk.
#[derive(Debug)]
struct Uploader {
    queue: mpsc::SyncSender<(String, Vec<u8>)>,
    thread: std::thread::JoinHandle<Result<()>>,
}

impl BlobStore {
    /// Waits until no running session of this process claims any of `ids` (claims of the
    /// shared pack do not count: the group commit writes it), and returns the claims.
    fn wait_for_claims(&self, ids: &IdSet<BlobId>) -> MutexGuard<'_, IdMap<BlobId, u64>> {
        let mut claims = lock(&self.claims);
        while ids
            .iter()
            .filter_map(|id| claims.get(id))
            .any(|owner| *owner != SHARED_WRITER)
        {
            claims = self
                .claims_released
                .wait(claims)
                .unwrap_or_else(PoisonError::into_inner);
        }
        claims
    }

    /// An error naming the first of `ids` that is neither indexed nor (with
    /// `shared_pending`) waiting in the shared pack for the group commit: the session that
    /// claimed it failed.
    fn check_borrowed(
        &self,
        claims: &IdMap<BlobId, u64>,
        ids: &IdSet<BlobId>,
        shared_pending: bool,
    ) -> Result<()> {
        let missing = ids.iter().find(|id| {
            let left_to_commit = shared_pending && claims.get(id) == Some(&SHARED_WRITER);
            !(left_to_commit || self.contains(id))
        });
        match missing {
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

    /// Waits for the sessions that were still storing blobs a finished session of a group
    /// commit named ([`WriteStats::awaited`]): once it returns `Ok`, each of them is indexed
    /// or waits in the shared pack, and the next [`commit_group`](Self::commit_group) makes
    /// it durable. An error if one of those sessions failed. Call it without holding a
    /// session of the run open on this thread (it waits for the others to finish theirs).
    pub(crate) fn settle_awaited(&self, awaited: &IdSet<BlobId>) -> Result<()> {
        if awaited.is_empty() {
            return Ok(());
        }
        let claims = self.wait_for_claims(awaited);
        self.check_borrowed(&claims, awaited, true)
    }
}

impl BlobStore {
    /// Takes in the index entries of a session of a group commit: known to this process's
    /// writers at once, written to an index file by [`commit_group`](Self::commit_group).
    pub(super) fn hold_for_commit(&self, index: &IndexFile) -> Result<()> {
        if index.entries.is_empty() {
            return Ok(());
        }
        let mut held = lock(&self.held);
        let first = u32::try_from(held.packs.len())
            .map_err(|_| Error::invalid("index", "too many packs"))?;
        held.packs.extend_from_slice(&index.packs);
        held.entries
            .extend(index.entries.iter().map(|(pack, r)| (first + pack, *r)));
        self.index
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .merge(index);
        Ok(())
    }

    /// How many index entries wait for [`commit_group`](Self::commit_group).
    pub(crate) fn held_entries(&self) -> usize {
        lock(&self.held).entries.len()
    }

    /// Makes what the sessions of a group commit stored durable and indexed: writes the
    /// shared pack, syncs the storage, then writes every entry held into one index file,
    /// durable when this returns. The held entries stay locked from before the sync until
    /// the index file is written: an entry is held only once its pack is written, so each
    /// one this writes names a pack that the sync made durable (one held during or after
    /// the sync waits for the next commit).
    pub(crate) fn commit_group(&self) -> Result<()> {
        self.flush_shared()?;
        let mut held = lock(&self.held);
        self.backend.sync()?;
        if held.entries.is_empty() {
            return Ok(());
        }
        let data = format::encode_index(&held)?;
        let key = format!("index/{}", BlobId::of(&data).to_hex());
        match self.backend.write_new(&key, &data) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        self.index
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .add_own(&key, &held);
        *held = IndexFile::default();
        Ok(())
    }
}

/// Writes a new file as `durability` asks.
fn write_file(
    backend: &dyn Backend,
    durability: Durability,
    key: &str,
    bytes: &[u8],
) -> Result<()> {
    match durability {
        Durability::EachFile => backend.write_new(key, bytes),
        Durability::AtSync => backend.write_new_unsynced(key, bytes),
    }
}

impl Uploader {
    fn start(backend: Arc<dyn Backend>, durability: Durability) -> Self {
        // One pack may wait: enough to cover a slow flush, little memory.
        let (queue, packs) = mpsc::sync_channel::<(String, Vec<u8>)>(1);
        let thread = std::thread::spawn(move || {
            for (key, pack) in packs {
                match write_file(backend.as_ref(), durability, &key, &pack) {
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
    durability: Durability,
    compressor: Arc<Compressor>,
    plain: Option<BlobEncoder<'static>>,
    uploader: Option<Uploader>,
    body: Vec<u8>,
    records: Vec<PackRecord>,
    index: IndexFile,
    stats: WriteStats,
}

impl PackWriter {
    /// Makes this session's packs and index file durable only at the caller's next
    /// [`Backend::sync`] (packs streamed whole by a worker stay durable each), and puts its
    /// last, partial pack into the store's shared pack: [`BlobStore::commit_group`] writes
    /// it, syncs, and indexes them all.
    pub(crate) fn defer_durability(&mut self) {
        self.durability = Durability::AtSync;
    }

    /// The shareable half of this writer, for worker threads.
    pub(crate) fn compressor(&self) -> Arc<Compressor> {
        Arc::clone(&self.compressor)
    }

    /// Compresses and adds a blob unless it is known. Returns its id. A blob of
    /// [`STREAM_FROM`] bytes or more is streamed into a pack of its own.
    pub(crate) fn add(&mut self, kind: BlobKind, raw: &[u8]) -> Result<BlobId> {
        let id = BlobId::of(raw);
        self.add_with_id(kind, raw, id)?;
        Ok(id)
    }

    /// [`add`](Self::add) for a blob whose id the caller has hashed already.
    pub(crate) fn add_with_id(&mut self, kind: BlobKind, raw: &[u8], id: BlobId) -> Result<()> {
        debug_assert_eq!(id, BlobId::of(raw));
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
        Ok(())
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

    /// The dictionary that the blobs of the pack being filled need, if any.
    fn tail_dictionary(&self) -> Option<BlobId> {
        self.records
            .iter()
            .any(|r| r.codec == Codec::ZstdDictionary)
            .then(|| self.compressor.dictionary.as_ref().map(|d| d.id))
            .flatten()
    }

    fn flush_pack(&mut self) -> Result<()> {
        if self.records.is_empty() {
            return Ok(());
        }
        let dictionary = self.tail_dictionary();
        let trailer = PackTrailer {
            records: std::mem::take(&mut self.records),
            dictionary,
        };
        let pack = format::finish_pack(std::mem::take(&mut self.body), &trailer)?;
        let id = BlobId::of(&pack);
        let backend = &self.compressor.store.backend;
        let uploader = self
            .uploader
            .get_or_insert_with(|| Uploader::start(Arc::clone(backend), self.durability));
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
        if self.durability == Durability::AtSync {
            // The last, partial pack joins the one the run's sessions share.
            let dictionary = self.tail_dictionary();
            let body = std::mem::take(&mut self.body);
            let records = std::mem::take(&mut self.records);
            self.compressor
                .store
                .share_tail(&body, records, dictionary, self.compressor.writer)?;
        } else {
            self.flush_pack()?;
        }
        // Every pack must be on disk before an index file names it.
        if let Some(uploader) = self.uploader.take() {
            uploader.finish()?;
        }
        if self.durability == Durability::AtSync {
            // Indexed by the caller's group commit, after the sync that makes these packs
            // durable: an index file must never outlive a crash that its packs do not.
            self.compressor.store.hold_for_commit(&self.index)?;
            self.stats.pack_ids = self.index.packs.iter().map(|p| p.id).collect();
        } else if !self.index.entries.is_empty() {
            let data = format::encode_index(&self.index)?;
            let key = format!("index/{}", BlobId::of(&data).to_hex());
            let backend = self.compressor.store.backend.as_ref();
            match write_file(backend, self.durability, &key, &data) {
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
            state.add_own(&key, &self.index);
            drop(state);
            self.stats.pack_ids = self.index.packs.iter().map(|p| p.id).collect();
            self.stats.index = Some(key);
        }
        self.compressor.release();
        self.stats.awaited = self.compressor.settle_borrowed(self.durability)?;
        Ok(std::mem::take(&mut self.stats))
    }
}

impl Drop for PackWriter {
    /// A session that ends without `finish` (an error) must not keep others waiting.
    fn drop(&mut self) {
        self.compressor.release();
    }
}
