//! Sealed JSON files: a record and the BLAKE3 of its exact bytes, so a flipped bit in a
//! small JSON file (a snapshot record, a restore journal entry, a billing record) is caught
//! like one in a pack.
//!
//! The file is `{"blake3": "<hex>", "record": {…}}`.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::{Error, Result};
use crate::id::BlobId;

#[derive(Deserialize)]
struct Sealed<'a> {
    blake3: String,
    #[serde(borrow)]
    record: &'a serde_json::value::RawValue,
}

/// The file content for `value`.
pub(crate) fn seal<T: Serialize>(value: &T, what: &'static str) -> Result<Vec<u8>> {
    let record =
        serde_json::to_string_pretty(value).map_err(|e| Error::invalid(what, e.to_string()))?;
    let hash = BlobId::of(record.as_bytes());
    Ok(format!("{{\n\"blake3\": \"{hash}\",\n\"record\": {record}\n}}\n").into_bytes())
}

/// The record in a sealed file; an integrity error naming `key` if it is damaged.
pub(crate) fn unseal<T: DeserializeOwned>(data: &[u8], key: &str, what: &str) -> Result<T> {
    let sealed: Sealed<'_> = serde_json::from_slice(data)
        .map_err(|e| Error::integrity(key, format!("{what} unreadable: {e}")))?;
    let raw = sealed.record.get();
    if BlobId::of(raw.as_bytes()).to_hex() != sealed.blake3 {
        return Err(Error::integrity(
            key,
            format!("{what} does not match its hash"),
        ));
    }
    serde_json::from_str(raw).map_err(|e| Error::integrity(key, format!("{what} unreadable: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_record_reads_back_and_any_change_is_caught() {
        let data = seal(&vec![1, 2, 3], "numbers").unwrap();
        assert_eq!(
            unseal::<Vec<i32>>(&data, "k", "numbers").unwrap(),
            vec![1, 2, 3]
        );
        let text = String::from_utf8(data).unwrap();
        let tampered = text.replacen('2', "7", 1);
        let err = unseal::<Vec<i32>>(tampered.as_bytes(), "k", "numbers").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Integrity);
        assert!(unseal::<Vec<i32>>(b"{", "k", "numbers").is_err());
    }
}
