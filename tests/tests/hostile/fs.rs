//! Issue 9, items 1–4 and 16: a mail user who can write their own Maildir tries to make a
//! snapshot or a restore (run as root) read or write outside the mailbox, hang, or lose mail
//! without a word.

use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use mtm_core::{
    AccountId, Actor, FixedClock, FolderName, MaildirAccount, MaildirRoot, MessageQuery,
    RequestState, RestoreDesk, RestoreScope, RestoreSettings, SnapshotOptions, SnapshotProgress,
    SnapshotReport, SourceOptions,
};
use mtm_tests::hostile::{Secret, chown_tree, mail_owner, tree_contains};
use mtm_tests::{Maildir, TestRepo, day, message};

const DAY: &str = "2026-11-10";

/// Every message the repository stored for `account` on [`DAY`], as raw bytes.
fn stored(repo: &TestRepo, account: &str) -> Vec<Vec<u8>> {
    let view = repo
        .repo
        .account(&AccountId::new(account).unwrap())
        .unwrap();
    let mut all = Vec::new();
    for folder in view.folders(day(DAY)).unwrap() {
        let query = MessageQuery {
            limit: usize::MAX,
            ..MessageQuery::default()
        };
        for info in view
            .messages(day(DAY), &folder.name, &query)
            .unwrap()
            .messages
        {
            all.push(view.raw(day(DAY), &info.id).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Gives a Maildir to the mail user, as a delivery agent leaves it.
fn hand_over(root: &Path) {
    if let Some(owner) = mail_owner() {
        chown_tree(root, owner);
    }
}

/// Runs `f` on a thread and fails the test if it takes more than a minute (a FIFO opened
/// for reading blocks forever).
fn within_a_minute<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} hung"))
}

/// Runs a closure once, when the snapshot has listed the account and before it reads any
/// message: the moment a user swaps files under it.
struct AfterScan(Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl std::fmt::Debug for AfterScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AfterScan")
    }
}

impl SnapshotProgress for AfterScan {
    fn started(&self, _: &AccountId, _: u64, _: u64, _: u64) {
        if let Some(swap) = self.0.lock().unwrap().take() {
            swap();
        }
    }
    fn advanced(&self, _: u64) {}
}

fn after_scan(swap: impl FnOnce() + Send + 'static) -> SnapshotOptions {
    SnapshotOptions {
        progress: Some(Arc::new(AfterScan(Mutex::new(Some(Box::new(swap)))))),
        ..SnapshotOptions::default()
    }
}

fn warned_about(report: &SnapshotReport, path: &Path) -> bool {
    let path = path.display().to_string();
    report.warnings.iter().any(|w| w.contains(&path))
}

#[test]
fn item1_a_symlinked_cur_never_stores_another_users_mail() {
    let tmp = tempfile::tempdir().unwrap();
    let mut alice = Maildir::create(tmp.path().join("alice"));
    let theirs = message("boss@example.com", "alice@x", "Alice only", "PRIVATE-ALICE");
    alice.deliver("INBOX", &theirs, "S", 1_763_000_000);
    let mut mallory = Maildir::create(tmp.path().join("mallory"));
    mallory.add_folder("Stolen", true);
    let stolen_cur = mallory.folder_dir("Stolen").join("cur");
    fs::remove_dir(&stolen_cur).unwrap();
    symlink(alice.root.join("cur"), &stolen_cur).unwrap();
    let inbox_new = mallory.root.join("new");
    fs::remove_dir(&inbox_new).unwrap();
    symlink(alice.root.join("cur"), &inbox_new).unwrap();
    hand_over(&alice.root);
    hand_over(&mallory.root);

    let repo = TestRepo::new();
    let report = repo.snapshot("mallory@x", &mallory, DAY);
    assert!(
        stored(&repo, "mallory@x")
            .iter()
            .all(|raw| !contains(raw, b"PRIVATE-ALICE"))
    );
    assert_eq!(report.messages, 0);
    assert!(warned_about(&report, &stolen_cur), "{:?}", report.warnings);
    assert!(warned_about(&report, &inbox_new), "{:?}", report.warnings);
}

#[test]
fn item1_a_symlinked_maildir_of_an_account_is_not_followed_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mail");
    let mut alice = Maildir::create(root.join("alice@x/Maildir"));
    alice.deliver(
        "INBOX",
        &message("a@x", "alice@x", "Hi", "PRIVATE-ALICE"),
        "S",
        1,
    );
    fs::create_dir_all(root.join("mallory@x")).unwrap();
    symlink(&alice.root, root.join("mallory@x/Maildir")).unwrap();
    hand_over(&root.join("alice@x"));
    hand_over(&root.join("mallory@x"));

    let names: Vec<String> = MaildirAccount::discover(&root)
        .unwrap()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["alice@x"]);
    let found = MaildirAccount::discover_with(&root, &mtm_core::SourceOptions::default()).unwrap();
    assert_eq!(found.warnings.len(), 1, "{:?}", found.warnings);
    assert_eq!(found.warnings[0].path, root.join("mallory@x/Maildir"));
    let err = MaildirAccount::open(root.join("mallory@x/Maildir")).unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");
}

#[test]
fn item2_a_message_swapped_for_a_symlink_after_the_listing_is_not_read_through() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = Secret::create(tmp.path(), "swap");
    let mut mallory = Maildir::create(tmp.path().join("mallory"));
    let path = mallory.deliver("INBOX", &message("a@x", "m@x", "Bait", "bait"), "S", 1);
    hand_over(&mallory.root);

    let repo = TestRepo::new();
    let (link, target) = (path.clone(), secret.path.clone());
    let options = after_scan(move || {
        fs::remove_file(&link).unwrap();
        symlink(&target, &link).unwrap();
    });
    let report = repo
        .try_snapshot("mallory@x", &mallory, DAY, &options)
        .unwrap();
    assert!(
        stored(&repo, "mallory@x")
            .iter()
            .all(|raw| !contains(raw, &secret.content))
    );
    assert_eq!(report.messages, 0);
    assert!(warned_about(&report, &path), "{:?}", report.warnings);
}

#[test]
fn item2_a_message_swapped_for_a_fifo_after_the_listing_does_not_hang_the_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let mut mallory = Maildir::create(tmp.path().join("mallory"));
    let path = mallory.deliver("INBOX", &message("a@x", "m@x", "Bait", "bait"), "S", 1);
    mallory.deliver("INBOX", &message("a@x", "m@x", "Real", "real"), "S", 2);
    hand_over(&mallory.root);

    let fifo = path.clone();
    let options = after_scan(move || {
        fs::remove_file(&fifo).unwrap();
        mkfifo(&fifo);
    });
    let (report, _repo, _tmp) = within_a_minute("a snapshot over a FIFO", move || {
        let repo = TestRepo::new();
        let report = repo
            .try_snapshot("mallory@x", &mallory, DAY, &options)
            .unwrap();
        (report, repo, tmp)
    });
    assert_eq!(report.messages, 1);
    assert!(warned_about(&report, &path), "{:?}", report.warnings);
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn item3_fifo_and_dev_zero_control_files_neither_hang_nor_exhaust_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let mut mallory = Maildir::create(tmp.path().join("mallory"));
    mallory.add_folder("Work", true);
    mallory.deliver("INBOX", &message("a@x", "m@x", "Kept", "kept"), "Sa", 1);
    mallory.deliver("Work", &message("a@x", "m@x", "Also", "also"), "S", 2);
    let subscriptions = mallory.root.join("subscriptions");
    fs::remove_file(&subscriptions).unwrap();
    mkfifo(&subscriptions);
    let keywords = mallory.root.join("dovecot-keywords");
    mkfifo(&keywords);
    let work_keywords = mallory.folder_dir("Work").join("dovecot-keywords");
    symlink("/dev/zero", &work_keywords).unwrap();
    let courier = mallory.root.join("courierimapsubscribed");
    symlink("/dev/zero", &courier).unwrap();
    hand_over(&mallory.root);

    let (report, _repo, _tmp) = within_a_minute("a snapshot over FIFO control files", move || {
        let repo = TestRepo::new();
        let report = repo.snapshot("mallory@x", &mallory, DAY);
        (report, repo, tmp)
    });
    assert_eq!(report.messages, 2);
    for path in [&subscriptions, &keywords, &work_keywords, &courier] {
        assert!(
            warned_about(&report, path),
            "{path:?}: {:?}",
            report.warnings
        );
    }
}

/// A repository with one snapshot of alice (nested layout `<mail>/alice@x/Maildir`) and
/// bob; alice then loses a message and a folder.
struct World {
    tmp: tempfile::TempDir,
    repo: TestRepo,
    alice: Maildir,
    bob: Maildir,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let mut alice = Maildir::create(tmp.path().join("mail/alice@x/Maildir"));
        alice.add_folder("Projects", true);
        fs::write(alice.root.join("dovecot-keywords"), "0 $Label1\n").unwrap();
        let lost = message("boss@x", "alice@x", "Lost", "LOST-MESSAGE");
        let lost_path = alice.deliver("INBOX", &lost, "Sa", 1_763_000_000);
        alice.deliver(
            "Projects",
            &message("c@x", "alice@x", "Plan", "plan"),
            "S",
            2,
        );
        let mut bob = Maildir::create(tmp.path().join("mail/bob@x/Maildir"));
        bob.add_folder("Projects", true);
        bob.deliver("INBOX", &message("d@x", "bob@x", "Bob's", "bob"), "S", 3);
        let repo = TestRepo::new();
        repo.snapshot("alice@x", &alice, DAY);
        fs::remove_file(lost_path).unwrap();
        hand_over(&tmp.path().join("mail/alice@x"));
        hand_over(&tmp.path().join("mail/bob@x"));
        World {
            tmp,
            repo,
            alice,
            bob,
        }
    }

    fn mail_root(&self) -> PathBuf {
        self.tmp.path().join("mail")
    }

    /// Alice asks for her account of [`DAY`] back and an admin approves: whether it
    /// completed, and everything said on the way (errors, warnings).
    fn restore(&self) -> (bool, String) {
        self.restore_with(SourceOptions::default())
    }

    /// [`restore`](Self::restore), the desk opening accounts with `options`.
    fn restore_with(&self, options: SourceOptions) -> (bool, String) {
        let desk = RestoreDesk::new(
            self.repo.repo.clone(),
            MaildirRoot::new(self.mail_root()).with_options(options),
            RestoreSettings::default(),
        );
        let alice = AccountId::new("alice@x").unwrap();
        let at = |t: &str| FixedClock::parse(t).unwrap();
        let asked = desk.request(
            &Actor::User(alice.clone()),
            &alice,
            day(DAY),
            RestoreScope::Account,
            &at("2026-11-12T09:00:00Z"),
        );
        let id = match asked {
            Ok(asked) => asked.request.id,
            Err(e) => return (false, e.to_string()),
        };
        let admin = Actor::admin("carol").unwrap();
        match desk.approve(&admin, &id, &at("2026-11-12T10:00:00Z")) {
            Ok(done) => (
                done.request.state == RequestState::Completed,
                format!("{done:?}"),
            ),
            Err(e) => (false, e.to_string()),
        }
    }

    /// Every file below bob's Maildir, by path.
    fn bobs_files(&self) -> Vec<PathBuf> {
        files_below(&self.bob.root)
    }
}

fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            all.extend(files_below(&path));
        } else {
            all.push(path);
        }
    }
    all.sort();
    all
}

#[test]
fn item4_a_restore_through_a_symlinked_folder_directory_writes_nothing_outside() {
    // A folder directory, INBOX's cur/ and INBOX's tmp/, each pointed at bob's.
    type Attack = fn(&World) -> (PathBuf, PathBuf);
    let attacks: [(&str, Attack); 3] = [
        ("folder", |w| {
            (w.alice.folder_dir("Projects"), w.bob.folder_dir("Projects"))
        }),
        ("cur", |w| {
            (w.alice.root.join("cur"), w.bob.root.join("cur"))
        }),
        ("tmp", |w| {
            (w.alice.root.join("tmp"), w.bob.root.join("tmp"))
        }),
    ];
    for (what, attack) in attacks {
        let world = World::new();
        let (theirs, target) = attack(&world);
        fs::remove_dir_all(&theirs).unwrap();
        symlink(&target, &theirs).unwrap();
        let before = world.bobs_files();

        let (completed, said) = world.restore();
        assert!(!completed, "{what}: {said}");
        assert!(
            said.contains(&theirs.display().to_string()),
            "{what}: {said}"
        );
        assert_eq!(world.bobs_files(), before, "{what}");
        assert!(!tree_contains(&world.bob.root, b"LOST-MESSAGE"), "{what}");
    }
}

#[test]
fn item4_a_restore_through_a_symlinked_account_maildir_writes_nothing_outside() {
    let world = World::new();
    let maildir = world.alice.root.clone();
    fs::rename(&maildir, world.tmp.path().join("alice-moved")).unwrap();
    symlink(&world.bob.root, &maildir).unwrap();
    let before = world.bobs_files();

    let (completed, said) = world.restore();
    assert!(!completed, "{said}");
    assert!(said.contains("symlink"), "{said}");
    assert_eq!(world.bobs_files(), before);
    assert!(!tree_contains(&world.bob.root, b"LOST-MESSAGE"));
}

#[test]
fn item4_an_account_the_provider_symlinked_is_restored_only_with_the_option() {
    let world = World::new();
    let account = world.mail_root().join("alice@x");
    let data = world.tmp.path().join("data/alice@x");
    fs::create_dir_all(data.parent().unwrap()).unwrap();
    fs::rename(&account, &data).unwrap();
    symlink(&data, &account).unwrap();

    let (completed, said) = world.restore();
    assert!(!completed, "{said}");
    assert!(said.contains(&account.display().to_string()), "{said}");
    assert!(said.contains("symlink"), "{said}");
    assert!(!tree_contains(&data, b"LOST-MESSAGE"));

    let follow = SourceOptions::default().follow_root_symlink(true);
    let (completed, said) = world.restore_with(follow);
    assert!(completed, "{said}");
    assert!(tree_contains(&data.join("Maildir"), b"LOST-MESSAGE"));
}

#[test]
fn item4_a_restore_never_copies_a_symlinked_control_file_into_the_mailbox() {
    for control in ["subscriptions", "dovecot-keywords"] {
        let world = World::new();
        let secret = Secret::create(world.tmp.path(), control);
        fs::remove_dir_all(world.alice.folder_dir("Projects")).unwrap();
        let file = world.alice.root.join(control);
        fs::remove_file(&file).unwrap();
        symlink(&secret.path, &file).unwrap();

        let (completed, said) = world.restore();
        assert!(!completed, "{control}: {said}");
        assert!(said.contains(&file.display().to_string()), "{said}");
        assert!(
            !tree_contains(&world.alice.root, &secret.content),
            "{control}: the secret was copied into the mailbox"
        );
        assert_eq!(fs::read_link(&file).unwrap(), secret.path);
    }
}

#[test]
fn item4_restored_files_belong_to_the_mailbox_owner() {
    let world = World::new();
    let (completed, said) = world.restore();
    assert!(completed, "{said}");
    let root = &world.alice.root;
    assert!(tree_contains(root, b"LOST-MESSAGE"));
    let want = fs::metadata(root).unwrap();
    let below: Vec<PathBuf> = files_below(root)
        .into_iter()
        .chain([world.alice.folder_dir("Projects")])
        .collect();
    for path in below {
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (want.uid(), want.gid()),
            "{path:?}"
        );
    }
    if let Some(owner) = mail_owner() {
        assert_eq!((want.uid(), want.gid()), (owner.uid, owner.gid));
    }
}

#[test]
fn item16_renames_and_expunges_during_a_snapshot_lose_nothing_unreported() {
    let tmp = tempfile::tempdir().unwrap();
    let mut alice = Maildir::create(tmp.path().join("alice"));
    alice.add_folder("Archive", true);
    let paths: Vec<PathBuf> = (0..2_000)
        .map(|n| {
            let raw = message("a@x", "alice@x", &format!("Message {n}"), "body");
            alice.deliver("INBOX", &raw, "", 1_763_000_000 + n)
        })
        .collect();
    hand_over(&alice.root);
    let expunged: Vec<PathBuf> = paths.iter().step_by(10).cloned().collect();
    let burst = {
        let (paths, expunged) = (paths.clone(), expunged.clone());
        let archive = alice.folder_dir("Archive").join("cur");
        move || {
            for (i, path) in paths.iter().enumerate() {
                if expunged.contains(path) {
                    fs::remove_file(path).unwrap();
                } else if i % 10 == 5 {
                    fs::rename(path, archive.join(path.file_name().unwrap())).unwrap();
                } else {
                    let name = path.file_name().unwrap().to_str().unwrap();
                    fs::rename(path, path.with_file_name(format!("{name}S"))).unwrap();
                }
            }
        }
    };
    let repo = TestRepo::new();
    let report = repo
        .try_snapshot("alice@x", &alice, DAY, &after_scan(burst))
        .unwrap();
    assert_eq!(report.messages, 1_800);
    assert_eq!(report.vanished, 200);
    for path in &expunged {
        assert!(
            warned_about(&report, path),
            "{path:?} missing without a warning"
        );
    }
    let view = repo
        .repo
        .account(&AccountId::new("alice@x").unwrap())
        .unwrap();
    let archived = view
        .folders(day(DAY))
        .unwrap()
        .into_iter()
        .find(|f| f.name == FolderName::new("Archive").unwrap())
        .unwrap();
    assert_eq!(archived.messages, 200);
}

#[test]
fn item16_a_scan_during_a_rename_storm_names_what_it_may_have_missed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut alice = Maildir::create(tmp.path().join("alice"));
    let mut names: Vec<PathBuf> = (0..3_000)
        .map(|n| {
            let raw = message("a@x", "alice@x", &format!("Storm {n}"), "body");
            alice.deliver("INBOX", &raw, "", 1_763_000_000 + n)
        })
        .collect();
    hand_over(&alice.root);
    let unique = |path: &Path| -> String {
        let name = path.file_name().unwrap().to_str().unwrap();
        name.split_once(':').map_or(name, |(u, _)| u).to_owned()
    };
    let all: Vec<String> = names.iter().map(|p| unique(p)).collect();
    // An IMAP client toggling \Seen on every message, over and over.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let storm = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for path in &mut names {
                    let name = path.file_name().unwrap().to_str().unwrap();
                    let toggled = match name.strip_suffix('S') {
                        Some(unseen) => unseen.to_owned(),
                        None => format!("{name}S"),
                    };
                    let next = path.with_file_name(toggled);
                    if fs::rename(&*path, &next).is_err() {
                        return; // the test is over
                    }
                    *path = next;
                }
            }
        })
    };
    let source = alice.source();
    let cur = alice.root.join("cur");
    for _ in 0..5 {
        let scan = source.scan().unwrap();
        if scan.warnings.iter().any(|w| w.path == cur) {
            continue; // the listing never held still, and the scan says so
        }
        let seen: std::collections::HashSet<String> = scan.folders[0]
            .messages
            .iter()
            .map(|m| m.unique.clone())
            .chain(scan.warnings.iter().map(|w| unique(&w.path)))
            .collect();
        for key in &all {
            assert!(
                seen.contains(key),
                "{key} missing from the scan without a warning"
            );
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    storm.join().unwrap();
}

#[test]
fn item1_diff_live_names_a_symlinked_cur_and_stores_nothing_of_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut alice = Maildir::create(tmp.path().join("alice"));
    alice.deliver(
        "INBOX",
        &message("boss@x", "alice@x", "Alice only", "PRIVATE-ALICE"),
        "S",
        1_763_000_000,
    );
    let mut mallory = Maildir::create(tmp.path().join("mallory"));
    mallory.add_folder("Stolen", true);
    mallory.deliver(
        "INBOX",
        &message("a@x", "mallory@x", "Mine", "mine"),
        "S",
        2,
    );
    let repo = TestRepo::new();
    repo.snapshot("mallory@x", &mallory, DAY);
    let stolen_cur = mallory.folder_dir("Stolen").join("cur");
    fs::remove_dir(&stolen_cur).unwrap();
    symlink(alice.root.join("cur"), &stolen_cur).unwrap();
    hand_over(&alice.root);
    hand_over(&mallory.root);

    let view = repo
        .repo
        .account(&AccountId::new("mallory@x").unwrap())
        .unwrap();
    let diff = view.diff_live(day(DAY), &mallory.source()).unwrap();
    assert!(diff.entries.is_empty(), "{:#?}", diff.entries);
    let named = stolen_cur.display().to_string();
    assert!(
        diff.warnings
            .iter()
            .any(|w| w.contains(&named) && w.contains("symlink")),
        "{:?}",
        diff.warnings
    );
    // A day-to-day diff has nothing live to warn about.
    assert!(view.diff(day(DAY), day(DAY)).unwrap().warnings.is_empty());
}

#[test]
fn item2_diff_live_names_a_message_swapped_for_a_fifo_and_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let mut mallory = Maildir::create(tmp.path().join("mallory"));
    let repo = TestRepo::new();
    repo.snapshot("mallory@x", &mallory, DAY);
    let fifo = mallory.deliver("INBOX", &message("a@x", "m@x", "New", "new"), "S", 2);
    mallory.deliver("INBOX", &message("b@x", "m@x", "Other", "other"), "S", 3);
    fs::remove_file(&fifo).unwrap();
    mkfifo(&fifo);
    hand_over(&mallory.root);

    let source = mallory.source();
    let repo_view = repo
        .repo
        .account(&AccountId::new("mallory@x").unwrap())
        .unwrap();
    let diff = within_a_minute("diff --live", move || {
        repo_view.diff_live(day(DAY), &source)
    })
    .unwrap();
    assert_eq!(diff.entries.len(), 1, "{:#?}", diff.entries);
    let named = fifo.display().to_string();
    assert!(
        diff.warnings.iter().any(|w| w.contains(&named)),
        "{:?}",
        diff.warnings
    );
}

#[test]
fn item2_a_hard_link_to_a_file_of_another_owner_is_not_stored_as_mail() {
    // Where fs.protected_hardlinks is 0 (the kernel's own default), a user may hard-link any
    // file of the same file system into their Maildir, even one they cannot read.
    let Some(_owner) = mail_owner() else {
        eprintln!("needs root and the mail user: a root-only file and a user's mailbox");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let secret = Secret::create(tmp.path(), "hardlink");
    let mut mallory = Maildir::create(tmp.path().join("mallory"));
    mallory.add_folder("Copies", true);
    mallory.deliver("INBOX", &message("a@x", "m@x", "Mine", "MINE"), "S", 1);
    let copied = mallory.deliver("INBOX", &message("b@x", "m@x", "Copied", "COPY"), "S", 2);
    hand_over(&mallory.root);
    // Dovecot hard-links a message it copies to another folder: the owner's own file, kept.
    let copy = mallory
        .folder_dir("Copies")
        .join("cur")
        .join(copied.file_name().unwrap());
    fs::hard_link(&copied, &copy).unwrap();
    let link = mallory.root.join("cur/1763000000.M9P9.evil:2,S");
    fs::hard_link(&secret.path, &link).unwrap();

    let repo = TestRepo::new();
    let report = repo.snapshot("mallory@x", &mallory, DAY);
    let all = stored(&repo, "mallory@x");
    assert!(all.iter().all(|raw| !contains(raw, b"SECRET-hardlink")));
    assert_eq!(report.messages, 3, "{:?}", report.warnings);
    assert!(warned_about(&report, &link), "{:?}", report.warnings);
    assert!(all.iter().any(|raw| contains(raw, b"COPY")));
}

#[test]
fn item4_a_notification_maildir_with_a_symlinked_tmp_or_new_writes_nothing_outside() {
    use mtm_core::{
        EmailNotifier, EmailSettings, EmailTransport, Notification, NotificationKind, Notifier,
        Recipient, RequestId, RestoreRequest,
    };
    let at = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap().to_utc();
    let alice = AccountId::new("alice@x").unwrap();
    let request = RestoreRequest::new(
        RequestId::new(alice.clone(), 1).unwrap(),
        day(DAY),
        RestoreScope::Account,
        Actor::User(alice),
        at("2026-11-20T10:00:00Z"),
        at("2026-11-25T00:00:00Z"),
    )
    .unwrap();
    let notification = Notification {
        kind: NotificationKind::NewRequest,
        recipient: Recipient::Admins,
        request,
        plan: None,
        result: None,
        sent_at: at("2026-11-20T10:00:01Z"),
        tenant: None,
        language: mtm_core::Language::english(),
        time_zone: mtm_core::TimeZone::UTC,
    };
    for sub in ["tmp", "new"] {
        // The notifications go to a mailbox its user can write (say, an admin's own).
        let tmp = tempfile::tempdir().unwrap();
        let outbox = Maildir::create(tmp.path().join("outbox"));
        let elsewhere = tmp.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        let theirs = outbox.root.join(sub);
        fs::remove_dir(&theirs).unwrap();
        symlink(&elsewhere, &theirs).unwrap();
        hand_over(&outbox.root);
        let notifier = EmailNotifier::new(
            EmailSettings::new("MTM <mtm@x>", ["ops@x"]),
            EmailTransport::Maildir(outbox.root.clone()),
        )
        .unwrap();

        let err = notifier.notify(&notification).unwrap_err();
        assert!(
            err.to_string().contains(&theirs.display().to_string()),
            "{sub}: {err}"
        );
        assert!(files_below(&elsewhere).is_empty(), "{sub}: wrote outside");
    }
}

#[test]
fn item4_a_restore_never_copies_a_hard_linked_control_file_into_the_mailbox() {
    // Where fs.protected_hardlinks is 0, a user may hard-link a root-only file as their
    // `subscriptions` or `dovecot-keywords`: the restore must not rewrite it into a file
    // of theirs.
    let Some(_owner) = mail_owner() else {
        eprintln!("needs root and the mail user: a root-only file and a user's mailbox");
        return;
    };
    for control in ["subscriptions", "dovecot-keywords"] {
        let world = World::new();
        let secret = Secret::create(world.tmp.path(), control);
        fs::remove_dir_all(world.alice.folder_dir("Projects")).unwrap();
        let file = world.alice.root.join(control);
        fs::remove_file(&file).unwrap();
        fs::hard_link(&secret.path, &file).unwrap();

        let (completed, said) = world.restore();
        assert!(!completed, "{control}: {said}");
        assert!(said.contains(&file.display().to_string()), "{said}");
        assert_eq!(
            fs::metadata(&file).unwrap().ino(),
            fs::metadata(&secret.path).unwrap().ino(),
            "{control}: replaced"
        );
        let copied = files_below(&world.alice.root)
            .into_iter()
            .filter(|p| *p != file)
            .any(|p| contains(&fs::read(&p).unwrap(), &secret.content));
        assert!(!copied, "{control}: the secret was copied into the mailbox");
    }
}

#[test]
fn item2_a_folder_swapped_for_a_symlink_after_the_listing_is_not_read_through() {
    // The folder's messages are listed; then the user swaps the folder's directory for a
    // symlink to another user's folder holding files of the same names.
    let tmp = tempfile::tempdir().unwrap();
    let mut bob = Maildir::create(tmp.path().join("bob"));
    bob.add_folder("Work", true);
    let mut mallory = Maildir::create(tmp.path().join("mallory"));
    mallory.add_folder("Work", true);
    let bait = mallory.deliver("Work", &message("a@x", "m@x", "Bait", "bait"), "S", 1);
    let name = bait.file_name().unwrap().to_owned();
    fs::write(
        bob.folder_dir("Work").join("cur").join(&name),
        message("boss@x", "bob@x", "Bob only", "PRIVATE-BOB"),
    )
    .unwrap();
    hand_over(&mallory.root);

    let repo = TestRepo::new();
    let (theirs, target) = (mallory.folder_dir("Work"), bob.folder_dir("Work"));
    let moved = tmp.path().join("work-moved");
    let options = after_scan(move || {
        fs::rename(&theirs, &moved).unwrap();
        symlink(&target, &theirs).unwrap();
    });
    let report = repo
        .try_snapshot("mallory@x", &mallory, DAY, &options)
        .unwrap();
    assert!(
        stored(&repo, "mallory@x")
            .iter()
            .all(|raw| !contains(raw, b"PRIVATE-BOB"))
    );
    assert_eq!(report.messages, 0, "{:?}", report.warnings);
    assert!(warned_about(&report, &bait), "{:?}", report.warnings);
}

#[test]
fn item3_a_sparse_message_file_is_refused_without_reading_its_holes() {
    // `truncate -s 1T cur/x` costs a user no quota, and reading it would take a terabyte of
    // memory: a delivered message is written byte by byte and never has holes.
    let tmp = tempfile::tempdir().unwrap();
    let mut mallory = Maildir::create(tmp.path().join("mallory"));
    mallory.deliver("INBOX", &message("a@x", "m@x", "Real", "real"), "S", 1);
    let sparse = mallory.root.join("cur/1763000000.M9P9.sparse:2,S");
    let file = fs::File::create(&sparse).unwrap();
    std::io::Write::write_all(&mut &file, b"Subject: holes\r\n\r\n").unwrap();
    file.set_len(64 << 20).unwrap();
    drop(file);
    hand_over(&mallory.root);

    let repo = TestRepo::new();
    let report = repo.snapshot("mallory@x", &mallory, DAY);
    assert_eq!(report.messages, 1, "{:?}", report.warnings);
    assert!(warned_about(&report, &sparse), "{:?}", report.warnings);
    assert!(
        stored(&repo, "mallory@x")
            .iter()
            .all(|raw| !contains(raw, b"holes"))
    );
}

#[test]
fn item2_dovecots_hard_links_are_read_where_the_account_root_is_not_the_users() {
    // `root:mail 0770` account directories, the message directories the user's: a copy that
    // Dovecot hard-linked belongs to the owner of its directory, and is read.
    let Some(owner) = mail_owner() else {
        eprintln!("needs root and the mail user: files of the user in a root's directory");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut alice = Maildir::create(tmp.path().join("alice"));
    alice.add_folder("Copies", true);
    let copied = alice.deliver("INBOX", &message("b@x", "a@x", "Copied", "COPY"), "S", 2);
    hand_over(&alice.root);
    std::os::unix::fs::lchown(&alice.root, Some(0), Some(owner.gid)).unwrap();
    let copy = alice
        .folder_dir("Copies")
        .join("cur")
        .join(copied.file_name().unwrap());
    fs::hard_link(&copied, &copy).unwrap();

    let repo = TestRepo::new();
    let report = repo.snapshot("alice@x", &alice, DAY);
    assert_eq!(report.messages, 2, "{:?}", report.warnings);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}
