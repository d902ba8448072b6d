//! mail-parser behind a guard: the parses the other modules start from, each refusing input
//! with no plausible header field and catching a panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;

use mail_parser::{HeaderName, Message, MessageParser};

/// The parsers, built once: each holds a hash map of header parsers, and building one cost
/// more than parsing a part's header block.
///
/// The summary and MIME parsers skip the value of every field they are not asked for. Keeping
/// it raw copied it into a string checked as UTF-8, field by field (the `Received` chains
/// above all), for values nobody read: splitting and summarizing the 50,000 messages of the
/// 1,000-account benchmark took 3.0 s on one thread that way, 2.2 s now, with the same parts
/// and summaries. A skipped field keeps its name and offsets, with an empty value.
static FULL: LazyLock<MessageParser> = LazyLock::new(MessageParser::new);
static SUMMARY: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_minimal_headers()
        .header_id(HeaderName::MessageId)
        .default_header_ignore()
});
static MIME: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .default_header_ignore()
});

/// Parses `raw` with mail-parser, or `None` when it finds no plausible header field: at least
/// one field name must be printable ASCII (mail-parser itself accepts a lone blank line, or a
/// first line of binary garbage taken as a field name, as a message).
///
/// mail-parser promises not to panic; a panic is still caught here (the workspace builds with
/// `panic = "unwind"`), because a bad message must never take a snapshot job down.
pub(super) fn parse(raw: &[u8]) -> Option<Message<'_>> {
    parse_with(&FULL, raw)
}

/// [`parse`] for summaries: only the fields a summary reads (and the MIME fields that give the
/// structure) are parsed; the values of the rest, `Received` chains above all, are skipped.
pub(super) fn parse_for_summary(raw: &[u8]) -> Option<Message<'_>> {
    parse_with(&SUMMARY, raw)
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
/// block of `raw`; the values of the other fields are skipped. Cheap even for a 50 MB message.
pub(super) fn parse_headers(raw: &[u8]) -> Option<Message<'_>> {
    if raw.is_empty() {
        return None;
    }
    catch_unwind(AssertUnwindSafe(|| MIME.parse_headers(raw)))
        .ok()
        .flatten()
}
