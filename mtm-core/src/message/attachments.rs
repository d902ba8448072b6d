//! Which parts of a parsed message are attachments: one rule for the summary's
//! `has_attachments` and the reader's list.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

/// The parts listed as attachments: the reader's list, and whether a
/// [`Summary`](super::Summary) has any.
pub(super) fn attachment_parts<'a>(
    message: &'a Message<'a>,
) -> impl Iterator<Item = &'a MessagePart<'a>> + 'a {
    let skip_root = broken_multipart_root(message);
    message
        .attachments
        .iter()
        .filter(move |&&id| !(skip_root && id == 0))
        .filter_map(|&id| message.part(id))
}

/// A top-level `multipart/*` without a usable boundary: mail-parser keeps its body as one
/// opaque part. RFC 2045 (5.2) says an invalid content type is read as `text/plain`, so it is
/// shown as the text body, not as an attachment.
pub(super) fn broken_multipart_root(message: &Message<'_>) -> bool {
    message.parts.first().is_some_and(|root| {
        matches!(
            root.body,
            PartType::Text(_) | PartType::Binary(_) | PartType::InlineBinary(_)
        ) && root
            .content_type()
            .is_some_and(|ct| ct.c_type.eq_ignore_ascii_case("multipart"))
    })
}
