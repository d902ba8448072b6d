//! Worker pools: the one way the core spreads a list of work items over threads.
//!
//! Workers are scoped threads that pull the next unstarted item from a shared counter, so
//! that a slow item never holds up the others. After the first error no further item is
//! started, and that error is what the caller gets.
//!
//! Work that holds its item in memory (a snapshot reading messages) runs under a [`Budget`]
//! of bytes shared by every pool of a repository handle, so that two workers never hold two
//! huge messages at once: peak memory stays near the largest message, not a multiple of it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError, mpsc};

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

/// Bytes that work items hold while they are in memory, shared by every pool that draws on
/// it: an item takes its weight (at most the whole budget, so an item larger than the budget
/// runs alone) before its work starts, and gives it back once its result is consumed.
/// Waiters are served in arrival order, so a large item is not starved by a stream of
/// small ones.
#[derive(Debug)]
pub(crate) struct Budget {
    capacity: u64,
    state: Mutex<BudgetState>,
    changed: Condvar,
}

#[derive(Debug)]
struct BudgetState {
    available: u64,
    /// The turn the next waiter gets …
    next_turn: u64,
    /// … and the turn being served: waiters queue between the two.
    serving: u64,
}

/// A share of a [`Budget`], given back when dropped.
#[derive(Debug)]
pub(crate) struct Permit<'b> {
    budget: &'b Budget,
    cost: u64,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut state = self.budget.lock();
        state.available += self.cost;
        let waiters = state.next_turn != state.serving;
        drop(state);
        // Nobody to wake most of the time: no system call then.
        if waiters {
            self.budget.changed.notify_all();
        }
    }
}

impl Budget {
    /// A budget of `capacity` bytes (at least 1).
    pub(crate) fn new(capacity: u64) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            state: Mutex::new(BudgetState {
                available: capacity,
                next_turn: 0,
                serving: 0,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `weight` of the budget if it is free now and nobody waits for their turn.
    pub(crate) fn try_take(&self, weight: u64) -> Option<Permit<'_>> {
        let cost = weight.min(self.capacity);
        let mut state = self.lock();
        (state.serving == state.next_turn && state.available >= cost).then(|| {
            state.available -= cost;
            Permit { budget: self, cost }
        })
    }

    /// `weight` of the budget, once every earlier waiter is served and it is free.
    pub(crate) fn take(&self, weight: u64) -> Permit<'_> {
        let cost = weight.min(self.capacity);
        let mut state = self.lock();
        let turn = state.next_turn;
        state.next_turn += 1;
        while state.serving != turn || state.available < cost {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.available -= cost;
        state.serving += 1;
        let waiters = state.next_turn != state.serving;
        drop(state);
        // The next in line may fit too.
        if waiters {
            self.changed.notify_all();
        }
        Permit { budget: self, cost }
    }
}

/// Runs `work` on every item on `threads` workers, each with a state of its own made by
/// `init` (buffers, compression contexts), and gives every result to `consume` on the calling
/// thread. Results travel in batches (one hand-over per item would cost more than a small
/// item's work), closed by item count or by the items' `weight`. Each item holds its
/// `weight` of `budget` from the start of its work until its result is consumed; a worker
/// that must wait for the budget first hands over what it holds, so that it can be freed.
/// With one thread, or one item, everything runs on the calling thread. The first error
/// (from `init`, `work` or `consume`) stops the pool and is returned.
#[expect(
    clippy::too_many_arguments,
    reason = "each is one aspect of the pool, named"
)]
pub(crate) fn map_consume<T: Sync, S, R: Send>(
    items: &[T],
    threads: usize,
    batch: Batch,
    budget: &Budget,
    init: impl Fn() -> Result<S> + Sync,
    work: impl Fn(&mut S, &T) -> Result<R> + Sync,
    weight: impl Fn(&T) -> u64 + Sync,
    mut consume: impl FnMut(R) -> Result<()>,
) -> Result<()> {
    // No state is made for no work (a worker's state may be costly: compression contexts).
    if items.is_empty() {
        return Ok(());
    }
    if threads <= 1 || items.len() <= 1 {
        let mut state = init()?;
        for item in items {
            let _permit = budget.take(weight(item));
            consume(work(&mut state, item)?)?;
        }
        return Ok(());
    }
    let dispenser = Dispenser::new(items);
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = mpsc::sync_channel::<Vec<(Result<R>, Option<Permit<'_>>)>>(batch.in_flight);
        for _ in 0..threads.min(items.len()) {
            let tx = tx.clone();
            let (dispenser, init, work, weight) = (&dispenser, &init, &work, &weight);
            scope.spawn(move || {
                let mut state = match init() {
                    Ok(state) => state,
                    Err(e) => {
                        let _ = tx.send(vec![(Err(e), None)]);
                        return;
                    }
                };
                let mut results = Vec::with_capacity(batch.items);
                let mut results_weight = 0;
                while let Some(item) = dispenser.next() {
                    let permit = match budget.try_take(weight(item)) {
                        Some(permit) => permit,
                        None => {
                            // What this worker holds may be what the budget waits for.
                            if !results.is_empty() {
                                results_weight = 0;
                                if tx.send(std::mem::take(&mut results)).is_err() {
                                    return;
                                }
                            }
                            budget.take(weight(item))
                        }
                    };
                    let result = work(&mut state, item);
                    results_weight += weight(item);
                    let failed = result.is_err();
                    results.push((result, Some(permit)));
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
        for (result, permit) in rx.into_iter().flatten() {
            let consumed = result.and_then(&mut consume);
            drop(permit);
            if let Err(e) = consumed {
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
                &Budget::new(u64::MAX),
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
                &Budget::new(u64::MAX),
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
            &Budget::new(u64::MAX),
            || -> Result<()> { Err(Error::invalid("state", "no context")) },
            |(), i| Ok(*i),
            |_| 1,
            |_| Ok(()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no context"), "{err}");
    }

    #[test]
    fn items_in_flight_never_exceed_the_budget_and_a_large_one_runs_alone() {
        // Weights in bytes; 10 is more than the whole budget of 4.
        let items: Vec<u64> = (0..400).map(|i| if i % 7 == 3 { 10 } else { 1 }).collect();
        let budget = Budget::new(4);
        let in_flight = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let cost = |w: u64| w.min(4) as usize;
        map_consume(
            &items,
            4,
            BATCH,
            &budget,
            || Ok(()),
            |(), w| {
                let now = in_flight.fetch_add(cost(*w), Ordering::SeqCst) + cost(*w);
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::yield_now();
                Ok(*w)
            },
            |w| *w,
            |w| {
                in_flight.fetch_sub(cost(w), Ordering::SeqCst);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(in_flight.load(Ordering::SeqCst), 0);
        assert!(most.load(Ordering::SeqCst) <= 4, "{most:?} in flight");
        // Every permit came back: the whole budget can be taken again.
        assert!(budget.try_take(4).is_some());
    }

    #[test]
    fn a_waiting_large_item_is_served_before_later_small_ones() {
        let budget = Budget::new(4);
        let small = budget.take(1);
        std::thread::scope(|scope| {
            let large = scope.spawn(|| {
                let _all = budget.take(100);
            });
            // Until the large item is in line.
            let since = std::time::Instant::now();
            while {
                let state = budget.lock();
                state.next_turn == state.serving
            } {
                assert!(
                    since.elapsed() < std::time::Duration::from_secs(10),
                    "the large item never waited"
                );
                std::thread::yield_now();
            }
            // Three units are free, but the large item waits first in line.
            assert!(budget.try_take(1).is_none());
            drop(small);
            large.join().unwrap();
        });
        assert!(budget.try_take(4).is_some());
    }
}
