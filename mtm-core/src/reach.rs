//! Reachability: which blobs a set of manifests keeps alive: the manifests, the catalogs
//! they name, and the parts of the messages they list. Garbage collection marks with it and
//! retention weighs a prune with it.
//!
//! A catalog describes the messages an account first saw on one day, and stays alive as
//! long as any of them is in a kept snapshot; but only the parts of the messages that kept
//! manifests list are alive. (Marking every entry of a live catalog would keep a deleted
//! message's bytes for as long as one message delivered the same day survives.)
//!
//! Manifests and catalogs are content-addressed, so many snapshots share them: each one is
//! read and decoded once per walk, on every core, into lean structures that skip what
//! reachability does not need (file names and flags of manifests, summaries of catalogs).
//! Every blob read is still checked against its hash, and a blob that cannot be read or
//! decoded fails the walk: nobody acts on partial knowledge.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::{Error, Result};
use crate::id::{BlobId, IdMap, IdSet, MessageId};
use crate::snapshot::model::{CatalogRefs, ManifestRefs, decode};
use crate::store::BlobStore;

/// Every blob reachable from `manifests` that is not in `known`. `known` must be closed under
/// reachability (everything reachable from a blob in it is in it too, as a walk's result
/// is): the walk does not read a manifest already known.
pub(crate) fn reachable(
    store: &BlobStore,
    manifests: &[BlobId],
    known: &IdSet<BlobId>,
) -> Result<IdSet<BlobId>> {
    let mut roots: Vec<BlobId> = manifests
        .iter()
        .filter(|id| !known.contains(id))
        .copied()
        .collect();
    roots.sort_unstable();
    roots.dedup();
    let found: Mutex<IdSet<BlobId>> = Mutex::new(roots.iter().copied().collect());
    // Which messages of each catalog the manifests list.
    let wanted: Mutex<IdMap<BlobId, IdSet<MessageId>>> = Mutex::default();
    parallel(&roots, |id| {
        let data = store.read(id, &|| format!("manifest {id}"))?;
        let manifest: ManifestRefs = decode(&data, &format!("manifest {id}"))?;
        drop(data);
        let mut wanted = lock(&wanted);
        for entry in manifest.messages {
            let catalog = manifest
                .catalogs
                .get(entry.catalog as usize)
                .ok_or_else(|| {
                    Error::integrity(format!("manifest {id}"), "catalog index out of range")
                })?;
            wanted.entry(*catalog).or_default().insert(entry.id);
        }
        Ok(())
    })?;
    let wanted = wanted.into_inner().unwrap_or_else(PoisonError::into_inner);
    let catalogs: Vec<(&BlobId, &IdSet<MessageId>)> = wanted.iter().collect();
    parallel(&catalogs, |(catalog_id, messages)| {
        let data = store.read(catalog_id, &|| format!("catalog {catalog_id}"))?;
        let catalog: CatalogRefs = decode(&data, &format!("catalog {catalog_id}"))?;
        drop(data);
        let mut found = lock(&found);
        if !known.contains(catalog_id) {
            found.insert(**catalog_id);
        }
        for entry in catalog.messages {
            if messages.contains(&entry.id) {
                found.extend(entry.parts.into_iter().filter(|p| !known.contains(p)));
            }
        }
        Ok(())
    })?;
    Ok(found.into_inner().unwrap_or_else(PoisonError::into_inner))
}

/// Runs `work` on every item, on every core; the first error wins.
fn parallel<T: Sync>(items: &[T], work: impl Fn(&T) -> Result<()> + Sync) -> Result<()> {
    crate::pool::for_each(items, crate::pool::workers(0), work)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
