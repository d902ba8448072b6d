//! Where the emails go: [`EmailTransport`] and the live transport built from it.

use std::fmt::{self, Debug};
use std::path::PathBuf;
use std::time::Duration;

use lettre::SmtpTransport;

/// How long an SMTP conversation may stall before the send fails.
pub(super) const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the emails go.
///
/// ```
/// use mtm_core::EmailTransport;
/// let relay = EmailTransport::Smtp { host: "127.0.0.1".into(), port: 25 };
/// let local = EmailTransport::Maildir("/var/mail/mtm-admins".into());
/// # let _ = (relay, local);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailTransport {
    /// Plain SMTP without authentication or TLS, for a local MTA or a trusted relay
    /// (a conversation that stalls fails after 30 seconds).
    Smtp {
        /// The server's name or IP address.
        host: String,
        /// Its port (25 for a local MTA).
        port: u16,
    },
    /// Straight into this Maildir's `new/` (written in `tmp/`, then renamed); `cur`, `new`
    /// and `tmp` are created when missing.
    Maildir(PathBuf),
}

pub(super) enum Transport {
    Smtp { client: SmtpTransport, url: String },
    Maildir(PathBuf),
}

impl Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Smtp { url, .. } => f.debug_tuple("Smtp").field(url).finish(),
            Transport::Maildir(path) => f.debug_tuple("Maildir").field(path).finish(),
        }
    }
}
