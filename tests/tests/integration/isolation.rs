//! One account's handle can never reach another account's data.

use mtm_core::{AccountId, ErrorKind, MessageId};
use mtm_tests::{Maildir, TestRepo, day, delivered, message};

#[test]
fn an_account_view_cannot_reach_another_accounts_messages_even_when_blobs_are_shared() {
    let t = TestRepo::new();
    let body = message("news@lists.example.org", "list@example.org", "Shared digest", &"shared ".repeat(500));
    let mut alice = Maildir::create(t.dir.path().join("alice"));
    let mut bob = Maildir::create(t.dir.path().join("bob"));
    let secret = message("hr@example.com", "alice@example.com", "Alice's salary", "confidential");
    alice.deliver("INBOX", &delivered("alice@example.com", "a1", &body), "", 1_790_000_000);
    alice.deliver("INBOX", &secret, "", 1_790_000_000);
    bob.deliver("INBOX", &delivered("bob@example.com", "b1", &body), "", 1_790_000_000);
    t.snapshot("alice@example.com", &alice, "2026-11-20");
    t.snapshot("bob@example.com", &bob, "2026-11-20");
    let bob_view = t.repo.account(&AccountId::new("bob@example.com").unwrap()).unwrap();
    let d = day("2026-11-20");
    let err = bob_view.raw(d, &MessageId::of(&secret)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(bob_view.history(&MessageId::of(&secret)).unwrap_err().kind(), ErrorKind::NotFound);
    // Alice's copy of the shared newsletter is hers: bob cannot name it either.
    let alice_copy = MessageId::of(&delivered("alice@example.com", "a1", &body));
    assert_eq!(bob_view.raw(d, &alice_copy).unwrap_err().kind(), ErrorKind::NotFound);
    assert!(bob_view.search(&mtm_core::SearchQuery::default().subject("salary")).unwrap().is_empty());
    // Bob's own copy reads fine.
    let bob_copy = delivered("bob@example.com", "b1", &body);
    assert_eq!(bob_view.raw(d, &MessageId::of(&bob_copy)).unwrap(), bob_copy);
}

#[test]
fn bad_account_ids_and_folder_names_are_refused() {
    let t = TestRepo::new();
    for bad in ["../alice", "alice/../../etc", "", "a\0b", ".hidden"] {
        assert_eq!(AccountId::new(bad).unwrap_err().kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
    let unknown = t.repo.account(&AccountId::new("nobody@example.com").unwrap()).unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::NotFound);
}
