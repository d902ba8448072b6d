//! `repair_index`: index entries rebuilt from pack trailers.
//!
//! A pack's trailer lists every blob in it (id, kind, codec, offset, lengths) and the
//! dictionary its blobs use: everything an index entry holds. So a lost or damaged index file
//! is rebuilt by reading the trailers of the packs that no readable index file names, with
//! one range read per pack (two if its trailer is longer than the first read). Packs that an
//! index names are not read at all, and blobs already indexed get no second entry: a second
//! run finds nothing to do.

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::id::BlobId;
use crate::lock::{LockKind, acquire};
use crate::repo::Repository;
use crate::store::format::{IndexFile, IndexedPack, TailRead, encode_index, read_pack_tail};
use crate::verify::Problem;

/// How many bytes are read from the end of a pack first: the trailer of a pack of up to
/// about 1,300 blobs (a 4 MiB pack of 3 KiB messages) in one read.
const FIRST_TAIL_READ: u64 = 64 * 1024;
/// At most this many entries go into one new index file.
const MAX_ENTRIES_PER_FILE: usize = 1 << 20;

/// What [`Repository::repair_index`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IndexRepairReport {
    /// Pack files in the repository.
    pub packs: u64,
    /// Packs that no readable index file named, whose trailer was read.
    pub packs_read: u64,
    /// Packs that got index entries.
    pub packs_indexed: u64,
    /// Index entries written (blobs that were not indexed before).
    pub blobs_indexed: u64,
    /// The index files written.
    pub index_files_written: Vec<String>,
    /// Damaged index files removed, once every pack was indexed without them.
    pub damaged_index_files_removed: Vec<String>,
    /// Packs whose trailer could not be read (their blobs stay unindexed), and files under
    /// `packs/` that are not packs.
    pub problems: Vec<Problem>,
}

impl IndexRepairReport {
    /// Whether every pack could be read.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Repository {
    /// Rebuilds the index from the pack trailers: every blob of a pack that no readable
    /// index file names gets an entry in a new index file. Run it when `verify` reports
    /// blobs missing from the index or a damaged index file (after a lost or damaged index
    /// file), before `gc`.
    ///
    /// Takes the exclusive gc lock ([`ErrorKind::Busy`] while a snapshot or gc runs). Only
    /// adds entries (idempotent: a second run writes nothing). A damaged index file is
    /// removed once every pack is indexed without it. A pack whose trailer is damaged is
    /// reported in [`IndexRepairReport::problems`], not fatal.
    ///
    /// ```
    /// # use mtm_core::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let repo = Repository::init(dir.path().join("repo"), RepositoryOptions::default())?;
    /// let report = repo.repair_index()?;
    /// assert_eq!(report.blobs_indexed, 0);
    /// assert!(report.is_ok());
    /// # Ok::<(), mtm_core::Error>(())
    /// ```
    pub fn repair_index(&self) -> Result<IndexRepairReport> {
        let backend = self.inner.backend.as_ref();
        let store = &self.inner.store;
        let _lock = acquire(backend, LockKind::Gc)?;
        let _full = store.full_index()?;
        store.reload()?;
        let named = store.indexed_packs()?;
        let mut report = IndexRepairReport::default();
        let mut files: Vec<IndexFile> = vec![IndexFile::default()];
        // A blob in two unindexed packs (two writers raced) gets one entry, from the first.
        let mut added = crate::id::IdSet::default();
        for key in backend.list("packs/")? {
            report.packs += 1;
            let Some(id) = pack_id(&key) else {
                report
                    .problems
                    .push(problem(&key, "not a pack file name (packs/<hh>/<hash>)"));
                continue;
            };
            if named.contains(&id) {
                continue;
            }
            report.packs_read += 1;
            let trailer = match read_trailer(backend, &key) {
                Ok(trailer) => trailer,
                Err(e) if e.kind() == ErrorKind::Integrity => {
                    report.problems.push(problem(&key, e.to_string()));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let new: Vec<_> = trailer
                .records
                .into_iter()
                .filter(|r| !store.contains(&r.id) && added.insert(r.id))
                .collect();
            if new.is_empty() {
                continue;
            }
            let file = match files.last_mut() {
                Some(file) if file.entries.len() + new.len() <= MAX_ENTRIES_PER_FILE => file,
                _ => {
                    files.push(IndexFile::default());
                    files
                        .last_mut()
                        .ok_or_else(|| Error::invalid("index", "no file"))?
                }
            };
            let number = u32::try_from(file.packs.len())
                .map_err(|_| Error::invalid("index", "too many packs"))?;
            file.packs.push(IndexedPack {
                id,
                dictionary: trailer.dictionary,
            });
            report.packs_indexed += 1;
            report.blobs_indexed += new.len() as u64;
            file.entries.extend(new.into_iter().map(|r| (number, r)));
        }
        for file in files.iter().filter(|f| !f.entries.is_empty()) {
            let data = encode_index(file)?;
            let key = format!("index/{}", BlobId::of(&data).to_hex());
            match backend.write_new(&key, &data) {
                Ok(()) => {}
                // The rebuilt file is often the lost one byte for byte: if a damaged copy
                // holds its name, these bytes are what that name promises.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    if BlobId::of(&backend.read(&key)?) != BlobId::of(&data) {
                        backend.delete(&key)?;
                        backend.write_new(&key, &data)?;
                    }
                }
                Err(e) => return Err(e),
            }
            report.index_files_written.push(key);
        }
        store.reload_all()?;
        // A damaged index file says nothing the trailers did not: once every pack is
        // indexed, it only keeps gc refusing and verify complaining.
        if report.problems.is_empty() {
            for (key, _) in store.damaged_indexes() {
                backend.delete(&key)?;
                report.damaged_index_files_removed.push(key);
            }
            store.reload()?;
        }
        Ok(report)
    }
}

/// The id of the pack at `key` (`packs/<hh>/<hash>`).
pub(super) fn pack_id(key: &str) -> Option<BlobId> {
    let rest = key.strip_prefix("packs/")?;
    let (dir, name) = rest.split_once('/')?;
    let id = BlobId::from_hex(name).ok()?;
    (id.to_hex()[..2] == *dir).then_some(id)
}

/// Reads a pack's trailer from its last bytes.
pub(super) fn read_trailer(
    backend: &dyn crate::Backend,
    key: &str,
) -> Result<crate::store::format::PackTrailer> {
    let size = backend.size(key)?;
    let mut want = size.min(FIRST_TAIL_READ);
    // The second round has exactly what the first asked for; a third cannot be needed.
    for _ in 0..2 {
        let want_now = want.min(size);
        let tail = backend.read_range(key, size - want_now, want_now)?;
        match read_pack_tail(&tail, size, key)? {
            TailRead::Trailer(trailer) => return Ok(trailer),
            TailRead::NeedMore(n) => want = n,
        }
    }
    Err(Error::integrity(key, "pack trailer unreadable"))
}

fn problem(location: &str, reason: impl Into<String>) -> Problem {
    Problem {
        location: location.to_owned(),
        reason: reason.into(),
        messages: Vec::new(),
    }
}
