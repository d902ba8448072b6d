//! Worker pools: the one way the core spreads a list of work items over threads.
//!
//! Workers are scoped threads that pull the next unstarted item from a shared counter, so
//! that a slow item never holds up the others. After the first error no further item is
//! started, and that error is what the caller gets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::error::Result;

/// How many workers to run for a requested count: 0 means one per core.
pub(crate) fn workers(requested: usize) -> usize {
    match requested {
        0 => std::thread::available_parallelism().map_or(2, usize::from),
        n => n,
    }
}

/// Hands out the items of a list, one index at a time, until the list ends or work stops.
struct Dispenser<'a, T> {
    items: &'a [T],
    next: AtomicUsize,
}

impl<'a, T> Dispenser<'a, T> {
    fn new(items: &'a [T]) -> Self {
        Self {
            items,
            next: AtomicUsize::new(0),
        }
    }

    fn next(&self) -> Option<&'a T> {
        self.items.get(self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// No item is handed out after this (the ones started run to their end).
    fn stop(&self) {
        self.next.store(usize::MAX / 2, Ordering::Relaxed);
    }
}

/// Runs `work` on every item, on `threads` workers (at most one per item). The first error
/// stops the pool and is returned.
pub(crate) fn for_each<T: Sync>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> Result<()> + Sync,
) -> Result<()> {
    let dispenser = Dispenser::new(items);
    let worker = || -> Result<()> {
        while let Some(item) = dispenser.next() {
            if let Err(e) = work(item) {
                dispenser.stop();
                return Err(e);
            }
        }
        Ok(())
    };
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..threads.min(items.len()))
            .map(|_| scope.spawn(worker))
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })
}

/// When a worker hands its results over to the consumer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batch {
    /// After this many items …
    pub items: usize,
    /// … or once the items' weights add up to this much, whichever comes first.
    pub weight: u64,
    /// Batches on their way between the workers and the consumer.
    pub in_flight: usize,
}

/// Runs `work` on every item on `threads` workers, each with a state of its own made by
/// `init` (buffers, compression contexts), and gives every result to `consume` on the calling
/// thread. Results travel in batches (one hand-over per item would cost more than a small
/// item's work), closed by item count or by the items' `weight`. With one thread, or one
/// item, everything runs on the calling thread. The first error (from `init`, `work` or
/// `consume`) stops the pool and is returned.
pub(crate) fn map_consume<T: Sync, S, R: Send>(
    items: &[T],
    threads: usize,
    batch: Batch,
    init: impl Fn() -> Result<S> + Sync,
    work: impl Fn(&mut S, &T) -> Result<R> + Sync,
    weight: impl Fn(&T) -> u64 + Sync,
    mut consume: impl FnMut(R) -> Result<()>,
) -> Result<()> {
    if threads <= 1 || items.len() <= 1 {
        let mut state = init()?;
        for item in items {
            consume(work(&mut state, item)?)?;
        }
        return Ok(());
    }
    let dispenser = Dispenser::new(items);
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = mpsc::sync_channel::<Vec<Result<R>>>(batch.in_flight);
        for _ in 0..threads.min(items.len()) {
            let tx = tx.clone();
            let (dispenser, init, work, weight) = (&dispenser, &init, &work, &weight);
            scope.spawn(move || {
                let mut state = match init() {
                    Ok(state) => state,
                    Err(e) => {
                        let _ = tx.send(vec![Err(e)]);
                        return;
                    }
                };
                let mut results = Vec::with_capacity(batch.items);
                let mut results_weight = 0;
                while let Some(item) = dispenser.next() {
                    let result = work(&mut state, item);
                    results_weight += weight(item);
                    let failed = result.is_err();
                    results.push(result);
                    if failed || results.len() >= batch.items || results_weight >= batch.weight {
                        results_weight = 0;
                        if tx.send(std::mem::take(&mut results)).is_err() || failed {
                            return;
                        }
                    }
                }
                if !results.is_empty() {
                    let _ = tx.send(results);
                }
            });
        }
        drop(tx);
        for result in rx.into_iter().flatten() {
            if let Err(e) = result.and_then(&mut consume) {
                // Stop the workers, then report the first error.
                dispenser.stop();
                return Err(e);
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use std::sync::Mutex;

    const BATCH: Batch = Batch {
        items: 4,
        weight: 100,
        in_flight: 2,
    };

    #[test]
    fn every_item_is_worked_on_once() {
        let items: Vec<u64> = (0..1000).collect();
        for threads in [1, 2, 8] {
            let seen = Mutex::new(Vec::new());
            for_each(&items, threads, |i| {
                seen.lock().unwrap().push(*i);
                Ok(())
            })
            .unwrap();
            let mut seen = seen.into_inner().unwrap();
            seen.sort_unstable();
            assert_eq!(seen, items);

            let mut consumed = Vec::new();
            map_consume(
                &items,
                threads,
                BATCH,
                || Ok(0u64),
                |calls, i| {
                    *calls += 1;
                    Ok(i * 2)
                },
                |i| *i,
                |doubled| {
                    consumed.push(doubled / 2);
                    Ok(())
                },
            )
            .unwrap();
            consumed.sort_unstable();
            assert_eq!(consumed, items);
        }
    }

    #[test]
    fn the_first_error_stops_the_pool_and_is_returned() {
        let items: Vec<u64> = (0..10_000).collect();
        for threads in [1, 3] {
            let done = AtomicUsize::new(0);
            let err = for_each(&items, threads, |i| {
                done.fetch_add(1, Ordering::Relaxed);
                if *i == 10 {
                    return Err(Error::invalid("item", "ten"));
                }
                Ok(())
            })
            .unwrap_err();
            assert!(err.to_string().contains("ten"), "{err}");
            assert!(done.load(Ordering::Relaxed) < items.len());

            let err = map_consume(
                &items,
                threads,
                BATCH,
                || Ok(()),
                |(), i| Ok(*i),
                |_| 1,
                |i| match i {
                    20 => Err(Error::invalid("result", "twenty")),
                    _ => Ok(()),
                },
            )
            .unwrap_err();
            assert!(err.to_string().contains("twenty"), "{err}");
        }
    }

    #[test]
    fn a_failed_worker_state_is_the_pools_error() {
        let err = map_consume(
            &[1, 2, 3],
            2,
            BATCH,
            || -> Result<()> { Err(Error::invalid("state", "no context")) },
            |(), i| Ok(*i),
            |_| 1,
            |_| Ok(()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no context"), "{err}");
    }
}
