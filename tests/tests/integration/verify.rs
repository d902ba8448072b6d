//! `verify` catches every flipped bit and truncation, and names the messages damage hurts.

use std::path::{Path, PathBuf};

use mtm_core::{AccountId, Repository, VerifyOptions};
use mtm_tests::{Maildir, TestRepo, message};

/// Two accounts, three days, enough mail to train a header dictionary.
fn repository_with_history() -> TestRepo {
    let t = TestRepo::new();
    for (a, account) in ["alice@example.com", "bob@example.com"]
        .into_iter()
        .enumerate()
    {
        let mut m = Maildir::create(t.dir.path().join(account));
        m.add_folder("Archive", true);
        for i in 0..210 {
            let body = format!("Message {i} for {account}. ").repeat(5 + i % 7);
            let folder = if i % 4 == 0 { "Archive" } else { "INBOX" };
            let subject = format!("Report {a}-{i}");
            m.deliver(
                folder,
                &message("sender@example.org", account, &subject, &body),
                "S",
                1_790_000_000 + i as i64,
            );
        }
        for (d, day) in ["2026-11-18", "2026-11-19", "2026-11-20"]
            .into_iter()
            .enumerate()
        {
            m.deliver(
                "INBOX",
                &message("new@example.org", account, &format!("Day {d}"), "fresh"),
                "",
                1_790_100_000 + d as i64,
            );
            t.snapshot(account, &m, day);
        }
    }
    t
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn copy_tree(from: &Path, to: &Path) {
    for file in files(from) {
        let target = to.join(file.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
}

#[test]
fn a_healthy_repository_verifies_clean() {
    let t = repository_with_history();
    let report = t.repo.verify(&VerifyOptions::default()).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.snapshots, 6);
    assert!(
        report.messages > 1200 && report.blobs_checked > 420,
        "{report:?}"
    );
    assert_eq!(report.packs, report.packs_read);
    assert!(
        t.path().join("dictionaries").is_dir(),
        "the test should cover a dictionary too"
    );
}

#[test]
fn every_flipped_bit_and_every_truncation_is_caught() {
    let t = repository_with_history();
    let clean = t.path();
    let targets: Vec<PathBuf> = files(&clean)
        .into_iter()
        .filter(|f| !f.ends_with("config") && !f.strip_prefix(&clean).unwrap().starts_with("tmp"))
        .collect();
    assert!(targets.len() >= 12, "{targets:?}");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |below: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % below as u64) as usize
    };
    let mut trials = 0;
    for file in &targets {
        let len = std::fs::metadata(file).unwrap().len() as usize;
        // Three single-bit flips at random places, and one truncation.
        let mut damages: Vec<(usize, Option<u8>)> = Vec::new();
        for _ in 0..3 {
            let at = next(len);
            damages.push((at, Some(1u8 << next(8))));
        }
        damages.push((next(len), None));
        for (at, bit) in damages {
            let scratch = tempfile::tempdir().unwrap();
            let copy = scratch.path().join("repo");
            copy_tree(&clean, &copy);
            let victim = copy.join(file.strip_prefix(&clean).unwrap());
            let mut data = std::fs::read(&victim).unwrap();
            match bit {
                Some(bit) => data[at] ^= bit,
                None => data.truncate(at),
            }
            std::fs::remove_file(&victim).unwrap();
            std::fs::write(&victim, &data).unwrap();
            let repo = Repository::open(&copy).unwrap();
            let report = repo.verify(&VerifyOptions::default()).unwrap();
            let what = match bit {
                Some(bit) => format!("bit {bit:#04x} flipped at byte {at}"),
                None => format!("truncated to {at} bytes"),
            };
            assert!(!report.is_ok(), "{} {what}: not caught", file.display());
            trials += 1;
        }
    }
    assert!(trials >= 48, "only {trials} trials");
}

#[test]
fn damage_names_the_messages_it_hurts() {
    let t = TestRepo::with_options(mtm_core::RepositoryOptions {
        time_zone: "UTC".into(),
        header_dictionary: false,
        ..Default::default()
    });
    let mut m = Maildir::create(t.dir.path().join("alice"));
    m.deliver(
        "INBOX",
        &message(
            "boss@example.com",
            "alice@example.com",
            "Quarterly numbers",
            &"n ".repeat(300),
        ),
        "",
        1_790_000_000,
    );
    t.snapshot("alice@example.com", &m, "2026-11-20");
    t.snapshot("alice@example.com", &m, "2026-11-21");
    let pack = files(&t.path().join("packs")).remove(0);
    let mut data = std::fs::read(&pack).unwrap();
    data[9] ^= 0x20; // inside the first blob: the message's header part
    std::fs::remove_file(&pack).unwrap();
    std::fs::write(&pack, data).unwrap();
    let report = Repository::open(t.path())
        .unwrap()
        .verify(&VerifyOptions::default())
        .unwrap();
    let hurt: Vec<(String, String)> = report
        .problems
        .iter()
        .flat_map(|p| &p.messages)
        .map(|m| (m.day.to_string(), m.subject.clone()))
        .collect();
    assert_eq!(
        hurt,
        [
            ("2026-11-20".into(), "Quarterly numbers".into()),
            ("2026-11-21".into(), "Quarterly numbers".into())
        ],
        "{:?}",
        report.problems
    );
    assert!(
        report
            .problems
            .iter()
            .flat_map(|p| &p.messages)
            .all(|m| m.account == AccountId::new("alice@example.com").unwrap())
    );
    // A sampled check that reads no pack data still catches a truncated pack.
    let truncated = files(&t.path().join("packs")).remove(0);
    let data = std::fs::read(&truncated).unwrap();
    std::fs::remove_file(&truncated).unwrap();
    std::fs::write(&truncated, &data[..data.len() / 2]).unwrap();
    let sampled = Repository::open(t.path())
        .unwrap()
        .verify(&VerifyOptions { read_data: 0.0 })
        .unwrap();
    assert_eq!(sampled.packs_read, 0);
    assert!(!sampled.is_ok());
}

#[test]
fn a_pack_no_index_names_is_harmless_only_while_it_holds_nothing_live() {
    let t = TestRepo::with_options(mtm_core::RepositoryOptions {
        retention_days: 1,
        ..Default::default()
    });
    let index = |t: &TestRepo| files(&t.path().join("index"));
    let mut m = Maildir::create(t.dir.path().join("alice@example.com"));
    let first = m.deliver(
        "INBOX",
        &message("a@example.org", "alice@example.com", "Gone", "old"),
        "",
        1_790_000_000,
    );
    t.snapshot("alice@example.com", &m, "2026-11-01");
    let day_one = index(&t);
    std::fs::remove_file(first).unwrap();
    m.deliver(
        "INBOX",
        &message("b@example.org", "alice@example.com", "Kept", "new"),
        "",
        1_790_100_000,
    );
    t.snapshot("alice@example.com", &m, "2026-11-02");
    let now = mtm_core::FixedClock::parse("2026-11-02T12:00:00Z").unwrap();
    let plan = t.repo.prune_plan(&now, None).unwrap();
    t.repo.prune(&plan, &now).unwrap();

    // The pruned day's index file lost: its packs hold nothing a snapshot needs.
    std::fs::remove_file(&day_one[0]).unwrap();
    let report = t.repo.verify(&VerifyOptions::default()).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.unreferenced_packs, 1);

    // The kept day's index file lost too: its pack is damage, named with the fix.
    for file in index(&t) {
        std::fs::remove_file(file).unwrap();
    }
    let report = t.repo.verify(&VerifyOptions::default()).unwrap();
    assert_eq!(report.unreferenced_packs, 1, "{report:?}");
    let packs: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.location.starts_with("packs/"))
        .collect();
    assert_eq!(packs.len(), 1, "{:?}", report.problems);
    assert!(packs[0].reason.contains("mtm repair index"), "{packs:?}");
}
