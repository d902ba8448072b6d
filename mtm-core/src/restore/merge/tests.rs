use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use filetime::FileTime;

use super::*;
use crate::backend::{Backend, FaultInjectingBackend, MemoryBackend};
use crate::clock::FixedClock;
use crate::flags::Flags;
use crate::repo::RepositoryOptions;
use crate::snapshot::SnapshotOptions;
use crate::source::subscriptions::SubscriptionFormat;
use crate::source::{ReadOutcome, encode_folder_dir};
use crate::{ErrorKind, Repository};

const DAY: &str = "2026-11-20";
const RECEIVED: i64 = 1_790_000_000;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

fn alice() -> AccountId {
    AccountId::new("alice@example.com").unwrap()
}

fn folder(name: &str) -> FolderName {
    FolderName::new(name).unwrap()
}

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: bob@example.org\nTo: alice@example.com\nSubject: {subject}\n\
         Date: Tue, 17 Nov 2026 10:00:00 +0000\n\n{subject} body\n"
    )
    .into_bytes()
}

fn options(marker: &str) -> MergeOptions {
    MergeOptions {
        marker: marker.to_owned(),
        tag_keyword: None,
    }
}

/// A live Maildir++ account written as Dovecot writes it, and a repository to snapshot it.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    storage: Arc<MemoryBackend>,
    repo: Repository,
    counter: u32,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("alice");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(root.join(sub)).unwrap();
        }
        fs::write(root.join("subscriptions"), "V\t2\n\n").unwrap();
        let storage = Arc::new(MemoryBackend::new());
        let repo =
            Repository::init_with_backend(storage.clone(), RepositoryOptions::default()).unwrap();
        Self {
            _dir: dir,
            root,
            storage,
            repo,
            counter: 0,
        }
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(encode_folder_dir(&folder(name)))
    }

    fn add_folder(&self, name: &str, subscribed: bool) {
        let dir = self.dir(name);
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        fs::write(dir.join("maildirfolder"), "").unwrap();
        if subscribed {
            let mut text = fs::read_to_string(self.root.join("subscriptions")).unwrap();
            text.push_str(&SubscriptionFormat::DovecotV2.line(&folder(name)));
            text.push('\n');
            fs::write(self.root.join("subscriptions"), text).unwrap();
        }
    }

    fn deliver(&mut self, name: &str, raw: &[u8], info: &str, received: i64) -> PathBuf {
        self.counter += 1;
        let file = format!(
            "{received}.M{}P1.host,S={}:2,{info}",
            self.counter,
            raw.len()
        );
        let path = self.dir(name).join("cur").join(file);
        fs::write(&path, raw).unwrap();
        filetime::set_file_mtime(&path, FileTime::from_unix_time(received, 0)).unwrap();
        path
    }

    fn live(&self) -> MaildirAccount {
        MaildirAccount::open(&self.root).unwrap()
    }

    fn snapshot(&self) {
        let clock = FixedClock::parse(&format!("{DAY}T00:00:30Z")).unwrap();
        self.repo
            .snapshot(&alice(), &self.live(), &clock, &SnapshotOptions::default())
            .unwrap();
    }

    fn view(&self) -> AccountView {
        self.repo.account(&alice()).unwrap()
    }

    fn plan(&self, scope: &RestoreScope, marker: &str) -> Result<RestorePlan> {
        plan(&self.view(), day(), scope, &self.live(), &options(marker))
    }

    fn execute(&self, scope: &RestoreScope, options: &MergeOptions) -> Result<RestoreResult> {
        execute(&self.view(), day(), scope, &self.live(), options)
    }
}

/// One live message as a scan and a read see it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    id: MessageId,
    flags: String,
    keywords: Vec<String>,
    received: i64,
}

/// Every live message, per folder, sorted: through `MaildirAccount::scan` and `read`.
fn live_state(live: &MaildirAccount) -> BTreeMap<String, Vec<Seen>> {
    let scan = live.scan().unwrap();
    let mut state = BTreeMap::new();
    for f in scan.folders {
        let mut seen = Vec::new();
        for file in &f.messages {
            let ReadOutcome::Read { bytes, .. } = live.read(file).unwrap() else {
                panic!("vanished: {file:?}");
            };
            assert_eq!(bytes.len() as u64, file.size);
            let mut keywords = file.keywords.clone();
            keywords.sort();
            seen.push(Seen {
                id: MessageId::of(&bytes),
                flags: file.flags.to_string(),
                keywords,
                received: file.received,
            });
        }
        seen.sort();
        state.insert(f.name.as_str().to_owned(), seen);
    }
    state
}

fn seen(raw: &[u8], flags: &str, keywords: &[&str], received: i64) -> Seen {
    let mut keywords: Vec<String> = keywords.iter().map(|k| (*k).to_owned()).collect();
    keywords.sort();
    Seen {
        id: MessageId::of(raw),
        flags: Flags::from_maildir_letters(flags).to_string(),
        keywords,
        received,
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn deleted_messages_come_back_with_flags_keywords_and_date_and_new_mail_is_untouched() {
    let mut fx = Fixture::new();
    fs::write(fx.root.join("dovecot-keywords"), "0 $Label1\n1 Work\n").unwrap();
    let kept = message("kept");
    let lost = message("lost");
    let tagged = message("tagged");
    let kept_path = fx.deliver("INBOX", &kept, "S", RECEIVED);
    let lost_path = fx.deliver("INBOX", &lost, "FRS", RECEIVED + 10);
    let tagged_path = fx.deliver("INBOX", &tagged, "Sab", RECEIVED + 20);
    fx.snapshot();

    fs::remove_file(lost_path).unwrap();
    fs::remove_file(tagged_path).unwrap();
    // After the snapshot: new mail, and the server reorders the keyword file.
    let fresh = message("arrived later");
    let fresh_path = fx.deliver("INBOX", &fresh, "", RECEIVED + 100);
    fs::write(fx.root.join("dovecot-keywords"), "0 Work\n").unwrap();

    let scope = RestoreScope::Account;
    let planned = fx.plan(&scope, "r1").unwrap();
    assert_eq!(
        (planned.messages, planned.already_present),
        (2, 1),
        "{planned:?}"
    );
    assert_eq!(planned.bytes, (lost.len() + tagged.len()) as u64);
    let result = fx
        .execute(
            &scope,
            &MergeOptions {
                marker: "r1".into(),
                tag_keyword: Some("$Restored".into()),
            },
        )
        .unwrap();
    assert_eq!(result.messages_restored, planned.messages);
    assert_eq!(result.bytes_restored, planned.bytes);
    assert_eq!(result.already_present, 1);
    assert!(result.folders_recreated.is_empty() && result.folders_resubscribed.is_empty());
    assert!(result.warnings.is_empty(), "{:?}", result.warnings);

    let state = live_state(&fx.live());
    let mut expected = vec![
        seen(&kept, "S", &[], RECEIVED),
        seen(&lost, "FRS", &["$Restored"], RECEIVED + 10),
        seen(
            &tagged,
            "S",
            &["$Label1", "Work", "$Restored"],
            RECEIVED + 20,
        ),
        seen(&fresh, "", &[], RECEIVED + 100),
    ];
    expected.sort();
    assert_eq!(state["INBOX"], expected);
    // Untouched: the kept and the new file, by name and content.
    assert_eq!(fs::read(&kept_path).unwrap(), kept);
    assert_eq!(fs::read(&fresh_path).unwrap(), fresh);
    // The keyword file kept its line and gained the others, in order of first need.
    let keywords = fs::read_to_string(fx.root.join("dovecot-keywords")).unwrap();
    assert_eq!(keywords, "0 Work\n1 $Label1\n2 $Restored\n");

    // Names, modes and byte-exact content of the restored files.
    let lost_id = MessageId::of(&lost).to_hex();
    let name = format!(
        "{}.M{}.r1.mtm,S={}:2,FRSc",
        RECEIVED + 10,
        &lost_id[..16],
        lost.len()
    );
    let path = fx.root.join("cur").join(&name);
    assert_eq!(
        fs::read(&path).unwrap(),
        lost,
        "{:?}",
        files_in(&fx.root.join("cur"))
    );
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.mtime(), RECEIVED + 10);
    let tagged_id = MessageId::of(&tagged).to_hex();
    let tagged_name = format!(
        "{}.M{}.r1.mtm,S={}:2,Sabc",
        RECEIVED + 20,
        &tagged_id[..16],
        tagged.len()
    );
    assert_eq!(
        fs::read(fx.root.join("cur").join(tagged_name)).unwrap(),
        tagged
    );
    assert!(files_in(&fx.root.join("tmp")).is_empty());
}

#[test]
fn a_second_run_writes_nothing() {
    let mut fx = Fixture::new();
    fx.add_folder("Sent", true);
    let a = message("a");
    let b = message("b");
    let pa = fx.deliver("INBOX", &a, "S", RECEIVED);
    let pb = fx.deliver("Sent", &b, "S", RECEIVED + 1);
    fx.snapshot();
    fs::remove_file(pa).unwrap();
    fs::remove_file(pb).unwrap();

    let first = fx.execute(&RestoreScope::Account, &options("r2")).unwrap();
    assert_eq!((first.messages_restored, first.already_present), (2, 0));
    let before = live_state(&fx.live());
    let files_before = (
        files_in(&fx.root.join("cur")),
        files_in(&fx.dir("Sent").join("cur")),
    );

    for marker in ["r2", "r3"] {
        let again = fx
            .execute(&RestoreScope::Account, &options(marker))
            .unwrap();
        assert_eq!((again.messages_restored, again.bytes_restored), (0, 0));
        assert_eq!(again.already_present, 2);
        let plan = fx.plan(&RestoreScope::Account, marker).unwrap();
        assert_eq!((plan.messages, plan.already_present), (0, 2));
    }
    assert_eq!(live_state(&fx.live()), before);
    assert_eq!(
        (
            files_in(&fx.root.join("cur")),
            files_in(&fx.dir("Sent").join("cur"))
        ),
        files_before
    );
}

#[test]
fn a_moved_message_is_not_duplicated_but_this_requests_own_copy_elsewhere_does_not_count() {
    let mut fx = Fixture::new();
    fx.add_folder("Archive", true);
    let x = message("moved");
    let path = fx.deliver("INBOX", &x, "S", RECEIVED);
    fx.snapshot();

    // The user moved it to Archive, under another name (as a COPY + EXPUNGE would).
    let moved = fx
        .dir("Archive")
        .join("cur")
        .join("1799999999.M9P9.other,S=1:2,S");
    fs::write(&moved, &x).unwrap();
    fs::remove_file(&path).unwrap();
    let plan = fx.plan(&RestoreScope::Account, "r1").unwrap();
    assert_eq!((plan.messages, plan.already_present), (0, 1), "{plan:?}");
    let result = fx.execute(&RestoreScope::Account, &options("r1")).unwrap();
    assert_eq!(result.messages_restored, 0);
    assert_eq!(live_state(&fx.live())["INBOX"], vec![]);

    // A copy that this very request wrote into Archive does not stand for INBOX's...
    fs::remove_file(&moved).unwrap();
    let entry_name = |marker: &str| {
        let id = MessageId::of(&x).to_hex();
        format!("{RECEIVED}.M{}.{marker}.mtm,S={}:2,S", &id[..16], x.len())
    };
    let ours = fx.dir("Archive").join("cur").join(entry_name("r1"));
    fs::write(&ours, &x).unwrap();
    assert_eq!(fx.plan(&RestoreScope::Account, "r1").unwrap().messages, 1);
    // ... but one written by another request (or anyone else) does.
    assert_eq!(fx.plan(&RestoreScope::Account, "r7").unwrap().messages, 0);
    assert_eq!(fx.plan(&RestoreScope::Account, "r").unwrap().messages, 0);
    let result = fx.execute(&RestoreScope::Account, &options("r1")).unwrap();
    assert_eq!(result.messages_restored, 1);
    assert_eq!(
        live_state(&fx.live())["INBOX"],
        vec![seen(&x, "S", &[], RECEIVED)]
    );
}

#[test]
fn a_message_gone_everywhere_comes_back_to_every_folder_and_twins_in_one_folder_once() {
    let mut fx = Fixture::new();
    fx.add_folder("Archive/2024", false);
    let x = message("everywhere");
    let paths = [
        fx.deliver("INBOX", &x, "S", RECEIVED),
        fx.deliver("INBOX", &x, "F", RECEIVED + 5),
        fx.deliver("Archive/2024", &x, "", RECEIVED),
    ];
    fx.snapshot();
    for p in paths {
        fs::remove_file(p).unwrap();
    }
    let plan = fx.plan(&RestoreScope::Account, "r1").unwrap();
    let inbox = &plan.folders[0];
    assert_eq!((inbox.in_snapshot, inbox.to_restore), (1, 1), "{plan:?}");
    assert_eq!(plan.messages, 2);
    fx.execute(&RestoreScope::Account, &options("r1")).unwrap();
    let state = live_state(&fx.live());
    // The first file by name (received earlier) gives flags and date.
    assert_eq!(state["INBOX"], vec![seen(&x, "S", &[], RECEIVED)]);
    assert_eq!(state["Archive/2024"], vec![seen(&x, "", &[], RECEIVED)]);
}

#[test]
fn a_deleted_folder_is_recreated_and_subscribed_again_in_dovecots_format() {
    let mut fx = Fixture::new();
    fx.add_folder("Archive/2024", true);
    fx.add_folder("Entwürfe", true);
    fx.add_folder("Unsubscribed", false);
    fx.add_folder("Empty", true);
    let a = message("archived");
    let d = message("draft");
    let u = message("hidden");
    fx.deliver("Archive/2024", &a, "S", RECEIVED);
    fx.deliver("Entwürfe", &d, "D", RECEIVED + 1);
    fx.deliver("Unsubscribed", &u, "", RECEIVED + 2);
    fx.snapshot();

    for name in ["Archive/2024", "Entwürfe", "Unsubscribed", "Empty"] {
        fs::remove_dir_all(fx.dir(name)).unwrap();
    }
    // IMAP DELETE keeps subscriptions; this user also unsubscribed Entwürfe.
    fs::write(
        fx.root.join("subscriptions"),
        "V\t2\n\nArchive\t2024\nEmpty\n",
    )
    .unwrap();

    let plan = fx.plan(&RestoreScope::Account, "r1").unwrap();
    let flags: Vec<(&str, bool, bool)> = plan
        .folders
        .iter()
        .map(|f| (f.folder.as_str(), f.recreate, f.resubscribe))
        .collect();
    assert_eq!(
        flags,
        [
            ("INBOX", false, false),
            ("Archive/2024", true, false),
            ("Empty", true, false),
            ("Entwürfe", true, true),
            ("Unsubscribed", true, false),
        ]
    );
    assert_eq!(
        plan.folders_to_recreate().len(),
        4,
        "an empty folder is recreated too"
    );
    let result = fx.execute(&RestoreScope::Account, &options("r1")).unwrap();
    assert_eq!(result.folders_recreated.len(), 4);
    assert_eq!(result.folders_resubscribed, vec![folder("Entwürfe")]);
    for (name, dir) in [
        ("Archive/2024", ".Archive.2024"),
        ("Entwürfe", ".Entw&APw-rfe"),
        ("Empty", ".Empty"),
    ] {
        let dir = fx.root.join(dir);
        assert_eq!(dir, fx.dir(name));
        for sub in ["cur", "new", "tmp"] {
            let meta = fs::metadata(dir.join(sub)).unwrap();
            assert!(meta.is_dir());
            assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        }
        assert_eq!(fs::read(dir.join("maildirfolder")).unwrap(), b"");
    }
    assert_eq!(
        fs::read_to_string(fx.root.join("subscriptions")).unwrap(),
        "V\t2\n\nArchive\t2024\nEmpty\nEntw&APw-rfe\n"
    );
    assert!(!fx.root.join("subscriptions.lock").exists());
    let scan = fx.live().scan().unwrap();
    let subscribed: Vec<(&str, bool)> = scan
        .folders
        .iter()
        .map(|f| (f.name.as_str(), f.subscribed))
        .collect();
    assert_eq!(
        subscribed,
        [
            ("INBOX", true),
            ("Archive/2024", true),
            ("Empty", true),
            ("Entwürfe", true),
            ("Unsubscribed", false),
        ]
    );
    let state = live_state(&fx.live());
    assert_eq!(state["Entwürfe"], vec![seen(&d, "D", &[], RECEIVED + 1)]);
    assert_eq!(state["Unsubscribed"], vec![seen(&u, "", &[], RECEIVED + 2)]);
}

#[test]
fn subscriptions_keep_the_old_dovecot_format_or_courier_or_are_created() {
    for (file, before, after) in [
        ("subscriptions", Some("Sent\n"), "Sent\nArchive.2024\n"),
        (
            "courierimapsubscribed",
            Some("INBOX\n"),
            "INBOX\nINBOX.Archive.2024\n",
        ),
        ("subscriptions", None, "V\t2\n\nArchive\t2024\n"),
    ] {
        let mut fx = Fixture::new();
        fx.add_folder("Archive/2024", true);
        let path = fx.deliver("Archive/2024", &message("a"), "", RECEIVED);
        fx.snapshot();
        fs::remove_file(path).unwrap();
        fs::remove_file(fx.root.join("subscriptions")).unwrap();
        if let Some(before) = before {
            fs::write(fx.root.join(file), before).unwrap();
        }
        let result = fx.execute(&RestoreScope::Account, &options("r1")).unwrap();
        assert_eq!(result.folders_resubscribed, vec![folder("Archive/2024")]);
        assert_eq!(fs::read_to_string(fx.root.join(file)).unwrap(), after);
        let scan = fx.live().scan().unwrap();
        assert!(
            scan.folders.iter().all(|f| f.subscribed),
            "{file} {before:?}"
        );
    }
}

#[test]
fn scope_by_folders_and_by_messages_and_unknown_ones_are_not_found() {
    let mut fx = Fixture::new();
    fx.add_folder("Sent", true);
    fx.add_folder("Gone", true);
    let a = message("a");
    let b = message("b");
    let c = message("c");
    let paths = [
        fx.deliver("INBOX", &a, "S", RECEIVED),
        fx.deliver("Sent", &b, "S", RECEIVED + 1),
        fx.deliver("Gone", &c, "S", RECEIVED + 2),
        fx.deliver("Sent", &c, "S", RECEIVED + 2),
    ];
    fx.snapshot();
    for p in &paths {
        fs::remove_file(p).unwrap();
    }
    fs::remove_dir_all(fx.dir("Gone")).unwrap();

    let sent = RestoreScope::Folders {
        folders: vec![folder("Sent")],
    };
    let plan = fx.plan(&sent, "r1").unwrap();
    assert_eq!(plan.folders.len(), 1);
    assert_eq!((plan.messages, plan.folders[0].in_snapshot), (2, 2));
    let result = fx.execute(&sent, &options("r1")).unwrap();
    assert_eq!(result.messages_restored, 2);
    let state = live_state(&fx.live());
    assert_eq!(state["INBOX"], vec![]);
    assert_eq!(state["Sent"].len(), 2);
    assert!(!state.contains_key("Gone"));

    // By message: c is in Sent now (restored by r1, another request), so Gone gets nothing
    // and is not recreated for a message scope.
    let only_c = RestoreScope::Messages {
        messages: vec![MessageId::of(&c)],
    };
    let plan = fx.plan(&only_c, "r2").unwrap();
    let folders: Vec<(&str, u64, bool)> = plan
        .folders
        .iter()
        .map(|f| (f.folder.as_str(), f.to_restore, f.recreate))
        .collect();
    assert_eq!(folders, [("Gone", 0, false), ("Sent", 0, false)]);
    let only_a = RestoreScope::Messages {
        messages: vec![MessageId::of(&a)],
    };
    let result = fx.execute(&only_a, &options("r2")).unwrap();
    assert_eq!(result.messages_restored, 1);
    let state = live_state(&fx.live());
    assert_eq!(state["INBOX"], vec![seen(&a, "S", &[], RECEIVED)]);
    assert!(!state.contains_key("Gone"));

    let unknown_folder = RestoreScope::Folders {
        folders: vec![folder("Sent"), folder("Nope")],
    };
    let unknown_message = RestoreScope::Messages {
        messages: vec![MessageId::of(&a), MessageId::of(b"never seen")],
    };
    for scope in [unknown_folder, unknown_message] {
        assert_eq!(
            fx.plan(&scope, "r3").unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let err = fx.execute(&scope, &options("r3")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }
    let empty = RestoreScope::Messages { messages: vec![] };
    assert_eq!(
        fx.plan(&empty, "r3").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let other_day = plan_on(&fx, NaiveDate::from_ymd_opt(2026, 11, 19).unwrap());
    assert_eq!(other_day.unwrap_err().kind(), ErrorKind::NotFound);
}

fn plan_on(fx: &Fixture, day: NaiveDate) -> Result<RestorePlan> {
    plan(
        &fx.view(),
        day,
        &RestoreScope::Account,
        &fx.live(),
        &options("r1"),
    )
}

#[test]
fn markers_and_tags_are_checked() {
    let mut fx = Fixture::new();
    fx.deliver("INBOX", &message("a"), "", RECEIVED);
    fx.snapshot();
    for marker in ["", "r.1", "r/1", "r:1", "r 1", &"x".repeat(65)] {
        let err = fx
            .execute(&RestoreScope::Account, &options(marker))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{marker:?}");
    }
    for tag in ["", "two words", "\\Seen", "a(b", "nön"] {
        let options = MergeOptions {
            marker: "r1".into(),
            tag_keyword: Some(tag.into()),
        };
        let err = fx.execute(&RestoreScope::Account, &options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{tag:?}");
    }
    assert!(fx.plan(&RestoreScope::Account, "").is_ok());
}

#[test]
fn a_keyword_without_a_free_letter_is_dropped_with_a_warning() {
    let mut fx = Fixture::new();
    let full: String = (0..26).map(|i| format!("{i} k{i}\n")).collect();
    fs::write(fx.root.join("dovecot-keywords"), &full).unwrap();
    let raw = message("a");
    let path = fx.deliver("INBOX", &raw, "Sz", RECEIVED);
    fx.snapshot();
    fs::remove_file(path).unwrap();
    let options = MergeOptions {
        marker: "r1".into(),
        tag_keyword: Some("$Restored".into()),
    };
    let result = fx.execute(&RestoreScope::Account, &options).unwrap();
    assert_eq!(result.messages_restored, 1);
    assert_eq!(result.warnings.len(), 1, "{:?}", result.warnings);
    assert!(result.warnings[0].contains("$Restored"));
    assert_eq!(
        live_state(&fx.live())["INBOX"],
        vec![seen(&raw, "S", &["k25"], RECEIVED)]
    );
    assert_eq!(
        fs::read_to_string(fx.root.join("dovecot-keywords")).unwrap(),
        full
    );
}

#[test]
fn stale_tmp_files_of_this_request_are_replaced_and_others_kept() {
    let mut fx = Fixture::new();
    let raw = message("a");
    let path = fx.deliver("INBOX", &raw, "", RECEIVED);
    fx.snapshot();
    fs::remove_file(path).unwrap();
    let id = MessageId::of(&raw).to_hex();
    let half = format!("{RECEIVED}.M{}.r1.mtm,S={}", &id[..16], raw.len());
    fs::write(fx.root.join("tmp").join(&half), &raw[..5]).unwrap();
    let other = format!("{RECEIVED}.M{}.r2.mtm,S={}", &id[..16], raw.len());
    fs::write(fx.root.join("tmp").join(&other), b"x").unwrap();
    fs::write(fx.root.join("tmp").join("123.M1P1.host"), b"delivery").unwrap();
    // A half-written file in tmp/ is not a message: the plan still restores it.
    assert_eq!(fx.plan(&RestoreScope::Account, "r1").unwrap().messages, 1);
    fx.execute(&RestoreScope::Account, &options("r1")).unwrap();
    assert_eq!(
        files_in(&fx.root.join("tmp")),
        ["123.M1P1.host", other.as_str()]
    );
    assert_eq!(
        fs::read(fx.root.join("cur").join(format!("{half}:2,"))).unwrap(),
        raw
    );
}

#[test]
fn restored_names_are_recognised_only_with_their_marker() {
    assert!(is_restored_by(
        "1790000000.M0123456789abcdef.r1.mtm,S=12",
        "r1"
    ));
    assert!(is_restored_by("-5.M0123456789abcdef.r1.mtm,S=0", "r1"));
    for (name, marker) in [
        ("1790000000.M0123456789abcdef.r1.mtm,S=12", "r"),
        ("1790000000.M0123456789abcdef.r1.mtm,S=12", "r11"),
        ("1790000000.M0123456789abcdef.r1.mtm,S=12", ""),
        ("1790000000.M0123456789abcde.r1.mtm,S=12", "r1"),
        ("1790000000.M0123456789abcdef.r1.mtm", "r1"),
        ("1790000000.M0123456789abcdef.x.r1.mtm,S=12", "r1"),
        ("1790000000.M1P1.host,S=12", "r1"),
    ] {
        assert!(!is_restored_by(name, marker), "{name} {marker}");
    }
}

/// A run that dies at any read of the repository, then a healthy run: the live account ends
/// exactly as after one clean run, for every crash point.
#[test]
fn a_crash_at_any_point_then_a_resume_leaves_no_gap_and_no_duplicate() {
    fn build(fx: &mut Fixture) -> Vec<PathBuf> {
        let x = message("in two folders");
        vec![
            fx.deliver("INBOX", &message("one"), "S", RECEIVED),
            fx.deliver("INBOX", &x, "S", RECEIVED + 1),
            fx.deliver("Archive", &x, "F", RECEIVED + 1),
            fx.deliver("Archive", &message("two"), "", RECEIVED + 2),
            fx.deliver("Archive", &message("three"), "Sa", RECEIVED + 3),
        ]
    }
    let mut source = Fixture::new();
    source.add_folder("Archive", true);
    fs::write(source.dir("Archive").join("dovecot-keywords"), "0 Work\n").unwrap();
    build(&mut source);
    source.snapshot();
    let expected = live_state(&source.live());

    let mut crashed_runs = 0;
    for crash_at in 1.. {
        let mut fx = Fixture::new();
        fx.add_folder("Archive", true);
        fs::write(fx.dir("Archive").join("dovecot-keywords"), "0 Work\n").unwrap();
        for p in build(&mut fx) {
            fs::remove_file(p).unwrap();
        }
        fs::remove_dir_all(fx.dir("Archive")).unwrap();

        let faulty = Arc::new(FaultInjectingBackend::new(source.storage.clone(), 0));
        let repo = Repository::open_with_backend(faulty.clone()).unwrap();
        let view = repo.account(&alice()).unwrap();
        faulty.fail_reads_from(faulty.reads() + crash_at);
        let first = execute(
            &view,
            day(),
            &RestoreScope::Account,
            &fx.live(),
            &options("r4"),
        );
        let Err(err) = first else {
            // No read left to fail: the run completed.
            assert_eq!(live_state(&fx.live()), expected);
            break;
        };
        assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
        crashed_runs += 1;

        let healthy = Repository::open_with_backend(source.storage.clone() as Arc<dyn Backend>)
            .unwrap()
            .account(&alice())
            .unwrap();
        let live = fx.live();
        let before = live_state(&live).values().map(Vec::len).sum::<usize>() as u64;
        let planned = plan(
            &healthy,
            day(),
            &RestoreScope::Account,
            &live,
            &options("r4"),
        )
        .unwrap();
        let result = execute(
            &healthy,
            day(),
            &RestoreScope::Account,
            &live,
            &options("r4"),
        )
        .unwrap();
        assert_eq!(result.messages_restored, planned.messages);
        assert_eq!(
            result.messages_restored + before,
            5,
            "crash at read {crash_at}"
        );
        assert_eq!(live_state(&live), expected, "crash at read {crash_at}");
    }
    // Reading five messages takes more than a few reads: the crash hit before, between and
    // after messages.
    assert!(crashed_runs >= 5, "{crashed_runs}");
}

#[test]
fn files_are_given_to_the_account_owner_when_running_as_root() {
    if write::process_ids().map(|ids| ids.0) != Some(0) {
        eprintln!("not root: chown not testable here");
        return;
    }
    let mut fx = Fixture::new();
    fx.add_folder("Old", true);
    let path = fx.deliver("Old", &message("a"), "Sa", RECEIVED);
    fs::write(fx.dir("Old").join("dovecot-keywords"), "0 Work\n").unwrap();
    fx.snapshot();
    fs::remove_dir_all(fx.dir("Old")).unwrap();
    assert!(!path.exists());
    fs::write(fx.root.join("subscriptions"), "V\t2\n\n").unwrap();
    std::os::unix::fs::chown(&fx.root, Some(65534), Some(65534)).unwrap();
    let options = MergeOptions {
        marker: "r1".into(),
        tag_keyword: Some("$Restored".into()),
    };
    fx.execute(&RestoreScope::Account, &options).unwrap();
    let dir = fx.dir("Old");
    let mut created = vec![
        dir.clone(),
        dir.join("cur"),
        dir.join("new"),
        dir.join("tmp"),
        dir.join("maildirfolder"),
        dir.join("dovecot-keywords"),
        fx.root.join("subscriptions"),
    ];
    created.extend(
        files_in(&dir.join("cur"))
            .iter()
            .map(|f| dir.join("cur").join(f)),
    );
    assert_eq!(created.len(), 8);
    for path in created {
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (65534, 65534),
            "{}",
            path.display()
        );
    }
}

/// The restores above, through the fallback walk of a kernel without `openat2`.
#[test]
fn without_openat2_the_walk_restores_the_same() {
    crate::source::beneath::force_walk_on_this_thread(true);
    deleted_messages_come_back_with_flags_keywords_and_date_and_new_mail_is_untouched();
    a_second_run_writes_nothing();
    a_deleted_folder_is_recreated_and_subscribed_again_in_dovecots_format();
    stale_tmp_files_of_this_request_are_replaced_and_others_kept();
    a_crash_at_any_point_then_a_resume_leaves_no_gap_and_no_duplicate();
    files_are_given_to_the_account_owner_when_running_as_root();
}
