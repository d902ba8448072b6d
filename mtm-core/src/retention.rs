//! Retention: keep the snapshots of the last N days (today and the N-1 days before it, in the
//! provider's time zone) and remove the rest, planned first and then carried out.
//!
//! Pruning removes snapshot records only. The bytes that only expired snapshots referenced
//! become unreferenced; the plan says how many, and garbage collection reclaims them.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;

use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};
use crate::id::{BlobId, IdSet};
use crate::names::AccountId;
use crate::reach::reachable;
use crate::repo::Repository;
use crate::restore::RequestId;
use crate::snapshot::model::snapshot_key;

/// The first day a policy of `keep_days` keeps on `today`: `today` and the `keep_days - 1`
/// days before it are kept. Days after `today` (a clock that moved backwards) are kept too.
///
/// ```
/// use mtm_core::{NaiveDate, retention_start};
/// let today = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
/// assert_eq!(retention_start(today, 15).to_string(), "2026-11-07");
/// ```
pub fn retention_start(today: NaiveDate, keep_days: u32) -> NaiveDate {
    today
        .checked_sub_days(Days::new(u64::from(keep_days.max(1) - 1)))
        .unwrap_or(NaiveDate::MIN)
}

/// A snapshot that a prune would remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiredSnapshot {
    /// Its account.
    pub account: AccountId,
    /// Its day.
    pub day: NaiveDate,
    /// Messages in it.
    pub messages: u64,
    /// Their total size.
    pub bytes: u64,
}

/// What a prune would do: shown first (`--dry-run`), then carried out by
/// [`Repository::prune`], which checks every snapshot it names again before removing any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrunePlan {
    /// The provider-local day the plan was made on.
    pub today: NaiveDate,
    /// The oldest day kept.
    pub keep_from: NaiveDate,
    /// The snapshots to remove, oldest first.
    pub expired: Vec<ExpiredSnapshot>,
    /// Snapshots kept.
    pub kept: u64,
    /// Blobs that only the expired snapshots reference.
    pub reclaimable_blobs: u64,
    /// Their stored (compressed) size: what garbage collection gets back after the prune.
    pub reclaimable_bytes: u64,
    /// Snapshots past the window that an open restore request keeps (until it is decided
    /// or its deadline passes, so what an administrator approves is what runs).
    pub pinned: Vec<PinnedSnapshot>,
}

/// A snapshot past the retention window that a restore request keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinnedSnapshot {
    /// Its account.
    pub account: AccountId,
    /// Its day.
    pub day: NaiveDate,
    /// The request that keeps it.
    pub request: RequestId,
}

/// What a prune did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Snapshot records removed.
    pub removed: u64,
}

impl Repository {
    /// Plans a prune of every account, or of one, as of `clock.now()`: which snapshots are
    /// older than the retention window, and how many stored bytes they alone hold.
    pub fn prune_plan(&self, clock: &dyn Clock, account: Option<&AccountId>) -> Result<PrunePlan> {
        self.plan_and_reach(clock, account, false)
            .map(|(plan, _)| plan)
    }

    /// The plan, and with `reach_kept` (or whenever the plan is weighed) every blob the kept
    /// snapshots reach: after the prune, exactly what garbage collection must keep.
    pub(crate) fn plan_and_reach(
        &self,
        clock: &dyn Clock,
        account: Option<&AccountId>,
        reach_kept: bool,
    ) -> Result<(PrunePlan, Option<IdSet<BlobId>>)> {
        let inner = &self.inner;
        let today = inner.zone().day_of(clock.now());
        let keep_from = retention_start(today, inner.retention_days());
        let pins = crate::restore::desk::pinned_snapshots(inner, clock.now())?;
        let mut pinned = Vec::new();
        let mut expired = Vec::new();
        let mut retained_roots = Vec::new();
        let mut expired_roots = Vec::new();
        for candidate in self.accounts()? {
            for day in inner.days(&candidate)? {
                let past = day < keep_from && account.is_none_or(|a| *a == candidate);
                let pin = pins.get(&(candidate.clone(), day));
                // A record that cannot be read (verify names it; `repair recover` cannot
                // rebuild it) must not stop the retention of every account for good: past
                // the window it expires like any other, by its name, and is counted as
                // empty; kept, it is left alone, unless what is kept must be walked (`prune
                // --gc`), which cannot know what it references and refuses.
                let record = match inner.snapshot_record(&candidate, day) {
                    Ok(record) => Some(record),
                    Err(e)
                        if e.kind() == ErrorKind::Integrity
                            && ((past && pin.is_none()) || !reach_kept) =>
                    {
                        None
                    }
                    Err(e) => return Err(e),
                };
                let roots: Vec<BlobId> = record
                    .iter()
                    .flat_map(|r| r.folders.iter().map(|f| f.manifest))
                    .collect();
                if let (true, Some(request)) = (past, pin) {
                    pinned.push(PinnedSnapshot {
                        account: candidate.clone(),
                        day,
                        request: request.clone(),
                    });
                }
                if past && pin.is_none() {
                    expired.push(ExpiredSnapshot {
                        account: candidate.clone(),
                        day,
                        messages: record.as_ref().map_or(0, |r| r.messages),
                        bytes: record.as_ref().map_or(0, |r| r.bytes),
                    });
                    expired_roots.extend(roots);
                } else {
                    retained_roots.extend(roots);
                }
            }
        }
        if expired.is_empty() {
            // Nothing expires: nothing to weigh (and no need to read every manifest unless
            // the caller wants what is kept).
            let retained = if reach_kept {
                Some(reachable(&inner.store, &retained_roots, &IdSet::default())?)
            } else {
                None
            };
            let plan = PrunePlan {
                today,
                keep_from,
                kept: snapshot_count(self)?,
                reclaimable_blobs: 0,
                reclaimable_bytes: 0,
                expired,
                pinned,
            };
            return Ok((plan, retained));
        }
        // One walk of what is kept; then only what the expired snapshots reach beyond it (a
        // manifest or catalog they share with a kept snapshot is not read again).
        let retained = reachable(&inner.store, &retained_roots, &IdSet::default())?;
        let only_expired = reachable(&inner.store, &expired_roots, &retained)?;
        let sizes: crate::id::IdMap<BlobId, u32> = inner
            .store
            .indexed_blobs()?
            .into_iter()
            .filter(|(_, r)| only_expired.contains(&r.id))
            .map(|(_, r)| (r.id, r.stored_len))
            .collect();
        let kept = snapshot_count(self)? - expired.len() as u64;
        expired.sort_by(|a, b| (a.day, &a.account).cmp(&(b.day, &b.account)));
        let plan = PrunePlan {
            today,
            keep_from,
            kept,
            reclaimable_blobs: only_expired.len() as u64,
            reclaimable_bytes: only_expired
                .iter()
                .map(|b| u64::from(sizes.get(b).copied().unwrap_or(0)))
                .sum(),
            expired,
            pinned,
        };
        Ok((plan, Some(retained)))
    }

    /// Carries out a plan as of `clock.now()`: removes its expired snapshot records.
    /// Removing a record that is already gone (an earlier, interrupted prune) is not an
    /// error, so a prune can simply be run again.
    ///
    /// The plan is not trusted: it is plain data (a binding can build one, and a plan made
    /// yesterday may be stale). Right before deleting, every snapshot it names is checked
    /// again at `clock.now()`: it must be older than the retention window and not kept by an
    /// open restore request (read afresh). If any is not, the whole prune is refused with
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming them, and nothing
    /// is removed: make a new plan. The check costs one read of the open restore requests,
    /// not a walk of the repository.
    ///
    /// A prune takes no repository lock: removing a record never endangers stored bytes (gc
    /// marks from the records that exist). [`Repository::prune_and_gc`] prunes under gc's
    /// lock, with the same check.
    pub fn prune(&self, plan: &PrunePlan, clock: &dyn Clock) -> Result<PruneReport> {
        self.prune_checked(plan, clock.now())
    }

    /// [`Repository::prune`] at `now`.
    pub(crate) fn prune_checked(
        &self,
        plan: &PrunePlan,
        now: DateTime<Utc>,
    ) -> Result<PruneReport> {
        let inner = &self.inner;
        let keep_from = retention_start(inner.zone().day_of(now), inner.retention_days());
        let pins = crate::restore::desk::pinned_snapshots(inner, now)?;
        let refused: Vec<String> = plan
            .expired
            .iter()
            .filter_map(|s| {
                if s.day >= keep_from {
                    Some(format!(
                        "{} on {} is inside the retention window (kept from {keep_from})",
                        s.account, s.day
                    ))
                } else {
                    pins.get(&(s.account.clone(), s.day)).map(|request| {
                        format!(
                            "{} on {} is kept by restore request {request}",
                            s.account, s.day
                        )
                    })
                }
            })
            .collect();
        if let Some(first) = refused.first() {
            let more = match refused.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            return Err(Error::invalid(
                "prune plan",
                format!(
                    "at {now} {first}{more}: the plan is stale or was not made by prune_plan; \
                     nothing was removed, make a new plan"
                ),
            ));
        }
        let mut report = PruneReport::default();
        for snapshot in &plan.expired {
            let key = snapshot_key(&snapshot.account, snapshot.day);
            match self.inner.backend.size(&key) {
                Ok(_) => {
                    self.inner.backend.delete(&key)?;
                    report.removed += 1;
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}

/// How many snapshot records the repository holds.
fn snapshot_count(repo: &Repository) -> Result<u64> {
    repo.accounts()?
        .iter()
        .map(|a| repo.inner.days(a).map(|d| d.len() as u64))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{FixedClock, TimeZone};

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    /// Whether a snapshot of `snapshot_day` survives a prune at `now` in `zone`.
    fn kept(snapshot_day: &str, now: &str, zone: &str, keep_days: u32) -> bool {
        let today = TimeZone::parse(zone)
            .unwrap()
            .day_of(FixedClock::parse(now).unwrap().now());
        day(snapshot_day) >= retention_start(today, keep_days)
    }

    #[test]
    fn the_window_is_today_and_the_fourteen_days_before_it() {
        let cases = [
            // (snapshot day, now, zone, keep_days, kept?)
            ("2026-11-21", "2026-11-21T12:00:00Z", "UTC", 15, true),
            ("2026-11-07", "2026-11-21T12:00:00Z", "UTC", 15, true), // the exact boundary
            ("2026-11-06", "2026-11-21T12:00:00Z", "UTC", 15, false),
            ("2026-11-06", "2026-11-20T23:59:59Z", "UTC", 15, true), // one second before midnight
            ("2026-11-06", "2026-11-21T00:00:00Z", "UTC", 15, false), // at midnight
            // Midnight in Rome (UTC+1) comes an hour before midnight UTC.
            (
                "2026-11-06",
                "2026-11-20T22:59:59Z",
                "Europe/Rome",
                15,
                true,
            ),
            (
                "2026-11-06",
                "2026-11-20T23:00:00Z",
                "Europe/Rome",
                15,
                false,
            ),
            // Across the autumn DST change (25 Oct 2026 in Rome): still 15 calendar days.
            (
                "2026-10-18",
                "2026-11-01T12:00:00Z",
                "Europe/Rome",
                15,
                true,
            ),
            (
                "2026-10-17",
                "2026-11-01T12:00:00Z",
                "Europe/Rome",
                15,
                false,
            ),
            // Across the spring change (29 Mar 2026).
            (
                "2026-03-22",
                "2026-04-05T10:00:00Z",
                "Europe/Rome",
                15,
                true,
            ),
            (
                "2026-03-21",
                "2026-04-05T10:00:00Z",
                "Europe/Rome",
                15,
                false,
            ),
            // A clock that moved backwards: snapshots "from the future" are kept.
            ("2026-11-25", "2026-11-21T12:00:00Z", "UTC", 15, true),
            // Other windows.
            ("2026-11-21", "2026-11-21T12:00:00Z", "UTC", 1, true),
            ("2026-11-20", "2026-11-21T12:00:00Z", "UTC", 1, false),
            ("2026-10-23", "2026-11-21T12:00:00Z", "UTC", 30, true),
            ("2026-10-22", "2026-11-21T12:00:00Z", "UTC", 30, false),
        ];
        for (snapshot, now, zone, keep, expected) in cases {
            assert_eq!(
                kept(snapshot, now, zone, keep),
                expected,
                "{snapshot} at {now} in {zone}, keep {keep}"
            );
        }
    }

    #[test]
    fn a_zero_day_window_still_keeps_today() {
        assert_eq!(retention_start(day("2026-11-21"), 0), day("2026-11-21"));
    }
}
