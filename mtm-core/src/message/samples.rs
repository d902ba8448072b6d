//! Test mail (tests only): quoted-printable and base64 encoders and a generator of realistic
//! HTML newsletters, shared by the property tests and the timing harness.

/// A small deterministic generator (xorshift64).
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (n > 0).
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(super) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// `data` quoted-printable encoded (RFC 2045 §6.7) in lines of at most 76 characters, with
/// `eol` line ends: `=` and 8-bit bytes escaped, line breaks of `data` kept as hard breaks.
pub(super) fn quoted_printable(data: &[u8], eol: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(data.len() * 5 / 4);
    let mut column = 0;
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        for (j, &b) in line.iter().enumerate() {
            let last = j + 1 == line.len();
            let plain = (b == b' ' || b == b'\t') && !last || (33..=126).contains(&b) && b != b'=';
            let width = if plain { 1 } else { 3 };
            if column + width > 75 {
                out.push('=');
                out.push_str(eol);
                column = 0;
            }
            if plain {
                out.push(char::from(b));
            } else {
                out.push('=');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
            column += width;
        }
        if i + 1 < lines.len() {
            out.push_str(eol);
            column = 0;
        }
    }
    out
}

/// `data` base64 encoded in lines of 76 characters, with `eol` line ends.
pub(super) fn base64(data: &[u8], eol: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 40);
    for (i, group) in data.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str(eol);
        }
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for k in 0..4 {
            if k <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * k) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Letter-like text of about `len` bytes, with some non-ASCII words, in paragraphs.
pub(super) fn prose(rng: &mut Rng, len: usize) -> String {
    const WORDS: &[&str] = &[
        "the",
        "report",
        "Grüße",
        "meeting",
        "naïve",
        "café",
        "schedule",
        "über",
        "price",
        "€",
        "offer",
        "señor",
        "update",
        "déjà",
        "vu",
        "Köln",
        "please",
        "find",
        "attached",
        "quarterly",
        "figures",
        "and",
        "a",
        "summary",
        "of",
        "changes",
        "—",
        "thanks",
    ];
    let mut out = String::with_capacity(len + 64);
    let mut sentence = 0;
    while out.len() < len {
        out.push_str(WORDS[rng.below(WORDS.len())]);
        sentence += 1;
        if sentence > 12 && rng.below(4) == 0 {
            out.push_str(if rng.below(3) == 0 { ".\n\n" } else { ". " });
            sentence = 0;
        } else {
            out.push(' ');
        }
    }
    out
}

/// The HTML form of `text`, as mail clients write it: a styled page, a paragraph each.
pub(super) fn html_of(text: &str) -> String {
    let mut html = String::with_capacity(text.len() * 2);
    html.push_str(
        "<!DOCTYPE html>\n<html><head><meta http-equiv=\"Content-Type\" \
         content=\"text/html; charset=UTF-8\"><style>body{font-family:Arial,sans-serif;\
         font-size:11pt;color:#222}</style></head>\n<body>\n",
    );
    for para in text.split("\n\n") {
        html.push_str("<div dir=\"ltr\"><p style=\"margin:0 0 1em 0\">");
        html.push_str(&para.replace('\n', " "));
        html.push_str("</p></div>\n");
    }
    html.push_str("</body></html>\n");
    html
}

/// A delivered newsletter of about `size` bytes: trace fields, a full header block, then a
/// `multipart/alternative` of quoted-printable text and HTML (and, when `image`, a small
/// inline image in a `multipart/related` around the HTML). What most real mail looks like.
pub(super) fn qp_html_message(seed: u64, size: usize, image: bool, eol: &str) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    // The HTML is about twice the text, and quoted-printable adds about a third.
    let text = prose(&mut rng, size * 10 / 35);
    let html = html_of(&text);
    let (text_qp, html_qp) = (
        quoted_printable(text.as_bytes(), eol),
        quoted_printable(html.as_bytes(), eol),
    );
    let outer = format!("----=_Part_{}_{}.17000", seed, rng.below(1_000_000));
    let related = format!("----=_Part_{}_rel", seed);
    let mut m = format!(
        "Return-Path: <bounce-{seed}@news.example.com>\n\
         Delivered-To: reader@example.net\n\
         Received: from mx1.example.net (mx1.example.net [192.0.2.1])\n\
         \tby mail.example.net with LMTP id A{seed}; Tue, 17 Nov 2026 10:00:0{} +0100\n\
         From: =?utf-8?q?Gr=C3=BC=C3=9Fe_News?= <news@example.com>\n\
         To: reader@example.net\n\
         Subject: =?utf-8?q?Neuigkeiten_f=C3=BCr_Sie?= #{seed}\n\
         Date: Tue, 17 Nov 2026 09:59:{:02} +0100\n\
         Message-ID: <{seed}.{}@news.example.com>\n\
         MIME-Version: 1.0\n\
         List-Unsubscribe: <mailto:unsubscribe@news.example.com>\n\
         Content-Type: multipart/alternative;\n\tboundary=\"{outer}\"\n\n\
         --{outer}\n\
         Content-Type: text/plain; charset=UTF-8\n\
         Content-Transfer-Encoding: quoted-printable\n\n{text_qp}\n--{outer}\n",
        seed % 10,
        seed % 60,
        rng.next(),
    );
    if image {
        let png = base64(&rng.bytes(900), "\n");
        m.push_str(&format!(
            "Content-Type: multipart/related; boundary=\"{related}\"\n\n\
             --{related}\n\
             Content-Type: text/html; charset=UTF-8\n\
             Content-Transfer-Encoding: quoted-printable\n\n{html_qp}\n--{related}\n\
             Content-Type: image/png; name=\"logo.png\"\n\
             Content-Transfer-Encoding: base64\n\
             Content-ID: <logo@news>\n\
             Content-Disposition: inline; filename=\"logo.png\"\n\n{png}\n--{related}--\n\n\
             --{outer}--\n"
        ));
    } else {
        m.push_str(&format!(
            "Content-Type: text/html; charset=UTF-8\n\
             Content-Transfer-Encoding: quoted-printable\n\n{html_qp}\n--{outer}--\n"
        ));
    }
    if eol == "\n" {
        m.into_bytes()
    } else {
        m.replace("\r\n", "\n").replace('\n', eol).into_bytes()
    }
}

#[test]
fn encoders_round_trip_through_mail_parser() {
    use mail_parser::decoders::base64::base64_decode;
    use mail_parser::decoders::quoted_printable::quoted_printable_decode;
    let mut rng = Rng::new(3);
    let data = rng.bytes(1000);
    let encoded = base64(&data, "\r\n");
    assert!(encoded.lines().all(|l| l.len() <= 76));
    assert_eq!(
        base64_decode(encoded.as_bytes()).as_deref(),
        Some(&data[..])
    );
    let text = prose(&mut rng, 2000);
    let encoded = quoted_printable(text.as_bytes(), "\n");
    assert!(encoded.lines().all(|l| l.len() <= 76), "{encoded}");
    assert_eq!(
        quoted_printable_decode(encoded.as_bytes()).as_deref(),
        Some(text.as_bytes())
    );
    let message = qp_html_message(1, 20_000, true, "\r\n");
    assert!(
        (15_000..25_000).contains(&message.len()),
        "{}",
        message.len()
    );
}
