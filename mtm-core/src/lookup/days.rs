//! Days named in text: `YYYY-MM-DD`, or `latest` for an account's newest snapshot. The one
//! parser the command line and the bindings take a day from a string with.

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::lookup::AccountView;

/// A day written `YYYY-MM-DD`; anything else is [`ErrorKind::InvalidInput`](crate::ErrorKind).
///
/// ```
/// use mtm_core::{NaiveDate, parse_day};
/// assert_eq!(parse_day("2026-11-21")?, NaiveDate::from_ymd_opt(2026, 11, 21).unwrap());
/// assert!(parse_day("21.11.2026").is_err());
/// # Ok::<(), mtm_core::Error>(())
/// ```
pub fn parse_day(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| Error::invalid("day", format!("{text:?} is not a day (YYYY-MM-DD)")))
}

impl AccountView {
    /// The day `text` names for this account: `YYYY-MM-DD` (as [`parse_day`]; whether a
    /// snapshot of it exists is for the call that reads it to say), or `latest`, the
    /// newest day with a snapshot ([`ErrorKind::InvalidInput`](crate::ErrorKind) if there
    /// is none).
    pub fn resolve_day(&self, text: &str) -> Result<NaiveDate> {
        if text == "latest" {
            return self.days()?.last().copied().ok_or_else(|| {
                Error::invalid("day", format!("latest: {} has no snapshot", self.account()))
            });
        }
        parse_day(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_year_month_day() {
        assert_eq!(
            parse_day("2026-02-28").ok(),
            NaiveDate::from_ymd_opt(2026, 2, 28)
        );
        for bad in [
            "2026-02-30",
            "28.02.2026",
            "latest",
            "",
            "2026-02-28T00:00:00Z",
        ] {
            let err = parse_day(bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{bad}");
            assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");
        }
    }
}
