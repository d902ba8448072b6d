//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`, off by default).
//!
//! The repository file decoders are crate-private; these functions call them exactly as a
//! read of the repository does, and check that whatever a decoder accepts survives a round
//! trip through its encoder. Nothing here changes how the library behaves. Not a stable API:
//! hidden from the docs, for the fuzzers only.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ErrorKind;
use crate::restore::{AuditEntry, BillingRecord};
use crate::sealed::{seal, unseal};
use crate::snapshot::model::{self, Catalog, CatalogRefs, Manifest, ManifestRefs, SnapshotRecord};
use crate::store::codec::decompress;
use crate::store::format::{
    decode_index, encode_index, encode_index_v1, finish_pack, read_pack_trailer,
};

/// The largest decompressed length a fuzzed blob may claim: the fuzzer's memory limit then
/// measures the decoder, not a length field it made up.
const MAX_FUZZ_RAW_LEN: usize = 1 << 20;

/// What a decoder made of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// Refused with a typed error: the expected answer to damage.
    Refused(ErrorKind),
    /// Accepted, and encoding the decoded value again decodes to the same value.
    RoundTrips,
    /// Accepted, but the round trip through the encoder gave something else: a bug.
    Mismatch(String),
}

impl Decoded {
    /// Whether this answer shows a decoder bug.
    pub fn is_bug(&self) -> bool {
        matches!(self, Decoded::Mismatch(_))
    }
}

/// `data` as a whole pack file: its trailer, then every blob it lists decompressed as a read
/// would (with no dictionary, and the claimed length capped at 1 MiB); a blob that does not
/// decompress is an integrity error like any other, not a bug.
pub fn pack_file(data: &[u8]) -> Decoded {
    let trailer = match read_pack_trailer(data, "fuzzed pack") {
        Ok(trailer) => trailer,
        Err(e) => return Decoded::Refused(e.kind()),
    };
    for r in &trailer.records {
        let (start, end) = (r.offset as usize, r.offset as usize + r.stored_len as usize);
        let Some(stored) = data.get(start..end) else {
            return Decoded::Mismatch(format!("accepted record {start}..{end} lies outside"));
        };
        let raw_len = (r.raw_len as usize).min(MAX_FUZZ_RAW_LEN);
        let _ = decompress(r.codec, stored, raw_len, None, &|| "fuzzed blob".to_owned());
    }
    // The blob area ends where the record table starts: 48 bytes a record, then the footer
    // (dictionary 32, count 4, end marker 8).
    let blobs_end = data.len() - 44 - 48 * trailer.records.len();
    let rebuilt = match finish_pack(data[..blobs_end].to_vec(), &trailer) {
        Ok(rebuilt) => rebuilt,
        Err(e) => return Decoded::Mismatch(format!("accepted trailer does not encode: {e}")),
    };
    match read_pack_trailer(&rebuilt, "rebuilt pack") {
        Ok(again) if again == trailer => Decoded::RoundTrips,
        Ok(again) => Decoded::Mismatch(format!("{trailer:?} came back as {again:?}")),
        Err(e) => Decoded::Mismatch(format!("rebuilt pack refused: {e}")),
    }
}

/// `data` as an index file of either version. What is accepted must survive the round trip
/// through the encoder of its own version (an unsorted version 1 file through the version 1
/// encoder), and through the sorted encoder that writers use: the sorted file lists the same
/// blobs in the same places, and encoding it again gives the same bytes.
pub fn index_file(data: &[u8]) -> Decoded {
    let index = match decode_index(data, "fuzzed index") {
        Ok(index) => index,
        Err(e) => return Decoded::Refused(e.kind()),
    };
    if !crate::store::sorted::is_sorted(data) {
        match encode_index_v1(&index).map(|bytes| decode_index(&bytes, "re-encoded index")) {
            Ok(Ok(again)) if again == index => {}
            Ok(Ok(again)) => {
                return Decoded::Mismatch(format!("{index:?} came back as {again:?}"));
            }
            Ok(Err(e)) => return Decoded::Mismatch(format!("re-encoded index refused: {e}")),
            Err(e) => return Decoded::Mismatch(format!("accepted index does not encode: {e}")),
        }
    }
    let sorted = match encode_index(&index) {
        Ok(encoded) => encoded,
        Err(e) => return Decoded::Mismatch(format!("accepted index does not encode: {e}")),
    };
    let again = match decode_index(&sorted, "sorted index") {
        Ok(again) => again,
        Err(e) => return Decoded::Mismatch(format!("sorted index refused: {e}")),
    };
    let places = |file: &crate::store::format::IndexFile| {
        let mut out: Vec<_> = file
            .entries
            .iter()
            .map(|(pack, r)| (r.id, file.packs[*pack as usize], *r))
            .collect();
        out.sort_by_key(|(id, _, _)| *id);
        out.dedup_by_key(|(id, _, _)| *id);
        out
    };
    if places(&again) != places(&index) {
        return Decoded::Mismatch(format!("{index:?} sorted as {again:?}"));
    }
    match encode_index(&again) {
        Ok(bytes) if bytes == sorted => Decoded::RoundTrips,
        Ok(_) => Decoded::Mismatch("a sorted index encodes to other bytes".into()),
        Err(e) => Decoded::Mismatch(format!("sorted index does not encode: {e}")),
    }
}

/// `data` as each kind of sealed record file (snapshot record, restore journal entry,
/// billing record), one answer each.
pub fn sealed_files(data: &[u8]) -> Vec<(&'static str, Decoded)> {
    let snapshot = match SnapshotRecord::decode(data, "fuzzed snapshot record") {
        Ok(record) => match record.encode() {
            Ok(encoded) => {
                match SnapshotRecord::decode(&encoded, "re-encoded").and_then(|r| r.encode()) {
                    Ok(again) if again == encoded => Decoded::RoundTrips,
                    Ok(_) => Decoded::Mismatch("snapshot record changed on re-encoding".into()),
                    Err(e) => Decoded::Mismatch(format!("re-encoded snapshot record: {e}")),
                }
            }
            Err(e) => Decoded::Mismatch(format!("accepted snapshot record does not encode: {e}")),
        },
        Err(e) => Decoded::Refused(e.kind()),
    };
    vec![
        ("snapshot record", snapshot),
        ("journal entry", sealed::<AuditEntry>(data, "journal entry")),
        (
            "billing record",
            sealed::<BillingRecord>(data, "billing record"),
        ),
    ]
}

/// `data` as the record inside a sealed file (past its hash, which a fuzzer cannot forge),
/// and as the stored structures (folder manifest, message catalog, and the partial views
/// of them that garbage collection reads), one answer each.
pub fn records(data: &[u8]) -> Vec<(&'static str, Decoded)> {
    vec![
        ("snapshot record", record::<SnapshotRecord>(data)),
        ("journal entry", record::<AuditEntry>(data)),
        ("billing record", record::<BillingRecord>(data)),
        ("manifest", structure::<Manifest>(data)),
        ("catalog", structure::<Catalog>(data)),
        ("manifest refs", refused_or_accepted::<ManifestRefs>(data)),
        ("catalog refs", refused_or_accepted::<CatalogRefs>(data)),
    ]
}

fn sealed<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    data: &[u8],
    what: &'static str,
) -> Decoded {
    match unseal::<T>(data, "fuzzed file", what) {
        Ok(value) => reseal(&value, what),
        Err(e) => Decoded::Refused(e.kind()),
    }
}

fn record<T: Serialize + DeserializeOwned + std::fmt::Debug>(data: &[u8]) -> Decoded {
    match model::decode::<T>(data, "fuzzed record") {
        Ok(value) => match seal(&value, "fuzzed record") {
            Ok(sealed) => match unseal::<T>(&sealed, "resealed", "fuzzed record") {
                Ok(_) => Decoded::RoundTrips,
                Err(e) => Decoded::Mismatch(format!("{value:?} does not unseal: {e}")),
            },
            Err(e) => Decoded::Mismatch(format!("{value:?} does not seal: {e}")),
        },
        Err(e) => Decoded::Refused(e.kind()),
    }
}

fn reseal<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    value: &T,
    what: &'static str,
) -> Decoded {
    let sealed = match seal(value, what) {
        Ok(sealed) => sealed,
        Err(e) => return Decoded::Mismatch(format!("{value:?} does not seal: {e}")),
    };
    match unseal::<T>(&sealed, "resealed", what) {
        Ok(again) if again == *value => Decoded::RoundTrips,
        Ok(again) => Decoded::Mismatch(format!("{value:?} came back as {again:?}")),
        Err(e) => Decoded::Mismatch(format!("{value:?} does not unseal: {e}")),
    }
}

fn structure<T: Serialize + DeserializeOwned + std::fmt::Debug>(data: &[u8]) -> Decoded {
    match model::decode::<T>(data, "fuzzed structure") {
        Ok(value) => {
            let encoded = match model::encode(&value, data.len()) {
                Ok(encoded) => encoded,
                Err(e) => return Decoded::Mismatch(format!("{value:?} does not encode: {e}")),
            };
            match model::decode::<T>(&encoded, "re-encoded")
                .and_then(|again| model::encode(&again, encoded.len()))
            {
                Ok(again) if again == encoded => Decoded::RoundTrips,
                Ok(_) => Decoded::Mismatch(format!("{value:?} changed on re-encoding")),
                Err(e) => Decoded::Mismatch(format!("re-encoded {value:?}: {e}")),
            }
        }
        Err(e) => Decoded::Refused(e.kind()),
    }
}

fn refused_or_accepted<T: DeserializeOwned>(data: &[u8]) -> Decoded {
    match model::decode::<T>(data, "fuzzed structure") {
        Ok(_) => Decoded::RoundTrips,
        Err(e) => Decoded::Refused(e.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::BlobId;
    use crate::store::Kind;
    use crate::store::codec::Codec;
    use crate::store::format::{IndexFile, IndexedPack, PackRecord, PackTrailer};

    fn record(offset: u32, stored_len: u32) -> PackRecord {
        PackRecord {
            id: BlobId::of(b"blob"),
            kind: Kind::Part,
            codec: Codec::Raw,
            offset,
            stored_len,
            raw_len: stored_len,
        }
    }

    #[test]
    fn a_valid_pack_and_index_round_trip_and_garbage_is_refused() {
        let trailer = PackTrailer {
            records: vec![record(8, 4)],
            dictionary: None,
        };
        let pack = finish_pack(b"MTMPACK1blob".to_vec(), &trailer).unwrap();
        assert_eq!(pack_file(&pack), Decoded::RoundTrips);
        assert_eq!(
            pack_file(b"garbage"),
            Decoded::Refused(ErrorKind::Integrity)
        );

        let index = IndexFile {
            packs: vec![IndexedPack {
                id: BlobId::of(&pack),
                dictionary: None,
            }],
            entries: vec![(0, record(8, 4))],
        };
        let encoded = encode_index(&index).unwrap();
        assert_eq!(index_file(&encoded), Decoded::RoundTrips);
        assert_eq!(
            index_file(&encoded[..encoded.len() - 1]),
            Decoded::Refused(ErrorKind::Integrity)
        );
    }

    #[test]
    fn every_committed_seed_is_a_repository_file_some_decoder_accepts() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus/repository_files");
        let mut seeds = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let mut answers = vec![
                ("pack file", pack_file(&data)),
                ("index file", index_file(&data)),
            ];
            answers.extend(sealed_files(&data));
            answers.extend(records(&data));
            assert!(
                !answers.iter().any(|(_, d)| d.is_bug()),
                "{}: {answers:?}",
                path.display()
            );
            assert!(
                answers.iter().any(|(_, d)| *d == Decoded::RoundTrips),
                "{} is accepted by no decoder: {answers:?}",
                path.display()
            );
            seeds += 1;
        }
        assert!(seeds >= 10, "{seeds} seeds in {}", dir.display());
    }

    #[test]
    fn sealed_files_and_records_are_decoded_as_a_read_would() {
        let answers = sealed_files(b"{\"blake3\": \"00\", \"record\": {}}");
        assert_eq!(answers.len(), 3);
        assert!(
            answers
                .iter()
                .all(|(_, d)| *d == Decoded::Refused(ErrorKind::Integrity))
        );
        let manifest = br#"{"catalogs": [], "messages": []}"#;
        let answers = records(manifest);
        let answer = |name: &str| answers.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(answer("manifest"), Decoded::RoundTrips);
        assert_eq!(answer("manifest refs"), Decoded::RoundTrips);
        assert_eq!(
            answer("snapshot record"),
            Decoded::Refused(ErrorKind::Integrity)
        );
        assert!(!answers.iter().any(|(_, d)| d.is_bug()));
    }
}
