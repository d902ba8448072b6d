//! The additive merge of a snapshot into the live Maildir: [`plan`] says what a restore would
//! do, [`execute`] does it. Both compute everything afresh from the live mailbox, so a run
//! that resumes an interrupted one simply does what is still missing.
//!
//! # Rules
//!
//! - **Scope.** [`RestoreScope::Account`] is every folder of the snapshot; `Folders` is those
//!   folders (each alone; a folder the snapshot does not have is
//!   [`ErrorKind::NotFound`](crate::ErrorKind::NotFound)); `Messages` is those content ids in
//!   every folder the snapshot had them (an id the snapshot does not have is `NotFound`).
//! - **Identity.** A message is its content: the BLAKE3 of its raw bytes ([`MessageId`]).
//!   Live files are hashed to learn theirs, except that a live file whose unique name (before
//!   `:`) and size equal those of a file of the snapshot (any folder) is taken to hold that
//!   file's content (a Maildir file never changes content under its name), and a live file
//!   whose size is that of no message to restore cannot be one and is not read.
//! - **Already present.** A message of the snapshot (folder F, content X) is left alone if the
//!   live folder F has a file with content X, or if any other live folder has content X in a
//!   file that this restore did not write (whose name does not carry this request's marker).
//!   Otherwise it is written into F. So a message the user moved to another folder is not
//!   duplicated; a message gone from everywhere comes back into every folder the snapshot had
//!   it in; and a run resumed after a crash that had written X into G but not yet into F still
//!   writes F's copy. The same content twice in one snapshot folder is one message: it is
//!   counted once and restored once (with the flags, keywords and date of the first file by
//!   name).
//! - **Folders.** A folder the restore covers (every folder of an `Account` or `Folders`
//!   scope; with a `Messages` scope, a folder that gets a message back) and that the live
//!   account lacks is created again: its Maildir++ directory (`.Archive.2024`) with `cur/`,
//!   `new/`, `tmp/` and an empty `maildirfolder`. If the snapshot had it subscribed and the
//!   live subscription files do not list it, it is added to the subscription file, in that
//!   file's format: Dovecot's `subscriptions` (`V<TAB>2` header, TAB between levels, modified
//!   UTF-7, or the older header-less format with `.`), else Courier's `courierimapsubscribed`
//!   if that is the one that exists, else a new Dovecot `subscriptions` (current format).
//! - **Nothing is lost.** Live mail (also mail that arrived after the snapshot) is never
//!   changed; nothing is deleted or renamed, apart from this request's own unfinished files in
//!   `tmp/`.
//! - **Writing a message**, the Maildir way: the bytes go to `tmp/<name>` of the folder, are
//!   synced, get the snapshot's received date as mtime (the IMAP INTERNALDATE), then the file
//!   is renamed to `cur/<name>:2,<flags><keyword letters>` (flags in the order `DFPRST`, then
//!   keyword letters in alphabetical order). `<name>` is
//!   `<received secs>.M<first 16 hex digits of the content id>.<marker>.mtm,S=<size>`: the
//!   marker tells a resumed run its own earlier work, `S=` is the exact size (no `W=`).
//! - **Keywords** (and the optional tag keyword, such as `$Restored`) become letters of the
//!   folder's `dovecot-keywords` (`<index> <keyword>` lines, index 0 = `a`), compared without
//!   regard to ASCII case. Keywords the file lacks get the lowest free index, and the file is
//!   rewritten before any message that uses them is written. A keyword with no free letter
//!   (all 26 taken) is dropped from the restored files, with a warning in the result.
//! - **Rewriting a server file** (`subscriptions`, `dovecot-keywords`) is atomic and follows
//!   Dovecot's dot-lock: the new text is written to `<file>.lock` (created exclusively; if it
//!   exists, the server is writing: wait, for at most 10 s, unless it is older than 2 minutes,
//!   then it is stale and replaced), synced, and renamed over the file.
//! - **Ownership.** Files are created `0600`, directories `0700`, as Dovecot does. When the
//!   process runs as root and the account root belongs to another user or group, everything
//!   the restore creates is given to the owner of the account root.
//! - **Hostile mailboxes.** Every file and directory is reached from the account root
//!   without following a symlink (see [`crate::source`]): a folder directory, `cur/`, `tmp/`,
//!   `subscriptions` or `dovecot-keywords` that is a symlink (or a FIFO, a device, a control
//!   file over 1 MiB) stops the restore with an
//!   [`ErrorKind::Source`](crate::ErrorKind::Source) error naming it, before anything is
//!   created or written through it; files are created exclusively (`O_EXCL`), and given to
//!   the owner on their descriptors.
//! - **Idempotent.** Running the same restore again writes nothing: every message is then
//!   already present.
//!
//! A dry run ([`Repository::restore_plan`]) has no marker: files an interrupted run of a
//! request wrote count as present wherever they are, so its numbers for a resumed request may
//! be lower than what [`execute`] then writes; [`plan`] with the request's marker is exact.

mod live;
mod write;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::id::MessageId;
use crate::lookup::{AccountView, find_folder};
use crate::names::{AccountId, FolderName};
use crate::repo::Repository;
use crate::restore::outcome::{FolderPlan, RestorePlan, RestoreResult};
use crate::restore::request::RestoreScope;
use crate::snapshot::model::{Manifest, ManifestEntry};
use crate::source::MaildirAccount;

use live::LiveState;

/// The longest marker accepted: it goes into every file name.
const MAX_MARKER_LEN: usize = 64;

/// How restored files are written.
#[derive(Debug, Clone)]
pub(crate) struct MergeOptions {
    /// A token unique to the restore request, safe in file names (e.g. "r3" for request 3); it goes into
    /// every file name the restore writes, so a resumed run recognises its own earlier work.
    pub marker: String,
    /// An IMAP keyword added to every restored message (e.g. "$Restored"), if any.
    pub tag_keyword: Option<String>,
}

impl MergeOptions {
    /// Checks the marker (ASCII letters, digits, `-`, `_`; required to write) and the tag
    /// keyword (an IMAP atom, not a `\` system flag).
    fn check(&self, writing: bool) -> Result<()> {
        let marker = &self.marker;
        if writing && marker.is_empty() {
            return Err(Error::invalid("restore marker", "empty"));
        }
        let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if marker.len() > MAX_MARKER_LEN || !marker.chars().all(safe) {
            return Err(Error::invalid(
                "restore marker",
                format!("{marker:?}: use at most {MAX_MARKER_LEN} ASCII letters, digits, - and _"),
            ));
        }
        if let Some(tag) = &self.tag_keyword
            && !is_keyword(tag)
        {
            return Err(Error::invalid(
                "restore tag keyword",
                format!("{tag:?} is not an IMAP keyword"),
            ));
        }
        Ok(())
    }
}

/// Whether `text` is a valid IMAP keyword: a non-empty atom (printable ASCII without
/// `(){%*"\]` and space), not a system flag.
fn is_keyword(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
}

/// A dry run: what [`execute`] would do now, per folder. Writes nothing.
pub(crate) fn plan(
    view: &AccountView,
    day: NaiveDate,
    scope: &RestoreScope,
    live: &MaildirAccount,
    options: &MergeOptions,
) -> Result<RestorePlan> {
    options.check(false)?;
    Ok(prepare(view, day, scope, live, options)?.plan)
}

/// Restores: plans afresh against the live Maildir, then recreates folders, subscribes them,
/// merges keywords and writes the missing messages. An error stops the run; what it wrote is
/// complete and recognised by the next run, which does the rest.
pub(crate) fn execute(
    view: &AccountView,
    day: NaiveDate,
    scope: &RestoreScope,
    live: &MaildirAccount,
    options: &MergeOptions,
) -> Result<RestoreResult> {
    options.check(true)?;
    let work = prepare(view, day, scope, live, options)?;
    write::run(view, day, live, options, work)
}

impl Repository {
    /// What restoring `account` to its snapshot of `day` would do to the live Maildir `live`
    /// now: per folder, how many messages and bytes would be written back, how many the live
    /// account still has, and which folders would be created and subscribed again. Writes
    /// nothing. The rules are those of the restore (see the "Restore into a live Maildir"
    /// section of `FORMAT.md`).
    ///
    /// Errors: [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown account,
    /// day, or a folder or message the snapshot does not have;
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for an empty scope;
    /// [`ErrorKind::Source`](crate::ErrorKind::Source) if the live Maildir cannot be read.
    pub fn restore_plan(
        &self,
        account: &AccountId,
        day: NaiveDate,
        scope: &RestoreScope,
        live: &MaildirAccount,
    ) -> Result<RestorePlan> {
        let view = self.account(account)?;
        let dry_run = MergeOptions {
            marker: String::new(),
            tag_keyword: None,
        };
        plan(&view, day, scope, live, &dry_run)
    }
}

/// One folder of the snapshot that the scope covers, and what to do there.
#[derive(Debug)]
struct FolderWork {
    folder: FolderName,
    manifest: Arc<Manifest>,
    /// Indexes into `manifest.messages` of the messages to write.
    to_write: Vec<usize>,
    recreate: bool,
    resubscribe: bool,
}

impl FolderWork {
    fn entries(&self) -> impl Iterator<Item = &ManifestEntry> {
        self.to_write
            .iter()
            .filter_map(|i| self.manifest.messages.get(*i))
    }
}

/// The plan, and what executing it needs.
#[derive(Debug)]
struct Work {
    plan: RestorePlan,
    folders: Vec<FolderWork>,
    /// About the live Maildir, for people.
    warnings: Vec<String>,
}

/// A folder of the snapshot, in scope, with the messages the scope covers (one per content).
struct Selected {
    folder: FolderName,
    subscribed: bool,
    manifest: Arc<Manifest>,
    /// Indexes into `manifest.messages`, one per distinct content, first by file name.
    entries: Vec<usize>,
    /// Covered as a whole folder (not only for some of its messages).
    whole: bool,
}

fn prepare(
    view: &AccountView,
    day: NaiveDate,
    scope: &RestoreScope,
    live: &MaildirAccount,
    options: &MergeOptions,
) -> Result<Work> {
    scope.validate()?;
    let record = view.record(day)?;
    let mut snapshot_folders: Vec<&crate::snapshot::model::FolderRecord> =
        record.folders.iter().collect();
    snapshot_folders
        .sort_by(|a, b| (!a.name.is_inbox(), &a.name).cmp(&(!b.name.is_inbox(), &b.name)));
    let manifests = snapshot_folders
        .iter()
        .map(|f| view.manifest(&f.manifest))
        .collect::<Result<Vec<_>>>()?;

    let wanted_folders: Option<HashSet<&FolderName>> = match scope {
        RestoreScope::Folders { folders } => {
            for folder in folders {
                find_folder(&record, folder)?;
            }
            Some(folders.iter().collect())
        }
        _ => None,
    };
    let wanted_ids: Option<HashSet<&MessageId>> = match scope {
        RestoreScope::Messages { messages } => Some(messages.iter().collect()),
        _ => None,
    };

    let mut selected = Vec::new();
    let mut found_ids = HashSet::new();
    for (folder, manifest) in snapshot_folders.iter().zip(&manifests) {
        if wanted_folders
            .as_ref()
            .is_some_and(|w| !w.contains(&folder.name))
        {
            continue;
        }
        let mut seen = HashSet::new();
        let entries: Vec<usize> = manifest
            .messages
            .iter()
            .enumerate()
            .filter(|(_, e)| wanted_ids.as_ref().is_none_or(|w| w.contains(&e.id)))
            .filter(|(_, e)| seen.insert(e.id))
            .map(|(i, _)| i)
            .collect();
        found_ids.extend(seen);
        if wanted_ids.is_some() && entries.is_empty() {
            continue;
        }
        selected.push(Selected {
            folder: folder.name.clone(),
            subscribed: folder.subscribed,
            manifest: Arc::clone(manifest),
            entries,
            whole: wanted_ids.is_none(),
        });
    }
    if let Some(wanted) = &wanted_ids
        && let Some(missing) = wanted.iter().find(|id| !found_ids.contains(**id))
    {
        return Err(Error::not_found(
            "message",
            format!("{missing} in {} on {day}", view.account()),
        ));
    }

    let wanted_sizes: HashSet<u64> = selected
        .iter()
        .flat_map(|s| s.entries.iter().filter_map(|i| s.manifest.messages.get(*i)))
        .map(|e| e.size)
        .collect();
    let state = LiveState::read(live, &manifests, &wanted_sizes, &options.marker)?;

    let mut plan = RestorePlan {
        account: view.account().clone(),
        day,
        scope: scope.clone(),
        folders: Vec::new(),
        messages: 0,
        bytes: 0,
        already_present: 0,
    };
    let mut folders = Vec::new();
    for s in selected {
        let to_write: Vec<usize> = s
            .entries
            .iter()
            .copied()
            .filter(|i| {
                s.manifest
                    .messages
                    .get(*i)
                    .is_some_and(|e| !state.is_present(&s.folder, &e.id))
            })
            .collect();
        let covered = s.whole || !to_write.is_empty();
        let work = FolderWork {
            recreate: covered && !state.has_folder(&s.folder),
            resubscribe: covered && s.subscribed && !state.is_subscribed(&s.folder),
            folder: s.folder,
            manifest: s.manifest,
            to_write,
        };
        let in_snapshot = s.entries.len() as u64;
        let to_restore = work.to_write.len() as u64;
        let bytes_to_restore: u64 = work.entries().map(|e| e.size).sum();
        plan.messages += to_restore;
        plan.bytes += bytes_to_restore;
        plan.already_present += in_snapshot - to_restore;
        plan.folders.push(FolderPlan {
            folder: work.folder.clone(),
            in_snapshot,
            to_restore,
            bytes_to_restore,
            already_present: in_snapshot - to_restore,
            recreate: work.recreate,
            resubscribe: work.resubscribe,
        });
        folders.push(work);
    }
    Ok(Work {
        plan,
        folders,
        warnings: state.warnings,
    })
}

/// The unique part (before `:2,`) of the name of a restored file.
fn restored_name(entry: &ManifestEntry, marker: &str) -> String {
    let hex = entry.id.to_hex();
    let short = hex.get(..16).unwrap_or(&hex);
    format!("{}.M{short}.{marker}.mtm,S={}", entry.received, entry.size)
}

/// Whether a unique name is one [`restored_name`] made with `marker`.
fn is_restored_by(unique: &str, marker: &str) -> bool {
    if marker.is_empty() {
        return false;
    }
    let Some((head, size)) = unique.rsplit_once(",S=") else {
        return false;
    };
    let parts: Vec<&str> = head.split('.').collect();
    let [secs, id, mark, "mtm"] = parts.as_slice() else {
        return false;
    };
    let hex = id.strip_prefix('M').unwrap_or("");
    secs.parse::<i64>().is_ok()
        && hex.len() == 16
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && *mark == marker
        && !size.is_empty()
        && size.bytes().all(|b| b.is_ascii_digit())
}
