//! Dovecot's `dovecot-keywords`: which IMAP keyword each lowercase letter of a folder's file
//! names stands for.
//!
//! One line per keyword, `<index> <name>`, `0` being the letter `a`: `0 $Label1` makes
//! `:2,Sa` a seen message with the keyword `$Label1`. Only the 26 letters `a`–`z` exist.

use super::SourceWarning;
use super::beneath::{CONTROL_FILE_LIMIT, Dir};

/// The name of the file, in each folder directory (the account root for INBOX).
pub(crate) const FILE_NAME: &str = "dovecot-keywords";

/// The keywords of one folder, by letter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Keywords {
    by_index: [Option<String>; 26],
}

impl Keywords {
    /// Parses the text of a `dovecot-keywords` file. Lines that are not `<index> <name>` with an
    /// index below 26 are ignored: no file name can refer to them.
    pub(crate) fn parse(text: &str) -> Keywords {
        let mut keywords = Keywords::default();
        for line in text.lines() {
            let Some((index, name)) = line.split_once(' ') else {
                continue;
            };
            let name = name.trim();
            let slot = index
                .parse::<usize>()
                .ok()
                .and_then(|i| keywords.by_index.get_mut(i));
            if let (Some(slot), false) = (slot, name.is_empty()) {
                *slot = Some(name.to_owned());
            }
        }
        keywords
    }

    /// Reads `dir/dovecot-keywords` (a regular file of at most 1 MiB, never through a
    /// symlink). A missing file means no keywords; an unreadable, refused or oversized one is
    /// reported in `warnings` and also means no keywords.
    pub(crate) fn load(dir: &Dir, warnings: &mut Vec<SourceWarning>) -> Keywords {
        match dir.read_bounded(FILE_NAME, CONTROL_FILE_LIMIT) {
            Ok(Some(bytes)) => Keywords::parse(&String::from_utf8_lossy(&bytes)),
            Ok(None) => Keywords::default(),
            Err(e) => {
                warnings.push(SourceWarning::new(
                    dir.join(FILE_NAME),
                    format!("cannot read keywords: {e}"),
                ));
                Keywords::default()
            }
        }
    }

    /// The keyword a lowercase letter stands for, if the file names it.
    pub(crate) fn get(&self, letter: char) -> Option<&str> {
        if !letter.is_ascii_lowercase() {
            return None;
        }
        self.by_index
            .get(usize::from(letter as u8 - b'a'))?
            .as_deref()
    }
}

/// How many keywords a folder can have: one per letter `a`–`z`.
pub(crate) const MAX_KEYWORDS: usize = 26;

impl Keywords {
    /// The letter of `keyword` (compared without regard to ASCII case, as IMAP keywords are).
    pub(crate) fn letter_of(&self, keyword: &str) -> Option<char> {
        self.by_index
            .iter()
            .position(|k| {
                k.as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
            })
            .and_then(index_letter)
    }

    /// The writer: gives each of `wanted` that has no letter yet the lowest free one.
    /// Returns the text of the file with the new lines appended to `existing` (kept as it is),
    /// or `None` if nothing was added, and the keywords that found no free letter.
    pub(crate) fn add(
        &mut self,
        existing: &str,
        wanted: &[String],
    ) -> (Option<String>, Vec<String>) {
        let mut text = existing.to_owned();
        let mut added = false;
        let mut dropped = Vec::new();
        for keyword in wanted {
            if self.letter_of(keyword).is_some() {
                continue;
            }
            let Some(index) = self.by_index.iter().position(Option::is_none) else {
                dropped.push(keyword.clone());
                continue;
            };
            self.by_index[index] = Some(keyword.clone());
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("{index} {keyword}\n"));
            added = true;
        }
        (added.then_some(text), dropped)
    }
}

fn index_letter(index: usize) -> Option<char> {
    u8::try_from(index)
        .ok()
        .filter(|i| usize::from(*i) < MAX_KEYWORDS)
        .map(|i| char::from(b'a' + i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_map_to_line_indexes() {
        let k = Keywords::parse("0 $Label1\n1 Junk\n3 $Forwarded\n25 last\n");
        assert_eq!(k.get('a'), Some("$Label1"));
        assert_eq!(k.get('b'), Some("Junk"));
        assert_eq!(k.get('c'), None);
        assert_eq!(k.get('d'), Some("$Forwarded"));
        assert_eq!(k.get('z'), Some("last"));
        assert_eq!(k.get('A'), None);
        assert_eq!(k.get('{'), None);
    }

    #[test]
    fn malformed_lines_are_ignored() {
        let k = Keywords::parse("garbage\n26 too-far\nx name\n1 \n-1 neg\n\n2 ok\r\n");
        assert_eq!(k, Keywords::parse("2 ok"));
        assert_eq!(k.get('c'), Some("ok"));
    }

    #[test]
    fn the_writer_fills_free_letters_and_keeps_the_file() {
        let existing = "0 $Label1\n2 Junk";
        let mut k = Keywords::parse(existing);
        let wanted = ["junk".to_owned(), "$Restored".to_owned(), "Work".to_owned()];
        let (text, dropped) = k.add(existing, &wanted);
        assert!(dropped.is_empty());
        let text = text.unwrap();
        assert_eq!(text, "0 $Label1\n2 Junk\n1 $Restored\n3 Work\n");
        assert_eq!(Keywords::parse(&text), k);
        assert_eq!(k.letter_of("JUNK"), Some('c'));
        assert_eq!(k.letter_of("$Restored"), Some('b'));
        assert_eq!(k.letter_of("Work"), Some('d'));
        assert_eq!(k.add(&text, &wanted), (None, vec![]));

        let full: String = (0..26).map(|i| format!("{i} k{i}\n")).collect();
        let mut k = Keywords::parse(&full);
        let (text, dropped) = k.add(&full, &["k25".to_owned(), "more".to_owned()]);
        assert_eq!((text, dropped), (None, vec!["more".to_owned()]));
        assert_eq!(k.letter_of("k25"), Some('z'));
    }

    #[test]
    fn load_reads_the_folder_file_or_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open_root(tmp.path(), false).unwrap();
        let mut warnings = Vec::new();
        assert_eq!(Keywords::load(&dir, &mut warnings), Keywords::default());
        std::fs::write(tmp.path().join(FILE_NAME), "0 $Label1\n").unwrap();
        assert_eq!(
            Keywords::load(&dir, &mut warnings).get('a'),
            Some("$Label1")
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn a_symlinked_or_oversized_file_is_a_warning_and_no_keywords() {
        let tmp = tempfile::tempdir().unwrap();
        let secret = tmp.path().join("secret");
        std::fs::write(&secret, "0 SECRET\n").unwrap();
        let folder = tmp.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        std::os::unix::fs::symlink(&secret, folder.join(FILE_NAME)).unwrap();
        let dir = Dir::open_root(&folder, false).unwrap();
        let mut warnings = Vec::new();
        assert_eq!(Keywords::load(&dir, &mut warnings), Keywords::default());
        std::fs::remove_file(folder.join(FILE_NAME)).unwrap();
        let huge = "0 x\n".repeat(300_000);
        std::fs::write(folder.join(FILE_NAME), huge).unwrap();
        assert_eq!(Keywords::load(&dir, &mut warnings), Keywords::default());
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings.iter().all(|w| w.path == folder.join(FILE_NAME)));
        assert!(warnings[0].message.contains("symlink"), "{warnings:?}");
        assert!(warnings[1].message.contains("larger than"), "{warnings:?}");
    }
}
