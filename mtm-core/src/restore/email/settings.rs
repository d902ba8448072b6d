//! Who the notification emails come from and go to: [`EmailSettings`] and [`UserAddress`].

use std::fmt::{self, Debug};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::names::AccountId;

/// A provider's function from an account to its owner's email address.
pub type AddressLookup = dyn Fn(&AccountId) -> Result<String> + Send + Sync;

/// How the email address of an account's owner is found.
///
/// ```
/// use mtm_core::{AccountId, UserAddress};
/// let default = UserAddress::FromAccount { default_domain: Some("example.com".into()) };
/// let bob = AccountId::new("bob").unwrap();
/// assert_eq!(default.resolve(&bob).unwrap(), "bob@example.com");
/// let alice = AccountId::new("alice@example.org").unwrap();
/// assert_eq!(default.resolve(&alice).unwrap(), "alice@example.org");
///
/// let lookup = UserAddress::lookup(|account: &AccountId| {
///     Ok(format!("{}@mail.example.net", account.as_str().replace('@', ".")))
/// });
/// assert_eq!(lookup.resolve(&alice).unwrap(), "alice.example.org@mail.example.net");
/// ```
#[derive(Clone)]
pub enum UserAddress {
    /// The account id itself when it contains `@`, otherwise `<account>@<default_domain>`.
    /// Without a default domain, an account id without `@` has no address
    /// ([`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)).
    FromAccount {
        /// The domain for account ids without `@` (`example.com`).
        default_domain: Option<String>,
    },
    /// The provider's own lookup (a directory, a database). Build it with
    /// [`UserAddress::lookup`].
    Lookup(Arc<AddressLookup>),
}

impl UserAddress {
    /// A lookup by the provider's own function.
    ///
    /// ```
    /// use mtm_core::{AccountId, UserAddress};
    /// let to_postmaster =
    ///     UserAddress::lookup(|_: &AccountId| Ok("postmaster@example.com".into()));
    /// # let _ = to_postmaster;
    /// ```
    pub fn lookup(f: impl Fn(&AccountId) -> Result<String> + Send + Sync + 'static) -> Self {
        UserAddress::Lookup(Arc::new(f))
    }

    /// The address of `account`'s owner, as text (not yet checked as an address: the
    /// notifier checks it before sending).
    ///
    /// ```
    /// use mtm_core::{AccountId, ErrorKind, UserAddress};
    /// let no_domain = UserAddress::default();
    /// let err = no_domain.resolve(&AccountId::new("bob").unwrap()).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn resolve(&self, account: &AccountId) -> Result<String> {
        match self {
            UserAddress::FromAccount { .. } if account.as_str().contains('@') => {
                Ok(account.as_str().to_owned())
            }
            UserAddress::FromAccount {
                default_domain: Some(domain),
            } => Ok(format!("{account}@{domain}")),
            UserAddress::FromAccount {
                default_domain: None,
            } => Err(Error::invalid(
                "user email address",
                format!(
                    "account {account} has no '@' and no default mail domain is set, so its \
                     user cannot be emailed: set one (EmailSettings::with_default_domain; \
                     `mtm restore --mail-domain DOMAIN` or MTM_MAIL_DOMAIN) or look addresses \
                     up (UserAddress::lookup), then retry (`mtm restore deliver`)"
                ),
            )),
            UserAddress::Lookup(f) => f(account),
        }
    }
}

impl Default for UserAddress {
    /// [`UserAddress::FromAccount`] without a default domain.
    fn default() -> Self {
        UserAddress::FromAccount {
            default_domain: None,
        }
    }
}

impl Debug for UserAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserAddress::FromAccount { default_domain } => f
                .debug_struct("FromAccount")
                .field("default_domain", default_domain)
                .finish(),
            UserAddress::Lookup(_) => f.write_str("Lookup(..)"),
        }
    }
}

/// Who the notification emails come from and go to.
///
/// ```
/// use mtm_core::EmailSettings;
/// let settings = EmailSettings::new(
///     "Mail Time Machine <mtm@example.com>",
///     ["ops@example.com", "Jane Admin <jane@example.com>"],
/// )
/// .with_default_domain("example.com");
/// assert_eq!(settings.admins.len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// The sender: `mtm@example.com` or `Mail Time Machine <mtm@example.com>`.
    pub from: String,
    /// The administrators' addresses (each may carry a display name); at least one.
    pub admins: Vec<String>,
    /// How to find a user's address from their account id.
    pub user_address: UserAddress,
}

impl EmailSettings {
    /// Settings with users' addresses taken from their account ids
    /// ([`UserAddress::default`]). The addresses are checked by
    /// [`EmailNotifier::new`](super::EmailNotifier::new).
    pub fn new(
        from: impl Into<String>,
        admins: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            from: from.into(),
            admins: admins.into_iter().map(Into::into).collect(),
            user_address: UserAddress::default(),
        }
    }

    /// Account ids without `@` get `@<domain>` appended to form the user's address.
    ///
    /// ```
    /// use mtm_core::{EmailSettings, UserAddress};
    /// let s = EmailSettings::new("mtm@example.com", ["ops@example.com"])
    ///     .with_default_domain("example.com");
    /// assert!(matches!(s.user_address, UserAddress::FromAccount { default_domain: Some(_) }));
    /// ```
    pub fn with_default_domain(mut self, domain: impl Into<String>) -> Self {
        self.user_address = UserAddress::FromAccount {
            default_domain: Some(domain.into()),
        };
        self
    }

    /// Users' addresses found by `user_address`.
    ///
    /// ```
    /// use mtm_core::{AccountId, EmailSettings, UserAddress};
    /// let s = EmailSettings::new("mtm@example.com", ["ops@example.com"])
    ///     .with_user_address(UserAddress::lookup(|a: &AccountId| {
    ///         Ok(format!("{a}@users.example.com"))
    ///     }));
    /// # let _ = s;
    /// ```
    pub fn with_user_address(mut self, user_address: UserAddress) -> Self {
        self.user_address = user_address;
        self
    }
}
