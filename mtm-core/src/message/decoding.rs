//! Whether mail-parser decodes a MIME body cleanly, told without decoding it: its base64 and
//! quoted-printable decoders give up on some bytes (and then read the part as plain text),
//! and a summary made without the body must know when.

use mail_parser::Encoding;

/// Whether mail-parser's decoder for `encoding` reads all of `body` without giving up, when
/// the body is followed by a line break and a boundary line (or, at the top level, by the
/// end of the message), and `body` holds no boundary (the caller checks that). Errs on the
/// side of `false`: a quoted-printable body ending in a soft line break is refused too
/// (mail-parser's decoder can underflow on one in a debug build).
pub(super) fn decodes_cleanly(body: &[u8], encoding: Encoding) -> bool {
    match encoding {
        Encoding::None => true,
        Encoding::Base64 => base64_clean(body),
        Encoding::QuotedPrintable => quoted_printable_clean(body),
    }
}

/// mail-parser's base64 decoder gives up on a byte outside the alphabet, `=`, white space,
/// line ends and `-`, and on `--` not followed by the boundary.
fn base64_clean(body: &[u8]) -> bool {
    /// Bytes looked at per round: a fixed width of byte lanes is what lets the compiler
    /// vectorize the test (a count widened to `usize` per byte did not, and cost a fifth of
    /// a first snapshot of mail with attachments).
    const WIDTH: usize = 64;
    let mut rounds = body.chunks_exact(WIDTH);
    for round in &mut rounds {
        let mut refused = 0u8;
        for &b in round {
            refused |= u8::from(!base64_byte(b));
        }
        if refused != 0 {
            return false;
        }
    }
    rounds.remainder().iter().all(|&b| base64_byte(b))
        && memchr::memmem::find(body, b"--").is_none()
}

/// Whether mail-parser's base64 decoder reads `b` without giving up. Without
/// short-circuits, so that it vectorizes.
fn base64_byte(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    let other = (b == b'+') | (b == b'/') | (b == b'=') | (b == b'-');
    let space = (b == b'\n') | (b == b'\r') | (b == b' ') | (b == b'\t');
    letter | digit | other | space
}

/// mail-parser's quoted-printable decoder gives up on `=` after `=` (with white space
/// between, or after one hexadecimal digit and line ends). Almost every escape is settled by
/// the two bytes after its `=` (`=3D`, `=\r\n`, `=\n`): one pass that the compiler
/// vectorizes finds those that are not, and only then are the escapes followed one by one.
fn quoted_printable_clean(body: &[u8]) -> bool {
    /// Bytes looked at per round: a fixed width is what lets the compiler vectorize.
    const WIDTH: usize = 64;
    let mut start = 0;
    while start + WIDTH + 2 <= body.len() {
        let window = &body[start..start + WIDTH + 2];
        let mut unsettled = false;
        for i in 0..WIDTH {
            unsettled |= (window[i] == b'=') & !settled(window[i + 1], window[i + 2]);
        }
        if unsettled {
            return quoted_printable_escapes_clean(body);
        }
        start += WIDTH;
    }
    // Every escape before `start` ends in plain text by `start + 1`: the rest alone decides.
    quoted_printable_escapes_clean(&body[start..])
}

/// Whether an escape `=` followed by `b1` and `b2` leaves the decoder in plain text by `b2`
/// without giving up: a soft line break, two hexadecimal digits, or a byte that is no digit.
fn settled(b1: u8, b2: u8) -> bool {
    // Without short-circuits, so that it vectorizes.
    let hex = |b: u8| b.wrapping_sub(b'0') < 10 || (b | 0x20).wrapping_sub(b'a') < 6;
    let hex1 = hex(b1);
    let space1 = (b1 == b' ') | (b1 == b'\t') | (b1 == b'\r') | (b1 == b'\n') | (b1 == 0x0c);
    let line_end2 = (b2 == b'\r') | (b2 == b'\n');
    (b1 == b'\n')
        | (b1 == b'\r') & (b2 == b'\n')
        | hex1 & !line_end2 & (b2 != b'=')
        | !hex1 & !space1 & (b1 != b'=')
}

/// [`quoted_printable_clean`] the slow way: each `=` is looked at with the bytes its escape
/// spans, as the decoder's states go. (Only an `=` opens an escape, and one met inside an
/// escape ends the decoding, so the escapes never overlap.)
fn quoted_printable_escapes_clean(body: &[u8]) -> bool {
    for at in memchr::memchr_iter(b'=', body) {
        let mut next = at + 1;
        // After `=`: white space other than a line end keeps the escape open.
        loop {
            match body.get(next) {
                // A soft line break at the very end (refused, see `decodes_cleanly`).
                None => return false,
                Some(b'=') => return false,
                Some(b'\n') => break,
                Some(b) if b.is_ascii_hexdigit() => {
                    // One digit: line ends keep waiting for the second.
                    next += 1;
                    while matches!(body.get(next), Some(b'\r' | b'\n')) {
                        next += 1;
                    }
                    if body.get(next) == Some(&b'=') {
                        return false;
                    }
                    break;
                }
                Some(b) if b.is_ascii_whitespace() => next += 1,
                Some(_) => break,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::parsers::MessageStream;
    use proptest::prelude::*;

    /// What mail-parser's own decoder says: `true` when it decoded to the boundary. A panic
    /// (an overflow its debug build checks) counts as decoding, as in a release build.
    fn mail_parser_decodes(body: &[u8], encoding: Encoding, eol: &str) -> (bool, bool) {
        let mut input = body.to_vec();
        input.extend_from_slice(eol.as_bytes());
        input.extend_from_slice(b"--b0undary\r\n");
        let decoded = std::panic::catch_unwind(|| {
            let mut stream = MessageStream::new(&input);
            let (end, _) = match encoding {
                Encoding::Base64 => stream.decode_base64_mime(b"b0undary"),
                Encoding::QuotedPrintable => stream.decode_quoted_printable_mime(b"b0undary"),
                Encoding::None => stream.mime_part(b"b0undary"),
            };
            end != usize::MAX
        });
        (*decoded.as_ref().unwrap_or(&true), decoded.is_err())
    }

    #[test]
    fn known_answers() {
        for (body, base64, qp) in [
            (&b"aGVsbG8=\r\nd29ybGQ="[..], true, false),
            (b"aGVsbG8=\r\nd29y", true, true),
            (b"aGV sbG8=\t", true, false),
            (b"aGVsbG8*", false, true),
            (b"aGVs-bG8", true, true),
            (b"aGVs--bG8", false, true),
            (b"caf=C3=A9 =\r\nsoft", true, true),
            (b"caf\xc3\xa9", false, true),
            (b"a==b", true, false),
            (b"a= =b", true, false),
            (b"a=4\r\n=b", true, false),
            (b"a=4x=b", true, true),
            (b"ends soft=", true, false),
            (b"ends soft= \t", true, false),
            (b"", true, true),
        ] {
            assert_eq!(decodes_cleanly(body, Encoding::Base64), base64, "{body:?}");
            assert_eq!(
                decodes_cleanly(body, Encoding::QuotedPrintable),
                qp,
                "{body:?}"
            );
            assert!(decodes_cleanly(body, Encoding::None));
        }
    }

    fn arb_body() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop::sample::select(b"AZaz09+/=-\r\n \t*.F3\x80\x0c".to_vec()),
            0..40,
        )
    }

    /// A body past the width the checks look at per round (64 bytes), clean text around
    /// [`arb_body`]'s bytes, so that what decides falls anywhere in a round or across two.
    fn arb_long_body() -> impl Strategy<Value = Vec<u8>> {
        let clean =
            || prop::collection::vec(prop::sample::select(b"AZaz09+/\r\n".to_vec()), 0..150);
        (clean(), arb_body(), clean()).prop_map(|(mut head, middle, tail)| {
            head.extend(middle);
            head.extend(tail);
            head
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Agrees with mail-parser's decoders on every body without a boundary, except that
        /// a quoted-printable body ending in a soft line break is refused.
        #[test]
        fn agrees_with_mail_parser(
            body in prop_oneof![arb_body(), arb_long_body()],
            crlf in any::<bool>(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            prop_assume!(memchr::memmem::find(&body, b"--b0undary").is_none());
            prop_assert_eq!(
                decodes_cleanly(&body, Encoding::Base64),
                mail_parser_decodes(&body, Encoding::Base64, eol).0
            );
            let soft_end = quoted_printable_ends_soft(&body);
            let (decodes, panicked) = mail_parser_decodes(&body, Encoding::QuotedPrintable, eol);
            prop_assert!(!panicked || soft_end, "only a soft end panics");
            prop_assert_eq!(
                decodes_cleanly(&body, Encoding::QuotedPrintable),
                decodes && !soft_end
            );
            prop_assert!(mail_parser_decodes(&body, Encoding::None, eol).0);
        }
    }

    /// Whether the body's last `=` is followed only by white space other than a line end,
    /// and is not itself the second half of an escape.
    fn quoted_printable_ends_soft(body: &[u8]) -> bool {
        let Some(last) = memchr::memrchr(b'=', body) else {
            return false;
        };
        body[last + 1..]
            .iter()
            .all(|&b| b.is_ascii_whitespace() && b != b'\n')
    }
}
