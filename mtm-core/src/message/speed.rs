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

/// The time `f` takes per message of `messages`: each batch of 50 is timed several times
/// and its best time kept (the machine is shared: the best run is the one least disturbed),
/// and the batches' best times are added up. `f` is given each message's index too.
fn time_each(messages: &[Vec<u8>], mut f: impl FnMut(usize, &[u8])) -> Duration {
    const BATCH: usize = 50;
    const RUNS: usize = 7;
    let mut total = Duration::ZERO;
    for (b, batch) in messages.chunks(BATCH).enumerate() {
        let best = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                for (i, m) in batch.iter().enumerate() {
                    f(b * BATCH + i, m);
                }
                start.elapsed()
            })
            .min()
            .unwrap_or_default();
        total += best;
    }
    total / messages.len() as u32
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
        let full = time_each(&messages, |_, m| {
            let parsed = super::parser::parse(m).expect("parses");
            std::hint::black_box(summary_of(&parsed, m));
        });
        let layouts: Vec<Layout> = messages.iter().map(|m| Layout::of(m)).collect();
        let layout = time_each(&messages, |_, m| {
            std::hint::black_box(Layout::of(m));
        });
        let summary = time_each(&messages, |i, m| {
            std::hint::black_box(summarize_layout(m, &layouts[i]));
        });
        let analyze = time_each(&messages, |_, m| {
            std::hint::black_box(super::analyze(m));
        });
        let parts: Vec<Vec<super::Part>> =
            messages.iter().map(|m| super::split_message(m)).collect();
        let hashing = time_each(&messages, |i, m| {
            std::hint::black_box(MessageId::of(m));
            for part in &parts[i] {
                std::hint::black_box(BlobId::of(&m[part.range.clone()]));
            }
        });
        // The alternative: the first part (the start of the message) hashed by the message's
        // own hasher, read so far, then reading on. One hashing less of the first part, but
        // the rest no longer starts on a BLAKE3 chunk: its SIMD batches shrink.
        let shared = time_each(&messages, |i, m| {
            let end = parts[i].first().map_or(0, |p| p.range.end);
            let mut hasher = blake3::Hasher::new();
            hasher.update(&m[..end]);
            std::hint::black_box(hasher.finalize());
            hasher.update(&m[end..]);
            std::hint::black_box(hasher.finalize());
            for part in parts[i].iter().skip(1) {
                std::hint::black_box(BlobId::of(&m[part.range.clone()]));
            }
        });
        println!(
            "{MESSAGES} QP-HTML messages of {mean} bytes on average, per message: summary \
             of a full parse {full:?}; layout {layout:?}, summary from the layout \
             {summary:?}, both (analyze) {analyze:?}; message and part ids {hashing:?} \
             (sharing the first part's pass: {shared:?})"
        );
    }
}
