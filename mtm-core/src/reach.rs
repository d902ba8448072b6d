//! Reachability: which blobs a set of manifests keeps alive (the manifests, the catalogs they
//! name, and every part those catalogs list). Garbage collection marks with it and retention
//! weighs a prune with it.
//!
//! Manifests and catalogs are content-addressed, so many snapshots share them: each one is
//! read and decoded once per walk, on every core, into lean structures that skip what
//! reachability does not need (message entries of manifests, summaries of catalogs). Every
//! blob read is still checked against its hash, and a blob that cannot be read or decoded
//! fails the walk: nobody acts on partial knowledge.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::Result;
use crate::id::{BlobId, IdSet};
use crate::snapshot::model::{CatalogRefs, ManifestRefs, decode};
use crate::store::BlobStore;

/// Every blob reachable from `manifests` that is not in `known`. `known` must be closed under
/// reachability (everything reachable from a blob in it is in it too, as a walk's result
/// is): the walk does not descend into a manifest or catalog already known.
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
    let catalogs_claimed: Mutex<IdSet<BlobId>> = Mutex::default();
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let worker = || -> Result<()> {
        while let Some(id) = roots.get(next.fetch_add(1, Ordering::Relaxed)) {
            let data = store.read(id, &|| format!("manifest {id}"))?;
            let manifest: ManifestRefs = decode(&data, &format!("manifest {id}"))?;
            drop(data);
            for catalog_id in manifest.catalogs {
                if known.contains(&catalog_id) || !lock(&catalogs_claimed).insert(catalog_id) {
                    continue;
                }
                let data = store.read(&catalog_id, &|| format!("catalog {catalog_id}"))?;
                let catalog: CatalogRefs = decode(&data, &format!("catalog {catalog_id}"))?;
                drop(data);
                let mut found = lock(&found);
                found.insert(catalog_id);
                for entry in catalog.messages {
                    found.extend(entry.parts.into_iter().filter(|p| !known.contains(p)));
                }
            }
        }
        Ok(())
    };
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..threads.min(roots.len()))
            .map(|_| scope.spawn(worker))
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })?;
    Ok(found.into_inner().unwrap_or_else(PoisonError::into_inner))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
