//! Mail Time Machine benchmarks: a deterministic Maildir++ workload generator
//! ([`workload`], and the real-mail kind in [`realmail`]) and helpers for measuring child processes ([`measure`]), used by the
//! `mtm-bench` command.

pub mod measure;
pub mod realmail;
pub mod rng;
pub mod techniques;
pub mod workload;
