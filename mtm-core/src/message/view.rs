//! Reading one message like webmail: headers, text, HTML, attachments.

use mail_parser::{MessagePart, MimeHeaders, PartType};

use super::attachments::{attachment_parts, broken_multipart_root};
use super::parser::parse;
use super::summary::{Summary, summary_of};
use super::text::header_text;

/// One message as webmail shows it.
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
    /// The decoded size in bytes (`data.len()`).
    pub size: u64,
    /// The decoded bytes. A `text/*` attachment is given as UTF-8 text (converted from its
    /// declared charset); a forwarded message as its raw bytes.
    #[serde(skip)]
    pub data: Vec<u8>,
}

/// Parses a raw message for reading. Never panics.
///
/// When the bytes cannot be parsed as a message at all (no header field found: empty files,
/// binary garbage), the result has `summary.parsed == false`, no headers, no HTML and no
/// attachments, and `text` is the raw bytes read as (lossy) UTF-8, so that a reader still sees
/// what the file holds; `text` is `None` for an empty file.
///
/// ```
/// let view = mtm_core::parse_view(b"Subject: hi\r\nContent-Type: text/plain\r\n\r\nHello\r\n");
/// assert_eq!(view.headers[0].name, "Subject");
/// assert_eq!(view.text.as_deref(), Some("Hello\r\n"));
/// assert_eq!(view.html, None);
/// ```
pub fn parse_view(raw: &[u8]) -> ParsedMessage {
    let Some(message) = parse(raw) else {
        return ParsedMessage {
            summary: Summary::default(),
            headers: Vec::new(),
            text: (!raw.is_empty()).then(|| String::from_utf8_lossy(raw).into_owned()),
            html: None,
            attachments: Vec::new(),
        };
    };
    let headers = message
        .headers()
        .iter()
        .map(|h| Header {
            name: header_name(raw, h),
            value: header_text(raw, h),
        })
        .collect();
    let text = message
        .text_body
        .first()
        .and_then(|&id| message.part(id))
        .and_then(|part| match &part.body {
            PartType::Text(text) => Some(text.to_string()),
            _ => None,
        })
        .or_else(|| {
            let root = message.parts.first()?;
            broken_multipart_root(&message)
                .then(|| String::from_utf8_lossy(root.contents()).into_owned())
        });
    let html = message
        .html_body
        .first()
        .and_then(|&id| message.part(id))
        .and_then(|part| match &part.body {
            PartType::Html(html) => Some(html.to_string()),
            _ => None,
        });
    let attachments = attachment_parts(&message).map(attachment).collect();
    ParsedMessage {
        summary: summary_of(&message, raw),
        headers,
        text,
        html,
        attachments,
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

fn attachment(part: &MessagePart<'_>) -> Attachment {
    let data = decoded_contents(part);
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
        size: data.len() as u64,
        data,
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
}
