//! Browsing like webmail: lists, paging, sorting, reading, search, diff, history.

use mtm_core::{
    AccountId, AccountView, ChangeKind, DayScope, FolderName, MessageId, MessageQuery, SearchQuery,
    SortKey,
};
use mtm_tests::{Maildir, TestRepo, day, message};

struct Fixture {
    t: TestRepo,
    m: Maildir,
}

fn fixture() -> Fixture {
    let t = TestRepo::new();
    let mut m = Maildir::create(t.dir.path().join("alice"));
    m.add_folder("Archive", true);
    for i in 0..30 {
        let from = format!("Sender {:02} <s{i}@example.org>", 29 - i);
        let raw = message(
            &from,
            "alice@example.com",
            &format!("Subject {i:02}"),
            &"x".repeat(i * 10),
        );
        m.deliver("INBOX", &raw, "", 1_790_000_000 + i as i64 * 60);
    }
    m.deliver(
        "INBOX",
        &message(
            "Zoë <zoe@example.org>",
            "Ärger <aerger@example.com>",
            "Über Straße",
            "u",
        ),
        "",
        1_780_000_000,
    );
    t.snapshot("alice@example.com", &m, "2026-11-20");
    Fixture { t, m }
}

fn view(f: &Fixture) -> AccountView {
    f.t.repo
        .account(&AccountId::new("alice@example.com").unwrap())
        .unwrap()
}

#[test]
fn folder_pages_are_sorted_and_paged() {
    let f = fixture();
    let v = view(&f);
    let d = day("2026-11-20");
    let page = |sort: SortKey, descending: bool, number: usize, per_page: usize| {
        let query = MessageQuery::default()
            .sort(sort, descending)
            .page(number, per_page);
        v.messages(d, &FolderName::inbox(), &query).unwrap()
    };
    let page1 = page(SortKey::Received, true, 1, 10);
    assert_eq!(page1.total, 31);
    assert_eq!(page1.messages.len(), 10);
    assert_eq!(page1.messages[0].summary.subject, "Subject 29");
    let page4 = page(SortKey::Received, true, 4, 10);
    assert_eq!(page4.messages.len(), 1);
    assert_eq!(page4.messages[0].summary.subject, "Über Straße");
    assert_eq!(
        page(SortKey::Size, true, 1, 1).messages[0].summary.subject,
        "Subject 29"
    );
    assert_eq!(
        page(SortKey::From, false, 1, 2).messages[0].summary.subject,
        "Subject 29"
    );
    let missing = v
        .messages(
            d,
            &FolderName::new("Nope").unwrap(),
            &MessageQuery::default(),
        )
        .unwrap_err();
    assert_eq!(missing.kind(), mtm_core::ErrorKind::NotFound);
}

#[test]
fn a_message_reads_back_parsed() {
    let f = fixture();
    let v = view(&f);
    let raw = message(
        "Zoë <zoe@example.org>",
        "Ärger <aerger@example.com>",
        "Über Straße",
        "u",
    );
    let parsed = v.parsed(day("2026-11-20"), &MessageId::of(&raw)).unwrap();
    assert_eq!(parsed.summary.subject, "Über Straße");
    assert!(parsed.text.as_deref().unwrap_or_default().contains('u'));
    assert!(
        parsed
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("subject"))
    );
}

#[test]
fn search_is_case_insensitive_unicode_and_reports_days_and_folders() {
    let f = fixture();
    let over = f.m.folder_dir("INBOX").join("cur");
    let target = std::fs::read_dir(&over)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .contains("Über")
        })
        .unwrap();
    f.m.move_to(&target, "Archive");
    f.t.snapshot("alice@example.com", &f.m, "2026-11-21");
    let v = view(&f);
    let hits = v
        .search(&SearchQuery::default().subject("über straße"))
        .unwrap();
    assert_eq!(hits.len(), 1);
    let seen: Vec<(String, String)> = hits[0]
        .seen
        .iter()
        .map(|s| (s.day.to_string(), s.folder.to_string()))
        .collect();
    assert_eq!(
        seen,
        [
            ("2026-11-20".into(), "INBOX".into()),
            ("2026-11-21".into(), "Archive".into())
        ]
    );
    assert_eq!(
        v.search(&SearchQuery::default().to("ärger")).unwrap().len(),
        1
    );
    assert_eq!(
        v.search(&SearchQuery::default().from("ZOË")).unwrap().len(),
        1
    );
    let one_day = SearchQuery::default()
        .subject("subject")
        .days(DayScope::Day(day("2026-11-21")));
    assert_eq!(v.search(&one_day).unwrap().len(), 30);
    assert_eq!(
        v.search(&SearchQuery::default().subject("no such thing"))
            .unwrap()
            .len(),
        0
    );
    let mid = hits[0].summary.message_id.clone();
    assert_eq!(
        v.search(&SearchQuery::default().message_id(format!("<{mid}>")))
            .unwrap()
            .len(),
        1
    );
    let dated = SearchQuery::default().dated(Some(day("2026-11-17")), Some(day("2026-11-17")));
    assert_eq!(v.search(&dated).unwrap().len(), 31);
    assert_eq!(
        v.search(&SearchQuery::default().has_attachment(true))
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn diff_shows_removed_added_moved_and_flag_changes() {
    let mut f = fixture();
    let cur = f.m.folder_dir("INBOX").join("cur");
    let mut files: Vec<_> = std::fs::read_dir(&cur)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    std::fs::remove_file(&files[0]).unwrap();
    f.m.move_to(&files[1], "Archive");
    f.m.set_flags(&files[2], "S");
    f.m.deliver(
        "INBOX",
        &message("n@example.org", "alice@example.com", "Brand new", "b"),
        "",
        1_790_100_000,
    );
    f.t.snapshot("alice@example.com", &f.m, "2026-11-21");
    let v = view(&f);
    let diff = v.diff(day("2026-11-20"), day("2026-11-21")).unwrap();
    let counts = [
        ChangeKind::Removed,
        ChangeKind::Added,
        ChangeKind::Moved,
        ChangeKind::FlagsChanged,
    ]
    .map(|k| diff.count(k));
    assert_eq!(counts, [1, 1, 1, 1]);
    assert!(diff.note.contains("only what the snapshots saw"));
    let removed = diff
        .entries
        .iter()
        .find(|e| e.change == ChangeKind::Removed)
        .unwrap();
    assert_eq!(removed.before[0].folder.as_str(), "INBOX");
    // The history of the removed message: present on day 1 only.
    let history = v.history(&removed.id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].day, day("2026-11-20"));
    // A prefix finds it among every day's messages, as `history` needs; one day's lookup
    // does not see it on the day after.
    let prefix = &removed.id.to_hex()[..12];
    assert_eq!(v.resolve_id_any_day(prefix).unwrap(), removed.id);
    assert_eq!(
        v.resolve_id(day("2026-11-21"), prefix).unwrap_err().kind(),
        mtm_core::ErrorKind::NotFound
    );
    assert_eq!(
        v.resolve_id_any_day("abc").unwrap_err().kind(),
        mtm_core::ErrorKind::InvalidInput
    );
    // Against the live Maildir (which now equals day 2): nothing changed.
    let live = v.diff_live(day("2026-11-21"), &f.m.source()).unwrap();
    assert!(live.entries.is_empty(), "{:?}", live.entries);
    let live1 = v.diff_live(day("2026-11-20"), &f.m.source()).unwrap();
    assert_eq!(live1.entries.len(), diff.entries.len());
}

#[test]
fn message_ids_resolve_from_unique_prefixes() {
    let f = fixture();
    let v = view(&f);
    let raw = message(
        "Zoë <zoe@example.org>",
        "Ärger <aerger@example.com>",
        "Über Straße",
        "u",
    );
    let id = MessageId::of(&raw);
    assert_eq!(
        v.resolve_id(day("2026-11-20"), &id.to_hex()[..10]).unwrap(),
        id
    );
    assert_eq!(
        v.resolve_id(day("2026-11-20"), "abc").unwrap_err().kind(),
        mtm_core::ErrorKind::InvalidInput
    );
}

#[test]
fn keyword_only_changes_show_in_diff_and_history() {
    // Thunderbird's "Important" label and Roundcube's junk mark are keywords, not flags.
    let t = TestRepo::new();
    let mut m = Maildir::create(t.dir.path().join("alice"));
    std::fs::write(
        m.folder_dir("INBOX").join("dovecot-keywords"),
        "0 $label1\n1 Junk\n",
    )
    .unwrap();
    let raw = message("bob@example.org", "alice@example.com", "Tagged", "t");
    let path = m.deliver("INBOX", &raw, "S", 1_790_000_000);
    let other = m.deliver(
        "INBOX",
        &message("c@example.org", "alice@example.com", "Both", "b"),
        "S",
        1_790_000_100,
    );
    t.snapshot("alice@example.com", &m, "2026-11-20");
    // Tagged: the label is set (letter a), nothing else. Both: the flags and the junk mark.
    let path = m.set_flags(&path, "Sa");
    m.set_flags(&other, "FSb");
    t.snapshot("alice@example.com", &m, "2026-11-21");
    let f = Fixture { t, m };
    let v = view(&f);

    let diff = v.diff(day("2026-11-20"), day("2026-11-21")).unwrap();
    assert_eq!(
        diff.count(ChangeKind::KeywordsChanged),
        1,
        "{:?}",
        diff.entries
    );
    assert_eq!(
        diff.count(ChangeKind::FlagsChanged),
        1,
        "{:?}",
        diff.entries
    );
    let tagged = diff
        .entries
        .iter()
        .find(|e| e.change == ChangeKind::KeywordsChanged)
        .unwrap();
    assert_eq!(tagged.summary.subject, "Tagged");
    assert!(tagged.before[0].keywords.is_empty());
    assert_eq!(tagged.after[0].keywords, ["$label1"]);
    let both = diff
        .entries
        .iter()
        .find(|e| e.change == ChangeKind::FlagsChanged)
        .unwrap();
    assert_eq!(both.after[0].keywords, ["Junk"]);

    let history = v.history(&MessageId::of(&raw)).unwrap();
    let keywords: Vec<&[String]> = history.iter().map(|s| s.keywords.as_slice()).collect();
    assert_eq!(keywords, [&[][..], &["$label1".to_owned()][..]]);

    // Against the live Maildir: the label removed again is a keyword change too.
    f.m.set_flags(&path, "S");
    let live = v.diff_live(day("2026-11-21"), &f.m.source()).unwrap();
    assert_eq!(
        live.count(ChangeKind::KeywordsChanged),
        1,
        "{:?}",
        live.entries
    );
}

#[test]
fn latest_names_the_newest_snapshot_and_other_days_are_year_month_day() {
    let f = fixture();
    f.t.snapshot("alice@example.com", &f.m, "2026-11-21");
    let v = view(&f);
    assert_eq!(v.resolve_day("latest").unwrap(), day("2026-11-21"));
    assert_eq!(v.resolve_day("2026-11-20").unwrap(), day("2026-11-20"));
    let err = v.resolve_day("yesterday").unwrap_err();
    assert_eq!(err.kind(), mtm_core::ErrorKind::InvalidInput);
}

#[test]
fn message_pages_walk_a_folder_once_in_order() {
    let f = fixture();
    let v = view(&f);
    let d = day("2026-11-20");
    let query = MessageQuery::default()
        .sort(SortKey::Subject, false)
        .page(1, 7);
    let walked: Vec<String> = v
        .message_pages(d, &FolderName::inbox(), query)
        .unwrap()
        .map(|page| page.unwrap().messages)
        .flat_map(|messages| messages.into_iter().map(|m| m.summary.subject))
        .collect();
    let whole = v
        .messages(d, &FolderName::inbox(), &query.page(1, 100))
        .unwrap();
    let expected: Vec<String> = whole
        .messages
        .into_iter()
        .map(|m| m.summary.subject)
        .collect();
    assert_eq!(walked.len(), 31);
    assert_eq!(walked, expected);
    let empty = MessageQuery::default().page(1, 0);
    assert!(v.message_pages(d, &FolderName::inbox(), empty).is_err());
}
