//! A timing harness (tests only, ignored by default): what a snapshot spends on each new
//! message's summary and content ids, on generated quoted-printable HTML mail. Run it in a
//! release build and read the figures it prints:
//!
//! `cargo test --release -p mtm-core --lib message::speed -- --ignored --nocapture`

use std::time::{Duration, Instant};

use super::samples::qp_html_message;
use super::split::Layout;
use super::summary::{summarize_layout, summary_of};
use crate::id::{BlobId, MessageId};

/// How many messages of each size are timed.
const MESSAGES: usize = 2000;

/// The best of three runs of `f` over `messages`, per message.
fn time_each(messages: &[Vec<u8>], mut f: impl FnMut(&[u8])) -> Duration {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            for m in messages {
                f(m);
            }
            start.elapsed() / messages.len() as u32
        })
        .min()
        .unwrap_or_default()
}

#[test]
#[ignore = "a timing harness: run it in a release build with --ignored --nocapture"]
fn summary_and_hashing_speed() {
    for size in [8_000, 20_000] {
        let messages: Vec<Vec<u8>> = (0..MESSAGES as u64)
            .map(|i| qp_html_message(i, size, i % 2 == 0, if i % 3 == 0 { "\n" } else { "\r\n" }))
            .collect();
        let bytes: usize = messages.iter().map(Vec::len).sum();
        let mean = bytes / messages.len();
        let full = time_each(&messages, |m| {
            let parsed = super::parser::parse(m).expect("parses");
            std::hint::black_box(summary_of(&parsed, m));
        });
        let layouts: Vec<Layout> = messages.iter().map(|m| Layout::of(m)).collect();
        let mut next = 0;
        let layout = time_each(&messages, |m| {
            std::hint::black_box(Layout::of(m));
        });
        let summary = time_each(&messages, |m| {
            std::hint::black_box(summarize_layout(m, &layouts[next % layouts.len()]));
            next += 1;
        });
        let analyze = time_each(&messages, |m| {
            std::hint::black_box(super::analyze(m));
        });
        let parts: Vec<Vec<super::Part>> =
            messages.iter().map(|m| super::split_message(m)).collect();
        let mut next = 0;
        let hashing = time_each(&messages, |m| {
            std::hint::black_box(MessageId::of(m));
            for part in &parts[next % parts.len()] {
                std::hint::black_box(BlobId::of(&m[part.range.clone()]));
            }
            next += 1;
        });
        println!(
            "{MESSAGES} QP-HTML messages of {mean} bytes on average, per message: summary \
             of a full parse {full:?}; layout {layout:?}, summary from the layout \
             {summary:?}, both (analyze) {analyze:?}; message and part ids {hashing:?}"
        );
    }
}
