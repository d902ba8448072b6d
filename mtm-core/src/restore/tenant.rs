//! Tenants: the provider's customers. Each owns mail domains (and, optionally, single
//! accounts), has its own administrators, prices, language and time zone.
//!
//! The embedding application answers "which tenant owns this account" through
//! [`TenantDirectory`] (its own customer database); [`TenantsFile`](super::TenantsFile) is
//! the built-in directory, read from a TOML file, for the command line and small providers.
//! Without a directory every account is the provider's own, and the provider's
//! administrators decide every request.

use std::fmt::{self, Debug};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::clock::TimeZone;
use crate::error::{Error, Result};
use crate::names::AccountId;
use crate::restore::billing::Pricing;

/// A tenant's stable name (`acme`, `rossi-srl`): 1 to 64 ASCII letters, digits, `.`, `_`
/// or `-`, starting with a letter or digit. It is stored in journals and bills, so it
/// must not change when the customer is renamed (its display name may).
///
/// ```
/// use mtm_core::TenantId;
/// assert_eq!(TenantId::new("acme")?.as_str(), "acme");
/// assert!(TenantId::new("").is_err());
/// assert!(TenantId::new("a b").is_err());
/// # Ok::<(), mtm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    /// Checks and wraps a tenant id.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        let fine = (1..=64).contains(&id.len())
            && id.starts_with(|c: char| c.is_ascii_alphanumeric())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !fine {
            return Err(Error::invalid(
                "tenant id",
                format!("{id:?}: use 1 to 64 letters, digits, '.', '_' or '-'"),
            ));
        }
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TenantId {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        Self::new(text)
    }
}

impl TryFrom<String> for TenantId {
    type Error = Error;
    fn try_from(text: String) -> Result<Self> {
        Self::new(text)
    }
}

impl From<TenantId> for String {
    fn from(id: TenantId) -> String {
        id.0
    }
}

/// A language of the emails, as a lowercase BCP 47 tag: `en`, `it`, `pt-br`. Which
/// languages have wording is up to the templates: English and Italian are built in
/// ([`DefaultTemplates`](crate::DefaultTemplates)).
///
/// ```
/// use mtm_core::Language;
/// assert_eq!(Language::new("IT")?.as_str(), "it");
/// assert_eq!(Language::new("pt-BR")?.as_str(), "pt-br");
/// assert!(Language::new("italiano!").is_err());
/// # Ok::<(), mtm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Language(String);

impl Language {
    /// Checks and normalizes (to lowercase) a language tag: a 2 or 3 letter language,
    /// optionally followed by `-` and a 2 to 8 character region or variant.
    pub fn new(tag: impl AsRef<str>) -> Result<Self> {
        let tag = tag.as_ref().trim().to_ascii_lowercase();
        let mut parts = tag.split('-');
        let language = parts.next().unwrap_or_default();
        let fine = (2..=3).contains(&language.len())
            && language.chars().all(|c| c.is_ascii_lowercase())
            && parts.all(|p| {
                (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric())
            });
        if !fine {
            return Err(Error::invalid(
                "language",
                format!("{tag:?} is not a language tag such as \"en\" or \"it\""),
            ));
        }
        Ok(Self(tag))
    }

    /// English, the default.
    pub fn english() -> Self {
        Self("en".to_owned())
    }

    /// Italian.
    pub fn italian() -> Self {
        Self("it".to_owned())
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Language {
    fn default() -> Self {
        Self::english()
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Language {
    type Error = Error;
    fn try_from(text: String) -> Result<Self> {
        Self::new(text)
    }
}

impl From<Language> for String {
    fn from(language: Language) -> String {
        language.0
    }
}

/// An administrator: the name they act under (unique among all administrators, recorded
/// in the audit trail) and the address new requests are emailed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminContact {
    /// The name (`carol`).
    pub name: String,
    /// The email address (`carol@acme.example` or `Carol Rossi <carol@acme.example>`).
    pub email: String,
}

/// A customer of the provider.
///
/// ```
/// use mtm_core::*;
/// let acme = Tenant::new(TenantId::new("acme")?)
///     .with_domains(["acme.example"])
///     .with_admin("carol", "carol@acme.example")
///     .with_language(Language::italian())
///     .with_time_zone(TimeZone::parse("Europe/Rome")?);
/// assert!(acme.owns(&AccountId::new("Bob@ACME.example")?));
/// assert!(!acme.owns(&AccountId::new("bob@other.example")?));
/// # Ok::<(), mtm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    /// Its stable id.
    pub id: TenantId,
    /// Its name for people (`ACME S.p.A.`); the id if none is given.
    pub name: String,
    /// The mail domains it owns, lowercase: every account `…@domain` is its.
    pub domains: Vec<String>,
    /// Single accounts it owns whatever their domain (an account id without `@`, or one
    /// at a shared domain).
    pub accounts: Vec<AccountId>,
    /// Its administrators. With none, its new requests go to the provider's.
    pub admins: Vec<AdminContact>,
    /// Its prices; the provider's ([`RestoreSettings::pricing`](crate::RestoreSettings)) if
    /// none.
    pub pricing: Option<Pricing>,
    /// The language of its emails (its administrators' and its users').
    pub language: Language,
    /// The zone its emails show dates and times in.
    pub time_zone: TimeZone,
}

impl Tenant {
    /// A tenant with no domains, accounts or administrators yet, in English and UTC, with
    /// the provider's prices.
    pub fn new(id: TenantId) -> Self {
        Self {
            name: id.to_string(),
            id,
            domains: Vec::new(),
            accounts: Vec::new(),
            admins: Vec::new(),
            pricing: None,
            language: Language::english(),
            time_zone: TimeZone::UTC,
        }
    }

    /// Adds mail domains (lowercased).
    pub fn with_domains(mut self, domains: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        self.domains
            .extend(domains.into_iter().map(|d| d.as_ref().to_ascii_lowercase()));
        self
    }

    /// Adds single accounts.
    pub fn with_accounts(mut self, accounts: impl IntoIterator<Item = AccountId>) -> Self {
        self.accounts.extend(accounts);
        self
    }

    /// Adds an administrator.
    pub fn with_admin(mut self, name: impl Into<String>, email: impl Into<String>) -> Self {
        self.admins.push(AdminContact {
            name: name.into(),
            email: email.into(),
        });
        self
    }

    /// Sets its prices.
    pub fn with_pricing(mut self, pricing: Pricing) -> Self {
        self.pricing = Some(pricing);
        self
    }

    /// Sets the language of its emails.
    pub fn with_language(mut self, language: Language) -> Self {
        self.language = language;
        self
    }

    /// Sets the zone of its emails.
    pub fn with_time_zone(mut self, time_zone: TimeZone) -> Self {
        self.time_zone = time_zone;
        self
    }

    /// Sets its name for people.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Whether `account` is its: named in [`accounts`](Self::accounts), or at one of its
    /// [`domains`](Self::domains) (compared without regard to case).
    pub fn owns(&self, account: &AccountId) -> bool {
        self.accounts.contains(account)
            || domain_of(account)
                .is_some_and(|domain| self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)))
    }

    /// Whether `name` is one of its administrators.
    pub fn has_admin(&self, name: &str) -> bool {
        self.admins.iter().any(|a| a.name == name)
    }
}

/// The domain of an account id (`example.com` of `alice@example.com`), if it has one.
pub(crate) fn domain_of(account: &AccountId) -> Option<&str> {
    account
        .as_str()
        .rsplit_once('@')
        .map(|(_, domain)| domain)
        .filter(|d| !d.is_empty())
}

/// Who owns which account: the provider's customer database, as the restore desk asks it.
///
/// Asked on every call, so a customer that gains or loses an account is seen at once: a
/// request decided after its account moved to another tenant is decided by the new owner,
/// and the audit trail says so.
///
/// ```
/// use mtm_core::*;
/// #[derive(Debug)]
/// struct OneCustomer(Tenant);
/// impl TenantDirectory for OneCustomer {
///     fn owner(&self, account: &AccountId) -> Result<Option<Tenant>> {
///         Ok(self.0.owns(account).then(|| self.0.clone()))
///     }
/// }
/// let acme = Tenant::new(TenantId::new("acme")?).with_domains(["acme.example"]);
/// let directory = OneCustomer(acme);
/// let bob = AccountId::new("bob@acme.example")?;
/// assert_eq!(directory.owner(&bob)?.unwrap().id.as_str(), "acme");
/// # Ok::<(), mtm_core::Error>(())
/// ```
pub trait TenantDirectory: Send + Sync + Debug {
    /// The tenant that owns `account` now, or `None` if the provider does (an account of
    /// no customer). An error (the database is down) fails the call that asked.
    fn owner(&self, account: &AccountId) -> Result<Option<Tenant>>;

    /// The tenant `id`, if it still exists (a bill retried after its approval is priced by
    /// the tenant the approval was made for). The default asks nobody and finds none, so
    /// such a bill gets the provider's prices; a directory that can look tenants up by id
    /// should say so.
    fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        let _ = id;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(text: &str) -> AccountId {
        AccountId::new(text).unwrap()
    }

    #[test]
    fn a_tenant_owns_its_domains_without_regard_to_case_and_its_named_accounts() {
        let acme = Tenant::new(TenantId::new("acme").unwrap())
            .with_domains(["Acme.Example"])
            .with_accounts([account("boss")]);
        assert!(acme.owns(&account("alice@acme.example")));
        assert!(acme.owns(&account("alice@ACME.EXAMPLE")));
        assert!(acme.owns(&account("boss")));
        assert!(!acme.owns(&account("alice@sub.acme.example")));
        assert!(!acme.owns(&account("acme.example")));
        assert!(!acme.owns(&account("alice@")));
    }

    #[test]
    fn ids_and_languages_are_checked() {
        for bad in ["", "-acme", "a/b", "a b", &"x".repeat(65)] {
            assert!(TenantId::new(bad).is_err(), "{bad:?}");
        }
        for good in ["acme", "rossi-srl", "a.b_c", "9"] {
            assert!(TenantId::new(good).is_ok(), "{good:?}");
        }
        for bad in ["", "e", "english", "en_GB", "en-", "1t"] {
            assert!(Language::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Language::new("en-GB").unwrap().as_str(), "en-gb");
    }
}
