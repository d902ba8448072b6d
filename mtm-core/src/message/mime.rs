//! The MIME structure of a message, found by scanning for boundary lines (RFC 2046 §5.1.1)
//! without decoding any body: what splitting and summarizing need, at the cost of one pass
//! over the bytes. (Parsing decodes every base64 attachment, which costs more than
//! compressing it.)

use std::ops::Range;

use mail_parser::{MessagePart, MimeHeaders};

/// Nesting deeper than this is not followed (a message built to exhaust the stack).
const MAX_DEPTH: usize = 16;

/// The body ranges of every MIME leaf part, in order, as mail-parser's `offset_body` and
/// `offset_end` give them: from after the blank line ending the part's headers to before the
/// line break that precedes the next boundary line. `None` when `raw` is not multipart or its
/// structure is not clean (a boundary never found, a part without a header block).
pub(crate) fn leaves(raw: &[u8], body_start: usize) -> Option<Vec<Range<usize>>> {
    let boundary = multipart_boundary(&raw[..body_start])?;
    let mut out = Vec::new();
    scan(raw, body_start..raw.len(), &boundary, 0, &mut out)?;
    Some(out)
}

/// Whether a header block declares a multipart body.
pub(crate) fn is_multipart(header: &[u8]) -> bool {
    multipart_boundary(header).is_some()
}

/// The boundary of a header block that declares a multipart body.
fn multipart_boundary(header: &[u8]) -> Option<Vec<u8>> {
    boundary_of(super::parser::parse_headers(header)?.parts.first()?)
}

/// The boundary of a part whose content type is `multipart/*`.
fn boundary_of(part: &MessagePart<'_>) -> Option<Vec<u8>> {
    let ct = part.content_type()?;
    if !ct.c_type.eq_ignore_ascii_case("multipart") {
        return None;
    }
    let boundary = ct.attribute("boundary")?;
    (!boundary.is_empty()).then(|| boundary.as_bytes().to_vec())
}

/// Whether a part declares an unencoded `message/rfc822` body, which mail-parser parses in
/// place (a base64-encoded one is decoded first, and so is one opaque leaf).
fn inline_message(part: &MessagePart<'_>) -> bool {
    let is_message = part.content_type().is_some_and(|ct| {
        ct.c_type.eq_ignore_ascii_case("message")
            && ct.c_subtype.as_deref().is_some_and(|s| {
                s.eq_ignore_ascii_case("rfc822") || s.eq_ignore_ascii_case("global")
            })
    });
    let encoded = part.content_transfer_encoding().is_some_and(|e| {
        e.eq_ignore_ascii_case("base64") || e.eq_ignore_ascii_case("quoted-printable")
    });
    is_message && !encoded
}

/// The end of the header block starting at `from` (just after its blank line), if it has one
/// within `end`.
fn header_end(raw: &[u8], from: usize, end: usize) -> Option<usize> {
    let mut pos = from;
    while pos < end {
        let line_end = next_line(raw, pos, end);
        let line = &raw[pos..line_end];
        if line == b"\n" || line == b"\r\n" {
            return Some(line_end);
        }
        pos = line_end;
    }
    None
}

/// Just after the `\n` ending the line at `pos`, or `end`.
fn next_line(raw: &[u8], pos: usize, end: usize) -> usize {
    raw[pos..end]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(end, |i| pos + i + 1)
}

/// Whether the line at `pos` is a delimiter of `boundary`; `Some(true)` for the closing one.
fn delimiter(raw: &[u8], pos: usize, end: usize, boundary: &[u8]) -> Option<bool> {
    let line = &raw[pos..end];
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    if rest.starts_with(b"--") {
        return Some(true);
    }
    // Only transport padding may follow the boundary on its line.
    rest.iter()
        .take_while(|&&b| b != b'\n')
        .all(|&b| b == b' ' || b == b'\t' || b == b'\r')
        .then_some(false)
}

/// Where the part before the delimiter line at `pos` ends: before that line's preceding
/// line break.
fn before_line_break(raw: &[u8], pos: usize, floor: usize) -> usize {
    let mut end = pos;
    if end > floor && raw[end - 1] == b'\n' {
        end -= 1;
        if end > floor && raw[end - 1] == b'\r' {
            end -= 1;
        }
    }
    end
}

/// Collects the leaves of the multipart body in `region` into `out`.
fn scan(
    raw: &[u8],
    region: Range<usize>,
    boundary: &[u8],
    depth: usize,
    out: &mut Vec<Range<usize>>,
) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut needle = Vec::with_capacity(boundary.len() + 2);
    needle.extend_from_slice(b"--");
    needle.extend_from_slice(boundary);
    let finder = memchr::memmem::Finder::new(&needle);
    let mut part_start: Option<usize> = None;
    let mut closed = false;
    // Only candidates for delimiter lines are looked at: a fast search for `--boundary`, kept
    // when it starts a line.
    for found in finder.find_iter(&raw[region.clone()]) {
        let pos = region.start + found;
        if pos > region.start && raw[pos - 1] != b'\n' {
            continue;
        }
        if part_start.is_some_and(|start| pos < start) {
            continue;
        }
        let line_end =
            memchr::memchr(b'\n', &raw[pos..region.end]).map_or(region.end, |i| pos + i + 1);
        let Some(close) = delimiter(raw, pos, line_end, boundary) else {
            continue;
        };
        if let Some(start) = part_start {
            part(raw, start..before_line_break(raw, pos, start), depth, out)?;
        }
        if close {
            closed = true;
            break;
        }
        part_start = Some(line_end);
    }
    match (part_start, closed) {
        // No delimiter at all: not a multipart body after all.
        (None, _) => None,
        // A missing closing delimiter: the last part runs to the end, as mail-parser reads it.
        (Some(start), false) => part(raw, start..region.end, depth, out),
        (Some(_), true) => Some(()),
    }
}

/// Collects the leaves of one part (its header block and body) into `out`.
fn part(raw: &[u8], range: Range<usize>, depth: usize, out: &mut Vec<Range<usize>>) -> Option<()> {
    let body_start = header_end(raw, range.start, range.end)?;
    // One parse of the part's header block answers both questions.
    let parsed = super::parser::parse_headers(&raw[range.start..body_start]);
    let part_headers = parsed.as_ref().and_then(|m| m.parts.first());
    if let Some(boundary) = part_headers.and_then(boundary_of) {
        return scan(raw, body_start..range.end, &boundary, depth + 1, out);
    }
    if part_headers.is_some_and(inline_message) {
        // A forwarded message: its own header block, then its body, which may be multipart.
        let inner_body = header_end(raw, body_start, range.end)?;
        let inner_header = &raw[body_start..inner_body];
        if let Some(boundary) = multipart_boundary(inner_header) {
            return scan(raw, inner_body..range.end, &boundary, depth + 1, out);
        }
        out.push(inner_body..range.end);
        return Some(());
    }
    out.push(body_start..range.end);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parser::parse;
    use mail_parser::{Message, PartType};
    use proptest::prelude::*;

    /// The leaf body ranges mail-parser reports (recursing into messages parsed in place).
    fn parser_leaves(message: &Message<'_>, raw: &[u8], out: &mut Vec<Range<usize>>) {
        for p in &message.parts {
            match &p.body {
                PartType::Multipart(_) => {}
                PartType::Message(nested) if matches!(&nested.raw_message, std::borrow::Cow::Borrowed(b) if std::ptr::eq(b.as_ptr(), raw.as_ptr())) => {
                    parser_leaves(nested, raw, out)
                }
                _ => out.push(p.offset_body as usize..p.offset_end as usize),
            }
        }
    }

    fn body_start(raw: &[u8]) -> usize {
        header_end(raw, 0, raw.len()).unwrap_or(raw.len())
    }

    #[test]
    fn leaves_match_the_parser_on_every_multipart_corpus_message() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus");
        let mut checked = 0;
        for dir in ["multipart", "malformed", "non-utf8", "rfc"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|e| e != "eml") {
                    continue;
                }
                let raw = std::fs::read(&path).unwrap();
                let Some(scanned) = leaves(&raw, body_start(&raw)) else {
                    continue;
                };
                let message = parse(&raw).unwrap();
                let mut expected = Vec::new();
                parser_leaves(&message, &raw, &mut expected);
                assert_eq!(scanned, expected, "{path:?}");
                checked += 1;
            }
        }
        assert!(checked >= 6, "only {checked} multipart messages checked");
    }

    fn multipart(parts: &[(String, String)], eol: &str, close: bool) -> Vec<u8> {
        let mut m = format!(
            "From: a@b.c{eol}Content-Type: multipart/mixed; boundary=\"XyZ\"{eol}{eol}preamble{eol}"
        );
        for (headers, body) in parts {
            m.push_str(&format!("--XyZ{eol}{headers}{eol}{eol}{body}{eol}"));
        }
        if close {
            m.push_str(&format!("--XyZ--{eol}epilogue{eol}"));
        }
        m.into_bytes()
    }

    proptest! {
        #[test]
        fn generated_multiparts_match_the_parser(
            bodies in prop::collection::vec("[a-zA-Z0-9+/= ]{0,40}(\r?\n[a-zA-Z0-9+/=]{0,40}){0,4}", 1..5),
            crlf in any::<bool>(),
            close in any::<bool>(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let parts: Vec<(String, String)> = bodies
                .into_iter()
                .enumerate()
                .map(|(i, b)| (format!("Content-Type: application/x-{i}"), b.replace("\r\n", eol).replace('\n', eol)))
                .collect();
            let raw = multipart(&parts, eol, close);
            let scanned = leaves(&raw, body_start(&raw)).unwrap();
            let mut expected = Vec::new();
            parser_leaves(&parse(&raw).unwrap(), &raw, &mut expected);
            prop_assert_eq!(scanned, expected);
        }

        #[test]
        fn arbitrary_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = leaves(&raw, body_start(&raw));
        }
    }
}
