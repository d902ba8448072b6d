//! Class 11: a restore that cannot complete (a folder path that is a file, a read-only
//! Maildir root) is not billed twice, not lost and not reported as done: it is interrupted,
//! retried until it completes, or given up by an administrator, and the user is told once,
//! only then.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use mtm_core::{
    AccountId, Actor, AuditEvent, Error, FixedClock, MaildirRoot, Notification, NotificationKind,
    Notifier, RequestId, RequestState, RestoreDesk, RestoreScope, RestoreSettings,
};
use mtm_tests::hostile::{chown_tree, mail_owner, running_as_root};
use mtm_tests::{Maildir, TestRepo, day, message};

const ALICE: &str = "alice@example.com";

fn alice() -> AccountId {
    AccountId::new(ALICE).unwrap()
}

fn admin() -> Actor {
    Actor::admin("carol").unwrap()
}

fn at(text: &str) -> FixedClock {
    FixedClock::parse(text).unwrap()
}

#[derive(Debug, Default)]
struct Outbox(Mutex<Vec<Notification>>);

impl Notifier for Outbox {
    fn notify(&self, n: &Notification) -> mtm_core::Result<()> {
        self.0.lock().unwrap().push(n.clone());
        Ok(())
    }
}

impl Outbox {
    fn to_user(&self) -> Vec<Notification> {
        let all = self.0.lock().unwrap();
        all.iter()
            .filter(|n| n.kind != NotificationKind::NewRequest)
            .cloned()
            .collect()
    }
}

/// Alice's Maildir, owned by the mail user, snapshotted with a message in INBOX and one in
/// Projects; then Projects is deleted and the user asks for the day back.
struct Scene {
    repo: TestRepo,
    _mail: tempfile::TempDir,
    maildir: Maildir,
    outbox: Arc<Outbox>,
    desk: RestoreDesk,
    id: RequestId,
}

impl Scene {
    fn new() -> Self {
        let repo = TestRepo::new();
        let mail = tempfile::tempdir().unwrap();
        let mut maildir = Maildir::create(mail.path().join(ALICE));
        maildir.add_folder("Projects", true);
        let hello = message("bob@example.com", ALICE, "Hello", "hi");
        let plan = message("erin@example.com", ALICE, "Project plan", "phase 1");
        maildir.deliver("INBOX", &hello, "S", 1_763_000_000);
        maildir.deliver("Projects", &plan, "S", 1_763_000_300);
        if let Some(owner) = mail_owner() {
            chown_tree(mail.path(), owner);
        }
        repo.snapshot(ALICE, &maildir, "2026-11-10");
        fs::remove_dir_all(maildir.folder_dir("Projects")).unwrap();
        let outbox = Arc::new(Outbox::default());
        let desk = RestoreDesk::new(
            repo.repo.clone(),
            MaildirRoot::new(mail.path()),
            RestoreSettings::default(),
        )
        .with_notifier(outbox.clone());
        let id = desk
            .request(
                &Actor::User(alice()),
                &alice(),
                day("2026-11-10"),
                RestoreScope::Account,
                &at("2026-11-12T09:00:00Z"),
            )
            .unwrap()
            .request
            .id;
        Self {
            repo,
            _mail: mail,
            maildir,
            outbox,
            desk,
            id,
        }
    }

    fn state(&self) -> RequestState {
        self.desk.get(&admin(), &self.id).unwrap().request.state
    }

    fn billed(&self) -> (usize, usize) {
        let entries = self
            .desk
            .audit(&admin(), &self.id)
            .unwrap()
            .iter()
            .filter(|e| matches!(e.event, AuditEvent::Billed { .. }))
            .count();
        (
            entries,
            self.repo.repo.billing_ledger().records().unwrap().len(),
        )
    }

    /// Approves, expecting the run to stop: the request is interrupted, billed once, and
    /// the user hears nothing.
    fn approve_and_see_it_stop(&self) -> Error {
        let err = self
            .desk
            .approve(&admin(), &self.id, &at("2026-11-12T10:00:00Z"))
            .unwrap_err();
        assert!(matches!(err, Error::RestoreIncomplete { .. }), "{err}");
        assert_eq!(self.state(), RequestState::Interrupted);
        assert_eq!(self.billed(), (1, 1));
        assert!(
            self.outbox.to_user().is_empty(),
            "the user is told nothing yet"
        );
        err
    }

    /// Runs it again and sees it complete: Projects is back, owned by the mail user,
    /// billed once, the user told once.
    fn run_and_see_it_complete(&self) {
        let done = self
            .desk
            .run(&admin(), &self.id, &at("2026-11-13T10:00:00Z"))
            .unwrap();
        assert_eq!(done.request.state, RequestState::Completed);
        assert_eq!(done.result.unwrap().messages_restored, 1);
        let projects = self.maildir.folder_dir("Projects");
        assert!(projects.is_dir());
        if let Some(owner) = mail_owner() {
            assert_eq!(fs::metadata(&projects).unwrap().uid(), owner.uid);
        }
        assert_eq!(self.billed(), (1, 1));
        let told = self.outbox.to_user();
        assert_eq!(told.len(), 1, "{told:?}");
        assert_eq!(told[0].kind, NotificationKind::Completed);
        // Running it once more changes nothing.
        let again = self
            .desk
            .run(&admin(), &self.id, &at("2026-11-13T11:00:00Z"));
        assert_eq!(
            again.unwrap_err().kind(),
            mtm_core::ErrorKind::InvalidTransition
        );
        assert_eq!((self.billed(), self.outbox.to_user().len()), ((1, 1), 1));
    }
}

#[test]
fn a_folder_path_that_is_a_file_interrupts_the_restore_which_completes_once_fixed() {
    let scene = Scene::new();
    let projects = scene.maildir.folder_dir("Projects");
    fs::write(&projects, "the user put a file here").unwrap();
    if let Some(owner) = mail_owner() {
        chown_tree(&projects, owner);
    }
    let err = scene.approve_and_see_it_stop();
    assert!(
        err.to_string().contains(".Projects"),
        "names the path: {err}"
    );
    // Not fixed yet: a retry stops the same way, and bills nothing more.
    let again = scene
        .desk
        .run(&admin(), &scene.id, &at("2026-11-12T11:00:00Z"));
    assert!(matches!(again, Err(Error::RestoreIncomplete { .. })));
    assert_eq!(scene.billed(), (1, 1));
    fs::remove_file(&projects).unwrap();
    scene.run_and_see_it_complete();
}

/// Makes `dir` read-only for whoever runs the tests: immutable for root (permissions do not
/// stop root), mode 0555 otherwise. False if this machine cannot.
fn make_read_only(dir: &Path, read_only: bool) -> bool {
    if running_as_root() {
        let flag = if read_only { "+i" } else { "-i" };
        Command::new("chattr")
            .arg(flag)
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success())
    } else {
        use std::os::unix::fs::PermissionsExt;
        let mode = if read_only { 0o555 } else { 0o755 };
        fs::set_permissions(dir, fs::Permissions::from_mode(mode)).is_ok()
    }
}

#[test]
fn a_read_only_maildir_root_interrupts_the_restore_which_completes_once_writable() {
    let scene = Scene::new();
    let root = scene.maildir.folder_dir("INBOX");
    if !make_read_only(&root, true) {
        eprintln!(
            "SKIPPED: this machine cannot make {} read-only",
            root.display()
        );
        return;
    }
    let err = scene.approve_and_see_it_stop();
    assert!(make_read_only(&root, false));
    assert!(
        err.to_string().contains(root.to_str().unwrap()),
        "names the path: {err}"
    );
    scene.run_and_see_it_complete();
}

#[test]
fn an_admin_gives_up_and_the_user_is_told_why_once() {
    let scene = Scene::new();
    let projects = scene.maildir.folder_dir("Projects");
    fs::write(&projects, "the user put a file here").unwrap();
    scene.approve_and_see_it_stop();
    let reason = "a file named .Projects is in the way; ask support to remove it";
    let given_up = scene
        .desk
        .give_up(&admin(), &scene.id, reason, &at("2026-11-12T12:00:00Z"))
        .unwrap();
    assert_eq!(given_up.request.state, RequestState::Failed);
    let told = scene.outbox.to_user();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].kind, NotificationKind::Failed);
    assert_eq!(told[0].request.reason.as_deref(), Some(reason));
    assert_eq!(scene.billed(), (1, 1));
    // Delivering again sends nothing twice.
    scene
        .desk
        .deliver_pending(&at("2026-11-12T13:00:00Z"))
        .unwrap();
    assert_eq!(scene.outbox.to_user().len(), 1);
}

#[test]
fn a_held_server_lock_interrupts_the_restore_which_completes_once_released() {
    // The user (or the IMAP server) holds the dot-lock on `subscriptions`, which the
    // restore must rewrite to subscribe Projects again: a transient cause.
    let scene = Scene::new();
    let root = scene.maildir.folder_dir("INBOX");
    // Projects was unsubscribed when it was deleted: the restore subscribes it again.
    fs::write(root.join("subscriptions"), "V\t2\n\n").unwrap();
    let lock = root.join("subscriptions.lock");
    fs::write(&lock, "").unwrap();
    if let Some(owner) = mail_owner() {
        chown_tree(&lock, owner);
    }
    let err = scene.approve_and_see_it_stop();
    assert_eq!(err.kind(), mtm_core::ErrorKind::Source, "{err}");
    assert!(err.to_string().contains("subscriptions.lock"), "{err}");
    fs::remove_file(&lock).unwrap();
    scene.run_and_see_it_complete();
}
