//! The snake_case names of the core's enums, as JSON spells them (`serde`) and as the command
//! line and the bindings take and show them: one table per enum, so that no binding keeps
//! its own copy. [`RequestState::as_str`](crate::RequestState::as_str) is the same for
//! request states.

use std::str::FromStr;

use crate::error::{Error, Result};
use crate::lookup::{ChangeKind, SortKey};
use crate::restore::NotificationKind;

impl SortKey {
    /// Every sort key, in the order help texts list them.
    pub const ALL: [SortKey; 5] = [
        SortKey::Date,
        SortKey::Received,
        SortKey::From,
        SortKey::Subject,
        SortKey::Size,
    ];

    /// Its name: `date`, `received`, `from`, `subject`, `size`.
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Date => "date",
            SortKey::Received => "received",
            SortKey::From => "from",
            SortKey::Subject => "subject",
            SortKey::Size => "size",
        }
    }
}

impl FromStr for SortKey {
    type Err = Error;

    /// A sort key by its [name](SortKey::as_str); anything else is
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind) listing the names.
    fn from_str(name: &str) -> Result<Self> {
        SortKey::ALL
            .into_iter()
            .find(|key| key.as_str() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = SortKey::ALL.iter().map(|k| k.as_str()).collect();
                Error::invalid("sort key", format!("{name:?}: one of {}", names.join(", ")))
            })
    }
}

impl ChangeKind {
    /// Its name: `removed`, `added`, `moved`, `flags_changed`, `keywords_changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Removed => "removed",
            ChangeKind::Added => "added",
            ChangeKind::Moved => "moved",
            ChangeKind::FlagsChanged => "flags_changed",
            ChangeKind::KeywordsChanged => "keywords_changed",
        }
    }
}

impl NotificationKind {
    /// Its name: `new_request`, `completed`, `failed`, `rejected`, `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::NewRequest => "new_request",
            NotificationKind::Completed => "completed",
            NotificationKind::Failed => "failed",
            NotificationKind::Rejected => "rejected",
            NotificationKind::Expired => "expired",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name serde writes in JSON.
    fn json_name(value: impl serde::Serialize) -> String {
        serde_json::to_value(value)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn names_are_the_json_names_and_sort_keys_parse_back() {
        for key in SortKey::ALL {
            assert_eq!(key.as_str(), json_name(key));
            assert_eq!(key.as_str().parse::<SortKey>().unwrap(), key);
        }
        let err = "sideways".parse::<SortKey>().unwrap_err();
        assert!(
            err.to_string()
                .contains("date, received, from, subject, size"),
            "{err}"
        );
        for kind in [
            ChangeKind::Removed,
            ChangeKind::Added,
            ChangeKind::Moved,
            ChangeKind::FlagsChanged,
            ChangeKind::KeywordsChanged,
        ] {
            assert_eq!(kind.as_str(), json_name(kind));
        }
        for kind in [
            NotificationKind::NewRequest,
            NotificationKind::Completed,
            NotificationKind::Failed,
            NotificationKind::Rejected,
            NotificationKind::Expired,
        ] {
            assert_eq!(kind.as_str(), json_name(kind));
        }
    }
}
