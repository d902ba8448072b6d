//! `mtm demo`: a guided tour on a sample mailbox. It builds a Maildir in a temporary
//! directory, snapshots it over four simulated days while the user reads, files and deletes
//! mail, then shows what was lost and brings a deleted message back as an `.eml` file.
//! Then the restore workflow, for two customers of the provider, each with its own
//! administrator, who sees and decides only its own customer's requests.
//!
//! Every step is a real `mtm` command, printed before it runs, and run through the
//! dispatcher main.rs hands in ([`Dispatch`]): the demo uses `args`, `error` and `output`,
//! and no other command module.

use std::fs;
use std::path::{Path, PathBuf};

use clap::Parser;

use crate::args::Cli;
use crate::error::{CliError, CliResult};

/// Runs one parsed `mtm` command: the dispatcher of main.rs, handed in so that the demo
/// depends on no other command module.
pub type Dispatch = fn(&Cli) -> CliResult;

/// A message of the sample mailbox.
struct Mail {
    folder: &'static str,
    from: &'static str,
    subject: &'static str,
    body: &'static str,
    attachment: Option<(&'static str, &'static str)>,
}

const ACCOUNT: &str = "alice@example.com";
/// A user of the second customer, Rossi S.r.l., whose administrator writes Italian.
const GIULIA: &str = "giulia@rossi.example";

/// The provider's two customers; the provider's own administrators are `ops`.
const TENANTS: &str = r#"[provider]
admins = [{ name = "ops", email = "Mail admins <ops@example.com>" }]

[[tenant]]
id = "example"
name = "Example Corp"
domains = ["example.com"]
admins = [{ name = "carol", email = "Carol <carol@example.com>" }]

[[tenant]]
id = "rossi"
name = "Rossi S.r.l."
domains = ["rossi.example"]
admins = [{ name = "marco", email = "Marco Rossi <marco@rossi.example>" }]
language = "it"
time_zone = "Europe/Rome"
pricing = { currency = "EUR", base = 300, per_gib = 100 }
"#;

const FIRST_DAY: [Mail; 9] = [
    Mail {
        folder: "INBOX",
        from: "Bob Martin <bob@partner.example>",
        subject: "Signed contract for Q4",
        body: "Hi Alice,\n\nattached is the contract, signed by both parties.\nPlease keep it safe.\n\nBob",
        attachment: Some(("contract-q4.pdf", "%PDF-1.4 sample contract, signed\n")),
    },
    Mail {
        folder: "INBOX",
        from: "Carla Rossi <carla@example.com>",
        subject: "Lunch on Friday?",
        body: "Shall we try the new place near the station?\n\nCarla",
        attachment: None,
    },
    Mail {
        folder: "INBOX",
        from: "IT Desk <it@example.com>",
        subject: "Password expiry reminder",
        body: "Your password expires in 7 days.",
        attachment: None,
    },
    Mail {
        folder: "INBOX",
        from: "Dana Lee <dana@example.org>",
        subject: "Photos from the trip",
        body: "Here they are — the lake was beautiful.",
        attachment: Some(("lake.jpg", "JFIF sample image bytes")),
    },
    Mail {
        folder: "INBOX",
        from: "Grüße GmbH <info@gruesse.example>",
        subject: "Ihre Bestellung Nr. 4711 – Versandbestätigung",
        body: "Ihre Bestellung wurde versandt.",
        attachment: None,
    },
    Mail {
        folder: "Sent",
        from: "Alice <alice@example.com>",
        subject: "Re: Lunch on Friday?",
        body: "Yes! 12:30?",
        attachment: None,
    },
    Mail {
        folder: "Sent",
        from: "Alice <alice@example.com>",
        subject: "Budget draft",
        body: "Draft numbers for next year attached in the text below.\n\nTotal: 120k",
        attachment: None,
    },
    Mail {
        folder: "Archive/2024",
        from: "Bank <noreply@bank.example>",
        subject: "Annual statement 2024",
        body: "Your annual statement is ready.",
        attachment: Some(("statement-2024.pdf", "%PDF-1.4 statement")),
    },
    Mail {
        folder: "Lists/rust-users",
        from: "rust-users <list@rust.example>",
        subject: "[rust-users] Weekly digest",
        body: "Topics this week: lifetimes, async, zstd.",
        attachment: None,
    },
];

const SECOND_DAY: [Mail; 2] = [
    Mail {
        folder: "INBOX",
        from: "Bob Martin <bob@partner.example>",
        subject: "Invoice 2026-118",
        body: "Please find the invoice details below.\nAmount: 4,800 EUR",
        attachment: None,
    },
    Mail {
        folder: "INBOX",
        from: "Carla Rossi <carla@example.com>",
        subject: "Re: Lunch on Friday?",
        body: "12:30 is perfect.",
        attachment: None,
    },
];

const FOURTH_DAY: [Mail; 1] = [Mail {
    folder: "INBOX",
    from: "IT Desk <it@example.com>",
    subject: "Maintenance tonight",
    body: "Webmail will be down from 22:00 to 23:00.",
    attachment: None,
}];

/// Builds the raw bytes of a sample message.
fn render(mail: &Mail, to: (&str, &str), n: u32, date: &str) -> String {
    let boundary = format!("=_mtm_demo_{n}");
    let (name, account) = to;
    let head = format!(
        "Return-Path: <{addr}>\r\nDelivered-To: {account}\r\nReceived: from mx.example.net by mail.example.com with LMTP id demo{n}\r\n\tfor <{account}>; {date}\r\nFrom: {from}\r\nTo: {name} <{account}>\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <demo-{n}@example.com>\r\nMIME-Version: 1.0\r\n",
        addr = mail
            .from
            .rsplit('<')
            .next()
            .unwrap_or("")
            .trim_end_matches('>'),
        from = encode_header(mail.from),
        subject = encode_header(mail.subject),
    );
    let body = mail.body.replace('\n', "\r\n");
    match mail.attachment {
        None => format!(
            "{head}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
        ),
        Some((name, content)) => format!(
            "{head}Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n--{boundary}\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--{boundary}--\r\n",
            base64(content.as_bytes())
        ),
    }
}

/// RFC 2047 `=?utf-8?b?…?=` for non-ASCII header text.
fn encode_header(text: &str) -> String {
    if text.is_ascii() {
        text.to_owned()
    } else {
        format!("=?utf-8?b?{}?=", base64(text.as_bytes()))
    }
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The sample Maildir: Dovecot's layout, with one unsubscribed folder.
struct SampleMaildir {
    root: PathBuf,
    next: u32,
    /// Its owner: name and address.
    owner: (&'static str, &'static str),
}

impl SampleMaildir {
    fn create(root: PathBuf, owner: (&'static str, &'static str)) -> CliResult<Self> {
        for dir in [
            "",
            ".Sent",
            ".Archive",
            ".Archive.2024",
            ".Lists",
            ".Lists.rust-users",
        ] {
            for sub in ["cur", "new", "tmp"] {
                fs::create_dir_all(root.join(dir).join(sub))?;
            }
            if !dir.is_empty() {
                fs::write(root.join(dir).join("maildirfolder"), "")?;
            }
        }
        // Lists/rust-users exists on disk but is not subscribed.
        fs::write(
            root.join("subscriptions"),
            "V\t2\n\nSent\nArchive\nArchive\t2024\n",
        )?;
        Ok(Self {
            root,
            next: 1,
            owner,
        })
    }

    fn folder_dir(&self, folder: &str) -> PathBuf {
        match folder {
            "INBOX" => self.root.clone(),
            other => self.root.join(format!(".{}", other.replace('/', "."))),
        }
    }

    /// Delivers a message into `cur/` with `flags`, received at `secs`.
    fn deliver(&mut self, mail: &Mail, secs: i64, flags: &str) -> CliResult<PathBuf> {
        let date = chrono::DateTime::from_timestamp(secs, 0)
            .unwrap_or_default()
            .format("%a, %d %b %Y %H:%M:%S +0000")
            .to_string();
        let raw = render(mail, self.owner, self.next, &date);
        let name = format!(
            "{secs}.M{n}P4242.demo,S={size}:2,{flags}",
            n = self.next,
            size = raw.len()
        );
        self.next += 1;
        let path = self.folder_dir(mail.folder).join("cur").join(name);
        fs::write(&path, raw)?;
        filetime::set_file_mtime(&path, filetime::FileTime::from_unix_time(secs, 0))?;
        Ok(path)
    }

    fn find(&self, subject: &str) -> CliResult<PathBuf> {
        for dir in ["", ".Sent", ".Archive.2024", ".Lists.rust-users"] {
            for entry in fs::read_dir(self.root.join(dir).join("cur"))? {
                let path = entry?.path();
                if fs::read_to_string(&path)?.contains(&format!("Subject: {subject}\r\n")) {
                    return Ok(path);
                }
            }
        }
        Err(CliError::Usage(format!(
            "demo: no sample message {subject:?}"
        )))
    }

    fn set_flags(&self, subject: &str, flags: &str) -> CliResult {
        let path = self.find(subject)?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let unique = name.split_once(':').map_or(name, |(u, _)| u);
        fs::rename(&path, path.with_file_name(format!("{unique}:2,{flags}")))?;
        Ok(())
    }
}

fn step(title: &str) {
    println!("\n━━ {title}");
}

fn mtm(dispatch: Dispatch, repo: &Path, args: &[&str]) -> CliResult {
    println!("$ mtm {}", args.join(" "));
    let mut argv = vec![
        "mtm".to_owned(),
        "--repo".to_owned(),
        repo.display().to_string(),
    ];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let cli = Cli::try_parse_from(argv).map_err(|e| CliError::Usage(e.to_string()))?;
    dispatch(&cli)
}

pub fn run(keep: Option<&Path>, dispatch: Dispatch) -> CliResult {
    let temp;
    let base = match keep {
        Some(dir) => {
            fs::create_dir_all(dir)?;
            dir.to_path_buf()
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let maildir_root = base.join("maildirs");
    let repo = base.join("repository");
    let repo_arg = repo.display().to_string();
    let alice_dir = maildir_root.join(ACCOUNT);
    let alice = alice_dir.display().to_string();
    println!("Mail Time Machine demo");
    println!("A sample mailbox for {ACCOUNT} lives in {alice};");
    println!("its snapshots go to an embedded local repository in {repo_arg}.");

    // Day 1: the mailbox as it is; nightly snapshot just after midnight (Rome time).
    let day = |d: u32| 1_794_787_200 + i64::from(d) * 86_400; // 2026-11-16 + d days, 00:00 UTC
    let mut mailbox = SampleMaildir::create(alice_dir.clone(), ("Alice", ACCOUNT))?;
    for (i, mail) in FIRST_DAY.iter().enumerate() {
        let flags = if i % 3 == 0 { "" } else { "S" };
        mailbox.deliver(mail, day(0) - 86_400 + 3600 * i as i64, flags)?;
    }
    // Giulia, at another customer of the same provider, has a small mailbox too.
    let mut giulia = SampleMaildir::create(maildir_root.join(GIULIA), ("Giulia", GIULIA))?;
    for (i, mail) in FIRST_DAY.iter().take(3).enumerate() {
        giulia.deliver(mail, day(0) - 86_400 + 1800 * i as i64, "S")?;
    }
    step("1. Create a repository (the provider's time zone decides when a day starts)");
    mtm(dispatch, &repo, &["init", "--time-zone", "Europe/Rome"])?;
    step("2. Night 1: snapshot every account under the Maildir root");
    mtm(
        dispatch,
        &repo,
        &[
            "snapshot",
            "--root",
            &maildir_root.display().to_string(),
            "--now",
            "2026-11-16T23:00:30Z",
            "--quiet",
        ],
    )?;

    step("Day 2: new mail arrives, Alice reads some; the nightly snapshot only reads what changed");
    for (i, mail) in SECOND_DAY.iter().enumerate() {
        mailbox.deliver(mail, day(1) + 3600 + 600 * i as i64, "")?;
    }
    mailbox.set_flags("Password expiry reminder", "S")?;
    mailbox.set_flags("Signed contract for Q4", "FS")?;
    mtm(
        dispatch,
        &repo,
        &[
            "snapshot",
            "--maildir",
            &alice,
            "--account",
            ACCOUNT,
            "--now",
            "2026-11-17T23:00:30Z",
            "--quiet",
        ],
    )?;

    step("Day 3: Alice cleans up, and deletes the signed contract by mistake");
    let contract = mailbox.find("Signed contract for Q4")?;
    let original = fs::read(&contract)?;
    fs::remove_file(&contract)?;
    fs::remove_file(mailbox.find("Password expiry reminder")?)?;
    let lunch = mailbox.find("Lunch on Friday?")?;
    let archived = mailbox
        .folder_dir("Archive/2024")
        .join("cur")
        .join(lunch.file_name().unwrap_or_default());
    fs::rename(&lunch, archived)?;
    mtm(
        dispatch,
        &repo,
        &[
            "snapshot",
            "--maildir",
            &alice,
            "--account",
            ACCOUNT,
            "--now",
            "2026-11-18T23:00:30Z",
            "--quiet",
        ],
    )?;

    step("Day 4: one more day of mail");
    mailbox.deliver(&FOURTH_DAY[0], day(3) + 3600, "")?;
    mtm(
        dispatch,
        &repo,
        &[
            "snapshot",
            "--maildir",
            &alice,
            "--account",
            ACCOUNT,
            "--now",
            "2026-11-19T23:00:30Z",
            "--quiet",
        ],
    )?;

    step("3. The days Alice can browse");
    mtm(dispatch, &repo, &["days", ACCOUNT])?;
    step("4. The folder tree of the latest day: subscribed and unsubscribed folders");
    mtm(dispatch, &repo, &["ls", ACCOUNT, "latest"])?;
    step("5. Alice's inbox on day 2, newest first, as webmail shows it");
    mtm(dispatch, &repo, &["ls", ACCOUNT, "2026-11-18", "INBOX"])?;
    step("6. \"What did I lose?\": the diff between day 2 and day 3");
    mtm(
        dispatch,
        &repo,
        &["diff", ACCOUNT, "2026-11-18", "2026-11-19"],
    )?;
    step("7. Search every retained day for the contract");
    mtm(
        dispatch,
        &repo,
        &["search", ACCOUNT, "--subject", "contract"],
    )?;

    step("8. Download the deleted message from day 2 as a byte-exact .eml file");
    let id = mtm_core::MessageId::of(&original).to_hex();
    let eml = base.join("signed-contract.eml");
    mtm(
        dispatch,
        &repo,
        &[
            "cat",
            ACCOUNT,
            "2026-11-18",
            &id[..12],
            "-o",
            &eml.display().to_string(),
        ],
    )?;
    let downloaded = fs::read(&eml)?;
    if downloaded != original {
        return Err(CliError::Usage(
            "demo: the downloaded message differs from the original".into(),
        ));
    }
    println!(
        "{} is byte-for-byte the message Alice deleted ({} bytes, BLAKE3 {}).",
        eml.display(),
        original.len(),
        &id[..16]
    );
    step("9. Where that message was, day by day");
    mtm(dispatch, &repo, &["history", ACCOUNT, &id])?;
    step("10. Read it");
    mtm(dispatch, &repo, &["show", ACCOUNT, "2026-11-18", &id[..12]])?;

    restore_tour(dispatch, &repo, &base, &maildir_root, &mailbox, &original)?;

    println!("\nDone. Snapshots see the mailbox once a day: mail received and deleted between two");
    println!("snapshots is in none of them, and mail a POP3 client removed from the server is not");
    println!("recoverable.");
    if keep.is_some() {
        println!(
            "The sample Maildir and repository are kept in {}.",
            base.display()
        );
    }
    Ok(())
}

/// Steps 11 to 16: Alice asks for day 2 back, an administrator approves, the restore runs,
/// and the mail (and the notification emails) are checked.
fn restore_tour(
    dispatch: Dispatch,
    repo: &Path,
    base: &Path,
    maildir_root: &Path,
    mailbox: &SampleMaildir,
    original: &[u8],
) -> CliResult {
    let outbox = base.join("notifications");
    let maildirs = maildir_root.display().to_string();
    let outbox_arg = outbox.display().to_string();
    let tenants = base.join("tenants.toml");
    fs::write(&tenants, TENANTS)?;
    let tenants_arg = tenants.display().to_string();
    println!("\nThe provider's two customers, each with its own administrator, in {tenants_arg}:");
    println!("{TENANTS}");
    let with_setup = |args: &[&str], now: &str| -> CliResult {
        let mut all: Vec<&str> = args.to_vec();
        all.extend([
            "--maildirs",
            &maildirs,
            "--notify-maildir",
            &outbox_arg,
            "--tenants",
            &tenants_arg,
            "--mail-from",
            "Mail Time Machine <mtm@example.com>",
            "--price-base",
            "500",
            "--price-per-gib",
            "200",
            "--tag-keyword",
            "$Restored",
            "--now",
            now,
        ]);
        mtm(dispatch, repo, &all)
    };
    step(
        "11. Alice asks for her mailbox as it was on day 2; her company's admin gets the plan and the deadline",
    );
    with_setup(
        &["restore", "request", ACCOUNT, "2026-11-18"],
        "2026-11-20T09:00:00Z",
    )?;
    println!("Giulia, at Rossi S.r.l., asks for day 1 of hers:");
    with_setup(
        &["restore", "request", GIULIA, "2026-11-17"],
        "2026-11-20T09:01:00Z",
    )?;
    step("12. Each customer's administrator sees only their own customer's queue");
    with_setup(
        &["restore", "list", "--queue", "--admin", "carol"],
        "2026-11-20T09:05:00Z",
    )?;
    with_setup(
        &["restore", "list", "--queue", "--admin", "marco"],
        "2026-11-20T09:05:00Z",
    )?;
    let giulias = format!("{GIULIA}/1");
    println!("Carol cannot open Giulia's request:");
    match with_setup(
        &["restore", "show", &giulias, "--admin", "carol"],
        "2026-11-20T09:06:00Z",
    ) {
        Err(CliError::Core(e)) if e.kind() == mtm_core::ErrorKind::PermissionDenied => {
            println!("refused: {e}");
        }
        other => {
            return Err(CliError::Usage(format!(
                "demo: carol should be refused Giulia's request, got {other:?}"
            )));
        }
    }
    step("13. Carol approves Alice's: billed to Example Corp, and the restore runs at once");
    let id = format!("{ACCOUNT}/1");
    with_setup(
        &["restore", "approve", &id, "--admin", "carol"],
        "2026-11-20T09:10:00Z",
    )?;
    println!("Marco rejects Giulia's (nothing of day 1 is missing), in Italian to Giulia:");
    with_setup(
        &[
            "restore",
            "reject",
            &giulias,
            "--admin",
            "marco",
            "--reason",
            "Non manca nessun messaggio di quel giorno",
        ],
        "2026-11-20T09:12:00Z",
    )?;

    step("14. The deleted messages are back in the live Maildir, with their flags");
    let back = mailbox.find("Signed contract for Q4")?;
    if fs::read(&back)? != original {
        return Err(CliError::Usage(
            "demo: the restored contract differs from the original".into(),
        ));
    }
    println!(
        "{} is back, byte for byte.",
        back.strip_prefix(base).unwrap_or(&back).display()
    );
    mtm(
        dispatch,
        repo,
        &[
            "diff",
            ACCOUNT,
            "2026-11-18",
            "--live",
            &mailbox.root.display().to_string(),
        ],
    )?;
    println!("(Lunch on Friday? was moved to Archive/2024, not lost: the restore left it there.)");

    step("15. The emails that were sent");
    let mut sent: Vec<PathBuf> = fs::read_dir(outbox.join("new"))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    sent.sort();
    let mut recipients = Vec::new();
    for mail in &sent {
        let summary = mtm_core::summarize(&fs::read(mail)?);
        println!("  To: {}", summary.to);
        println!("  Subject: {}", summary.subject);
        println!();
        recipients.push(summary.to);
    }
    let expected = [
        "Carol <carol@example.com>",
        "Marco Rossi <marco@rossi.example>",
        ACCOUNT,
        GIULIA,
    ];
    if recipients.len() != expected.len()
        || !expected
            .iter()
            .all(|to| recipients.iter().any(|r| r.contains(to)))
    {
        return Err(CliError::Usage(format!(
            "demo: expected an email to each of {expected:?}, found {recipients:?}"
        )));
    }
    step("16. The audit trail; the bills Carol sees (her company's), and the provider's view");
    mtm(dispatch, repo, &["restore", "show", &id])?;
    with_setup(
        &["restore", "ledger", "--admin", "carol"],
        "2026-11-20T10:00:00Z",
    )?;
    with_setup(
        &["restore", "ledger", "--admin", "ops"],
        "2026-11-20T10:00:00Z",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn non_ascii_headers_are_encoded_words() {
        assert_eq!(encode_header("plain"), "plain");
        assert!(encode_header("Grüße").starts_with("=?utf-8?b?"));
    }
}
