//! Message ingest on arbitrary bytes: what a snapshot does with every message file it reads
//! (split into stored parts, summary for lists and search) and what `show` does (the parsed
//! view). None may panic, and the parts must give back the message byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // libFuzzer's panic hook aborts on every panic, even one that is caught. The core
        // runs mail-parser inside catch_unwind by design (a bad message must not stop a
        // snapshot; mail-parser 0.11 hits a `debug_assert!` on some broken MIME, and this
        // build has debug assertions on), so a panic raised inside mail-parser is let
        // through to that catch. One the core failed to catch still reaches libfuzzer-sys's
        // own catch around this target, which aborts: it is still found.
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_mail_parser = info
                .location()
                .is_some_and(|at| at.file().contains("/mail-parser-"));
            if !in_mail_parser {
                abort(info);
            }
        }));
    },
    |raw: &[u8]| {
        let parts = mtm_core::split_message(raw);
        let mut rejoined = Vec::with_capacity(raw.len());
        let mut next = 0;
        for part in &parts {
            assert_eq!(part.range.start, next, "parts are consecutive: {parts:?}");
            assert!(
                part.range.end > part.range.start,
                "parts are non-empty: {parts:?}"
            );
            rejoined.extend_from_slice(&raw[part.range.clone()]);
            next = part.range.end;
        }
        assert!(rejoined == raw, "the parts rejoin to the message byte for byte");
        let _ = mtm_core::summarize(raw);
        let _ = mtm_core::parse_view(raw);
    }
);
