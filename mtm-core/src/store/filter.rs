//! The membership filter of a sorted index file: a blocked Bloom filter over its blob ids,
//! so that a writer asking whether a new blob is stored already learns "no" from memory for
//! almost every file, instead of two random reads per file.
//!
//! Blob ids are BLAKE3 hashes, uniform and independent bit by bit, so the filter takes its
//! positions straight from the id's bytes (no further hashing): bytes 4..8 pick one 512-bit
//! block (the fanout uses bytes 0..4), and [`PROBES`] pairs of the following bytes pick one
//! bit each inside it. A block is one cache line. With [`BITS_PER_ENTRY`] bits an entry,
//! about one absent id in a hundred is let through (then the file is probed as before); an
//! id the file lists is never refused.
//!
//! ```text
//!  64 × f   f blocks, each eight u64 little-endian words; bit j of a block is bit j % 64
//!           of word j / 64
//! ```

use crate::id::BlobId;

/// Bits of filter per entry of the file: about a 1% false-positive rate.
pub(crate) const BITS_PER_ENTRY: u64 = 10;
/// Bits set per id in its block.
const PROBES: usize = 6;
/// Bytes of one block.
pub(crate) const BLOCK_LEN: usize = 64;
const BLOCK_BITS: u64 = 512;

/// How many blocks a filter of `entries` ids has (none for an empty file).
pub(crate) fn blocks_for(entries: u64) -> u32 {
    let blocks = (entries * BITS_PER_ENTRY).div_ceil(BLOCK_BITS);
    u32::try_from(blocks).unwrap_or(u32::MAX)
}

/// A filter in memory, built from ids or read back from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    blocks: Vec<[u64; 8]>,
}

impl Filter {
    /// An empty filter of `blocks` blocks.
    pub(crate) fn with_blocks(blocks: u32) -> Self {
        Self {
            blocks: vec![[0; 8]; blocks as usize],
        }
    }

    /// Reads a filter back from its bytes: a whole number of blocks.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if !bytes.len().is_multiple_of(BLOCK_LEN) {
            return None;
        }
        let blocks = bytes
            .chunks_exact(BLOCK_LEN)
            .map(|block| {
                let mut words = [0u64; 8];
                for (word, b) in words.iter_mut().zip(block.chunks_exact(8)) {
                    *word = u64::from_le_bytes(b.try_into().unwrap_or_default());
                }
                words
            })
            .collect();
        Some(Self { blocks })
    }

    /// Appends the filter's bytes to `out`.
    pub(crate) fn put(&self, out: &mut Vec<u8>) {
        for block in &self.blocks {
            for word in block {
                out.extend_from_slice(&word.to_le_bytes());
            }
        }
    }

    /// Records `id`. A filter of no blocks records nothing (and is never asked).
    pub(crate) fn insert(&mut self, id: &BlobId) {
        if let Some((block, bits)) = self.place(id) {
            let block = &mut self.blocks[block];
            for bit in bits {
                block[bit / 64] |= 1 << (bit % 64);
            }
        }
    }

    /// False if `id` was certainly never recorded; true if it may have been.
    pub(crate) fn may_contain(&self, id: &BlobId) -> bool {
        let Some((block, bits)) = self.place(id) else {
            return false;
        };
        let block = &self.blocks[block];
        bits.iter()
            .all(|bit| block[bit / 64] & (1 << (bit % 64)) != 0)
    }

    /// The block of `id` and its bits in it.
    fn place(&self, id: &BlobId) -> Option<(usize, [usize; PROBES])> {
        if self.blocks.is_empty() {
            return None;
        }
        let b = id.as_bytes();
        let pick = u64::from(u32::from_le_bytes([b[4], b[5], b[6], b[7]]));
        let block = ((pick * self.blocks.len() as u64) >> 32) as usize;
        let mut bits = [0usize; PROBES];
        for (k, bit) in bits.iter_mut().enumerate() {
            let word = u16::from_le_bytes([b[8 + 2 * k], b[9 + 2 * k]]);
            *bit = usize::from(word) % BLOCK_BITS as usize;
        }
        Some((block, bits))
    }

    /// The filter's length in bytes.
    #[cfg(test)]
    pub(crate) fn len_bytes(&self) -> usize {
        self.blocks.len() * BLOCK_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: u32) -> BlobId {
        BlobId::of(&i.to_le_bytes())
    }

    #[test]
    fn every_recorded_id_passes_and_few_others_do() {
        let n = 20_000u32;
        let mut filter = Filter::with_blocks(blocks_for(u64::from(n)));
        for i in 0..n {
            filter.insert(&id(i));
        }
        assert!((0..n).all(|i| filter.may_contain(&id(i))));
        let let_through = (n..n + 100_000)
            .filter(|i| filter.may_contain(&id(*i)))
            .count();
        // About 1% by design; more than 2% would mean the positions are not independent.
        assert!(let_through < 2_000, "{let_through} of 100,000 let through");
        assert!(
            let_through > 100,
            "{let_through}: the filter sets too few bits"
        );
    }

    #[test]
    fn a_filter_reads_back_from_its_bytes_and_sizes_follow_the_entries() {
        assert_eq!(blocks_for(0), 0);
        assert_eq!(blocks_for(1), 1);
        assert_eq!(blocks_for(52), 2);
        let mut filter = Filter::with_blocks(blocks_for(300));
        for i in 0..300 {
            filter.insert(&id(i));
        }
        let mut bytes = Vec::new();
        filter.put(&mut bytes);
        assert_eq!(bytes.len(), filter.len_bytes());
        assert_eq!(Filter::from_bytes(&bytes), Some(filter));
        assert_eq!(Filter::from_bytes(&bytes[1..]), None);
        // No blocks: nothing may be in it.
        assert!(!Filter::with_blocks(0).may_contain(&id(1)));
    }
}
