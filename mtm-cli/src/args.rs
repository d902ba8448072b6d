//! The command line, as clap parses it: every subcommand's arguments. The bottom layer of
//! the crate with `error`: it imports nothing of it.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use mtm_core::SortKey;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  storage or I/O failure
  2  bad arguments or invalid input
  3  not found (repository, account, day, folder, message)
  4  already exists (a snapshot of that account and day, a repository)
  5  damaged data (integrity check failed) or unsupported format
  6  the Maildir could not be read (or written: a restore that stops is left interrupted)
  7  busy: another process holds a conflicting lock (gc while a snapshot runs)
  8  the restore request is not in a state that allows this (already decided, past its deadline)
  9  permission denied (a user acting on another account, a user approving)
141  stdout was closed by its reader (mtm ls ... | head): output stopped quietly
With --json, an error is one JSON line on stderr: {\"error\": {\"kind\", \"message\", \"exit_code\"}},
and so is a warning naming a path: {\"warning\": {\"path\", \"message\"}}";

/// Mail Time Machine: daily, deduplicated, read-only snapshots of Maildir mailboxes.
#[derive(Debug, Parser)]
#[command(name = "mtm", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The repository directory.
    #[arg(long, global = true, env = "MTM_REPO")]
    pub repo: Option<PathBuf>,
    /// Print JSON instead of tables (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new, empty repository.
    Init {
        /// The provider's IANA time zone: a snapshot's day is the local date when it runs.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
        /// Do not compress headers with a trained dictionary.
        #[arg(long)]
        no_dictionary: bool,
        /// Days of snapshots to keep: today and the days before it.
        #[arg(long, default_value_t = 15)]
        retention_days: u32,
    },
    /// Take today's snapshot of one account, or of every account under a Maildir root.
    Snapshot(SnapshotArgs),
    /// List the accounts that have snapshots.
    Accounts,
    /// List the days with a snapshot of an account.
    Days {
        /// The account id (an email address).
        account: String,
    },
    /// Show the folder tree of a day, or one page of a folder's messages.
    Ls(LsArgs),
    /// Write a message's raw bytes (the .eml file) to stdout or a file.
    Cat {
        /// The account id.
        account: String,
        /// The day (YYYY-MM-DD, or `latest`).
        day: String,
        /// The message id (its 64 hex digits, or a unique prefix of 8 or more).
        message: String,
        /// Write to this file instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Show a message parsed: headers, text, attachments.
    Show {
        /// The account id.
        account: String,
        /// The day (YYYY-MM-DD, or `latest`).
        day: String,
        /// The message id (or a unique prefix of 8 or more hex digits).
        message: String,
        /// Also print the HTML body.
        #[arg(long)]
        html: bool,
    },
    /// Search one day or every day of an account.
    Search(SearchArgs),
    /// Show what changed between two days, or between a day and the live Maildir.
    Diff {
        /// The account id.
        account: String,
        /// The older day.
        from: String,
        /// The newer day (omit with --live).
        to: Option<String>,
        /// Compare with this live Maildir instead of a second day.
        #[arg(long, conflicts_with = "to")]
        live: Option<PathBuf>,
        #[command(flatten)]
        accounts: AccountOptions,
    },
    /// Show every day and folder where a message was.
    History {
        /// The account id.
        account: String,
        /// The message id (64 hex digits).
        message: String,
    },
    /// Remove the snapshots older than the retention window (today and the days before it).
    Prune {
        /// Only this account's snapshots.
        #[arg(long)]
        account: Option<String>,
        /// Show the plan (snapshots, messages, bytes) without removing anything.
        #[arg(long)]
        dry_run: bool,
        /// Plan as if the time were this RFC 3339 instant (default: now).
        #[arg(long)]
        now: Option<String>,
        /// Then collect the garbage too (like `gc` with its defaults), in the same process
        /// and under gc's lock: the walk that plans the prune is gc's mark, so it costs about
        /// half of `prune` followed by `gc`. Refused while a snapshot runs.
        #[arg(long, conflicts_with = "dry_run")]
        gc: bool,
    },
    /// Reclaim the bytes no snapshot references (after a prune). Refused while a snapshot runs.
    Gc {
        /// Rewrite packs whose live share is below this (0 to 1).
        #[arg(long, default_value_t = 0.5)]
        repack_below: f64,
        /// Also rewrite the packs with the most garbage until at most this share of all
        /// pack bytes is unreferenced (0 to 1).
        #[arg(long, default_value_t = 0.05)]
        max_unused: f64,
    },
    /// Check the whole repository: every hash, every reference. Exits 5 if anything is damaged.
    Verify {
        /// Share of packs (0 to 1) whose data is read and every blob hashed; manifests,
        /// catalogs, indexes and records are always checked.
        #[arg(long, default_value_t = 1.0)]
        read_data: f64,
    },
    /// Mend a damaged repository: rebuild the index, recover damaged snapshots.
    Repair(RepairArgs),
    /// Convert a repository written by an older version (read-only until then) to this
    /// version's format, in place; safe to interrupt and run again. Older versions cannot
    /// read it afterwards.
    Upgrade,
    /// Restore requests: ask, plan, approve or reject, run, list.
    Restore(Box<RestoreArgs>),
    /// Run a guided demonstration on a sample mailbox in a temporary directory.
    Demo {
        /// Keep the sample Maildir and repository in this directory instead of a temporary one.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// One account's Maildir directory (needs --account).
    #[arg(long, requires = "account", conflicts_with = "root")]
    pub maildir: Option<PathBuf>,
    /// The account id for --maildir.
    #[arg(long)]
    pub account: Option<String>,
    /// A directory of many accounts: each subdirectory named after its account id.
    #[arg(long, required_unless_present = "maildir")]
    pub root: Option<PathBuf>,
    /// Take the snapshot as if the time were this RFC 3339 instant (default: now).
    #[arg(long)]
    pub now: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Do not show a progress bar.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub accounts: AccountOptions,
}

/// How account directories are opened: one flag shared by `snapshot`, `restore` and
/// `diff --live`.
#[derive(Debug, Args)]
pub struct AccountOptions {
    /// Follow an account directory (or an account's Maildir) that is a symlink. Off by
    /// default: such an account is refused (with --maildir, and by a restore) or skipped with
    /// a warning (with --root). Symlinks inside a mailbox are never followed.
    #[arg(long, global = true)]
    pub follow_account_symlinks: bool,
}

impl AccountOptions {
    /// The source options these flags stand for.
    pub fn source_options(&self) -> mtm_core::SourceOptions {
        mtm_core::SourceOptions::default().follow_root_symlink(self.follow_account_symlinks)
    }
}

/// A sort key by its core name, the names listed in the help.
fn sort_key() -> impl TypedValueParser<Value = SortKey> {
    PossibleValuesParser::new(SortKey::ALL.map(SortKey::as_str)).try_map(|name| name.parse())
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// The account id.
    pub account: String,
    /// The day (YYYY-MM-DD, or `latest`).
    pub day: String,
    /// The folder; without it, the folder tree.
    pub folder: Option<String>,
    /// Sort key.
    #[arg(long, value_parser = sort_key(), default_value = "date")]
    pub sort: SortKey,
    /// Oldest / smallest / A first.
    #[arg(long)]
    pub asc: bool,
    /// Page number, from 1.
    #[arg(long, default_value_t = 1)]
    pub page: usize,
    /// Messages per page.
    #[arg(long, default_value_t = 50)]
    pub per_page: usize,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The account id.
    pub account: String,
    /// Search only this day (YYYY-MM-DD or `latest`).
    #[arg(long, conflicts_with = "all_days")]
    pub day: Option<String>,
    /// Search every day (the default).
    #[arg(long)]
    pub all_days: bool,
    /// Text in From.
    #[arg(long)]
    pub from: Option<String>,
    /// Text in To or Cc.
    #[arg(long)]
    pub to: Option<String>,
    /// Text in the subject.
    #[arg(long)]
    pub subject: Option<String>,
    /// The Message-ID.
    #[arg(long)]
    pub message_id: Option<String>,
    /// Dated on or after (YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<String>,
    /// Dated on or before (YYYY-MM-DD).
    #[arg(long)]
    pub until: Option<String>,
    /// Only messages with attachments.
    #[arg(long)]
    pub has_attachment: bool,
}

// ---- mtm repair ----

#[derive(Debug, Args)]
pub struct RepairArgs {
    #[command(subcommand)]
    pub command: RepairCommand,
}

#[derive(Debug, Subcommand)]
pub enum RepairCommand {
    /// Rebuild lost or damaged index files from the pack trailers (run it when verify
    /// reports blobs missing from the index or a damaged index file, before gc). Only adds
    /// entries; refused while a snapshot or gc runs.
    Index,
    /// Recover damaged snapshots: messages still in the live Maildir are stored again, the
    /// others are dropped from their snapshots and listed as lost in the records. Shows the
    /// plan; changes nothing without --yes. Run `repair index` first. Exits 5 if damage
    /// that no recovery can mend remains (an unreadable snapshot record).
    Recover {
        /// The live Maildirs: one directory per account, as `mtm snapshot --root` reads them.
        #[arg(long, env = "MTM_MAILDIRS", conflicts_with = "maildir")]
        maildirs: Option<PathBuf>,
        /// One account's live Maildir (needs --account).
        #[arg(long, requires = "account")]
        maildir: Option<PathBuf>,
        /// The account of --maildir.
        #[arg(long)]
        account: Option<String>,
        /// Execute the plan (without it, only show it).
        #[arg(long)]
        yes: bool,
        /// Date the repair as if the time were this RFC 3339 instant (default: now).
        #[arg(long)]
        now: Option<String>,
    },
}

// ---- mtm restore ----

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(subcommand)]
    pub command: RestoreCommand,
    #[command(flatten)]
    pub who: Who,
    #[command(flatten)]
    pub setup: Setup,
}

/// Who makes the call.
#[derive(Debug, Args)]
pub struct Who {
    /// Act as this administrator: with `--tenants`, a provider administrator or the
    /// administrator of the tenant the file lists them under.
    #[arg(long, global = true, env = "MTM_ADMIN", conflicts_with = "user")]
    pub admin: Option<String>,
    /// Act as the user of this account (default: the account the request is for).
    #[arg(long, global = true)]
    pub user: Option<String>,
}

/// How the provider runs restores.
#[derive(Debug, Args)]
pub struct Setup {
    /// The provider's customers (TOML): which tenant owns which domains and accounts, its
    /// administrators, prices, language and time zone. Without it every account is the
    /// provider's and every administrator decides every request.
    #[arg(long, global = true, env = "MTM_TENANTS")]
    pub tenants: Option<PathBuf>,
    /// The live Maildirs: one directory per account, as `mtm snapshot --root` reads them.
    #[arg(long, global = true, env = "MTM_MAILDIRS")]
    pub maildirs: Option<PathBuf>,
    /// Send notifications by SMTP to this HOST:PORT (no TLS: a local MTA or relay).
    #[arg(
        long,
        global = true,
        env = "MTM_SMTP",
        conflicts_with = "notify_maildir"
    )]
    pub smtp: Option<String>,
    /// Write notification emails into this Maildir instead of sending them.
    #[arg(long, global = true, env = "MTM_NOTIFY_MAILDIR")]
    pub notify_maildir: Option<PathBuf>,
    /// The From address of notifications.
    #[arg(
        long,
        global = true,
        env = "MTM_MAIL_FROM",
        default_value = "mail-time-machine@localhost"
    )]
    pub mail_from: String,
    /// The mail domain of accounts without `@`: user `bob` is emailed at `bob@DOMAIN`
    /// (Dovecot passwd files often name users without a domain).
    #[arg(long, global = true, env = "MTM_MAIL_DOMAIN")]
    pub mail_domain: Option<String>,
    /// The administrators' address for new requests (repeatable).
    #[arg(
        long = "admin-email",
        global = true,
        env = "MTM_ADMIN_EMAIL",
        value_delimiter = ','
    )]
    pub admin_emails: Vec<String>,
    /// The fee of every restore, in cents (minor units).
    #[arg(long, global = true, env = "MTM_PRICE_BASE", default_value_t = 0)]
    pub price_base: u64,
    /// The price of each started GiB restored, in cents.
    #[arg(long, global = true, env = "MTM_PRICE_PER_GIB", default_value_t = 0)]
    pub price_per_gib: u64,
    /// The currency of the prices.
    #[arg(long, global = true, env = "MTM_CURRENCY", default_value = "EUR")]
    pub currency: String,
    /// Tag every restored message with this IMAP keyword (e.g. `$Restored`).
    #[arg(long, global = true, env = "MTM_RESTORE_KEYWORD")]
    pub tag_keyword: Option<String>,
    /// Act as if the time were this RFC 3339 instant (default: now).
    #[arg(long, global = true)]
    pub now: Option<String>,
    #[command(flatten)]
    pub accounts: AccountOptions,
}

#[derive(Debug, Subcommand)]
pub enum RestoreCommand {
    /// Ask for an account as it was on a day (all of it, some folders, or some messages).
    Request {
        /// The account id.
        account: String,
        /// The snapshot day (YYYY-MM-DD).
        day: String,
        /// Only this folder (repeatable).
        #[arg(long = "folder", conflicts_with = "messages")]
        folders: Vec<String>,
        /// Only this message id (64 hex digits; repeatable).
        #[arg(long = "message")]
        messages: Vec<String>,
    },
    /// A fresh dry run against the live Maildir: per folder, what would come back.
    Plan {
        /// The request (`<account>/<number>`).
        id: String,
    },
    /// Approve (administrators): bills the request and runs the restore at once.
    Approve {
        /// The request.
        id: String,
    },
    /// Reject (administrators), saying why: the user is told.
    Reject {
        /// The request.
        id: String,
        /// Why (shown to the user).
        #[arg(long)]
        reason: String,
    },
    /// Withdraw a request nobody decided yet.
    Cancel {
        /// The request.
        id: String,
    },
    /// Run an approved restore again: retry an interrupted one once its cause is fixed, or
    /// resume one cut off by a crash (billed once, however often it runs).
    Run {
        /// The request.
        id: String,
    },
    /// Give up on an approved restore that did not complete (administrators), saying why:
    /// it ends as failed and the user is told the reason.
    GiveUp {
        /// The request.
        id: String,
        /// Why (shown to the user).
        #[arg(long)]
        reason: String,
    },
    /// A user's requests, every request (administrators), or the pending queue.
    List {
        /// Only this account's requests.
        #[arg(long)]
        account: Option<String>,
        /// Only requests waiting for a decision, nearest deadline first (administrators).
        #[arg(long)]
        queue: bool,
    },
    /// One request with its plan, result, bill and audit trail.
    Show {
        /// The request.
        id: String,
    },
    /// Expire every request that waited past its deadline, and tell the users.
    Expire,
    /// Retry the bills and notifications that failed or were never sent.
    Deliver,
    /// The billing ledger kept in the repository: every bill, or one tenant's, one period's
    /// (a tenant administrator sees only their own tenant's).
    Ledger {
        /// Only this tenant's bills.
        #[arg(long, conflicts_with = "provider_only")]
        tenant: Option<String>,
        /// Only the bills of the provider's own accounts.
        #[arg(long)]
        provider_only: bool,
        /// Only bills approved on or after this day (YYYY-MM-DD, the provider's days).
        #[arg(long)]
        since: Option<String>,
        /// Only bills approved on or before this day.
        #[arg(long)]
        until: Option<String>,
    },
}
