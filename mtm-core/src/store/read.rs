//! Reading blobs back: located through the index, decompressed, checked against their id.

use super::codec::{self, Codec};
use super::format::{IndexedPack, PackRecord};
use super::{BlobStore, READ_CHUNK, pack_key};
use crate::error::{Error, ErrorKind, Result};
use crate::id::BlobId;

impl BlobStore {
    /// Decompresses one stored blob and checks it against its id (for verification, which
    /// reads whole packs rather than blob by blob).
    pub(crate) fn check_stored(
        &self,
        pack: &IndexedPack,
        record: &PackRecord,
        stored: &[u8],
    ) -> Result<()> {
        let dictionary = match (record.codec, pack.dictionary) {
            (Codec::ZstdDictionary, Some(d)) => Some(self.dictionary(&d)?),
            _ => None,
        };
        let where_ = || format!("blob {} in pack {}", record.id, pack.id);
        let raw = codec::decompress(
            record.codec,
            stored,
            record.raw_len as usize,
            dictionary.as_deref(),
            &where_,
        )?;
        if BlobId::of(&raw) != record.id {
            return Err(Error::integrity(
                where_(),
                "content does not match its hash",
            ));
        }
        Ok(())
    }

    /// Reads a blob and checks that its bytes hash to its id. `describe` names what the blob
    /// belongs to (a message, a manifest) for the error message.
    pub(crate) fn read(&self, id: &BlobId, describe: &dyn Fn() -> String) -> Result<Vec<u8>> {
        match self.read_once(id, describe) {
            // The pack may have been repacked by a garbage collection since this process
            // read the index: read the index again, then the blob from where it is now.
            Err(e) if e.kind() == ErrorKind::Integrity && self.pack_gone(id) => {
                self.reload()?;
                self.read_once(id, describe)
            }
            other => other,
        }
    }

    /// Appends a blob's bytes to `out`, checked against its id, as [`read`](Self::read)
    /// does; a large blob is read from its pack in pieces and decompressed straight into
    /// `out`, so that it is never held twice. On error `out` is left as it was.
    pub(crate) fn read_append(
        &self,
        id: &BlobId,
        describe: &dyn Fn() -> String,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let start = out.len();
        let result = match self.append_once(id, describe, out) {
            // As in `read`: the pack may have been repacked meanwhile.
            Err(e) if e.kind() == ErrorKind::Integrity && self.pack_gone(id) => {
                out.truncate(start);
                self.reload()?;
                self.append_once(id, describe, out)
            }
            other => other,
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn append_once(
        &self,
        id: &BlobId,
        describe: &dyn Fn() -> String,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let (pack, record) = self.locate(id)?.ok_or_else(|| {
            Error::integrity(describe(), format!("blob {id} is missing from the index"))
        })?;
        if u64::from(record.stored_len) <= READ_CHUNK {
            out.extend_from_slice(&self.read_once(id, describe)?);
            return Ok(());
        }
        let key = pack_key(&pack.id);
        let where_ = || format!("{} (blob {} in pack {})", describe(), id.to_hex(), pack.id);
        let dictionary = match (record.codec, pack.dictionary) {
            (Codec::ZstdDictionary, Some(d)) => Some(self.dictionary(&d)?),
            _ => None,
        };
        let start = out.len();
        let raw_len = record.raw_len as usize;
        out.reserve(raw_len);
        let mut decoder =
            codec::StreamDecoder::new(record.codec, raw_len, dictionary.as_deref(), out, &where_)?;
        let damaged =
            |e: std::io::Error| Error::integrity(where_(), format!("cannot decompress: {e}"));
        let mut offset = u64::from(record.offset);
        let end = offset + u64::from(record.stored_len);
        while offset < end {
            let len = READ_CHUNK.min(end - offset);
            let piece = self
                .backend
                .read_range(&key, offset, len)
                .map_err(|e| match e.kind() {
                    ErrorKind::NotFound | ErrorKind::Integrity => {
                        Error::integrity(where_(), format!("pack unreadable: {e}"))
                    }
                    _ => e,
                })?;
            decoder.feed(&piece).map_err(damaged)?;
            offset += len;
        }
        decoder.finish().map_err(damaged)?;
        let got = out.len() - start;
        if got != raw_len {
            return Err(Error::integrity(
                where_(),
                format!("decompressed to {got} bytes, expected {raw_len}"),
            ));
        }
        if BlobId::of(&out[start..]) != *id {
            return Err(Error::integrity(
                where_(),
                "content does not match its hash",
            ));
        }
        Ok(())
    }

    /// Whether the index as this handle knows it names no pack for `id`, or one that no
    /// longer exists: another writer may have indexed it since, or a collection moved it.
    fn pack_gone(&self, id: &BlobId) -> bool {
        self.locate(id).ok().flatten().is_none_or(|(pack, _)| {
            self.backend
                .size(&pack_key(&pack.id))
                .is_err_and(|e| e.kind() == ErrorKind::NotFound)
        })
    }

    fn read_once(&self, id: &BlobId, describe: &dyn Fn() -> String) -> Result<Vec<u8>> {
        let (pack, record) = self.locate(id)?.ok_or_else(|| {
            Error::integrity(describe(), format!("blob {id} is missing from the index"))
        })?;
        let key = pack_key(&pack.id);
        let where_ = || format!("{} (blob {} in pack {})", describe(), id.to_hex(), pack.id);
        let stored = self
            .backend
            .read_range(&key, u64::from(record.offset), u64::from(record.stored_len))
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound | ErrorKind::Integrity => {
                    Error::integrity(where_(), format!("pack unreadable: {e}"))
                }
                _ => e,
            })?;
        let dictionary = match (record.codec, pack.dictionary) {
            (Codec::ZstdDictionary, Some(d)) => Some(self.dictionary(&d)?),
            _ => None,
        };
        let raw = codec::decompress(
            record.codec,
            &stored,
            record.raw_len as usize,
            dictionary.as_deref(),
            &where_,
        )?;
        if BlobId::of(&raw) != *id {
            return Err(Error::integrity(
                where_(),
                "content does not match its hash",
            ));
        }
        Ok(raw)
    }
}
