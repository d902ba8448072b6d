//! A message's skeleton: the message with the bodies of its MIME leaf parts cut out, which
//! mail-parser parses for a fraction of the work (no body is decoded), and the checks that
//! make what that parse says about the message's headers and structure the same as what a
//! parse of the whole message says.
//!
//! Why the checks suffice: the skeleton differs from the message only inside leaf bodies.
//! mail-parser reads the two identically up to the first cut; there it is decoding a leaf
//! body (the skeleton's parse has an empty leaf exactly there, checked), and inside a body
//! it looks only for the boundaries its headers declare and for bytes its decoder gives up
//! on. With neither in the cut bytes (checked), it leaves the body at the same line break
//! before the same boundary line, in the same state, and reads on identically to the next
//! cut. What it decides about a part (text, HTML, attachment) depends on the part's headers
//! and on whether its decoder gave up, never on the decoded bytes.
//!
//! These are mail-parser 0.11's ways (`decoding` follows its decoders byte for byte): the
//! property tests here and in `decoding` compare against mail-parser itself, so an upgrade
//! that changes them fails there first.

use std::borrow::Cow;
use std::ops::Range;

use mail_parser::{Message, MimeHeaders, PartType};

use super::decoding::decodes_cleanly;
use super::split::Layout;

/// How many skeletons are tried before the whole message is parsed instead: each round
/// parses the skeleton once, so a hostile message cannot make it cost a parse per part.
const ROUNDS: usize = 3;

/// Runs `read` on mail-parser's parse of `raw`, made from the message's skeleton when the
/// checks allow (else from the whole message): `parse` is the parser to use. `None` when
/// `parse` finds no message.
pub(super) fn with_parsed<T>(
    raw: &[u8],
    layout: &Layout,
    parse: impl for<'x> Fn(&'x [u8]) -> Option<Message<'x>>,
    read: impl for<'x> Fn(&Message<'x>, &[u8]) -> T,
) -> Option<T> {
    match from_skeleton(raw, layout, &parse, &read) {
        Some(answer) => Some(answer),
        None => parse(raw).map(|message| read(&message, raw)),
    }
}

/// [`with_parsed`] from the skeleton only: `None` when the checks want the whole message
/// parsed (or there is nothing to cut).
fn from_skeleton<T>(
    raw: &[u8],
    layout: &Layout,
    parse: &impl for<'x> Fn(&'x [u8]) -> Option<Message<'x>>,
    read: &impl for<'x> Fn(&Message<'x>, &[u8]) -> T,
) -> Option<T> {
    let bodies = layout.bodies(raw);
    // Bodies kept whole because cutting them would change the parse.
    let mut keep = vec![false; bodies.len()];
    // Each round keeps more bodies whole, or ends; a second round is rare, a third rarer.
    for _ in 0..ROUNDS {
        let skeleton = Skeleton::cut(raw, &bodies, &keep);
        if matches!(skeleton.bytes, Cow::Borrowed(_)) {
            return None;
        }
        let message = parse(&skeleton.bytes)?;
        if !skeleton.matches(&message) {
            return None;
        }
        let refused = skeleton.refused(raw, &bodies, &message);
        if refused.is_empty() {
            return Some(read(&message, &skeleton.bytes));
        }
        for i in refused {
            keep[i] = true;
        }
    }
    None
}

/// The message with some leaf bodies cut out, and where each body is in it.
struct Skeleton<'a> {
    bytes: Cow<'a, [u8]>,
    /// For each body of the layout, its range in `bytes` (empty when cut).
    at: Vec<Range<usize>>,
    /// For each body, whether it was cut.
    cut: Vec<bool>,
}

impl<'a> Skeleton<'a> {
    /// Cuts every body of `bodies` not marked in `keep` (the empty ones need no cutting).
    fn cut(raw: &'a [u8], bodies: &[Range<usize>], keep: &[bool]) -> Self {
        let cut: Vec<bool> = bodies
            .iter()
            .zip(keep)
            .map(|(body, &keep)| !keep && !body.is_empty())
            .collect();
        if !cut.contains(&true) {
            return Self {
                bytes: Cow::Borrowed(raw),
                at: bodies.to_vec(),
                cut,
            };
        }
        let removed: usize = bodies
            .iter()
            .zip(&cut)
            .filter(|(_, cut)| **cut)
            .map(|(body, _)| body.len())
            .sum();
        let mut bytes = Vec::with_capacity(raw.len() - removed);
        let mut at = Vec::with_capacity(bodies.len());
        let mut cursor = 0;
        for (body, &cut) in bodies.iter().zip(&cut) {
            if cut {
                bytes.extend_from_slice(&raw[cursor..body.start]);
                at.push(bytes.len()..bytes.len());
                cursor = body.end;
            } else {
                let start = bytes.len() + (body.start - cursor);
                at.push(start..start + body.len());
            }
        }
        bytes.extend_from_slice(&raw[cursor..]);
        Self {
            bytes: Cow::Owned(bytes),
            at,
            cut,
        }
    }

    /// Whether mail-parser found exactly the leaf bodies the layout did, where they are in
    /// the skeleton.
    fn matches(&self, message: &Message<'_>) -> bool {
        let mut found = Vec::with_capacity(self.at.len());
        parsed_leaves(message, &self.bytes, &mut found);
        found == self.at
    }

    /// The cut bodies that must be kept whole: those holding a boundary of the message, and
    /// those mail-parser's decoder would give up on (as the parse of the skeleton reads each
    /// part's transfer encoding).
    fn refused(&self, raw: &[u8], bodies: &[Range<usize>], message: &Message<'_>) -> Vec<usize> {
        let mut boundaries = Vec::new();
        declared_boundaries(message, &self.bytes, &mut boundaries);
        let finders: Vec<memchr::memmem::Finder<'_>> =
            boundaries.iter().map(memchr::memmem::Finder::new).collect();
        let mut leaves = Vec::with_capacity(self.at.len());
        parsed_leaf_parts(message, &self.bytes, &mut leaves);
        bodies
            .iter()
            .zip(&self.cut)
            .zip(leaves)
            .enumerate()
            .filter(|(_, ((body, cut), part))| {
                let body = &raw[(*body).clone()];
                **cut
                    && (finders.iter().any(|f| f.find(body).is_some())
                        || !decodes_cleanly(body, part.encoding))
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// The leaf parts of a parsed message in order, descending into the forwarded messages
/// parsed in place (those whose bytes are `raw` itself, not a decoded copy).
fn parsed_leaf_parts<'m>(
    message: &'m Message<'m>,
    raw: &[u8],
    out: &mut Vec<&'m mail_parser::MessagePart<'m>>,
) {
    for part in &message.parts {
        match &part.body {
            PartType::Multipart(_) => {}
            PartType::Message(nested) if in_place(nested, raw) => {
                parsed_leaf_parts(nested, raw, out);
            }
            _ => out.push(part),
        }
    }
}

/// The body ranges of [`parsed_leaf_parts`], as mail-parser's offsets give them.
fn parsed_leaves(message: &Message<'_>, raw: &[u8], out: &mut Vec<Range<usize>>) {
    let mut parts = Vec::new();
    parsed_leaf_parts(message, raw, &mut parts);
    out.extend(
        parts
            .iter()
            .map(|p| p.offset_body as usize..p.offset_end as usize),
    );
}

/// Whether a nested message was parsed in place, from the bytes of `raw` itself.
fn in_place(nested: &Message<'_>, raw: &[u8]) -> bool {
    matches!(&nested.raw_message, Cow::Borrowed(b) if std::ptr::eq(b.as_ptr(), raw.as_ptr()))
}

/// Every boundary declared by a `multipart/*` content type of a part, `--` prefixed: what
/// mail-parser looks for in bodies (whether or not it found that multipart's delimiters;
/// an empty one it never looks for).
fn declared_boundaries(message: &Message<'_>, raw: &[u8], out: &mut Vec<Vec<u8>>) {
    for part in &message.parts {
        if let Some(boundary) = part
            .content_type()
            .filter(|ct| ct.c_type.eq_ignore_ascii_case("multipart"))
            .and_then(|ct| ct.attribute("boundary"))
            .filter(|b| !b.is_empty())
        {
            let mut needle = b"--".to_vec();
            needle.extend_from_slice(boundary.as_bytes());
            if !out.contains(&needle) {
                out.push(needle);
            }
        }
        if let PartType::Message(nested) = &part.body
            && in_place(nested, raw)
        {
            declared_boundaries(nested, raw, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::arbitrary::arb_message;
    use crate::message::parser::{parse, parse_for_summary};
    use crate::message::samples::qp_html_message;
    use crate::message::summary::{Summary, summarize, summary_of};
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    /// What a parse of the whole message gives: the answer every summary must equal.
    fn full_summary(raw: &[u8]) -> Summary {
        parse(raw).map(|m| summary_of(&m, raw)).unwrap_or_default()
    }

    /// The summary from the skeleton, if the checks let it be used.
    fn skeleton_summary(raw: &[u8]) -> Option<Summary> {
        from_skeleton(raw, &Layout::of(raw), &parse_for_summary, &summary_of)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// The summary made from the skeleton is exactly the summary of the whole message,
        /// unless mail-parser fails on the whole message (0.11 panics on some digests inside
        /// a forwarded message) but not on its skeleton: the failure was inside a cut body,
        /// not in the headers a summary reads, and the skeleton's summary is the one kept.
        #[test]
        fn skeleton_summaries_equal_full_parse_summaries(raw in arb_message()) {
            let full = full_summary(&raw);
            match skeleton_summary(&raw) {
                Some(skeleton) if !full.parsed => {
                    prop_assert!(skeleton.parsed);
                    prop_assert_eq!(summarize(&raw), skeleton);
                }
                Some(skeleton) => {
                    prop_assert_eq!(&skeleton, &full);
                    prop_assert_eq!(summarize(&raw), full);
                }
                None => prop_assert_eq!(summarize(&raw), full),
            }
        }
    }

    /// mail-parser 0.11 panics on this whole message in a debug build (a headerless part of a digest inside a
    /// forwarded message); the forwarded message is one cut body of the skeleton, so the
    /// summary still reads the outer headers.
    #[test]
    fn a_forwarded_message_mail_parser_panics_on_still_has_a_summary() {
        let raw = b"From: =?utf-8?q?J=C3=B6rg?= <j@example.de>\nSubject: Digest\n\
                    Content-Type: message/rfc822\n\nFrom: Inner <inner@example.org>\n\
                    Content-Type: multipart/digest; boundary=\"b\"\n\n--b\n\nfigures \n\
                    --b\nContent-Type: message/rfc822\n\nFrom: x@example.com\n\n\n--b--\n";
        // The panic is an arithmetic overflow, checked only in debug builds.
        if cfg!(debug_assertions) {
            assert!(
                !full_summary(raw).parsed,
                "mail-parser no longer fails here"
            );
        }
        let summary = summarize(raw);
        assert!(summary.parsed);
        assert_eq!(summary.from, "Jörg <j@example.de>");
        assert_eq!(summary.subject, "Digest");
    }

    /// Most generated messages, flaws and all, are summarized from their skeleton: the
    /// property above is about the skeleton, not about falling back. (The rest are mostly
    /// structures the boundary scanner does not follow: multiparts without parts, digests,
    /// boundaries inside bodies, nested multiparts left open.)
    #[test]
    fn most_generated_messages_use_the_skeleton() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = arb_message();
        let (mut used, mut all, mut attachments) = (0, 0, 0);
        for _ in 0..1000 {
            let raw = strategy.new_tree(&mut runner).unwrap().current();
            all += 1;
            if let Some(summary) = skeleton_summary(&raw) {
                used += 1;
                attachments += usize::from(summary.has_attachments);
            }
        }
        assert!(used * 2 >= all, "only {used} of {all} from the skeleton");
        assert!(
            attachments * 4 >= used,
            "only {attachments} of {used} with attachments"
        );
        assert!(
            attachments * 4 <= used * 3,
            "{attachments} of {used} with attachments"
        );
    }

    /// mail-parser takes a boundary in the middle of a preamble line as a delimiter, the
    /// boundary scanner does not: the HTML body the scanner found is, to mail-parser, the
    /// second part, and its quoted-printable is broken (an attachment, then). The parse of
    /// the skeleton disagrees with the scanner, and so is not used.
    #[test]
    fn a_parse_that_disagrees_with_the_scanner_is_not_used() {
        let raw = b"From: a@example.com\nContent-Type: multipart/mixed; boundary=\"b\"\n\n\
                    see x--b\nContent-Type: text/plain\n\nfake\n\
                    --b\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n\
                    x==y\n--b--\n";
        let full = full_summary(raw);
        assert!(full.has_attachments);
        assert_eq!(summarize(raw), full);
        assert_eq!(skeleton_summary(raw), None);
    }

    /// Real-looking mail always uses the skeleton.
    #[test]
    fn newsletters_use_the_skeleton() {
        for seed in 0..40 {
            for eol in ["\n", "\r\n"] {
                let raw = qp_html_message(seed, 2_000 + seed as usize * 700, seed % 2 == 0, eol);
                assert_eq!(
                    skeleton_summary(&raw),
                    Some(full_summary(&raw)),
                    "seed {seed}"
                );
            }
        }
    }

    /// Every message of the test corpus and of the fuzz corpus.
    #[test]
    fn corpus_summaries_equal_full_parse_summaries() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut stack = vec![
            root.join("tests/corpus"),
            root.join("fuzz/corpus/message_ingest"),
        ];
        let (mut checked, mut used) = (0, 0);
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_none_or(|e| e != "json" && e != "md") {
                    let raw = std::fs::read(&path).unwrap();
                    let full = full_summary(&raw);
                    assert_eq!(summarize(&raw), full, "{path:?}");
                    if let Some(skeleton) = skeleton_summary(&raw) {
                        assert_eq!(skeleton, full, "{path:?}");
                        used += 1;
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 40, "only {checked} corpus files");
        assert!(
            used * 2 > checked,
            "only {used} of {checked} from the skeleton"
        );
    }
}
