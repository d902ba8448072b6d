//! What changed between two days, or between a day and the live Maildir: the "what did I
//! lose?" view. History of one message across days.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use serde::Serialize;

use super::AccountView;
use crate::error::{Error, ErrorKind, Result};
use crate::flags::Flags;
use crate::id::{IdMap, MessageId};
use crate::message::{Summary, summarize};
use crate::names::FolderName;
use crate::source::unique_key;
use crate::source::{MaildirAccount, ReadOutcome};

/// Where and how a message was on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sighting {
    /// The day.
    pub day: NaiveDate,
    /// The folder.
    pub folder: FolderName,
    /// Its flags there.
    pub flags: Flags,
    /// Its IMAP keywords there (the tags mail clients set: `$label1`, `Junk` …), sorted.
    pub keywords: Vec<String>,
}

/// Where a message is on one side of a diff: a folder, with its flags and keywords there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Placement {
    /// The folder.
    pub folder: FolderName,
    /// Its system flags there.
    pub flags: Flags,
    /// Its IMAP keywords there, sorted and without repeats (the letters a server gives
    /// them do not matter).
    pub keywords: Vec<String>,
}

impl Placement {
    /// A placement, its keywords sorted and without repeats.
    pub fn new(folder: FolderName, flags: Flags, keywords: &[String]) -> Self {
        Self {
            folder,
            flags,
            keywords: sorted_keywords(keywords),
        }
    }
}

/// Keywords as a set: sorted, without repeats.
pub(crate) fn sorted_keywords(keywords: &[String]) -> Vec<String> {
    let mut keywords = keywords.to_vec();
    keywords.sort();
    keywords.dedup();
    keywords
}

/// One side of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffSide {
    /// A snapshot day.
    Day(NaiveDate),
    /// The live Maildir, as it is now.
    Live,
}

/// How a message changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// In the older side, in no folder of the newer one: deleted (or expunged).
    Removed,
    /// In the newer side only.
    Added,
    /// In both, but in other folders.
    Moved,
    /// In the same folders, with other system flags (its keywords may have changed too).
    FlagsChanged,
    /// In the same folders with the same system flags, but other keywords: a tag set or
    /// removed in a mail client (`$label1`, `Junk`, `NonJunk` …).
    KeywordsChanged,
}

/// One changed message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffEntry {
    /// How it changed.
    pub change: ChangeKind,
    /// The content id.
    pub id: MessageId,
    /// Its headers' summary.
    pub summary: Summary,
    /// Its size in bytes.
    pub size: u64,
    /// Folders, flags and keywords on the older side (empty if added).
    pub before: Vec<Placement>,
    /// Folders, flags and keywords on the newer side (empty if removed).
    pub after: Vec<Placement>,
}

/// The changes between two sides, removed first, then added, moved, flags changed,
/// keywords changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotDiff {
    /// The older side.
    pub from: DiffSide,
    /// The newer side.
    pub to: DiffSide,
    /// The changes.
    pub entries: Vec<DiffEntry>,
    /// What a diff cannot show.
    pub note: &'static str,
    /// What the live side skipped, each naming its path: what the scan of the live Maildir
    /// refused (symlinks, FIFOs, oversized control files …), messages that could not be read
    /// (they are missing from the live side, so they may show as removed) and messages that
    /// vanished while the diff read them. Always empty between two days.
    pub warnings: Vec<String>,
}

impl SnapshotDiff {
    /// How many entries are of `kind`.
    pub fn count(&self, kind: ChangeKind) -> usize {
        self.entries.iter().filter(|e| e.change == kind).count()
    }
}

/// Shown with every diff: snapshots see the mailbox once a day.
pub const DIFF_NOTE: &str = "A diff shows only what the snapshots saw: mail received and \
deleted between two snapshots is in neither, and mail a POP3 client removed from the server \
before a snapshot was never captured.";

/// One side's content: per message, its folders with flags and keywords, plus what a list
/// shows.
#[derive(Default)]
struct Side {
    places: IdMap<MessageId, BTreeSet<Placement>>,
    about: IdMap<MessageId, (Summary, u64)>,
}

impl Side {
    fn add(&mut self, id: MessageId, folder: FolderName, flags: Flags, keywords: &[String]) {
        self.places
            .entry(id)
            .or_default()
            .insert(Placement::new(folder, flags, keywords));
    }
}

impl AccountView {
    /// Compares two snapshot days of this account.
    pub fn diff(&self, from: NaiveDate, to: NaiveDate) -> Result<SnapshotDiff> {
        self.preload(&[from, to])?;
        let before = self.side_of_day(from)?;
        let after = self.side_of_day(to)?;
        Ok(compare(
            DiffSide::Day(from),
            before,
            DiffSide::Day(to),
            after,
        ))
    }

    /// Compares a snapshot day with the live Maildir now. Files the snapshot already knew
    /// (same unique name, size and mtime) are not read; others are read and hashed.
    pub fn diff_live(&self, day: NaiveDate, live: &MaildirAccount) -> Result<SnapshotDiff> {
        let before = self.side_of_day(day)?;
        let mut known: HashMap<String, (u64, i64, MessageId)> = HashMap::new();
        let record = self.record(day)?;
        for folder in &record.folders {
            for e in &self.manifest(&folder.manifest)?.messages {
                known.insert(unique_key(&e.file).to_owned(), (e.size, e.received, e.id));
            }
        }
        let mut after = Side::default();
        let scan = live.scan()?;
        let mut warnings: Vec<String> = scan
            .warnings
            .iter()
            .map(|w| format!("{}: {}", w.path.display(), w.message))
            .collect();
        let reader = live.reader()?;
        for folder in scan.folders {
            for file in folder.messages {
                let cached = known
                    .get(file.unique_key())
                    .filter(|(size, received, _)| *size == file.size && *received == file.received)
                    .map(|(_, _, id)| *id);
                let (id, file) = match cached {
                    Some(id) => (id, file),
                    None => match reader.read(&file) {
                        Err(e) if e.kind() == ErrorKind::Source => {
                            warnings.push(format!(
                                "{}: skipped, {e} (left out of the live side)",
                                file.path.display()
                            ));
                            continue;
                        }
                        Err(e) => return Err(e),
                        Ok(ReadOutcome::Read { bytes, file }) => {
                            let id = MessageId::of(&bytes);
                            if !before.about.contains_key(&id) {
                                after
                                    .about
                                    .insert(id, (summarize(&bytes), bytes.len() as u64));
                            }
                            (id, file)
                        }
                        Ok(ReadOutcome::Vanished) => {
                            warnings.push(format!(
                                "{}: vanished while the diff read it",
                                file.path.display()
                            ));
                            continue;
                        }
                    },
                };
                after.add(id, file.folder.clone(), file.flags, &file.keywords);
            }
        }
        let mut diff = compare(DiffSide::Day(day), before, DiffSide::Live, after);
        diff.warnings = warnings;
        Ok(diff)
    }

    /// Every day and folder where a message was, oldest first.
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if no snapshot has it.
    pub fn history(&self, id: &MessageId) -> Result<Vec<Sighting>> {
        let mut seen = Vec::new();
        let days = self.days()?;
        self.preload(&days)?;
        for day in days {
            for folder in &self.record(day)?.folders {
                for e in self
                    .manifest(&folder.manifest)?
                    .messages
                    .iter()
                    .filter(|e| e.id == *id)
                {
                    seen.push(Sighting {
                        day,
                        folder: folder.name.clone(),
                        flags: e.flags,
                        keywords: sorted_keywords(&e.keywords),
                    });
                }
            }
        }
        if seen.is_empty() {
            return Err(Error::not_found(
                "message",
                format!("{id} in any snapshot of {}", self.account()),
            ));
        }
        Ok(seen)
    }

    fn side_of_day(&self, day: NaiveDate) -> Result<Side> {
        let mut side = Side::default();
        let record = self.record(day)?;
        for folder in &record.folders {
            let manifest = self.manifest(&folder.manifest)?;
            for e in &manifest.messages {
                side.add(e.id, folder.name.clone(), e.flags, &e.keywords);
                if let Entry::Vacant(slot) = side.about.entry(e.id) {
                    slot.insert((self.summary_of(&manifest, e)?, e.size));
                }
            }
        }
        Ok(side)
    }
}

fn compare(from: DiffSide, before: Side, to: DiffSide, after: Side) -> SnapshotDiff {
    let ids: BTreeSet<MessageId> = before
        .places
        .keys()
        .chain(after.places.keys())
        .copied()
        .collect();
    let mut entries = Vec::new();
    for id in ids {
        let b = before.places.get(&id);
        let a = after.places.get(&id);
        let folders = |s: &BTreeSet<Placement>| -> BTreeSet<FolderName> {
            s.iter().map(|p| p.folder.clone()).collect()
        };
        let flags = |s: &BTreeSet<Placement>| -> BTreeSet<(FolderName, Flags)> {
            s.iter().map(|p| (p.folder.clone(), p.flags)).collect()
        };
        let change = match (b, a) {
            (Some(_), None) => ChangeKind::Removed,
            (None, Some(_)) => ChangeKind::Added,
            (Some(x), Some(y)) if folders(x) != folders(y) => ChangeKind::Moved,
            (Some(x), Some(y)) if flags(x) != flags(y) => ChangeKind::FlagsChanged,
            (Some(x), Some(y)) if x != y => ChangeKind::KeywordsChanged,
            _ => continue,
        };
        let (summary, size) = before
            .about
            .get(&id)
            .or_else(|| after.about.get(&id))
            .cloned()
            .unwrap_or_default();
        let list = |s: Option<&BTreeSet<Placement>>| {
            s.map(|s| s.iter().cloned().collect()).unwrap_or_default()
        };
        entries.push(DiffEntry {
            change,
            id,
            summary,
            size,
            before: list(b),
            after: list(a),
        });
    }
    entries.sort_by(|x, y| (x.change, &x.before, &x.after).cmp(&(y.change, &y.before, &y.after)));
    SnapshotDiff {
        from,
        to,
        entries,
        note: DIFF_NOTE,
        warnings: Vec::new(),
    }
}
