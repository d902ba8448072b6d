//! IMAP modified UTF-7 (RFC 3501 §5.1.3): how Dovecot and Courier spell folder names on disk.
//!
//! Printable US-ASCII (0x20–0x7e) stands for itself, except `&`, which is written `&-`. Any
//! other run of characters is written `&`, then its UTF-16BE code units in base64 with `,`
//! instead of `/` and without padding, then `-`.
//!
//! [`decode`] is strict: it refuses anything [`encode`] would not produce (raw non-ASCII,
//! an unclosed `&`, bad base64, stray bits, unpaired surrogates, printable ASCII written in
//! base64), so every name has exactly one spelling and decoding never loses information.

use crate::error::{Error, Result};

/// The base64 alphabet of modified UTF-7: `,` replaces `/`.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Whether `c` stands for itself (printable US-ASCII; `&` is escaped separately).
fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// Encodes `name` in IMAP modified UTF-7.
pub(crate) fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_direct(c) {
            flush_run(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush_run(&mut pending, &mut out);
    out
}

/// Writes `units` as one `&<base64>-` run (if there are any) and empties `units`.
fn flush_run(units: &mut Vec<u16>, out: &mut String) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let (mut bits, mut nbits) = (0u32, 0u32);
    for unit in units.drain(..) {
        bits = (bits << 16) | u32::from(unit);
        nbits += 16;
        while nbits >= 6 {
            nbits -= 6;
            out.push(char::from(ALPHABET[((bits >> nbits) & 0x3f) as usize]));
        }
        bits &= (1 << nbits) - 1;
    }
    if nbits > 0 {
        out.push(char::from(
            ALPHABET[((bits << (6 - nbits)) & 0x3f) as usize],
        ));
    }
    out.push('-');
}

/// Decodes an IMAP modified UTF-7 name. Malformed input is an [`Error::InvalidInput`].
pub(crate) fn decode(input: &str) -> Result<String> {
    let bad = |reason: &str| Error::invalid("modified UTF-7 name", format!("{input:?}: {reason}"));
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(c) = rest.chars().next() {
        if c == '&' {
            let (run, after) = rest[1..]
                .split_once('-')
                .ok_or_else(|| bad("'&' without a closing '-'"))?;
            if run.is_empty() {
                out.push('&');
            } else {
                decode_run(run, &mut out).map_err(bad)?;
            }
            rest = after;
        } else if is_direct(c) {
            out.push(c);
            rest = &rest[1..];
        } else {
            return Err(bad(&format!("character {c:?} must be base64-encoded")));
        }
    }
    Ok(out)
}

/// Decodes the base64 between `&` and `-` and appends the characters to `out`.
fn decode_run(run: &str, out: &mut String) -> std::result::Result<(), &'static str> {
    let mut units = Vec::with_capacity(run.len() * 6 / 16);
    let (mut bits, mut nbits) = (0u32, 0u32);
    for b in run.bytes() {
        let value = ALPHABET
            .iter()
            .position(|&a| a == b)
            .ok_or("invalid base64 character")?;
        bits = (bits << 6) | value as u32;
        nbits += 6;
        if nbits >= 16 {
            nbits -= 16;
            units.push((bits >> nbits) as u16);
            bits &= (1 << nbits) - 1;
        }
    }
    if nbits >= 6 || bits != 0 {
        return Err("base64 run does not end on a UTF-16 boundary");
    }
    for c in char::decode_utf16(units) {
        let c = c.map_err(|_| "unpaired UTF-16 surrogate")?;
        if is_direct(c) {
            return Err("printable ASCII must not be base64-encoded");
        }
        out.push(c);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_spellings() {
        let cases = [
            ("INBOX", "INBOX"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("Tom & Jerry", "Tom &- Jerry"),
            ("&", "&-"),
            ("&&", "&-&-"),
            ("日本語", "&ZeVnLIqe-"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("Grüße", "Gr&APwA3w-e"),
            ("😀", "&2D3eAA-"),
            ("a\tb", "a&AAk-b"),
            ("", ""),
        ];
        for (plain, encoded) in cases {
            assert_eq!(encode(plain), encoded, "{plain:?}");
            assert_eq!(decode(encoded).unwrap(), plain, "{encoded:?}");
        }
    }

    #[test]
    fn adjacent_runs_are_accepted() {
        assert_eq!(decode("&APw-&AN8-").unwrap(), "üß");
    }

    #[test]
    fn malformed_input_is_a_typed_error() {
        for bad in [
            "&",         // unclosed
            "Entw&APw",  // unclosed
            "&AP*-",     // '*' is not base64
            "&AP/-",     // '/' is standard base64, not modified
            "&APx-",     // stray non-zero bits
            "&APwA-",    // 6 bits too many
            "&AP-",      // not a whole UTF-16 unit
            "&2D0-",     // lone high surrogate
            "&3gA-",     // lone low surrogate
            "&AEE-",     // 'A' encoded
            "&ACY-",     // '&' encoded instead of "&-"
            "Entwürfe",  // raw non-ASCII
            "tab\there", // raw control character
            "del\u{7f}", // DEL
        ] {
            let err = decode(bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(s in any::<String>()) {
            let encoded = encode(&s);
            prop_assert!(encoded.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{encoded:?}");
            prop_assert_eq!(decode(&encoded).unwrap(), s);
        }

        #[test]
        fn canonical_spellings_round_trip(s in "[ -~]{0,8}|[ -~\u{80}-\u{10ffff}]{0,8}") {
            let encoded = encode(&s);
            prop_assert_eq!(encode(&decode(&encoded).unwrap()), encoded);
        }

        #[test]
        fn decode_never_panics(s in "[&A-Za-z0-9+,\\-]{0,16}") {
            let _ = decode(&s);
        }
    }
}
