//! Messages: how raw RFC 5322 bytes are cut into stored parts ([`split_message`]), what lists
//! and search show of them ([`summarize`]), and how one is read like webmail ([`parse_view`]).
//!
//! All three take arbitrary bytes and never panic: Maildir files may be empty, truncated,
//! 8-bit, or not mail at all, and a snapshot must still store them byte-exact.
//!
//! Inside, each module uses only those listed before it: `parser` (mail-parser behind a
//! guard), `text` (header values as text), `attachments` (which parts are attachments),
//! `mime` and `split` (cutting into parts), `bounded` (bodies cut to the view's limits),
//! `decoding` and `skeleton` (parsing without the bodies, where that changes nothing), then
//! `summary` and `view` (the two readings).

#[cfg(test)]
mod arbitrary;
mod attachments;
mod bounded;
mod decoding;
mod mime;
mod parser;
#[cfg(test)]
mod samples;
mod skeleton;
#[cfg(test)]
mod speed;
mod split;
mod summary;
mod text;
mod view;

pub use split::{Part, PartKind, split_message};

/// Cuts `raw` into parts and summarizes it, finding its MIME structure once: what a snapshot
/// needs of each new message. Equal to `(split_message(raw), summarize(raw))`.
pub(crate) fn analyze(raw: &[u8]) -> (Vec<Part>, Summary) {
    let layout = split::Layout::of(raw);
    (layout.parts(raw), summary::summarize_layout(raw, &layout))
}
pub use bounded::{VIEW_PART_LIMIT, VIEW_TOTAL_LIMIT};
pub use summary::{Summary, summarize};
pub use view::{Attachment, Header, ParsedMessage, attachment_data, parse_view};

#[cfg(test)]
mod tests {
    use super::*;

    /// `analyze` parses once but must agree exactly with the two public functions.
    #[test]
    fn analyze_agrees_with_split_and_summarize_on_the_corpus() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus");
        let mut stack = vec![root];
        let mut checked = 0;
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "eml") {
                    let raw = std::fs::read(&path).unwrap();
                    assert_eq!(
                        analyze(&raw),
                        (split_message(&raw), summarize(&raw)),
                        "{path:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 20, "only {checked} corpus files");
    }
}
