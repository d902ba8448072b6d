//! The pack that the sessions of a group commit share for their last, partial pack: a run
//! over many small accounts writes one pack file per few MiB of new blobs, not one (and a
//! writer thread) per account, which on a night of 10,000 accounts with a little new mail
//! each was 10,000 files of a few KiB.
//!
//! A session of a group commit ([`Durability::AtSync`](super::Durability)) writes its full
//! packs as before, and hands its last, partial one to the store's shared pack
//! ([`BlobStore::share_tail`]); the claims on its blobs pass to the shared pack. The shared
//! pack is written when it is full or when the run commits
//! ([`BlobStore::commit_group`] writes it before the sync that makes packs durable), and its
//! index entries are held for the commit like any session's. Until then its blobs are
//! claimed by [`SHARED_WRITER`]: a session of the same run that references one needs no wait
//! (the commit that takes its record writes the shared pack first); any other session
//! commits the group before it finishes.

use super::format::{self, IndexFile, IndexedPack, PackRecord, PackTrailer};
use super::{BlobStore, PACK_TARGET, lock, pack_key};
use crate::error::{Error, ErrorKind, Result};
use crate::id::BlobId;

/// The claim owner of blobs in the shared pack (sessions are numbered from 1).
pub(super) const SHARED_WRITER: u64 = 0;

/// The shared pack being filled, and whether an earlier one was lost.
#[derive(Debug, Default)]
pub(super) struct SharedPack {
    /// The pack's bytes so far: the magic, then the blobs' stored bytes; empty when no
    /// blob waits.
    body: Vec<u8>,
    records: Vec<PackRecord>,
    /// The dictionary the blobs compressed with one use (a pack names at most one).
    dictionary: Option<BlobId>,
}

/// Held while a full shared pack is written: sessions go on filling the next one meanwhile,
/// and a flush waits for the write to end. Locked after [`SharedPack`], never before.
#[derive(Debug, Default)]
pub(super) struct SharedWrites {
    /// Why a shared pack of this run could not be written. The sessions whose blobs it
    /// held must not be committed, and one of them may join the run's commits later than
    /// the next one: every later commit of the run fails with this (a storage that failed a
    /// write rarely takes the next), until [`BlobStore::start_group_commit`] clears it.
    lost: Option<String>,
}

impl SharedPack {
    /// Takes the pack's blobs out (the pack is empty afterwards); `None` if none waits.
    fn take(&mut self) -> Option<(Vec<u8>, PackTrailer)> {
        if self.records.is_empty() {
            return None;
        }
        let trailer = PackTrailer {
            records: std::mem::take(&mut self.records),
            dictionary: self.dictionary.take(),
        };
        Some((std::mem::take(&mut self.body), trailer))
    }
}

impl BlobStore {
    /// Takes in a session's last, partial pack: `body` (the pack magic, then the stored
    /// bytes `records` point into), whose blobs are claimed by session `writer` and
    /// compressed with `dictionary` where their codec says so. The blobs join the shared
    /// pack, which is written first if they would overfill it or need another dictionary,
    /// and their claims pass to [`SHARED_WRITER`].
    pub(super) fn share_tail(
        &self,
        body: &[u8],
        records: Vec<PackRecord>,
        dictionary: Option<BlobId>,
        writer: u64,
    ) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let blobs = body
            .get(format::PACK_MAGIC.len()..)
            .ok_or_else(|| Error::invalid("pack", "a partial pack without its magic"))?;
        let mut shared = lock(&self.shared);
        let other_dictionary = matches!(
            (shared.dictionary, dictionary),
            (Some(theirs), Some(ours)) if theirs != ours
        );
        // A full pack is written once this session's blobs are in the next one, with the
        // shared pack unlocked: the other sessions do not wait for the write. The write is
        // claimed before the pack is unlocked, so that a flush waits for it.
        let mut full = None;
        if other_dictionary || shared.body.len() + blobs.len() > PACK_TARGET {
            full = shared
                .take()
                .map(|taken| (taken, lock(&self.shared_writes)));
        }
        if shared.body.is_empty() {
            shared
                .body
                .reserve(PACK_TARGET.min(4 * blobs.len()).max(blobs.len() + 8));
            shared.body.extend_from_slice(format::PACK_MAGIC);
        }
        let shift = u32::try_from(shared.body.len() - format::PACK_MAGIC.len())
            .map_err(|_| Error::invalid("pack", "blob does not fit in a pack"))?;
        let mut moved = Vec::with_capacity(records.len());
        for record in records {
            let offset = record
                .offset
                .checked_add(shift)
                .ok_or_else(|| Error::invalid("pack", "blob does not fit in a pack"))?;
            moved.push(PackRecord { offset, ..record });
        }
        shared.body.extend_from_slice(blobs);
        shared.dictionary = shared.dictionary.or(dictionary);
        let mut claims = lock(&self.claims);
        for record in &moved {
            if let Some(owner) = claims.get_mut(&record.id)
                && *owner == writer
            {
                *owner = SHARED_WRITER;
            }
        }
        drop(claims);
        shared.records.extend(moved);
        drop(shared);
        match full {
            Some(((body, trailer), mut writes)) => self.write_shared(body, trailer, &mut writes),
            None => Ok(()),
        }
    }

    /// Writes the shared pack, if any blob waits in it, without waiting for the disk (the
    /// group commit syncs next), and holds its index entries for the commit. An error if
    /// this or an earlier shared pack of the run could not be written: the sessions whose
    /// blobs it held are not to be committed.
    pub(super) fn flush_shared(&self) -> Result<()> {
        let mut shared = lock(&self.shared);
        // Waits for a full pack being written by a session.
        let mut writes = lock(&self.shared_writes);
        if let Some((body, trailer)) = shared.take() {
            drop(shared);
            self.write_shared(body, trailer, &mut writes)?;
        }
        match &writes.lost {
            None => Ok(()),
            Some(why) => Err(Error::storage(
                "packs",
                std::io::Error::other(format!("a pack shared by this run was lost: {why}")),
            )),
        }
    }

    /// Starts a run of group commits: a shared pack lost by an earlier run no longer fails
    /// this one's commits (that run's sessions were never committed).
    pub(crate) fn start_group_commit(&self) {
        let _shared = lock(&self.shared);
        lock(&self.shared_writes).lost = None;
    }

    /// Writes a shared pack taken out of the store (`body` holds the magic and the blobs
    /// `trailer` names), while `writes` is held, and holds its index entries for the commit.
    fn write_shared(
        &self,
        body: Vec<u8>,
        trailer: PackTrailer,
        writes: &mut SharedWrites,
    ) -> Result<()> {
        let dictionary = trailer.dictionary;
        let written = format::finish_pack(body, &trailer).and_then(|pack| {
            let id = BlobId::of(&pack);
            match self.backend.write_new_unsynced(&pack_key(&id), &pack) {
                Err(e) if e.kind() != ErrorKind::AlreadyExists => Err(e),
                _ => Ok(id),
            }
        });
        let held = written.and_then(|id| {
            self.hold_for_commit(&IndexFile {
                packs: vec![IndexedPack { id, dictionary }],
                entries: trailer.records.iter().map(|r| (0, *r)).collect(),
            })
        });
        // Written or not, its blobs are no longer claimed (those of the next shared pack
        // still are): a session waiting for one finds it indexed, or missing (and fails
        // rather than name lost bytes).
        let mut claims = lock(&self.claims);
        for record in &trailer.records {
            if claims.get(&record.id) == Some(&SHARED_WRITER) {
                claims.remove(&record.id);
            }
        }
        drop(claims);
        self.claims_released.notify_all();
        if let Err(e) = held {
            writes.lost.get_or_insert_with(|| e.to_string());
            return Err(e);
        }
        Ok(())
    }
}

/// How many blobs wait in the shared pack (for tests).
#[cfg(test)]
pub(super) fn waiting_blobs(store: &BlobStore) -> usize {
    lock(&store.shared).records.len()
}
