//! Header values as text: raw bytes decoded (UTF-8, else windows-1252), unfolded, RFC 2047
//! encoded-words decoded, addresses rendered. Shared by summaries and the reader.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::parsers::MessageStream;
use mail_parser::{Addr, Address, HeaderValue};

/// The raw bytes of a header value (after the colon, through the line end), if the parser's
/// offsets are sane.
pub(super) fn raw_value<'a>(raw: &'a [u8], header: &mail_parser::Header<'_>) -> Option<&'a [u8]> {
    let start = usize::try_from(header.offset_start).ok()?;
    let end = usize::try_from(header.offset_end).ok()?;
    raw.get(start..end)
}

/// Turns header bytes into text: UTF-8 when they are UTF-8, otherwise windows-1252 (a
/// superset of the printable Latin-1 that raw 8-bit headers are almost always written in).
pub(super) fn bytes_to_text(bytes: &[u8]) -> Cow<'_, str> {
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
pub(super) fn header_text(raw: &[u8], header: &mail_parser::Header<'_>) -> String {
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
        HeaderValue::Address(address) => format_address(address),
        HeaderValue::DateTime(date) => date.to_rfc822(),
        HeaderValue::ContentType(ct) => match &ct.c_subtype {
            Some(sub) => format!("{}/{}", ct.c_type, sub),
            None => ct.c_type.to_string(),
        },
        HeaderValue::Received(_) | HeaderValue::Empty => String::new(),
    }
}

/// Renders a parsed address list or group list.
pub(super) fn format_address(address: &Address<'_>) -> String {
    let list = |addrs: &[Addr<'_>]| {
        addrs
            .iter()
            .filter_map(format_addr)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match address {
        Address::List(addrs) => list(addrs),
        Address::Group(groups) => groups
            .iter()
            .map(|g| match g.name.as_deref().map(str::trim) {
                Some(name) if !name.is_empty() => format!("{}:{};", quote(name), {
                    let members = list(&g.addresses);
                    if members.is_empty() {
                        members
                    } else {
                        format!(" {members}")
                    }
                }),
                _ => list(&g.addresses),
            })
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn format_addr(addr: &Addr<'_>) -> Option<String> {
    let name = addr
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let address = addr
        .address
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    match (name, address) {
        (Some(name), Some(address)) if name == address => Some(address.to_owned()),
        (Some(name), Some(address)) => Some(format!("{} <{address}>", quote(name))),
        (None, Some(address)) => Some(address.to_owned()),
        (Some(name), None) => Some(name.to_owned()),
        (None, None) => None,
    }
}

/// Quotes a display name if it contains characters that would make a rendered list ambiguous.
fn quote(name: &str) -> String {
    if name.contains([',', ';', ':', '<', '>', '"', '@', '\\']) {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\"")
    } else {
        name.to_owned()
    }
}
