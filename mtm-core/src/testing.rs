//! Knobs for the project's own tests (cargo feature `testing`, off by default): each changes
//! one behaviour, on the calling thread only, so that a test can reach a path that real time
//! would make slow to reach. Not a stable API: hidden from the docs.

/// Trusts folder stamps however recent (`source/stamp.rs`) on this thread: a snapshot
/// taken right after its mailbox changed passes over unchanged folders the next time, as one
/// taken at midnight after a day's mail does. The caller must let the file system's clock
/// tick (10 ms is ample) between a snapshot and the next change to the mailbox: the racy
/// check this turns off exists for a change made in the same tick as the scan.
pub fn trust_recent_folder_stamps_on_this_thread(trust: bool) {
    crate::source::stamp::trust_recent_stamps_on_this_thread(trust);
}
