//! The real workload: deterministic, parses as MIME with the shapes of real mail, shares
//! attachments and newsletter bodies across messages and accounts, and scales to many
//! accounts.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use mail_parser::{Encoding, MessageParser, MimeHeaders, PartType};
use mtm_benches::realmail::{GROUP_SIZE, REAL_MEDIAN_SIZE};
use mtm_benches::workload::{
    self, CopyMode, DayMode, FOLDERS, WorkloadConfig, WorkloadKind, account_id, parse_shape,
};

fn cfg(accounts: usize, messages: usize, seed: u64, copies: CopyMode) -> WorkloadConfig {
    WorkloadConfig {
        accounts,
        messages_per_account: messages,
        seed,
        copies,
    }
}

/// (relative path, BLAKE3, mtime) of every message file, sorted.
fn tree(root: &Path, c: &WorkloadConfig) -> Vec<(String, String, i64)> {
    workload::scan(root, c)
        .unwrap()
        .iter()
        .map(|f| {
            let path = f.path(root);
            let meta = fs::metadata(&path).unwrap();
            (
                path.strip_prefix(root).unwrap().display().to_string(),
                blake3::hash(&fs::read(&path).unwrap()).to_hex().to_string(),
                filetime::FileTime::from_last_modification_time(&meta).unix_seconds(),
            )
        })
        .collect()
}

/// Every message file: (account, folder, bytes).
fn messages(root: &Path, c: &WorkloadConfig) -> Vec<(usize, usize, Vec<u8>)> {
    workload::scan(root, c)
        .unwrap()
        .iter()
        .map(|f| (f.account, f.folder, fs::read(f.path(root)).unwrap()))
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The bytes after the per-recipient delivery headers (the first line not starting
/// Return-Path, Delivered-To, an LMTP Received or X-Spam, with its continuation lines).
fn after_delivery_headers(bytes: &[u8]) -> &[u8] {
    let mut pos = 0;
    let mut in_delivery = false;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let delivery = line.starts_with(b"Return-Path:")
            || line.starts_with(b"Delivered-To:")
            || line.starts_with(b"Received: from mx.example.net ([10.0.0.5])")
            || line.starts_with(b"X-Spam-");
        let continuation = line.starts_with(b"\t") || line.starts_with(b" ");
        if delivery || (in_delivery && continuation) {
            in_delivery = true;
            pos += line.len();
        } else {
            break;
        }
    }
    &bytes[pos..]
}

#[test]
fn same_seed_same_real_tree() {
    let run = |seed: u64| {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(12, 40, seed, CopyMode::PerRecipientHeaders);
        WorkloadKind::Real.generate(dir.path(), &c).unwrap();
        for day in 1..=2 {
            WorkloadKind::Real
                .day_step(dir.path(), &c, day, DayMode::Growing)
                .unwrap();
        }
        tree(dir.path(), &c)
    };
    let a = run(4);
    assert!(a.len() >= 12 * 40 - 10, "{}", a.len());
    assert_eq!(a, run(4));
    assert_ne!(a, run(5));
}

#[test]
fn real_messages_parse_with_the_shapes_of_real_mail() {
    let dir = tempfile::tempdir().unwrap();
    // Two groups of accounts, so newsletters cross groups.
    let c = cfg(GROUP_SIZE + 4, 120, 9, CopyMode::PerRecipientHeaders);
    let stats = WorkloadKind::Real.generate(dir.path(), &c).unwrap();
    assert_eq!(stats.files, (c.accounts * c.messages_per_account) as u64);
    let all = messages(dir.path(), &c);
    assert_eq!(all.len(), c.accounts * c.messages_per_account);

    let mut qp_html_alternative = 0;
    let mut eight_bit_text = 0;
    let mut base64_text = 0;
    let mut replies = 0;
    let mut newsletters = 0;
    let mut rfc822 = 0;
    let mut kinds: BTreeSet<&str> = BTreeSet::new();
    // BLAKE3 of decoded attachment -> (Message-ID, From) of the messages carrying it.
    let mut attachment_owners: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    // Newsletter HTML -> accounts that received it.
    let mut newsletter_readers: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut sizes = Vec::new();
    for (account, folder, bytes) in &all {
        sizes.push(bytes.len());
        // CRLF throughout: no bare LF.
        assert!(
            !bytes
                .iter()
                .enumerate()
                .any(|(i, &b)| b == b'\n' && (i == 0 || bytes[i - 1] != b'\r')),
            "bare LF in a message of account {account}"
        );
        let msg = MessageParser::default().parse(bytes).expect("parses");
        let id = msg.message_id().unwrap_or("").to_string();
        let from = msg
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or("")
            .to_string();
        assert!(!id.is_empty(), "every message has a Message-ID");
        let ctype = msg
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()));
        if ctype.as_deref() == Some("multipart/alternative")
            && msg
                .html_bodies()
                .any(|p| p.encoding == Encoding::QuotedPrintable)
        {
            let html = msg.body_html(0).unwrap();
            assert!(html.contains("style=\""), "inline styles");
            // The raw HTML part uses the escapes of real QP HTML.
            assert!(contains(bytes, b"=3D\""), "=3D in raw QP HTML");
            assert!(contains(bytes, b"=\r\n"), "soft line breaks");
            qp_html_alternative += 1;
        }
        for part in msg.text_bodies() {
            if !matches!(part.body, PartType::Text(_)) {
                continue;
            }
            let declared = part
                .headers
                .iter()
                .any(|h| h.name.as_str() == "Content-Transfer-Encoding");
            let non_ascii = part.text_contents().is_some_and(|t| !t.is_ascii());
            match part.encoding {
                Encoding::None if declared && non_ascii => eight_bit_text += 1,
                Encoding::Base64 => base64_text += 1,
                _ => {}
            }
        }
        if msg.in_reply_to().as_text().is_some() {
            let text = msg.body_text(0).unwrap_or_default().into_owned();
            assert!(
                text.contains("\n> ") || text.contains("\n>>"),
                "quoted parent"
            );
            assert!(msg.header_raw("References").is_some());
            if let Some(html) = msg.body_html(0)
                && msg.html_body.len() == 1
                && msg.html_bodies().next().is_some_and(|p| p.is_text_html())
            {
                assert!(html.contains("<blockquote"), "HTML quote");
            }
            replies += 1;
        }
        if msg.header_raw("List-Unsubscribe").is_some() && msg.header_raw("Feedback-ID").is_some() {
            assert!(msg.header_raw("List-Id").is_some());
            newsletters += 1;
            let html = msg.body_html(0).unwrap().into_owned();
            assert!(html.len() > 8_000, "templated HTML {}", html.len());
            newsletter_readers.entry(html).or_default().insert(*account);
        }
        for part in msg.attachments() {
            if let PartType::Message(inner) = &part.body {
                assert!(inner.message_id().is_some());
                rfc822 += 1;
                continue;
            }
            let data = part.contents();
            let name = part.attachment_name().unwrap_or("");
            let kind = name.rsplit('.').next().unwrap_or("");
            let magic_ok = match kind {
                "pdf" => {
                    data.starts_with(b"%PDF-1.7") && contains(&data[data.len() - 8..], b"%%EOF")
                }
                "jpg" => data.starts_with(&[0xFF, 0xD8, 0xFF]) && data.ends_with(&[0xFF, 0xD9]),
                "png" => data.starts_with(b"\x89PNG\r\n\x1a\n"),
                "docx" | "xlsx" => data.starts_with(b"PK\x03\x04"),
                "doc" => data.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]),
                "ics" => data.starts_with(b"BEGIN:VCALENDAR"),
                "csv" => data.starts_with(b"date,invoice,"),
                "svg" | "xml" => data.starts_with(b"<?xml"),
                "txt" => !data.is_empty(),
                _ => false,
            };
            assert!(magic_ok, "attachment {name:?} has the header of its kind");
            assert_eq!(part.encoding, Encoding::Base64);
            kinds.insert(match kind {
                "pdf" => "pdf",
                "jpg" => "jpg",
                "png" => "png",
                "docx" => "docx",
                "xlsx" => "xlsx",
                "doc" => "doc",
                "ics" => "ics",
                "csv" => "csv",
                "svg" => "svg",
                "xml" => "xml",
                _ => "txt",
            });
            if *folder != workload_sent() {
                attachment_owners
                    .entry(blake3::hash(data).to_hex().to_string())
                    .or_default()
                    .insert((id.clone(), from.clone()));
            }
        }
    }
    // Base64 attachment lines are 76 columns.
    let any_b64 = all
        .iter()
        .find(|(_, _, b)| contains(b, b"Content-Transfer-Encoding: base64\r\n\r\n"))
        .unwrap();
    let text = String::from_utf8_lossy(&any_b64.2);
    let start = text
        .find("Content-Transfer-Encoding: base64\r\n\r\n")
        .unwrap();
    let first_line = text[start..].lines().nth(2).unwrap();
    assert!(
        first_line.len() == 76 || first_line.len() < 76,
        "{first_line}"
    );

    let n = all.len();
    assert!(
        qp_html_alternative * 3 > n,
        "QP HTML alternatives: {qp_html_alternative} of {n}"
    );
    assert!(eight_bit_text > 10, "8bit text parts: {eight_bit_text}");
    assert!(base64_text > 10, "base64 text parts: {base64_text}");
    assert!(replies > 50, "replies: {replies}");
    assert!(newsletters * 20 > n, "newsletters: {newsletters} of {n}");
    assert!(rfc822 > 5, "message/rfc822 forwards: {rfc822}");
    for kind in ["pdf", "jpg", "docx", "csv", "ics"] {
        assert!(kinds.contains(kind), "no {kind} attachment in {kinds:?}");
    }
    // Forwards: the same attachment bytes in distinct messages from distinct senders.
    let forwarded = attachment_owners
        .values()
        .filter(|owners| {
            let senders: BTreeSet<&String> = owners.iter().map(|(_, f)| f).collect();
            owners.len() > 1 && senders.len() > 1
        })
        .count();
    assert!(forwarded > 3, "forwarded attachments: {forwarded}");
    assert!(stats.forwarded_attachments > 3);
    // One issue to several accounts, across the groups.
    let shared = newsletter_readers
        .values()
        .filter(|readers| {
            readers.len() > 1
                && readers.iter().any(|&a| a < GROUP_SIZE)
                && readers.iter().any(|&a| a >= GROUP_SIZE)
        })
        .count();
    assert!(shared > 0, "no newsletter issue crossed the groups");
    // Sizes: the median of real mail with HTML.
    sizes.sort_unstable();
    let median = sizes[sizes.len() / 2] as f64;
    assert!(
        (10_000.0..30_000.0).contains(&median),
        "median {median} (model {REAL_MEDIAN_SIZE})"
    );
    assert!(
        *sizes.last().unwrap() > 20 * sizes[sizes.len() / 2],
        "a heavy tail"
    );
}

fn workload_sent() -> usize {
    FOLDERS.iter().position(|f| f.name == "Sent").unwrap()
}

#[test]
fn real_copies_differ_only_in_their_delivery_headers() {
    for copies in [CopyMode::PerRecipientHeaders, CopyMode::Identical] {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(6, 150, 2, copies);
        WorkloadKind::Real.generate(dir.path(), &c).unwrap();
        let mut by_id: BTreeMap<String, Vec<(usize, Vec<u8>)>> = BTreeMap::new();
        for (account, folder, bytes) in messages(dir.path(), &c) {
            if folder == workload_sent() || FOLDERS[folder].name == "Drafts" {
                continue;
            }
            let id = MessageParser::default()
                .parse(&bytes)
                .unwrap()
                .message_id()
                .unwrap()
                .to_string();
            by_id.entry(id).or_default().push((account, bytes));
        }
        let groups: Vec<_> = by_id.values().filter(|v| v.len() > 1).collect();
        assert!(
            groups.len() > 20,
            "{copies:?}: {} multi-copy messages",
            groups.len()
        );
        for copies_of in groups {
            let rests: Vec<&[u8]> = copies_of
                .iter()
                .map(|(_, b)| after_delivery_headers(b))
                .collect();
            assert!(rests.windows(2).all(|w| w[0] == w[1]));
            match copies {
                CopyMode::PerRecipientHeaders => {
                    for (account, bytes) in copies_of {
                        let text = String::from_utf8_lossy(bytes);
                        let rcpt = account_id(*account);
                        assert!(text.contains(&format!("\r\nDelivered-To: {rcpt}\r\n")));
                        assert!(text.contains(&format!("\tfor <{rcpt}>; ")));
                        assert!(text.contains("\r\nX-Spam-Status: "));
                    }
                    assert_ne!(copies_of[0].1, copies_of[1].1);
                }
                CopyMode::Identical => assert!(copies_of.windows(2).all(|w| w[0].1 == w[1].1)),
            }
        }
    }
}

#[test]
fn real_day_step_changes_about_one_and_a_half_percent() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(4, 1_000, 3, CopyMode::PerRecipientHeaders);
    WorkloadKind::Real.generate(dir.path(), &c).unwrap();
    for day in 1..=3 {
        let s = WorkloadKind::Real
            .day_step(dir.path(), &c, day, DayMode::Growing)
            .unwrap();
        let changed = s.added.files + s.deleted + s.flag_changes + s.moved;
        let share = changed as f64 / s.files_before as f64;
        assert!((0.012..0.018).contains(&share), "day {day}: {share} {s:?}");
        assert!(s.added.files > 0 && s.deleted > 0 && s.flag_changes > 0 && s.moved > 0);
        let after = workload::scan(dir.path(), &c).unwrap().len() as u64;
        assert_eq!(after, s.files_before + s.added.files - s.deleted);
    }
    // Balanced real days delete what arrives.
    let s = WorkloadKind::Real
        .day_step(dir.path(), &c, 4, DayMode::Balanced)
        .unwrap();
    assert!(s.deleted > 0 && s.deleted_bytes.abs_diff(s.added.bytes) < s.added.bytes);
}

#[test]
fn many_account_shapes_honour_the_limits() {
    assert_eq!(parse_shape("10x5000").unwrap(), (10, 5_000));
    assert_eq!(parse_shape("1000x50").unwrap(), (1_000, 50));
    assert_eq!(parse_shape("10,000x20").unwrap(), (10_000, 20));
    assert!(parse_shape("1000").is_err());
    assert!(parse_shape("ax5").is_err());
    let ok = cfg(
        WorkloadConfig::MAX_ACCOUNTS,
        20,
        1,
        CopyMode::PerRecipientHeaders,
    );
    const { assert!(WorkloadConfig::MAX_ACCOUNTS >= 100_000) };
    ok.validate().unwrap();
    let too_many = cfg(
        WorkloadConfig::MAX_ACCOUNTS + 1,
        20,
        1,
        CopyMode::PerRecipientHeaders,
    );
    assert!(too_many.validate().is_err());
    let ids = ok.account_ids();
    assert_eq!(ids.len(), WorkloadConfig::MAX_ACCOUNTS);
    assert_eq!(ids.last().unwrap(), "user100000@example.com");
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    for id in &ids {
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"@._+-=".contains(&b)),
            "{id}"
        );
    }

    // Many small accounts: every account gets exactly its messages, fast.
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(1_000, 2, 1, CopyMode::PerRecipientHeaders);
    let t = std::time::Instant::now();
    let stats = WorkloadKind::Real.generate(dir.path(), &c).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(stats.files, 2_000);
    let mut per_account = vec![0usize; c.accounts];
    for f in workload::scan(dir.path(), &c).unwrap() {
        per_account[f.account] += 1;
    }
    assert!(per_account.iter().all(|&n| n == 2), "quotas not honoured");
    // Linear in the messages (the file system's cost of 22,000 directories and 2,000 files
    // included): well under a minute even in a debug build.
    assert!(secs < 60.0, "{secs} s for 1,000 accounts x 2 messages");
    let s = WorkloadKind::Real
        .day_step(dir.path(), &c, 1, DayMode::Growing)
        .unwrap();
    assert!(s.added.files >= 8 && s.added.files <= 12, "{s:?}");
}
