//! Dovecot's `dovecot-keywords`: which IMAP keyword each lowercase letter of a folder's file
//! names stands for.
//!
//! One line per keyword, `<index> <name>`, `0` being the letter `a`: `0 $Label1` makes
//! `:2,Sa` a seen message with the keyword `$Label1`. Only the 26 letters `a`–`z` exist.

use std::io;
use std::path::Path;

use super::SourceWarning;

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

    /// Reads `dir/dovecot-keywords`. A missing file means no keywords; an unreadable one is
    /// reported in `warnings` and also means no keywords.
    pub(crate) fn load(dir: &Path, warnings: &mut Vec<SourceWarning>) -> Keywords {
        let path = dir.join(FILE_NAME);
        match std::fs::read(&path) {
            Ok(bytes) => Keywords::parse(&String::from_utf8_lossy(&bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Keywords::default(),
            Err(e) => {
                warnings.push(SourceWarning::new(
                    path,
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
    fn load_reads_the_folder_file_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut warnings = Vec::new();
        assert_eq!(
            Keywords::load(dir.path(), &mut warnings),
            Keywords::default()
        );
        std::fs::write(dir.path().join(FILE_NAME), "0 $Label1\n").unwrap();
        assert_eq!(
            Keywords::load(dir.path(), &mut warnings).get('a'),
            Some("$Label1")
        );
        assert!(warnings.is_empty());
    }
}
