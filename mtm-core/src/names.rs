//! Validated names: account ids and folder names.
//!
//! Both end up in storage keys and file-system paths, so they are checked once, here, and
//! the rest of the library only ever sees validated values.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};

/// The longest account id accepted (the longest email address RFC 5321 allows).
pub const MAX_ACCOUNT_ID_LEN: usize = 254;
/// The longest folder path accepted, in bytes.
pub const MAX_FOLDER_NAME_LEN: usize = 1024;

/// One mailbox owner, usually an email address: the unit of isolation.
///
/// Accepted: 1 to 254 characters of ASCII letters, digits and `@ . _ + - =`, not starting
/// with `.`, not containing `..`. Letters are kept as given (no case folding).
///
/// ```
/// use mtm_core::AccountId;
/// assert!(AccountId::new("alice@example.com").is_ok());
/// assert!(AccountId::new("../../etc/passwd").is_err());
/// assert!(AccountId::new("bob\0").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    /// Validates `id` as an account id.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        validate_account(&id)?;
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn validate_account(id: &str) -> Result<()> {
    let bad = |reason: &str| Err(Error::invalid("account id", format!("{id:?}: {reason}")));
    if id.is_empty() {
        return bad("empty");
    }
    if id.len() > MAX_ACCOUNT_ID_LEN {
        return bad("longer than 254 characters");
    }
    if id.starts_with('.') || id.contains("..") {
        return bad("must not start with '.' or contain '..'");
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "@._+-=".contains(*c)))
    {
        return bad(&format!("character {c:?} is not allowed"));
    }
    Ok(())
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.0)
    }
}

impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        AccountId::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A mail folder path as users see it: `INBOX`, `Sent`, `Archive/2024`.
///
/// `/` separates levels. Each level is non-empty, not `.` or `..`, and has no control
/// characters (NUL included); the whole path is at most 1024 bytes. Names are Unicode
/// (Maildir's modified UTF-7 is decoded by the source).
///
/// ```
/// use mtm_core::FolderName;
/// let f = FolderName::new("Archive/2024").unwrap();
/// assert_eq!(f.levels().collect::<Vec<_>>(), ["Archive", "2024"]);
/// assert!(FolderName::new("a//b").is_err());
/// assert!(FolderName::new("../x").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct FolderName(String);

impl FolderName {
    /// The name of the inbox.
    pub const INBOX: &'static str = "INBOX";

    /// Validates `name` as a folder path.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        validate_folder(&name)?;
        Ok(Self(name))
    }

    /// The inbox.
    pub fn inbox() -> Self {
        Self(Self::INBOX.to_owned())
    }

    /// The path as text, levels separated by `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the inbox.
    pub fn is_inbox(&self) -> bool {
        self.0 == Self::INBOX
    }

    /// The levels of the path, outermost first.
    pub fn levels(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The enclosing folder, if this is not a top-level folder.
    pub fn parent(&self) -> Option<FolderName> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| FolderName(parent.to_owned()))
    }
}

fn validate_folder(name: &str) -> Result<()> {
    let bad = |reason: &str| Err(Error::invalid("folder name", format!("{name:?}: {reason}")));
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_FOLDER_NAME_LEN {
        return bad("longer than 1024 bytes");
    }
    if name.chars().any(char::is_control) {
        return bad("control characters are not allowed");
    }
    for level in name.split('/') {
        if level.is_empty() {
            return bad("empty level");
        }
        if level == "." || level == ".." {
            return bad("'.' and '..' are not folder names");
        }
    }
    Ok(())
}

impl fmt::Display for FolderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for FolderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FolderName({})", self.0)
    }
}

impl<'de> Deserialize<'de> for FolderName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        FolderName::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_path_safe() {
        for good in ["a", "alice@example.com", "a.b+tag@x-y.z", "user=1"] {
            assert!(AccountId::new(good).is_ok(), "{good}");
        }
        let too_long = "a".repeat(255);
        for bad in [
            "", ".hidden", "a..b", "a/b", "a\\b", "a\0b", "ä@x", "a b", &too_long,
        ] {
            let err = AccountId::new(bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn folder_names_reject_traversal_and_control_characters() {
        for good in [
            "INBOX",
            "Sent",
            "Archive/2024",
            "Entwürfe",
            "a.b",
            "Ünïcode/日本",
        ] {
            assert!(FolderName::new(good).is_ok(), "{good}");
        }
        let too_long = "x".repeat(1025);
        for bad in [
            "",
            "/",
            "a/",
            "/a",
            "a//b",
            "..",
            "a/../b",
            "a\0",
            "tab\there",
            &too_long,
        ] {
            assert!(FolderName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<AccountId>("\"../x\"").is_err());
        assert!(serde_json::from_str::<FolderName>("\"a//b\"").is_err());
        let f: FolderName = serde_json::from_str("\"Archive/2024\"").unwrap();
        assert_eq!(f.parent().unwrap().as_str(), "Archive");
    }
}
