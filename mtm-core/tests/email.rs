//! The email notifier end to end: real SMTP to a local `aiosmtpd`, and Maildir delivery.
//!
//! The SMTP tests need Python with `aiosmtpd`. They use `$MTM_TEST_PYTHON` when set (as
//! `scripts/test-all.sh` does, with a venv at `target/py-tools`), else that venv when it
//! exists, else `python3`. Without `aiosmtpd` they print a notice and pass, unless
//! `MTM_TEST_REQUIRE_SMTP=1` (set by `scripts/test-all.sh`): then they fail.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use mtm_core::*;

// ---------------------------------------------------------------------------------------
// Fixtures.

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn account(id: &str) -> AccountId {
    AccountId::new(id).unwrap()
}

fn folder(name: &str) -> FolderName {
    FolderName::new(name).unwrap()
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 10).unwrap()
}

/// A notification of `kind` for `owner`, with the request moved through the state machine
/// the way the orchestration would.
fn notification(kind: NotificationKind, owner: &str) -> Notification {
    let owner = account(owner);
    let admin = Actor::admin("root").unwrap();
    let now = at("2026-11-21T09:00:00Z");
    let mut request = RestoreRequest::new(
        RequestId::new(owner.clone(), 3).unwrap(),
        day(),
        RestoreScope::Folders {
            folders: vec![FolderName::inbox(), folder("Reisen/Ägypten")],
        },
        Actor::User(owner.clone()),
        at("2026-11-20T10:15:00Z"),
        at("2026-11-25T00:00:00Z"),
    )
    .unwrap();
    let mut plan = None;
    let mut result = None;
    match kind {
        NotificationKind::NewRequest => {
            plan = Some(RestorePlan {
                account: owner.clone(),
                day: day(),
                scope: request.scope.clone(),
                folders: vec![
                    FolderPlan {
                        folder: FolderName::inbox(),
                        in_snapshot: 30,
                        to_restore: 9,
                        bytes_to_restore: 9 * 1024,
                        already_present: 21,
                        recreate: false,
                        resubscribe: false,
                    },
                    FolderPlan {
                        folder: folder("Reisen/Ägypten"),
                        in_snapshot: 4,
                        to_restore: 4,
                        bytes_to_restore: 3 * 1024 * 1024,
                        already_present: 0,
                        recreate: true,
                        resubscribe: false,
                    },
                ],
                messages: 13,
                bytes: 9 * 1024 + 3 * 1024 * 1024,
                already_present: 21,
            });
        }
        NotificationKind::Completed | NotificationKind::Failed => {
            request = request.apply(&Action::Approve, &admin, now).unwrap();
            request = request.apply(&Action::Start, &admin, now).unwrap();
            if kind == NotificationKind::Completed {
                request = request.apply(&Action::Complete, &admin, now).unwrap();
                result = Some(RestoreResult {
                    messages_restored: 13,
                    bytes_restored: 3 * 1024 * 1024 + 9 * 1024,
                    already_present: 21,
                    folders_recreated: vec![folder("Reisen/Ägypten")],
                    folders_resubscribed: vec![],
                    warnings: vec![],
                });
            } else {
                let fail = Action::GiveUp {
                    reason: "the live Maildir is read-only".into(),
                };
                request = request.apply(&fail, &admin, now).unwrap();
            }
        }
        NotificationKind::Rejected => {
            let reject = Action::Reject {
                reason: "<script>alert(1)</script> that day was already restored".into(),
            };
            request = request.apply(&reject, &admin, now).unwrap();
        }
        NotificationKind::Expired => {
            request = request
                .apply(&Action::Expire, &Actor::System, at("2026-11-25T00:00:00Z"))
                .unwrap();
        }
    }
    let recipient = match kind {
        NotificationKind::NewRequest => Recipient::Admins,
        _ => Recipient::User(owner),
    };
    Notification {
        kind,
        recipient,
        request,
        plan,
        result,
        sent_at: at("2026-11-21T09:00:00Z"),
        tenant: None,
        language: Language::english(),
        time_zone: TimeZone::UTC,
    }
}

fn settings() -> EmailSettings {
    EmailSettings::new(
        "Mail Time Machine <mtm@example.com>",
        ["ops@example.com", "Jürgen Admin <juergen@example.com>"],
    )
    .with_default_domain("example.org")
}

/// What every kind's email must say, and to whom it goes.
struct Expect {
    kind: NotificationKind,
    owner: &'static str,
    to: &'static [&'static str],
    subject: &'static str,
    facts: &'static [&'static str],
}

const EXPECTED: &[Expect] = &[
    Expect {
        kind: NotificationKind::NewRequest,
        owner: "alice@example.com",
        to: &["ops@example.com", "juergen@example.com"],
        subject: "decide before 2026-11-25 00:00 UTC",
        facts: &[
            "alice@example.com/3",
            "2026-11-10",
            "folders INBOX, Reisen/Ägypten",
            "user alice@example.com",
            "2026-11-20 10:15 UTC",
            "Decide before 2026-11-25 00:00 UTC",
            "3.0 MB",
            "9.0 KB",
            "13 messages (3.0 MB) to restore, 21 already present",
            "recreate folder",
        ],
    },
    Expect {
        kind: NotificationKind::Completed,
        owner: "alice@example.com",
        to: &["alice@example.com"],
        subject: "is complete",
        facts: &["13 (3.0 MB)", "21 messages, left alone", "Reisen/Ägypten"],
    },
    Expect {
        kind: NotificationKind::Failed,
        owner: "bob",
        to: &["bob@example.org"],
        subject: "failed",
        facts: &["the live Maildir is read-only", "bob/3"],
    },
    Expect {
        kind: NotificationKind::Rejected,
        owner: "alice@example.com",
        to: &["alice@example.com"],
        subject: "rejected",
        facts: &["that day was already restored"],
    },
    Expect {
        kind: NotificationKind::Expired,
        owner: "alice@example.com",
        to: &["alice@example.com"],
        subject: "expired",
        facts: &["nobody decided on it before 2026-11-25 00:00 UTC"],
    },
];

/// Checks one received email against what its kind must say.
fn check_email(raw: &[u8], expect: &Expect) {
    let kind = expect.kind;
    let msg = MessageParser::default().parse(raw).unwrap();
    let from = msg.from().unwrap().first().unwrap();
    assert_eq!(from.address(), Some("mtm@example.com"), "{kind:?}");
    assert_eq!(from.name(), Some("Mail Time Machine"), "{kind:?}");
    let to: Vec<&str> = msg
        .to()
        .unwrap()
        .iter()
        .map(|a| a.address().unwrap())
        .collect();
    assert_eq!(to, expect.to, "{kind:?}");
    let subject = msg.subject().unwrap();
    assert!(
        subject.contains(expect.subject),
        "{kind:?}: subject {subject:?}"
    );
    assert!(msg.date().is_some(), "{kind:?}: no Date");
    assert!(msg.message_id().is_some(), "{kind:?}: no Message-ID");

    let ct = msg.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative")),
        "{kind:?}"
    );
    let (text, html) = alternative_parts(&msg);
    for fact in expect.facts {
        assert!(
            text.contains(fact),
            "{kind:?}: text lacks {fact:?}:\n{text}"
        );
        let escaped = fact.replace('&', "&amp;").replace('<', "&lt;");
        assert!(
            html.contains(&escaped),
            "{kind:?}: html lacks {escaped:?}:\n{html}"
        );
    }
    if kind == NotificationKind::Rejected {
        assert!(text.contains("<script>alert(1)</script>"), "{text}");
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
    }
}

/// The text/plain and text/html children of the root multipart/alternative, decoded.
fn alternative_parts(msg: &Message<'_>) -> (String, String) {
    let root = &msg.parts[0];
    let PartType::Multipart(children) = &root.body else {
        panic!("root is not multipart: {:?}", root.body)
    };
    assert_eq!(children.len(), 2, "text and html");
    let mut text = None;
    let mut html = None;
    for &child in children {
        let part = &msg.parts[child as usize];
        let ct = part.content_type().unwrap();
        assert_eq!(ct.ctype(), "text");
        assert_eq!(
            ct.attribute("charset")
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("utf-8")
        );
        match (ct.subtype(), &part.body) {
            (Some("plain"), PartType::Text(t)) => text = Some(t.to_string()),
            (Some("html"), PartType::Html(h)) => html = Some(h.to_string()),
            other => panic!("unexpected part {other:?}"),
        }
    }
    (text.unwrap(), html.unwrap())
}

/// The files of a Maildir's `new/`, oldest first by name.
fn new_files(maildir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

// ---------------------------------------------------------------------------------------
// The SMTP sink: aiosmtpd writing each message into a Maildir.

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("MTM_TEST_PYTHON") {
        return p.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/py-tools/bin/python");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

/// Python with aiosmtpd's Maildir handler, or `None` with a notice (a failure when
/// `MTM_TEST_REQUIRE_SMTP=1`).
fn aiosmtpd_python() -> Option<PathBuf> {
    let python = python();
    let ok = Command::new(&python)
        .args(["-c", "import aiosmtpd.handlers; aiosmtpd.handlers.Mailbox"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    let why = format!(
        "{} has no aiosmtpd (run scripts/test-all.sh, or set MTM_TEST_PYTHON)",
        python.display()
    );
    if std::env::var("MTM_TEST_REQUIRE_SMTP").as_deref() == Ok("1") {
        panic!("MTM_TEST_REQUIRE_SMTP=1 but {why}");
    }
    eprintln!("NOTICE: skipping the SMTP test: {why}");
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running aiosmtpd; killed when dropped.
struct SmtpSink {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl SmtpSink {
    fn start(python: &Path, maildir: PathBuf) -> Self {
        let port = free_port();
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut sink = SmtpSink {
            child,
            port,
            maildir,
        };
        let start = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return sink;
            }
            if let Some(status) = sink.child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut stderr) = sink.child.stderr.take() {
                    let _ = stderr.read_to_string(&mut err);
                }
                panic!("aiosmtpd exited with {status}: {err}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "aiosmtpd did not listen on port {port} within 5 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn transport(&self) -> EmailTransport {
        EmailTransport::Smtp {
            host: "127.0.0.1".into(),
            port: self.port,
        }
    }

    /// Waits (up to 5 s) until `count` messages have arrived.
    fn wait_for(&self, count: usize) -> Vec<PathBuf> {
        let start = Instant::now();
        loop {
            let files = new_files(&self.maildir);
            if files.len() >= count || start.elapsed() > Duration::from_secs(5) {
                return files;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// Tests.

#[test]
fn every_kind_goes_out_by_smtp_as_multipart_alternative() {
    let Some(python) = aiosmtpd_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(&python, dir.path().join("received"));
    let notifier = EmailNotifier::new(settings(), sink.transport()).unwrap();

    let mut seen = Vec::new();
    for (i, expect) in EXPECTED.iter().enumerate() {
        notifier
            .notify(&notification(expect.kind, expect.owner))
            .unwrap_or_else(|e| panic!("{:?}: {e}", expect.kind));
        let files = sink.wait_for(i + 1);
        assert_eq!(files.len(), i + 1, "{:?} did not arrive", expect.kind);
        let new: Vec<&PathBuf> = files.iter().filter(|f| !seen.contains(*f)).collect();
        assert_eq!(new.len(), 1);
        let raw = std::fs::read(new[0]).unwrap();
        check_email(&raw, expect);

        // The SMTP envelope went to the same addresses as the To header.
        let msg = MessageParser::default().parse(&raw).unwrap();
        let rcpt = msg.header_raw("X-RcptTo").unwrap().trim().to_owned();
        assert_eq!(rcpt, expect.to.join(", "), "{:?}", expect.kind);
        assert_eq!(
            msg.header_raw("X-MailFrom").map(str::trim),
            Some("mtm@example.com")
        );
        seen.push(new[0].clone());
    }
}

#[test]
fn an_smtp_server_that_is_down_is_a_storage_error() {
    let port = free_port(); // bound, then released: nothing listens there now
    let notifier = EmailNotifier::new(
        settings(),
        EmailTransport::Smtp {
            host: "127.0.0.1".into(),
            port,
        },
    )
    .unwrap();
    let err = notifier
        .notify(&notification(
            NotificationKind::Completed,
            "alice@example.com",
        ))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    let text = err.to_string();
    assert!(text.contains(&format!("smtp://127.0.0.1:{port}")), "{text}");
}

#[test]
fn an_smtp_server_that_refuses_is_a_storage_error() {
    // A server that greets with 554 ("no SMTP service here") and hangs up.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .write_all(b"554 5.3.2 not accepting mail\r\n")
            .unwrap();
        let mut rest = Vec::new();
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = stream.read_to_end(&mut rest);
    });
    let notifier = EmailNotifier::new(
        settings(),
        EmailTransport::Smtp {
            host: "127.0.0.1".into(),
            port,
        },
    )
    .unwrap();
    let err = notifier
        .notify(&notification(
            NotificationKind::Rejected,
            "alice@example.com",
        ))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(err.to_string().contains("554"), "{err}");
    server.join().unwrap();
}

#[test]
fn a_user_without_an_address_is_invalid_input_before_any_connection() {
    // No default domain: "bob" has no address. The port is closed, so reaching the
    // network would give a Storage error instead.
    let notifier = EmailNotifier::new(
        EmailSettings::new("mtm@example.com", ["ops@example.com"]),
        EmailTransport::Smtp {
            host: "127.0.0.1".into(),
            port: free_port(),
        },
    )
    .unwrap();
    let err = notifier
        .notify(&notification(NotificationKind::Expired, "bob"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

#[test]
fn the_maildir_transport_delivers_into_new() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mtm-notices");
    let notifier =
        EmailNotifier::new(settings(), EmailTransport::Maildir(maildir.clone())).unwrap();
    for (i, expect) in EXPECTED.iter().enumerate() {
        notifier
            .notify(&notification(expect.kind, expect.owner))
            .unwrap();
        let files = new_files(&maildir);
        assert_eq!(files.len(), i + 1, "one new file per notification");
    }
    assert_eq!(std::fs::read_dir(maildir.join("tmp")).unwrap().count(), 0);
    assert!(maildir.join("cur").is_dir());
    // Each file is one whole email, in the order sent (names grow with time and sequence).
    let mut checked = 0;
    for file in new_files(&maildir) {
        let raw = std::fs::read(&file).unwrap();
        let msg = MessageParser::default().parse(&raw).unwrap();
        let subject = msg.subject().unwrap().to_owned();
        let expect = EXPECTED
            .iter()
            .find(|e| subject.contains(e.subject))
            .unwrap_or_else(|| panic!("unexpected subject {subject:?}"));
        check_email(&raw, expect);
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(!name.contains(':') && !name.contains('/'), "{name}");
        checked += 1;
    }
    assert_eq!(checked, EXPECTED.len());
}

#[test]
fn an_unwritable_maildir_is_a_storage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, "x").unwrap();
    let notifier = EmailNotifier::new(settings(), EmailTransport::Maildir(file)).unwrap();
    let err = notifier
        .notify(&notification(NotificationKind::Failed, "alice@example.com"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
}
