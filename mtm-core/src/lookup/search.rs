//! Search within one day or across every retained day of an account.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{AccountView, Sighting, effective_date};
use crate::error::{Error, Result};
use crate::id::{BlobId, IdMap, MessageId};
use crate::message::Summary;
use crate::snapshot::model::ManifestEntry;

/// Which days a search looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DayScope {
    /// Every day with a snapshot (the default).
    #[default]
    All,
    /// One day.
    Day(NaiveDate),
    /// The days from the first to the second, both included.
    Range(NaiveDate, NaiveDate),
}

/// What to look for. Text criteria are case-insensitive substrings (Unicode lowercase);
/// all given criteria must match.
///
/// ```
/// use mtm_core::SearchQuery;
/// let q = SearchQuery::default().subject("invoice").has_attachment(true);
/// assert_eq!(q.subject.as_deref(), Some("invoice"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// The days to search.
    pub days: DayScope,
    /// In the From header.
    pub from: Option<String>,
    /// In the To or Cc headers.
    pub to: Option<String>,
    /// In the subject.
    pub subject: Option<String>,
    /// The Message-ID, exactly (angle brackets optional).
    pub message_id: Option<String>,
    /// Dated on or after this day (the Date header, else the received date; UTC).
    pub since: Option<NaiveDate>,
    /// Dated on or before this day.
    pub until: Option<NaiveDate>,
    /// With (true) or without (false) attachments.
    pub has_attachment: Option<bool>,
}

impl SearchQuery {
    /// Restricts the days searched.
    #[must_use]
    pub fn days(mut self, days: DayScope) -> Self {
        self.days = days;
        self
    }
    /// Adds a From criterion.
    #[must_use]
    pub fn from(mut self, text: impl Into<String>) -> Self {
        self.from = Some(text.into());
        self
    }
    /// Adds a To/Cc criterion.
    #[must_use]
    pub fn to(mut self, text: impl Into<String>) -> Self {
        self.to = Some(text.into());
        self
    }
    /// Adds a subject criterion.
    #[must_use]
    pub fn subject(mut self, text: impl Into<String>) -> Self {
        self.subject = Some(text.into());
        self
    }
    /// Adds a Message-ID criterion.
    #[must_use]
    pub fn message_id(mut self, text: impl Into<String>) -> Self {
        self.message_id = Some(text.into());
        self
    }
    /// Adds a date range (both ends included).
    #[must_use]
    pub fn dated(mut self, since: Option<NaiveDate>, until: Option<NaiveDate>) -> Self {
        self.since = since;
        self.until = until;
        self
    }
    /// Adds an attachment criterion.
    #[must_use]
    pub fn has_attachment(mut self, yes: bool) -> Self {
        self.has_attachment = Some(yes);
        self
    }
}

/// One message found, with every day and folder where the snapshots saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchHit {
    /// The content id.
    pub id: MessageId,
    /// Its size in bytes.
    pub size: u64,
    /// When it was received (as first seen).
    pub received: DateTime<Utc>,
    /// Its headers' summary.
    pub summary: Summary,
    /// Where it was, day by day, oldest first.
    pub seen: Vec<Sighting>,
}

/// The query with its text criteria lowercased once.
struct Matcher {
    from: Option<String>,
    to: Option<String>,
    subject: Option<String>,
    message_id: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    has_attachment: Option<bool>,
}

impl Matcher {
    fn new(q: &SearchQuery) -> Self {
        let lower = |s: &Option<String>| s.as_ref().map(|s| s.to_lowercase());
        Self {
            from: lower(&q.from),
            to: lower(&q.to),
            subject: lower(&q.subject),
            message_id: q.message_id.as_ref().map(|m| {
                m.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            }),
            since: q
                .since
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp()),
            until: q
                .until
                .and_then(|d| d.and_hms_opt(23, 59, 59))
                .map(|t| t.and_utc().timestamp()),
            has_attachment: q.has_attachment,
        }
    }

    fn matches(&self, s: &Summary, received: i64) -> bool {
        let contains = |hay: &str, needle: &Option<String>| {
            needle
                .as_ref()
                .is_none_or(|n| hay.to_lowercase().contains(n.as_str()))
        };
        let date = effective_date(s, received);
        contains(&s.from, &self.from)
            && (self.to.is_none() || contains(&s.to, &self.to) || contains(&s.cc, &self.to))
            && contains(&s.subject, &self.subject)
            && self.message_id.as_ref().is_none_or(|m| s.message_id == *m)
            && self.since.is_none_or(|t| date >= t)
            && self.until.is_none_or(|t| date <= t)
            && self.has_attachment.is_none_or(|a| s.has_attachments == a)
    }
}

impl AccountView {
    /// Searches the account's snapshots. Hits are sorted newest first (by date).
    ///
    /// Only what the snapshots saw can be found: mail received and deleted between two
    /// snapshots is in none of them.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let matcher = Matcher::new(query);
        let days: Vec<NaiveDate> = self
            .days()?
            .into_iter()
            .filter(|d| match query.days {
                DayScope::All => true,
                DayScope::Day(day) => *d == day,
                DayScope::Range(a, b) => a <= *d && *d <= b,
            })
            .collect();
        self.preload(&days)?;
        // A message's verdict is computed once, and so is each distinct manifest's list of
        // matches: folders that did not change from one day to the next share a manifest.
        let mut verdicts: IdMap<MessageId, bool> = IdMap::default();
        let mut matches_of: IdMap<BlobId, Vec<usize>> = IdMap::default();
        let mut hits: BTreeMap<MessageId, SearchHit> = BTreeMap::new();
        for day in days {
            let record = self.record(day)?;
            for folder in &record.folders {
                let manifest = self.manifest(&folder.manifest)?;
                let catalogs = self.catalogs_of(&manifest)?;
                let summary_of = |entry: &ManifestEntry| {
                    catalogs
                        .get(entry.catalog as usize)
                        .and_then(|c| c.get(&entry.id))
                        .map(|c| &c.summary)
                        .ok_or_else(|| {
                            Error::integrity(
                                format!("message {} in {} on {day}", entry.id, folder.name),
                                "missing from its catalog",
                            )
                        })
                };
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    matches_of.entry(folder.manifest)
                {
                    let mut matching = Vec::new();
                    for (i, entry) in manifest.messages.iter().enumerate() {
                        let summary = summary_of(entry)?;
                        let matched = *verdicts
                            .entry(entry.id)
                            .or_insert_with(|| matcher.matches(summary, entry.received));
                        if matched {
                            matching.push(i);
                        }
                    }
                    slot.insert(matching);
                }
                for &i in matches_of.get(&folder.manifest).into_iter().flatten() {
                    let entry = &manifest.messages[i];
                    let hit = match hits.entry(entry.id) {
                        std::collections::btree_map::Entry::Occupied(hit) => hit.into_mut(),
                        std::collections::btree_map::Entry::Vacant(slot) => {
                            slot.insert(SearchHit {
                                id: entry.id,
                                size: entry.size,
                                received: DateTime::from_timestamp(entry.received, 0)
                                    .unwrap_or_default(),
                                summary: summary_of(entry)?.clone(),
                                seen: Vec::new(),
                            })
                        }
                    };
                    hit.seen.push(Sighting {
                        day,
                        folder: folder.name.clone(),
                        flags: entry.flags,
                        keywords: super::diff::sorted_keywords(&entry.keywords),
                    });
                }
            }
        }
        let mut hits: Vec<SearchHit> = hits.into_values().collect();
        hits.sort_by_key(|h| std::cmp::Reverse(effective_date(&h.summary, h.received.timestamp())));
        Ok(hits)
    }
}
