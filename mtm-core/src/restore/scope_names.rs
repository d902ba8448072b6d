//! Restore scopes from names in text: what the command line's `--folder` and `--message`
//! and a binding's scope object hold. One parser, so that every caller refuses the same
//! names with the same errors.

use crate::error::Result;
use crate::id::MessageId;
use crate::names::FolderName;
use crate::restore::request::RestoreScope;

impl RestoreScope {
    /// These folders, by name ([`FolderName::new`] checks each). An empty list is left for
    /// [`validate`](Self::validate) to refuse.
    pub fn folders_named<S: AsRef<str>>(names: &[S]) -> Result<Self> {
        let folders = names
            .iter()
            .map(|n| FolderName::new(n.as_ref()))
            .collect::<Result<_>>()?;
        Ok(RestoreScope::Folders { folders })
    }

    /// These messages, by their 64 hex digit ids ([`MessageId::from_hex`] checks each).
    pub fn messages_named<S: AsRef<str>>(ids: &[S]) -> Result<Self> {
        let messages = ids
            .iter()
            .map(|id| MessageId::from_hex(id.as_ref()))
            .collect::<Result<_>>()?;
        Ok(RestoreScope::Messages { messages })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn names_become_folders_and_ids_become_messages() {
        let scope = RestoreScope::folders_named(&["INBOX", "Archive/2024"]).unwrap();
        assert_eq!(scope.to_string(), "folders INBOX, Archive/2024");
        let id = MessageId::of(b"Subject: hi\r\n\r\nhi\r\n");
        let scope = RestoreScope::messages_named(&[id.to_hex()]).unwrap();
        assert_eq!(scope, RestoreScope::Messages { messages: vec![id] });
    }

    #[test]
    fn a_bad_name_or_id_refuses_the_whole_scope() {
        let bad_folder = RestoreScope::folders_named(&["INBOX", "a//b"]).unwrap_err();
        assert_eq!(bad_folder.kind(), ErrorKind::InvalidInput);
        let bad_id = RestoreScope::messages_named(&["abc"]).unwrap_err();
        assert_eq!(bad_id.kind(), ErrorKind::InvalidInput);
    }
}
