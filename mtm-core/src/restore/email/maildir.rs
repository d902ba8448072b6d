//! Delivery straight into a Maildir.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use super::unique;
use crate::error::{Error, Result};

/// The host name for Maildir file names, with `/` and `:` escaped as the Maildir spec says.
fn maildir_host() -> String {
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    host.replace('/', "\\057").replace(':', "\\072")
}

/// Delivers `bytes` the Maildir way: a new file in `tmp/`, synced, renamed into `new/`.
pub(super) fn deliver_to_maildir(root: &Path, bytes: &[u8]) -> Result<()> {
    for sub in ["cur", "new", "tmp"] {
        let dir = root.join(sub);
        fs::create_dir_all(&dir).map_err(|e| Error::storage(&dir, e))?;
    }
    let (since, seq) = unique();
    let name = format!(
        "{}.M{}P{}Q{seq}.{}",
        since.as_secs(),
        since.subsec_micros(),
        std::process::id(),
        maildir_host()
    );
    let tmp = root.join("tmp").join(&name);
    let new = root.join("new").join(&name);
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(Error::storage(&tmp, e));
    }
    fs::rename(&tmp, &new).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::storage(&new, e)
    })
}
