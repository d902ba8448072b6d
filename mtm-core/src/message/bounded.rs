//! A message cut for reading: every body kept up to a limit, so that parsing it for the view
//! costs a bounded amount of memory whatever the message's size, and a map back from the cut
//! bytes to the message's own.

use std::borrow::Cow;
use std::ops::Range;

use mail_parser::MessagePart;

use super::split::Layout;

/// At most this many bytes of each MIME part's encoded body are decoded for the parsed view
/// ([`parse_view`](crate::parse_view)): a longer text or HTML body is shown cut (its
/// `ParsedMessage::truncated` is set) and a longer attachment carries no data (its
/// `Attachment::omitted` is set; [`attachment_data`](crate::attachment_data) decodes it).
pub const VIEW_PART_LIMIT: usize = 4 * 1024 * 1024;

/// At most this many body bytes of all the parts of one message together are decoded for
/// the parsed view; the parts after that are cut as those over [`VIEW_PART_LIMIT`] are.
pub const VIEW_TOTAL_LIMIT: usize = 8 * 1024 * 1024;

/// A message whose bodies are cut to the view's limits.
pub(super) struct Bounded<'a> {
    /// The bytes to parse: the message itself when nothing was cut.
    pub(super) bytes: Cow<'a, [u8]>,
    /// Each copied run of the message: its offset in `bytes`, its offset in the message,
    /// its length. Empty when nothing was cut.
    segments: Vec<(usize, usize, usize)>,
    /// The offsets in `bytes` where message bytes were left out, ascending.
    cuts: Vec<usize>,
}

impl<'a> Bounded<'a> {
    /// Cuts every body of `raw` (its MIME leaf bodies, or its whole body when it is not a
    /// clean multipart) to at most [`VIEW_PART_LIMIT`] bytes, and to [`VIEW_TOTAL_LIMIT`]
    /// in all, at a line end where there is one. Costs one pass over `raw` and at most the
    /// limits (plus the header blocks) in memory.
    pub(super) fn of(raw: &'a [u8]) -> Self {
        let layout = Layout::of(raw);
        let bodies = layout.bodies(raw);
        let mut budget = VIEW_TOTAL_LIMIT;
        let mut kept = Vec::with_capacity(bodies.len());
        for body in bodies.iter() {
            let allowed = budget.min(VIEW_PART_LIMIT);
            let keep = if body.len() <= allowed {
                body.len()
            } else {
                cut_point(&raw[body.clone()], allowed)
            };
            budget -= keep;
            kept.push(keep);
        }
        if bodies.iter().zip(&kept).all(|(b, &k)| b.len() == k) {
            return Self {
                bytes: Cow::Borrowed(raw),
                segments: Vec::new(),
                cuts: Vec::new(),
            };
        }
        let mut bytes = Vec::new();
        let mut segments = Vec::new();
        let mut cuts = Vec::new();
        let mut cursor = 0;
        for (body, &keep) in bodies.iter().zip(&kept) {
            if keep == body.len() {
                continue;
            }
            let end = body.start + keep;
            segments.push((bytes.len(), cursor, end - cursor));
            bytes.extend_from_slice(&raw[cursor..end]);
            cuts.push(bytes.len());
            cursor = body.end;
        }
        segments.push((bytes.len(), cursor, raw.len() - cursor));
        bytes.extend_from_slice(&raw[cursor..]);
        Self {
            bytes: Cow::Owned(bytes),
            segments,
            cuts,
        }
    }

    /// Whether message bytes were left out of `part` (of a message parsed from `bytes`).
    pub(super) fn is_cut(&self, part: &MessagePart<'_>) -> bool {
        let (start, end) = (part.offset_body as usize, part.offset_end as usize);
        let first = self.cuts.partition_point(|&p| p < start);
        self.cuts.get(first).is_some_and(|&p| p <= end)
    }

    /// Where the body of `part` (of a message parsed from `bytes`) is in the message itself:
    /// all of it, the bytes left out included.
    pub(super) fn raw_body(&self, part: &MessagePart<'_>) -> Range<usize> {
        let (start, end) = (part.offset_body as usize, part.offset_end as usize);
        if self.segments.is_empty() {
            return start..end.max(start);
        }
        // A cut point is both the end of one segment and the start of the next: a start
        // there is read in the earlier segment, an end in the later one.
        let map = |(at, from, _): &(usize, usize, usize), offset: usize| from + (offset - at);
        let raw_start = self
            .segments
            .iter()
            .find(|(at, _, len)| *at <= start && start <= at + len)
            .map_or(start, |s| map(s, start));
        let raw_end = self
            .segments
            .iter()
            .rev()
            .find(|(at, _, len)| *at <= end && end <= at + len)
            .map_or(end, |s| map(s, end));
        raw_start..raw_end.max(raw_start)
    }
}

/// How much of `body` to keep within `limit` bytes: through its last line end there, or
/// else a multiple of 4 bytes (a base64 body stays valid base64).
fn cut_point(body: &[u8], limit: usize) -> usize {
    let window = &body[..limit.min(body.len())];
    match memchr::memrchr(b'\n', window) {
        Some(i) => i + 1,
        None => window.len() - window.len() % 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_message_is_not_copied() {
        let raw = b"Subject: x\r\n\r\nhello\r\n";
        let bounded = Bounded::of(raw);
        assert!(matches!(bounded.bytes, Cow::Borrowed(_)));
    }

    #[test]
    fn a_long_body_is_cut_at_a_line_end_within_the_limit() {
        let line = "x".repeat(99) + "\n";
        let raw = format!("Subject: x\n\n{}", line.repeat(VIEW_PART_LIMIT / 100 + 10));
        let bounded = Bounded::of(raw.as_bytes());
        let body = &bounded.bytes[12..];
        assert!(body.len() <= VIEW_PART_LIMIT && body.len() > VIEW_PART_LIMIT - 100);
        assert!(body.ends_with(b"\n"));
        assert_eq!(bounded.cuts, [bounded.bytes.len()]);
    }
}
