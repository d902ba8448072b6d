//! Size techniques for message bodies, measured one by one on the same bytes: the distinct
//! body and attachment parts of the corpus, cut as mtm cuts them
//! ([`mtm_core::split_message`]) and each kept once, as mtm stores them.
//!
//! - **alone**: each part compressed on its own at mtm's body level, stored raw when that
//!   is not smaller (what mtm does);
//! - **body dictionary**: the same with a zstd dictionary trained on a sample of the parts;
//! - **grouped small bodies**: parts under [`SMALL`] compressed together in frames of up to
//!   [`GROUP`] bytes (a read of one then decompresses its frame);
//! - **decoded base64**: base64 attachments stored as their decoded bytes (compressed, or
//!   raw when that is not smaller), for those whose re-encoding gives back the same text
//!   byte for byte (the rest stay as they are).

use std::collections::HashSet;
use std::time::Instant;

use mtm_core::{PartKind, split_message};

/// A part under this many bytes counts as small for grouping.
pub const SMALL: usize = 16 * 1024;
/// The most bytes of small parts compressed in one frame.
pub const GROUP: usize = 64 * 1024;
/// The dictionary's size (zstd's default).
pub const DICTIONARY_SIZE: usize = 112 * 1024;
/// How many parts train the dictionary (at most), and how much of each.
const DICTIONARY_SAMPLES: usize = 2000;
const SAMPLE_BYTES: usize = 8 * 1024;

/// One technique's result on the sample: stored bytes and compression time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stored {
    pub bytes: u64,
    pub seconds: f64,
}

/// Every technique's result on the same distinct parts.
#[derive(Debug, Clone, Default)]
pub struct Techniques {
    /// Distinct parts measured, and their raw bytes.
    pub parts: u64,
    pub raw: u64,
    pub alone: Stored,
    /// With the dictionary's own bytes included.
    pub dictionary: Stored,
    pub grouped: Stored,
    /// The base64 attachments whose re-encoding is exact: how many, their raw bytes, and
    /// their stored bytes alone (as text) and decoded.
    pub base64_parts: u64,
    pub base64_raw: u64,
    pub base64_as_text: Stored,
    pub base64_decoded: Stored,
}

/// Collects the distinct body and attachment parts of `messages`, in order, until `limit`
/// raw bytes.
pub fn distinct_parts<'a>(
    messages: impl Iterator<Item = std::io::Result<Vec<u8>>> + 'a,
    limit: u64,
) -> std::io::Result<Vec<(PartKind, Vec<u8>)>> {
    let mut seen = HashSet::new();
    let mut parts = Vec::new();
    let mut total = 0u64;
    for raw in messages {
        let raw = raw?;
        for part in split_message(&raw) {
            if !matches!(part.kind, PartKind::Body | PartKind::Attachment) {
                continue;
            }
            let bytes = &raw[part.range];
            if seen.insert(*blake3::hash(bytes).as_bytes()) {
                total += bytes.len() as u64;
                parts.push((part.kind, bytes.to_vec()));
            }
        }
        if total >= limit {
            break;
        }
    }
    Ok(parts)
}

/// Stored size of `data` compressed by `compressor`: raw when compression does not shrink it.
fn stored_len(compressor: &mut zstd::bulk::Compressor<'_>, data: &[u8]) -> std::io::Result<u64> {
    let compressed = compressor.compress(data)?;
    Ok(compressed.len().min(data.len()) as u64)
}

/// Measures every technique on `parts` at zstd `level`.
pub fn measure(parts: &[(PartKind, Vec<u8>)], level: i32) -> std::io::Result<Techniques> {
    let mut t = Techniques {
        parts: parts.len() as u64,
        raw: parts.iter().map(|(_, p)| p.len() as u64).sum(),
        ..Techniques::default()
    };
    let mut plain = zstd::bulk::Compressor::new(level)?;

    let clock = Instant::now();
    for (_, part) in parts {
        t.alone.bytes += stored_len(&mut plain, part)?;
    }
    t.alone.seconds = clock.elapsed().as_secs_f64();

    let step = (parts.len() / DICTIONARY_SAMPLES).max(1);
    let samples: Vec<&[u8]> = parts
        .iter()
        .step_by(step)
        .map(|(_, p)| &p[..p.len().min(SAMPLE_BYTES)])
        .collect();
    let sizes: Vec<usize> = samples.iter().map(|s| s.len()).collect();
    let dictionary = zstd::dict::from_continuous(&samples.concat(), &sizes, DICTIONARY_SIZE)?;
    let clock = Instant::now();
    let mut with_dictionary = zstd::bulk::Compressor::with_dictionary(level, &dictionary)?;
    t.dictionary.bytes = dictionary.len() as u64;
    for (_, part) in parts {
        t.dictionary.bytes += stored_len(&mut with_dictionary, part)?;
    }
    t.dictionary.seconds = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let mut frame: Vec<u8> = Vec::with_capacity(GROUP);
    for (_, part) in parts {
        if part.len() >= SMALL {
            t.grouped.bytes += stored_len(&mut plain, part)?;
            continue;
        }
        if frame.len() + part.len() > GROUP {
            t.grouped.bytes += stored_len(&mut plain, &frame)?;
            frame.clear();
        }
        frame.extend_from_slice(part);
    }
    if !frame.is_empty() {
        t.grouped.bytes += stored_len(&mut plain, &frame)?;
    }
    t.grouped.seconds = clock.elapsed().as_secs_f64();

    for (kind, part) in parts {
        if *kind != PartKind::Attachment {
            continue;
        }
        let Some(lines) = exact_base64(part) else {
            continue;
        };
        t.base64_parts += 1;
        t.base64_raw += part.len() as u64;
        let clock = Instant::now();
        t.base64_as_text.bytes += stored_len(&mut plain, part)?;
        t.base64_as_text.seconds += clock.elapsed().as_secs_f64();
        // Decoding is part of the technique's cost.
        let clock = Instant::now();
        let decoded = decode_lines(part, lines).unwrap_or_default();
        t.base64_decoded.bytes += stored_len(&mut plain, &decoded)?;
        t.base64_decoded.seconds += clock.elapsed().as_secs_f64();
    }
    Ok(t)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// If `text` is base64 in lines of one width (the last may be shorter) ending in CRLF or LF
/// (the last may have none: the line break before a MIME boundary belongs to the boundary),
/// whose re-encoding in the same lines gives back `text` exactly: its lines.
fn exact_base64(text: &[u8]) -> Option<Lines> {
    let first_lf = text.iter().position(|b| *b == b'\n')?;
    let ending: &'static [u8] = if first_lf > 0 && text[first_lf - 1] == b'\r' {
        b"\r\n"
    } else {
        b"\n"
    };
    let width = first_lf + 1 - ending.len();
    if width == 0 || !width.is_multiple_of(4) {
        return None;
    }
    let lines = Lines { ending, width };
    let decoded = decode_lines(text, lines)?;
    let mut again = encode_lines(&decoded, lines);
    if !text.ends_with(ending) {
        again.truncate(again.len().saturating_sub(ending.len()));
    }
    (again == text).then_some(lines)
}

/// How base64 text is cut into lines: their width and what ends them.
#[derive(Debug, Clone, Copy)]
struct Lines {
    ending: &'static [u8],
    width: usize,
}

fn decode_lines(text: &[u8], Lines { ending, width }: Lines) -> Option<Vec<u8>> {
    let mut value = [255u8; 256];
    for (i, c) in ALPHABET.iter().enumerate() {
        value[usize::from(*c)] = i as u8;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut quad = [0u8; 4];
    let mut filled = 0;
    let mut padding = 0;
    let last = text
        .split_inclusive(|b| *b == b'\n')
        .count()
        .saturating_sub(1);
    for (i, line) in text.split_inclusive(|b| *b == b'\n').enumerate() {
        let body = match line.strip_suffix(ending) {
            Some(body) => body,
            // The last line may end the text without a line break.
            None if i == last && !line.ends_with(b"\n") => line,
            None => return None,
        };
        if body.len() > width {
            return None;
        }
        for &c in body {
            let v = if c == b'=' {
                padding += 1;
                0
            } else if padding > 0 {
                return None;
            } else {
                match value[usize::from(c)] {
                    255 => return None,
                    v => v,
                }
            };
            quad[filled] = v;
            filled += 1;
            if filled == 4 {
                let n = (u32::from(quad[0]) << 18)
                    | (u32::from(quad[1]) << 12)
                    | (u32::from(quad[2]) << 6)
                    | u32::from(quad[3]);
                out.extend_from_slice(&n.to_be_bytes()[1..4 - padding.min(2)]);
                filled = 0;
            }
        }
    }
    (filled == 0).then_some(out)
}

fn encode_lines(data: &[u8], Lines { ending, width }: Lines) -> Vec<u8> {
    let mut text = Vec::with_capacity(data.len() / 3 * 4 + data.len() / width * 2 + 8);
    let mut column = 0;
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            let c = if i <= chunk.len() {
                ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]
            } else {
                b'='
            };
            text.push(c);
            column += 1;
            if column == width {
                text.extend_from_slice(ending);
                column = 0;
            }
        }
    }
    if column > 0 {
        text.extend_from_slice(ending);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_in_lines_round_trips_exactly_and_odd_text_is_left_as_it_is() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let decode = |text: &[u8], lines| decode_lines(text, lines).unwrap();
        for ending in [&b"\r\n"[..], b"\n"] {
            let text = encode_lines(&data, Lines { ending, width: 76 });
            let lines = exact_base64(&text).expect("exact");
            assert_eq!(decode(&text, lines), data);
            // Without its last line break, as before a MIME boundary.
            let cut = &text[..text.len() - ending.len()];
            let lines = exact_base64(cut).expect("exact without the last line break");
            assert_eq!(decode(cut, lines), data);
        }
        let crlf = Lines {
            ending: b"\r\n",
            width: 76,
        };
        let text = encode_lines(&data, crlf);
        let mut odd = text.clone();
        odd[5] = b'!';
        assert!(exact_base64(&odd).is_none());
        // Lines of another width than the first one's are not what re-encoding gives.
        let chars: Vec<u8> = text
            .iter()
            .copied()
            .filter(|b| !b"\r\n".contains(b))
            .collect();
        let mut rewrapped = chars[..76].to_vec();
        rewrapped.extend_from_slice(b"\r\n");
        for line in chars[76..].chunks(72) {
            rewrapped.extend_from_slice(line);
            rewrapped.extend_from_slice(b"\r\n");
        }
        assert!(decode_lines(&rewrapped, crlf).is_some(), "valid base64");
        assert!(exact_base64(&rewrapped).is_none());
    }
}
