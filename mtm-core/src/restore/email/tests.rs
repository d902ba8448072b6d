use chrono::{DateTime, NaiveDate, Utc};

use super::templates::{escape_html, human_bytes};
use super::*;
use crate::ErrorKind;
use crate::names::{AccountId, FolderName};
use crate::restore::notify::NotificationKind;
use crate::restore::outcome::{FolderPlan, RestorePlan, RestoreResult};
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
                let interrupt = Action::Interrupt {
                    reason: "storage error at /srv/mail: disk full".into(),
                };
                req = req.apply(&interrupt, &admin, now).unwrap();
                let give_up = Action::GiveUp {
                    reason: "disk full on /srv/mail".into(),
                };
                req = req.apply(&give_up, &admin, now).unwrap();
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
        sent_at: at("2026-11-21T09:00:07Z"),
        tenant: None,
        language: crate::restore::tenant::Language::english(),
        time_zone: crate::clock::TimeZone::UTC,
    }
}

fn render(kind: NotificationKind) -> RenderedEmail {
    DefaultTemplates::new().render(&notification(kind)).unwrap()
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
    let email = DefaultTemplates::new().render(&n).unwrap();
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
fn failed_shows_why_the_admin_gave_up() {
    let email = render(NotificationKind::Failed);
    assert!(email.subject.contains("failed"), "{}", email.subject);
    in_both(&email, "could not be completed");
    in_both(&email, "stopped trying");
    in_both(&email, "disk full on /srv/mail");
    in_both(&email, "alice@example.com/7");
    assert!(
        !email.text.contains("storage error"),
        "the administrator's reason, not the interruption"
    );
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
                    "body", "/body", "p", "/p", "h3", "/h3", "table", "/table", "tr", "/tr", "th",
                    "/th", "td", "/td", "ul", "/ul", "li", "/li"
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
            let mut email = DefaultTemplates::new().render(n)?;
            email.subject = "Wiederherstellung für Jürgen ✓\r\nBcc: evil@example.com".to_owned();
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
    // The Date is the injected clock's, not the wall clock's.
    assert_eq!(
        parsed.date().map(mail_parser::DateTime::to_timestamp),
        Some(at("2026-11-21T09:00:07Z").timestamp())
    );
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

/// The email of `kind` for an account of customer ACME, in `language`, times in Rome.
fn for_acme(kind: NotificationKind, language: crate::restore::tenant::Language) -> Notification {
    use crate::restore::tenant::{Tenant, TenantId};
    let mut n = notification(kind);
    n.tenant = Some(
        Tenant::new(TenantId::new("acme").unwrap())
            .with_name("ACME S.p.A.")
            .with_admin("carol", "carol@acme.example"),
    );
    n.time_zone = crate::clock::TimeZone::parse("Europe/Rome").unwrap();
    n.language = language;
    n
}

/// Every kind of email in English and Italian, against the golden files in
/// `src/restore/email/golden/` (`MTM_BLESS=1 cargo test -p mtm-core golden` rewrites them
/// from the current templates; read every changed one before committing it).
#[test]
fn emails_in_both_languages_match_their_golden_files() {
    use crate::restore::tenant::Language;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/restore/email/golden");
    let bless = std::env::var_os("MTM_BLESS").is_some_and(|v| v == "1");
    let kinds = [
        (NotificationKind::NewRequest, "new-request"),
        (NotificationKind::Completed, "completed"),
        (NotificationKind::Failed, "failed"),
        (NotificationKind::Rejected, "rejected"),
        (NotificationKind::Expired, "expired"),
    ];
    let mut failures = Vec::new();
    for language in [Language::english(), Language::italian()] {
        for (kind, name) in kinds {
            let email = DefaultTemplates::new()
                .render(&for_acme(kind, language.clone()))
                .unwrap();
            let text = format!(
                "Subject: {}\n\n{}\n==== text/html ====\n{}",
                email.subject, email.text, email.html
            );
            let path = dir.join(format!("{language}-{name}.txt"));
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(golden) if golden == text => {}
                Ok(_) => failures.push(format!("{} differs", path.display())),
                Err(e) => failures.push(format!("{}: {e}", path.display())),
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_language_the_templates_do_not_speak_falls_back_to_english() {
    let german = crate::restore::tenant::Language::new("de").unwrap();
    let email = DefaultTemplates::new()
        .render(&for_acme(NotificationKind::Completed, german))
        .unwrap();
    assert!(
        email.subject.starts_with("Your mailbox restore"),
        "{}",
        email.subject
    );
}

#[test]
fn an_added_language_is_used_for_its_tenants() {
    use crate::restore::tenant::Language;
    let mut german = super::Wording::english();
    german.completed_subject = "Ihre Wiederherstellung vom {day} ist fertig".into();
    let templates = DefaultTemplates::new()
        .with_language(Language::new("de").unwrap(), german)
        .unwrap();
    let email = templates
        .render(&for_acme(
            NotificationKind::Completed,
            Language::new("de").unwrap(),
        ))
        .unwrap();
    assert_eq!(
        email.subject,
        "Ihre Wiederherstellung vom 2026-11-10 ist fertig"
    );
    let mut broken = super::Wording::english();
    broken.completed_subject = "{when}".into();
    assert!(
        DefaultTemplates::new()
            .with_language(Language::new("de").unwrap(), broken)
            .is_err()
    );
}
