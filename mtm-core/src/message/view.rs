//! Reading one message like webmail: headers, text, HTML, attachments.

use mail_parser::{MessagePart, MimeHeaders, PartType};

use super::attachments::{attachment_parts, broken_multipart_root};
use super::bounded::{Bounded, VIEW_PART_LIMIT};
use super::parser::parse;
use super::summary::{Summary, summary_of};
use super::text::header_text;

/// One message as webmail shows it.
///
/// Its memory is bounded whatever the message's size: at most [`VIEW_PART_LIMIT`] bytes of
/// each part's body and [`VIEW_TOTAL_LIMIT`](crate::VIEW_TOTAL_LIMIT) of all of them are decoded. A longer text or
/// HTML body is shown cut (`truncated`); a longer attachment is listed without its data
/// (`Attachment::omitted`), which [`attachment_data`] decodes on its own.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ParsedMessage {
    /// The same [`Summary`] that [`summarize`](crate::summarize) gives.
    pub summary: Summary,
    /// Every top-level header field in order, its value unfolded and decoded to text.
    pub headers: Vec<Header>,
    /// The text/plain body (the first text body); `None` if the message has only HTML or no
    /// text body.
    pub text: Option<String>,
    /// The text/html body, if any.
    pub html: Option<String>,
    /// Whether `text` or `html` is only the beginning of its body: the body is longer than
    /// the view's limits ([`VIEW_PART_LIMIT`], [`VIEW_TOTAL_LIMIT`](crate::VIEW_TOTAL_LIMIT)). The whole message is
    /// the raw bytes (`mtm cat`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The attachments: every part that is not shown as the text or HTML body (inline images
    /// and forwarded `message/rfc822` messages included).
    pub attachments: Vec<Attachment>,
}

/// One header field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Header {
    /// The field name as written in the message (`Subject`, `X-Mailer` …).
    pub name: String,
    /// The value: unfolded, RFC 2047 encoded-words decoded, 8-bit bytes read as UTF-8 or
    /// else windows-1252. Best effort.
    pub value: String,
}

/// One attachment of a message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Attachment {
    /// The file name (`Content-Disposition: filename` or `Content-Type: name`), if given.
    pub name: Option<String>,
    /// The media type, lowercase: `"application/pdf"`.
    pub content_type: String,
    /// The decoded size in bytes: `data.len()`, or for an `omitted` attachment the size its
    /// transfer encoding decodes to (before any charset conversion).
    pub size: u64,
    /// The decoded bytes. A `text/*` attachment is given as UTF-8 text (converted from its
    /// declared charset); a forwarded message as its raw bytes. Empty when `omitted`.
    #[serde(skip)]
    pub data: Vec<u8>,
    /// Whether `data` was left empty because the attachment is larger than the view decodes
    /// ([`VIEW_PART_LIMIT`]); [`attachment_data`] (or `AccountView::attachment`) gives it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub omitted: bool,
}

/// Parses a raw message for reading. Never panics.
///
/// When the bytes cannot be parsed as a message at all (no header field found: empty files,
/// binary garbage), the result has `summary.parsed == false`, no headers, no HTML and no
/// attachments, and `text` is the raw bytes read as (lossy) UTF-8 (at most
/// [`VIEW_PART_LIMIT`] of them, `truncated` when there are more), so that a reader still
/// sees what the file holds; `text` is `None` for an empty file.
///
/// Bodies are decoded only up to the view's limits (see [`ParsedMessage`]): the memory this
/// takes beyond `raw` itself is bounded by those limits (and the header blocks), however
/// large the message.
///
/// ```
/// let view = mtm_core::parse_view(b"Subject: hi\r\nContent-Type: text/plain\r\n\r\nHello\r\n");
/// assert_eq!(view.headers[0].name, "Subject");
/// assert_eq!(view.text.as_deref(), Some("Hello\r\n"));
/// assert_eq!(view.html, None);
/// assert!(!view.truncated);
/// ```
pub fn parse_view(raw: &[u8]) -> ParsedMessage {
    let bounded = Bounded::of(raw);
    let Some(message) = parse(&bounded.bytes) else {
        let shown = &raw[..raw.len().min(VIEW_PART_LIMIT)];
        return ParsedMessage {
            summary: Summary::default(),
            headers: Vec::new(),
            text: (!raw.is_empty()).then(|| String::from_utf8_lossy(shown).into_owned()),
            html: None,
            truncated: shown.len() < raw.len(),
            attachments: Vec::new(),
        };
    };
    let bytes = &bounded.bytes[..];
    let headers = message
        .headers()
        .iter()
        .map(|h| Header {
            name: header_name(bytes, h),
            value: header_text(bytes, h),
        })
        .collect();
    let mut truncated = false;
    let text_part = message.text_body.first().and_then(|&id| message.part(id));
    let text = text_part
        .and_then(|part| match &part.body {
            PartType::Text(text) => {
                truncated |= bounded.is_cut(part);
                Some(text.to_string())
            }
            _ => None,
        })
        .or_else(|| {
            let root = message.parts.first()?;
            broken_multipart_root(&message).then(|| {
                truncated |= bounded.is_cut(root);
                String::from_utf8_lossy(root.contents()).into_owned()
            })
        });
    let html = message
        .html_body
        .first()
        .and_then(|&id| message.part(id))
        .and_then(|part| match &part.body {
            PartType::Html(html) => {
                truncated |= bounded.is_cut(part);
                Some(html.to_string())
            }
            _ => None,
        });
    let attachments = attachment_parts(&message)
        .map(|part| attachment(part, raw, &bounded))
        .collect();
    ParsedMessage {
        summary: summary_of(&message, bytes),
        headers,
        text,
        html,
        truncated,
        attachments,
    }
}

/// The decoded bytes of attachment `index` (of [`ParsedMessage::attachments`]) of `raw`,
/// whether or not the view left them out; `None` if there is no such attachment. Costs
/// about the attachment's decoded size beyond `raw`: an `omitted` attachment is decoded
/// from the message's bytes on its own.
///
/// ```
/// let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
///             Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n\
///             aGVsbG8=\r\n--b--\r\n";
/// assert_eq!(mtm_core::attachment_data(raw, 0).as_deref(), Some(&b"hello"[..]));
/// assert_eq!(mtm_core::attachment_data(raw, 1), None);
/// ```
pub fn attachment_data(raw: &[u8], index: usize) -> Option<Vec<u8>> {
    let bounded = Bounded::of(raw);
    let message = parse(&bounded.bytes)?;
    let part = attachment_parts(&message).nth(index)?;
    if !bounded.is_cut(part) {
        return Some(decoded_contents(part));
    }
    let body = raw.get(bounded.raw_body(part))?;
    let decoded = match transfer_encoding(part) {
        Encoding::Base64 => mail_parser::decoders::base64::base64_decode(body),
        Encoding::QuotedPrintable => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(body)
        }
        Encoding::Identity => None,
    }
    .unwrap_or_else(|| body.to_vec());
    Some(match &part.body {
        PartType::Text(_) | PartType::Html(_) => text_to_utf8(part, decoded),
        _ => decoded,
    })
}

/// A text part's decoded bytes as UTF-8, converted from its declared charset as mail-parser
/// converts the parts it decodes.
fn text_to_utf8(part: &MessagePart<'_>, decoded: Vec<u8>) -> Vec<u8> {
    let decoder = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .and_then(|cs| mail_parser::decoders::charsets::map::charset_decoder(cs.as_bytes()));
    match (decoder, String::from_utf8(decoded)) {
        (None, Ok(text)) => text.into_bytes(),
        (None, Err(e)) => String::from_utf8_lossy(e.as_bytes())
            .into_owned()
            .into_bytes(),
        (Some(decode), Ok(text)) => decode(text.as_bytes()).into_bytes(),
        (Some(decode), Err(e)) => decode(e.as_bytes()).into_bytes(),
    }
}

/// How a part's body is encoded for transport.
enum Encoding {
    Base64,
    QuotedPrintable,
    Identity,
}

fn transfer_encoding(part: &MessagePart<'_>) -> Encoding {
    match part.content_transfer_encoding().map(str::trim) {
        Some(e) if e.eq_ignore_ascii_case("base64") => Encoding::Base64,
        Some(e) if e.eq_ignore_ascii_case("quoted-printable") => Encoding::QuotedPrintable,
        _ => Encoding::Identity,
    }
}

/// The size `body` decodes to under `encoding`, counted without decoding it.
fn decoded_size(body: &[u8], encoding: &Encoding) -> u64 {
    match encoding {
        Encoding::Base64 => {
            let digits = body
                .iter()
                .filter(|&&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
                .count() as u64;
            digits * 3 / 4
        }
        Encoding::QuotedPrintable => {
            let mut size = body.len() as u64;
            let mut rest = body;
            while let Some(i) = memchr::memchr(b'=', rest) {
                let after = &rest[i + 1..];
                // (bytes the escape removes, bytes after the `=` it spans)
                let (removed, spans) = match after {
                    [b'\r', b'\n', ..] => (3, 2),
                    [b'\n', ..] => (2, 1),
                    [a, b, ..] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => (2, 2),
                    _ => (0, 0),
                };
                size -= removed;
                rest = &after[spans..];
            }
            size
        }
        Encoding::Identity => body.len() as u64,
    }
}

/// The field name as written, or mail-parser's name if the offsets look wrong.
fn header_name(raw: &[u8], header: &mail_parser::Header<'_>) -> String {
    let written = usize::try_from(header.offset_field)
        .ok()
        .zip(usize::try_from(header.offset_start).ok())
        .and_then(|(start, end)| raw.get(start..end))
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .map(|s| s.trim_end_matches(':').trim())
        .filter(|s| !s.is_empty() && s.eq_ignore_ascii_case(header.name.as_str()));
    written.unwrap_or(header.name.as_str()).to_owned()
}

fn attachment(part: &MessagePart<'_>, raw: &[u8], bounded: &Bounded<'_>) -> Attachment {
    let omitted = bounded.is_cut(part);
    let (data, size) = if omitted {
        let body = raw.get(bounded.raw_body(part)).unwrap_or_default();
        (Vec::new(), decoded_size(body, &transfer_encoding(part)))
    } else {
        let data = decoded_contents(part);
        let size = data.len() as u64;
        (data, size)
    };
    let content_type = match part.content_type() {
        Some(ct) => match &ct.c_subtype {
            Some(sub) => format!("{}/{}", ct.c_type, sub),
            None => ct.c_type.to_string(),
        },
        None => match &part.body {
            PartType::Text(_) => "text/plain".to_owned(),
            PartType::Html(_) => "text/html".to_owned(),
            PartType::Message(_) => "message/rfc822".to_owned(),
            _ => "application/octet-stream".to_owned(),
        },
    }
    .to_ascii_lowercase();
    Attachment {
        name: part.attachment_name().map(str::to_owned),
        content_type,
        size,
        data,
        omitted,
    }
}

/// The decoded bytes of a part. When mail-parser gave up on a declared base64 body (for
/// example a message cut off before its closing boundary) it keeps the encoded text; decode
/// it here if it is valid base64 after all.
fn decoded_contents(part: &MessagePart<'_>) -> Vec<u8> {
    let contents = part.contents();
    let declared_base64 = part
        .content_transfer_encoding()
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("base64"));
    if part.is_encoding_problem && declared_base64 {
        let compact: Vec<u8> = contents
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        if let Some(decoded) = mail_parser::decoders::base64::base64_decode(&compact) {
            return decoded;
        }
    }
    contents.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unparsable_input_is_shown_as_text() {
        let view = parse_view(b"");
        assert!(!view.summary.parsed);
        assert_eq!(view.text, None);
        let view = parse_view(b"\r\n\xff\xfe garbage");
        assert!(!view.summary.parsed);
        assert!(view.headers.is_empty());
        assert!(view.text.is_some());
    }

    #[test]
    fn header_names_keep_their_spelling() {
        let view = parse_view(b"SUBJECT: x\r\nx-mailer: y\r\n\r\n");
        let names: Vec<_> = view.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["SUBJECT", "x-mailer"]);
    }

    #[test]
    fn alternative_gives_text_and_html() {
        let raw = b"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\
                    Content-Type: text/plain\r\n\r\nplain\r\n--b\r\nContent-Type: text/html\r\n\r\n\
                    <p>html</p>\r\n--b--\r\n";
        let view = parse_view(raw);
        assert_eq!(view.text.as_deref(), Some("plain"));
        assert_eq!(view.html.as_deref(), Some("<p>html</p>"));
        assert!(view.attachments.is_empty());
        assert!(!view.summary.has_attachments);
    }

    /// The base64 of `len` pseudo-random bytes in lines of 76, and the bytes.
    fn base64_lines(len: usize) -> (String, Vec<u8>) {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let data: Vec<u8> = (0..len as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut out = String::new();
        for chunk in data.chunks(57) {
            let mut line = String::new();
            for group in chunk.chunks(3) {
                let b = [
                    group[0],
                    *group.get(1).unwrap_or(&0),
                    *group.get(2).unwrap_or(&0),
                ];
                let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
                for k in 0..4 {
                    if k <= group.len() {
                        line.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
                    } else {
                        line.push('=');
                    }
                }
            }
            out.push_str(&line);
            out.push_str("\r\n");
        }
        (out, data)
    }

    fn mixed(text: &str, attachment: &str) -> Vec<u8> {
        format!(
            "From: a@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
             --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
             --b1\r\nContent-Type: application/octet-stream; name=\"scans.tar\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{attachment}\r\n--b1--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn an_attachment_over_the_limit_is_listed_without_its_data_and_fetched_whole() {
        let (encoded, data) = base64_lines(VIEW_PART_LIMIT);
        let raw = mixed("See the scans.", &encoded);
        let view = parse_view(&raw);
        assert_eq!(view.text.as_deref(), Some("See the scans."));
        assert!(!view.truncated);
        let [attachment] = &view.attachments[..] else {
            panic!("{:?}", view.attachments.len());
        };
        assert_eq!(attachment.name.as_deref(), Some("scans.tar"));
        assert!(attachment.omitted);
        assert!(attachment.data.is_empty());
        assert_eq!(attachment.size, data.len() as u64);
        assert_eq!(attachment_data(&raw, 0), Some(data));
        assert_eq!(attachment_data(&raw, 1), None);
        assert_eq!(view.summary, crate::summarize(&raw));
    }

    #[test]
    fn an_attachment_under_the_limit_is_decoded_in_the_view() {
        let (encoded, data) = base64_lines(100_000);
        let raw = mixed("See the scans.", &encoded);
        let view = parse_view(&raw);
        assert!(!view.attachments[0].omitted);
        assert_eq!(view.attachments[0].data, data);
        assert_eq!(attachment_data(&raw, 0), Some(data));
    }

    #[test]
    fn a_text_body_over_the_limit_is_cut_and_marked_truncated() {
        let line = "Grüße, line after line of a very long letter.\r\n";
        let text = line.repeat(VIEW_PART_LIMIT / line.len() + 100);
        let raw = mixed(&text, "aGVsbG8=");
        let view = parse_view(&raw);
        assert!(view.truncated);
        let shown = view.text.unwrap();
        assert!(shown.len() <= VIEW_PART_LIMIT && shown.len() > VIEW_PART_LIMIT / 2);
        assert!(text.starts_with(&shown));
        // The small attachment after it is still decoded.
        assert_eq!(view.attachments[0].data, b"hello");
        assert!(!view.attachments[0].omitted);
    }

    #[test]
    fn a_forwarded_message_with_a_large_attachment_is_omitted_and_fetched_byte_exact() {
        let (encoded, _) = base64_lines(VIEW_PART_LIMIT);
        let inner = mixed("inner text", &encoded);
        let raw = format!(
            "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n\
             --o\r\nContent-Type: text/plain\r\n\r\nforwarded below\r\n\
             --o\r\nContent-Type: message/rfc822\r\n\r\n{}\r\n--o--\r\n",
            String::from_utf8(inner.clone()).unwrap()
        )
        .into_bytes();
        let view = parse_view(&raw);
        let forwarded = &view.attachments[0];
        assert_eq!(forwarded.content_type, "message/rfc822");
        assert!(forwarded.omitted);
        assert_eq!(forwarded.size, inner.len() as u64);
        assert_eq!(attachment_data(&raw, 0), Some(inner));
    }

    #[test]
    fn huge_garbage_is_shown_cut() {
        let raw = vec![0xffu8; VIEW_PART_LIMIT + 10];
        let view = parse_view(&raw);
        assert!(!view.summary.parsed);
        assert!(view.truncated);
        assert_eq!(view.text.unwrap().chars().count(), VIEW_PART_LIMIT);
    }
}
