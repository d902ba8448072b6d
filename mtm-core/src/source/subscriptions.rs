//! Which folders the user subscribed to, from the files the IMAP servers keep at the account
//! root.
//!
//! - Dovecot `subscriptions`, current format: a `V<TAB>2` line, a blank line, then one name
//!   per line, each level in modified UTF-7, TAB between levels (`Archive<TAB>2024`).
//! - Dovecot `subscriptions`, older format (no `V` header): one name per line, `.` between
//!   levels (`Archive.2024`).
//! - Courier `courierimapsubscribed`: `INBOX` or `INBOX.<name>` per line, `.` between levels
//!   (`INBOX.Archive.2024`). Lines outside `INBOX.` (Courier's shared folders) are not folders
//!   of this account and are ignored.
//!
//! When both files exist, a folder is subscribed if either names it.

use std::collections::BTreeSet;

use super::beneath::{CONTROL_FILE_LIMIT, Dir};
use super::{SourceWarning, folder_from_levels};
use crate::FolderName;

/// Dovecot's subscriptions file, at the account root.
pub(crate) const DOVECOT_FILE: &str = "subscriptions";
/// Courier's subscriptions file, at the account root.
pub(crate) const COURIER_FILE: &str = "courierimapsubscribed";

/// The subscribed folder names, and the lines that could not be understood.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Subscriptions {
    pub(crate) names: BTreeSet<FolderName>,
    /// Each line that is not a valid folder name, with the reason.
    pub(crate) bad_lines: Vec<String>,
}

impl Subscriptions {
    /// Parses a Dovecot `subscriptions` file, either format.
    pub(crate) fn parse_dovecot(text: &str) -> Subscriptions {
        let mut subs = Subscriptions::default();
        let mut lines = text.lines().peekable();
        let separator = if lines.next_if(|l| l.starts_with("V\t")).is_some() {
            '\t'
        } else {
            '.'
        };
        for line in lines.filter(|l| !l.is_empty()) {
            subs.add(line, line.split(separator));
        }
        subs
    }

    /// Parses a Courier `courierimapsubscribed` file.
    pub(crate) fn parse_courier(text: &str) -> Subscriptions {
        let mut subs = Subscriptions::default();
        for line in text.lines() {
            if line == FolderName::INBOX {
                subs.names.insert(FolderName::inbox());
            } else if let Some(name) = line.strip_prefix("INBOX.") {
                subs.add(line, name.split('.'));
            }
        }
        subs
    }

    /// Reads and merges both files at `root` (regular files of at most 1 MiB, never through a
    /// symlink). Missing files subscribe nothing; unreadable, refused or oversized files and
    /// bad lines are reported in `warnings`.
    pub(crate) fn load(root: &Dir, warnings: &mut Vec<SourceWarning>) -> Subscriptions {
        let mut all = Subscriptions::default();
        type Parser = fn(&str) -> Subscriptions;
        let files: [(&str, Parser); 2] = [
            (DOVECOT_FILE, Subscriptions::parse_dovecot),
            (COURIER_FILE, Subscriptions::parse_courier),
        ];
        for (file, parse) in files {
            let path = root.join(file);
            let text = match root.read_bounded(file, CONTROL_FILE_LIMIT) {
                Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
                Ok(None) => continue,
                Err(e) => {
                    let message = format!("cannot read subscriptions: {e}");
                    warnings.push(SourceWarning::new(path, message));
                    continue;
                }
            };
            let subs = parse(&text);
            for bad in subs.bad_lines {
                let message = format!("subscription ignored: {bad}");
                warnings.push(SourceWarning::new(path.clone(), message));
            }
            all.names.extend(subs.names);
        }
        all
    }

    /// Whether `folder` is subscribed. INBOX always is.
    pub(crate) fn contains(&self, folder: &FolderName) -> bool {
        folder.is_inbox() || self.names.contains(folder)
    }

    fn add<'a>(&mut self, line: &str, levels: impl Iterator<Item = &'a str>) {
        match folder_from_levels(levels) {
            Ok(name) => {
                self.names.insert(name);
            }
            Err(e) => self.bad_lines.push(format!("{line:?}: {e}")),
        }
    }
}

/// The kinds of subscription file this library reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubscriptionFormat {
    /// Dovecot `subscriptions` with the `V<TAB>2` header: TAB between levels.
    DovecotV2,
    /// Dovecot `subscriptions` without a header: `.` between levels.
    DovecotOld,
    /// Courier `courierimapsubscribed`: `INBOX.` then `.` between levels.
    Courier,
}

impl SubscriptionFormat {
    /// The format of a Dovecot `subscriptions` file's text: with the `V` header (or empty,
    /// which Dovecot would write with a header) the current one, else the older one.
    pub(crate) fn of_dovecot_text(text: &str) -> SubscriptionFormat {
        if text.trim().is_empty() || text.starts_with("V\t") {
            SubscriptionFormat::DovecotV2
        } else {
            SubscriptionFormat::DovecotOld
        }
    }

    /// One folder as a line of this format (without the line end).
    pub(crate) fn line(self, folder: &FolderName) -> String {
        let levels: Vec<String> = folder.levels().map(super::utf7::encode).collect();
        match self {
            SubscriptionFormat::DovecotV2 => levels.join("\t"),
            SubscriptionFormat::DovecotOld => levels.join("."),
            SubscriptionFormat::Courier if folder.is_inbox() => FolderName::INBOX.to_owned(),
            SubscriptionFormat::Courier => format!("INBOX.{}", levels.join(".")),
        }
    }

    /// The writer: the text of a subscriptions file of this format that lists `existing`'s
    /// lines (kept as they are, in their order) and then `added`, one per line. With no
    /// existing text, a new file (with the `V<TAB>2` header and blank line for
    /// [`DovecotV2`](Self::DovecotV2)).
    pub(crate) fn with_added(self, existing: Option<&str>, added: &[FolderName]) -> String {
        let mut text = match existing {
            Some(text) if !text.trim().is_empty() => text.to_owned(),
            _ if self == SubscriptionFormat::DovecotV2 => "V\t2\n\n".to_owned(),
            _ => String::new(),
        };
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        for folder in added {
            text.push_str(&self.line(folder));
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(subs: &Subscriptions) -> Vec<&str> {
        subs.names.iter().map(FolderName::as_str).collect()
    }

    #[test]
    fn dovecot_current_format_uses_tabs() {
        let subs = Subscriptions::parse_dovecot(
            "V\t2\n\nINBOX\nSent\nArchive\t2024\nEntw&APw-rfe\nOld.Style\n",
        );
        assert_eq!(
            names(&subs),
            ["Archive/2024", "Entwürfe", "INBOX", "Old.Style", "Sent"]
        );
        assert!(subs.bad_lines.is_empty());
    }

    #[test]
    fn dovecot_old_format_uses_dots() {
        let subs = Subscriptions::parse_dovecot("Sent\nArchive.2024\nEntw&APw-rfe\n");
        assert_eq!(names(&subs), ["Archive/2024", "Entwürfe", "Sent"]);
    }

    #[test]
    fn courier_strips_the_inbox_prefix() {
        let subs = Subscriptions::parse_courier(
            "INBOX\nINBOX.Sent\nINBOX.Archive.2024\nINBOX.Entw&APw-rfe\nshared.other.x\n",
        );
        assert_eq!(names(&subs), ["Archive/2024", "Entwürfe", "INBOX", "Sent"]);
    }

    #[test]
    fn bad_lines_are_reported_not_fatal() {
        let subs = Subscriptions::parse_dovecot("V\t2\n\nGood\nBad&Zm9v\nEmpty\t\t\nEntwürfe\n");
        assert_eq!(names(&subs), ["Good"]);
        assert_eq!(subs.bad_lines.len(), 3, "{:?}", subs.bad_lines);
    }

    #[test]
    fn the_writer_keeps_each_format_and_reads_back() {
        let added = [
            FolderName::new("Archive/2024").unwrap(),
            FolderName::new("Entwürfe").unwrap(),
        ];
        let v2 = SubscriptionFormat::DovecotV2.with_added(Some("V\t2\n\nSent"), &added);
        assert_eq!(v2, "V\t2\n\nSent\nArchive\t2024\nEntw&APw-rfe\n");
        let fresh = SubscriptionFormat::DovecotV2.with_added(None, &added[..1]);
        assert_eq!(fresh, "V\t2\n\nArchive\t2024\n");
        let old = SubscriptionFormat::DovecotOld.with_added(Some("Sent\n"), &added);
        assert_eq!(old, "Sent\nArchive.2024\nEntw&APw-rfe\n");
        let courier = SubscriptionFormat::Courier.with_added(Some("INBOX\n"), &added);
        assert_eq!(courier, "INBOX\nINBOX.Archive.2024\nINBOX.Entw&APw-rfe\n");
        for (text, parse) in [
            (
                &v2,
                Subscriptions::parse_dovecot as fn(&str) -> Subscriptions,
            ),
            (&old, Subscriptions::parse_dovecot),
            (&courier, Subscriptions::parse_courier),
        ] {
            let subs = parse(text);
            assert!(added.iter().all(|f| subs.names.contains(f)), "{text:?}");
            assert!(subs.bad_lines.is_empty());
        }
        assert_eq!(
            SubscriptionFormat::of_dovecot_text("Sent\n"),
            SubscriptionFormat::DovecotOld
        );
        assert_eq!(
            SubscriptionFormat::of_dovecot_text(""),
            SubscriptionFormat::DovecotV2
        );
    }

    #[test]
    fn load_unions_both_files_and_inbox_is_always_subscribed() {
        let dir = tempfile::tempdir().unwrap();
        let root = Dir::open_root(dir.path(), false).unwrap();
        let mut warnings = Vec::new();
        let none = Subscriptions::load(&root, &mut warnings);
        assert!(none.names.is_empty());
        assert!(none.contains(&FolderName::inbox()));

        std::fs::write(dir.path().join(DOVECOT_FILE), "V\t2\n\nSent\nBad&\n").unwrap();
        std::fs::write(dir.path().join(COURIER_FILE), "INBOX.Archive.2024\n").unwrap();
        let subs = Subscriptions::load(&root, &mut warnings);
        assert_eq!(names(&subs), ["Archive/2024", "Sent"]);
        assert!(subs.contains(&FolderName::new("Sent").unwrap()));
        assert!(!subs.contains(&FolderName::new("Archive").unwrap()));
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].path, dir.path().join(DOVECOT_FILE));
    }
}
