//! The `real` workload kind: mail shaped like what a mail server stores today, beside the
//! classic workload of [`crate::workload`] (which stays as it is, so its figures stay
//! comparable).
//!
//! Same tree, folders, file names, flags and day steps as the classic; what differs is the
//! mail itself:
//!
//! - bodies: mostly `multipart/alternative` text/plain + text/html in quoted-printable (HTML
//!   with inline styles: `=3D`, soft line breaks, `=20` before a hard break, UTF-8 as
//!   `=C3=A9`), some 8bit text (format=flowed), some base64 text parts, some
//!   `multipart/related` with an inline logo (the same bytes in every message of a domain);
//! - replies quote their parent (`> ` lines, `<blockquote>` in HTML, In-Reply-To/References);
//! - newsletters (large templated HTML, List-Id, List-Unsubscribe): one issue a week per
//!   newsletter (spaced so that a subscriber gets most issues), the same body delivered to
//!   every subscribed account; and mailing-list posts
//!   delivered to the subscribers of the account group;
//! - attachments of real kinds, base64 in 76 columns: incompressible (PDF with binary streams,
//!   JPEG, PNG, ZIP/DOCX/XLSX) and compressible (CSV, text, iCalendar, SVG, XML invoices, old
//!   OLE2 `.doc`);
//! - forwards: the same attachment bytes in a later message from another sender, and whole
//!   messages forwarded as `message/rfc822`;
//! - per-recipient delivery headers (Return-Path, Delivered-To, an LMTP Received `for <rcpt>`,
//!   X-Spam-Status) over the transit headers (Received chain, ARC, DKIM-Signature,
//!   Authentication-Results), with [`CopyMode::PerRecipientHeaders`].
//!
//! Line ends are CRLF throughout, as on the wire (so `W=` equals `S=` in the file names).
//! Sizes follow a log-normal model with median [`REAL_MEDIAN_SIZE`] and 99th percentile
//! [`REAL_P99_SIZE`] (newsletters have their own size, from their template and articles).
//!
//! Accounts are generated in groups of [`GROUP_SIZE`] consecutive accounts (an office): mail
//! between several recipients stays inside a group, newsletters cross groups (an issue is a
//! function of the seed, the newsletter and its number). Each group has its own random stream
//! and small bounded pools, so the generator runs in time linear in the messages and in
//! memory that does not grow with the number of accounts.

use std::io;
use std::path::Path;
use std::rc::Rc;

use crate::rng::{Rng, derive_seed};
use crate::workload::{
    self, CopyMode, DRAFTS, DayMode, DayRates, DayStats, EXTERNAL_DOMAINS, FIRST_NAMES, Freshness,
    GenStats, HISTORY_DAYS, LAST_NAMES, LIST_NAMES, LISTS, LineBreaks, MessageFile, SENT,
    START_SECS, WORDS, WorkloadConfig, account_id, base64_lines, capitalised, prose, rfc2822_date,
    token,
};

/// Median message size of the real workload, in bytes.
pub const REAL_MEDIAN_SIZE: f64 = 16.0 * 1024.0;
/// 99th percentile of the drawn sizes, in bytes.
pub const REAL_P99_SIZE: f64 = 600.0 * 1024.0;
/// Largest drawn size.
pub const REAL_MAX_SIZE: usize = 8 * 1024 * 1024;
/// Smallest drawn size.
pub const REAL_MIN_SIZE: usize = 1_500;
/// Personal messages whose drawn size reaches this carry attachments (about 12% of them).
pub const REAL_ATTACHMENT_THRESHOLD: usize = 96 * 1024;
/// Consecutive accounts that exchange mail with each other (and share mailing lists).
pub const GROUP_SIZE: usize = 10;
/// Share of delivered messages that are newsletter copies.
pub const NEWSLETTER_SHARE: f64 = 0.15;
/// Share of delivered messages that are mailing-list posts.
pub const LIST_SHARE: f64 = 0.08;

/// The real day step: 0.3% deleted, 0.6% flag changes, 0.1% moved, 0.4–0.6% new: about 1.5%
/// of the messages change each day.
pub(crate) const REAL_RATES: DayRates = DayRates {
    delete: 0.003,
    flag: 0.006,
    moves: 0.001,
    new_min: 0.004,
    new_spread: 0.002,
};

const Z99: f64 = 2.326_347_874;
const THREAD_POOL: usize = 128;
const ATTACHMENT_POOL: usize = 12;
const MESSAGE_POOL: usize = 8;
const ISSUE_CACHE: usize = 32;

/// Draws one size from the real log-normal model, clamped to
/// [`REAL_MIN_SIZE`]..=[`REAL_MAX_SIZE`].
pub fn sample_real_size(rng: &mut Rng) -> usize {
    let sigma = (REAL_P99_SIZE / REAL_MEDIAN_SIZE).ln() / Z99;
    let size = REAL_MEDIAN_SIZE * (sigma * rng.normal()).exp();
    (size as usize).clamp(REAL_MIN_SIZE, REAL_MAX_SIZE)
}

/// Writes the initial real corpus: the skeleton plus exactly `messages_per_account` message
/// files in every account, received over the [`HISTORY_DAYS`] before [`START_SECS`].
pub fn generate(root: &Path, cfg: &WorkloadConfig) -> io::Result<GenStats> {
    cfg.validate()?;
    workload::create_tree(root, cfg)?;
    let mut quotas = vec![cfg.messages_per_account; cfg.accounts];
    batch(
        root,
        cfg,
        derive_seed(cfg.seed, 50),
        3_000,
        (START_SECS - HISTORY_DAYS * 86_400, START_SECS - 60),
        Freshness::Old,
        &mut quotas,
    )
}

/// One simulated day of the real workload (day >= 1): the classic's kinds of change at the
/// [`REAL_RATES`] (about 1.5% of the messages), new mail from the real generator.
pub fn day_step_with(
    root: &Path,
    cfg: &WorkloadConfig,
    day: u32,
    mode: DayMode,
) -> io::Result<DayStats> {
    workload::day_step_core(
        root,
        cfg,
        day,
        mode,
        &REAL_RATES,
        &mut |seed, pid, lo, hi, quotas| {
            batch(root, cfg, seed, pid, (lo, hi), Freshness::New, quotas)
        },
    )
}

/// Generates one batch: every group of accounts with a quota left, in order.
fn batch(
    root: &Path,
    cfg: &WorkloadConfig,
    seed: u64,
    pid: u32,
    window: (i64, i64),
    freshness: Freshness,
    quotas: &mut [usize],
) -> io::Result<GenStats> {
    let mut stats = GenStats::default();
    let mut issues = IssueCache {
        period: issue_period(cfg),
        ..IssueCache::default()
    };
    for (g, chunk) in quotas.chunks_mut(GROUP_SIZE).enumerate() {
        if chunk.iter().all(|&q| q == 0) {
            continue;
        }
        let mut group = Group {
            root,
            cfg,
            rng: Rng::new(derive_seed(seed, g as u64)),
            pid,
            counter: 0,
            first: g * GROUP_SIZE,
            window,
            freshness,
            threads: Vec::new(),
            attachments: Vec::new(),
            messages: Vec::new(),
            stats: GenStats::default(),
        };
        group.run(chunk, &mut issues)?;
        stats.add(&group.stats);
    }
    Ok(stats)
}

// ---------------------------------------------------------------------------------------
// Encoders

/// Quoted-printable (RFC 2045) of `data` whose line ends are LF: encoded lines of at most 76
/// characters with `=` soft breaks, `=` as `=3D`, bytes outside printable ASCII as `=XX`, and
/// a space or tab before a hard line end as `=20` / `=09`.
pub fn quoted_printable(data: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(data.len() + data.len() / 8 + 16);
    let mut lines = data.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let mut col = 0;
        for (i, &b) in line.iter().enumerate() {
            let at_end = i + 1 == line.len();
            let literal =
                ((33..=126).contains(&b) && b != b'=') || ((b == b' ' || b == b'\t') && !at_end);
            let width = if literal { 1 } else { 3 };
            // Leave room for the soft break's '=' (76 columns in all).
            if col + width > 75 {
                out.push_str("=\n");
                col = 0;
            }
            if literal {
                out.push(char::from(b));
            } else {
                out.push('=');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
            col += width;
        }
        if lines.peek().is_some() {
            out.push('\n');
        }
    }
    out
}

/// A header value as an RFC 2047 `Q` encoded word when it is not ASCII.
pub fn encoded_word(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut out = String::from("=?UTF-8?Q?");
    for b in text.bytes() {
        match b {
            b' ' => out.push('_'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' => out.push(char::from(b)),
            _ => out.push_str(&format!("={b:02X}")),
        }
    }
    out.push_str("?=");
    out
}

/// LF line ends to CRLF (the input has no CR).
fn crlf(lf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lf.len() + lf.len() / 40 + 8);
    for part in lf.split_inclusive(|&b| b == b'\n') {
        match part.split_last() {
            Some((b'\n', rest)) => {
                out.extend_from_slice(rest);
                out.extend_from_slice(b"\r\n");
            }
            _ => out.extend_from_slice(part),
        }
    }
    out
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A part's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cte {
    Qp,
    EightBit,
    Base64,
}

impl Cte {
    fn name(self) -> &'static str {
        match self {
            Cte::Qp => "quoted-printable",
            Cte::EightBit => "8bit",
            Cte::Base64 => "base64",
        }
    }

    fn encode(self, text: &str) -> String {
        match self {
            Cte::Qp => quoted_printable(text.as_bytes()),
            Cte::EightBit => text.to_string(),
            Cte::Base64 => String::from_utf8_lossy(&base64_lines(text.as_bytes())).into_owned(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tables

#[rustfmt::skip]
const ACCENTED_WORDS: &[&str] = &[
    "café", "résumé", "déjà", "naïve", "über", "Grüße", "größer", "così", "perché", "città",
    "società", "è", "più", "già", "señor", "mañana", "año", "Zürich", "Málaga", "façade",
    "élève", "réunion", "prévu", "für", "Straße", "Bücher", "København", "Ærø", "€", "–",
    "“ok”", "…", "São", "Kraków", "Łódź", "café—",
];
const ACCENTED_FIRST: [&str; 8] = [
    "José",
    "Zoë",
    "Jürgen",
    "François",
    "Åsa",
    "Björn",
    "Chloé",
    "Nicolò",
];
const ACCENTED_LAST: [&str; 6] = ["Müller", "García", "Ferrè", "Øberg", "Núñez", "Dvořák"];
const TITLES: [&str; 6] = [
    "Project Manager",
    "Senior Engineer",
    "Account Executive",
    "Head of Operations",
    "Legal Counsel",
    "Office Assistant",
];
const GREETINGS: [&str; 5] = ["Hi", "Hello", "Dear", "Ciao", "Hallo"];
const CLOSINGS: [&str; 5] = [
    "Best regards,",
    "Kind regards,",
    "Thanks,",
    "Cheers,",
    "Cordiali saluti,",
];
/// (display name, domain, accent colour) of the newsletters.
const NEWSLETTERS: [(&str, &str, &str); 12] = [
    ("Shop Weekly", "news.shop.example", "e4572e"),
    ("The Morning Brief", "brief.example", "1d3557"),
    ("Rust Weekly", "this-week.example", "b7410e"),
    ("Travel Deals", "deals.travel.example", "0077b6"),
    ("Bank News", "info.bank.example", "2a9d8f"),
    ("City Council Updates", "news.city.example.gov", "6a4c93"),
    ("Photo Club Digest", "digest.photo.example", "ff7f51"),
    (
        "Acme Product Updates",
        "updates.acme-corp.example",
        "3a86ff",
    ),
    ("Università Notizie", "notizie.univ.example.edu", "8d0801"),
    ("Hospital Health Tips", "health.hospital.example", "43aa8b"),
    (
        "Consulting Insights",
        "insights.consulting.example",
        "264653",
    ),
    ("Legal Updates", "updates.studio-legale.example", "9c6644"),
];
const NEWSLETTER_CSS: &str = "body{margin:0;padding:0;-webkit-text-size-adjust:100%;\
-ms-text-size-adjust:100%}table,td{border-collapse:collapse;mso-table-lspace:0pt;\
mso-table-rspace:0pt}img{border:0;height:auto;line-height:100%;outline:none;\
text-decoration:none;-ms-interpolation-mode:bicubic}p{display:block;margin:13px 0}\
@media only screen and (max-width:600px){.container{width:100% !important}\
.stack{display:block !important;width:100% !important}.pad{padding:12px !important}\
.hide-mobile{display:none !important;max-height:0;overflow:hidden}\
h1{font-size:24px !important;line-height:30px !important}}\
@media (prefers-color-scheme:dark){.dark-bg{background-color:#1e1e1e !important}\
.dark-text{color:#f1f1f1 !important}}";

/// Attachment kinds: (MIME type, extension, weight, compressible).
const ATTACHMENT_KINDS: [(&str, &str, u32, bool); 11] = [
    ("application/pdf", "pdf", 30, false),
    ("image/jpeg", "jpg", 18, false),
    ("image/png", "png", 6, false),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
        8,
        false,
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
        6,
        false,
    ),
    ("text/csv", "csv", 8, true),
    ("text/plain", "txt", 5, true),
    ("text/calendar", "ics", 6, true),
    ("image/svg+xml", "svg", 3, true),
    ("application/xml", "xml", 5, true),
    ("application/msword", "doc", 5, true),
];

// ---------------------------------------------------------------------------------------
// The generator of one group

struct Person {
    name: String,
    address: String,
}

impl Person {
    fn mailbox(&self) -> String {
        format!("{} <{}>", encoded_word(&self.name), self.address)
    }
}

/// What a reply needs of its parent.
struct ThreadRef {
    subject: String,
    message_id: String,
    references: String,
    from: String,
    address: String,
    date: i64,
    /// The parent's text (its own quotes included), cut to a few KB.
    text: String,
}

/// An attachment as sent: its base64 text is reused byte for byte by forwards.
struct SharedAttachment {
    filename: String,
    mime: &'static str,
    base64: Vec<u8>,
    sender: String,
    subject: String,
    date: i64,
}

/// A whole message that may be forwarded as `message/rfc822`.
struct Forwardable {
    subject: String,
    sender: String,
    bytes: Vec<u8>,
}

/// One newsletter issue: the same body for every subscriber.
struct Issue {
    subject: String,
    date: i64,
    boundary: String,
    /// The body after the header block, CRLF.
    body: Vec<u8>,
    campaign: String,
}

/// The issues generated lately (bounded): an issue is regenerated when evicted, which gives
/// the same bytes.
#[derive(Default)]
struct IssueCache {
    entries: Vec<((usize, i64), Rc<Issue>)>,
    next: usize,
    /// Seconds between two issues of a newsletter.
    period: i64,
}

/// Seconds between two issues of one newsletter: a subscriber gets most issues of its
/// newsletters, so an issue reaches most subscribed accounts (as a real newsletter does).
/// With few messages per account the issues are rarer (at most one a day).
/// A word of real mail's vocabulary: now and then an accented one.
fn real_word(rng: &mut Rng) -> &'static str {
    if rng.chance(0.04) {
        ACCENTED_WORDS[rng.below(ACCENTED_WORDS.len())]
    } else {
        WORDS[rng.below(WORDS.len())]
    }
}

fn issue_period(cfg: &WorkloadConfig) -> i64 {
    let per_newsletter = cfg.messages_per_account as f64 * NEWSLETTER_SHARE / 3.0;
    let issues = per_newsletter.max(1.0);
    ((HISTORY_DAYS * 86_400) as f64 / issues).max(86_400.0) as i64
}

struct Group<'a> {
    root: &'a Path,
    cfg: &'a WorkloadConfig,
    rng: Rng,
    pid: u32,
    counter: u64,
    first: usize,
    window: (i64, i64),
    freshness: Freshness,
    threads: Vec<ThreadRef>,
    attachments: Vec<Rc<Vec<Rc<SharedAttachment>>>>,
    messages: Vec<Rc<Forwardable>>,
    stats: GenStats,
}

/// Replaces a random slot once a pool is full.
fn pool_push<T>(rng: &mut Rng, pool: &mut Vec<T>, cap: usize, item: T) {
    if pool.len() < cap {
        pool.push(item);
    } else {
        let slot = rng.below(cap);
        if let Some(s) = pool.get_mut(slot) {
            *s = item;
        }
    }
}

/// The newsletters account `account` subscribes to (three, fixed by the account number).
fn subscriptions(account: usize) -> [usize; 3] {
    let mut state = account as u64 ^ 0x5EED_0FAB;
    let a = crate::rng::splitmix64(&mut state) as usize % NEWSLETTERS.len();
    let b = (a + 1 + crate::rng::splitmix64(&mut state) as usize % 5) % NEWSLETTERS.len();
    let c = (b + 1 + crate::rng::splitmix64(&mut state) as usize % 5) % NEWSLETTERS.len();
    [a, b, c]
}

/// Whether account `account` reads mailing list `list`.
fn reads_list(account: usize, list: usize) -> bool {
    let mut state = (account as u64) << 8 | list as u64;
    crate::rng::splitmix64(&mut state).is_multiple_of(3)
}

impl Group<'_> {
    fn run(&mut self, quotas: &mut [usize], issues: &mut IssueCache) -> io::Result<()> {
        loop {
            let available: Vec<usize> = (0..quotas.len()).filter(|&a| quotas[a] > 0).collect();
            let Some(&any) = available.first() else {
                return Ok(());
            };
            let r = self.rng.unit();
            if r < 0.01 {
                let account = *self.rng.pick(&available).unwrap_or(&any);
                quotas[account] -= 1;
                self.draft(account)?;
            } else if r < 0.01 + NEWSLETTER_SHARE {
                let account = *self.rng.pick(&available).unwrap_or(&any);
                quotas[account] -= 1;
                self.newsletter(account, issues)?;
            } else if r < 0.01 + NEWSLETTER_SHARE + LIST_SHARE {
                let list = self.rng.below(LIST_NAMES.len());
                let mut readers: Vec<usize> = available
                    .iter()
                    .copied()
                    .filter(|&a| reads_list(self.first + a, list))
                    .collect();
                if readers.is_empty() {
                    readers.push(*self.rng.pick(&available).unwrap_or(&any));
                }
                for &a in &readers {
                    quotas[a] -= 1;
                }
                self.list_post(&readers, list)?;
            } else {
                let (recipients, local_sender) = crate::workload::draw_delivery(
                    &mut self.rng,
                    &available,
                    quotas,
                    crate::workload::DeliveryOdds {
                        several: 0.2,
                        most: 6,
                        local_sender: 0.15,
                    },
                );
                self.personal(&recipients, local_sender)?;
            }
        }
    }

    // --- small pieces -------------------------------------------------------------------

    fn word(&mut self) -> &'static str {
        real_word(&mut self.rng)
    }

    fn token(&mut self, len: usize) -> String {
        token(&mut self.rng, len)
    }

    /// A base64-looking signature value folded over header lines.
    fn folded_b64(&mut self, len: usize) -> String {
        let raw = self.token(len);
        let lines: Vec<&str> = raw
            .as_bytes()
            .chunks(70)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        lines.join("\n\t ")
    }

    fn external_person(&mut self) -> Person {
        let accented = self.rng.chance(0.15);
        let first = if accented && self.rng.chance(0.5) {
            ACCENTED_FIRST[self.rng.below(ACCENTED_FIRST.len())]
        } else {
            FIRST_NAMES[self.rng.below(FIRST_NAMES.len())]
        };
        let last = if accented {
            ACCENTED_LAST[self.rng.below(ACCENTED_LAST.len())]
        } else {
            LAST_NAMES[self.rng.below(LAST_NAMES.len())]
        };
        let domain = EXTERNAL_DOMAINS[self.rng.below(EXTERNAL_DOMAINS.len())];
        let ascii = |s: &str| -> String {
            s.chars()
                .filter(char::is_ascii_alphabetic)
                .collect::<String>()
                .to_lowercase()
        };
        Person {
            name: format!("{first} {last}"),
            address: format!("{}.{}@{domain}", ascii(first), ascii(last)),
        }
    }

    fn local_person(&self, local: usize) -> Person {
        let account = self.first + local;
        let first = FIRST_NAMES[(account * 7 + 3) % FIRST_NAMES.len()];
        let last = LAST_NAMES[(account * 11 + 5) % LAST_NAMES.len()];
        Person {
            name: format!("{first} {last}"),
            address: account_id(account),
        }
    }

    fn subject(&mut self) -> String {
        match self.rng.below(7) {
            0 => format!("Invoice {}", 10_000 + self.rng.below(90_000)),
            1 => {
                let day = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];
                let d = day[self.rng.below(day.len())];
                let w = self.word();
                format!("Meeting on {d} about {w}")
            }
            2 => format!("Order #{} confirmed", 100_000 + self.rng.below(900_000)),
            _ => {
                let n = self.rng.range(3, 7);
                let words: Vec<&str> = (0..n).map(|_| self.word()).collect();
                let mut s = capitalised(words.first().copied().unwrap_or("news"));
                for w in words.iter().skip(1) {
                    s.push(' ');
                    s.push_str(w);
                }
                s
            }
        }
    }

    /// Paragraphs of about `target` bytes. With `flowed`, lines are wrapped at 72 columns
    /// ending in a space (format=flowed soft breaks); otherwise a paragraph is one line.
    fn paragraphs(&mut self, target: usize, flowed: bool) -> String {
        let breaks = if flowed {
            LineBreaks::Flowed
        } else {
            LineBreaks::None
        };
        prose(&mut self.rng, target, real_word, breaks, 0.25)
    }

    /// A personal text: greeting, paragraphs, closing and a signature (`-- ` separator).
    fn letter(&mut self, target: usize, to: &str, from: &Person, flowed: bool) -> String {
        let greeting = GREETINGS[self.rng.below(GREETINGS.len())];
        let first = to.split_whitespace().next().unwrap_or("all");
        let mut text = format!("{greeting} {first},\n\n");
        text.push_str(&self.paragraphs(target, flowed));
        let closing = CLOSINGS[self.rng.below(CLOSINGS.len())];
        let title = TITLES[self.rng.below(TITLES.len())];
        text.push_str(&format!(
            "\n{closing}\n{}\n\n-- \n{}\n{title}\nPhone +39 02 {} {}\n{}\n",
            from.name,
            from.name,
            1000 + self.rng.below(9000),
            1000 + self.rng.below(9000),
            from.address
        ));
        text
    }

    /// Personal HTML of a text: one `<div>` per paragraph (a paragraph is one long line),
    /// inline styles, a signature table; a reply's parent in a `<blockquote>`.
    fn letter_html(text: &str, outlook: bool, quote: Option<(&str, &str)>) -> String {
        let font = if outlook {
            "font-family: Aptos, Calibri, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);"
        } else {
            "font-family:arial,sans-serif;font-size:small;color:#222222"
        };
        let mut html = String::with_capacity(text.len() * 2 + 1500);
        html.push_str(
            "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n",
        );
        if outlook {
            html.push_str(
                "<style type=\"text/css\" style=\"display:none;\"> P {margin-top:0;margin-bottom:0;} </style>\n",
            );
        }
        html.push_str("</head>\n<body dir=\"ltr\">\n");
        let (body, signature) = text.split_once("\n-- \n").unwrap_or((text, ""));
        for para in body.split("\n\n").filter(|p| !p.trim().is_empty()) {
            let joined = para.replace(" \n", " ").replace('\n', "<br>\n");
            html.push_str(&format!(
                "<div style=\"{font}\" class=\"elementToProof\">{}</div>\n<div style=\"{font}\"><br></div>\n",
                html_escape(&joined)
            ));
        }
        if !signature.is_empty() {
            html.push_str(
                "<div id=\"Signature\"><table style=\"border-collapse:collapse;border:none\" cellpadding=\"0\" cellspacing=\"0\"><tbody>\n",
            );
            for line in signature.lines() {
                html.push_str(&format!(
                    "<tr><td style=\"padding:0 0 2px 0;font-family:Calibri,sans-serif;font-size:10pt;color:#595959\">{}</td></tr>\n",
                    html_escape(line)
                ));
            }
            html.push_str("</tbody></table></div>\n");
        }
        if let Some((attribution, parent)) = quote {
            html.push_str(&format!(
                "<div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">{}<br></div>\n\
                 <blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex\">\n",
                html_escape(attribution)
            ));
            for para in parent.split("\n\n").filter(|p| !p.trim().is_empty()) {
                html.push_str(&format!(
                    "<div>{}</div>\n",
                    html_escape(&para.replace(" \n", " ").replace('\n', "<br>"))
                ));
            }
            html.push_str("</blockquote></div>\n");
        }
        html.push_str("</body>\n</html>\n");
        html
    }

    fn boundary(&mut self) -> String {
        format!(
            "000000000000{:012x}",
            self.rng.next_u64() & 0xFFFF_FFFF_FFFF
        )
    }

    fn message_id(&mut self, domain: &str) -> String {
        self.counter += 1;
        format!(
            "<{}{:x}.{}.{}@{domain}>",
            self.token(12),
            self.rng.next_u64() & 0xFFFF_FFFF,
            self.pid,
            self.counter
        )
    }

    /// Transit headers of external mail (same for every copy of one SMTP transaction).
    fn transit(&mut self, sender: &str, first_rcpt: &str, date: i64, received: i64) -> String {
        let domain = sender
            .rsplit('@')
            .next()
            .unwrap_or("example.org")
            .to_string();
        let ip = self.rng.range(2, 250);
        let host = format!("mail-{}.{domain}", self.token(6).to_lowercase());
        let qid = self.token(11);
        let seal = self.folded_b64(342);
        let ams = self.folded_b64(342);
        let dkim = self.folded_b64(342);
        let bh = self.token(43);
        let bh2 = self.token(43);
        let hdr_b = self.token(8);
        let sid = self.token(16);
        let auth = format!(
            "dkim=pass header.d={domain} header.s=s1 header.b={hdr_b};\n\
             \tspf=pass (mx.example.net: domain of {sender} designates 198.51.100.{ip} as permitted sender) smtp.mailfrom={sender};\n\
             \tdmarc=pass (p=NONE sp=NONE dis=NONE) header.from={domain}"
        );
        format!(
            "Received: from {host} ({host} [198.51.100.{ip}])\n\
             \t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n\
             \t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\n\
             \t(No client certificate requested)\n\
             \tby mx.example.net (Postfix) with ESMTPS id {qid}\n\
             \tfor <{first_rcpt}>; {}\n\
             ARC-Seal: i=1; a=rsa-sha256; t={received}; cv=none; d=example.net; s=arc-20240605;\n\
             \tb={seal}\n\
             ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net;\n\
             \ts=arc-20240605; h=to:subject:message-id:date:from:mime-version:dkim-signature;\n\
             \tbh={bh2}=;\n\
             \tb={ams}\n\
             ARC-Authentication-Results: i=1; mx.example.net;\n\
             \t{auth}\n\
             Received-SPF: pass (mx.example.net: domain of {sender} designates 198.51.100.{ip} as permitted sender) client-ip=198.51.100.{ip};\n\
             Authentication-Results: mx.example.net;\n\
             \t{auth}\n\
             Received: by {host} with SMTP id {sid}; {}\n\
             DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=s1; t={date};\n\
             \th=to:subject:message-id:date:from:mime-version:from:to:cc:subject:date:message-id;\n\
             \tbh={bh}=;\n\
             \tb={dkim}\n",
            rfc2822_date(received - 1, 0),
            rfc2822_date(date, 0),
        )
    }

    /// Received header of a local sender's submission.
    fn submission(&mut self, first_rcpt: &str, received: i64) -> String {
        format!(
            "Received: from [192.0.2.{}] (unknown [192.0.2.{}])\n\
             \tby mail.example.com (Postfix) with ESMTPSA id {}\n\
             \tfor <{first_rcpt}>; {}\n",
            self.rng.range(2, 250),
            self.rng.range(2, 250),
            self.token(10),
            rfc2822_date(received - 1, 60)
        )
    }

    /// The headers the final delivery prepends to one recipient's copy.
    fn delivery_prefix(&mut self, sender: &str, rcpt: &str, received: i64) -> String {
        match self.cfg.copies {
            CopyMode::PerRecipientHeaders => {
                let score = self.rng.range(0, 60) as f64 / 10.0 - 3.0;
                format!(
                    "Return-Path: <{sender}>\n\
                     Delivered-To: {rcpt}\n\
                     Received: from mx.example.net ([10.0.0.5])\n\
                     \tby mail.example.com with LMTP\n\
                     \tid {} (envelope-from <{sender}>)\n\
                     \tfor <{rcpt}>; {}\n\
                     X-Spam-Status: No, score={score:.1} required=5.0 tests=ARC_SIGNED,ARC_VALID,\n\
                     \tDKIM_SIGNED,DKIM_VALID,DKIM_VALID_AU,HTML_MESSAGE,SPF_PASS autolearn=ham\n\
                     \tautolearn_force=no version=4.0.1\n\
                     X-Spam-Score: {score:.1}\n",
                    self.token(22),
                    rfc2822_date(received, 60)
                )
            }
            CopyMode::Identical => format!("Return-Path: <{sender}>\n"),
        }
    }

    fn received_time(&mut self) -> i64 {
        self.rng.range_i64(self.window.0, self.window.1)
    }

    /// Writes one copy (LF built, CRLF written) for a group-local account.
    fn write(
        &mut self,
        local: usize,
        folder: usize,
        flags: Option<&str>,
        received: i64,
        crlf_bytes: &[u8],
    ) -> io::Result<()> {
        self.counter += 1;
        let (in_new, flags) = match flags {
            Some(f) => (false, f.to_string()),
            None => workload::delivered_flags(&mut self.rng, self.freshness, folder),
        };
        let file = MessageFile {
            account: self.first + local,
            folder,
            in_new,
            name: String::new(),
        };
        workload::write_message(
            self.root,
            file,
            &flags,
            (self.counter, self.pid),
            received,
            crlf_bytes,
            &mut self.stats,
        )
    }

    fn inbox(&mut self, received: i64) -> usize {
        workload::inbox_folder(&mut self.rng, self.freshness, received)
    }

    // --- attachments --------------------------------------------------------------------

    fn attachment_kind(&mut self) -> usize {
        let total: u32 = ATTACHMENT_KINDS.iter().map(|k| k.2).sum();
        let mut r = self.rng.below(total as usize) as u32;
        for (i, k) in ATTACHMENT_KINDS.iter().enumerate() {
            if r < k.2 {
                return i;
            }
            r -= k.2;
        }
        0
    }

    /// Bytes of an attachment of kind `kind`, about `len` long.
    fn attachment_bytes(&mut self, ext: &str, len: usize) -> Vec<u8> {
        let len = len.max(256);
        match ext {
            "pdf" => self.pdf(len),
            "jpg" => self.jpeg(len),
            "png" => self.png(len),
            "docx" | "xlsx" => self.zip(len, ext),
            "csv" => self.csv(len),
            "txt" => self.paragraphs(len, false).into_bytes(),
            "ics" => self.ics(),
            "svg" => self.svg(len),
            "xml" => self.xml_invoice(len),
            _ => self.ole_doc(len),
        }
    }

    fn random_bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.rng.fill(&mut v);
        v
    }

    /// A PDF whose page content and images are (random, so incompressible) Flate streams.
    fn pdf(&mut self, len: usize) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n\
3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>\nendobj\n"
            .to_vec();
        let mut offsets = vec![9usize, 60, 120];
        let mut n = 4;
        while out.len() + 200 < len {
            let chunk = (len - out.len()).min(self.rng.range(8_000, 64_000));
            offsets.push(out.len());
            out.extend_from_slice(
                format!("{n} 0 obj\n<< /Length {chunk} /Filter /FlateDecode >>\nstream\n")
                    .as_bytes(),
            );
            let data = self.random_bytes(chunk);
            out.extend_from_slice(&data);
            out.extend_from_slice(b"\nendstream\nendobj\n");
            n += 1;
        }
        let xref = out.len();
        out.extend_from_slice(format!("xref\n0 {n}\n0000000000 65535 f \n").as_bytes());
        for off in offsets {
            out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!("trailer\n<< /Size {n} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
        );
        out
    }

    /// A baseline JFIF: real markers and tables, random entropy-coded data (0xFF stuffed).
    fn jpeg(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00,
            0x00, 0x48, 0x00, 0x48, 0x00, 0x00, 0xFF, 0xDB, 0x00, 0x43, 0x00,
        ];
        out.extend((0..64u8).map(|i| 2 + i / 4));
        out.extend_from_slice(&[
            0xFF, 0xC0, 0x00, 0x11, 0x08, 0x0B, 0xB8, 0x0F, 0xA0, 0x03, 0x01, 0x22, 0x00, 0x02,
            0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xDA, 0x00, 0x0C, 0x03, 0x01, 0x00, 0x02, 0x11,
            0x03, 0x11, 0x00, 0x3F, 0x00,
        ]);
        for b in self.random_bytes(len.saturating_sub(out.len() + 2)) {
            out.push(b);
            if b == 0xFF {
                out.push(0x00);
            }
        }
        out.extend_from_slice(&[0xFF, 0xD9]);
        out
    }

    fn png(&mut self, len: usize) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x03\x20\x00\x00\x02\x58\x08\x06\x00\x00\x00".to_vec();
        out.extend(self.random_bytes(4)); // CRC
        let body = len.saturating_sub(out.len() + 24);
        out.extend_from_slice(&(body as u32).to_be_bytes());
        out.extend_from_slice(b"IDAT");
        out.extend(self.random_bytes(body + 4));
        out.extend_from_slice(b"\x00\x00\x00\x00IEND\xaeB`\x82");
        out
    }

    /// An OOXML-like zip: local headers of deflated entries (random data), central
    /// directory, end record.
    fn zip(&mut self, len: usize, ext: &str) -> Vec<u8> {
        let names: &[&str] = if ext == "xlsx" {
            &[
                "[Content_Types].xml",
                "_rels/.rels",
                "xl/workbook.xml",
                "xl/styles.xml",
                "xl/worksheets/sheet1.xml",
                "xl/sharedStrings.xml",
                "docProps/core.xml",
            ]
        } else {
            &[
                "[Content_Types].xml",
                "_rels/.rels",
                "word/document.xml",
                "word/styles.xml",
                "word/fontTable.xml",
                "docProps/core.xml",
                "word/media/image1.png",
            ]
        };
        let mut out = Vec::with_capacity(len + 1024);
        let mut central = Vec::new();
        let per = len / names.len();
        for (i, name) in names.iter().enumerate() {
            let size = if i + 1 == names.len() {
                len.saturating_sub(out.len() + 600)
            } else {
                self.rng.range(per / 8, per / 4).max(64)
            };
            let offset = out.len() as u32;
            let crc = self.rng.next_u64() as u32;
            let header = |sig: &[u8], central: bool| {
                let mut h = sig.to_vec();
                if central {
                    h.extend_from_slice(&[0x14, 0x00]);
                }
                h.extend_from_slice(&[0x14, 0x00, 0x06, 0x00, 0x08, 0x00, 0x00, 0x00, 0x21, 0x00]);
                h.extend_from_slice(&crc.to_le_bytes());
                h.extend_from_slice(&(size as u32).to_le_bytes());
                h.extend_from_slice(&((size * 4) as u32).to_le_bytes());
                h.extend_from_slice(&(name.len() as u16).to_le_bytes());
                h.extend_from_slice(&[0, 0]);
                if central {
                    h.extend_from_slice(&[0; 8]);
                    h.extend_from_slice(&[0; 2]);
                    h.extend_from_slice(&offset.to_le_bytes());
                }
                h.extend_from_slice(name.as_bytes());
                h
            };
            out.extend(header(b"PK\x03\x04", false));
            out.extend(self.random_bytes(size));
            central.extend(header(b"PK\x01\x02", true));
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
        out.extend_from_slice(&(names.len() as u16).to_le_bytes());
        out.extend_from_slice(&(names.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out
    }

    fn csv(&mut self, len: usize) -> Vec<u8> {
        let mut out = String::from("date,invoice,customer,item,quantity,unit_price,total,notes\n");
        let mut n = 0;
        while out.len() < len {
            n += 1;
            let q = self.rng.range(1, 40);
            let p = self.rng.range(100, 99_999);
            let customer = LAST_NAMES[self.rng.below(LAST_NAMES.len())];
            let item = self.word();
            let note = self.word();
            out.push_str(&format!(
                "2026-{:02}-{:02},INV-{:06},{customer} S.r.l.,{item},{q},{}.{:02},{}.{:02},{note}\n",
                1 + n % 12,
                1 + n % 28,
                40_000 + n,
                p / 100,
                p % 100,
                q * p / 100,
                (q * p) % 100
            ));
        }
        out.into_bytes()
    }

    fn ics(&mut self) -> Vec<u8> {
        let uid = self.token(24);
        let summary = self.subject();
        let start = self.rng.range(8, 17);
        format!(
            "BEGIN:VCALENDAR\nMETHOD:REQUEST\nPRODID:Microsoft Exchange Server 2010\nVERSION:2.0\n\
             BEGIN:VTIMEZONE\nTZID:W. Europe Standard Time\nBEGIN:STANDARD\nDTSTART:16010101T030000\n\
             TZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\n\
             END:STANDARD\nBEGIN:DAYLIGHT\nDTSTART:16010101T020000\nTZOFFSETFROM:+0100\n\
             TZOFFSETTO:+0200\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\nEND:DAYLIGHT\n\
             END:VTIMEZONE\nBEGIN:VEVENT\nORGANIZER;CN=Organizer:mailto:organizer@example.com\n\
             ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Attendee:mailto:attendee@example.com\n\
             DESCRIPTION;LANGUAGE=en-US:{summary}\nUID:{uid}\nSUMMARY;LANGUAGE=en-US:{summary}\n\
             DTSTART;TZID=W. Europe Standard Time:20261112T{start:02}0000\n\
             DTEND;TZID=W. Europe Standard Time:20261112T{:02}0000\nCLASS:PUBLIC\nPRIORITY:5\n\
             DTSTAMP:20261101T090000Z\nTRANSP:OPAQUE\nSTATUS:CONFIRMED\nSEQUENCE:0\n\
             LOCATION;LANGUAGE=en-US:Room {}\nBEGIN:VALARM\nDESCRIPTION:REMINDER\n\
             TRIGGER;RELATED=START:-PT15M\nACTION:DISPLAY\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR\n",
            start + 1,
            self.rng.range(1, 40)
        )
        .into_bytes()
    }

    fn svg(&mut self, len: usize) -> Vec<u8> {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"600\" viewBox=\"0 0 800 600\">\n",
        );
        while out.len() + 10 < len {
            let (x, y) = (self.rng.below(800), self.rng.below(600));
            let (dx, dy) = (self.rng.below(120), self.rng.below(120));
            out.push_str(&format!(
                "  <path d=\"M{x} {y} L{} {} L{} {y} Z\" fill=\"#{:06x}\" stroke=\"#333333\" stroke-width=\"1\"/>\n",
                x + dx,
                y + dy,
                x + dx / 2,
                self.rng.below(0xFF_FFFF)
            ));
        }
        out.push_str("</svg>\n");
        out.into_bytes()
    }

    /// An e-invoice (FatturaPA-like): very repetitive XML.
    fn xml_invoice(&mut self, len: usize) -> Vec<u8> {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<p:FatturaElettronica versione=\"FPR12\" xmlns:p=\"http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2\">\n<FatturaElettronicaBody>\n<DatiBeniServizi>\n",
        );
        let mut line = 0;
        while out.len() + 60 < len {
            line += 1;
            let p = self.rng.range(100, 99_999);
            let w = self.word();
            out.push_str(&format!(
                "<DettaglioLinee>\n  <NumeroLinea>{line}</NumeroLinea>\n  <Descrizione>{}</Descrizione>\n  <Quantita>{}.00</Quantita>\n  <PrezzoUnitario>{}.{:02}</PrezzoUnitario>\n  <AliquotaIVA>22.00</AliquotaIVA>\n</DettaglioLinee>\n",
                html_escape(w),
                self.rng.range(1, 20),
                p / 100,
                p % 100
            ));
        }
        out.push_str("</DatiBeniServizi>\n</FatturaElettronicaBody>\n</p:FatturaElettronica>\n");
        out.into_bytes()
    }

    /// An OLE2 compound file (old .doc): the header, FAT sectors full of the same markers,
    /// text in UTF-16LE and zero padding.
    fn ole_doc(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&[0x3E, 0x00, 0x03, 0x00, 0xFE, 0xFF, 0x09, 0x00, 0x06, 0x00]);
        out.resize(76, 0);
        out.resize(512, 0xFF);
        for _ in 0..2 {
            for i in 0..128u32 {
                let v = if i < 100 { i + 1 } else { 0xFFFF_FFFE };
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        while out.len() < len {
            let text = self.paragraphs(2_000, false);
            for unit in text.encode_utf16() {
                out.extend_from_slice(&unit.to_le_bytes());
            }
            let pad = (512 - out.len() % 512) % 512;
            out.resize(out.len() + pad, 0);
        }
        out
    }

    /// `count` new attachments sharing about `budget` bytes (an invite stays small).
    fn new_attachments(
        &mut self,
        budget: usize,
        count: usize,
        sender: &str,
        subject: &str,
        date: i64,
    ) -> Vec<Rc<SharedAttachment>> {
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let (mime, ext, _, _) = ATTACHMENT_KINDS[self.attachment_kind()];
            let share = if i + 1 == count {
                budget
            } else {
                budget / (count - i) / 2
            };
            let raw = self.attachment_bytes(ext, share * 57 / 78);
            let stem = match ext {
                "ics" => "invite".to_string(),
                "xml" => format!("IT01234567890_{}", self.token(5)),
                _ => format!(
                    "{}_{}",
                    capitalised(WORDS[self.rng.below(WORDS.len())]),
                    2024 + self.rng.below(3)
                ),
            };
            out.push(Rc::new(SharedAttachment {
                filename: format!("{stem}.{ext}"),
                mime,
                base64: base64_lines(&raw),
                sender: sender.to_string(),
                subject: subject.to_string(),
                date,
            }));
        }
        out
    }

    /// The inline logo of a sender domain: the same bytes in every message from it.
    fn logo(&self, domain: &str) -> Vec<u8> {
        let mut rng = Rng::new(derive_seed(
            self.cfg.seed,
            blake3::hash(domain.as_bytes()).as_bytes()[0] as u64 + 7_000,
        ));
        let len = 4_000 + rng.below(8_000);
        let mut out = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\xb4\x00\x00\x00\x3c\x08\x06\x00\x00\x00".to_vec();
        let mut data = vec![0u8; len];
        rng.fill(&mut data);
        out.extend(data);
        out.extend_from_slice(b"\x00\x00\x00\x00IEND\xaeB`\x82");
        out
    }

    // --- messages -----------------------------------------------------------------------

    /// A body tree for a personal text: returns (Content-Type header lines of the message,
    /// body after the header block).
    fn text_body(
        &mut self,
        text: &str,
        html: Option<&str>,
        cte: Cte,
        logo: Option<&str>,
    ) -> (String, String) {
        let plain_type = if cte == Cte::EightBit {
            "text/plain; charset=\"UTF-8\"; format=flowed"
        } else {
            "text/plain; charset=\"UTF-8\""
        };
        let Some(html) = html else {
            return (
                format!(
                    "Content-Type: {plain_type}\nContent-Transfer-Encoding: {}\n",
                    cte.name()
                ),
                cte.encode(text),
            );
        };
        let alt = self.boundary();
        let mut body = format!(
            "--{alt}\nContent-Type: {plain_type}\nContent-Transfer-Encoding: {}\n\n{}\n--{alt}\n\
             Content-Type: text/html; charset=\"UTF-8\"\nContent-Transfer-Encoding: {}\n\n{}\n--{alt}--\n",
            cte.name(),
            cte.encode(text),
            cte.name(),
            cte.encode(html)
        );
        let mut head = format!("Content-Type: multipart/alternative; boundary=\"{alt}\"\n");
        if let Some(domain) = logo {
            let rel = self.boundary();
            let cid = format!("logo.{domain}");
            let image = base64_lines(&self.logo(domain));
            body = format!(
                "--{rel}\n{head}\n{body}\n--{rel}\nContent-Type: image/png; name=\"logo.png\"\n\
                 Content-Description: logo.png\nContent-Disposition: inline; filename=\"logo.png\"\n\
                 Content-ID: <{cid}>\nContent-Transfer-Encoding: base64\n\n{}--{rel}--\n",
                String::from_utf8_lossy(&image)
            );
            head = format!(
                "Content-Type: multipart/related; boundary=\"{rel}\"; type=\"multipart/alternative\"\n"
            );
        }
        (head, body)
    }

    /// Personal or business mail to `recipients` (group-local), possibly from a local sender.
    fn personal(&mut self, recipients: &[usize], local_sender: Option<usize>) -> io::Result<()> {
        let received = self.received_time();
        let date = received - self.rng.range_i64(2, 180);
        let target = sample_real_size(&mut self.rng);
        let sender = match local_sender {
            Some(a) => self.local_person(a),
            None => self.external_person(),
        };
        let domain = sender
            .address
            .rsplit('@')
            .next()
            .unwrap_or("example.com")
            .to_string();
        let has_attachment = target >= REAL_ATTACHMENT_THRESHOLD;
        let forward_attachment = if has_attachment && self.rng.chance(0.25) {
            let candidates: Vec<usize> = (0..self.attachments.len())
                .filter(|&i| {
                    self.attachments[i]
                        .first()
                        .is_some_and(|a| a.sender != sender.address)
                })
                .collect();
            self.rng
                .pick(&candidates)
                .and_then(|&i| self.attachments.get(i).cloned())
        } else {
            None
        };
        let forward_message = if forward_attachment.is_none() && self.rng.chance(0.04) {
            let candidates: Vec<usize> = (0..self.messages.len())
                .filter(|&i| self.messages[i].sender != sender.address)
                .collect();
            self.rng
                .pick(&candidates)
                .and_then(|&i| self.messages.get(i).cloned())
        } else {
            None
        };
        let reply = if !has_attachment
            && forward_message.is_none()
            && !self.threads.is_empty()
            && self.rng.chance(0.3)
        {
            let i = self.rng.below(self.threads.len());
            self.threads.get(i).map(|t| {
                (
                    t.subject.clone(),
                    t.message_id.clone(),
                    t.references.clone(),
                    t.from.clone(),
                    t.address.clone(),
                    t.date,
                    t.text.clone(),
                )
            })
        } else {
            None
        };
        let base_subject = match (&reply, &forward_attachment, &forward_message) {
            (Some(r), _, _) => r.0.clone(),
            (_, Some(a), _) => a.first().map_or_else(String::new, |a| a.subject.clone()),
            (_, _, Some(m)) => m.subject.clone(),
            _ => self.subject(),
        };
        let subject = if reply.is_some() {
            format!("Re: {base_subject}")
        } else if forward_attachment.is_some() || forward_message.is_some() {
            format!("Fwd: {base_subject}")
        } else {
            base_subject.clone()
        };
        let message_id = self.message_id(&domain);
        let to_people: Vec<Person> = recipients.iter().map(|&r| self.local_person(r)).collect();
        let first_to = to_people
            .first()
            .map_or("all", |p| p.name.as_str())
            .to_string();

        // Choose the body shape.
        let r = self.rng.unit();
        let outlook = self.rng.chance(0.4);
        let (cte, html, logo) = match r {
            r if r < 0.55 => (Cte::Qp, true, false),
            r if r < 0.62 => (Cte::Base64, true, false),
            r if r < 0.82 => (Cte::EightBit, false, false),
            r if r < 0.90 => (Cte::Qp, false, false),
            r if r < 0.95 => (Cte::Base64, false, false),
            _ => (Cte::Qp, true, true),
        };
        let flowed = cte == Cte::EightBit;
        let overhead = 2_600 + if html { 1_500 } else { 0 };
        let body_target = target.saturating_sub(overhead).max(200);
        let text_target = if has_attachment {
            self.rng.range(400, 3_000)
        } else if html {
            body_target * 10 / 26
        } else {
            body_target * 10 / 12
        };
        let mut text = self.letter(text_target, &first_to, &sender, flowed);
        if let Some(atts) = &forward_attachment
            && let Some(a) = atts.first()
        {
            text.push_str(&format!(
                "\n---------- Forwarded message ---------\nFrom: {}\nDate: {}\nSubject: {}\n\n",
                a.sender,
                rfc2822_date(a.date, 60),
                a.subject
            ));
        }
        let mut quote = None;
        let mut references = String::new();
        if let Some((_, parent_id, parent_refs, from, _, parent_date, parent_text)) = &reply {
            references = if parent_refs.is_empty() {
                parent_id.clone()
            } else {
                format!("{parent_refs}\n {parent_id}")
            };
            quote = Some((
                format!("On {}, {from} wrote:", rfc2822_date(*parent_date, 60)),
                parent_text.clone(),
            ));
            self.stats.replies += 1;
        }
        // The HTML of the new text, the parent in a <blockquote>; then the text part quotes
        // the parent with `> ` (a line already quoted gets one more `>`).
        let html_text = html.then(|| {
            Self::letter_html(
                &text,
                outlook,
                quote.as_ref().map(|(a, p)| (a.as_str(), p.as_str())),
            )
        });
        if let Some((attribution, parent_text)) = &quote {
            text.push('\n');
            text.push_str(attribution);
            text.push('\n');
            for line in parent_text.lines() {
                text.push_str(if line.starts_with('>') { ">" } else { "> " });
                text.push_str(line);
                text.push('\n');
            }
        }
        let (mut ctype, mut body) = self.text_body(
            &text,
            html_text.as_deref(),
            cte,
            logo.then_some(domain.as_str()),
        );

        // Attachments or a forwarded message: wrap in multipart/mixed.
        let attachments = match &forward_attachment {
            Some(a) => Some(Rc::clone(a)),
            None if has_attachment => {
                let count = match self.rng.below(10) {
                    0..=6 => 1,
                    7 | 8 => 2,
                    _ => 3,
                };
                let budget = body_target.saturating_sub(body.len());
                let atts = Rc::new(self.new_attachments(
                    budget,
                    count,
                    &sender.address,
                    &base_subject,
                    date,
                ));
                pool_push(
                    &mut self.rng,
                    &mut self.attachments,
                    ATTACHMENT_POOL,
                    Rc::clone(&atts),
                );
                Some(atts)
            }
            None if self.rng.chance(0.04) => {
                // A meeting invite in ordinary mail.
                let ics = self.ics();
                Some(Rc::new(vec![Rc::new(SharedAttachment {
                    filename: "invite.ics".into(),
                    mime: "text/calendar",
                    base64: base64_lines(&ics),
                    sender: sender.address.clone(),
                    subject: base_subject.clone(),
                    date,
                })]))
            }
            None => None,
        };
        if attachments.is_some() || forward_message.is_some() {
            let mixed = self.boundary();
            let mut m = format!("--{mixed}\n{ctype}\n{body}\n");
            for a in attachments.iter().flat_map(|v| v.iter()) {
                m.push_str(&format!(
                    "--{mixed}\nContent-Type: {}; name=\"{}\"\nContent-Disposition: attachment; filename=\"{}\"\n\
                     Content-Transfer-Encoding: base64\n\n{}",
                    a.mime,
                    a.filename,
                    a.filename,
                    String::from_utf8_lossy(&a.base64)
                ));
            }
            if let Some(fwd) = &forward_message {
                m.push_str(&format!(
                    "--{mixed}\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"forwarded.eml\"\n\n{}\n",
                    String::from_utf8_lossy(&fwd.bytes)
                ));
                self.stats.rfc822_forwards += 1;
            }
            m.push_str(&format!("--{mixed}--\n"));
            ctype = format!("Content-Type: multipart/mixed; boundary=\"{mixed}\"\n");
            body = m;
            self.stats.with_attachment += u64::from(attachments.is_some());
            if forward_attachment.is_some() {
                self.stats.forwarded_attachments += 1;
            }
        }

        // The client's header block.
        let mut head = String::with_capacity(1024);
        head.push_str("MIME-Version: 1.0\n");
        head.push_str(&format!("From: {}\n", sender.mailbox()));
        head.push_str(&format!("Date: {}\n", rfc2822_date(date, 60)));
        head.push_str(&format!("Message-ID: {message_id}\n"));
        head.push_str(&format!("Subject: {}\n", encoded_word(&subject)));
        let to: Vec<String> = to_people.iter().take(3).map(Person::mailbox).collect();
        head.push_str(&format!("To: {}\n", to.join(",\n ")));
        if to_people.len() > 3 {
            let cc: Vec<String> = to_people.iter().skip(3).map(Person::mailbox).collect();
            head.push_str(&format!("Cc: {}\n", cc.join(",\n ")));
        }
        if let Some((_, parent_id, ..)) = &reply {
            head.push_str(&format!(
                "In-Reply-To: {parent_id}\nReferences: {references}\n"
            ));
        }
        if outlook {
            head.push_str(&format!(
                "Thread-Topic: {}\nThread-Index: {}\nX-MS-Has-Attach: {}\nX-MS-TNEF-Correlator:\n",
                encoded_word(&base_subject),
                self.token(40),
                if attachments.is_some() { "yes" } else { "" }
            ));
        }
        head.push_str(if outlook {
            "X-Mailer: Microsoft Outlook 16.0\n"
        } else {
            "User-Agent: Mozilla Thunderbird\n"
        });
        head.push_str(&ctype);
        head.push('\n');
        let mut client = head.into_bytes();
        client.extend_from_slice(body.as_bytes());

        // Pools: threads and forwardable messages.
        let excerpt: String = text.chars().take(4_000).collect();
        let entry = ThreadRef {
            subject: base_subject.clone(),
            message_id: message_id.clone(),
            references,
            from: sender.mailbox(),
            address: sender.address.clone(),
            date,
            text: excerpt,
        };
        pool_push(&mut self.rng, &mut self.threads, THREAD_POOL, entry);
        if client.len() <= 64 * 1024 && forward_message.is_none() {
            let f = Rc::new(Forwardable {
                subject: base_subject,
                sender: sender.address.clone(),
                bytes: client.clone(),
            });
            pool_push(&mut self.rng, &mut self.messages, MESSAGE_POOL, f);
        }

        let first_rcpt = recipients
            .first()
            .map_or_else(|| account_id(self.first), |&r| account_id(self.first + r));
        let transit = match local_sender {
            Some(_) => self.submission(&first_rcpt, received),
            None => self.transit(&sender.address, &first_rcpt, date, received),
        };
        let mut delivered = transit.into_bytes();
        delivered.extend_from_slice(&client);
        let delivered = crlf(&delivered);
        self.stats.delivered += 1;
        if recipients.len() > 1 {
            self.stats.multi_delivered += 1;
        }
        for &r in recipients {
            let rcpt = account_id(self.first + r);
            let mut copy = crlf(
                self.delivery_prefix(&sender.address, &rcpt, received)
                    .as_bytes(),
            );
            copy.extend_from_slice(&delivered);
            let folder = self.inbox(received);
            self.write(r, folder, None, received, &copy)?;
        }
        if let Some(s) = local_sender {
            self.stats.sent_copies += 1;
            self.write(s, SENT, Some("S"), received, &crlf(&client))?;
        }
        Ok(())
    }

    /// A mailing-list post to the group's readers of list `list`: plain text, the list
    /// footer, List-* headers; the same bytes (but the delivery headers) for every reader.
    fn list_post(&mut self, readers: &[usize], list: usize) -> io::Result<()> {
        let name = LIST_NAMES[list % LIST_NAMES.len()];
        let received = self.received_time();
        let date = received - self.rng.range_i64(30, 900);
        let sender = self.external_person();
        let domain = "lists.example.org";
        let target = sample_real_size(&mut self.rng).min(40_000);
        let cte = if self.rng.chance(0.7) {
            Cte::EightBit
        } else {
            Cte::Qp
        };
        let mut text = self.paragraphs(target.saturating_sub(3_500).max(300), cte == Cte::EightBit);
        let quote = if !self.threads.is_empty() && self.rng.chance(0.4) {
            let i = self.rng.below(self.threads.len());
            self.threads
                .get(i)
                .map(|t| (t.from.clone(), t.text.clone()))
        } else {
            None
        };
        if let Some((from, parent)) = &quote {
            text = format!("{from} wrote:\n");
            for line in parent.lines().take(30) {
                text.push_str("> ");
                text.push_str(line);
                text.push('\n');
            }
            text.push('\n');
            text.push_str(&self.paragraphs(800, cte == Cte::EightBit));
        }
        text.push_str(&format!(
            "_______________________________________________\n{name} mailing list\n{name}@{domain}\n\
             https://{domain}/mailman/listinfo/{name}\n"
        ));
        let subject = format!("[{name}] {}", self.subject());
        let message_id = self.message_id("mail.example.org");
        let plain = if cte == Cte::EightBit {
            "text/plain; charset=\"UTF-8\"; format=flowed"
        } else {
            "text/plain; charset=\"UTF-8\""
        };
        let head = format!(
            "From: {}\nTo: {name}@{domain}\nSubject: {subject}\nDate: {}\nMessage-ID: {message_id}\n\
             MIME-Version: 1.0\nContent-Type: {plain}\nContent-Transfer-Encoding: {}\n\
             X-BeenThere: {name}@{domain}\nX-Mailman-Version: 3.3.9\nPrecedence: list\n\
             List-Id: {name} discussion <{name}.{domain}>\n\
             List-Unsubscribe: <https://{domain}/mailman/options/{name}>,\n <mailto:{name}-request@{domain}?subject=unsubscribe>\n\
             List-Archive: <https://{domain}/pipermail/{name}/>\nList-Post: <mailto:{name}@{domain}>\n\
             List-Help: <mailto:{name}-request@{domain}?subject=help>\n\
             List-Subscribe: <https://{domain}/mailman/listinfo/{name}>,\n <mailto:{name}-request@{domain}?subject=subscribe>\n\
             Errors-To: {name}-bounces@{domain}\nSender: \"{name}\" <{name}-bounces@{domain}>\n\n",
            sender.mailbox(),
            rfc2822_date(date, 0),
            cte.name()
        );
        let bounce = format!("{name}-bounces@{domain}");
        let first_rcpt = readers
            .first()
            .map_or_else(|| account_id(self.first), |&r| account_id(self.first + r));
        let mut delivered = self
            .transit(&bounce, &first_rcpt, date, received)
            .into_bytes();
        delivered.extend_from_slice(head.as_bytes());
        delivered.extend_from_slice(cte.encode(&text).as_bytes());
        let delivered = crlf(&delivered);
        self.stats.delivered += 1;
        self.stats.list_posts += 1;
        if readers.len() > 1 {
            self.stats.multi_delivered += 1;
        }
        for &r in readers {
            let rcpt = account_id(self.first + r);
            let mut copy = crlf(self.delivery_prefix(&bounce, &rcpt, received).as_bytes());
            copy.extend_from_slice(&delivered);
            self.write(r, LISTS, None, received, &copy)?;
        }
        Ok(())
    }

    /// One subscriber's copy of this week's issue of one of its newsletters.
    fn newsletter(&mut self, local: usize, issues: &mut IssueCache) -> io::Result<()> {
        let account = self.first + local;
        let subs = subscriptions(account);
        let nl = subs[self.rng.below(subs.len())];
        let received_draw = self.received_time();
        // The current issue, or the one before when the current one is not sent yet.
        let mut number = received_draw.div_euclid(issues.period);
        let mut issue = issues.get(self.cfg.seed, nl, number);
        if issue.date >= received_draw {
            number -= 1;
            issue = issues.get(self.cfg.seed, nl, number);
        }
        // Delivered a little after the send time, inside this batch's window.
        let sent = issue.date + self.rng.range_i64(30, 3_600);
        let received = if sent < self.window.0 {
            received_draw
        } else {
            sent.min(self.window.1 - 1)
        };
        let (name, domain, _) = NEWSLETTERS[nl];
        let rcpt = account_id(account);
        let bounce = format!("bounce-{}@{domain}", issue.campaign);
        let (to, unsub, msg_id, transit) = match self.cfg.copies {
            CopyMode::PerRecipientHeaders => {
                let t = self.token(24);
                let id = self.message_id(domain);
                let transit = self.transit(&bounce, &rcpt, issue.date, received);
                (rcpt.clone(), format!("https://{domain}/u/{t}"), id, transit)
            }
            CopyMode::Identical => (
                format!("subscribers@{domain}"),
                format!("https://{domain}/u/{}", issue.campaign),
                format!("<{}.{number}@{domain}>", issue.campaign),
                format!(
                    "Received: from mta.{domain} by mx.example.net (Postfix) with ESMTPS; {}\n",
                    rfc2822_date(issue.date, 0)
                ),
            ),
        };
        let head = format!(
            "From: {} <news@{domain}>\nReply-To: {} <support@{domain}>\nTo: {to}\nSubject: {}\n\
             Date: {}\nMessage-ID: {msg_id}\nMIME-Version: 1.0\n\
             Content-Type: multipart/alternative; boundary=\"{}\"\n\
             List-Id: {name} <{}.list-id.{domain}>\n\
             List-Unsubscribe: <{unsub}>, <mailto:unsubscribe@{domain}?subject=unsubscribe>\n\
             List-Unsubscribe-Post: List-Unsubscribe=One-Click\nPrecedence: bulk\n\
             Feedback-ID: {}:newsletter:{domain}\nX-Campaign-Id: {}\n\n",
            encoded_word(name),
            encoded_word(name),
            encoded_word(&issue.subject),
            rfc2822_date(issue.date, 0),
            issue.boundary,
            issue.campaign,
            issue.campaign,
            issue.campaign
        );
        let mut copy = crlf(self.delivery_prefix(&bounce, &rcpt, received).as_bytes());
        copy.extend(crlf(transit.as_bytes()));
        copy.extend(crlf(head.as_bytes()));
        copy.extend_from_slice(&issue.body);
        self.stats.delivered += 1;
        self.stats.newsletters += 1;
        let folder = self.inbox(received);
        self.write(local, folder, None, received, &copy)
    }

    fn draft(&mut self, local: usize) -> io::Result<()> {
        let when = self.received_time();
        let me = self.local_person(local);
        let to = self.external_person();
        let subject = self.subject();
        let size = self.rng.range(300, 3_000);
        let text = self.letter(size, &to.name, &me, false);
        let html = Self::letter_html(&text, false, None);
        let (ctype, body) = self.text_body(&text, Some(&html), Cte::Qp, None);
        let id = self.message_id("example.com");
        let msg = format!(
            "MIME-Version: 1.0\nFrom: {}\nTo: {}\nSubject: {}\nDate: {}\nMessage-ID: {id}\n\
             User-Agent: Mozilla Thunderbird\n{ctype}\n{body}",
            me.mailbox(),
            to.mailbox(),
            encoded_word(&subject),
            rfc2822_date(when, 60),
        );
        self.stats.drafts += 1;
        self.write(local, DRAFTS, Some("DS"), when, &crlf(msg.as_bytes()))
    }
}

impl IssueCache {
    /// Issue `number` of newsletter `nl` (generated from the seed and the period alone).
    fn get(&mut self, seed: u64, nl: usize, number: i64) -> Rc<Issue> {
        let key = (nl, number);
        if let Some((_, issue)) = self.entries.iter().find(|(k, _)| *k == key) {
            return Rc::clone(issue);
        }
        let issue = Rc::new(make_issue(seed, nl, number, self.period));
        if self.entries.len() < ISSUE_CACHE {
            self.entries.push((key, Rc::clone(&issue)));
        } else {
            let slot = self.next % ISSUE_CACHE;
            self.next += 1;
            if let Some(e) = self.entries.get_mut(slot) {
                *e = (key, Rc::clone(&issue));
            }
        }
        issue
    }
}

/// One newsletter issue: a text version and a large templated HTML (tables, inline styles,
/// images by URL, buttons, tracking links), both quoted-printable.
fn make_issue(seed: u64, nl: usize, number: i64, period: i64) -> Issue {
    let (name, domain, colour) = NEWSLETTERS[nl];
    let mut rng = Rng::new(derive_seed(
        seed,
        (period as u64) << 32 ^ (nl as u64) << 24 ^ number.rem_euclid(1 << 24) as u64,
    ));
    // Sent early in its period, at a time of day of the newsletter's own.
    let date = number * period + (period / 4).min(3_600 * (1 + nl as i64)) + rng.range_i64(0, 1800);
    let campaign = format!("{:012x}", rng.next_u64() & 0xFFFF_FFFF_FFFF);
    let boundary = format!("_----{:016x}====", rng.next_u64());
    // A throwaway group only for its text helpers (same seed -> same issue).
    let cfg = WorkloadConfig {
        accounts: 1,
        messages_per_account: 1,
        seed,
        copies: CopyMode::Identical,
    };
    let mut g = Group {
        root: Path::new("/"),
        cfg: &cfg,
        rng,
        pid: 0,
        counter: 0,
        first: 0,
        window: (0, 1),
        freshness: Freshness::Old,
        threads: Vec::new(),
        attachments: Vec::new(),
        messages: Vec::new(),
        stats: GenStats::default(),
    };
    let subject = format!("{name}: {}", g.subject());
    let articles = g.rng.range(3, 14);
    let mut html = format!(
        "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
         <html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n\
         <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\">\n\
         <title>{}</title>\n<style type=\"text/css\">{NEWSLETTER_CSS}</style>\n</head>\n\
         <body style=\"margin:0;padding:0;background-color:#f4f4f4;\" class=\"dark-bg\">\n\
         <div style=\"display:none;font-size:1px;color:#f4f4f4;line-height:1px;max-height:0px;max-width:0px;opacity:0;overflow:hidden;\">{}</div>\n\
         <center>\n<table role=\"presentation\" border=\"0\" cellpadding=\"0\" cellspacing=\"0\" width=\"100%\" style=\"background-color:#f4f4f4;\">\n\
         <tr>\n<td align=\"center\" style=\"padding:20px 0;\">\n\
         <table role=\"presentation\" class=\"container\" border=\"0\" cellpadding=\"0\" cellspacing=\"0\" width=\"600\" style=\"background-color:#ffffff;max-width:600px;border-radius:6px;\">\n\
         <tr>\n<td class=\"pad\" style=\"padding:24px 24px 12px 24px;\"><a href=\"https://{domain}/?utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign={campaign}\"><img src=\"https://cdn.{domain}/logo.png\" width=\"180\" height=\"48\" alt=\"{name}\" style=\"display:block;border:0;\"></a></td>\n</tr>\n",
        html_escape(&subject),
        html_escape(&g.paragraphs(120, false).replace('\n', " "))
    );
    let mut text = format!(
        "{name}\n{}\n\nView in your browser: https://{domain}/v/{campaign}\n\n",
        subject
    );
    for k in 0..articles {
        let title = g.subject();
        let para_len = g.rng.range(300, 900);
        let para = g
            .paragraphs(para_len, false)
            .replace("\n\n", " ")
            .replace('\n', " ");
        let link = format!(
            "https://{domain}/r/{}?utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign={campaign}&amp;utm_content=article{k}",
            g.token(16)
        );
        html.push_str(&format!(
            "<tr>\n<td class=\"pad\" style=\"padding:0 24px 24px 24px;font-family:Helvetica,Arial,sans-serif;\">\n\
             <img src=\"https://cdn.{domain}/i/{campaign}/{k}.jpg\" width=\"552\" alt=\"\" style=\"display:block;width:100%;max-width:552px;height:auto;border:0;border-radius:4px;\">\n\
             <h2 style=\"margin:16px 0 8px 0;font-size:20px;line-height:26px;color:#{colour};font-family:Helvetica,Arial,sans-serif;\" class=\"dark-text\">{}</h2>\n\
             <p style=\"margin:0 0 12px 0;font-size:15px;line-height:22px;color:#333333;font-family:Helvetica,Arial,sans-serif;\" class=\"dark-text\">{}</p>\n\
             <table role=\"presentation\" border=\"0\" cellpadding=\"0\" cellspacing=\"0\"><tr><td style=\"border-radius:4px;background-color:#{colour};\">\
             <a href=\"{link}\" target=\"_blank\" style=\"display:inline-block;padding:10px 18px;font-size:15px;font-family:Helvetica,Arial,sans-serif;color:#ffffff;text-decoration:none;border-radius:4px;\">Read more &rarr;</a></td></tr></table>\n\
             </td>\n</tr>\n",
            html_escape(&title),
            html_escape(&para)
        ));
        text.push_str(&format!(
            "{title}\n\n{para}\n\nRead more: {}\n\n",
            link.replace("&amp;", "&")
        ));
    }
    let legal = g.paragraphs(500, false).replace('\n', " ");
    html.push_str(&format!(
        "<tr>\n<td style=\"padding:24px;background-color:#eeeeee;font-family:Helvetica,Arial,sans-serif;font-size:12px;line-height:18px;color:#777777;\">\n\
         {name} &middot; Via Roma 1, 20121 Milano &middot; Italy<br>\n\
         You receive this email because you subscribed on {domain}. \n\
         <a href=\"https://{domain}/preferences?c={campaign}\" style=\"color:#777777;text-decoration:underline;\">Preferences</a> &middot; \n\
         <a href=\"https://{domain}/unsubscribe?c={campaign}\" style=\"color:#777777;text-decoration:underline;\">Unsubscribe</a><br>\n\
         {}\n</td>\n</tr>\n</table>\n</td>\n</tr>\n</table>\n</center>\n\
         <img src=\"https://t.{domain}/o/{campaign}.gif\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;height:1px;width:1px;border:0;\">\n\
         </body>\n</html>\n",
        html_escape(&legal)
    ));
    text.push_str(&format!(
        "--\n{name}, Via Roma 1, 20121 Milano, Italy\nUnsubscribe: https://{domain}/unsubscribe?c={campaign}\n"
    ));
    let body = format!(
        "This is a multi-part message in MIME format.\n\n--{boundary}\nContent-Type: text/plain; charset=\"UTF-8\"\n\
         Content-Transfer-Encoding: quoted-printable\n\n{}\n--{boundary}\nContent-Type: text/html; charset=\"UTF-8\"\n\
         Content-Transfer-Encoding: quoted-printable\n\n{}\n--{boundary}--\n",
        quoted_printable(text.as_bytes()),
        quoted_printable(html.as_bytes())
    );
    Issue {
        subject,
        date,
        boundary,
        body: crlf(body.as_bytes()),
        campaign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEK: i64 = 7 * 86_400;

    #[test]
    fn quoted_printable_follows_rfc_2045() {
        assert_eq!(quoted_printable(b"a=b"), "a=3Db");
        assert_eq!(quoted_printable("café".as_bytes()), "caf=C3=A9");
        assert_eq!(quoted_printable(b"end \nnext"), "end=20\nnext");
        assert_eq!(quoted_printable(b"tab\t"), "tab=09");
        let long = "x".repeat(200);
        let qp = quoted_printable(long.as_bytes());
        assert!(qp.lines().all(|l| l.len() <= 76), "{qp}");
        assert_eq!(qp.replace("=\n", ""), long);
        // A soft break never splits an escape.
        let accents = "é".repeat(60);
        let qp = quoted_printable(accents.as_bytes());
        for line in qp.lines() {
            assert!(line.len() <= 76);
            let body = line.strip_suffix('=').unwrap_or(line);
            assert_eq!(body.len() % 3, 0, "{line}");
        }
    }

    #[test]
    fn encoded_words_and_crlf() {
        assert_eq!(encoded_word("plain"), "plain");
        assert_eq!(
            encoded_word("José Núñez"),
            "=?UTF-8?Q?Jos=C3=A9_N=C3=BA=C3=B1ez?="
        );
        assert_eq!(crlf(b"a\nb\n\nc"), b"a\r\nb\r\n\r\nc");
    }

    #[test]
    fn real_size_model_has_its_median_and_tail() {
        let mut rng = Rng::new(3);
        let mut sizes: Vec<usize> = (0..100_000).map(|_| sample_real_size(&mut rng)).collect();
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2] as f64;
        let p99 = sizes[sizes.len() * 99 / 100] as f64;
        assert!((median / REAL_MEDIAN_SIZE - 1.0).abs() < 0.05, "{median}");
        assert!((p99 / REAL_P99_SIZE - 1.0).abs() < 0.1, "{p99}");
        let attach = sizes
            .iter()
            .filter(|&&s| s >= REAL_ATTACHMENT_THRESHOLD)
            .count() as f64
            / sizes.len() as f64;
        assert!((0.08..0.16).contains(&attach), "{attach}");
    }

    #[test]
    fn issues_are_a_function_of_seed_newsletter_and_number() {
        let a = make_issue(1, 3, 2_900, WEEK);
        let b = make_issue(1, 3, 2_900, WEEK);
        assert_eq!(a.body, b.body);
        assert_ne!(a.body, make_issue(1, 3, 2_901, WEEK).body);
        assert_ne!(a.body, make_issue(2, 3, 2_900, WEEK).body);
        assert!(a.date >= 2_900 * WEEK && a.date < 2_901 * WEEK);
        assert!(a.body.len() > 10_000, "{}", a.body.len());
    }
}
