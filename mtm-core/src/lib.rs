//! # Mail Time Machine core
//!
//! Daily, deduplicated, read-only snapshots of Maildir mailboxes, a webmail-like view of any
//! retained day, and byte-exact `.eml` download.
//!
//! The on-disk format is described in `FORMAT.md` beside this crate.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod flags;
mod id;
mod message;
mod names;

pub use error::{Error, ErrorKind, Result};
pub use flags::{Flag, Flags};
pub use id::{BlobId, MessageId};
pub use message::{
    Attachment, Header, ParsedMessage, Part, PartKind, Summary, parse_view, split_message,
    summarize,
};
pub use names::{AccountId, FolderName, MAX_ACCOUNT_ID_LEN, MAX_FOLDER_NAME_LEN};
