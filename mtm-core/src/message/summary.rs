//! What message lists and search show of a message.

use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderName, HeaderValue, Message};

use super::attachments::attachment_parts;
use super::parser::parse_for_summary;
use super::text::{bytes_to_text, format_address, header_text, raw_value};

/// The fields a message list or a search shows, stored for every message of a snapshot.
///
/// Address fields are rendered `Name <addr>` or `addr`, several joined by `", "`; a name with
/// characters that would make that ambiguous (`, ; : < > " @ \`) is quoted. A group renders as
/// in RFC 5322: `Friends: a@example.com, B <b@example.com>;` (an empty group as `Name:;`).
///
/// Serialized compactly: empty strings, `false` and `None` are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// The `From:` addresses; `""` if none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// The `To:` addresses.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
    /// The `Cc:` addresses.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cc: String,
    /// The subject, decoded (RFC 2047; raw 8-bit read as UTF-8, else windows-1252); `""` if none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// The `Date:` header as unix seconds (UTC); `None` if missing or unparsable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<i64>,
    /// The `Message-ID:` without angle brackets; `""` if none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message_id: String,
    /// Whether the message has attachments (the same ones [`parse_view`](crate::parse_view)
    /// lists, inline images and forwarded messages included).
    #[serde(default, skip_serializing_if = "is_false")]
    pub has_attachments: bool,
    /// `false` if the bytes could not be parsed as a message at all (then every field is empty).
    #[serde(default, skip_serializing_if = "is_false")]
    pub parsed: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The [`Summary`] of a raw message. Never panics; empty or unparsable input gives
/// `parsed: false` and empty fields.
///
/// ```
/// let s = mtm_core::summarize(b"From: Ann <ann@example.com>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nhi");
/// assert_eq!(s.from, "Ann <ann@example.com>");
/// assert_eq!(s.subject, "Grüße");
/// assert!(s.parsed);
/// ```
pub fn summarize(raw: &[u8]) -> Summary {
    summarize_layout(raw, &super::split::Layout::of(raw))
}

/// Parses the message's skeleton (its leaf bodies cut out) where that gives the same summary
/// as a parse of the whole message, which is almost always: a summary needs the headers and
/// the MIME structure, and decoding the bodies cost more than all the rest of a snapshot's
/// work on a message.
pub(crate) fn summarize_layout(raw: &[u8], layout: &super::split::Layout) -> Summary {
    super::skeleton::with_parsed(raw, layout, parse_for_summary, summary_of).unwrap_or_default()
}

pub(crate) fn summary_of(message: &Message<'_>, raw: &[u8]) -> Summary {
    let headers = message.headers();
    let first = |name: HeaderName<'static>| headers.iter().find(|h| h.name == name);
    Summary {
        from: addresses(message, raw, HeaderName::From),
        to: addresses(message, raw, HeaderName::To),
        cc: addresses(message, raw, HeaderName::Cc),
        subject: first(HeaderName::Subject)
            .map(|h| header_text(raw, h))
            .unwrap_or_default(),
        date: first(HeaderName::Date)
            .and_then(|h| h.value.as_datetime())
            .filter(|d| d.is_valid())
            .map(|d| d.to_timestamp()),
        message_id: first(HeaderName::MessageId)
            .and_then(|h| match &h.value {
                HeaderValue::Text(id) => Some(id.trim().to_owned()),
                HeaderValue::TextList(ids) => ids.first().map(|id| id.trim().to_owned()),
                _ => None,
            })
            .unwrap_or_default(),
        has_attachments: attachment_parts(message).next().is_some(),
        parsed: true,
    }
}

/// Every field named `name` of the top-level header, rendered and joined by `", "`.
fn addresses(message: &Message<'_>, raw: &[u8], name: HeaderName<'static>) -> String {
    let mut out: Vec<String> = Vec::new();
    for header in message.headers().iter().filter(|h| h.name == name) {
        let rendered = match raw_value(raw, header) {
            // Raw 8-bit names: reparse from the windows-1252 reading rather than keep U+FFFD.
            Some(bytes) if std::str::from_utf8(bytes).is_err() => {
                let mut text = bytes_to_text(bytes).into_owned();
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                match MessageStream::new(text.as_bytes()).parse_address() {
                    HeaderValue::Address(address) => format_address(&address),
                    _ => header_text(raw, header),
                }
            }
            _ => match &header.value {
                HeaderValue::Address(address) => format_address(address),
                HeaderValue::Empty => String::new(),
                _ => header_text(raw, header),
            },
        };
        if !rendered.is_empty() {
            out.push(rendered);
        }
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_are_unparsed() {
        assert_eq!(summarize(b""), Summary::default());
        assert!(!summarize(b"\r\n\r\n").parsed);
    }

    #[test]
    fn serialization_is_compact_and_round_trips() {
        assert_eq!(serde_json::to_string(&Summary::default()).unwrap(), "{}");
        let s = summarize(
            b"From: a@example.com\r\nDate: Thu, 13 Feb 1969 23:32:54 -0330\r\n\
              Message-ID: <x@y>\r\n\r\nhi",
        );
        assert_eq!(s.date, Some(-27_723_426));
        assert_eq!(s.message_id, "x@y");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"from":"a@example.com","date":-27723426,"message_id":"x@y","parsed":true}"#
        );
        assert_eq!(serde_json::from_str::<Summary>(&json).unwrap(), s);
    }

    #[test]
    fn names_are_quoted_when_ambiguous() {
        let s = summarize(b"From: \"Doe, John\" <j@example.com>, Ann <a@example.com>\n\nx");
        assert_eq!(s.from, "\"Doe, John\" <j@example.com>, Ann <a@example.com>");
    }

    #[test]
    fn latin1_subject_and_name() {
        let s = summarize(b"From: Jos\xe9 <j@example.com>\nSubject: Caf\xe9 \x80 5\n\nx");
        assert_eq!(s.subject, "Café € 5");
        assert_eq!(s.from, "José <j@example.com>");
    }

    /// A large message is summarized from its skeleton; the answer must be what parsing the
    /// whole message gives.
    #[test]
    fn skeleton_summaries_equal_full_parse_summaries() {
        let b64: String = (0..24000u32)
            .map(|i| {
                let c = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    [(i.wrapping_mul(2654435761) >> 26) as usize] as char;
                if i % 76 == 75 {
                    format!("{c}\r\n")
                } else {
                    c.to_string()
                }
            })
            .collect();
        let text = "Grüße aus Köln, line after line of text.\r\n".repeat(800);
        let head = "From: =?utf-8?q?J=C3=B6rg?= <j@example.de>\r\nTo: a@b.c, \"Doe, J\" <d@e.f>\r\nCc: c@d.e\r\nSubject: =?iso-8859-1?q?R=E9sum=E9?=\r\nDate: Tue, 17 Nov 2026 10:00:00 +0100\r\nMessage-ID: <big@example.de>\r\nMIME-Version: 1.0\r\n";
        let messages = [
            format!(
                "{head}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}"
            ),
            format!(
                "{head}Content-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}"
            ),
            format!(
                "{head}Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n{text}\r\n--b1\r\nContent-Type: image/png\r\nContent-Disposition: inline; filename=\"x.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b1--\r\n"
            ),
            format!(
                "{head}Content-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n--b2\r\nContent-Type: text/plain\r\n\r\n{text}\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>{text}</p>\r\n--b2--\r\n"
            ),
            format!(
                "{head}Content-Type: multipart/mixed; boundary=\"b3\"\r\n\r\n--b3\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--b3\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y.z\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=\"b4\"\r\n\r\n--b4\r\nContent-Type: text/plain\r\n\r\n{text}\r\n--b4\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b4--\r\n\r\n--b3--\r\n"
            ),
        ];
        for raw in &messages {
            let raw = raw.as_bytes();
            assert!(raw.len() > 16 * 1024);
            let full = summary_of(&crate::message::parser::parse(raw).unwrap(), raw);
            assert_eq!(
                summarize(raw),
                full,
                "{}",
                String::from_utf8_lossy(&raw[..200])
            );
        }
    }
}
