//! Salvage of a sealed file damaged by one flipped bit: the seal (the BLAKE3 of the record's
//! exact bytes) proves which repair is right, so a mended file is the original byte for
//! byte, never a guess.
//!
//! A sealed file is laid out by [`crate::sealed::seal`] as a fixed framing around the hash
//! (64 hex digits) and the record's bytes. Three cases are mended:
//!
//! - the framing is damaged (the hash and the record still agree): it is written anew;
//! - the seal is damaged in one hex digit (the record's hash differs from it in exactly one
//!   place): the seal is written anew, from the record;
//! - one bit of the record is flipped: every single-bit change of the record is hashed,
//!   and the one that matches the seal is the original. This costs 8 hashes of the record
//!   per byte, so it is tried only for records up to [`BIT_SEARCH_LIMIT`] bytes (a record
//!   of a few hundred folders; larger ones are moved aside unmended).
//!
//! Anything else (several bytes, a truncation, a zeroed sector) cannot be proven and is not
//! attempted.

use crate::id::BlobId;

/// The largest record (in bytes) whose bit flips are searched: 8 × 16 KiB hashes of 16 KiB,
/// about 2 GB hashed, a second or two, once, for a repair.
pub(crate) const BIT_SEARCH_LIMIT: usize = 16 * 1024;

/// The framing of a sealed file: what precedes the hash, what lies between the hash and
/// the record, and what follows the record; taken from `seal` itself, so that it is
/// defined in one place.
fn framing() -> Option<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let sample = crate::sealed::seal(&0u8, "framing").ok()?;
    let hash = BlobId::of(b"0").to_hex();
    let text = String::from_utf8(sample).ok()?;
    let at = text.find(&hash)?;
    let after = &text[at + hash.len()..];
    let record = after.rfind('0')?;
    Some((
        text.as_bytes()[..at].to_vec(),
        after.as_bytes()[..record].to_vec(),
        after.as_bytes()[record + 1..].to_vec(),
    ))
}

/// The original of a sealed file that one flipped bit (or a damaged framing) damaged, with
/// how it was mended; `None` if no such repair is proven by the seal.
pub(crate) fn salvage_sealed(data: &[u8]) -> Option<(Vec<u8>, &'static str)> {
    let (before, between, after) = framing()?;
    let fixed = before.len() + 64 + between.len() + after.len();
    if data.len() < fixed {
        return None;
    }
    let seal = &data[before.len()..before.len() + 64];
    let record = &data[before.len() + 64 + between.len()..data.len() - after.len()];
    let rebuild = |seal: &[u8], record: &[u8]| {
        let mut out = Vec::with_capacity(data.len());
        out.extend_from_slice(&before);
        out.extend_from_slice(seal);
        out.extend_from_slice(&between);
        out.extend_from_slice(record);
        out.extend_from_slice(&after);
        out
    };
    let actual = BlobId::of(record).to_hex();
    let differing = seal
        .iter()
        .zip(actual.as_bytes())
        .filter(|(a, b)| a != b)
        .count();
    match differing {
        0 => return Some((rebuild(seal, record), "its framing was damaged")),
        1 => {
            return Some((
                rebuild(actual.as_bytes(), record),
                "one digit of its seal was damaged",
            ));
        }
        _ => {}
    }
    let wanted = BlobId::from_hex(std::str::from_utf8(seal).ok()?).ok()?;
    if record.len() > BIT_SEARCH_LIMIT {
        return None;
    }
    let mut trial = record.to_vec();
    for at in 0..trial.len() {
        for bit in 0..8 {
            trial[at] ^= 1 << bit;
            if BlobId::of(&trial) == wanted {
                return Some((rebuild(seal, &trial), "one bit of it was flipped"));
            }
            trial[at] ^= 1 << bit;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed() -> Vec<u8> {
        crate::sealed::seal(
            &serde_json::json!({"folders": [{"name": "INBOX", "messages": 812}], "n": 1}),
            "test",
        )
        .unwrap()
    }

    #[test]
    fn every_single_bit_flip_is_mended_to_the_original() {
        let original = sealed();
        for at in 0..original.len() {
            for bit in [0, 4, 7] {
                let mut damaged = original.clone();
                damaged[at] ^= 1 << bit;
                let (mended, _) = salvage_sealed(&damaged)
                    .unwrap_or_else(|| panic!("byte {at} bit {bit} not mended"));
                assert_eq!(mended, original, "byte {at} bit {bit}");
            }
        }
    }

    #[test]
    fn damage_the_seal_cannot_prove_is_not_mended() {
        let original = sealed();
        let mut two = original.clone();
        let middle = original.len() - 20;
        two[middle] ^= 0x10;
        two[middle + 3] ^= 0x01;
        assert!(salvage_sealed(&two).is_none());
        assert!(salvage_sealed(&original[..original.len() / 2]).is_none());
        assert!(salvage_sealed(b"").is_none());
        let mut zeroed = original.clone();
        zeroed[100..140].fill(0);
        assert!(salvage_sealed(&zeroed).is_none());
    }
}
