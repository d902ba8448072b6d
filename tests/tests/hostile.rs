//! The hostile-input suite: a mail user who can write their own Maildir attacks `mtm`, which
//! runs as root over it. One module per class of attack; each test names the class it guards.
//!
//! Run as root (as CI does, with the unprivileged user `mtm-mail` owning the Maildirs) these
//! tests exercise the real deployment; as an ordinary user they still check every refusal.
#![allow(clippy::unwrap_used)]

mod hostile {
    mod audit;
    mod fs;
    mod guard;
    mod journal;
    mod memory;
    mod record;
    mod repair;
    mod restore;
}
