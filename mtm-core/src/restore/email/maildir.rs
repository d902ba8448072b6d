//! Delivery straight into a Maildir.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use super::unique;
use crate::error::{Error, Result};
use crate::source::beneath::Dir;

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
///
/// The Maildir may be a mailbox its user can write (an admin's own), so everything below
/// `root` goes through [`Dir`] as a restore's writes do: a `tmp/`, `new/` or `cur/` that is a
/// symlink is refused with an error naming it, and nothing is written outside. `root` itself
/// is the provider's path (created if missing, followed if a symlink).
pub(super) fn deliver_to_maildir(root: &Path, bytes: &[u8]) -> Result<()> {
    let refused = |path: &Path, e: io::Error| Error::maildir(path, e.to_string());
    fs::create_dir_all(root).map_err(|e| Error::storage(root, e))?;
    let dir = Dir::open_root(root, true).map_err(|e| refused(root, e))?;
    let open = |sub: &str| -> Result<Dir> {
        let path = dir.join(sub);
        dir.mkdir(sub, 0o700).map_err(|e| refused(&path, e))?;
        dir.open_dir(sub).map_err(|e| refused(&path, e))
    };
    let (tmp, new) = (open("tmp")?, open("new")?);
    open("cur")?;
    let (since, seq) = unique();
    let name = format!(
        "{}.M{}P{}Q{seq}.{}",
        since.as_secs(),
        since.subsec_micros(),
        std::process::id(),
        maildir_host()
    );
    let written = tmp.create_new(&name, 0o600).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = tmp.unlink(&name);
        return Err(Error::storage(tmp.join(&name), e));
    }
    tmp.rename(&name, &new, &name).map_err(|e| {
        let _ = tmp.unlink(&name);
        Error::storage(new.join(&name), e)
    })
}
