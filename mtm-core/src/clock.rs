//! Time, injected: the library never reads the system clock inside its logic. Callers pass
//! a [`Clock`]; tests pass a [`FixedClock`].

use std::fmt::Debug;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::error::{Error, Result};

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that always says the same instant.
///
/// ```
/// use mtm_core::{Clock, FixedClock};
/// let clock = FixedClock::parse("2026-11-21T00:00:30Z").unwrap();
/// assert_eq!(clock.now().to_rfc3339(), "2026-11-21T00:00:30+00:00");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(DateTime<Utc>);

impl FixedClock {
    /// A clock stopped at `instant`.
    pub fn new(instant: DateTime<Utc>) -> Self {
        Self(instant)
    }

    /// A clock stopped at an RFC 3339 instant such as `2026-11-21T00:00:30+01:00`.
    pub fn parse(rfc3339: &str) -> Result<Self> {
        DateTime::parse_from_rfc3339(rfc3339)
            .map(|t| Self(t.with_timezone(&Utc)))
            .map_err(|e| Error::invalid("time", format!("{rfc3339:?}: {e}")))
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// An IANA time zone. The repository's (the provider's) decides on which day a snapshot
/// falls and when a day begins; a tenant's is the one its emails show times in.
///
/// ```
/// use mtm_core::TimeZone;
/// let rome = TimeZone::parse("Europe/Rome")?;
/// assert_eq!(rome.name(), "Europe/Rome");
/// assert!(TimeZone::parse("Mars/Olympus").is_err());
/// # Ok::<(), mtm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZone(Tz);

impl TryFrom<String> for TimeZone {
    type Error = Error;
    fn try_from(name: String) -> Result<Self> {
        Self::parse(&name)
    }
}

impl From<TimeZone> for String {
    fn from(zone: TimeZone) -> String {
        zone.name().to_owned()
    }
}

impl std::fmt::Display for TimeZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl TimeZone {
    /// UTC.
    pub const UTC: TimeZone = TimeZone(Tz::UTC);

    /// The zone of an IANA name (`Europe/Rome`, `UTC`); any other text is
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
    pub fn parse(name: &str) -> Result<Self> {
        Tz::from_str(name).map(Self).map_err(|_| {
            Error::invalid(
                "time zone",
                format!("{name:?} is not an IANA time zone name"),
            )
        })
    }

    /// Its IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// `instant` as this zone's wall clock, formatted with a chrono `strftime` pattern
    /// (`%Z` is the zone's abbreviation, such as `CET`).
    ///
    /// ```
    /// use mtm_core::{DateTime, TimeZone};
    /// let at = DateTime::parse_from_rfc3339("2026-11-24T23:00:00Z").unwrap().to_utc();
    /// let rome = TimeZone::parse("Europe/Rome")?;
    /// assert_eq!(rome.format(at, "%Y-%m-%d %H:%M %Z"), "2026-11-25 00:00 CET");
    /// # Ok::<(), mtm_core::Error>(())
    /// ```
    pub fn format(&self, instant: DateTime<Utc>, pattern: &str) -> String {
        instant.with_timezone(&self.0).format(pattern).to_string()
    }

    /// The provider's calendar day at `instant`: a snapshot taken just after local midnight
    /// belongs to the day that midnight starts.
    pub(crate) fn day_of(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.0).date_naive()
    }

    /// The instant `day` begins in the provider's zone: local midnight, or the first local
    /// time of the day where a DST change skips midnight.
    pub(crate) fn start_of_day(&self, day: NaiveDate) -> DateTime<Utc> {
        use chrono::{LocalResult, TimeZone};
        let midnight = day.and_time(chrono::NaiveTime::MIN);
        for minutes in (0..=180).step_by(15) {
            let local = midnight + chrono::Duration::minutes(minutes);
            match self.0.from_local_datetime(&local) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => return t.to_utc(),
                LocalResult::None => continue,
            }
        }
        // No zone skips more than three hours; fall back to midnight UTC.
        midnight.and_utc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_starts_at_local_midnight_even_across_dst() {
        let rome = TimeZone::parse("Europe/Rome").unwrap();
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            rome.start_of_day(day("2026-11-21")).to_rfc3339(),
            "2026-11-20T23:00:00+00:00"
        );
        assert_eq!(
            rome.start_of_day(day("2026-07-01")).to_rfc3339(),
            "2026-06-30T22:00:00+00:00"
        );
        // Santiago de Chile skips from 00:00 to 01:00 when summer time begins.
        let santiago = TimeZone::parse("America/Santiago").unwrap();
        let start = santiago.start_of_day(day("2026-09-06"));
        assert_eq!(santiago.day_of(start), day("2026-09-06"));
        assert_eq!(
            santiago.day_of(start - chrono::Duration::seconds(1)),
            day("2026-09-05")
        );
    }

    #[test]
    fn the_day_follows_the_providers_midnight() {
        let rome = TimeZone::parse("Europe/Rome").unwrap();
        let utc = TimeZone::parse("UTC").unwrap();
        let ny = TimeZone::parse("America/New_York").unwrap();
        let cases = [
            // (instant, zone, expected day)
            ("2026-11-20T23:00:00Z", rome, "2026-11-21"), // local 00:00 in Rome (UTC+1)
            ("2026-11-20T22:59:59Z", rome, "2026-11-20"),
            ("2026-11-20T23:00:00Z", utc, "2026-11-20"),
            ("2026-11-21T00:00:00Z", utc, "2026-11-21"),
            ("2026-11-21T04:59:59Z", ny, "2026-11-20"),
            ("2026-11-21T05:00:00Z", ny, "2026-11-21"),
            // Summer time: Rome is UTC+2, so local midnight is 22:00 UTC.
            ("2026-07-14T22:00:00Z", rome, "2026-07-15"),
            ("2026-07-14T21:59:59Z", rome, "2026-07-14"),
            // The night of the spring-forward change (29 March 2026 in Rome).
            ("2026-03-28T23:00:00Z", rome, "2026-03-29"),
        ];
        for (instant, zone, day) in cases {
            let at = FixedClock::parse(instant).unwrap().now();
            assert_eq!(
                zone.day_of(at).to_string(),
                day,
                "{instant} in {}",
                zone.name()
            );
        }
    }

    #[test]
    fn bad_zones_and_times_are_invalid_input() {
        assert_eq!(
            TimeZone::parse("Mars/Olympus").unwrap_err().kind(),
            crate::ErrorKind::InvalidInput
        );
        assert!(FixedClock::parse("yesterday").is_err());
    }
}
