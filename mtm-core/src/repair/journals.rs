//! Damaged restore journals in a recovery: an entry whose seal proves its original (one
//! flipped bit, see [`super::salvage`]) is mended, its damaged bytes kept under `damaged/`;
//! a journal damaged otherwise is named as damage a recovery cannot mend (the account's
//! snapshots stay kept from pruning, as for any damaged journal).
//!
//! The backend writes create-only, so an entry is replaced by deleting it and writing it
//! anew. Between the two it would be missing, and a journal missing its last entry reads
//! as a shorter, sound one; so the original is first written to `damaged/<key>.original`,
//! and a later survey that finds such a file (an interrupted recovery) publishes it again.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{ErrorKind, Result};
use crate::repo::RepoInner;
use crate::restore::RequestId;
use crate::restore::journal::Journal;
use crate::verify::Problem;

use super::recover::{DAMAGED, quarantine_key, write_once};

/// Where a recovery keeps the original of an entry while it replaces it.
const ORIGINAL: &str = ".original";

/// One journal entry a recovery mends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MendedJournalEntry {
    /// The restore request.
    pub request: RequestId,
    /// The entry's key: `restores/<account>/<nnnnnn>/<ssss>.json`.
    pub key: String,
    /// Where its damaged bytes are moved; `None` when an interrupted recovery left the
    /// entry's original to publish (the entry is missing or still damaged).
    pub moved_to: Option<String>,
    /// How it is mended.
    pub how: String,
}

impl MendedJournalEntry {
    /// The plan's sentence for it.
    pub fn describe(&self) -> String {
        match &self.moved_to {
            Some(moved_to) => format!(
                "entry `{}` of restore request {} is damaged, but {} and its seal proves \
                 the original: the original is published again; the damaged bytes are \
                 moved aside to `{moved_to}`",
                self.key, self.request, self.how
            ),
            None => format!(
                "entry `{}` of restore request {}: {}; its original is published again",
                self.key, self.request, self.how
            ),
        }
    }
}

/// What the survey of the journals found: the entries to mend (and their originals, by
/// key), and the journals no seal mends.
#[derive(Debug, Default)]
pub(super) struct JournalDamage {
    pub(super) mended: Vec<MendedJournalEntry>,
    pub(super) originals: BTreeMap<String, Vec<u8>>,
    pub(super) unrepairable: Vec<Problem>,
}

/// Reads every restore journal (a recovery is an explicit, whole-repository repair) and
/// plans what can be mended. Storage errors stop it; damage is what it reports.
pub(super) fn survey_journals(inner: &RepoInner) -> Result<JournalDamage> {
    let backend = inner.backend.as_ref();
    let journal = Journal::new(backend);
    let mut damage = JournalDamage::default();

    // Originals an interrupted recovery left: published again where the entry is missing
    // or is not these bytes.
    for kept in backend.list(&format!("{DAMAGED}restores/"))? {
        let Some(key) = kept
            .strip_prefix(DAMAGED)
            .and_then(|k| k.strip_suffix(ORIGINAL))
        else {
            continue;
        };
        let Some(request) = Journal::request_of(key) else {
            continue;
        };
        let original = backend.read(&kept)?;
        if !Journal::is_entry(&request, key, &original) {
            continue;
        }
        let current = match backend.read(key) {
            Ok(data) => Some(data),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if current.as_deref() != Some(&original[..]) {
            damage.mended.push(MendedJournalEntry {
                request,
                key: key.to_owned(),
                moved_to: None,
                how: "a recovery that mended it was interrupted".to_owned(),
            });
            damage.originals.insert(key.to_owned(), original);
        }
    }
    let pending: Vec<String> = damage.mended.iter().map(|m| m.key.clone()).collect();

    for account in journal.accounts()? {
        for number in journal.numbers(&account)? {
            let id = RequestId::new(account.clone(), number)?;
            let error = match journal.load(&id) {
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::Integrity => e,
                Err(e) => return Err(e),
            };
            let mut entries = Vec::new();
            let mut provable = true;
            for key in journal.entry_keys(&id)? {
                if pending.contains(&key) {
                    continue;
                }
                let data = backend.read(&key)?;
                if Journal::is_entry(&id, &key, &data) {
                    continue;
                }
                match super::salvage::salvage_sealed(&data)
                    .filter(|(bytes, _)| Journal::is_entry(&id, &key, bytes))
                {
                    Some((original, how)) => entries.push((key, data, original, how)),
                    None => provable = false,
                }
            }
            let interrupted = pending
                .iter()
                .any(|key| Journal::request_of(key).as_ref() == Some(&id));
            // Damage in no single entry (entries out of sequence, moves the state machine
            // refuses) is not a seal's to prove either.
            if !provable || entries.is_empty() && !interrupted {
                damage.unrepairable.push(Problem {
                    location: format!("restore request {id}"),
                    reason: format!(
                        "{error}; no seal proves its original, so it is left as it is (its \
                         account's snapshots stay kept from pruning): its bytes are for an \
                         administrator to examine"
                    ),
                    messages: Vec::new(),
                });
                continue;
            }
            for (key, data, original, how) in entries {
                let moved_to = quarantine_key(inner, &key, &data)?;
                damage.mended.push(MendedJournalEntry {
                    request: id.clone(),
                    key: key.clone(),
                    moved_to: Some(moved_to),
                    how: how.to_owned(),
                });
                damage.originals.insert(key, original);
            }
        }
    }
    Ok(damage)
}

/// Executes the mending of `entries`: the damaged bytes copied aside (create-only; the
/// same bytes already there count as copied), the original kept beside them, the entry
/// replaced, the kept original removed. Returns how many entries were mended.
pub(super) fn mend_journals(
    inner: &RepoInner,
    entries: &[MendedJournalEntry],
    originals: &BTreeMap<String, Vec<u8>>,
) -> Result<u64> {
    let backend = inner.backend.as_ref();
    let mut mended = 0;
    for entry in entries {
        let Some(original) = originals.get(&entry.key) else {
            continue;
        };
        let kept = format!("{DAMAGED}{}{ORIGINAL}", entry.key);
        if let Some(moved_to) = &entry.moved_to {
            let data = backend.read(&entry.key)?;
            write_once(inner, moved_to, &data)?;
            write_once(inner, &kept, original)?;
        }
        match backend.delete(&entry.key) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        backend.write_new(&entry.key, original)?;
        backend.delete(&kept)?;
        mended += 1;
    }
    Ok(mended)
}
