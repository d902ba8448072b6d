//! A directory of many accounts, each with its account id: what a snapshot of every
//! account, a recovery and a binding's `snapshot_root` all start from.

use std::path::{Path, PathBuf};

use super::{MaildirAccount, SourceOptions, SourceWarning};
use crate::{AccountId, Error, Result};

/// What [`MaildirAccount::discover_accounts`] found under a directory of accounts.
#[derive(Debug, Default)]
pub struct RootAccounts {
    /// The accounts whose directory name is a valid account id, sorted by id.
    pub accounts: Vec<(AccountId, MaildirAccount)>,
    /// Maildirs skipped because their directory name is not a valid account id, sorted by
    /// name: never snapshotted, and never silently left out.
    pub invalid: Vec<InvalidAccount>,
    /// Account directories skipped for another reason (a symlink not followed, one that
    /// cannot be opened), as [`MaildirAccount::discover_with`] reports them.
    pub warnings: Vec<SourceWarning>,
}

/// A Maildir under a directory of accounts whose directory name is not a valid account id.
#[derive(Debug)]
pub struct InvalidAccount {
    /// The directory name.
    pub name: String,
    /// The Maildir (`<root>/<name>` or `<root>/<name>/Maildir`).
    pub path: PathBuf,
    /// Why the name is refused (an [`ErrorKind::InvalidInput`](crate::ErrorKind) error).
    pub error: Error,
}

impl MaildirAccount {
    /// The accounts under a directory of many accounts, as
    /// [`discover_with`](Self::discover_with) lists them, each with its account id: the
    /// directory name, checked as [`AccountId::new`] does. A name that is not a valid id is
    /// kept apart in [`RootAccounts::invalid`] with its error.
    pub fn discover_accounts(root: &Path, options: &SourceOptions) -> Result<RootAccounts> {
        let discovered = Self::discover_with(root, options)?;
        let mut found = RootAccounts {
            warnings: discovered.warnings,
            ..RootAccounts::default()
        };
        for (name, source) in discovered.accounts {
            match AccountId::new(name.as_str()) {
                Ok(id) => found.accounts.push((id, source)),
                Err(error) => found.invalid.push(InvalidAccount {
                    name,
                    path: source.root().to_path_buf(),
                    error,
                }),
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maildir(path: &Path) {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(path.join(sub)).unwrap();
        }
    }

    #[test]
    fn directory_names_become_account_ids_and_bad_names_are_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        maildir(&dir.path().join("alice@example.com"));
        maildir(&dir.path().join("bob").join("Maildir"));
        maildir(&dir.path().join("bad name"));
        std::fs::create_dir(dir.path().join("not-a-maildir")).unwrap();

        let found =
            MaildirAccount::discover_accounts(dir.path(), &SourceOptions::default()).unwrap();
        let ids: Vec<&str> = found.accounts.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["alice@example.com", "bob"]);
        assert_eq!(found.accounts[1].1.root(), dir.path().join("bob/Maildir"));
        assert_eq!(found.invalid.len(), 1);
        assert_eq!(found.invalid[0].name, "bad name");
        assert_eq!(found.invalid[0].path, dir.path().join("bad name"));
        assert_eq!(
            found.invalid[0].error.kind(),
            crate::ErrorKind::InvalidInput
        );
        assert!(found.warnings.is_empty());
    }
}
