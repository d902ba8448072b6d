//! # Mail Time Machine core
//!
//! Daily, deduplicated, read-only snapshots of Maildir mailboxes, a webmail-like view of any
//! retained day, and byte-exact `.eml` download.
//!
//! ```
//! use mtm_core::*;
//! # let dir = tempfile::tempdir().unwrap();
//! # let maildir = dir.path().join("alice");
//! # for sub in ["cur", "new", "tmp"] { std::fs::create_dir_all(maildir.join(sub)).unwrap(); }
//! # std::fs::write(maildir.join("cur/1.M1.host:2,S"), "Subject: Lunch?\n\nSee you at noon\n").unwrap();
//! let repo = Repository::init(dir.path().join("repo"), RepositoryOptions::default())?;
//! let alice = AccountId::new("alice@example.com")?;
//! let clock = FixedClock::parse("2026-11-21T00:00:30Z")?;
//! repo.snapshot(&alice, &MaildirAccount::open(&maildir)?, &clock, &SnapshotOptions::default())?;
//!
//! let view = repo.account(&alice)?;
//! let day = view.days()?[0];
//! let inbox = view.messages(day, &FolderName::inbox(), &MessageQuery::default())?;
//! let lunch = &inbox.messages[0];
//! assert_eq!(lunch.summary.subject, "Lunch?");
//! let eml = view.raw(day, &lunch.id)?; // byte-exact, verified against its BLAKE3
//! assert_eq!(eml, b"Subject: Lunch?\n\nSee you at noon\n");
//! # Ok::<(), mtm_core::Error>(())
//! ```
//!
//! The on-disk format is described in `FORMAT.md` beside this crate.
//!
//! ## Architecture
//!
//! The modules form layers; a module uses only modules of its own layer or below, never one
//! above, and a helper lives in the module that owns its data:
//!
//! 1. Foundations: `error`, `id` (hashes), `names` (accounts, folders), `flags`, `clock`
//!    (the injected `now`, provider time zone), `sealed` (checksummed JSON), `pool` (the one
//!    worker pool).
//! 2. Edges: `backend` (the storage trait and its implementations), `lock` (repository
//!    locks on a backend), `message` (parsing and summaries of one message), `source`
//!    (reading a Maildir, including its file-name rules such as the unique key).
//! 3. Storage: `store` (packs, index, dictionaries: blobs by id), `snapshot::model` (the
//!    snapshot record, manifest and catalog formats), `reach` (which blobs manifests keep
//!    alive, over the store alone).
//! 4. The repository: `repo` (`Repository` and its shared `RepoInner`: config, time zone,
//!    backend, store, and the readers of its records: days, snapshot records, manifests and
//!    catalogs via `load_blob`). It imports no operation.
//! 5. Operations, each an `impl Repository` block of its own: `snapshot` (taking one),
//!    `lookup` (browsing, search, diff); then `restore`, which uses lookup; `verify`, which
//!    reads the restore journal; `retention`, which weighs restore pins; `gc` and `repair`
//!    at the top, which use verify (and gc retention).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backend;
mod clock;
mod enum_names;
mod error;
mod flags;
// The fuzz targets' door to the crate-private decoders (`fuzz/`); no behaviour of its own.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod gc;
mod id;
mod lock;
mod lookup;
mod message;
mod names;
mod pool;
mod reach;
mod repair;
mod repo;
mod restore;
mod retention;
// Knobs for the project's own tests (cargo feature `testing`, off by default).
mod sealed;
mod snapshot;
pub mod source;
mod store;
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod testing;
mod units;
mod upgrade;
mod verify;

pub use backend::{
    Backend, FaultInjectingBackend, LocalBackend, MemoryBackend, OpenFile, StagedFile,
};
pub use chrono::{DateTime, NaiveDate, Utc};
pub use clock::{Clock, FixedClock, SystemClock, TimeZone};
pub use error::{Error, ErrorKind, Result};
pub use flags::{Flag, Flags};
pub use gc::{GcOptions, GcReport};
pub use id::{BlobId, MessageId};
pub use lookup::{
    AccountView, ChangeKind, DIFF_NOTE, DayScope, DiffEntry, DiffSide, FolderInfo, MessageInfo,
    MessagePage, MessageQuery, Placement, SearchHit, SearchQuery, Sighting, SnapshotDiff,
    SnapshotInfo, SortKey,
};
pub use lookup::{MessagePager, MessagePages, parse_day};
pub use message::{
    Attachment, Header, ParsedMessage, Part, PartKind, Summary, VIEW_PART_LIMIT, VIEW_TOTAL_LIMIT,
    attachment_data, parse_view, split_message, summarize,
};
pub use names::{AccountId, FolderName, MAX_ACCOUNT_ID_LEN, MAX_FOLDER_NAME_LEN};
pub use repair::{
    IndexRepairReport, MendedJournalEntry, QuarantinedRecord, RecoveryPlan, RecoveryReport,
    RepairedMessage, RepairedSnapshot,
};
pub use repo::{DEFAULT_RETENTION_DAYS, Repository, RepositoryOptions, RepositoryStats};
pub use restore::{
    AccessPolicy, Action, Actor, AddressLookup, AdminContact, AuditEntry, AuditEvent,
    BillingRecord, BillingSink, DamagedRequest, DefaultTemplates, EmailNotifier, EmailSettings,
    EmailTemplates, EmailTransport, FolderPlan, Language, LedgerBilling, LedgerQuery, Mailboxes,
    MaildirRoot, Notification, NotificationKind, Notifier, Pricing, QueuedRequest, Recipient,
    RenderedEmail, RequestId, RequestListing, RequestState, RestoreDesk, RestoreOutcome,
    RestorePlan, RestoreRequest, RestoreResult, RestoreScope, RestoreSettings, Tenant,
    TenantDirectory, TenantId, TenantsFile, UserAddress, Wording,
};
pub use retention::{ExpiredSnapshot, PinnedSnapshot, PrunePlan, PruneReport, retention_start};
pub use snapshot::{SnapshotOptions, SnapshotProgress, SnapshotReport};
pub use source::{
    DiscoveredAccounts, MaildirAccount, MaildirReader, MessageFile, ReadOutcome, ScannedAccount,
    ScannedFolder, SourceOptions, SourceWarning, encode_folder_dir,
};
pub use source::{InvalidAccount, RootAccounts};
pub use units::format_bytes;
pub use upgrade::UpgradeReport;
pub use verify::{DamagedMessage, Problem, VerifyOptions, VerifyReport};
