//! How blob bytes are compressed: zstd, optionally with a repository dictionary trained on
//! message headers (most header blocks are a few hundred bytes, where a dictionary makes the
//! difference between 1.3× and 3–4× compression).

use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

use crate::error::{Error, Result};
use crate::id::BlobId;

/// zstd level for bodies and attachments: level 1 is about 1.5× faster than level 3 on mail
/// text for about 3% more bytes, and snapshot speed is what a nightly job of every mailbox
/// needs most.
pub(crate) const LEVEL: i32 = 1;
/// zstd level for header blocks compressed with the dictionary: the dictionary, not the
/// level, is what shrinks them. Measured on 1,000 accounts of real-shaped mail, level 3 gave
/// a repository 0.2% smaller than level 1 and a first snapshot 0.7 s (8%) slower.
pub(crate) const DICTIONARY_LEVEL: i32 = 1;
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

/// A repository dictionary, digested once for compression and once for decompression
/// (loading a 64 KiB dictionary per blob would cost more than compressing the blob).
pub(crate) struct Dictionary {
    pub id: BlobId,
    encoder: EncoderDictionary<'static>,
    decoder: DecoderDictionary<'static>,
}

impl std::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dictionary({})", self.id)
    }
}

impl Dictionary {
    /// Digests the dictionary `raw`, whose id (its hash) the caller has computed already:
    /// the dictionary was just hashed to check or to name it.
    pub(crate) fn new(id: BlobId, raw: &[u8]) -> Self {
        debug_assert_eq!(id, BlobId::of(raw));
        Self {
            id,
            encoder: EncoderDictionary::copy(raw, DICTIONARY_LEVEL),
            decoder: DecoderDictionary::copy(raw),
        }
    }
}

/// One thread's compression contexts, reused blob after blob.
pub(crate) struct Encoder<'d> {
    plain: Compressor<'static>,
    with_dictionary: Option<Compressor<'d>>,
}

impl<'d> Encoder<'d> {
    pub(crate) fn new(dictionary: Option<&'d Dictionary>) -> Result<Self> {
        let zstd_err = |e: std::io::Error| Error::integrity("zstd", e.to_string());
        Ok(Self {
            plain: Compressor::new(LEVEL).map_err(zstd_err)?,
            with_dictionary: dictionary
                .map(|d| Compressor::with_prepared_dictionary(&d.encoder))
                .transpose()
                .map_err(zstd_err)?,
        })
    }

    /// Compresses `raw`, with the dictionary when asked and available; stores the raw bytes
    /// when compression would not shrink them (already compressed attachments).
    pub(crate) fn compress(
        &mut self,
        raw: &[u8],
        use_dictionary: bool,
    ) -> Result<(Codec, Vec<u8>)> {
        let (codec, packed) = match (&mut self.with_dictionary, use_dictionary) {
            (Some(c), true) => (Codec::ZstdDictionary, c.compress(raw)),
            _ => (Codec::Zstd, self.plain.compress(raw)),
        };
        let packed = packed.map_err(|e| Error::integrity("zstd", e.to_string()))?;
        if packed.len() < raw.len() {
            Ok((codec, packed))
        } else {
            Ok((Codec::Raw, raw.to_vec()))
        }
    }
}

/// Compresses `raw` with zstd (no dictionary) as a stream into `out`, without holding the
/// compressed bytes in memory: for blobs too large to hold twice. The result is stored as
/// [`Codec::Zstd`] even when it does not shrink (zstd then stores the blocks raw, a few
/// bytes each larger).
pub(crate) fn compress_into(raw: &[u8], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut encoder = zstd::stream::write::Encoder::new(out, LEVEL)?;
    encoder.set_pledged_src_size(Some(raw.len() as u64))?;
    encoder.include_contentsize(true)?;
    encoder.write_all(raw)?;
    encoder.finish()?;
    Ok(())
}

thread_local! {
    /// One decompression context per thread, reused blob after blob: creating one costs
    /// more than decompressing a small manifest (a snapshot of many small accounts reads
    /// thousands of them).
    static PLAIN_DECOMPRESSOR: std::cell::RefCell<Option<Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Reverses [`Encoder::compress`] and [`compress_into`]. `raw_len` is the expected length; a
/// mismatch is an integrity error.
pub(crate) fn decompress(
    codec: Codec,
    stored: &[u8],
    raw_len: usize,
    dictionary: Option<&Dictionary>,
    location: &dyn Fn() -> String,
) -> Result<Vec<u8>> {
    let out = match codec {
        Codec::Raw => Ok(stored.to_vec()),
        Codec::Zstd => PLAIN_DECOMPRESSOR.with(|cell| {
            let mut slot = cell.borrow_mut();
            let decompressor = match &mut *slot {
                Some(d) => d,
                None => slot.insert(Decompressor::new()?),
            };
            decompressor.decompress(stored, raw_len)
        }),
        Codec::ZstdDictionary => {
            let dict = dictionary
                .ok_or_else(|| Error::integrity(location(), "dictionary missing for blob"))?;
            Decompressor::with_prepared_dictionary(&dict.decoder)
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

/// Decompresses one blob fed in pieces (as it is read from its pack), appending to a buffer:
/// a large blob is never held compressed and decompressed at once. Never writes more than
/// the blob's raw length; the caller checks the length and the hash at the end.
pub(crate) struct StreamDecoder<'a> {
    sink: Box<dyn std::io::Write + 'a>,
}

impl std::fmt::Debug for StreamDecoder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamDecoder")
    }
}

impl<'a> StreamDecoder<'a> {
    pub(crate) fn new(
        codec: Codec,
        raw_len: usize,
        dictionary: Option<&'a Dictionary>,
        out: &'a mut Vec<u8>,
        location: &dyn Fn() -> String,
    ) -> Result<Self> {
        let capped = Capped { out, left: raw_len };
        let zstd_err = |e: std::io::Error| Error::integrity(location(), format!("zstd: {e}"));
        let sink: Box<dyn std::io::Write + 'a> = match codec {
            Codec::Raw => Box::new(capped),
            Codec::Zstd => Box::new(zstd::stream::write::Decoder::new(capped).map_err(zstd_err)?),
            Codec::ZstdDictionary => {
                let dict = dictionary
                    .ok_or_else(|| Error::integrity(location(), "dictionary missing for blob"))?;
                Box::new(
                    zstd::stream::write::Decoder::with_prepared_dictionary(capped, &dict.decoder)
                        .map_err(zstd_err)?,
                )
            }
        };
        Ok(Self { sink })
    }

    /// Takes the next piece of the stored bytes.
    pub(crate) fn feed(&mut self, stored: &[u8]) -> std::io::Result<()> {
        self.sink.write_all(stored)
    }

    /// Writes out what the decoder still holds.
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        self.sink.flush()
    }
}

/// Checks one blob fed in pieces (as it is read from its pack): decompressed as a stream
/// and hashed as it goes, so that neither its stored nor its raw bytes are ever held whole.
/// Never decompresses past the blob's raw length.
pub(crate) struct StreamCheck<'a> {
    sink: CheckSink<'a>,
}

enum CheckSink<'a> {
    Raw(Hashing),
    Zstd(zstd::stream::write::Decoder<'a, Hashing>),
}

impl std::fmt::Debug for StreamCheck<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamCheck")
    }
}

impl<'a> StreamCheck<'a> {
    pub(crate) fn new(
        codec: Codec,
        raw_len: usize,
        dictionary: Option<&'a Dictionary>,
        location: &dyn Fn() -> String,
    ) -> Result<Self> {
        let hashing = Hashing {
            hasher: blake3::Hasher::new(),
            left: raw_len,
        };
        let zstd_err = |e: std::io::Error| Error::integrity(location(), format!("zstd: {e}"));
        let sink = match codec {
            Codec::Raw => CheckSink::Raw(hashing),
            Codec::Zstd => {
                CheckSink::Zstd(zstd::stream::write::Decoder::new(hashing).map_err(zstd_err)?)
            }
            Codec::ZstdDictionary => {
                let dict = dictionary
                    .ok_or_else(|| Error::integrity(location(), "dictionary missing for blob"))?;
                CheckSink::Zstd(
                    zstd::stream::write::Decoder::with_prepared_dictionary(hashing, &dict.decoder)
                        .map_err(zstd_err)?,
                )
            }
        };
        Ok(Self { sink })
    }

    /// Takes the next piece of the stored bytes.
    pub(crate) fn feed(&mut self, stored: &[u8]) -> std::io::Result<()> {
        use std::io::Write as _;
        match &mut self.sink {
            CheckSink::Raw(sink) => sink.write_all(stored),
            CheckSink::Zstd(sink) => sink.write_all(stored),
        }
    }

    /// Ends the stream (an error if the stored bytes end inside a frame) and returns how
    /// many raw bytes they decompressed to, and their hash.
    pub(crate) fn finish(self) -> std::io::Result<(u64, BlobId)> {
        let hashing = match self.sink {
            CheckSink::Raw(sink) => sink,
            CheckSink::Zstd(sink) => sink.finish()?,
        };
        Ok((
            hashing.hasher.count(),
            BlobId::from_bytes(*hashing.hasher.finalize().as_bytes()),
        ))
    }
}

/// Hashes what is written, refusing more than a limit.
struct Hashing {
    hasher: blake3::Hasher,
    left: usize,
}

impl std::io::Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.left {
            return Err(std::io::Error::other(
                "decompresses to more than its raw length",
            ));
        }
        self.left -= buf.len();
        self.hasher.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Appends to a buffer, refusing to grow it past a limit (a damaged frame must not
/// decompress into unbounded memory).
struct Capped<'a> {
    out: &'a mut Vec<u8>,
    left: usize,
}

impl std::io::Write for Capped<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.left {
            return Err(std::io::Error::other(
                "decompresses to more than its raw length",
            ));
        }
        self.left -= buf.len();
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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
        let trained = train_dictionary(&samples).expect("enough samples to train");
        let dict = Dictionary::new(BlobId::of(&trained), &trained);
        let raw = header(1000);
        let mut encoder = Encoder::new(Some(&dict)).unwrap();
        for use_dictionary in [false, true] {
            let (codec, stored) = encoder.compress(&raw, use_dictionary).unwrap();
            let back = decompress(codec, &stored, raw.len(), Some(&dict), &|| "t".into()).unwrap();
            assert_eq!(back, raw);
        }
    }

    #[test]
    fn dictionary_beats_plain_zstd_on_small_headers() {
        let samples: Vec<_> = (0..400).map(header).collect();
        let trained = train_dictionary(&samples).unwrap();
        let dict = Dictionary::new(BlobId::of(&trained), &trained);
        let mut encoder = Encoder::new(Some(&dict)).unwrap();
        let (plain, with_dict): (usize, usize) = (1000..1100)
            .map(header)
            .map(|h| {
                let a = encoder.compress(&h, false).unwrap().1.len();
                let b = encoder.compress(&h, true).unwrap().1.len();
                (a, b)
            })
            .fold((0, 0), |(x, y), (a, b)| (x + a, y + b));
        assert!(
            with_dict * 2 < plain,
            "dictionary {with_dict} vs plain {plain}"
        );
    }

    #[test]
    fn a_streamed_blob_reads_back_with_the_ordinary_decoder() {
        let mut raw = vec![0u8; 3 * 1024 * 1024];
        blake3::Hasher::new()
            .finalize_xof()
            .fill(&mut raw[..1024 * 1024]);
        for (i, byte) in raw.iter_mut().enumerate().skip(1024 * 1024) {
            *byte = b"mail text "[i % 10];
        }
        let mut stored = Vec::new();
        compress_into(&raw, &mut stored).unwrap();
        assert!(stored.len() < raw.len() / 2, "{} bytes", stored.len());
        let back = decompress(Codec::Zstd, &stored, raw.len(), None, &|| "t".into()).unwrap();
        assert!(back == raw);
    }

    #[test]
    fn a_blob_fed_in_pieces_decompresses_into_the_buffer_and_never_past_its_length() {
        let raw = header(7).repeat(5000);
        let mut stored = Vec::new();
        compress_into(&raw, &mut stored).unwrap();
        let mut out = b"before".to_vec();
        let mut decoder =
            StreamDecoder::new(Codec::Zstd, raw.len(), None, &mut out, &|| "t".into()).unwrap();
        for piece in stored.chunks(1000) {
            decoder.feed(piece).unwrap();
        }
        decoder.finish().unwrap();
        assert!(out[..6] == *b"before" && out[6..] == raw[..]);
        let mut short = Vec::new();
        let mut decoder =
            StreamDecoder::new(Codec::Zstd, raw.len() / 2, None, &mut short, &|| "t".into())
                .unwrap();
        let fed = decoder.feed(&stored).and_then(|()| decoder.finish());
        assert!(fed.is_err());
        assert!(short.len() <= raw.len() / 2);
    }

    #[test]
    fn a_blob_checked_in_pieces_hashes_to_its_id_and_a_short_or_long_one_fails() {
        let raw = header(3).repeat(5000);
        let mut stored = Vec::new();
        compress_into(&raw, &mut stored).unwrap();
        let mut check = StreamCheck::new(Codec::Zstd, raw.len(), None, &|| "t".into()).unwrap();
        for piece in stored.chunks(777) {
            check.feed(piece).unwrap();
        }
        assert_eq!(
            check.finish().unwrap(),
            (raw.len() as u64, BlobId::of(&raw))
        );
        let mut cut = StreamCheck::new(Codec::Zstd, raw.len(), None, &|| "t".into()).unwrap();
        cut.feed(&stored[..stored.len() - 3]).unwrap();
        assert!(cut.finish().is_err(), "a frame cut short");
        let mut capped =
            StreamCheck::new(Codec::Zstd, raw.len() - 1, None, &|| "t".into()).unwrap();
        assert!(
            capped
                .feed(&stored)
                .and_then(|()| capped.finish().map(drop))
                .is_err()
        );
        let mut plain = StreamCheck::new(Codec::Raw, 5, None, &|| "t".into()).unwrap();
        plain.feed(b"ab").unwrap();
        plain.feed(b"cde").unwrap();
        assert_eq!(plain.finish().unwrap(), (5, BlobId::of(b"abcde")));
    }

    #[test]
    fn incompressible_bytes_are_stored_raw() {
        let mut noise = vec![0u8; 4096];
        blake3::Hasher::new().finalize_xof().fill(&mut noise);
        let (codec, stored) = Encoder::new(None).unwrap().compress(&noise, true).unwrap();
        assert_eq!(codec, Codec::Raw);
        assert_eq!(stored, noise);
    }

    #[test]
    fn damaged_or_short_data_is_an_integrity_error() {
        let raw = header(1);
        let (codec, mut stored) = Encoder::new(None).unwrap().compress(&raw, true).unwrap();
        assert_eq!(codec, Codec::Zstd);
        let err = decompress(codec, &stored, raw.len() + 1, None, &|| "x".into()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Integrity);
        stored.truncate(stored.len() / 2);
        assert!(decompress(codec, &stored, raw.len(), None, &|| "x".into()).is_err());
        let err = decompress(Codec::ZstdDictionary, &stored, 1, None, &|| "x".into()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Integrity);
    }
}
