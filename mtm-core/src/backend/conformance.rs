//! The behaviour every [`Backend`](super::Backend) must have. Each implementation invokes
//! [`backend_conformance_tests!`] with an expression that builds a fresh, empty backend.

/// Generates the conformance tests for one backend.
#[macro_export]
#[doc(hidden)]
macro_rules! backend_conformance_tests {
    ($make:expr) => {
        use $crate::{Backend, ErrorKind};

        fn fresh() -> impl Backend {
            $make
        }

        #[test]
        fn written_files_read_back() {
            let b = fresh();
            b.write_new("packs/ab/abc", b"hello world").unwrap();
            assert_eq!(b.read("packs/ab/abc").unwrap(), b"hello world");
            assert_eq!(b.read_range("packs/ab/abc", 6, 5).unwrap(), b"world");
            assert_eq!(b.size("packs/ab/abc").unwrap(), 11);
        }

        #[test]
        fn files_are_never_overwritten() {
            let b = fresh();
            b.write_new("config", b"one").unwrap();
            let err = b.write_new("config", b"two").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AlreadyExists);
            assert_eq!(b.read("config").unwrap(), b"one");
        }

        #[test]
        fn unsynced_writes_are_create_only_visible_at_once_and_kept_by_sync() {
            let b = fresh();
            b.write_new_unsynced("snapshots/a/2026-11-20.json", b"one")
                .unwrap();
            let err = b
                .write_new_unsynced("snapshots/a/2026-11-20.json", b"two")
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AlreadyExists);
            assert_eq!(
                b.write_new("snapshots/a/2026-11-20.json", b"three")
                    .unwrap_err()
                    .kind(),
                ErrorKind::AlreadyExists
            );
            assert_eq!(b.read("snapshots/a/2026-11-20.json").unwrap(), b"one");
            b.sync().unwrap();
            assert_eq!(b.read("snapshots/a/2026-11-20.json").unwrap(), b"one");
            assert_eq!(b.list("snapshots/").unwrap().len(), 1);
        }

        #[test]
        fn missing_files_are_not_found() {
            let b = fresh();
            assert_eq!(b.read("nope").unwrap_err().kind(), ErrorKind::NotFound);
            assert_eq!(b.size("nope").unwrap_err().kind(), ErrorKind::NotFound);
            b.delete("nope").unwrap();
        }

        #[test]
        fn ranges_beyond_the_end_are_integrity_errors() {
            let b = fresh();
            b.write_new("f", b"abc").unwrap();
            assert_eq!(
                b.read_range("f", 2, 5).unwrap_err().kind(),
                ErrorKind::Integrity
            );
            assert_eq!(
                b.read_range("f", u64::MAX, 2).unwrap_err().kind(),
                ErrorKind::Integrity
            );
        }

        #[test]
        fn listing_is_recursive_sorted_and_scoped() {
            let b = fresh();
            for key in ["index/b", "index/a", "packs/00/x", "packs/ff/y", "indexes"] {
                b.write_new(key, b"x").unwrap();
            }
            assert_eq!(b.list("index/").unwrap(), ["index/a", "index/b"]);
            assert_eq!(b.list("packs/").unwrap(), ["packs/00/x", "packs/ff/y"]);
            assert!(b.list("snapshots/").unwrap().is_empty());
        }

        #[test]
        fn delete_removes() {
            let b = fresh();
            b.write_new("a/b", b"x").unwrap();
            b.delete("a/b").unwrap();
            assert_eq!(b.read("a/b").unwrap_err().kind(), ErrorKind::NotFound);
            b.write_new("a/b", b"y").unwrap();
            assert_eq!(b.read("a/b").unwrap(), b"y");
        }

        #[test]
        fn keys_cannot_escape() {
            let b = fresh();
            for bad in [
                "",
                "/abs",
                "../x",
                "a/../../x",
                "a//b",
                "a\0b",
                "a\\b",
                "./a",
            ] {
                assert_eq!(
                    b.write_new(bad, b"x").unwrap_err().kind(),
                    ErrorKind::InvalidInput,
                    "{bad:?}"
                );
                assert_eq!(b.read(bad).unwrap_err().kind(), ErrorKind::InvalidInput);
            }
            assert_eq!(b.list("x").unwrap_err().kind(), ErrorKind::InvalidInput);
            assert_eq!(b.list("../").unwrap_err().kind(), ErrorKind::InvalidInput);
        }

        #[test]
        fn staged_files_appear_whole_on_publish_and_never_overwrite() {
            use std::io::Write;
            let b = fresh();
            let mut staged = b.stage_new().unwrap();
            staged.write_all(b"hello ").unwrap();
            assert!(b.list("").unwrap().iter().all(|k| !k.starts_with("packs/")));
            staged.write_all(b"world").unwrap();
            staged.publish("packs/ab/abc").unwrap();
            assert_eq!(b.read("packs/ab/abc").unwrap(), b"hello world");
            let mut again = b.stage_new().unwrap();
            again.write_all(b"other").unwrap();
            let err = again.publish("packs/ab/abc").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AlreadyExists);
            assert_eq!(b.read("packs/ab/abc").unwrap(), b"hello world");
            let mut bad = b.stage_new().unwrap();
            bad.write_all(b"x").unwrap();
            let err = bad.publish("../escape").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        }

        #[test]
        fn a_staged_file_dropped_unpublished_leaves_nothing() {
            use std::io::Write;
            let b = fresh();
            let before = b.list("").unwrap();
            let mut staged = b.stage_new().unwrap();
            staged.write_all(&[7; 100_000]).unwrap();
            drop(staged);
            assert_eq!(b.list("").unwrap(), before);
        }

        #[test]
        fn concurrent_writers_of_one_key_have_one_winner() {
            let b = std::sync::Arc::new(fresh());
            let handles: Vec<_> = (0..8u8)
                .map(|i| {
                    let b = std::sync::Arc::clone(&b);
                    std::thread::spawn(move || b.write_new("race", &[i; 64]).is_ok())
                })
                .collect();
            let wins = handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|ok| *ok)
                .count();
            assert_eq!(wins, 1);
            let data = b.read("race").unwrap();
            assert!(
                data.iter().all(|x| *x == data[0]),
                "a torn write was published"
            );
        }
    };
}
