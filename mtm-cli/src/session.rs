//! What commands start from: the repository `--repo` names and the clock `--now` names.
//! Above `args` and `error`, below every command module.

use std::path::Path;

use mtm_core::{Clock, FixedClock, Repository, SystemClock};

use crate::args::Cli;
use crate::error::{CliError, CliResult};

/// The repository directory: `--repo`, or `MTM_REPO`.
pub fn repo_path(cli: &Cli) -> CliResult<&Path> {
    cli.repo
        .as_deref()
        .ok_or_else(|| CliError::Usage("no repository: pass --repo PATH or set MTM_REPO".into()))
}

/// Opens the repository `--repo` names.
pub fn open(cli: &Cli) -> CliResult<Repository> {
    Ok(Repository::open(repo_path(cli)?)?)
}

/// The clock of a `--now` option: that RFC 3339 instant, or the system clock without it.
pub fn clock(now: Option<&str>) -> CliResult<Box<dyn Clock>> {
    Ok(match now {
        Some(now) => Box::new(FixedClock::parse(now)?),
        None => Box::new(SystemClock),
    })
}
