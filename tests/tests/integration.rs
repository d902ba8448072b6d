//! End-to-end scenarios: one test binary, modules by behaviour.
#![allow(clippy::unwrap_used)]

mod integration {
    mod browse;
    mod crash;
    mod gc;
    mod isolation;
    mod model;
    mod properties;
    mod repair;
    mod restore;
    mod restore_merge;
    mod retention;
    mod snapshot;
    mod tenants;
    mod verify;
}
