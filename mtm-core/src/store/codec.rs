//! How blob bytes are compressed: zstd, optionally with a repository dictionary trained on
//! message headers (most header blocks are a few hundred bytes, where a dictionary makes the
//! difference between 1.3× and 3–4× compression).

use crate::error::{Error, Result};

/// zstd level for blob bodies: level 3 compresses mail text about 3× at several hundred MB/s.
pub(crate) const LEVEL: i32 = 3;
/// Dictionary size in bytes when one is trained.
pub(crate) const DICTIONARY_SIZE: usize = 64 * 1024;
/// How many header samples are needed before a dictionary is worth training.
pub(crate) const MIN_DICTIONARY_SAMPLES: usize = 200;

/// How one blob is stored inside a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Codec {
    /// The raw bytes (used when compression does not help).
    Raw = 0,
    /// zstd without a dictionary.
    Zstd = 1,
    /// zstd with the dictionary named by the pack.
    ZstdDictionary = 2,
}

impl Codec {
    pub(crate) fn from_u8(value: u8) -> Option<Codec> {
        match value {
            0 => Some(Codec::Raw),
            1 => Some(Codec::Zstd),
            2 => Some(Codec::ZstdDictionary),
            _ => None,
        }
    }
}

/// Compresses `raw`, using `dictionary` when given; falls back to storing the raw bytes when
/// compression would not shrink them (already compressed attachments).
pub(crate) fn compress(raw: &[u8], dictionary: Option<&[u8]>) -> Result<(Codec, Vec<u8>)> {
    let (codec, packed) = match dictionary {
        Some(dict) => {
            let mut c = zstd::bulk::Compressor::with_dictionary(LEVEL, dict)
                .map_err(|e| Error::integrity("zstd dictionary", e.to_string()))?;
            (Codec::ZstdDictionary, c.compress(raw))
        }
        None => (Codec::Zstd, zstd::bulk::compress(raw, LEVEL)),
    };
    let packed = packed.map_err(|e| Error::integrity("zstd", e.to_string()))?;
    if packed.len() < raw.len() {
        Ok((codec, packed))
    } else {
        Ok((Codec::Raw, raw.to_vec()))
    }
}

/// Reverses [`compress`]. `raw_len` is the expected length; a mismatch is an integrity error.
pub(crate) fn decompress(
    codec: Codec,
    stored: &[u8],
    raw_len: usize,
    dictionary: Option<&[u8]>,
    location: &dyn Fn() -> String,
) -> Result<Vec<u8>> {
    let out = match codec {
        Codec::Raw => Ok(stored.to_vec()),
        Codec::Zstd => zstd::bulk::decompress(stored, raw_len),
        Codec::ZstdDictionary => {
            let dict = dictionary
                .ok_or_else(|| Error::integrity(location(), "dictionary missing for blob"))?;
            zstd::bulk::Decompressor::with_dictionary(dict)
                .and_then(|mut d| d.decompress(stored, raw_len))
        }
    }
    .map_err(|e| Error::integrity(location(), format!("cannot decompress: {e}")))?;
    if out.len() != raw_len {
        return Err(Error::integrity(
            location(),
            format!("decompressed to {} bytes, expected {raw_len}", out.len()),
        ));
    }
    Ok(out)
}

/// Trains a header dictionary from samples. `None` if there are too few samples or zstd
/// cannot build one from them (tiny or uniform input).
pub(crate) fn train_dictionary(samples: &[Vec<u8>]) -> Option<Vec<u8>> {
    if samples.len() < MIN_DICTIONARY_SAMPLES {
        return None;
    }
    zstd::dict::from_samples(samples, DICTIONARY_SIZE).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(i: usize) -> Vec<u8> {
        format!(
            "Return-Path: <news@lists.example.org>\r\nDelivered-To: user{i}@example.com\r\n\
             Received: from mx{m}.example.net by mail.example.com with LMTP id {i:08x}\r\n\
             \tfor <user{i}@example.com>; Tue, 3 Nov 2026 10:{m:02}:00 +0100\r\n\
             From: \"Newsletter\" <news@lists.example.org>\r\nTo: user{i}@example.com\r\n\
             Subject: Weekly digest number {i}\r\nMessage-ID: <{i}.{m}@lists.example.org>\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
            m = i % 60
        )
        .into_bytes()
    }

    #[test]
    fn round_trips_with_and_without_dictionary() {
        let samples: Vec<_> = (0..400).map(header).collect();
        let dict = train_dictionary(&samples).expect("enough samples to train");
        let raw = header(1000);
        for dictionary in [None, Some(dict.as_slice())] {
            let (codec, stored) = compress(&raw, dictionary).unwrap();
            let back = decompress(codec, &stored, raw.len(), dictionary, &|| "t".into()).unwrap();
            assert_eq!(back, raw);
        }
    }

    #[test]
    fn dictionary_beats_plain_zstd_on_small_headers() {
        let samples: Vec<_> = (0..400).map(header).collect();
        let dict = train_dictionary(&samples).unwrap();
        let (plain, with_dict): (usize, usize) = (1000..1100)
            .map(header)
            .map(|h| {
                let a = compress(&h, None).unwrap().1.len();
                let b = compress(&h, Some(&dict)).unwrap().1.len();
                (a, b)
            })
            .fold((0, 0), |(x, y), (a, b)| (x + a, y + b));
        assert!(
            with_dict * 2 < plain,
            "dictionary {with_dict} vs plain {plain}"
        );
    }

    #[test]
    fn incompressible_bytes_are_stored_raw() {
        let mut noise = vec![0u8; 4096];
        blake3::Hasher::new().finalize_xof().fill(&mut noise);
        let (codec, stored) = compress(&noise, None).unwrap();
        assert_eq!(codec, Codec::Raw);
        assert_eq!(stored, noise);
    }

    #[test]
    fn damaged_or_short_data_is_an_integrity_error() {
        let raw = header(1);
        let (codec, mut stored) = compress(&raw, None).unwrap();
        assert_eq!(codec, Codec::Zstd);
        let err = decompress(codec, &stored, raw.len() + 1, None, &|| "x".into()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Integrity);
        stored.truncate(stored.len() / 2);
        assert!(decompress(codec, &stored, raw.len(), None, &|| "x".into()).is_err());
        let err = decompress(Codec::ZstdDictionary, &stored, 1, None, &|| "x".into()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Integrity);
    }
}
