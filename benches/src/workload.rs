//! Deterministic workload generator: Maildir++ trees laid out the way Dovecot writes them.
//!
//! Layout under the output root, one directory per account (`user01@example.com`):
//!
//! ```text
//! <root>/<account>/cur new tmp              INBOX
//! <root>/<account>/.Sent/cur new tmp maildirfolder
//! <root>/<account>/.Archive.2024/...        (Archive/2024, hierarchy separator '.')
//! <root>/<account>/subscriptions            "V\t2\n\n" then one name a line, TAB-separated
//! ```
//!
//! File names are `<secs>.M<n>P<pid>.bench,S=<size>,W=<size+lines>:2,<flags>` (flags in the
//! order `DFPRST`); a message freshly delivered to `new/` has no `:2,` part, as with Dovecot's
//! LDA. The file's mtime is the received date (IMAP INTERNALDATE).
//!
//! Everything is derived from the seed: the same [`WorkloadConfig`] writes the same bytes,
//! names and mtimes, and [`day_step`] is deterministic given the seed, the day and the tree
//! it starts from.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::rng::{Rng, derive_seed};

/// The mail domain of the hosted accounts.
pub const DOMAIN: &str = "example.com";
/// Median message size in bytes (log-normal size model).
pub const MEDIAN_SIZE: f64 = 8.0 * 1024.0;
/// 99th percentile of message sizes in bytes.
pub const P99_SIZE: f64 = 400.0 * 1024.0;
/// Largest message (sizes are clamped here).
pub const MAX_SIZE: usize = 3 * 1024 * 1024;
/// Smallest target size (real messages are bigger anyway: headers alone exceed it).
pub const MIN_SIZE: usize = 600;
/// Messages whose drawn size reaches this carry a binary attachment (about 5% of them).
pub const ATTACHMENT_THRESHOLD: usize = 128 * 1024;
/// Share of delivered messages that go to several accounts.
pub const MULTI_DELIVERY_SHARE: f64 = 0.20;
/// Seconds since the Unix epoch of the first snapshot day, 2026-11-01T00:00:00Z.
pub const START_SECS: i64 = 1_793_491_200;
/// Days of mail history in the initial corpus.
pub const HISTORY_DAYS: i64 = 2 * 365 + 300;

/// z-score of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874;

/// One folder of the generated accounts.
#[derive(Debug, Clone, Copy)]
pub struct FolderSpec {
    /// IMAP name with '/' as separator (`Archive/2024`).
    pub name: &'static str,
    /// Directory under the account (`""` for INBOX, `.Archive.2024`).
    pub dir: &'static str,
    /// Line in the `subscriptions` file (TAB as hierarchy separator).
    pub subscription: &'static str,
    /// Whether the folder is listed in `subscriptions`.
    pub subscribed: bool,
}

/// The folders of every generated account (`Lists` is left unsubscribed).
pub const FOLDERS: [FolderSpec; 7] = [
    FolderSpec {
        name: "INBOX",
        dir: "",
        subscription: "INBOX",
        subscribed: true,
    },
    FolderSpec {
        name: "Sent",
        dir: ".Sent",
        subscription: "Sent",
        subscribed: true,
    },
    FolderSpec {
        name: "Drafts",
        dir: ".Drafts",
        subscription: "Drafts",
        subscribed: true,
    },
    FolderSpec {
        name: "Archive",
        dir: ".Archive",
        subscription: "Archive",
        subscribed: true,
    },
    FolderSpec {
        name: "Archive/2024",
        dir: ".Archive.2024",
        subscription: "Archive\t2024",
        subscribed: true,
    },
    FolderSpec {
        name: "Lists",
        dir: ".Lists",
        subscription: "Lists",
        subscribed: false,
    },
    FolderSpec {
        name: "Trash",
        dir: ".Trash",
        subscription: "Trash",
        subscribed: true,
    },
];
pub(crate) const INBOX: usize = 0;
pub(crate) const SENT: usize = 1;
pub(crate) const DRAFTS: usize = 2;
pub(crate) const ARCHIVE: usize = 3;
pub(crate) const ARCHIVE_2024: usize = 4;
pub(crate) const LISTS: usize = 5;
pub(crate) const TRASH: usize = 6;

/// How the copies of a message delivered to several accounts relate to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyMode {
    /// Each copy starts with its own LMTP delivery headers (`Return-Path`, `Delivered-To`,
    /// `Received ... for <rcpt>`), as a real delivery writes them.
    PerRecipientHeaders,
    /// Every copy is byte-identical (only a `Return-Path` naming the sender is prepended).
    Identical,
}

/// Which mail the generator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    /// The original workload: 7bit text (a third with a 7bit HTML alternative), random
    /// binary attachments, LF line ends. Unchanged, so its figures stay comparable.
    Classic,
    /// Mail that looks like real mail ([`crate::realmail`]): quoted-printable HTML
    /// alternatives, 8bit and base64 text, newsletters and lists, attachments of real kinds,
    /// forwards, CRLF.
    Real,
}

impl WorkloadKind {
    /// `classic` / `real`.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Classic => "classic",
            WorkloadKind::Real => "real",
        }
    }

    /// Writes the initial corpus of this kind.
    pub fn generate(self, root: &Path, cfg: &WorkloadConfig) -> io::Result<GenStats> {
        match self {
            WorkloadKind::Classic => generate(root, cfg),
            WorkloadKind::Real => crate::realmail::generate(root, cfg),
        }
    }

    /// One simulated day of this kind: the classic changes about 3% of the files a day,
    /// the real kind about 1.5%.
    pub fn day_step(
        self,
        root: &Path,
        cfg: &WorkloadConfig,
        day: u32,
        mode: DayMode,
    ) -> io::Result<DayStats> {
        match self {
            WorkloadKind::Classic => day_step_with(root, cfg, day, mode),
            WorkloadKind::Real => crate::realmail::day_step_with(root, cfg, day, mode),
        }
    }
}

/// Parses a shape `ACCOUNTSxMESSAGES` (`10x5000`, `1000x50`, `10000x20`).
pub fn parse_shape(text: &str) -> Result<(usize, usize), String> {
    let (a, m) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("shape {text:?}: expected ACCOUNTSxMESSAGES, e.g. 1000x50"))?;
    let parse = |v: &str| {
        v.trim()
            .replace([',', '_'], "")
            .parse::<usize>()
            .map_err(|e| format!("shape {text:?}: {e}"))
    };
    Ok((parse(a)?, parse(m)?))
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// Number of accounts (`user01@example.com` ...).
    pub accounts: usize,
    /// Message files per account in the initial corpus.
    pub messages_per_account: usize,
    /// Seed of everything.
    pub seed: u64,
    /// Per-recipient delivery headers or byte-identical copies.
    pub copies: CopyMode,
}

impl WorkloadConfig {
    /// Largest number of accounts accepted (ids up to `user100000@example.com`).
    pub const MAX_ACCOUNTS: usize = 100_000;
    /// Largest number of messages per account accepted.
    pub const MAX_MESSAGES: usize = 10_000_000;

    /// Checks the bounds; a clear error instead of a panic or a silly tree.
    pub fn validate(&self) -> io::Result<()> {
        if self.accounts == 0 || self.accounts > Self::MAX_ACCOUNTS {
            return Err(invalid(format!(
                "accounts must be between 1 and {}, got {}",
                Self::MAX_ACCOUNTS,
                self.accounts
            )));
        }
        if self.messages_per_account == 0 || self.messages_per_account > Self::MAX_MESSAGES {
            return Err(invalid(format!(
                "messages per account must be between 1 and {}, got {}",
                Self::MAX_MESSAGES,
                self.messages_per_account
            )));
        }
        Ok(())
    }

    /// The account ids, in order.
    pub fn account_ids(&self) -> Vec<String> {
        (0..self.accounts).map(account_id).collect()
    }
}

/// Account id of account number `index` (0-based): `user01@example.com`, ...,
/// `user100000@example.com` (letters, digits, `@` and `.` only).
pub fn account_id(index: usize) -> String {
    format!("user{:02}@{DOMAIN}", index + 1)
}

/// Counters of one generation batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GenStats {
    /// Files written.
    pub files: u64,
    /// Bytes written (sum of file sizes).
    pub bytes: u64,
    /// Distinct messages delivered by LMTP (each to one or more accounts).
    pub delivered: u64,
    /// Of those, delivered to two accounts or more.
    pub multi_delivered: u64,
    /// Distinct messages with a binary attachment.
    pub with_attachment: u64,
    /// Of those, re-sending an attachment already seen in an earlier message.
    pub forwarded_attachments: u64,
    /// Distinct messages that reply to an earlier one (`Re:`, `In-Reply-To`).
    pub replies: u64,
    /// Copies saved to a local sender's Sent folder.
    pub sent_copies: u64,
    /// Drafts.
    pub drafts: u64,
    /// Newsletter copies (real workload: one issue delivered to many accounts).
    pub newsletters: u64,
    /// Mailing-list posts (real workload; the classic counts them as ordinary deliveries).
    pub list_posts: u64,
    /// Forwards of a whole earlier message as a `message/rfc822` part (real workload).
    pub rfc822_forwards: u64,
}

impl GenStats {
    /// Adds the counters of another batch.
    pub fn add(&mut self, other: &GenStats) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.delivered += other.delivered;
        self.multi_delivered += other.multi_delivered;
        self.with_attachment += other.with_attachment;
        self.forwarded_attachments += other.forwarded_attachments;
        self.replies += other.replies;
        self.sent_copies += other.sent_copies;
        self.drafts += other.drafts;
        self.newsletters += other.newsletters;
        self.list_posts += other.list_posts;
        self.rfc822_forwards += other.rfc822_forwards;
    }
}

/// What one [`day_step`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DayStats {
    /// The day (1-based).
    pub day: u32,
    /// Message files before the step.
    pub files_before: u64,
    /// New mail.
    pub added: GenStats,
    /// Files deleted (expunged).
    pub deleted: u64,
    /// Their bytes (sum of file sizes).
    pub deleted_bytes: u64,
    /// Files renamed with new flags (or moved from new/ to cur/ when read).
    pub flag_changes: u64,
    /// Files moved to another folder.
    pub moved: u64,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Draws one message size from the log-normal model (median [`MEDIAN_SIZE`], 99th percentile
/// [`P99_SIZE`]), clamped to [`MIN_SIZE`]..=[`MAX_SIZE`].
pub fn sample_size(rng: &mut Rng) -> usize {
    let sigma = (P99_SIZE / MEDIAN_SIZE).ln() / Z99;
    let size = MEDIAN_SIZE * (sigma * rng.normal()).exp();
    (size as usize).clamp(MIN_SIZE, MAX_SIZE)
}

/// Seconds of the midnight (UTC) that starts snapshot day `day` (day 0 = 2026-11-01).
pub fn day_start_secs(day: u32) -> i64 {
    START_SECS + i64::from(day) * 86_400
}

/// `YYYY-MM-DD` of the UTC date of `secs`.
pub fn iso_date(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Civil date (year, month, day) of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// RFC 5322 date of `secs` shown in the time zone `offset_minutes` east of UTC.
pub fn rfc2822_date(secs: i64, offset_minutes: i32) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let local = secs + i64::from(offset_minutes) * 60;
    let days = local.div_euclid(86_400);
    let rem = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let month = MONTHS[(m as usize).saturating_sub(1) % 12];
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.unsigned_abs();
    format!(
        "{weekday}, {d} {month} {y} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        off / 60,
        off % 60
    )
}

/// Standard base64, wrapped at 76 columns with LF line ends (as MIME writers do).
pub fn base64_lines(data: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(data.len() / 57 * 78 + 80);
    for line in data.chunks(57) {
        for c in line.chunks(3) {
            let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            out.push(ALPHABET[(n >> 18) as usize & 63]);
            out.push(ALPHABET[(n >> 12) as usize & 63]);
            out.push(if c.len() > 1 {
                ALPHABET[(n >> 6) as usize & 63]
            } else {
                b'='
            });
            out.push(if c.len() > 2 {
                ALPHABET[n as usize & 63]
            } else {
                b'='
            });
        }
        out.push(b'\n');
    }
    out
}

/// Creates the Maildir++ skeleton of every account: folders with cur/new/tmp, the
/// `maildirfolder` marker and the `subscriptions` file.
pub fn create_tree(root: &Path, cfg: &WorkloadConfig) -> io::Result<()> {
    cfg.validate()?;
    for account in cfg.account_ids() {
        let base = root.join(&account);
        for folder in FOLDERS {
            let dir = base.join(folder.dir);
            for sub in ["cur", "new", "tmp"] {
                fs::create_dir_all(dir.join(sub))?;
            }
            if !folder.dir.is_empty() {
                fs::write(dir.join("maildirfolder"), b"")?;
            }
        }
        let mut subs = String::from("V\t2\n\n");
        for folder in FOLDERS.iter().filter(|f| f.subscribed) {
            subs.push_str(folder.subscription);
            subs.push('\n');
        }
        fs::write(base.join("subscriptions"), subs)?;
    }
    Ok(())
}

/// Writes the initial corpus: the skeleton plus exactly `messages_per_account` message files
/// in every account, received over the [`HISTORY_DAYS`] before [`START_SECS`].
pub fn generate(root: &Path, cfg: &WorkloadConfig) -> io::Result<GenStats> {
    cfg.validate()?;
    create_tree(root, cfg)?;
    let mut quotas = vec![cfg.messages_per_account; cfg.accounts];
    let mut generator = Generator::new(
        root,
        cfg,
        derive_seed(cfg.seed, 0),
        3_000,
        START_SECS - HISTORY_DAYS * 86_400,
        START_SECS - 60,
        Freshness::Old,
    );
    generator.run(&mut quotas)?;
    Ok(generator.stats)
}

/// One message file found in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFile {
    /// Account index.
    pub account: usize,
    /// Index in [`FOLDERS`].
    pub folder: usize,
    /// In `new/` (no flags part) rather than `cur/`.
    pub in_new: bool,
    /// File name.
    pub name: String,
}

impl MessageFile {
    /// Full path of the file under `root`.
    pub fn path(&self, root: &Path) -> PathBuf {
        folder_dir(root, self.account, self.folder)
            .join(if self.in_new { "new" } else { "cur" })
            .join(&self.name)
    }

    /// The name without the `:2,<flags>` part.
    pub fn base(&self) -> &str {
        self.name
            .split_once(":2,")
            .map_or(self.name.as_str(), |(b, _)| b)
    }

    /// The Maildir flag letters (empty for `new/`).
    pub fn flags(&self) -> &str {
        self.name.split_once(":2,").map_or("", |(_, f)| f)
    }
}

fn folder_dir(root: &Path, account: usize, folder: usize) -> PathBuf {
    let base = root.join(account_id(account));
    match FOLDERS.get(folder) {
        Some(f) if !f.dir.is_empty() => base.join(f.dir),
        _ => base,
    }
}

/// Every message file of every account, in a fixed order (account, folder, cur before new,
/// name).
pub fn scan(root: &Path, cfg: &WorkloadConfig) -> io::Result<Vec<MessageFile>> {
    let mut files = Vec::new();
    for account in 0..cfg.accounts {
        for folder in 0..FOLDERS.len() {
            for (sub, in_new) in [("cur", false), ("new", true)] {
                let dir = folder_dir(root, account, folder).join(sub);
                let mut names = Vec::new();
                for entry in fs::read_dir(&dir)? {
                    let entry = entry?;
                    if entry.file_type()?.is_file() {
                        names.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
                names.sort();
                files.extend(names.into_iter().map(|name| MessageFile {
                    account,
                    folder,
                    in_new,
                    name,
                }));
            }
        }
    }
    Ok(files)
}

/// Canonical Maildir flag string (order `DFPRST`, no duplicates) from any letters.
pub fn canonical_flags(letters: &str) -> String {
    "DFPRST".chars().filter(|c| letters.contains(*c)).collect()
}

/// How a day step chooses what to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DayMode {
    /// 0.5% of the files are deleted while 1–2% are added: the corpus grows by about 1% a
    /// day, as a mailbox that is never cleaned up.
    #[default]
    Growing,
    /// Old files are deleted until their bytes match the bytes of the day's new mail (within
    /// half of the last file deleted): the corpus keeps its size, as a mailbox whose owner
    /// (or an expiry policy) removes as much as arrives. Flag changes and moves are as in
    /// [`DayMode::Growing`].
    Balanced,
}

/// Simulates one day of mail (day >= 1): 1–2% new message files (with new multi-account
/// deliveries), 0.5% deleted, 1% flag changes (renaming the `:2,` suffix, or moving a read
/// message from `new/` to `cur/`), and a few moves between folders. New mail is received
/// during the UTC day before snapshot day `day`. The same as
/// [`day_step_with`]`(root, cfg, day, DayMode::Growing)`.
pub fn day_step(root: &Path, cfg: &WorkloadConfig, day: u32) -> io::Result<DayStats> {
    day_step_with(root, cfg, day, DayMode::Growing)
}

/// One simulated day (day >= 1) in the given [`DayMode`]. Deterministic given the seed, the
/// day, the mode and the tree it starts from; [`DayMode::Growing`] makes exactly the
/// changes [`day_step`] always made.
pub fn day_step_with(
    root: &Path,
    cfg: &WorkloadConfig,
    day: u32,
    mode: DayMode,
) -> io::Result<DayStats> {
    day_step_core(
        root,
        cfg,
        day,
        mode,
        &CLASSIC_RATES,
        &mut |seed, pid, lo, hi, quotas| {
            let mut generator = Generator::new(root, cfg, seed, pid, lo, hi, Freshness::New);
            generator.run(quotas)?;
            Ok(generator.stats)
        },
    )
}

/// The shares of a day step: what part of the files it deletes, renames with new flags,
/// moves to another folder, and how much new mail it delivers (`new_min` plus up to
/// `new_spread` more, drawn each day).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DayRates {
    pub(crate) delete: f64,
    pub(crate) flag: f64,
    pub(crate) moves: f64,
    pub(crate) new_min: f64,
    pub(crate) new_spread: f64,
}

/// The classic day step: 0.5% deleted, 1% flag changes, 0.1% moved, 1–2% new.
const CLASSIC_RATES: DayRates = DayRates {
    delete: 0.005,
    flag: 0.01,
    moves: 0.001,
    new_min: 0.01,
    new_spread: 0.01,
};

/// A batch of new mail: `(seed, pid, received from, received before, per-account quotas)`.
pub(crate) type NewMail<'a> =
    dyn FnMut(u64, u32, i64, i64, &mut [usize]) -> io::Result<GenStats> + 'a;

/// The day step shared by the workload kinds: the same draws in the same order whatever the
/// rates, so the classic day step is what it always was; `new_mail` writes the deliveries.
pub(crate) fn day_step_core(
    root: &Path,
    cfg: &WorkloadConfig,
    day: u32,
    mode: DayMode,
    rates: &DayRates,
    new_mail: &mut NewMail<'_>,
) -> io::Result<DayStats> {
    cfg.validate()?;
    if day == 0 {
        return Err(invalid(
            "day steps start at day 1 (day 0 is the initial corpus)".into(),
        ));
    }
    let mut rng = Rng::new(derive_seed(cfg.seed, 1_000_000 + u64::from(day)));
    let files = scan(root, cfg)?;
    let n = files.len();
    let mut stats = DayStats {
        day,
        files_before: n as u64,
        ..DayStats::default()
    };

    let deletes = match mode {
        DayMode::Growing => (n as f64 * rates.delete).round() as usize,
        // Chosen by bytes once the day's new mail is written (below).
        DayMode::Balanced => 0,
    };
    let flag_changes = (n as f64 * rates.flag).round() as usize;
    let moves = ((n as f64 * rates.moves).round() as usize).max(1).min(n);
    let picked = rng.sample_indices(n, deletes + flag_changes + moves);
    let (to_delete, rest) = picked.split_at(deletes.min(picked.len()));
    let (to_flag, to_move) = rest.split_at(flag_changes.min(rest.len()));

    for &i in to_delete {
        if let Some(file) = files.get(i) {
            let path = file.path(root);
            stats.deleted_bytes += fs::metadata(&path)?.len();
            fs::remove_file(path)?;
            stats.deleted += 1;
        }
    }
    for &i in to_flag {
        let Some(file) = files.get(i) else { continue };
        let old = file.flags();
        let new_flags = if file.in_new {
            "S".to_string() // the client opened it: new/ -> cur/ with \Seen
        } else {
            match rng.below(4) {
                0 if old.contains('S') => old.replace('S', ""), // mark unread
                0 | 1 => format!("{old}RS"),                    // answered
                2 if old.contains('F') => old.replace('F', ""), // unflag
                _ => format!("{old}F"),                         // flag
            }
        };
        let mut new_flags = canonical_flags(&new_flags);
        if !file.in_new && new_flags == canonical_flags(old) {
            // Already answered: flag or unflag instead, so every change is a real rename.
            new_flags = if old.contains('F') {
                old.replace('F', "")
            } else {
                canonical_flags(&format!("{old}F"))
            };
        }
        let target = MessageFile {
            in_new: false,
            name: format!("{}:2,{new_flags}", file.base()),
            ..file.clone()
        };
        fs::rename(file.path(root), target.path(root))?;
        stats.flag_changes += 1;
    }
    for &i in to_move {
        let Some(file) = files.get(i) else { continue };
        let dest = match file.folder {
            INBOX => {
                if rng.chance(0.5) {
                    ARCHIVE
                } else {
                    TRASH
                }
            }
            TRASH => INBOX,
            _ => TRASH,
        };
        let target = MessageFile {
            folder: dest,
            in_new: false,
            name: format!("{}:2,{}", file.base(), canonical_flags(file.flags())),
            ..file.clone()
        };
        fs::rename(file.path(root), target.path(root))?;
        stats.moved += 1;
    }

    let new_files = ((n as f64) * (rates.new_min + rates.new_spread * rng.unit())).round() as usize;
    let new_files = new_files.max(1);
    let mut quotas = vec![new_files / cfg.accounts; cfg.accounts];
    for extra in 0..new_files % cfg.accounts {
        if let Some(q) = quotas.get_mut((extra + day as usize) % cfg.accounts) {
            *q += 1;
        }
    }
    let seed = rng.next_u64();
    stats.added = new_mail(
        seed,
        4_000 + day,
        day_start_secs(day - 1),
        day_start_secs(day),
        &mut quotas,
    )?;
    if mode == DayMode::Balanced {
        let untouched: Vec<&MessageFile> = {
            let mut touched = vec![false; n];
            for &i in &picked {
                if let Some(t) = touched.get_mut(i) {
                    *t = true;
                }
            }
            files
                .iter()
                .zip(touched)
                .filter_map(|(f, t)| (!t).then_some(f))
                .collect()
        };
        let mut rng = Rng::new(derive_seed(cfg.seed, 2_000_000 + u64::from(day)));
        delete_bytes(root, &untouched, stats.added.bytes, &mut rng, &mut stats)?;
    }
    Ok(stats)
}

/// Deletes files of `candidates` in random order until `target` bytes are gone: a file is
/// deleted only if that brings the deleted bytes closer to `target` (a file that would
/// overshoot by more than half of its size is passed over), so the result is within half a
/// file of the target unless the candidates run out.
fn delete_bytes(
    root: &Path,
    candidates: &[&MessageFile],
    target: u64,
    rng: &mut Rng,
    stats: &mut DayStats,
) -> io::Result<()> {
    for i in rng.sample_indices(candidates.len(), candidates.len()) {
        if stats.deleted_bytes >= target {
            break;
        }
        let Some(file) = candidates.get(i) else {
            continue;
        };
        let path = file.path(root);
        let size = fs::metadata(&path)?.len();
        // Closer to the target after deleting: |target - (d + size)| < target - d.
        if 2 * (stats.deleted_bytes + size) < 2 * target + size {
            fs::remove_file(path)?;
            stats.deleted += 1;
            stats.deleted_bytes += size;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// History: read by now, in cur/.
    Old,
    /// Today's mail: part of it still in new/, unread.
    New,
}

#[derive(Debug)]
struct ThreadRef {
    subject: String,
    message_id: String,
    references: String,
    from: String,
    date: i64,
    excerpt: Vec<String>,
}

#[derive(Debug)]
struct Attachment {
    filename: String,
    mime: &'static str,
    base64: Vec<u8>,
}

struct Person {
    name: String,
    address: String,
}

/// Writes one batch of messages.
struct Generator<'a> {
    root: &'a Path,
    cfg: &'a WorkloadConfig,
    rng: Rng,
    pid: u32,
    counter: u64,
    time_lo: i64,
    time_hi: i64,
    freshness: Freshness,
    threads: Vec<ThreadRef>,
    attachments: Vec<Rc<Attachment>>,
    stats: GenStats,
}

const THREAD_POOL: usize = 256;
const ATTACHMENT_POOL: usize = 12;

impl<'a> Generator<'a> {
    fn new(
        root: &'a Path,
        cfg: &'a WorkloadConfig,
        seed: u64,
        pid: u32,
        time_lo: i64,
        time_hi: i64,
        freshness: Freshness,
    ) -> Generator<'a> {
        Generator {
            root,
            cfg,
            rng: Rng::new(seed),
            pid,
            counter: 0,
            time_lo,
            time_hi,
            freshness,
            threads: Vec::new(),
            attachments: Vec::new(),
            stats: GenStats::default(),
        }
    }

    /// Generates messages until every account's quota of files is used up.
    fn run(&mut self, quotas: &mut [usize]) -> io::Result<()> {
        loop {
            let available: Vec<usize> = (0..quotas.len()).filter(|&a| quotas[a] > 0).collect();
            if available.is_empty() {
                return Ok(());
            }
            if self.rng.chance(0.01) {
                let Some(&account) = self.rng.pick(&available) else {
                    return Ok(());
                };
                quotas[account] -= 1;
                self.draft(account)?;
                continue;
            }
            let (recipients, local_sender) = draw_delivery(
                &mut self.rng,
                &available,
                quotas,
                DeliveryOdds {
                    several: MULTI_DELIVERY_SHARE,
                    most: 10,
                    local_sender: 0.12,
                },
            );
            self.message(&recipients, local_sender)?;
        }
    }

    fn word(&mut self) -> &'static str {
        plain_word(&mut self.rng)
    }

    fn external_person(&mut self) -> Person {
        let first = FIRST_NAMES[self.rng.below(FIRST_NAMES.len())];
        let last = LAST_NAMES[self.rng.below(LAST_NAMES.len())];
        let domain = EXTERNAL_DOMAINS[self.rng.below(EXTERNAL_DOMAINS.len())];
        Person {
            name: format!("{first} {last}"),
            address: format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase()),
        }
    }

    fn local_person(&self, account: usize) -> Person {
        let first = FIRST_NAMES[(account * 7 + 3) % FIRST_NAMES.len()];
        let last = LAST_NAMES[(account * 11 + 5) % LAST_NAMES.len()];
        Person {
            name: format!("{first} {last}"),
            address: account_id(account),
        }
    }

    fn subject(&mut self) -> String {
        let mut s = String::new();
        match self.rng.below(6) {
            0 => s.push_str(&format!("Invoice {}", 10_000 + self.rng.below(90_000))),
            1 => {
                let day = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];
                let w = self.word();
                s.push_str(&format!(
                    "Meeting on {} about {w}",
                    day[self.rng.below(day.len())]
                ));
            }
            _ => {
                let n = self.rng.range(3, 7);
                for i in 0..n {
                    let w = self.word();
                    if i == 0 {
                        s.push_str(&capitalised(w));
                    } else {
                        s.push(' ');
                        s.push_str(w);
                    }
                }
            }
        }
        s
    }

    /// Plain text of about `target` bytes: sentences from the word list wrapped at 72 columns,
    /// in paragraphs.
    fn text(&mut self, target: usize) -> String {
        prose(&mut self.rng, target, plain_word, LineBreaks::Hard, 0.2)
    }

    fn html_of(text: &str) -> String {
        let mut html = String::with_capacity(text.len() * 2);
        html.push_str("<!DOCTYPE html>\n<html><head><meta http-equiv=\"Content-Type\" ");
        html.push_str("content=\"text/html; charset=UTF-8\"><style>body{font-family:Arial,");
        html.push_str("sans-serif;font-size:11pt;color:#222}</style></head>\n<body>\n");
        for para in text.split("\n\n") {
            html.push_str("<div dir=\"ltr\"><p style=\"margin:0 0 1em 0\">");
            html.push_str(&para.replace('\n', " "));
            html.push_str("</p></div>\n");
        }
        html.push_str("</body></html>\n");
        html
    }

    fn new_attachment(&mut self, raw_len: usize) -> Attachment {
        const KINDS: [(&str, &str); 4] = [
            ("application/pdf", "pdf"),
            ("image/jpeg", "jpg"),
            ("application/zip", "zip"),
            (
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "docx",
            ),
        ];
        let (mime, ext) = KINDS[self.rng.below(KINDS.len())];
        let mut raw = vec![0u8; raw_len.max(16)];
        self.rng.fill(&mut raw);
        if ext == "pdf" {
            raw[..8].copy_from_slice(b"%PDF-1.7");
        }
        let name = format!("{}_{}.{ext}", self.word(), 100 + self.rng.below(900));
        Attachment {
            filename: name,
            mime,
            base64: base64_lines(&raw),
        }
    }

    fn boundary(&mut self) -> String {
        format!("----=_Part_{}_{:016x}", self.counter, self.rng.next_u64())
    }

    fn token(&mut self, len: usize) -> String {
        token(&mut self.rng, len)
    }

    fn offset_minutes(&mut self) -> i32 {
        const OFFSETS: [i32; 6] = [60, 120, 0, -300, -420, 330];
        OFFSETS[self.rng.below(OFFSETS.len())]
    }

    /// One message delivered to `recipients` (and saved in the local sender's Sent folder).
    fn message(&mut self, recipients: &[usize], local_sender: Option<usize>) -> io::Result<()> {
        let received = self.rng.range_i64(self.time_lo, self.time_hi);
        let date = received - self.rng.range_i64(2, 180);
        let target = sample_size(&mut self.rng);
        let is_list = local_sender.is_none() && self.rng.chance(0.18);
        let has_attachment = target >= ATTACHMENT_THRESHOLD;
        let reply = if !has_attachment && !self.threads.is_empty() && self.rng.chance(0.3) {
            let i = self.rng.below(self.threads.len());
            self.threads.get(i)
        } else {
            None
        };
        let reply = reply.map(|t| {
            (
                t.subject.clone(),
                t.message_id.clone(),
                t.references.clone(),
                t.from.clone(),
                t.date,
                t.excerpt.clone(),
            )
        });
        let forwarded = if has_attachment && !self.attachments.is_empty() && self.rng.chance(0.25) {
            let i = self.rng.below(self.attachments.len());
            self.attachments.get(i).cloned()
        } else {
            None
        };

        let sender = match local_sender {
            Some(a) => self.local_person(a),
            None => self.external_person(),
        };
        let sender_domain = sender
            .address
            .rsplit('@')
            .next()
            .unwrap_or(DOMAIN)
            .to_string();
        let list_name = if is_list {
            Some(LIST_NAMES[self.rng.below(LIST_NAMES.len())])
        } else {
            None
        };
        let base_subject = match &reply {
            Some((s, ..)) => s.clone(),
            None => self.subject(),
        };
        let subject = match (&reply, &forwarded, list_name) {
            (Some(_), _, _) => format!("Re: {base_subject}"),
            (None, Some(_), _) => format!("Fwd: {base_subject}"),
            (None, None, Some(l)) => format!("[{l}] {base_subject}"),
            _ => base_subject.clone(),
        };
        self.counter += 1;
        let message_id = format!(
            "<{:016x}.{}.{}@{}>",
            self.rng.next_u64(),
            self.pid,
            self.counter,
            sender_domain
        );
        let offset = self.offset_minutes();

        // The part the sender's client wrote: identical in every copy and in the Sent copy.
        let mut head = String::with_capacity(1024);
        head.push_str(&format!("From: {} <{}>\n", sender.name, sender.address));
        match list_name {
            Some(l) => head.push_str(&format!("To: {l}@lists.example.org\n")),
            None => {
                let to: Vec<String> = recipients
                    .iter()
                    .take(3)
                    .map(|&r| {
                        let p = self.local_person(r);
                        format!("{} <{}>", p.name, p.address)
                    })
                    .collect();
                head.push_str(&format!("To: {}\n", to.join(",\n\t")));
                if recipients.len() > 3 {
                    let cc: Vec<String> =
                        recipients.iter().skip(3).map(|&r| account_id(r)).collect();
                    head.push_str(&format!("Cc: {}\n", cc.join(",\n\t")));
                }
            }
        }
        head.push_str(&format!("Subject: {subject}\n"));
        head.push_str(&format!("Date: {}\n", rfc2822_date(date, offset)));
        head.push_str(&format!("Message-ID: {message_id}\n"));
        let mut references = String::new();
        if let Some((_, parent_id, parent_refs, ..)) = &reply {
            references = if parent_refs.is_empty() {
                parent_id.clone()
            } else {
                format!("{parent_refs}\n\t{parent_id}")
            };
            head.push_str(&format!("In-Reply-To: {parent_id}\n"));
            head.push_str(&format!("References: {references}\n"));
        }
        if let Some(l) = list_name {
            head.push_str(&format!(
                "List-Id: {l} discussion <{l}.lists.example.org>\n\
                 List-Unsubscribe: <mailto:{l}-unsubscribe@lists.example.org>\n\
                 List-Post: <mailto:{l}@lists.example.org>\n\
                 Precedence: list\n"
            ));
        }
        head.push_str(USER_AGENTS[self.rng.below(USER_AGENTS.len())]);
        head.push('\n');
        head.push_str("MIME-Version: 1.0\n");

        // Transit headers added by the sending and receiving MTAs (same for every recipient).
        let mut transit = String::with_capacity(1024);
        if local_sender.is_some() {
            transit.push_str(&format!(
                "Received: from [192.0.2.{}] (unknown [192.0.2.{}])\n\
                 \tby mail.example.com (Postfix) with ESMTPSA id {}\n\
                 \tfor <{}>; {}\n",
                self.rng.range(2, 250),
                self.rng.range(2, 250),
                self.token(10),
                recipients
                    .first()
                    .map_or_else(|| account_id(0), |&r| account_id(r)),
                rfc2822_date(received - 1, 60)
            ));
        } else {
            let qid = self.token(11);
            let sid = self.token(16);
            let bh = self.token(43);
            let b = self.token(342);
            transit.push_str(&format!(
                "Received: from mail-out.{sender_domain} (mail-out.{sender_domain} [198.51.100.{}])\n\
                 \tby mx.example.net (Postfix) with ESMTPS id {qid}\n\
                 \tfor <{}>; {}\n\
                 Received: by mail-out.{sender_domain} with SMTP id {sid}; {}\n\
                 DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={sender_domain}; s=s1;\n\
                 \tt={date}; h=from:to:subject:date:message-id:mime-version;\n\
                 \tbh={bh}=;\n\
                 \tb={}\n\
                 \t {}\n\
                 \t {}\n\
                 \t {}\n\
                 Authentication-Results: mx.example.net; dkim=pass header.d={sender_domain};\n\
                 \tspf=pass smtp.mailfrom={}\n",
                self.rng.range(2, 250),
                recipients.first().map_or_else(|| account_id(0), |&r| account_id(r)),
                rfc2822_date(received - 1, 0),
                rfc2822_date(date, offset),
                &b[..72],
                &b[72..162],
                &b[162..252],
                &b[252..],
                sender.address
            ));
        }

        // Body, sized so the whole message comes close to `target`.
        let body_target = target
            .saturating_sub(head.len() + transit.len() + 200)
            .max(60);
        let mut body: Vec<u8> = Vec::with_capacity(body_target + 512);
        let excerpt_source;
        if has_attachment {
            let text_len = (body_target / 10).min(self.rng.range(1_000, 6_000));
            let mut text = self.text(text_len);
            let attachment = match &forwarded {
                Some(a) => {
                    text = format!("{text}\n---------- Forwarded message ---------\n");
                    Rc::clone(a)
                }
                None => {
                    let raw_len = body_target.saturating_sub(text.len()) / 78 * 57;
                    let a = Rc::new(self.new_attachment(raw_len));
                    if self.attachments.len() < ATTACHMENT_POOL {
                        self.attachments.push(Rc::clone(&a));
                    } else {
                        let slot = self.rng.below(ATTACHMENT_POOL);
                        if let Some(s) = self.attachments.get_mut(slot) {
                            *s = Rc::clone(&a);
                        }
                    }
                    a
                }
            };
            let boundary = self.boundary();
            head.push_str(&format!(
                "Content-Type: multipart/mixed;\n\tboundary=\"{boundary}\"\n\n"
            ));
            body.extend_from_slice(
                format!(
                    "This is a multi-part message in MIME format.\n--{boundary}\n\
                     Content-Type: text/plain; charset=UTF-8; format=flowed\n\
                     Content-Transfer-Encoding: 7bit\n\n{text}\n--{boundary}\n\
                     Content-Type: {}; name=\"{}\"\n\
                     Content-Disposition: attachment; filename=\"{}\"\n\
                     Content-Transfer-Encoding: base64\n\n",
                    attachment.mime, attachment.filename, attachment.filename
                )
                .as_bytes(),
            );
            body.extend_from_slice(&attachment.base64);
            body.extend_from_slice(format!("\n--{boundary}--\n").as_bytes());
            excerpt_source = text;
            self.stats.with_attachment += 1;
            if forwarded.is_some() {
                self.stats.forwarded_attachments += 1;
            }
        } else {
            let alternative = body_target > 2_000 && self.rng.chance(0.35);
            let text_target = if alternative {
                body_target * 10 / 22
            } else {
                body_target
            };
            let mut text = self.text(text_target);
            if let Some((_, _, _, from, parent_date, excerpt)) = &reply {
                text.push_str(&format!(
                    "\nOn {}, {from} wrote:\n",
                    rfc2822_date(*parent_date, 60)
                ));
                for line in excerpt {
                    text.push_str("> ");
                    text.push_str(line);
                    text.push('\n');
                }
                self.stats.replies += 1;
            }
            if alternative {
                let boundary = self.boundary();
                let html = Self::html_of(&text);
                head.push_str(&format!(
                    "Content-Type: multipart/alternative;\n\tboundary=\"{boundary}\"\n\n"
                ));
                body.extend_from_slice(
                    format!(
                        "--{boundary}\nContent-Type: text/plain; charset=UTF-8\n\
                         Content-Transfer-Encoding: 7bit\n\n{text}\n--{boundary}\n\
                         Content-Type: text/html; charset=UTF-8\n\
                         Content-Transfer-Encoding: 7bit\n\n{html}\n--{boundary}--\n"
                    )
                    .as_bytes(),
                );
            } else {
                head.push_str(
                    "Content-Type: text/plain; charset=UTF-8; format=flowed\n\
                     Content-Transfer-Encoding: 7bit\n\n",
                );
                body.extend_from_slice(text.as_bytes());
            }
            excerpt_source = text;
        }

        if !is_list {
            let excerpt: Vec<String> = excerpt_source
                .lines()
                .filter(|l| !l.is_empty())
                .take(6)
                .map(String::from)
                .collect();
            let entry = ThreadRef {
                subject: base_subject,
                message_id: message_id.clone(),
                references,
                from: format!("{} <{}>", sender.name, sender.address),
                date,
                excerpt,
            };
            if self.threads.len() < THREAD_POOL {
                self.threads.push(entry);
            } else {
                let slot = self.rng.below(THREAD_POOL);
                if let Some(s) = self.threads.get_mut(slot) {
                    *s = entry;
                }
            }
        }

        // The copy as the client saved it (Sent), and as the MTA hands it to LMTP.
        let mut client_copy = head.into_bytes();
        client_copy.extend_from_slice(&body);
        let mut delivered = transit.into_bytes();
        delivered.extend_from_slice(&client_copy);

        self.stats.delivered += 1;
        if recipients.len() > 1 {
            self.stats.multi_delivered += 1;
        }
        let lmtp_date = rfc2822_date(received, 60);
        for &r in recipients {
            let rcpt = account_id(r);
            let prefix = match self.cfg.copies {
                CopyMode::PerRecipientHeaders => format!(
                    "Return-Path: <{}>\nDelivered-To: {rcpt}\nReceived: from mx.example.net by \
                     mail.example.com with LMTP id {} for <{rcpt}>; {lmtp_date}\n",
                    sender.address,
                    self.token(22)
                ),
                CopyMode::Identical => format!("Return-Path: <{}>\n", sender.address),
            };
            let mut copy = Vec::with_capacity(prefix.len() + delivered.len());
            copy.extend_from_slice(prefix.as_bytes());
            copy.extend_from_slice(&delivered);
            let folder = if is_list {
                LISTS
            } else {
                self.inbox_folder(received)
            };
            let (in_new, flags) = self.delivered_flags(folder);
            self.write(r, folder, in_new, &flags, received, &copy)?;
        }
        if let Some(s) = local_sender {
            self.stats.sent_copies += 1;
            self.write(s, SENT, false, "S", received, &client_copy)?;
        }
        Ok(())
    }

    fn inbox_folder(&mut self, received: i64) -> usize {
        inbox_folder(&mut self.rng, self.freshness, received)
    }

    /// (in new/, flags) for a delivered copy.
    fn delivered_flags(&mut self, folder: usize) -> (bool, String) {
        delivered_flags(&mut self.rng, self.freshness, folder)
    }

    fn draft(&mut self, account: usize) -> io::Result<()> {
        let when = self.rng.range_i64(self.time_lo, self.time_hi);
        let me = self.local_person(account);
        let to = self.external_person();
        let subject = self.subject();
        let size = self.rng.range(200, 3_000);
        let text = self.text(size);
        self.counter += 1;
        let msg = format!(
            "From: {} <{}>\nTo: {} <{}>\nSubject: {subject}\nDate: {}\n\
             Message-ID: <{:016x}.{}.{}@{DOMAIN}>\nMIME-Version: 1.0\n\
             Content-Type: text/plain; charset=UTF-8; format=flowed\n\
             Content-Transfer-Encoding: 7bit\n\n{text}",
            me.name,
            me.address,
            to.name,
            to.address,
            rfc2822_date(when, 60),
            self.rng.next_u64(),
            self.pid,
            self.counter
        );
        self.stats.drafts += 1;
        self.write(account, DRAFTS, false, "DS", when, msg.as_bytes())
    }

    fn write(
        &mut self,
        account: usize,
        folder: usize,
        in_new: bool,
        flags: &str,
        received: i64,
        bytes: &[u8],
    ) -> io::Result<()> {
        self.counter += 1;
        let file = MessageFile {
            account,
            folder,
            in_new,
            name: String::new(),
        };
        write_message(
            self.root,
            file,
            flags,
            (self.counter, self.pid),
            received,
            bytes,
            &mut self.stats,
        )
    }
}

/// The folder a delivered copy ends up in: today's mail stays in INBOX; history is spread
/// over INBOX, Archive, Archive/2024 and Trash.
/// A word of the classic workload's vocabulary.
fn plain_word(rng: &mut Rng) -> &'static str {
    WORDS[rng.below(WORDS.len())]
}

/// `len` random letters and digits.
pub(crate) fn token(rng: &mut Rng, len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(CHARS[rng.below(CHARS.len())]))
        .collect()
}

/// `w` with its first letter in upper case.
pub(crate) fn capitalised(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// How [`prose`] breaks its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineBreaks {
    /// At 72 columns, with a line break.
    Hard,
    /// At 72 columns, with a space before the line break (`format=flowed`).
    Flowed,
    /// Never: one line a paragraph (a quoted-printable encoder breaks them later).
    None,
}

/// Sentences of 6 to 17 words drawn by `word` until `target` bytes: the first word of each
/// capitalised, a full stop (or now and then a question mark) at its end and a comma now
/// and then, a paragraph break after a sentence with chance `paragraph`, lines broken as
/// `breaks` says. Ends with a line break.
pub(crate) fn prose(
    rng: &mut Rng,
    target: usize,
    mut word: impl FnMut(&mut Rng) -> &'static str,
    breaks: LineBreaks,
    paragraph: f64,
) -> String {
    let mut out = String::with_capacity(target + 100);
    let mut line_len = 0;
    while out.len() < target {
        let words = rng.range(6, 18);
        for i in 0..words {
            let w = word(rng);
            let mut token = if i == 0 { capitalised(w) } else { w.to_owned() };
            if i + 1 == words {
                token.push(if rng.chance(0.1) { '?' } else { '.' });
            } else if rng.chance(0.08) {
                token.push(',');
            }
            let wraps = breaks != LineBreaks::None && line_len + 1 + token.len() > 72;
            if line_len > 0 && wraps {
                out.push_str(if breaks == LineBreaks::Flowed {
                    " \n"
                } else {
                    "\n"
                });
                line_len = 0;
            } else if line_len > 0 {
                out.push(' ');
                line_len += 1;
            }
            out.push_str(&token);
            line_len += token.len();
        }
        if rng.chance(paragraph) {
            out.push_str("\n\n");
            line_len = 0;
        }
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

pub(crate) fn inbox_folder(rng: &mut Rng, freshness: Freshness, received: i64) -> usize {
    if freshness == Freshness::New {
        return INBOX;
    }
    let in_2024 = iso_date(received).starts_with("2024");
    let r = rng.unit();
    if in_2024 {
        match r {
            r if r < 0.6 => ARCHIVE_2024,
            r if r < 0.85 => INBOX,
            r if r < 0.95 => ARCHIVE,
            _ => TRASH,
        }
    } else {
        match r {
            r if r < 0.7 => INBOX,
            r if r < 0.93 => ARCHIVE,
            _ => TRASH,
        }
    }
}

/// (in new/, flags) for a delivered copy.
pub(crate) fn delivered_flags(
    rng: &mut Rng,
    freshness: Freshness,
    folder: usize,
) -> (bool, String) {
    if freshness == Freshness::New && rng.chance(0.4) {
        return (true, String::new());
    }
    let seen_p = if freshness == Freshness::Old {
        0.92
    } else {
        0.5
    };
    let mut f = String::new();
    if rng.chance(0.03) {
        f.push('F');
    }
    if rng.chance(0.01) {
        f.push('P');
    }
    let seen = folder == TRASH || rng.chance(seen_p);
    if seen && rng.chance(0.08) {
        f.push('R');
    }
    if seen {
        f.push('S');
    }
    (false, f)
}

/// Writes one message file as Dovecot names it (`<secs>.M<n>P<pid>.bench,S=<size>,W=<vsize>`,
/// then `:2,<flags>` unless in `new/`) with the received date as mtime, and counts it.
/// `W=` is the size with CRLF line ends: the size plus the line feeds not preceded by a CR.
pub(crate) fn write_message(
    root: &Path,
    mut file: MessageFile,
    flags: &str,
    (counter, pid): (u64, u32),
    received: i64,
    bytes: &[u8],
    stats: &mut GenStats,
) -> io::Result<()> {
    let size = bytes.len();
    let bare_lf = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
        .count();
    let base = format!(
        "{received}.M{counter}P{pid}.bench,S={size},W={}",
        size + bare_lf
    );
    file.name = if file.in_new {
        base
    } else {
        format!("{base}:2,{}", canonical_flags(flags))
    };
    let path = file.path(root);
    fs::write(&path, bytes)?;
    filetime::set_file_mtime(&path, filetime::FileTime::from_unix_time(received, 0))?;
    stats.files += 1;
    stats.bytes += size as u64;
    Ok(())
}

pub(crate) const FIRST_NAMES: [&str; 24] = [
    "Anna",
    "Marco",
    "Giulia",
    "Luca",
    "Sofia",
    "Paolo",
    "Elena",
    "Thomas",
    "Maria",
    "David",
    "Laura",
    "Peter",
    "Sara",
    "James",
    "Chiara",
    "Michael",
    "Emma",
    "Andrea",
    "Julia",
    "Robert",
    "Francesca",
    "Daniel",
    "Lisa",
    "Stefan",
];
pub(crate) const LAST_NAMES: [&str; 24] = [
    "Rossi", "Bianchi", "Smith", "Muller", "Ferrari", "Johnson", "Romano", "Schmidt", "Brown",
    "Colombo", "Weber", "Ricci", "Taylor", "Marino", "Wagner", "Greco", "Miller", "Bruno",
    "Fischer", "Gallo", "Wilson", "Conti", "Becker", "Costa",
];
pub(crate) const EXTERNAL_DOMAINS: [&str; 12] = [
    "gmail.example",
    "outlook.example",
    "acme-corp.example",
    "univ.example.edu",
    "studio-legale.example",
    "shop.example",
    "bank.example",
    "travel.example",
    "hospital.example",
    "city.example.gov",
    "newsletter.example",
    "consulting.example",
];
pub(crate) const LIST_NAMES: [&str; 5] = [
    "rust-users",
    "dovecot",
    "debian-devel",
    "linux-kernel",
    "photo-club",
];
pub(crate) const USER_AGENTS: [&str; 5] = [
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.1",
    "X-Mailer: Apple Mail (2.3774.200.91.1.1)",
    "User-Agent: Roundcube Webmail/1.6.9",
    "X-Mailer: Microsoft Outlook 16.0",
    "User-Agent: K-9 Mail for Android",
];
#[rustfmt::skip]
pub(crate) const WORDS: &[&str] = &[
    "the", "of", "and", "to", "a", "in", "for", "is", "on", "that", "by", "this", "with", "you",
    "it", "not", "or", "be", "are", "from", "at", "as", "your", "all", "have", "new", "more", "an",
    "was", "we", "will", "can", "about", "if", "my", "has", "our", "one", "other", "do", "no",
    "time", "they", "he", "up", "may", "what", "which", "their", "out", "use", "any", "there",
    "see", "only", "so", "his", "when", "here", "who", "also", "now", "help", "get", "first",
    "been", "would", "how", "were", "me", "some", "these", "like", "service", "than", "find",
    "price", "date", "back", "top", "people", "had", "list", "name", "just", "over", "year", "day",
    "into", "two", "next", "used", "work", "last", "most", "data", "make", "them", "should",
    "product", "system", "post", "her", "city", "add", "policy", "number", "such", "please",
    "available", "copyright", "support", "message", "after", "best", "then", "good", "well",
    "where", "info", "rights", "public", "high", "school", "through", "each", "links", "she",
    "review", "years", "order", "very", "privacy", "book", "items", "company", "read", "group",
    "need", "many", "user", "said", "does", "set", "under", "general", "research", "university",
    "january", "mail", "full", "map", "reviews", "program", "life", "know", "games", "way", "days",
    "management", "part", "could", "great", "united", "hotel", "real", "international", "center",
    "must", "store", "travel", "comments", "made", "report", "off", "member", "details", "line",
    "terms", "before", "meeting", "send", "right", "type", "because", "local", "those", "using",
    "results", "office", "education", "national", "car", "design", "take", "posted", "internet",
    "address", "community", "within", "states", "area", "want", "phone", "invoice", "project",
    "budget", "contract",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cfg(accounts: usize, messages: usize, copies: CopyMode) -> WorkloadConfig {
        WorkloadConfig {
            accounts,
            messages_per_account: messages,
            seed: 7,
            copies,
        }
    }

    /// (relative path, BLAKE3 of the bytes, mtime of message files) of everything under
    /// `root`, sorted.
    fn snapshot_tree(root: &Path) -> Vec<(String, String, i64)> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                let path = entry.path();
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                if entry.file_type().unwrap().is_dir() {
                    out.push((rel + "/", String::new(), 0));
                    stack.push(path);
                } else {
                    let in_maildir = path
                        .parent()
                        .and_then(|p| p.file_name())
                        .is_some_and(|n| n == "cur" || n == "new");
                    let mtime = if in_maildir {
                        filetime::FileTime::from_last_modification_time(&entry.metadata().unwrap())
                            .unix_seconds()
                    } else {
                        0
                    };
                    let hash = blake3::hash(&fs::read(&path).unwrap()).to_hex().to_string();
                    out.push((rel, hash, mtime));
                }
            }
        }
        out.sort();
        out
    }

    fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
        let head = msg.split("\n\n").next()?;
        head.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
    }

    #[test]
    fn dates_and_base64_are_right() {
        assert_eq!(iso_date(START_SECS), "2026-11-01");
        assert_eq!(
            rfc2822_date(START_SECS, 60),
            "Sun, 1 Nov 2026 01:00:00 +0100"
        );
        assert_eq!(rfc2822_date(0, -300), "Wed, 31 Dec 1969 19:00:00 -0500");
        assert_eq!(base64_lines(b"Man"), b"TWFu\n");
        assert_eq!(base64_lines(b"Ma"), b"TWE=\n");
        assert_eq!(base64_lines(b"M"), b"TQ==\n");
        assert_eq!(base64_lines(&[0u8; 57]).len(), 77);
        assert_eq!(canonical_flags("SRFD"), "DFRS");
    }

    #[test]
    fn bad_config_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(generate(dir.path(), &cfg(0, 10, CopyMode::Identical)).is_err());
        assert!(generate(dir.path(), &cfg(2, 0, CopyMode::Identical)).is_err());
        assert!(day_step(dir.path(), &cfg(2, 10, CopyMode::Identical), 0).is_err());
    }

    #[test]
    fn tree_has_dovecot_layout() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(3, 40, CopyMode::PerRecipientHeaders);
        let stats = generate(dir.path(), &c).unwrap();
        assert_eq!(stats.files, 120);
        for account in c.account_ids() {
            let base = dir.path().join(&account);
            let subs = fs::read_to_string(base.join("subscriptions")).unwrap();
            assert!(subs.starts_with("V\t2\n\n"));
            assert!(subs.contains("Archive\t2024\n"));
            assert!(!subs.contains("Lists"));
            for f in FOLDERS {
                for sub in ["cur", "new", "tmp"] {
                    assert!(base.join(f.dir).join(sub).is_dir());
                }
                assert_eq!(
                    base.join(f.dir).join("maildirfolder").is_file(),
                    !f.dir.is_empty()
                );
            }
        }
        let files = scan(dir.path(), &c).unwrap();
        assert_eq!(files.len(), 120);
        for f in &files {
            let path = f.path(dir.path());
            let bytes = fs::read(&path).unwrap();
            let (_, sizes) = f.base().split_once(",S=").unwrap();
            let (s, w) = sizes.split_once(",W=").unwrap();
            assert_eq!(s.parse::<usize>().unwrap(), bytes.len());
            let lf = bytes.iter().filter(|&&b| b == b'\n').count();
            assert_eq!(w.parse::<usize>().unwrap(), bytes.len() + lf);
            assert_eq!(canonical_flags(f.flags()), f.flags());
            assert!(f.name.contains(".bench,"));
            let mtime =
                filetime::FileTime::from_last_modification_time(&fs::metadata(&path).unwrap())
                    .unix_seconds();
            assert!(mtime < START_SECS && mtime > START_SECS - HISTORY_DAYS * 86_400 - 1);
        }
    }

    #[test]
    fn same_seed_same_bytes() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let c = cfg(3, 60, CopyMode::PerRecipientHeaders);
        generate(a.path(), &c).unwrap();
        generate(b.path(), &c).unwrap();
        for day in 1..=2 {
            day_step(a.path(), &c, day).unwrap();
            day_step(b.path(), &c, day).unwrap();
        }
        assert_eq!(snapshot_tree(a.path()), snapshot_tree(b.path()));
        let other = tempfile::tempdir().unwrap();
        generate(other.path(), &WorkloadConfig { seed: 8, ..c }).unwrap();
        assert_ne!(snapshot_tree(a.path()), snapshot_tree(other.path()));
    }

    #[test]
    fn size_model_matches_targets() {
        let mut rng = Rng::new(1);
        let mut sizes: Vec<usize> = (0..200_000).map(|_| sample_size(&mut rng)).collect();
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2] as f64;
        let p99 = sizes[sizes.len() * 99 / 100] as f64;
        assert!((median / MEDIAN_SIZE - 1.0).abs() < 0.05, "median {median}");
        assert!((p99 / P99_SIZE - 1.0).abs() < 0.08, "p99 {p99}");
        assert!(*sizes.last().unwrap() <= MAX_SIZE);
        let attach = sizes.iter().filter(|&&s| s >= ATTACHMENT_THRESHOLD).count() as f64;
        assert!((attach / sizes.len() as f64 - 0.05).abs() < 0.005);
    }

    #[test]
    fn generated_corpus_has_expected_shares() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(10, 300, CopyMode::PerRecipientHeaders);
        let stats = generate(dir.path(), &c).unwrap();
        let multi = stats.multi_delivered as f64 / stats.delivered as f64;
        assert!((multi - 0.20).abs() < 0.03, "multi-delivery share {multi}");
        let attach = stats.with_attachment as f64 / stats.delivered as f64;
        assert!((attach - 0.05).abs() < 0.015, "attachment share {attach}");
        assert!(stats.forwarded_attachments > 0);
        assert!(stats.replies > 0);

        // The files agree with the counters: group copies by Message-ID.
        let mut by_id: BTreeMap<String, Vec<(usize, usize, Vec<u8>)>> = BTreeMap::new();
        let mut sizes = Vec::new();
        for f in scan(dir.path(), &c).unwrap() {
            let bytes = fs::read(f.path(dir.path())).unwrap();
            sizes.push(bytes.len());
            let text = String::from_utf8(bytes.clone()).unwrap();
            let id = header(&text, "Message-ID").unwrap().to_string();
            by_id
                .entry(id)
                .or_default()
                .push((f.account, f.folder, bytes));
        }
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2] as f64;
        assert!(
            (median / MEDIAN_SIZE - 1.0).abs() < 0.2,
            "file median {median}"
        );
        let delivered: Vec<_> = by_id
            .values()
            .map(|copies| {
                copies
                    .iter()
                    .filter(|(_, folder, _)| *folder != SENT && *folder != DRAFTS)
                    .count()
            })
            .filter(|&n| n > 0)
            .collect();
        let multi_files =
            delivered.iter().filter(|&&n| n > 1).count() as f64 / delivered.len() as f64;
        assert!(
            (multi_files - 0.20).abs() < 0.03,
            "multi share in files {multi_files}"
        );
        let with_attachment = by_id
            .values()
            .filter(|copies| {
                String::from_utf8_lossy(&copies[0].2).contains("Content-Disposition: attachment")
            })
            .count() as f64;
        assert!((with_attachment / by_id.len() as f64 - 0.05).abs() < 0.015);
        let replies = by_id
            .values()
            .filter(|copies| {
                let t = String::from_utf8_lossy(&copies[0].2).into_owned();
                header(&t, "Subject").is_some_and(|s| s.starts_with("Re: "))
                    && header(&t, "In-Reply-To").is_some()
            })
            .count();
        assert!(replies > 50);
    }

    #[test]
    fn recipient_copies_differ_only_in_delivery_headers() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(6, 150, CopyMode::PerRecipientHeaders);
        generate(dir.path(), &c).unwrap();
        let mut by_id: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
        for f in scan(dir.path(), &c).unwrap() {
            if f.folder == SENT || f.folder == DRAFTS {
                continue;
            }
            let bytes = fs::read(f.path(dir.path())).unwrap();
            let text = String::from_utf8(bytes.clone()).unwrap();
            let id = header(&text, "Message-ID").unwrap().to_string();
            by_id
                .entry(id)
                .or_default()
                .push((account_id(f.account), bytes));
        }
        let mut groups = 0;
        for copies in by_id.values().filter(|c| c.len() > 1) {
            groups += 1;
            let mut rests = Vec::new();
            for (account, bytes) in copies {
                let text = std::str::from_utf8(bytes).unwrap();
                let mut lines = text.splitn(4, '\n');
                let rp = lines.next().unwrap();
                let dt = lines.next().unwrap();
                let rc = lines.next().unwrap();
                assert!(rp.starts_with("Return-Path: <"));
                assert_eq!(dt, format!("Delivered-To: {account}"));
                assert!(rc.starts_with(
                    "Received: from mx.example.net by mail.example.com with LMTP id "
                ));
                assert!(rc.contains(&format!(" for <{account}>; ")));
                rests.push(lines.next().unwrap().to_string());
            }
            assert!(rests.windows(2).all(|w| w[0] == w[1]));
            assert_ne!(copies[0].1, copies[1].1);
        }
        assert!(groups > 20);

        let dir2 = tempfile::tempdir().unwrap();
        let c2 = WorkloadConfig {
            copies: CopyMode::Identical,
            ..c
        };
        generate(dir2.path(), &c2).unwrap();
        let mut by_id: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
        for f in scan(dir2.path(), &c2).unwrap() {
            if f.folder == SENT || f.folder == DRAFTS {
                continue;
            }
            let bytes = fs::read(f.path(dir2.path())).unwrap();
            let text = String::from_utf8(bytes.clone()).unwrap();
            by_id
                .entry(header(&text, "Message-ID").unwrap().to_string())
                .or_default()
                .push(bytes);
        }
        let multi: Vec<_> = by_id.values().filter(|c| c.len() > 1).collect();
        assert!(!multi.is_empty());
        for copies in multi {
            assert!(copies.windows(2).all(|w| w[0] == w[1]));
        }
    }

    #[test]
    fn day_step_changes_the_tree_as_specified() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(4, 500, CopyMode::PerRecipientHeaders);
        generate(dir.path(), &c).unwrap();
        let before = scan(dir.path(), &c).unwrap();
        let stats = day_step(dir.path(), &c, 1).unwrap();
        let after = scan(dir.path(), &c).unwrap();
        assert_eq!(stats.files_before, 2000);
        assert_eq!(stats.deleted, 10);
        assert_eq!(stats.flag_changes, 20);
        assert_eq!(stats.moved, 2);
        assert!(
            (20..=40).contains(&stats.added.files),
            "added {}",
            stats.added.files
        );
        assert_eq!(after.len() as u64, 2000 - 10 + stats.added.files);
        // New mail is dated within the day before snapshot day 1; some is still in new/.
        let new: Vec<_> = after
            .iter()
            .filter(|f| !before.iter().any(|b| b.base() == f.base()))
            .collect();
        assert_eq!(new.len() as u64, stats.added.files);
        for f in &new {
            let secs: i64 = f.name.split('.').next().unwrap().parse().unwrap();
            assert!((day_start_secs(0)..day_start_secs(1)).contains(&secs));
        }
        // Renamed files keep their content and base name.
        let renamed = after
            .iter()
            .filter(|f| {
                before
                    .iter()
                    .any(|b| b.base() == f.base() && (b.name != f.name || b.folder != f.folder))
            })
            .count();
        assert_eq!(renamed, 22);
    }
}

/// How one delivery's recipients and sender are drawn (see [`draw_delivery`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeliveryOdds {
    /// Chance that a message goes to several accounts.
    pub several: f64,
    /// The most accounts one message goes to (exclusive bound of the draw).
    pub most: usize,
    /// Chance that the sender is another hosted account.
    pub local_sender: f64,
}

/// Draws the recipients of one delivery among the `available` accounts (one message off
/// each one's quota) and, sometimes, a hosted account that sent it (one off its quota too).
/// Both workloads draw this way; the order of the draws is part of the pinned classic tree.
pub(crate) fn draw_delivery(
    rng: &mut Rng,
    available: &[usize],
    quotas: &mut [usize],
    odds: DeliveryOdds,
) -> (Vec<usize>, Option<usize>) {
    let k = if available.len() >= 2 && rng.chance(odds.several) {
        rng.range(2, available.len().min(odds.most))
    } else {
        1
    };
    let recipients: Vec<usize> = rng
        .sample_indices(available.len(), k)
        .into_iter()
        .filter_map(|i| available.get(i).copied())
        .collect();
    for &r in &recipients {
        quotas[r] -= 1;
    }
    let local_sender = if rng.chance(odds.local_sender) {
        let senders: Vec<usize> = available
            .iter()
            .copied()
            .filter(|a| quotas[*a] > 0 && !recipients.contains(a))
            .collect();
        rng.pick(&senders).copied()
    } else {
        None
    };
    if let Some(s) = local_sender {
        quotas[s] -= 1;
    }
    (recipients, local_sender)
}
