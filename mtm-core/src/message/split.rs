//! How a message is cut into separately stored, deduplicated parts.
//!
//! Local delivery (LMTP) prepends per-recipient trace fields, so the same newsletter sent to
//! 10,000 accounts is 10,000 different files. Cutting those fields off into their own
//! [`PartKind::Trace`] part leaves a header block and a body that are byte-identical across
//! recipients, and so stored once. Large attachments are cut out too, so the same file
//! forwarded in another message (with other part headers) is stored once as well.
//!
//! The cut is a pure function of the bytes and only affects how well storage deduplicates:
//! concatenating the parts always gives back the message byte-exact.

use std::borrow::Cow;
use std::ops::Range;

/// A body at least this large (in bytes) is looked at for separately stored attachments.
pub(crate) const LARGE_BODY: usize = 32 * 1024;
/// A MIME leaf whose encoded body is at least this large is stored as its own part.
pub(crate) const LARGE_LEAF: usize = 16 * 1024;

/// What a [`Part`] of a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    /// The leading per-recipient trace fields (`Return-Path`, `Delivered-To`, `Received`,
    /// scanner stamps …), different in every delivered copy.
    Trace,
    /// The rest of the header block, through the blank line that ends it.
    Header,
    /// Body bytes (all of the body, or the bytes between large attachments).
    Body,
    /// The encoded body of one large MIME leaf part (for example the base64 of a PDF).
    Attachment,
}

/// One separately stored piece of a message: `raw[range]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// What the bytes are.
    pub kind: PartKind,
    /// Where they are in the raw message.
    pub range: Range<usize>,
}

/// Cuts `raw` into consecutive non-empty ranges covering all of it, in order (concatenating
/// `raw[range]` for every part gives back `raw` exactly). Never panics on any input (empty
/// input gives an empty `Vec`). Linear in the size of the message.
///
/// 1. [`PartKind::Trace`]: the longest leading run of trace header fields (see
///    [`is_trace_field`]), with their folded continuation lines.
/// 2. [`PartKind::Header`]: the rest of the header block through the blank line that ends it
///    (all the rest if there is no blank line).
/// 3. The body: when it is at least 32 KiB and the message is MIME multipart, every leaf part
///    whose encoded body is at least 16 KiB becomes one [`PartKind::Attachment`] (the encoded
///    body bytes only) and the bytes between become [`PartKind::Body`] parts; otherwise the
///    whole body is one [`PartKind::Body`].
///
/// ```
/// use mtm_core::{split_message, PartKind};
/// let raw = b"Delivered-To: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
/// let kinds: Vec<_> = split_message(raw).iter().map(|p| p.kind).collect();
/// assert_eq!(kinds, [PartKind::Trace, PartKind::Header, PartKind::Body]);
/// ```
pub fn split_message(raw: &[u8]) -> Vec<Part> {
    Layout::of(raw).parts(raw)
}

/// Where a message's trace fields, header block and MIME leaf bodies are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    trace_end: usize,
    body_start: usize,
    /// Whether the header block declares a multipart body.
    multipart: bool,
    /// The leaf bodies of a multipart message, if its structure is clean.
    leaves: Option<Vec<Range<usize>>>,
}

impl Layout {
    pub(crate) fn of(raw: &[u8]) -> Self {
        let trace_end = trace_end(raw);
        let body_start = header_end(raw, trace_end);
        let multipart = body_start > 0 && super::mime::is_multipart(&raw[..body_start]);
        let leaves = if multipart {
            super::mime::leaves(raw, body_start)
        } else {
            None
        };
        Self {
            trace_end,
            body_start,
            multipart,
            leaves,
        }
    }

    /// The cut: trace fields, header block, body, with large leaves as attachments.
    pub(crate) fn parts(&self, raw: &[u8]) -> Vec<Part> {
        let mut parts = Vec::new();
        push(&mut parts, PartKind::Trace, 0..self.trace_end);
        push(
            &mut parts,
            PartKind::Header,
            self.trace_end..self.body_start,
        );
        if self.body_start >= raw.len() {
            return parts;
        }
        let large = raw.len() - self.body_start >= LARGE_BODY;
        let mut cursor = self.body_start;
        for leaf in self
            .leaves
            .iter()
            .flatten()
            .filter(|l| large && l.len() >= LARGE_LEAF)
        {
            push(&mut parts, PartKind::Body, cursor..leaf.start);
            push(&mut parts, PartKind::Attachment, leaf.clone());
            cursor = leaf.end;
        }
        push(&mut parts, PartKind::Body, cursor..raw.len());
        parts
    }

    /// The bodies a skeleton cuts: the leaf bodies of a clean multipart message, or else the
    /// whole body as one range (for a multipart message whose structure is not clean too).
    /// Empty when there is no body.
    pub(crate) fn bodies(&self, raw: &[u8]) -> Cow<'_, [Range<usize>]> {
        match (&self.leaves, self.multipart) {
            (Some(leaves), true) => Cow::Borrowed(leaves.as_slice()),
            _ if self.body_start >= raw.len() => Cow::Borrowed(&[]),
            _ => Cow::Owned(std::iter::once(self.body_start..raw.len()).collect()),
        }
    }
}

fn push(parts: &mut Vec<Part>, kind: PartKind, range: Range<usize>) {
    if range.start < range.end {
        parts.push(Part { kind, range });
    }
}

/// Whether a header field name (without the colon) is a per-recipient trace or delivery
/// stamp field. Case-insensitive.
pub(crate) fn is_trace_field(name: &[u8]) -> bool {
    const EXACT: &[&[u8]] = &[
        b"return-path",
        b"delivered-to",
        b"x-original-to",
        b"received",
        b"envelope-to",
        b"x-envelope-to",
        b"x-delivered-to",
        b"authentication-results",
        b"received-spf",
        b"x-spam",
        b"x-virus",
    ];
    const PREFIX: &[&[u8]] = &[b"x-spam-", b"x-virus-", b"x-rspamd-"];
    EXACT.iter().any(|n| name.eq_ignore_ascii_case(n))
        || PREFIX
            .iter()
            .any(|p| name.len() > p.len() && name[..p.len()].eq_ignore_ascii_case(p))
}

/// The end of the line starting at `pos`: just after its `\n`, or the end of `raw`.
fn line_end(raw: &[u8], pos: usize) -> usize {
    match raw
        .get(pos..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
    {
        Some(i) => pos + i + 1,
        None => raw.len(),
    }
}

/// The name of the header field starting the line `line`, if it starts one.
fn field_name(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    // Obsolete syntax allows white space between the name and the colon.
    let name = line[..colon].trim_ascii_end();
    let valid = !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b));
    valid.then_some(name)
}

fn is_continuation(raw: &[u8], pos: usize) -> bool {
    matches!(raw.get(pos), Some(b' ' | b'\t'))
}

/// The end of the leading run of trace fields (0 if the message does not start with one).
fn trace_end(raw: &[u8]) -> usize {
    let mut pos = 0;
    while pos < raw.len() {
        let end = line_end(raw, pos);
        match field_name(&raw[pos..end]) {
            Some(name) if is_trace_field(name) => {}
            _ => break,
        }
        pos = end;
        while pos < raw.len() && is_continuation(raw, pos) {
            pos = line_end(raw, pos);
        }
    }
    pos
}

/// The end of the header block: just after the blank line that ends it, or the end of `raw`.
fn header_end(raw: &[u8], from: usize) -> usize {
    let mut pos = from;
    while pos < raw.len() {
        let end = line_end(raw, pos);
        let line = &raw[pos..end];
        if line == b"\n" || line == b"\r\n" {
            return end;
        }
        pos = end;
    }
    raw.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_cover(raw: &[u8], parts: &[Part]) {
        let mut pos = 0;
        for part in parts {
            assert_eq!(part.range.start, pos, "parts must be contiguous: {parts:?}");
            assert!(part.range.start < part.range.end, "empty part: {parts:?}");
            pos = part.range.end;
        }
        assert_eq!(pos, raw.len(), "parts must cover everything: {parts:?}");
        let joined: Vec<u8> = parts
            .iter()
            .flat_map(|p| raw[p.range.clone()].to_vec())
            .collect();
        assert_eq!(joined, raw);
    }

    fn kinds(parts: &[Part]) -> Vec<PartKind> {
        parts.iter().map(|p| p.kind).collect()
    }

    fn bytes_of<'a>(raw: &'a [u8], parts: &[Part], kind: PartKind) -> Vec<&'a [u8]> {
        parts
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| &raw[p.range.clone()])
            .collect()
    }

    /// Deterministic pseudo-random bytes (xorshift), base64-encoded in 76-column lines.
    fn base64_blob(seed: u64, len: usize, eol: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut state = seed | 1;
        let mut out = String::new();
        for i in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            out.push(char::from(ALPHABET[(state % 64) as usize]));
            if i % 76 == 75 {
                out.push_str(eol);
            }
        }
        out
    }

    fn newsletter_with(attachment: &str, part_headers: &str, eol: &str) -> String {
        let body_text = "Hello reader, here is the report.".repeat(20);
        [
            "From: Reports <reports@example.com>",
            "To: list@example.org",
            "Subject: Monthly report",
            "MIME-Version: 1.0",
            "Content-Type: multipart/mixed; boundary=\"b1\"",
            "",
            "This is a multi-part message in MIME format.",
            "--b1",
            "Content-Type: text/plain; charset=utf-8",
            "",
            &body_text,
            "--b1",
            part_headers,
            "Content-Transfer-Encoding: base64",
            "",
            attachment.trim_end(),
            "--b1--",
            "",
        ]
        .join(eol)
    }

    #[test]
    fn empty_input_gives_no_parts() {
        assert!(split_message(b"").is_empty());
    }

    #[test]
    fn simple_message() {
        let raw = b"Subject: hi\r\n\r\nbody\r\n";
        let parts = split_message(raw);
        check_cover(raw, &parts);
        assert_eq!(kinds(&parts), [PartKind::Header, PartKind::Body]);
        assert_eq!(parts[0].range, 0..15);
    }

    #[test]
    fn no_blank_line_is_all_header() {
        let raw = b"Received: from x\n by y\nSubject: hi\nFrom: a@b";
        let parts = split_message(raw);
        check_cover(raw, &parts);
        assert_eq!(kinds(&parts), [PartKind::Trace, PartKind::Header]);
        assert_eq!(&raw[parts[0].range.clone()], b"Received: from x\n by y\n");
    }

    #[test]
    fn trace_names_are_case_insensitive_and_prefixes_need_a_suffix() {
        assert!(is_trace_field(b"RETURN-PATH"));
        assert!(is_trace_field(b"X-Spam-Status"));
        assert!(is_trace_field(b"x-rspamd-queue-id"));
        assert!(is_trace_field(b"X-Virus-Scanned"));
        assert!(!is_trace_field(b"X-Rspamd-"));
        assert!(!is_trace_field(b"Subject"));
        assert!(!is_trace_field(b"X-Spammy"));
    }

    #[test]
    fn only_the_leading_run_is_trace() {
        let raw = b"Return-Path: <a@b>\r\nSubject: x\r\nReceived: from z\r\n\r\nhi";
        let parts = split_message(raw);
        check_cover(raw, &parts);
        assert_eq!(
            kinds(&parts),
            [PartKind::Trace, PartKind::Header, PartKind::Body]
        );
        assert_eq!(&raw[parts[0].range.clone()], b"Return-Path: <a@b>\r\n");
    }

    #[test]
    fn leading_blank_line_is_an_empty_header_block() {
        let raw = b"\r\nbody";
        let parts = split_message(raw);
        check_cover(raw, &parts);
        assert_eq!(kinds(&parts), [PartKind::Header, PartKind::Body]);
    }

    #[test]
    fn per_recipient_copies_share_header_and_body() {
        let common = "From: News <news@example.com>\r\nTo: subscribers@example.com\r\n\
                      Subject: Weekly\r\nMessage-ID: <n1@example.com>\r\n\r\nHello all\r\n";
        let copy = |rcpt: &str, id: &str| {
            format!(
                "Return-Path: <bounce@example.com>\r\nDelivered-To: {rcpt}\r\n\
                 Received: from mx1.example.net (mx1.example.net [192.0.2.1])\r\n\
                 \tby mail.example.net with LMTP id {id}\r\n\tfor <{rcpt}>; \
                 Mon, 3 Mar 2025 10:00:00 +0000\r\nX-Spam-Score: 0.1\r\n{common}"
            )
        };
        let a = copy("alice@example.net", "AbC123");
        let b = copy("bob@example.net", "XyZ98765");
        assert_ne!(a, b);
        let (pa, pb) = (split_message(a.as_bytes()), split_message(b.as_bytes()));
        check_cover(a.as_bytes(), &pa);
        check_cover(b.as_bytes(), &pb);
        assert_eq!(
            kinds(&pa),
            [PartKind::Trace, PartKind::Header, PartKind::Body]
        );
        assert_eq!(kinds(&pb), kinds(&pa));
        for kind in [PartKind::Header, PartKind::Body] {
            assert_eq!(
                bytes_of(a.as_bytes(), &pa, kind),
                bytes_of(b.as_bytes(), &pb, kind)
            );
        }
        assert_ne!(
            bytes_of(a.as_bytes(), &pa, PartKind::Trace),
            bytes_of(b.as_bytes(), &pb, PartKind::Trace)
        );
    }

    #[test]
    fn forwarded_attachment_is_stored_once() {
        for eol in ["\r\n", "\n"] {
            let blob = base64_blob(7, 40_000, eol);
            let a = newsletter_with(
                &blob,
                "Content-Type: application/pdf; name=\"report.pdf\"",
                eol,
            );
            let b = format!(
                "Delivered-To: x@example.net{eol}{}",
                newsletter_with(
                    &blob,
                    &format!(
                        "Content-Type: application/pdf{eol}Content-Disposition: attachment; \
                         filename=\"renamed.pdf\""
                    ),
                    eol,
                )
            );
            let (pa, pb) = (split_message(a.as_bytes()), split_message(b.as_bytes()));
            check_cover(a.as_bytes(), &pa);
            check_cover(b.as_bytes(), &pb);
            let (att_a, att_b) = (
                bytes_of(a.as_bytes(), &pa, PartKind::Attachment),
                bytes_of(b.as_bytes(), &pb, PartKind::Attachment),
            );
            assert_eq!(att_a.len(), 1, "{pa:?}");
            assert_eq!(att_a, att_b);
            assert_eq!(att_a[0], blob.trim_end().as_bytes());
        }
    }

    #[test]
    fn small_or_single_part_bodies_stay_whole() {
        let eol = "\r\n";
        // Multipart but small.
        let small = newsletter_with(&base64_blob(1, 1000, eol), "Content-Type: image/png", eol);
        let parts = split_message(small.as_bytes());
        check_cover(small.as_bytes(), &parts);
        assert_eq!(kinds(&parts), [PartKind::Header, PartKind::Body]);
        // Large but not multipart.
        let single = format!("Subject: big\r\n\r\n{}", base64_blob(2, 100_000, eol));
        let parts = split_message(single.as_bytes());
        check_cover(single.as_bytes(), &parts);
        assert_eq!(kinds(&parts), [PartKind::Header, PartKind::Body]);
    }

    #[test]
    fn nested_forwarded_message_attachment_is_cut_out() {
        let eol = "\r\n";
        let blob = base64_blob(9, 20_000, eol);
        let inner = newsletter_with(&blob, "Content-Type: application/zip", eol);
        let raw = format!(
            "From: a@example.com\r\nSubject: Fwd\r\nContent-Type: multipart/mixed; \
             boundary=outer\r\n\r\n--outer\r\nContent-Type: text/plain\r\n\r\nsee below\r\n\
             --outer\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--outer--\r\n{}",
            "x".repeat(20_000)
        );
        let parts = split_message(raw.as_bytes());
        check_cover(raw.as_bytes(), &parts);
        let att = bytes_of(raw.as_bytes(), &parts, PartKind::Attachment);
        assert_eq!(att, [blob.trim_end().as_bytes()], "{parts:?}");
    }

    #[test]
    fn large_message_splits_linearly() {
        // 8 MB in a debug test build: a quadratic scan would take minutes.
        let eol = "\r\n";
        let mut raw = String::from(
            "Return-Path: <a@b>\r\nSubject: big\r\nContent-Type: multipart/mixed; \
             boundary=zz\r\n\r\n",
        );
        for i in 0..8 {
            raw.push_str("--zz\r\nContent-Type: application/octet-stream\r\n");
            raw.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
            raw.push_str(&base64_blob(i + 1, 1_000_000, eol));
            raw.push_str("\r\n");
        }
        raw.push_str("--zz--\r\n");
        let parts = split_message(raw.as_bytes());
        check_cover(raw.as_bytes(), &parts);
        assert_eq!(
            bytes_of(raw.as_bytes(), &parts, PartKind::Attachment).len(),
            8
        );
        // And one giant header line without any line end.
        let long = vec![b'a'; 4_000_000];
        check_cover(&long, &split_message(&long));
    }

    fn arb_message() -> impl Strategy<Value = Vec<u8>> {
        let trace = prop::collection::vec(
            prop::sample::select(vec![
                "Return-Path: <bounce@example.com>",
                "Delivered-To: someone@example.net",
                "Received: from a (a [192.0.2.1])\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000",
                "X-Spam-Status: No, score=-1",
                "x-rspamd-queue-id: 1234",
            ]),
            0..4,
        );
        let headers = prop::collection::vec(
            prop::sample::select(vec![
                "Subject: hello",
                "From: A <a@example.com>",
                "To: b@example.com,\n c@example.com",
                "Received: late trace",
                "MIME-Version: 1.0",
                "Broken header line",
            ]),
            0..5,
        );
        let leaves = prop::collection::vec((any::<u64>(), 0usize..30_000, any::<bool>()), 0..4);
        (
            trace,
            headers,
            leaves,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(trace, headers, leaves, crlf, multipart, close)| {
                let eol = if crlf { "\r\n" } else { "\n" };
                let mut out: Vec<String> = trace
                    .iter()
                    .chain(&headers)
                    .map(|s| s.to_string())
                    .collect();
                if multipart {
                    out.push("Content-Type: multipart/mixed; boundary=\"=_b\"".into());
                }
                out.push(String::new());
                for (seed, len, b64) in leaves {
                    if multipart {
                        out.push("--=_b".into());
                        if b64 {
                            out.push("Content-Transfer-Encoding: base64".into());
                        }
                        out.push(String::new());
                    }
                    out.push(base64_blob(seed, len, eol));
                }
                if multipart && close {
                    out.push("--=_b--".into());
                }
                out.join(eol)
                    .replace('\n', eol)
                    .replace("\r\r", "\r")
                    .into_bytes()
            })
    }

    proptest! {
        #[test]
        fn random_bytes_are_covered(raw in prop::collection::vec(any::<u8>(), 0..2000)) {
            let parts = split_message(&raw);
            check_cover(&raw, &parts);
        }

        #[test]
        fn random_text_lines_are_covered(raw in "([A-Za-z-]{0,8}(: ?)?[ a-z=]{0,10}(\r\n|\n|\r)){0,12}") {
            let parts = split_message(raw.as_bytes());
            check_cover(raw.as_bytes(), &parts);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn random_messages_are_covered(raw in arb_message()) {
            let parts = split_message(&raw);
            check_cover(&raw, &parts);
            // Trace only ever comes first, and at most once.
            prop_assert!(parts.iter().skip(1).all(|p| p.kind != PartKind::Trace));
            prop_assert!(parts.iter().filter(|p| p.kind == PartKind::Header).count() <= 1);
        }
    }
}
