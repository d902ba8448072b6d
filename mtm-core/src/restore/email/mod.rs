//! The built-in [`Notifier`]: restore notifications as email.
//!
//! [`EmailNotifier`] renders each [`Notification`] with an [`EmailTemplates`] implementation
//! ([`DefaultTemplates`] unless the provider brings its own), builds an RFC 5322 message
//! (`From`, `To`, `Subject`, `Date`, `Message-ID`, `Auto-Submitted`, and a
//! `multipart/alternative` body with a `text/plain` and a `text/html` part, all UTF-8) and
//! hands it to an [`EmailTransport`]: plain SMTP to a local MTA or relay, or straight into a
//! Maildir.

mod maildir;
mod settings;
mod templates;
#[cfg(test)]
mod tests;
mod transport;
mod wording;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::Transport as _;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{Message, SmtpTransport};

use crate::error::{Error, Result};
use crate::restore::notify::{Notification, Notifier, Recipient};
use crate::restore::tenant::Tenant;
use maildir::deliver_to_maildir;
pub use settings::{AddressLookup, EmailSettings, UserAddress};
pub use templates::{DefaultTemplates, EmailTemplates, RenderedEmail};
pub use transport::EmailTransport;
use transport::{SMTP_TIMEOUT, Transport};
pub use wording::Wording;

const AUTO_SUBMITTED: HeaderName = HeaderName::new_from_ascii_str("Auto-Submitted");
const REQUEST_HEADER: HeaderName = HeaderName::new_from_ascii_str("X-MTM-Request");

/// A [`Notifier`] that sends email.
///
/// ```
/// use mtm_core::*;
/// # let dir = tempfile::tempdir().unwrap();
/// let notifier = EmailNotifier::new(
///     EmailSettings::new("Mail Time Machine <mtm@example.com>", ["ops@example.com"]),
///     EmailTransport::Maildir(dir.path().join("admins")),
/// )?;
///
/// let alice = AccountId::new("alice@example.com")?;
/// let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().to_utc();
/// let request = RestoreRequest::new(
///     RequestId::new(alice.clone(), 1)?,
///     NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
///     RestoreScope::Account,
///     Actor::User(alice),
///     at("2026-11-20T10:00:00Z"),
///     at("2026-11-25T00:00:00Z"),
/// )?;
/// let notification = Notification {
///     kind: NotificationKind::NewRequest,
///     recipient: Recipient::Admins,
///     request,
///     plan: None,
///     result: None,
///     sent_at: at("2026-11-20T10:00:01Z"),
///     tenant: None,
///     language: Language::english(),
///     time_zone: TimeZone::UTC,
/// };
/// notifier.notify(&notification)?;
/// assert_eq!(std::fs::read_dir(dir.path().join("admins/new")).unwrap().count(), 1);
///
/// let eml = String::from_utf8(notifier.compose(&notification)?).unwrap();
/// assert!(eml.contains("To: ops@example.com"));
/// # Ok::<(), mtm_core::Error>(())
/// ```
#[derive(Debug)]
pub struct EmailNotifier {
    from: Mailbox,
    admins: Vec<Mailbox>,
    user_address: UserAddress,
    transport: Transport,
    templates: Arc<dyn EmailTemplates>,
}

impl EmailNotifier {
    /// A notifier with the [`DefaultTemplates`]. Checks the sender and administrator
    /// addresses (and the default domain, if any): a malformed one, or no administrator, is
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput). Nothing is sent or
    /// connected yet.
    ///
    /// ```
    /// use mtm_core::{EmailNotifier, EmailSettings, EmailTransport, ErrorKind};
    /// let smtp = EmailTransport::Smtp { host: "127.0.0.1".into(), port: 25 };
    /// let bad = EmailSettings::new("not an address", ["ops@example.com"]);
    /// let err = EmailNotifier::new(bad, smtp).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn new(settings: EmailSettings, transport: EmailTransport) -> Result<Self> {
        let from = parse_mailbox("sender email address", &settings.from)?;
        if settings.admins.is_empty() {
            return Err(Error::invalid(
                "administrator email addresses",
                "none given: new requests would reach nobody",
            ));
        }
        let admins = settings
            .admins
            .iter()
            .map(|a| parse_mailbox("administrator email address", a))
            .collect::<Result<Vec<_>>>()?;
        if let UserAddress::FromAccount {
            default_domain: Some(domain),
        } = &settings.user_address
        {
            parse_mailbox("default domain", &format!("user@{domain}"))?;
        }
        let transport = match transport {
            EmailTransport::Smtp { host, port } => Transport::Smtp {
                client: SmtpTransport::builder_dangerous(host.as_str())
                    .port(port)
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
                url: format!("smtp://{host}:{port}"),
            },
            EmailTransport::Maildir(path) => Transport::Maildir(path),
        };
        Ok(Self {
            from,
            admins,
            user_address: settings.user_address,
            transport,
            templates: Arc::new(DefaultTemplates::new()),
        })
    }

    /// The same notifier with the provider's own templates.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mtm_core::*;
    /// #[derive(Debug)]
    /// struct Mine;
    /// impl EmailTemplates for Mine {
    ///     fn render(&self, n: &Notification) -> Result<RenderedEmail> {
    ///         DefaultTemplates::new().render(n) // then adjust
    ///     }
    /// }
    /// let notifier = EmailNotifier::new(
    ///     EmailSettings::new("mtm@example.com", ["ops@example.com"]),
    ///     EmailTransport::Smtp { host: "localhost".into(), port: 25 },
    /// )?
    /// .with_templates(Arc::new(Mine));
    /// # let _ = notifier;
    /// # Ok::<(), mtm_core::Error>(())
    /// ```
    pub fn with_templates(mut self, templates: Arc<dyn EmailTemplates>) -> Self {
        self.templates = templates;
        self
    }

    /// The addresses `recipient` resolves to, as they will appear in `To`, for an account
    /// of the provider's own (a tenant's administrators: [`Notification::tenant`]).
    ///
    /// ```
    /// use mtm_core::*;
    /// let notifier = EmailNotifier::new(
    ///     EmailSettings::new("mtm@example.com", ["ops@example.com"])
    ///         .with_default_domain("example.com"),
    ///     EmailTransport::Smtp { host: "localhost".into(), port: 25 },
    /// )?;
    /// let bob = Recipient::User(AccountId::new("bob")?);
    /// assert_eq!(notifier.recipients(&bob)?, ["bob@example.com"]);
    /// assert_eq!(notifier.recipients(&Recipient::Admins)?, ["ops@example.com"]);
    /// # Ok::<(), mtm_core::Error>(())
    /// ```
    pub fn recipients(&self, recipient: &Recipient) -> Result<Vec<String>> {
        Ok(self
            .mailboxes(recipient, None)?
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    /// The whole email for `notification`, as the bytes that would be sent (CRLF line ends),
    /// without sending it: for previews and tests. Each call makes a new `Message-ID`; the
    /// `Date` is the notification's [`sent_at`](Notification::sent_at).
    pub fn compose(&self, notification: &Notification) -> Result<Vec<u8>> {
        Ok(self.message(notification)?.formatted())
    }

    /// Who `recipient` is: for [`Recipient::Admins`], the administrators of `tenant` if it
    /// has any, otherwise the provider's.
    fn mailboxes(&self, recipient: &Recipient, tenant: Option<&Tenant>) -> Result<Vec<Mailbox>> {
        match recipient {
            Recipient::Admins => match tenant {
                Some(tenant) if !tenant.admins.is_empty() => tenant
                    .admins
                    .iter()
                    .map(|a| parse_mailbox("tenant administrator email address", &a.email))
                    .collect(),
                _ => Ok(self.admins.clone()),
            },
            Recipient::User(account) => {
                let address = self.user_address.resolve(account)?;
                Ok(vec![parse_mailbox("user email address", &address)?])
            }
        }
    }

    fn message(&self, notification: &Notification) -> Result<Message> {
        let to = self.mailboxes(&notification.recipient, notification.tenant.as_ref())?;
        let email = self.templates.render(notification)?;
        // One line: a run of control characters (CR, LF, TAB …) becomes one space.
        let subject = email
            .subject
            .split(char::is_control)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .date(SystemTime::from(notification.sent_at))
            .message_id(Some(message_id(&self.from)))
            .raw_header(HeaderValue::new(AUTO_SUBMITTED, "auto-generated".into()))
            .raw_header(HeaderValue::new(
                REQUEST_HEADER,
                notification.request.id.to_string(),
            ));
        for mailbox in to {
            builder = builder.to(mailbox);
        }
        builder
            .multipart(MultiPart::alternative_plain_html(email.text, email.html))
            .map_err(|e| Error::invalid("notification email", e.to_string()))
    }

    fn send(&self, message: &Message) -> Result<()> {
        match &self.transport {
            Transport::Smtp { client, url } => client.send(message).map(drop).map_err(|e| {
                Error::storage(
                    url.as_str(),
                    std::io::Error::other(format!("sending the notification email failed: {e}")),
                )
            }),
            Transport::Maildir(root) => deliver_to_maildir(root, &message.formatted()),
        }
    }
}

impl Notifier for EmailNotifier {
    fn notify(&self, notification: &Notification) -> Result<()> {
        let message = self.message(notification)?;
        self.send(&message)
    }
}

fn parse_mailbox(what: &'static str, text: &str) -> Result<Mailbox> {
    text.trim()
        .parse::<Mailbox>()
        .map_err(|e| Error::invalid(what, format!("{text:?}: {e}")))
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

fn unique() -> (Duration, u64) {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (since, SEQUENCE.fetch_add(1, Ordering::Relaxed))
}

/// `<time.pid.sequence.mtm@sender domain>`: unique without a random source.
fn message_id(from: &Mailbox) -> String {
    let (since, seq) = unique();
    format!(
        "<{}.{:09}.{}.{seq}.mtm@{}>",
        since.as_secs(),
        since.subsec_nanos(),
        std::process::id(),
        from.email.domain()
    )
}
