//! Fixtures for the hostile-input suite: the unprivileged mail user who owns the Maildirs
//! (as in a real deployment, where `mtm` runs as root over directories its users can write),
//! and a secret that only root may read.
//!
//! `scripts/test-all.sh` creates the user [`MAIL_USER`] when it runs as root and sets
//! `MTM_TEST_REQUIRE_MAIL_USER=1`, so CI never silently runs these tests without it. Run as
//! an ordinary user, the tests still run, with the current user as the "mail user".

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown};
use std::path::{Path, PathBuf};

/// The unprivileged account that owns the test Maildirs when the tests run as root.
pub const MAIL_USER: &str = "mtm-mail";

/// A user and group id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// Whether this process runs as root (uid 0), read from the owner of a fresh file.
pub fn running_as_root() -> bool {
    let dir = tempfile::tempdir().unwrap();
    let probe = dir.path().join("probe");
    fs::write(&probe, b"").unwrap();
    fs::metadata(&probe).unwrap().uid() == 0
}

/// The owner the test Maildirs get: [`MAIL_USER`] when running as root (looked up in
/// `/etc/passwd`), else `None` (files stay the current user's). Panics when running as root
/// without that user while `MTM_TEST_REQUIRE_MAIL_USER` is set, so CI cannot lose the check.
pub fn mail_owner() -> Option<Owner> {
    if !running_as_root() {
        return None;
    }
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let found = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 3 && fields[0] == MAIL_USER).then(|| Owner {
            uid: fields[2].parse().unwrap(),
            gid: fields[3].parse().unwrap(),
        })
    });
    if found.is_none() && std::env::var_os("MTM_TEST_REQUIRE_MAIL_USER").is_some() {
        panic!("running as root but the mail user {MAIL_USER} does not exist (useradd it)");
    }
    found
}

/// Gives every file, directory and symlink below (and including) `root` to `owner`, without
/// following symlinks, as a mail server's delivery agent leaves a Maildir.
pub fn chown_tree(root: &Path, owner: Owner) {
    lchown(root, Some(owner.uid), Some(owner.gid)).unwrap();
    let meta = fs::symlink_metadata(root).unwrap();
    if meta.is_dir() {
        for entry in fs::read_dir(root).unwrap() {
            chown_tree(&entry.unwrap().path(), owner);
        }
    }
}

/// A file outside every mailbox, readable by root only, whose content must never appear in a
/// repository or a mailbox: `SECRET-<tag>` repeated.
#[derive(Debug)]
pub struct Secret {
    pub path: PathBuf,
    pub content: Vec<u8>,
}

impl Secret {
    pub fn create(dir: &Path, tag: &str) -> Self {
        let path = dir.join(format!("secret-{tag}"));
        let content =
            format!("Subject: SECRET-{tag}\r\n\r\nSECRET-{tag} root only\r\n").into_bytes();
        fs::write(&path, &content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        Self { path, content }
    }
}

/// Whether any file below `dir` (not following symlinks) contains `needle`.
pub fn tree_contains(dir: &Path, needle: &[u8]) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => tree_contains(&path, needle),
            Ok(t) if t.is_file() => fs::read(&path)
                .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false),
            _ => false,
        }
    })
}
