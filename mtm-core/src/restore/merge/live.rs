//! What the live Maildir holds: its folders, its subscriptions, and which contents are where.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::is_restored_by;
use crate::error::{ErrorKind, Result};
use crate::id::MessageId;
use crate::names::FolderName;
use crate::snapshot::model::Manifest;
use crate::source::MaildirAccount;
use crate::source::subscriptions::Subscriptions;

/// One live file with a content the restore cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LiveCopy {
    folder: FolderName,
    /// Written by this restore request (its name carries the marker).
    ours: bool,
}

/// The live account as the merge sees it.
#[derive(Debug)]
pub(super) struct LiveState {
    folders: HashSet<FolderName>,
    subscriptions: Subscriptions,
    copies: HashMap<MessageId, Vec<LiveCopy>>,
    pub(super) warnings: Vec<String>,
}

impl LiveState {
    /// Scans `live` and learns the content of every file that can be a message to restore:
    /// by name and size when the snapshot (`manifests`, every folder) had a file of that
    /// unique name and size, else by hashing it if its size is one of `wanted_sizes`.
    pub(super) fn read(
        live: &MaildirAccount,
        manifests: &[Arc<Manifest>],
        wanted_sizes: &HashSet<u64>,
        marker: &str,
    ) -> Result<LiveState> {
        let mut by_name: HashMap<&str, (u64, MessageId)> = HashMap::new();
        for entry in manifests.iter().flat_map(|m| m.messages.iter()) {
            let unique = entry.file.split_once(':').map_or(&*entry.file, |(u, _)| u);
            by_name.insert(unique, (entry.size, entry.id));
        }
        let scan = live.scan()?;
        let mut warnings: Vec<String> = scan
            .warnings
            .iter()
            .map(|w| format!("live maildir: {}: {}", w.path.display(), w.message))
            .collect();
        let mut source_warnings = Vec::new();
        let subscriptions = Subscriptions::load(&live.root_dir()?, &mut source_warnings);
        warnings.extend(
            source_warnings
                .iter()
                .map(|w| format!("live maildir: {}: {}", w.path.display(), w.message)),
        );

        let mut copies: HashMap<MessageId, Vec<LiveCopy>> = HashMap::new();
        let mut buf = Vec::new();
        let reader = live.reader()?;
        for folder in &scan.folders {
            for file in &folder.messages {
                let known = by_name
                    .get(file.unique.as_str())
                    .filter(|(size, _)| *size == file.size);
                let (id, folder, unique) = match known {
                    Some((_, id)) => (*id, folder.name.clone(), file.unique.clone()),
                    None if wanted_sizes.contains(&file.size) => {
                        // Follows a file the server renamed or moved since the scan.
                        match reader.read_into(file, &mut buf) {
                            Ok(Some(now)) => (MessageId::of(&buf), now.folder, now.unique),
                            Ok(None) => {
                                warnings.push(format!(
                                    "live maildir: {}: vanished while the restore read it",
                                    file.path.display()
                                ));
                                continue;
                            }
                            // A file swapped for a symlink or a FIFO: never read, named.
                            Err(e) if e.kind() == ErrorKind::Source => {
                                warnings.push(format!("live maildir: {e}"));
                                continue;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    None => continue,
                };
                let ours = is_restored_by(&unique, marker);
                copies
                    .entry(id)
                    .or_default()
                    .push(LiveCopy { folder, ours });
            }
        }
        Ok(LiveState {
            folders: scan.folders.into_iter().map(|f| f.name).collect(),
            subscriptions,
            copies,
            warnings,
        })
    }

    /// Whether content `id` of snapshot folder `folder` is present: in that live folder, or
    /// in another one in a file this restore did not write.
    pub(super) fn is_present(&self, folder: &FolderName, id: &MessageId) -> bool {
        self.copies
            .get(id)
            .is_some_and(|copies| copies.iter().any(|c| c.folder == *folder || !c.ours))
    }

    pub(super) fn has_folder(&self, folder: &FolderName) -> bool {
        self.folders.contains(folder)
    }

    pub(super) fn is_subscribed(&self, folder: &FolderName) -> bool {
        self.subscriptions.contains(folder)
    }
}
