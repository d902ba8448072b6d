//! Content identifiers: BLAKE3 hashes of stored bytes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

macro_rules! hash_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 32]);

        impl $name {
            /// The id of `bytes`: their BLAKE3 hash.
            pub fn of(bytes: &[u8]) -> Self {
                Self(*blake3::hash(bytes).as_bytes())
            }

            /// Wraps 32 raw hash bytes.
            pub fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The 32 raw hash bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// The lowercase hexadecimal form (64 characters).
            pub fn to_hex(&self) -> String {
                to_hex(&self.0)
            }

            /// Parses the 64-character hexadecimal form.
            pub fn from_hex(text: &str) -> Result<Self> {
                from_hex(text).map(Self).ok_or_else(|| {
                    Error::invalid($what, format!("expected 64 hexadecimal digits, got {text:?}"))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), &self.to_hex()[..12])
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::from_hex(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                d.deserialize_str(HexVisitor($what)).map(Self)
            }
        }
    };
}

hash_id!(
    /// The identity of a message: the BLAKE3 hash of its raw RFC 5322 bytes.
    ///
    /// ```
    /// use mtm_core::MessageId;
    /// let id = MessageId::of(b"Subject: hi\r\n\r\nbody\r\n");
    /// assert_eq!(MessageId::from_hex(&id.to_hex()).unwrap(), id);
    /// ```
    MessageId,
    "message id"
);

hash_id!(
    /// The key of stored bytes (a message part, a manifest, a catalog, a pack):
    /// the BLAKE3 hash of the uncompressed bytes.
    BlobId,
    "blob id"
);

impl From<MessageId> for BlobId {
    fn from(id: MessageId) -> Self {
        BlobId(id.0)
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Reads the hexadecimal form of an id from whatever string the decoder has (borrowed from
/// the input or not) without copying it: decoding a manifest reads many of them.
struct HexVisitor(&'static str);

impl serde::de::Visitor<'_> for HexVisitor {
    type Value = [u8; 32];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} (64 hexadecimal digits)", self.0)
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> std::result::Result<[u8; 32], E> {
        from_hex(text).ok_or_else(|| E::custom(format_args!("invalid {}", self.0)))
    }
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    /// The value of each ASCII hex digit; 0xff for every other byte.
    const VALUE: [u8; 256] = {
        let mut table = [0xff; 256];
        let mut i = 0;
        while i < 10 {
            table[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            table[b'a' as usize + i] = 10 + i as u8;
            table[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        table
    };
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let (hi, lo) = (VALUE[usize::from(pair[0])], VALUE[usize::from(pair[1])]);
        if hi == 0xff || lo == 0xff {
            return None;
        }
        out[i] = hi << 4 | lo;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        let id = BlobId::of(b"hello");
        assert_eq!(id.to_hex().len(), 64);
        assert_eq!(BlobId::from_hex(&id.to_hex()).unwrap(), id);
        assert!(BlobId::from_hex("zz").is_err());
        assert!(BlobId::from_hex(&"g".repeat(64)).is_err());
        assert_eq!(BlobId::from_hex(&id.to_hex().to_uppercase()).unwrap(), id);
        assert!(BlobId::from_hex(&format!("{}é", &id.to_hex()[..62])).is_err());
        assert_eq!(
            id.to_hex(),
            "ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f"
        );
    }

    #[test]
    fn serde_uses_hex_strings() {
        let id = MessageId::of(b"x");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", id.to_hex()));
        let back: MessageId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
    }
}

/// Hashes ids for hash maps. Ids are uniformly random already, so their first eight bytes
/// are as good a hash as any and SipHash's work per lookup is wasted.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
    }
}

/// A hash map keyed by ids.
pub(crate) type IdMap<K, V> =
    std::collections::HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;
/// A hash set of ids.
pub(crate) type IdSet<K> = std::collections::HashSet<K, std::hash::BuildHasherDefault<IdHasher>>;

/// FNV-1a, for maps keyed by names the library did not choose but that no attacker picks
/// either (Maildir unique names, generated by the mail server): several times faster than
/// SipHash on short keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
