//! Byte layouts of pack files and index files (documented in FORMAT.md).

use super::codec::Codec;
use crate::error::{Error, Result};
use crate::id::BlobId;

pub(crate) const PACK_MAGIC: &[u8; 8] = b"MTMPACK1";
pub(crate) const PACK_END: &[u8; 8] = b"MTMPEND1";
pub(crate) const INDEX_MAGIC: &[u8; 8] = b"MTMIDX01";
const PACK_RECORD_LEN: usize = 48;
pub(crate) const INDEX_ENTRY_LEN: usize = 52;
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
    append_trailer(&mut body, trailer)?;
    Ok(body)
}

/// Appends the bytes of a pack trailer (the records, the dictionary, the count and the end
/// marker) to `out`: what follows the blob bytes of a pack.
pub(crate) fn append_trailer(out: &mut Vec<u8>, trailer: &PackTrailer) -> Result<()> {
    let count = u32::try_from(trailer.records.len())
        .map_err(|_| Error::invalid("pack", "too many blobs in one pack"))?;
    for r in &trailer.records {
        out.extend_from_slice(r.id.as_bytes());
        out.extend_from_slice(&[r.kind as u8, r.codec as u8, 0, 0]);
        put_u32(out, r.offset);
        put_u32(out, r.stored_len);
        put_u32(out, r.raw_len);
    }
    out.extend_from_slice(&dict_bytes(trailer.dictionary));
    put_u32(out, count);
    out.extend_from_slice(PACK_END);
    Ok(())
}

/// Reads the table of contents of a whole pack file, checking that every record lies inside
/// the blob area.
pub(crate) fn read_pack_trailer(pack: &[u8], what: &str) -> Result<PackTrailer> {
    if pack.len() < PACK_MAGIC.len() + PACK_FOOTER_LEN || &pack[..8] != PACK_MAGIC {
        return Err(Error::integrity(
            what,
            "not a pack file (bad magic or too short)",
        ));
    }
    match read_pack_tail(pack, pack.len() as u64, what)? {
        TailRead::Trailer(trailer) => Ok(trailer),
        TailRead::NeedMore(_) => Err(Error::integrity(what, "truncated")),
    }
}

/// How many bytes at the end of a pack hold its trailer when it lists `records` blobs.
pub(crate) fn trailer_len(records: usize) -> usize {
    records
        .saturating_mul(PACK_RECORD_LEN)
        .saturating_add(PACK_FOOTER_LEN)
}

/// What the last bytes of a pack tell.
#[derive(Debug)]
pub(crate) enum TailRead {
    /// The whole table of contents.
    Trailer(PackTrailer),
    /// The trailer is longer than the bytes given: read this many from the end.
    NeedMore(u64),
}

/// Reads a pack's table of contents from its last bytes (`tail`, the end of a file of
/// `pack_len` bytes), checking that every record lies inside the blob area: index repair
/// reads the trailer of a pack with one range read, not the whole file.
pub(crate) fn read_pack_tail(tail: &[u8], pack_len: u64, what: &str) -> Result<TailRead> {
    let min = (PACK_MAGIC.len() + PACK_FOOTER_LEN) as u64;
    if pack_len < min || (tail.len() as u64) > pack_len || tail.len() < PACK_FOOTER_LEN {
        return Err(Error::integrity(what, "not a pack file (too short)"));
    }
    if &tail[tail.len() - 8..] != PACK_END {
        return Err(Error::integrity(
            what,
            "pack end marker missing (truncated?)",
        ));
    }
    let footer_at = tail.len() - PACK_FOOTER_LEN;
    let mut footer = Reader {
        data: &tail[footer_at..],
        pos: 0,
        what,
    };
    let dictionary = dict_from(footer.hash()?);
    let count = footer.u32()? as usize;
    // Every blob area starts after the magic; the records must fit between it and the footer.
    let room = pack_len - min;
    let table_len = count
        .checked_mul(PACK_RECORD_LEN)
        .filter(|len| *len as u64 <= room)
        .ok_or_else(|| Error::integrity(what, "record count larger than the pack"))?;
    if table_len > footer_at {
        return Ok(TailRead::NeedMore(trailer_len(count) as u64));
    }
    let blobs_end = pack_len - trailer_len(count) as u64;
    let mut table = Reader {
        data: &tail[footer_at - table_len..footer_at],
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
        if u64::from(record.offset) < PACK_MAGIC.len() as u64 || end > blobs_end {
            return Err(Error::integrity(
                what,
                "blob record points outside the pack",
            ));
        }
        records.push(record);
    }
    Ok(TailRead::Trailer(PackTrailer {
        records,
        dictionary,
    }))
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

/// Appends one index entry (52 bytes): the blob id, its pack's number and its record.
pub(crate) fn put_entry(out: &mut Vec<u8>, pack: u32, r: &PackRecord) {
    out.extend_from_slice(r.id.as_bytes());
    put_u32(out, pack);
    out.extend_from_slice(&[r.kind as u8, r.codec as u8, 0, 0]);
    put_u32(out, r.offset);
    put_u32(out, r.stored_len);
    put_u32(out, r.raw_len);
}

/// Reads one index entry (52 bytes, as [`put_entry`] writes it), checking that its pack
/// number is below `packs`.
pub(crate) fn entry_from(bytes: &[u8], packs: usize, what: &str) -> Result<(u32, PackRecord)> {
    let mut r = Reader {
        data: bytes,
        pos: 0,
        what,
    };
    let id = BlobId::from_bytes(r.hash()?);
    let pack = r.u32()?;
    if pack as usize >= packs {
        return Err(Error::integrity(
            what,
            "entry names a pack that is not listed",
        ));
    }
    let kind =
        BlobKind::from_u8(r.u8()?).ok_or_else(|| Error::integrity(what, "unknown blob kind"))?;
    let codec = Codec::from_u8(r.u8()?).ok_or_else(|| Error::integrity(what, "unknown codec"))?;
    r.take(2)?;
    Ok((
        pack,
        PackRecord {
            id,
            kind,
            codec,
            offset: r.u32()?,
            stored_len: r.u32()?,
            raw_len: r.u32()?,
        },
    ))
}

/// Reads one pack of an index file's pack list (64 bytes: its id, its dictionary).
pub(crate) fn pack_from(bytes: &[u8]) -> IndexedPack {
    let mut id = [0; 32];
    let mut dictionary = [0; 32];
    id.copy_from_slice(&bytes[..32]);
    dictionary.copy_from_slice(&bytes[32..64]);
    IndexedPack {
        id: BlobId::from_bytes(id),
        dictionary: dict_from(dictionary),
    }
}

/// Encodes a version 1 (unsorted) index file. Writers write sorted files
/// ([`super::sorted::encode_sorted`]); this stays for the tests of readers of old files.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn encode_index_v1(index: &IndexFile) -> Result<Vec<u8>> {
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
        put_entry(&mut out, *pack, r);
    }
    Ok(out)
}

/// Encodes an index file as writers write it: sorted (version 2).
pub(crate) fn encode_index(index: &IndexFile) -> Result<Vec<u8>> {
    super::sorted::encode_sorted(index)
}

/// Decodes an index file of any version: sorted (`MTMIDX03`, or `MTMIDX02` without a
/// filter) or the original unsorted layout (`MTMIDX01`).
pub(crate) fn decode_index(data: &[u8], what: &str) -> Result<IndexFile> {
    if super::sorted::is_sorted(data) {
        return super::sorted::decode_sorted(data, what);
    }
    decode_index_v1(data, what)
}

fn decode_index_v1(data: &[u8], what: &str) -> Result<IndexFile> {
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
        packs.push(pack_from(r.take(64)?));
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
        entries.push(entry_from(r.take(INDEX_ENTRY_LEN)?, packs.len(), what)?);
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
    fn a_trailer_is_read_from_the_end_of_a_pack_asking_for_more_when_short() {
        let mut body = PACK_MAGIC.to_vec();
        body.extend_from_slice(b"abcdef");
        let trailer = PackTrailer {
            records: vec![record(1, 8), record(2, 11)],
            dictionary: None,
        };
        let pack = finish_pack(body, &trailer).unwrap();
        let len = pack.len() as u64;
        let short = &pack[pack.len() - PACK_FOOTER_LEN..];
        match read_pack_tail(short, len, "p").unwrap() {
            TailRead::NeedMore(n) => assert_eq!(n as usize, trailer_len(2)),
            TailRead::Trailer(_) => panic!("two records cannot fit in the footer alone"),
        }
        let tail = &pack[pack.len() - trailer_len(2)..];
        match read_pack_tail(tail, len, "p").unwrap() {
            TailRead::Trailer(read) => assert_eq!(read, trailer),
            TailRead::NeedMore(n) => panic!("asked for {n} more bytes"),
        }
        let mut bad = pack.clone();
        let at = bad.len() - 9;
        bad[at] ^= 0x40;
        assert!(read_pack_tail(&bad[bad.len() - 64..], len, "p").is_err());
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
        let bytes = encode_index_v1(&index).unwrap();
        assert_eq!(decode_index(&bytes, "i").unwrap(), index);
        for cut in 0..bytes.len() {
            assert!(decode_index(&bytes[..cut], "i").is_err(), "cut at {cut}");
        }
    }
}
