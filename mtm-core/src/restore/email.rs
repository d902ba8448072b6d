//! The built-in [`Notifier`]: restore notifications as email.
//!
//! [`EmailNotifier`] renders each [`Notification`] with an [`EmailTemplates`] implementation
//! ([`DefaultTemplates`] unless the provider brings its own), builds an RFC 5322 message
//! (`From`, `To`, `Subject`, `Date`, `Message-ID`, `Auto-Submitted`, and a
//! `multipart/alternative` body with a `text/plain` and a `text/html` part, all UTF-8) and
//! hands it to an [`EmailTransport`]: plain SMTP to a local MTA or relay, or straight into a
//! Maildir.

use std::fmt::{self, Debug, Write as _};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use lettre::Transport as _;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{Message, SmtpTransport};

use crate::error::{Error, Result};
use crate::names::AccountId;
use crate::restore::notify::{Notification, NotificationKind, Notifier, Recipient};
use crate::restore::outcome::{RestorePlan, RestoreResult};

/// How long an SMTP conversation may stall before the send fails.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

const AUTO_SUBMITTED: HeaderName = HeaderName::new_from_ascii_str("Auto-Submitted");
const REQUEST_HEADER: HeaderName = HeaderName::new_from_ascii_str("X-MTM-Request");

/// A provider's function from an account to its owner's email address.
pub type AddressLookup = dyn Fn(&AccountId) -> Result<String> + Send + Sync;

/// How the email address of an account's owner is found.
///
/// ```
/// use mtm_core::{AccountId, UserAddress};
/// let default = UserAddress::FromAccount { default_domain: Some("example.com".into()) };
/// let bob = AccountId::new("bob").unwrap();
/// assert_eq!(default.resolve(&bob).unwrap(), "bob@example.com");
/// let alice = AccountId::new("alice@example.org").unwrap();
/// assert_eq!(default.resolve(&alice).unwrap(), "alice@example.org");
///
/// let lookup = UserAddress::lookup(|account: &AccountId| {
///     Ok(format!("{}@mail.example.net", account.as_str().replace('@', ".")))
/// });
/// assert_eq!(lookup.resolve(&alice).unwrap(), "alice.example.org@mail.example.net");
/// ```
#[derive(Clone)]
pub enum UserAddress {
    /// The account id itself when it contains `@`, otherwise `<account>@<default_domain>`.
    /// Without a default domain, an account id without `@` has no address
    /// ([`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)).
    FromAccount {
        /// The domain for account ids without `@` (`example.com`).
        default_domain: Option<String>,
    },
    /// The provider's own lookup (a directory, a database). Build it with
    /// [`UserAddress::lookup`].
    Lookup(Arc<AddressLookup>),
}

impl UserAddress {
    /// A lookup by the provider's own function.
    ///
    /// ```
    /// use mtm_core::{AccountId, UserAddress};
    /// let to_postmaster =
    ///     UserAddress::lookup(|_: &AccountId| Ok("postmaster@example.com".into()));
    /// # let _ = to_postmaster;
    /// ```
    pub fn lookup(f: impl Fn(&AccountId) -> Result<String> + Send + Sync + 'static) -> Self {
        UserAddress::Lookup(Arc::new(f))
    }

    /// The address of `account`'s owner, as text (not yet checked as an address: the
    /// notifier checks it before sending).
    ///
    /// ```
    /// use mtm_core::{AccountId, ErrorKind, UserAddress};
    /// let no_domain = UserAddress::default();
    /// let err = no_domain.resolve(&AccountId::new("bob").unwrap()).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn resolve(&self, account: &AccountId) -> Result<String> {
        match self {
            UserAddress::FromAccount { .. } if account.as_str().contains('@') => {
                Ok(account.as_str().to_owned())
            }
            UserAddress::FromAccount {
                default_domain: Some(domain),
            } => Ok(format!("{account}@{domain}")),
            UserAddress::FromAccount {
                default_domain: None,
            } => Err(Error::invalid(
                "user email address",
                format!("account {account} has no '@' and no default domain is set"),
            )),
            UserAddress::Lookup(f) => f(account),
        }
    }
}

impl Default for UserAddress {
    /// [`UserAddress::FromAccount`] without a default domain.
    fn default() -> Self {
        UserAddress::FromAccount {
            default_domain: None,
        }
    }
}

impl Debug for UserAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserAddress::FromAccount { default_domain } => f
                .debug_struct("FromAccount")
                .field("default_domain", default_domain)
                .finish(),
            UserAddress::Lookup(_) => f.write_str("Lookup(..)"),
        }
    }
}

/// Who the notification emails come from and go to.
///
/// ```
/// use mtm_core::EmailSettings;
/// let settings = EmailSettings::new(
///     "Mail Time Machine <mtm@example.com>",
///     ["ops@example.com", "Jane Admin <jane@example.com>"],
/// )
/// .with_default_domain("example.com");
/// assert_eq!(settings.admins.len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// The sender: `mtm@example.com` or `Mail Time Machine <mtm@example.com>`.
    pub from: String,
    /// The administrators' addresses (each may carry a display name); at least one.
    pub admins: Vec<String>,
    /// How to find a user's address from their account id.
    pub user_address: UserAddress,
}

impl EmailSettings {
    /// Settings with users' addresses taken from their account ids
    /// ([`UserAddress::default`]). The addresses are checked by [`EmailNotifier::new`].
    pub fn new(
        from: impl Into<String>,
        admins: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            from: from.into(),
            admins: admins.into_iter().map(Into::into).collect(),
            user_address: UserAddress::default(),
        }
    }

    /// Account ids without `@` get `@<domain>` appended to form the user's address.
    ///
    /// ```
    /// use mtm_core::{EmailSettings, UserAddress};
    /// let s = EmailSettings::new("mtm@example.com", ["ops@example.com"])
    ///     .with_default_domain("example.com");
    /// assert!(matches!(s.user_address, UserAddress::FromAccount { default_domain: Some(_) }));
    /// ```
    pub fn with_default_domain(mut self, domain: impl Into<String>) -> Self {
        self.user_address = UserAddress::FromAccount {
            default_domain: Some(domain.into()),
        };
        self
    }

    /// Users' addresses found by `user_address`.
    ///
    /// ```
    /// use mtm_core::{AccountId, EmailSettings, UserAddress};
    /// let s = EmailSettings::new("mtm@example.com", ["ops@example.com"])
    ///     .with_user_address(UserAddress::lookup(|a: &AccountId| {
    ///         Ok(format!("{a}@users.example.com"))
    ///     }));
    /// # let _ = s;
    /// ```
    pub fn with_user_address(mut self, user_address: UserAddress) -> Self {
        self.user_address = user_address;
        self
    }
}

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

/// The three texts of one email, as a template renders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// The subject line (one line: each run of control characters becomes a space when sent).
    pub subject: String,
    /// The `text/plain` part.
    pub text: String,
    /// The `text/html` part: a whole HTML document, with every user-controlled text escaped.
    pub html: String,
}

/// Turns a notification into an email's subject, text and HTML. Implement it to word the
/// emails your way (your brand, your language) and pass it to
/// [`EmailNotifier::with_templates`].
///
/// ```
/// use mtm_core::{EmailTemplates, Notification, RenderedEmail, Result};
///
/// #[derive(Debug)]
/// struct Terse;
///
/// impl EmailTemplates for Terse {
///     fn render(&self, n: &Notification) -> Result<RenderedEmail> {
///         let line = format!("Restore {}: {:?}", n.request.id, n.kind);
///         let html = format!("<p>{line}</p>"); // nothing user-controlled in `line`
///         Ok(RenderedEmail { subject: line.clone(), text: line, html })
///     }
/// }
/// ```
pub trait EmailTemplates: Send + Sync + Debug {
    /// The email for `notification`. HTML must escape every text that users or
    /// administrators control (reasons, folder names).
    fn render(&self, notification: &Notification) -> Result<RenderedEmail>;
}

/// The built-in wording, in English: see [`EmailTemplates`].
///
/// - New request (administrators): account, day, scope, who asked and when, the deadline,
///   and the plan per folder with totals.
/// - Completed (user): messages and bytes restored, folders recreated and resubscribed,
///   what was already there, warnings.
/// - Failed: the reason. Rejected: the administrator's reason. Expired: the deadline passed.
///
/// ```
/// use mtm_core::{DefaultTemplates, EmailTemplates};
/// let templates = DefaultTemplates::new();
/// # let _: &dyn EmailTemplates = &templates;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultTemplates;

impl DefaultTemplates {
    /// The built-in templates.
    pub fn new() -> Self {
        Self
    }
}

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

enum Transport {
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
            templates: Arc::new(DefaultTemplates),
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
    ///         DefaultTemplates.render(n) // then adjust
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

    /// The addresses `recipient` resolves to, as they will appear in `To`.
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
            .mailboxes(recipient)?
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    /// The whole email for `notification`, as the bytes that would be sent (CRLF line ends),
    /// without sending it: for previews and tests. Each call makes a new `Message-ID` and
    /// `Date`.
    pub fn compose(&self, notification: &Notification) -> Result<Vec<u8>> {
        Ok(self.message(notification)?.formatted())
    }

    fn mailboxes(&self, recipient: &Recipient) -> Result<Vec<Mailbox>> {
        match recipient {
            Recipient::Admins => Ok(self.admins.clone()),
            Recipient::User(account) => {
                let address = self.user_address.resolve(account)?;
                Ok(vec![parse_mailbox("user email address", &address)?])
            }
        }
    }

    fn message(&self, notification: &Notification) -> Result<Message> {
        let to = self.mailboxes(&notification.recipient)?;
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
fn deliver_to_maildir(root: &Path, bytes: &[u8]) -> Result<()> {
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

// ---------------------------------------------------------------------------------------
// The default templates.

impl EmailTemplates for DefaultTemplates {
    fn render(&self, n: &Notification) -> Result<RenderedEmail> {
        let r = &n.request;
        let mut doc = Doc::default();
        let subject = match n.kind {
            NotificationKind::NewRequest => {
                doc.para(&format!(
                    "A restore of {} was requested and waits for your decision.",
                    r.id.account()
                ));
                doc.strong(&format!(
                    "Decide before {}: after that the snapshot of {} leaves retention and the \
                     request expires.",
                    when(r.deadline),
                    r.day
                ));
                doc.facts(&[
                    ("Request", r.id.to_string()),
                    ("Account", r.id.account().to_string()),
                    ("Snapshot day", r.day.to_string()),
                    ("Scope", r.scope.to_string()),
                    ("Requested by", r.requested_by.to_string()),
                    ("Requested at", when(r.requested_at)),
                    ("Deadline", when(r.deadline)),
                ]);
                match &n.plan {
                    Some(plan) => plan_section(&mut doc, plan),
                    None => doc.para("No restore plan came with this request."),
                }
                format!(
                    "Restore request for {} (snapshot of {}): decide before {}",
                    r.id.account(),
                    r.day,
                    when(r.deadline)
                )
            }
            NotificationKind::Completed => {
                doc.para(&format!(
                    "Your restore of {} from the snapshot of {} is complete.",
                    r.scope, r.day
                ));
                match &n.result {
                    Some(result) => result_section(&mut doc, result),
                    None => doc.para("No details of the run are available."),
                }
                format!("Your mailbox restore from {} is complete", r.day)
            }
            NotificationKind::Failed => {
                doc.para(&format!(
                    "Your restore of {} from the snapshot of {} failed.",
                    r.scope, r.day
                ));
                doc.facts(&[
                    ("Reason", reason(r.reason.as_deref())),
                    ("Request", r.id.to_string()),
                ]);
                if let Some(result) = &n.result {
                    doc.para("Before it stopped, the restore did this:");
                    result_section(&mut doc, result);
                }
                doc.para("Your administrators have been told; you may ask again later.");
                format!("Your mailbox restore from {} failed", r.day)
            }
            NotificationKind::Rejected => {
                doc.para(&format!(
                    "Your request to restore {} from the snapshot of {} was rejected by an \
                     administrator.",
                    r.scope, r.day
                ));
                doc.facts(&[
                    ("Reason", reason(r.reason.as_deref())),
                    ("Request", r.id.to_string()),
                    ("Requested at", when(r.requested_at)),
                ]);
                format!("Your mailbox restore request for {} was rejected", r.day)
            }
            NotificationKind::Expired => {
                doc.para(&format!(
                    "Your request to restore {} from the snapshot of {} expired: nobody \
                     decided on it before {}, when that snapshot left retention.",
                    r.scope,
                    r.day,
                    when(r.deadline)
                ));
                doc.facts(&[
                    ("Request", r.id.to_string()),
                    ("Requested at", when(r.requested_at)),
                    ("Deadline", when(r.deadline)),
                ]);
                doc.para("You may ask for a restore from a later day that is still kept.");
                format!("Your mailbox restore request for {} expired", r.day)
            }
        };
        Ok(doc.finish(subject))
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn reason(reason: Option<&str>) -> String {
    match reason {
        Some(r) if !r.trim().is_empty() => r.to_owned(),
        _ => "(no reason was given)".to_owned(),
    }
}

fn plan_section(doc: &mut Doc, plan: &RestorePlan) {
    if plan.folders.is_empty() {
        doc.para("The plan covers no folder: there is nothing to restore.");
        return;
    }
    let rows: Vec<Vec<String>> = plan
        .folders
        .iter()
        .map(|f| {
            let mut notes = Vec::new();
            if f.recreate {
                notes.push("recreate folder");
            }
            if f.resubscribe {
                notes.push("resubscribe");
            }
            vec![
                f.folder.to_string(),
                f.to_restore.to_string(),
                human_bytes(f.bytes_to_restore),
                f.already_present.to_string(),
                notes.join(", "),
            ]
        })
        .chain(std::iter::once(vec![
            "Total".to_owned(),
            plan.messages.to_string(),
            human_bytes(plan.bytes),
            plan.already_present.to_string(),
            String::new(),
        ]))
        .collect();
    doc.heading("What the restore would write back");
    doc.table(
        &[
            "Folder",
            "Messages to restore",
            "Size",
            "Already present",
            "Notes",
        ],
        &rows,
    );
    let recreate = plan.folders_to_recreate();
    let recreate = if recreate.is_empty() {
        "none".to_owned()
    } else {
        list(recreate.iter().map(|f| f.as_str()))
    };
    doc.facts(&[
        (
            "Total",
            format!(
                "{} messages ({}) to restore, {} already present",
                plan.messages,
                human_bytes(plan.bytes),
                plan.already_present
            ),
        ),
        ("Folders to recreate", recreate),
    ]);
}

fn result_section(doc: &mut Doc, result: &RestoreResult) {
    let folders = |names: &[crate::names::FolderName]| {
        if names.is_empty() {
            "none".to_owned()
        } else {
            list(names.iter().map(|f| f.as_str()))
        }
    };
    doc.facts(&[
        (
            "Messages restored",
            format!(
                "{} ({})",
                result.messages_restored,
                human_bytes(result.bytes_restored)
            ),
        ),
        (
            "Already in your mailbox",
            format!("{} messages, left alone", result.already_present),
        ),
        ("Folders recreated", folders(&result.folders_recreated)),
        (
            "Folders subscribed again",
            folders(&result.folders_resubscribed),
        ),
    ]);
    if !result.warnings.is_empty() {
        doc.heading("Warnings");
        doc.bullets(&result.warnings);
    }
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// Sizes for people: `0 bytes`, `1 byte`, `980 bytes`, `1.5 KB`, `12 MB`, `3.4 GB` (powers of
/// 1024, one decimal below 10).
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KB", "MB", "GB", "TB", "PB", "EB"];
    if bytes == 1 {
        return "1 byte".to_owned();
    }
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    // Precision loss above 2^53 bytes does not matter for a display value.
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 9.95 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// Escapes text for HTML element content and double-quoted attribute values.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// One email body written twice at once: plain text and HTML. Every text given to it is
/// escaped for the HTML side here, so templates cannot forget to.
#[derive(Default)]
struct Doc {
    text: String,
    html: String,
}

impl Doc {
    fn para(&mut self, line: &str) {
        let _ = writeln!(self.text, "{line}\n");
        let _ = writeln!(self.html, "<p>{}</p>", escape_html(line));
    }

    fn strong(&mut self, line: &str) {
        let _ = writeln!(self.text, ">>> {line}\n");
        let _ = writeln!(
            self.html,
            "<p style=\"font-size:1.2em;font-weight:bold;color:#b00020\">{}</p>",
            escape_html(line)
        );
    }

    fn heading(&mut self, line: &str) {
        let _ = writeln!(self.text, "{line}\n{}", "-".repeat(line.chars().count()));
        let _ = writeln!(self.html, "<h3>{}</h3>", escape_html(line));
    }

    fn facts(&mut self, facts: &[(&str, String)]) {
        let width = facts
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        self.html.push_str("<table>\n");
        for (key, value) in facts {
            let _ = writeln!(
                self.text,
                "{:<width$}  {value}",
                format!("{key}:"),
                width = width + 1
            );
            let _ = writeln!(
                self.html,
                "<tr><th style=\"text-align:left;padding-right:1em\">{}</th><td>{}</td></tr>",
                escape_html(key),
                escape_html(value)
            );
        }
        self.text.push('\n');
        self.html.push_str("</table>\n");
    }

    fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let padded: Vec<String> = cells
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}", w = *w))
                .collect();
            padded.join("  ").trim_end().to_owned()
        };
        let _ = writeln!(self.text, "{}", line(&mut header.iter().copied()));
        for row in rows {
            let _ = writeln!(self.text, "{}", line(&mut row.iter().map(String::as_str)));
        }
        self.text.push('\n');

        self.html.push_str(
            "<table style=\"border-collapse:collapse\" border=\"1\" cellpadding=\"4\">\n<tr>",
        );
        for h in header {
            let _ = write!(self.html, "<th>{}</th>", escape_html(h));
        }
        self.html.push_str("</tr>\n");
        for row in rows {
            self.html.push_str("<tr>");
            for cell in row {
                let _ = write!(self.html, "<td>{}</td>", escape_html(cell));
            }
            self.html.push_str("</tr>\n");
        }
        self.html.push_str("</table>\n");
    }

    fn bullets(&mut self, items: &[String]) {
        self.html.push_str("<ul>\n");
        for item in items {
            let _ = writeln!(self.text, "- {item}");
            let _ = writeln!(self.html, "<li>{}</li>", escape_html(item));
        }
        self.text.push('\n');
        self.html.push_str("</ul>\n");
    }

    fn finish(self, subject: String) -> RenderedEmail {
        let html = format!(
            "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n</head>\n\
             <body style=\"font-family:sans-serif\">\n{}<p style=\"color:#666\">Mail Time Machine</p>\n\
             </body>\n</html>\n",
            escape_html(&subject),
            self.html
        );
        let text = format!("{}-- \nMail Time Machine\n", self.text);
        RenderedEmail {
            subject,
            text,
            html,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::ErrorKind;
    use crate::names::FolderName;
    use crate::restore::outcome::FolderPlan;
    use crate::restore::request::{Action, Actor, RequestId, RestoreRequest, RestoreScope};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn alice() -> AccountId {
        AccountId::new("alice@example.com").unwrap()
    }

    fn request() -> RestoreRequest {
        RestoreRequest::new(
            RequestId::new(alice(), 7).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
            RestoreScope::Account,
            Actor::User(alice()),
            at("2026-11-20T10:15:00Z"),
            at("2026-11-25T00:00:00Z"),
        )
        .unwrap()
    }

    fn folder(name: &str) -> FolderName {
        FolderName::new(name).unwrap()
    }

    fn plan() -> RestorePlan {
        RestorePlan {
            account: alice(),
            day: NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
            scope: RestoreScope::Account,
            folders: vec![
                FolderPlan {
                    folder: FolderName::inbox(),
                    in_snapshot: 40,
                    to_restore: 12,
                    bytes_to_restore: 1_572_864,
                    already_present: 28,
                    recreate: false,
                    resubscribe: false,
                },
                FolderPlan {
                    folder: folder("Archive/<b>2024</b>"),
                    in_snapshot: 3,
                    to_restore: 3,
                    bytes_to_restore: 2_097_152,
                    already_present: 0,
                    recreate: true,
                    resubscribe: true,
                },
            ],
            messages: 15,
            bytes: 3_670_016,
            already_present: 28,
        }
    }

    fn notification(kind: NotificationKind) -> Notification {
        let admin = Actor::admin("root").unwrap();
        let now = at("2026-11-21T09:00:00Z");
        let mut req = request();
        let mut plan_ = None;
        let mut result = None;
        let recipient = match kind {
            NotificationKind::NewRequest => {
                plan_ = Some(plan());
                Recipient::Admins
            }
            _ => Recipient::User(alice()),
        };
        match kind {
            NotificationKind::NewRequest => {}
            NotificationKind::Completed | NotificationKind::Failed => {
                req = req.apply(&Action::Approve, &admin, now).unwrap();
                req = req.apply(&Action::Start, &admin, now).unwrap();
                if kind == NotificationKind::Completed {
                    req = req.apply(&Action::Complete, &admin, now).unwrap();
                    result = Some(RestoreResult {
                        messages_restored: 15,
                        bytes_restored: 2_621_440,
                        already_present: 28,
                        folders_recreated: vec![folder("Archive/Reisen & Ärger")],
                        folders_resubscribed: vec![folder("Projects")],
                        warnings: vec!["keyword $Urgent had no free letter".into()],
                    });
                } else {
                    let reason = Action::Fail {
                        reason: "disk full on /srv/mail".into(),
                    };
                    req = req.apply(&reason, &admin, now).unwrap();
                }
            }
            NotificationKind::Rejected => {
                let reason = Action::Reject {
                    reason: "<script>alert('x')</script> & no such day".into(),
                };
                req = req.apply(&reason, &admin, now).unwrap();
            }
            NotificationKind::Expired => {
                req = req
                    .apply(&Action::Expire, &Actor::System, at("2026-11-25T00:00:00Z"))
                    .unwrap();
            }
        }
        Notification {
            kind,
            recipient,
            request: req,
            plan: plan_,
            result,
        }
    }

    fn render(kind: NotificationKind) -> RenderedEmail {
        DefaultTemplates.render(&notification(kind)).unwrap()
    }

    /// Asserts that `needle` appears in the text part and, escaped, in the HTML part.
    fn in_both(email: &RenderedEmail, needle: &str) {
        assert!(
            email.text.contains(needle),
            "text lacks {needle:?}:\n{}",
            email.text
        );
        let escaped = escape_html(needle);
        assert!(
            email.html.contains(&escaped),
            "html lacks {escaped:?}:\n{}",
            email.html
        );
    }

    #[test]
    fn new_request_shows_the_request_the_deadline_and_the_plan() {
        let email = render(NotificationKind::NewRequest);
        assert!(
            email.subject.contains("alice@example.com"),
            "{}",
            email.subject
        );
        assert!(
            email.subject.contains("2026-11-25 00:00 UTC"),
            "{}",
            email.subject
        );
        for fact in [
            "alice@example.com/7",
            "2026-11-10",
            "the whole account",
            "user alice@example.com",
            "2026-11-20 10:15 UTC",
            "Decide before 2026-11-25 00:00 UTC",
            "INBOX",
            "Archive/<b>2024</b>",
            "1.5 MB",
            "2.0 MB",
            "15 messages (3.5 MB) to restore, 28 already present",
            "recreate folder, resubscribe",
        ] {
            in_both(&email, fact);
        }
        // The deadline is prominent: its own bold paragraph, the first one after the intro.
        let bold = email.html.find("font-weight:bold").unwrap();
        let deadline = email.html.find("Decide before").unwrap();
        assert!(bold < deadline && deadline < email.html.find("<table").unwrap());
        assert!(email.text.contains(">>> Decide before"));
        // Per-folder numbers line up with their folder in the text table.
        let inbox_row = email.text.lines().find(|l| l.starts_with("INBOX")).unwrap();
        let cells: Vec<&str> = inbox_row.split_whitespace().collect();
        assert_eq!(cells, ["INBOX", "12", "1.5", "MB", "28"]);
        let total = email
            .text
            .lines()
            .find(|l| l.starts_with("Total "))
            .unwrap();
        assert!(total.contains("15") && total.contains("3.5 MB") && total.contains("28"));
        assert!(
            email
                .text
                .contains("Folders to recreate:  Archive/<b>2024</b>")
        );
    }

    #[test]
    fn new_request_without_a_plan_says_so() {
        let mut n = notification(NotificationKind::NewRequest);
        n.plan = None;
        let email = DefaultTemplates.render(&n).unwrap();
        in_both(&email, "No restore plan came with this request.");
        in_both(&email, "Decide before 2026-11-25 00:00 UTC");
    }

    #[test]
    fn completed_shows_what_came_back() {
        let email = render(NotificationKind::Completed);
        assert_eq!(
            email.subject,
            "Your mailbox restore from 2026-11-10 is complete"
        );
        for fact in [
            "is complete",
            "15 (2.5 MB)",
            "28 messages, left alone",
            "Archive/Reisen & Ärger",
            "Projects",
            "keyword $Urgent had no free letter",
        ] {
            in_both(&email, fact);
        }
        assert!(email.html.contains("Archive/Reisen &amp; Ärger"));
    }

    #[test]
    fn failed_shows_the_reason() {
        let email = render(NotificationKind::Failed);
        assert!(email.subject.contains("failed"), "{}", email.subject);
        in_both(&email, "disk full on /srv/mail");
        in_both(&email, "alice@example.com/7");
    }

    #[test]
    fn rejected_shows_the_admins_reason_escaped_in_html() {
        let email = render(NotificationKind::Rejected);
        assert!(email.subject.contains("rejected"), "{}", email.subject);
        assert!(
            email
                .text
                .contains("<script>alert('x')</script> & no such day")
        );
        assert!(!email.html.contains("<script"), "{}", email.html);
        assert!(
            email
                .html
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; no such day")
        );
        assert!(
            !email.html.contains("root"),
            "the admin's name is not shown to users"
        );
    }

    #[test]
    fn expired_says_the_deadline_passed() {
        let email = render(NotificationKind::Expired);
        assert!(email.subject.contains("expired"), "{}", email.subject);
        in_both(&email, "nobody decided on it before 2026-11-25 00:00 UTC");
        in_both(&email, "2026-11-10");
    }

    #[test]
    fn every_kind_renders_a_whole_html_document() {
        for kind in [
            NotificationKind::NewRequest,
            NotificationKind::Completed,
            NotificationKind::Failed,
            NotificationKind::Rejected,
            NotificationKind::Expired,
        ] {
            let email = render(kind);
            assert!(email.html.starts_with("<!DOCTYPE html>"), "{kind:?}");
            assert!(email.html.contains("<meta charset=\"utf-8\">"), "{kind:?}");
            assert!(email.html.trim_end().ends_with("</html>"), "{kind:?}");
            assert!(!email.subject.is_empty() && !email.subject.contains('\n'));
            // No raw '<' from data: every tag is one the template wrote.
            for tag in email.html.split('<').skip(1) {
                let name: String = tag.chars().take_while(|c| *c != '>' && *c != ' ').collect();
                assert!(
                    [
                        "!DOCTYPE", "html", "/html", "head", "/head", "meta", "title", "/title",
                        "body", "/body", "p", "/p", "h3", "/h3", "table", "/table", "tr", "/tr",
                        "th", "/th", "td", "/td", "ul", "/ul", "li", "/li"
                    ]
                    .contains(&name.as_str()),
                    "{kind:?}: unexpected tag {name:?}"
                );
            }
        }
    }

    #[test]
    fn byte_sizes_are_for_people() {
        let cases = [
            (0, "0 bytes"),
            (1, "1 byte"),
            (1023, "1023 bytes"),
            (1024, "1.0 KB"),
            (1536, "1.5 KB"),
            (10 * 1024, "10 KB"),
            (1024 * 1024 - 1, "1.0 MB"),
            (5 * 1024 * 1024 * 1024, "5.0 GB"),
            (u64::MAX, "16 EB"),
        ];
        for (bytes, want) in cases {
            assert_eq!(human_bytes(bytes), want, "{bytes}");
        }
    }

    #[test]
    fn user_addresses_come_from_the_account_or_the_default_domain() {
        let with_domain = UserAddress::FromAccount {
            default_domain: Some("example.org".into()),
        };
        let bob = AccountId::new("bob").unwrap();
        assert_eq!(with_domain.resolve(&bob).unwrap(), "bob@example.org");
        assert_eq!(with_domain.resolve(&alice()).unwrap(), "alice@example.com");
        let err = UserAddress::default().resolve(&bob).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    fn notifier(settings: EmailSettings) -> Result<EmailNotifier> {
        EmailNotifier::new(
            settings,
            EmailTransport::Smtp {
                host: "127.0.0.1".into(),
                port: 9,
            },
        )
    }

    #[test]
    fn unusable_addresses_are_invalid_input() {
        let ok_admins = ["ops@example.com"];
        let cases = [
            EmailSettings::new("no at sign", ok_admins),
            EmailSettings::new("mtm@example.com", ["ops@@example.com"]),
            EmailSettings::new("mtm@example.com", Vec::<String>::new()),
            EmailSettings::new("mtm@example.com", ok_admins).with_default_domain("bad domain"),
        ];
        for settings in cases {
            let err = notifier(settings.clone()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{settings:?}: {err}");
        }
        // A lookup that yields garbage fails when the user is to be emailed.
        let n = notifier(
            EmailSettings::new("mtm@example.com", ok_admins)
                .with_user_address(UserAddress::lookup(|_| Ok("nobody here".into()))),
        )
        .unwrap();
        let err = n
            .notify(&notification(NotificationKind::Completed))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        // So does an account without '@' and no default domain.
        let n = notifier(EmailSettings::new("mtm@example.com", ok_admins)).unwrap();
        let err = n
            .recipients(&Recipient::User(AccountId::new("bob").unwrap()))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn composed_email_is_rfc5322_multipart_alternative_with_encoded_utf8() {
        use mail_parser::MimeHeaders;
        #[derive(Debug)]
        struct Umlauts;
        impl EmailTemplates for Umlauts {
            fn render(&self, n: &Notification) -> Result<RenderedEmail> {
                let mut email = DefaultTemplates.render(n)?;
                email.subject =
                    "Wiederherstellung für Jürgen ✓\r\nBcc: evil@example.com".to_owned();
                Ok(email)
            }
        }
        let n = notifier(
            EmailSettings::new(
                "Mail Zeitmaschine <mtm@example.com>",
                ["ops@example.com", "Jane <jane@example.com>"],
            )
            .with_default_domain("example.com"),
        )
        .unwrap()
        .with_templates(Arc::new(Umlauts));
        let raw = n
            .compose(&notification(NotificationKind::NewRequest))
            .unwrap();
        let head = String::from_utf8(raw.clone()).unwrap();
        let head = &head[..head.find("\r\n\r\n").unwrap()];
        assert!(head.is_ascii(), "headers must be 7-bit: {head}");
        assert!(!head.contains("\nBcc:"), "{head}");

        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            parsed.subject(),
            Some("Wiederherstellung für Jürgen ✓ Bcc: evil@example.com")
        );
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Mail Zeitmaschine"));
        assert_eq!(from.address(), Some("mtm@example.com"));
        let to: Vec<_> = parsed
            .to()
            .unwrap()
            .iter()
            .map(|a| a.address().unwrap())
            .collect();
        assert_eq!(to, ["ops@example.com", "jane@example.com"]);
        assert!(parsed.date().is_some());
        let id = parsed.message_id().unwrap();
        assert!(id.ends_with("@example.com"), "{id}");
        assert_eq!(
            parsed.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-generated")
        );
        assert_eq!(
            parsed.header_raw("X-MTM-Request").map(str::trim),
            Some("alice@example.com/7")
        );
        let ct = parsed.content_type().unwrap();
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("multipart", Some("alternative"))
        );
        assert!(parsed.body_text(0).unwrap().contains("Decide before"));
        assert!(parsed.body_html(0).unwrap().contains("<table"));
        // Two composes, two ids.
        let again = n
            .compose(&notification(NotificationKind::NewRequest))
            .unwrap();
        let again = mail_parser::MessageParser::default().parse(&again).unwrap();
        assert_ne!(again.message_id(), Some(id));
    }
}
