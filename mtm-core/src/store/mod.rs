//! The blob store: content-addressed, compressed, deduplicated bytes grouped into immutable
//! pack files, found through index files.
//!
//! Writers append blobs to a [`PackWriter`]; when a pack reaches [`PACK_TARGET`] it is
//! written whole; [`PackWriter::finish`] writes one index file naming every new blob. A blob
//! is visible to readers only once its index file exists, so a crash leaves at worst
//! unreferenced packs, never a dangling reference.
//!
//! This module holds the [`BlobStore`] handle and the storage keys; each concern has its own
//! file: `index` (the index in memory, read from the index files), `read` (blobs read back
//! and checked), `dictionaries` (header dictionaries), `write` (writing sessions and packs),
//! with the formats in `format` and compression in `codec`.

pub(crate) mod codec;
mod consolidate;
mod dictionaries;
pub(crate) mod filter;
pub(crate) mod format;
mod index;
mod read;
mod shared;
pub(crate) mod sorted;
mod write;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};

use codec::Dictionary;

use crate::backend::Backend;
use crate::error::Result;
use crate::id::{BlobId, IdMap};

pub(crate) use format::BlobKind as Kind;
use index::{IndexState, load_lazy};
pub(crate) use write::{
    BlobEncoder, CompressedBlob, Compressor, Durability, NewBlob, PackWriter, WrittenPack,
};

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

/// Shared access to every blob of a repository.
#[derive(Debug)]
pub(crate) struct BlobStore {
    backend: Arc<dyn Backend>,
    index: RwLock<IndexState>,
    dictionaries: Mutex<HashMap<BlobId, Arc<Dictionary>>>,
    /// Dictionaries found damaged when picking the one writers use, with why: not read
    /// again by every snapshot of this process (files never change under their name).
    damaged_dictionaries: Mutex<HashMap<BlobId, String>>,
    /// Header samples towards a dictionary, while the repository has none; held while one
    /// is trained, so that concurrent first snapshots train one, not one each.
    training: Mutex<dictionaries::TrainingSamples>,
    /// Blobs that a writer of this process has taken on but not yet indexed: two snapshots
    /// running at once store shared content once, and the one that borrows waits for it (in a
    /// group commit, the commit that writes its record does).
    claims: Mutex<IdMap<BlobId, u64>>,
    claims_released: Condvar,
    next_writer: AtomicU64,
    /// Shared by every snapshot taken through this store (see [`BlobStore::in_flight`]).
    in_flight: crate::pool::Budget,
    /// Index entries of group-commit sessions not yet in an index file (see
    /// [`BlobStore::commit_group`]).
    held: Mutex<format::IndexFile>,
    /// The pack that group-commit sessions share for their last blobs (see `shared`).
    shared: Mutex<shared::SharedPack>,
    /// Held while a full shared pack is written (see `shared`).
    shared_writes: Mutex<shared::SharedWrites>,
}

impl BlobStore {
    /// Opens the store: lists the index files, and reads none of them yet (lookups probe
    /// them as they need; see [`BlobStore::full_index`] for the whole index).
    pub(crate) fn open(backend: Arc<dyn Backend>) -> Result<Self> {
        let state = load_lazy(backend.as_ref())?;
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
            training: Mutex::new(dictionaries::TrainingSamples::default()),
            claims: Mutex::new(IdMap::default()),
            claims_released: Condvar::new(),
            next_writer: AtomicU64::new(1),
            in_flight: crate::pool::Budget::new(IN_FLIGHT),
            held: Mutex::new(format::IndexFile::default()),
            shared: Mutex::new(shared::SharedPack::default()),
            shared_writes: Mutex::new(shared::SharedWrites::default()),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::codec::Codec;
    use super::*;
    use crate::backend::MemoryBackend;
    use crate::error::ErrorKind;

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
    fn opening_reads_no_index_file_and_a_lookup_reads_a_few_ranges_of_each() {
        let (backend, writer) = store();
        for i in 0..20u32 {
            let mut w = writer.writer(None);
            w.add(Kind::Part, &i.to_le_bytes()).unwrap();
            w.finish().unwrap();
        }
        let counted = Arc::new(crate::backend::FaultInjectingBackend::new(
            backend.clone(),
            0,
        ));
        let reader = BlobStore::open(counted.clone()).unwrap();
        assert_eq!(counted.reads(), 0, "opening reads no index file");
        let mut w = writer.writer(None);
        let added = w.add(Kind::Part, b"one more").unwrap();
        w.finish().unwrap();
        assert!(!reader.contains(&added), "not listed yet");
        // First lookup: each file's header once, then at most two ranges per file.
        let before = counted.reads();
        reader.reload().unwrap();
        assert_eq!(counted.reads(), before, "a reload lists, reads nothing");
        assert!(reader.contains(&added));
        let files = backend.list("index/").unwrap().len() as u64;
        assert!(counted.reads() - before <= 3 * files + 1);
        // Later lookups: no header again.
        let before = counted.reads();
        assert!(reader.contains(&crate::id::BlobId::of(&7u32.to_le_bytes())));
        assert!(counted.reads() - before <= 2 * files + 1);
        assert_eq!(reader.read(&added, &|| "t".into()).unwrap(), b"one more");
        for i in 0..20u32 {
            let id = crate::id::BlobId::of(&i.to_le_bytes());
            assert!(reader.contains(&id), "blob {i} still known");
        }
    }

    #[test]
    fn once_a_file_is_probed_often_its_filter_answers_for_blobs_it_does_not_hold() {
        let (backend, writer) = store();
        let mut w = writer.writer(None);
        let stored: Vec<_> = (0..2_000u32)
            .map(|i| w.add(Kind::Part, &i.to_le_bytes()).unwrap())
            .collect();
        w.finish().unwrap();
        assert_eq!(backend.list("index/").unwrap().len(), 1);
        let counted = Arc::new(crate::backend::FaultInjectingBackend::new(
            backend.clone(),
            0,
        ));
        let reader = BlobStore::open(counted.clone()).unwrap();
        let absent = |i: u32| crate::id::BlobId::of(&(1_000_000 + i).to_le_bytes());
        // The first probes go to the file (a `cat` never reads a filter), then the
        // filter is read once.
        for i in 0..20 {
            assert!(!reader.contains(&absent(i)));
        }
        let before = counted.reads();
        for i in 20..1_020 {
            assert!(!reader.contains(&absent(i)));
        }
        let reads = counted.reads() - before;
        // About 1% let through by the filter, two reads each; 2,000 without a filter.
        assert!(reads < 60, "{reads} reads for 1,000 absent blobs");
        assert!(stored.iter().all(|id| reader.contains(id)), "none refused");
    }

    #[test]
    fn a_lookup_in_a_fresh_handle_finds_a_blob_written_after_it_opened() {
        let (backend, writer) = store();
        let reader = BlobStore::open(backend.clone()).unwrap();
        let mut w = writer.writer(None);
        let id = w.add(Kind::Part, b"delivered later").unwrap();
        w.finish().unwrap();
        // A long-lived reader sees new snapshots without reloading by hand.
        assert_eq!(
            reader.read(&id, &|| "t".into()).unwrap(),
            b"delivered later"
        );
    }

    #[test]
    fn a_reload_after_index_files_were_removed_reads_the_whole_index_again() {
        let (backend, writer) = store();
        let mut ids = Vec::new();
        for i in 0..3u32 {
            let mut w = writer.writer(None);
            ids.push(w.add(Kind::Part, &i.to_le_bytes()).unwrap());
            w.finish().unwrap();
        }
        let reader = BlobStore::open(backend.clone()).unwrap();
        let first = backend.list("index/").unwrap()[0].clone();
        backend.delete(&first).unwrap();
        reader.reload().unwrap();
        assert_eq!(ids.iter().filter(|id| reader.contains(id)).count(), 2);
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
        // Probing reads entries, not the whole file: the damage shows as the blob's own
        // check failing, and the full read that verify makes names the file.
        {
            let _full = reopened.full_index().unwrap();
            assert_eq!(reopened.damaged_indexes().len(), 1);
            assert_eq!(reopened.damaged_indexes()[0].0, key);
        }
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

    #[test]
    fn sessions_of_a_group_commit_share_one_pack_for_their_last_blobs() {
        let (backend, store) = store();
        let packs = || backend.list("packs/").unwrap().len();
        let mut ids = Vec::new();
        for account in 0..5 {
            let mut w = store.writer(None);
            w.defer_durability();
            ids.push(
                w.add(Kind::Part, format!("body of account {account}").as_bytes())
                    .unwrap(),
            );
            assert_eq!(w.finish().unwrap().blobs, 1);
        }
        assert_eq!(packs(), 0, "a partial pack was written per session");
        assert_eq!(shared::waiting_blobs(&store), 5);
        store.commit_group().unwrap();
        assert_eq!(packs(), 1, "five small sessions, one pack");
        let again = BlobStore::open(backend.clone()).unwrap();
        for (account, id) in ids.iter().enumerate() {
            assert_eq!(
                again.read(id, &|| "t".into()).unwrap(),
                format!("body of account {account}").as_bytes()
            );
        }
    }

    #[test]
    fn a_session_outside_the_group_commit_writes_the_shared_pack_it_borrows_from() {
        let (backend, store) = store();
        let mut run = store.writer(None);
        run.defer_durability();
        let shared = run.add(Kind::Part, b"newsletter for everyone").unwrap();
        run.finish().unwrap();
        let mut alone = store.writer(None);
        alone.add(Kind::Part, b"newsletter for everyone").unwrap();
        alone.add(Kind::Part, b"its own headers").unwrap();
        // Would wait for ever if it left the shared pack to a commit it is not part of.
        assert_eq!(alone.finish().unwrap().blobs, 1);
        assert_eq!(shared::waiting_blobs(&store), 0);
        assert_eq!(
            store.held_entries(),
            0,
            "what it names is not in an index file yet"
        );
        assert_eq!(backend.list("index/").unwrap().len(), 2);
        assert!(store.contains(&shared));
        assert_eq!(backend.list("packs/").unwrap().len(), 2);
    }

    #[test]
    fn a_session_of_the_run_borrows_from_the_shared_pack_without_waiting() {
        let (_, store) = store();
        let mut first = store.writer(None);
        first.defer_durability();
        first
            .add(Kind::Part, b"copy delivered to two accounts")
            .unwrap();
        first.finish().unwrap();
        let mut second = store.writer(None);
        second.defer_durability();
        second
            .add(Kind::Part, b"copy delivered to two accounts")
            .unwrap();
        assert_eq!(second.finish().unwrap().blobs, 0);
        assert_eq!(
            shared::waiting_blobs(&store),
            1,
            "the pack was written early"
        );
    }

    #[test]
    fn a_session_of_the_run_leaves_a_blob_another_is_storing_to_the_commit_instead_of_waiting() {
        let (backend, store) = store();
        let mut storing = store.writer(None);
        storing.defer_durability();
        let mut borrowing = store.writer(None);
        borrowing.defer_durability();
        storing.add(Kind::Part, b"forwarded attachment").unwrap();
        let shared = borrowing.add(Kind::Part, b"forwarded attachment").unwrap();
        let finishing = std::thread::spawn(move || borrowing.finish());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !finishing.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(
            finishing.is_finished(),
            "the session waited for another account's session to end"
        );
        let stats = finishing.join().unwrap().unwrap();
        assert!(stats.awaited.contains(&shared), "{:?}", stats.awaited);
        let settling = {
            let store = Arc::clone(&store);
            let awaited = stats.awaited.clone();
            std::thread::spawn(move || store.settle_awaited(&awaited))
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(
            !settling.is_finished(),
            "the commit went ahead while the blob was still being stored"
        );
        storing.finish().unwrap();
        settling.join().unwrap().unwrap();
        store.commit_group().unwrap();
        let again = BlobStore::open(backend).unwrap();
        assert_eq!(
            again.read(&shared, &|| "t".into()).unwrap(),
            b"forwarded attachment"
        );
    }

    #[test]
    fn the_commit_of_a_run_refuses_a_blob_whose_session_failed() {
        let (_, store) = store();
        let mut failing = store.writer(None);
        failing.defer_durability();
        let mut borrowing = store.writer(None);
        borrowing.defer_durability();
        failing.add(Kind::Part, b"shared").unwrap();
        borrowing.add(Kind::Part, b"shared").unwrap();
        let awaited = borrowing.finish().unwrap().awaited;
        drop(failing);
        let err = store.settle_awaited(&awaited).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(
            err.to_string().contains("take this snapshot again"),
            "{err}"
        );
    }

    #[test]
    fn writing_a_full_shared_pack_keeps_the_blobs_of_the_next_one_claimed() {
        let (backend, store) = store();
        // Incompressible bodies, so that two tails overfill one shared pack.
        let noise = |seed: u8, len: usize| -> Vec<u8> {
            let mut x = u64::from(seed) + 1;
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        };
        let mut ids = Vec::new();
        for seed in 0..2 {
            let mut w = store.writer(None);
            w.defer_durability();
            ids.push(
                w.add(Kind::Part, &noise(seed, PACK_TARGET * 2 / 3))
                    .unwrap(),
            );
            w.finish().unwrap();
        }
        assert_eq!(backend.list("packs/").unwrap().len(), 1, "the full pack");
        assert_eq!(shared::waiting_blobs(&store), 1);
        assert_eq!(
            lock(&store.claims).get(&ids[1]),
            Some(&shared::SHARED_WRITER),
            "a blob waiting in the next shared pack lost its claim"
        );
        store.commit_group().unwrap();
        let again = BlobStore::open(backend).unwrap();
        for (seed, id) in ids.iter().enumerate() {
            assert_eq!(
                again.read(id, &|| "t".into()).unwrap(),
                noise(seed as u8, PACK_TARGET * 2 / 3)
            );
        }
    }
}
