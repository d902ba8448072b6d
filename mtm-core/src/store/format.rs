//! Byte layouts of pack files and index files (documented in FORMAT.md).

use super::codec::Codec;
use crate::error::{Error, Result};
use crate::id::BlobId;

pub(crate) const PACK_MAGIC: &[u8; 8] = b"MTMPACK1";
pub(crate) const PACK_END: &[u8; 8] = b"MTMPEND1";
pub(crate) const INDEX_MAGIC: &[u8; 8] = b"MTMIDX01";
const PACK_RECORD_LEN: usize = 48;
const INDEX_ENTRY_LEN: usize = 52;
const PACK_FOOTER_LEN: usize = 32 + 4 + 8;

/// What a blob holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub(crate) enum BlobKind {
    /// A piece of a message (trace headers, header block, body, attachment).
    Part = 0,
    /// A folder manifest.
    Manifest = 1,
    /// A message catalog.
    Catalog = 2,
}

impl BlobKind {
    fn from_u8(value: u8) -> Option<BlobKind> {
        match value {
            0 => Some(BlobKind::Part),
            1 => Some(BlobKind::Manifest),
            2 => Some(BlobKind::Catalog),
            _ => None,
        }
    }
}

/// One blob inside a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PackRecord {
    pub id: BlobId,
    pub kind: BlobKind,
    pub codec: Codec,
    pub offset: u32,
    pub stored_len: u32,
    pub raw_len: u32,
}

/// A pack file's table of contents: its blobs and the dictionary they were compressed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackTrailer {
    pub records: Vec<PackRecord>,
    pub dictionary: Option<BlobId>,
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn dict_bytes(dictionary: Option<BlobId>) -> [u8; 32] {
    dictionary.map_or([0; 32], |d| *d.as_bytes())
}

fn dict_from(bytes: [u8; 32]) -> Option<BlobId> {
    (bytes != [0; 32]).then(|| BlobId::from_bytes(bytes))
}

/// A cursor over untrusted bytes: every read is bounds-checked.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'a str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.data.len());
        let end = end.ok_or_else(|| Error::integrity(self.what, "truncated"))?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn hash(&mut self) -> Result<[u8; 32]> {
        let mut b = [0; 32];
        b.copy_from_slice(self.take(32)?);
        Ok(b)
    }
    fn record(&mut self) -> Result<(BlobId, BlobKind, Codec)> {
        let id = BlobId::from_bytes(self.hash()?);
        let kind = BlobKind::from_u8(self.u8()?)
            .ok_or_else(|| Error::integrity(self.what, "unknown blob kind"))?;
        let codec = Codec::from_u8(self.u8()?)
            .ok_or_else(|| Error::integrity(self.what, "unknown codec"))?;
        self.take(2)?;
        Ok((id, kind, codec))
    }
}

/// Appends the trailer to a pack body (magic plus blob bytes) and returns the whole file.
pub(crate) fn finish_pack(mut body: Vec<u8>, trailer: &PackTrailer) -> Result<Vec<u8>> {
    let count = u32::try_from(trailer.records.len())
        .map_err(|_| Error::invalid("pack", "too many blobs in one pack"))?;
    for r in &trailer.records {
        body.extend_from_slice(r.id.as_bytes());
        body.extend_from_slice(&[r.kind as u8, r.codec as u8, 0, 0]);
        put_u32(&mut body, r.offset);
        put_u32(&mut body, r.stored_len);
        put_u32(&mut body, r.raw_len);
    }
    body.extend_from_slice(&dict_bytes(trailer.dictionary));
    put_u32(&mut body, count);
    body.extend_from_slice(PACK_END);
    Ok(body)
}

/// Reads the table of contents of a whole pack file, checking that every record lies inside
/// the blob area.
#[cfg_attr(
    not(any(test, feature = "fuzzing")),
    expect(
        dead_code,
        reason = "for repository checks that read packs without the index"
    )
)]
pub(crate) fn read_pack_trailer(pack: &[u8], what: &str) -> Result<PackTrailer> {
    if pack.len() < PACK_MAGIC.len() + PACK_FOOTER_LEN || &pack[..8] != PACK_MAGIC {
        return Err(Error::integrity(
            what,
            "not a pack file (bad magic or too short)",
        ));
    }
    let footer_at = pack.len() - PACK_FOOTER_LEN;
    if &pack[pack.len() - 8..] != PACK_END {
        return Err(Error::integrity(
            what,
            "pack end marker missing (truncated?)",
        ));
    }
    let mut footer = Reader {
        data: &pack[footer_at..],
        pos: 0,
        what,
    };
    let dictionary = dict_from(footer.hash()?);
    let count = footer.u32()? as usize;
    let table_len = count
        .checked_mul(PACK_RECORD_LEN)
        .filter(|len| *len <= footer_at - PACK_MAGIC.len())
        .ok_or_else(|| Error::integrity(what, "record count larger than the pack"))?;
    let blobs_end = footer_at - table_len;
    let mut table = Reader {
        data: &pack[blobs_end..footer_at],
        pos: 0,
        what,
    };
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        let (id, kind, codec) = table.record()?;
        let record = PackRecord {
            id,
            kind,
            codec,
            offset: table.u32()?,
            stored_len: table.u32()?,
            raw_len: table.u32()?,
        };
        let end = u64::from(record.offset) + u64::from(record.stored_len);
        if u64::from(record.offset) < PACK_MAGIC.len() as u64 || end > blobs_end as u64 {
            return Err(Error::integrity(
                what,
                "blob record points outside the pack",
            ));
        }
        records.push(record);
    }
    Ok(PackTrailer {
        records,
        dictionary,
    })
}

/// One pack as an index file lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexedPack {
    pub id: BlobId,
    pub dictionary: Option<BlobId>,
}

/// The contents of one index file: packs, and for each blob its pack (by position) and record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct IndexFile {
    pub packs: Vec<IndexedPack>,
    pub entries: Vec<(u32, PackRecord)>,
}

pub(crate) fn encode_index(index: &IndexFile) -> Result<Vec<u8>> {
    let too_many = || Error::invalid("index", "too many entries in one index file");
    let mut out = Vec::with_capacity(16 + index.packs.len() * 64 + index.entries.len() * 52);
    out.extend_from_slice(INDEX_MAGIC);
    put_u32(
        &mut out,
        u32::try_from(index.packs.len()).map_err(|_| too_many())?,
    );
    for p in &index.packs {
        out.extend_from_slice(p.id.as_bytes());
        out.extend_from_slice(&dict_bytes(p.dictionary));
    }
    put_u32(
        &mut out,
        u32::try_from(index.entries.len()).map_err(|_| too_many())?,
    );
    for (pack, r) in &index.entries {
        out.extend_from_slice(r.id.as_bytes());
        put_u32(&mut out, *pack);
        out.extend_from_slice(&[r.kind as u8, r.codec as u8, 0, 0]);
        put_u32(&mut out, r.offset);
        put_u32(&mut out, r.stored_len);
        put_u32(&mut out, r.raw_len);
    }
    Ok(out)
}

pub(crate) fn decode_index(data: &[u8], what: &str) -> Result<IndexFile> {
    let mut r = Reader { data, pos: 0, what };
    if r.take(8)? != INDEX_MAGIC {
        return Err(Error::integrity(what, "not an index file (bad magic)"));
    }
    let pack_count = r.u32()? as usize;
    if pack_count.saturating_mul(64) > data.len() {
        return Err(Error::integrity(what, "pack count larger than the file"));
    }
    let mut packs = Vec::with_capacity(pack_count);
    for _ in 0..pack_count {
        packs.push(IndexedPack {
            id: BlobId::from_bytes(r.hash()?),
            dictionary: dict_from(r.hash()?),
        });
    }
    let entry_count = r.u32()? as usize;
    if entry_count.saturating_mul(INDEX_ENTRY_LEN) != data.len() - r.pos {
        return Err(Error::integrity(
            what,
            "entry count does not match the file size",
        ));
    }
    let mut entries = Vec::with_capacity(entry_count);
    for _ in 0..entry_count {
        let id = BlobId::from_bytes(r.hash()?);
        let pack = r.u32()?;
        if pack as usize >= packs.len() {
            return Err(Error::integrity(
                what,
                "entry names a pack that is not listed",
            ));
        }
        let mut rest = Reader {
            data: r.take(16)?,
            pos: 0,
            what,
        };
        let kind = BlobKind::from_u8(rest.u8()?)
            .ok_or_else(|| Error::integrity(what, "unknown blob kind"))?;
        let codec =
            Codec::from_u8(rest.u8()?).ok_or_else(|| Error::integrity(what, "unknown codec"))?;
        rest.take(2)?;
        entries.push((
            pack,
            PackRecord {
                id,
                kind,
                codec,
                offset: rest.u32()?,
                stored_len: rest.u32()?,
                raw_len: rest.u32()?,
            },
        ));
    }
    Ok(IndexFile { packs, entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: u8, offset: u32) -> PackRecord {
        PackRecord {
            id: BlobId::of(&[i]),
            kind: BlobKind::Part,
            codec: Codec::Zstd,
            offset,
            stored_len: 3,
            raw_len: 10,
        }
    }

    #[test]
    fn pack_trailer_round_trips() {
        let mut body = PACK_MAGIC.to_vec();
        body.extend_from_slice(b"abcdef");
        let trailer = PackTrailer {
            records: vec![record(1, 8), record(2, 11)],
            dictionary: Some(BlobId::of(b"dict")),
        };
        let pack = finish_pack(body, &trailer).unwrap();
        assert_eq!(read_pack_trailer(&pack, "p").unwrap(), trailer);
    }

    #[test]
    fn damaged_packs_are_rejected_not_panicking() {
        let mut body = PACK_MAGIC.to_vec();
        body.extend_from_slice(b"abc");
        let pack = finish_pack(
            body,
            &PackTrailer {
                records: vec![record(1, 8)],
                dictionary: None,
            },
        )
        .unwrap();
        for cut in 0..pack.len() {
            assert!(read_pack_trailer(&pack[..cut], "p").is_err());
        }
        let mut bad = pack.clone();
        let at = bad.len() - 12;
        bad[at] = 0xff; // record count now huge
        assert!(read_pack_trailer(&bad, "p").is_err());
        let outside = finish_pack(
            PACK_MAGIC.to_vec(),
            &PackTrailer {
                records: vec![record(1, 8)],
                dictionary: None,
            },
        )
        .unwrap();
        assert!(read_pack_trailer(&outside, "p").is_err());
    }

    #[test]
    fn index_round_trips_and_rejects_truncation() {
        let index = IndexFile {
            packs: vec![
                IndexedPack {
                    id: BlobId::of(b"p1"),
                    dictionary: None,
                },
                IndexedPack {
                    id: BlobId::of(b"p2"),
                    dictionary: Some(BlobId::of(b"d")),
                },
            ],
            entries: vec![(0, record(1, 8)), (1, record(2, 8))],
        };
        let bytes = encode_index(&index).unwrap();
        assert_eq!(decode_index(&bytes, "i").unwrap(), index);
        for cut in 0..bytes.len() {
            assert!(decode_index(&bytes[..cut], "i").is_err(), "cut at {cut}");
        }
    }
}
