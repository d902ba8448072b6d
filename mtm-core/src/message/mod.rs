//! Messages: how raw RFC 5322 bytes are cut into stored parts ([`split_message`]), what lists
//! and search show of them ([`summarize`]), and how one is read like webmail ([`parse_view`]).
//!
//! All three take arbitrary bytes and never panic: Maildir files may be empty, truncated,
//! 8-bit, or not mail at all, and a snapshot must still store them byte-exact.

mod mime;
mod split;
mod summary;
mod view;

pub use split::{Part, PartKind, split_message};

/// Cuts `raw` into parts and summarizes it, finding its MIME structure once: what a snapshot
/// needs of each new message. Equal to `(split_message(raw), summarize(raw))`.
pub(crate) fn analyze(raw: &[u8]) -> (Vec<Part>, Summary) {
    let layout = split::Layout::of(raw);
    (layout.parts(raw), summary::summarize_layout(raw, &layout))
}
pub use summary::{Summary, summarize};
pub use view::{Attachment, Header, ParsedMessage, parse_view};

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderValue, Message, MessageParser};

/// Parses `raw` with mail-parser, or `None` when it finds no plausible header field: at least
/// one field name must be printable ASCII (mail-parser itself accepts a lone blank line, or a
/// first line of binary garbage taken as a field name, as a message).
///
/// mail-parser promises not to panic; a panic is still caught here (the workspace builds with
/// `panic = "unwind"`), because a bad message must never take a snapshot job down.
fn parse(raw: &[u8]) -> Option<Message<'_>> {
    parse_with(&MessageParser::new(), raw)
}

/// [`parse`] for summaries: only the fields a summary reads (and the MIME fields that give the
/// structure) are parsed; the rest, `Received` chains above all, are kept raw.
fn parse_for_summary(raw: &[u8]) -> Option<Message<'_>> {
    use mail_parser::HeaderName;
    let parser = MessageParser::new()
        .with_minimal_headers()
        .header_id(HeaderName::MessageId);
    parse_with(&parser, raw)
}

fn parse_with<'x>(parser: &MessageParser, raw: &'x [u8]) -> Option<Message<'x>> {
    if raw.is_empty() {
        return None;
    }
    catch_unwind(AssertUnwindSafe(|| parser.parse(raw)))
        .ok()
        .flatten()
        .filter(|m| {
            m.parts.first().is_some_and(|p| {
                p.headers.iter().any(|h| {
                    let name = h.name.as_str();
                    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b))
                })
            })
        })
}

/// Parses only the MIME fields (`Content-Type`, `Content-Transfer-Encoding` …) of the header
/// block of `raw`; every other field is kept raw. Cheap even for a 50 MB message.
fn parse_headers(raw: &[u8]) -> Option<Message<'_>> {
    if raw.is_empty() {
        return None;
    }
    let parser = MessageParser::new().with_mime_headers();
    catch_unwind(AssertUnwindSafe(|| parser.parse_headers(raw)))
        .ok()
        .flatten()
}

/// The raw bytes of a header value (after the colon, through the line end), if the parser's
/// offsets are sane.
fn raw_value<'a>(raw: &'a [u8], header: &mail_parser::Header<'_>) -> Option<&'a [u8]> {
    let start = usize::try_from(header.offset_start).ok()?;
    let end = usize::try_from(header.offset_end).ok()?;
    raw.get(start..end)
}

/// Turns header bytes into text: UTF-8 when they are UTF-8, otherwise windows-1252 (a
/// superset of the printable Latin-1 that raw 8-bit headers are almost always written in).
fn bytes_to_text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(decode_windows_1252(bytes)),
    }
}

fn decode_windows_1252(bytes: &[u8]) -> String {
    // Bytes 0x80..=0x9F of windows-1252; the five undefined ones map to their C1 controls.
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{8D}',
        '\u{017D}', '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}',
        '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}',
        '\u{9D}', '\u{017E}', '\u{0178}',
    ];
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

/// The value of a header field as one line of text: unfolded, RFC 2047 encoded-words decoded,
/// raw 8-bit bytes read as UTF-8 or else windows-1252. Best effort, never fails.
fn header_text(raw: &[u8], header: &mail_parser::Header<'_>) -> String {
    match raw_value(raw, header) {
        Some(bytes) => unstructured_text(&bytes_to_text(bytes)),
        None => header_value_text(&header.value),
    }
}

/// Unfolds and decodes an unstructured header value.
fn unstructured_text(value: &str) -> String {
    let mut line = value.to_owned();
    if !line.ends_with('\n') {
        // mail-parser's unstructured parser only finishes at a line end.
        line.push('\n');
    }
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        match MessageStream::new(line.as_bytes()).parse_unstructured() {
            HeaderValue::Text(text) => Some(text.into_owned()),
            HeaderValue::Empty => Some(String::new()),
            _ => None,
        }
    }));
    match parsed {
        Ok(Some(text)) => text,
        // Fall back to plain unfolding.
        _ => value.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// A readable rendering of an already parsed value (used only if raw offsets are unusable).
fn header_value_text(value: &HeaderValue<'_>) -> String {
    match value {
        HeaderValue::Text(text) => text.to_string(),
        HeaderValue::TextList(list) => list.join(", "),
        HeaderValue::Address(address) => summary::format_address(address),
        HeaderValue::DateTime(date) => date.to_rfc822(),
        HeaderValue::ContentType(ct) => match &ct.c_subtype {
            Some(sub) => format!("{}/{}", ct.c_type, sub),
            None => ct.c_type.to_string(),
        },
        HeaderValue::Received(_) | HeaderValue::Empty => String::new(),
    }
}

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
