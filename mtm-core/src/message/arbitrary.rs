//! Arbitrary MIME messages for property tests (tests only): nested multiparts of every
//! kind, forwarded messages encoded or not, leaves of every transfer encoding and
//! disposition, and the defects real mail has (broken escapes, stray boundaries, missing
//! closing delimiters, white space lines among header fields), in LF or CRLF.

use proptest::prelude::*;

use super::samples::{Rng, base64, html_of, prose, quoted_printable};

/// A defect written into a body.
#[derive(Debug, Clone, Copy)]
enum Flaw {
    /// `==`: quoted-printable gives up.
    DoubleEquals,
    /// A byte outside base64.
    Star,
    /// `--` without a boundary: base64 gives up.
    Dashes,
    /// A soft line break ending the body.
    SoftEnd,
    /// 8-bit bytes.
    EightBit,
    /// The enclosing boundary in the middle of a line.
    BoundaryInLine,
    /// A delimiter line of the enclosing boundary with text after it.
    BoundaryLine,
    /// A line that starts like the enclosing boundary but goes on.
    BoundaryPrefix,
}

/// What comes before a multipart's first delimiter line.
#[derive(Debug, Clone, Copy)]
enum Preamble {
    None,
    Text,
    /// The boundary in the middle of a line, then what reads like a part.
    FakePart,
}

#[derive(Debug, Clone)]
struct Leaf {
    content_type: Option<&'static str>,
    name: bool,
    disposition: Option<&'static str>,
    encoding: Option<&'static str>,
    seed: u64,
    len: usize,
    flaw: Option<(Flaw, usize)>,
    /// A line of white space among the header fields (mail-parser ends them there).
    blank_header_line: bool,
}

#[derive(Debug, Clone)]
enum Node {
    Leaf(Leaf),
    Multipart {
        subtype: &'static str,
        /// Empty: the content type names no boundary.
        boundary: &'static str,
        encoding: Option<&'static str>,
        preamble: Preamble,
        close: bool,
        children: Vec<Node>,
    },
    /// A forwarded message (`message/rfc822`), encoded or not.
    Forward {
        encoding: Option<&'static str>,
        inner: Box<Node>,
    },
}

fn arb_leaf() -> impl Strategy<Value = Leaf> {
    (
        prop::sample::select(vec![
            None,
            Some("text/plain"),
            Some("text/plain"),
            Some("text/html"),
            Some("text/html"),
            Some("text/calendar"),
            Some("image/png"),
            Some("application/pdf"),
            Some("application/octet-stream"),
            Some("message/rfc822"),
            Some("Text/HTML"),
        ]),
        any::<bool>(),
        prop::sample::select(vec![
            None,
            None,
            Some("inline"),
            Some("attachment"),
            Some("inline; filename=\"a.png\""),
            Some("attachment; filename=\"r.pdf\""),
        ]),
        prop::sample::select(vec![
            None,
            Some("7bit"),
            Some("8bit"),
            Some("quoted-printable"),
            Some("quoted-printable"),
            Some("base64"),
            Some("base64"),
            Some("BASE64"),
            Some("x-uuencode"),
        ]),
        any::<u64>(),
        (0usize..400, prop::bool::weighted(0.05)),
        prop::option::weighted(
            0.3,
            (
                prop::sample::select(vec![
                    Flaw::DoubleEquals,
                    Flaw::Star,
                    Flaw::Dashes,
                    Flaw::SoftEnd,
                    Flaw::EightBit,
                    Flaw::BoundaryInLine,
                    Flaw::BoundaryLine,
                    Flaw::BoundaryPrefix,
                ]),
                any::<usize>(),
            ),
        ),
    )
        .prop_map(
            |(content_type, name, disposition, encoding, seed, (len, blank_header_line), flaw)| {
                Leaf {
                    content_type,
                    name,
                    disposition,
                    encoding,
                    seed,
                    len,
                    flaw,
                    blank_header_line,
                }
            },
        )
}

fn arb_node() -> impl Strategy<Value = Node> {
    arb_leaf().prop_map(Node::Leaf).prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            4 => (
                prop::sample::select(vec![
                    "mixed", "mixed", "alternative", "alternative", "related", "digest",
                    "signed", "report",
                ]),
                prop::sample::select(vec![
                    "b", "b1", "=_Part_0_1.2", "----=_NextPart_000_0001", "with space", "",
                ]),
                prop::sample::select(vec![None, None, None, Some("base64"), Some("quoted-printable"), Some("7bit")]),
                prop::sample::select(vec![Preamble::None, Preamble::Text, Preamble::Text, Preamble::FakePart]),
                prop::bool::weighted(0.85),
                prop::collection::vec(inner.clone(), 0..4),
            )
                .prop_map(|(subtype, boundary, encoding, preamble, close, children)| {
                    Node::Multipart { subtype, boundary, encoding, preamble, close, children }
                }),
            1 => (
                prop::sample::select(vec![None, None, Some("7bit"), Some("base64"), Some("quoted-printable")]),
                inner,
            )
                .prop_map(|(encoding, inner)| Node::Forward { encoding, inner: Box::new(inner) }),
        ]
    })
}

/// A node's own header fields and its body, `\n` line ends; `enclosing` is the boundary
/// of the multipart it is a part of.
fn render(node: &Node, enclosing: &str) -> (String, String) {
    match node {
        Node::Leaf(leaf) => render_leaf(leaf, enclosing),
        Node::Multipart {
            subtype,
            boundary,
            encoding,
            preamble,
            close,
            children,
        } => {
            let mut head = format!("Content-Type: multipart/{subtype}");
            if !boundary.is_empty() {
                head.push_str(&format!("; boundary=\"{boundary}\""));
            }
            head.push('\n');
            if let Some(e) = encoding {
                head.push_str(&format!("Content-Transfer-Encoding: {e}\n"));
            }
            let mut body = String::new();
            match preamble {
                Preamble::None => {}
                Preamble::Text => body.push_str("This is a multi-part message in MIME format.\n"),
                Preamble::FakePart => body.push_str(&format!(
                    "see x--{boundary}\nContent-Type: text/plain\n\nfake\n"
                )),
            }
            for child in children {
                let (h, b) = render(child, boundary);
                body.push_str(&format!("--{boundary}\n{h}\n{b}\n"));
            }
            if *close {
                body.push_str(&format!("--{boundary}--\n"));
                if !matches!(preamble, Preamble::None) {
                    body.push_str("epilogue\n");
                }
            }
            (head, body)
        }
        Node::Forward { encoding, inner } => {
            let (h, b) = render(inner, enclosing);
            let message = format!("From: Inner <inner@example.org>\nSubject: forwarded\n{h}\n{b}");
            let mut head = "Content-Type: message/rfc822\n".to_owned();
            let body = match encoding {
                Some(e) => {
                    head.push_str(&format!("Content-Transfer-Encoding: {e}\n"));
                    encode(message.as_bytes(), Some(e))
                }
                None => message,
            };
            (head, body)
        }
    }
}

fn encode(content: &[u8], encoding: Option<&str>) -> String {
    match encoding.map(str::to_ascii_lowercase).as_deref() {
        Some("base64") => base64(content, "\n"),
        Some("quoted-printable") => quoted_printable(content, "\n"),
        _ => String::from_utf8_lossy(content).into_owned(),
    }
}

fn render_leaf(leaf: &Leaf, enclosing: &str) -> (String, String) {
    let mut rng = Rng::new(leaf.seed);
    let mut head = String::new();
    if let Some(ct) = leaf.content_type {
        head.push_str(&format!("Content-Type: {ct}"));
        if ct.starts_with("text") || ct.starts_with("Text") {
            head.push_str("; charset=utf-8");
        }
        if leaf.name {
            head.push_str("; name=\"file.bin\"");
        }
        head.push('\n');
    }
    if leaf.blank_header_line {
        head.push_str(" \n");
    }
    if let Some(d) = leaf.disposition {
        head.push_str(&format!("Content-Disposition: {d}\n"));
    }
    if let Some(e) = leaf.encoding {
        head.push_str(&format!("Content-Transfer-Encoding: {e}\n"));
    }
    let text = prose(&mut rng, leaf.len);
    let content = match leaf.content_type {
        Some("text/html" | "Text/HTML") => html_of(&text).into_bytes(),
        Some("message/rfc822") => {
            format!("From: x@example.com\nSubject: inner leaf\n\n{text}").into_bytes()
        }
        Some(ct)
            if !ct.starts_with("text")
                && leaf
                    .encoding
                    .is_some_and(|e| e.eq_ignore_ascii_case("base64")) =>
        {
            rng.bytes(leaf.len)
        }
        _ => text.into_bytes(),
    };
    let mut body = encode(&content, leaf.encoding);
    if let Some((flaw, at)) = leaf.flaw {
        let mut at = at % (body.len() + 1);
        while !body.is_char_boundary(at) {
            at -= 1;
        }
        let insert = match flaw {
            Flaw::DoubleEquals => "a==b".to_owned(),
            Flaw::Star => "*".to_owned(),
            Flaw::Dashes => "--".to_owned(),
            Flaw::SoftEnd => {
                body.push('=');
                String::new()
            }
            Flaw::EightBit => "caf\u{e9}".to_owned(),
            Flaw::BoundaryInLine => format!("x--{enclosing}y"),
            Flaw::BoundaryLine => format!("\n--{enclosing} trailing\n"),
            Flaw::BoundaryPrefix => format!("\n--{enclosing}extra\n"),
        };
        body.insert_str(at, &insert);
    }
    (head, body)
}

/// A whole message: top-level fields, then the root node (or a body without MIME
/// structure when it is a leaf without a content type).
pub(super) fn arb_message() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        prop::sample::select(vec![
            "From: =?utf-8?q?J=C3=B6rg?= <j@example.de>\nTo: a@b.c, \"Doe, J\" <d@e.f>\n",
            "From: news@example.com\nCc: c@d.e\nTo: undisclosed-recipients:;\n",
            "From: Jos\u{e9} <j@example.com>\n",
            "",
        ]),
        prop::sample::select(vec![
            "Subject: =?iso-8859-1?q?R=E9sum=E9?=\nDate: Tue, 17 Nov 2026 10:00:00 +0100\nMessage-ID: <m1@example.de>\n",
            "Subject: plain\nDate: not a date\n",
            "Subject: x\nMIME-Version: 1.0\n",
        ]),
        arb_node(),
        any::<bool>(),
    )
        .prop_map(|(trace, addresses, fields, root, crlf)| {
            let (head, body) = render(&root, "");
            let mut m = String::new();
            if trace {
                m.push_str("Return-Path: <b@example.com>\nReceived: from a by b; Tue, 17 Nov 2026 10:00:00 +0100\n");
            }
            m.push_str(addresses);
            m.push_str(fields);
            m.push_str(&head);
            m.push('\n');
            m.push_str(&body);
            if crlf {
                m = m.replace('\n', "\r\n");
            }
            m.into_bytes()
        })
}
