//! Message flags: the IMAP system flags a Maildir file name carries after `:2,`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One IMAP system flag, as Maildir spells it with one capital letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    /// `D`: a draft (`\Draft`).
    Draft,
    /// `F`: flagged for attention (`\Flagged`).
    Flagged,
    /// `P`: passed on, forwarded (`$Forwarded`).
    Passed,
    /// `R`: replied to (`\Answered`).
    Replied,
    /// `S`: seen (`\Seen`).
    Seen,
    /// `T`: trashed, marked for deletion (`\Deleted`).
    Trashed,
}

impl Flag {
    /// All flags, in Maildir order (ASCII order of their letters).
    pub const ALL: [Flag; 6] = [
        Flag::Draft,
        Flag::Flagged,
        Flag::Passed,
        Flag::Replied,
        Flag::Seen,
        Flag::Trashed,
    ];

    /// The Maildir letter of this flag.
    pub fn letter(self) -> char {
        match self {
            Flag::Draft => 'D',
            Flag::Flagged => 'F',
            Flag::Passed => 'P',
            Flag::Replied => 'R',
            Flag::Seen => 'S',
            Flag::Trashed => 'T',
        }
    }

    /// The flag a Maildir letter stands for, if it is one of the six.
    pub fn from_letter(letter: char) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.letter() == letter)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of [`Flag`]s. Serialized as its Maildir letters, e.g. `"FS"`.
///
/// ```
/// use mtm_core::{Flag, Flags};
/// let flags = Flags::from_maildir_letters("SF");
/// assert!(flags.contains(Flag::Seen) && flags.contains(Flag::Flagged));
/// assert_eq!(flags.to_string(), "FS");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u8);

impl Flags {
    /// No flags: an unread message.
    pub const EMPTY: Flags = Flags(0);

    /// Reads the system-flag letters of a Maildir info string; other characters (keyword
    /// letters `a`-`z`, unknown ones) are ignored.
    pub fn from_maildir_letters(letters: &str) -> Flags {
        letters
            .chars()
            .filter_map(Flag::from_letter)
            .fold(Flags::EMPTY, Flags::with)
    }

    /// This set plus `flag`.
    #[must_use]
    pub fn with(self, flag: Flag) -> Flags {
        Flags(self.0 | flag.bit())
    }

    /// Whether `flag` is set.
    pub fn contains(self, flag: Flag) -> bool {
        self.0 & flag.bit() != 0
    }

    /// Whether no flag is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The flags that are set, in Maildir order.
    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.iter()
            .try_for_each(|flag| write!(f, "{}", flag.letter()))
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags({self})")
    }
}

impl Serialize for Flags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Flags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if let Some(c) = text.chars().find(|c| Flag::from_letter(*c).is_none()) {
            return Err(serde::de::Error::custom(format!(
                "unknown flag letter {c:?}"
            )));
        }
        Ok(Flags::from_maildir_letters(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_round_trip_in_maildir_order() {
        let flags = Flags::from_maildir_letters("TSRPFDabc");
        assert_eq!(flags.to_string(), "DFPRST");
        assert_eq!(Flags::from_maildir_letters("").to_string(), "");
        assert!(Flags::from_maildir_letters("ab").is_empty());
    }

    #[test]
    fn serde_is_the_letter_string() {
        let flags = Flags::EMPTY.with(Flag::Seen).with(Flag::Replied);
        assert_eq!(serde_json::to_string(&flags).unwrap(), "\"RS\"");
        assert_eq!(serde_json::from_str::<Flags>("\"RS\"").unwrap(), flags);
        assert!(serde_json::from_str::<Flags>("\"Sx\"").is_err());
    }
}
