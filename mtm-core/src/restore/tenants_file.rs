//! The built-in [`TenantDirectory`]: a TOML file naming the provider's administrators and
//! every tenant with its domains, accounts, administrators, prices, language and zone.
//!
//! ```toml
//! [provider]                       # optional
//! admins = [{ name = "root", email = "ops@provider.example" }]
//! decide_for_tenants = false       # may provider admins decide tenants' requests?
//! language = "en"                  # emails about the provider's own accounts
//! time_zone = "Europe/Rome"        # and the default zone of tenants that name none
//!
//! [[tenant]]
//! id = "acme"                      # stable: stored in journals and bills
//! name = "ACME S.p.A."             # optional, for people
//! domains = ["acme.example"]
//! accounts = ["boss"]              # optional: single accounts, whatever their domain
//! admins = [{ name = "carol", email = "Carol Rossi <carol@acme.example>" }]
//! language = "it"                  # optional, default "en"
//! time_zone = "Europe/Rome"        # optional: default [provider] time_zone, else the
//!                                  # repository's (`with_default_time_zone`), else UTC
//! pricing = { currency = "EUR", base = 500, per_gib = 200 }   # optional
//!
//! [languages]                      # optional: languages beyond English and Italian
//! de = "wording-de.toml"           # a `Wording` as TOML, relative to this file
//! ```
//!
//! Everything is checked when the file is read, and a mistake is refused with the line it
//! is on: an unknown key, a duplicate tenant, domain, account or administrator name, an
//! administrator without an address or with a malformed one, a language the templates do
//! not speak, a time zone that is not an IANA name.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use lettre::message::Mailbox;
use serde::Deserialize;
use toml::Spanned;

use crate::clock::TimeZone;
use crate::error::{Error, Result};
use crate::names::AccountId;
use crate::restore::access::AccessPolicy;
use crate::restore::billing::Pricing;
use crate::restore::email::{DefaultTemplates, Wording};
use crate::restore::request::Actor;
use crate::restore::tenant::{
    AdminContact, Language, Tenant, TenantDirectory, TenantId, domain_of,
};

/// The largest tenants file read: 16 MiB, some 100,000 tenants.
const MAX_FILE_BYTES: u64 = 16 << 20;
/// The largest wording file read.
const MAX_WORDING_BYTES: u64 = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileText {
    #[serde(default)]
    provider: Option<ProviderText>,
    /// Languages beyond the built-in ones: tag → wording file, relative to the tenants file.
    #[serde(default)]
    languages: std::collections::BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    tenant: Vec<TenantText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderText {
    #[serde(default)]
    admins: Vec<Spanned<AdminText>>,
    #[serde(default)]
    decide_for_tenants: bool,
    #[serde(default)]
    language: Option<Spanned<String>>,
    #[serde(default)]
    time_zone: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantText {
    id: Spanned<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    domains: Vec<Spanned<String>>,
    #[serde(default)]
    accounts: Vec<Spanned<String>>,
    #[serde(default)]
    admins: Vec<Spanned<AdminText>>,
    #[serde(default)]
    language: Option<Spanned<String>>,
    #[serde(default)]
    time_zone: Option<Spanned<String>>,
    #[serde(default)]
    pricing: Option<Spanned<PricingText>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminText {
    name: Spanned<String>,
    #[serde(default)]
    email: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PricingText {
    currency: String,
    #[serde(default)]
    base: u64,
    #[serde(default)]
    per_gib: u64,
}

/// Tenants read from a TOML file (the format is in this module's docs and in the README):
/// the directory the command line's `--tenants FILE` uses, and a small provider's.
///
/// ```
/// use mtm_core::*;
/// let file = TenantsFile::parse(
///     r#"
///     [[tenant]]
///     id = "acme"
///     domains = ["acme.example"]
///     admins = [{ name = "carol", email = "carol@acme.example" }]
///     language = "it"
///     "#,
///     "tenants.toml",
/// )?;
/// let bob = AccountId::new("bob@acme.example")?;
/// assert_eq!(file.owner(&bob)?.unwrap().language, Language::italian());
/// assert_eq!(file.admin("carol")?, Actor::tenant_admin(TenantId::new("acme")?, "carol")?);
///
/// let err = TenantsFile::parse("[[tenant]]\nid = \"acme\"\nlanguage = \"xx\"\n", "t.toml")
///     .unwrap_err();
/// assert!(err.to_string().contains("line 3"), "{err}");
/// # Ok::<(), mtm_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TenantsFile {
    origin: String,
    tenants: Vec<Tenant>,
    /// Whether the file gives each tenant's zone (its own, or `[provider] time_zone`).
    zone_given: Vec<bool>,
    by_account: HashMap<AccountId, usize>,
    by_domain: HashMap<String, usize>,
    provider_admins: Vec<AdminContact>,
    admin_roles: HashMap<String, Option<usize>>,
    policy: AccessPolicy,
    provider_language: Language,
    /// The languages the file adds (`[languages]`).
    wordings: Vec<(Language, Wording)>,
}

/// Reads a file of at most `limit` bytes as UTF-8 text.
fn read_bounded(path: &Path, limit: u64, what: &'static str) -> Result<String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| Error::storage(path, e))?;
    let mut text = String::new();
    file.take(limit + 1)
        .read_to_string(&mut text)
        .map_err(|e| Error::storage(path, e))?;
    if text.len() as u64 > limit {
        return Err(Error::invalid(
            what,
            format!("{}: larger than {limit} bytes", path.display()),
        ));
    }
    Ok(text)
}

/// Checks as they are made, each naming its line.
struct Checker<'a> {
    text: &'a str,
    origin: &'a str,
    languages: &'a BTreeSet<Language>,
}

impl Checker<'_> {
    fn line(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn error(&self, span: std::ops::Range<usize>, message: impl std::fmt::Display) -> Error {
        Error::invalid(
            "tenants file",
            format!("{}, line {}: {message}", self.origin, self.line(span.start)),
        )
    }

    fn language(&self, text: &Spanned<String>) -> Result<Language> {
        let language = Language::new(text.get_ref()).map_err(|e| self.error(text.span(), e))?;
        if !self.languages.contains(&language) {
            let known: Vec<&str> = self.languages.iter().map(Language::as_str).collect();
            return Err(self.error(
                text.span(),
                format!(
                    "unknown language {:?}: the templates speak {}",
                    text.get_ref(),
                    known.join(", ")
                ),
            ));
        }
        Ok(language)
    }

    fn zone(&self, text: &Spanned<String>) -> Result<TimeZone> {
        TimeZone::parse(text.get_ref()).map_err(|e| self.error(text.span(), e))
    }

    fn admins(&self, admins: &[Spanned<AdminText>], whose: &str) -> Result<Vec<AdminContact>> {
        admins
            .iter()
            .map(|admin| {
                let text = admin.get_ref();
                let name = text.name.get_ref().trim();
                Actor::admin(name).map_err(|e| self.error(text.name.span(), e))?;
                let Some(email) = text
                    .email
                    .as_ref()
                    .filter(|e| !e.get_ref().trim().is_empty())
                else {
                    return Err(self.error(
                        admin.span(),
                        format!("administrator {name:?} of {whose} has no email address"),
                    ));
                };
                email.get_ref().trim().parse::<Mailbox>().map_err(|e| {
                    self.error(
                        email.span(),
                        format!(
                            "administrator {name:?}: {:?} is not an email address: {e}",
                            email.get_ref()
                        ),
                    )
                })?;
                Ok(AdminContact {
                    name: name.to_owned(),
                    email: email.get_ref().trim().to_owned(),
                })
            })
            .collect()
    }
}

impl TenantsFile {
    /// Reads and checks the tenants file at `path`, for templates that speak the built-in
    /// languages (English and Italian).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let languages = crate::restore::email::DefaultTemplates::new().languages();
        Self::read_for(path, &languages)
    }

    /// Reads and checks the tenants file at `path`, for templates that speak `languages`.
    pub fn read_for(path: &Path, languages: &BTreeSet<Language>) -> Result<Self> {
        let text = read_bounded(path, MAX_FILE_BYTES, "tenants file")?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse_in(&text, &path.display().to_string(), languages, base)
    }

    /// Checks the text of a tenants file; `origin` names it in errors. For the built-in
    /// languages (and those its `[languages]` adds, read relative to the current directory).
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let languages = crate::restore::email::DefaultTemplates::new().languages();
        Self::parse_for(text, origin, &languages)
    }

    /// Checks the text of a tenants file for templates that speak `languages` (and those
    /// its `[languages]` adds).
    pub fn parse_for(text: &str, origin: &str, languages: &BTreeSet<Language>) -> Result<Self> {
        Self::parse_in(text, origin, languages, Path::new("."))
    }

    fn read_wordings(
        check: &Checker<'_>,
        table: &std::collections::BTreeMap<String, Spanned<String>>,
        base: &Path,
    ) -> Result<Vec<(Language, Wording)>> {
        let mut wordings = Vec::new();
        for (tag, file) in table {
            let language = Language::new(tag).map_err(|e| check.error(file.span(), e))?;
            let path = base.join(file.get_ref());
            let wording = read_bounded(&path, MAX_WORDING_BYTES, "wording file")
                .and_then(|text| Wording::from_toml(&text, &path.display().to_string()))
                .map_err(|e| check.error(file.span(), format!("language {language}: {e}")))?;
            wordings.push((language, wording));
        }
        Ok(wordings)
    }

    fn parse_in(
        text: &str,
        origin: &str,
        languages: &BTreeSet<Language>,
        base: &Path,
    ) -> Result<Self> {
        let file: FileText = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            Checker {
                text,
                origin,
                languages,
            }
            .error(span, e.message())
        })?;
        let wordings = Self::read_wordings(
            &Checker {
                text,
                origin,
                languages,
            },
            &file.languages,
            base,
        )?;
        let mut known = languages.clone();
        known.extend(wordings.iter().map(|(l, _)| l.clone()));
        let mut parsed = Self::check_file(text, origin, &known, file)?;
        parsed.wordings = wordings;
        Ok(parsed)
    }

    fn check_file(
        text: &str,
        origin: &str,
        languages: &BTreeSet<Language>,
        file: FileText,
    ) -> Result<Self> {
        let check = Checker {
            text,
            origin,
            languages,
        };
        let provider = file.provider.unwrap_or(ProviderText {
            admins: Vec::new(),
            decide_for_tenants: false,
            language: None,
            time_zone: None,
        });
        let provider_language = match &provider.language {
            Some(text) => check.language(text)?,
            None => Language::english(),
        };
        let default_zone = match &provider.time_zone {
            Some(text) => Some(check.zone(text)?),
            None => None,
        };
        let provider_admins = check.admins(&provider.admins, "the provider")?;
        let mut admin_roles: HashMap<String, Option<usize>> = HashMap::new();
        let mut admin_spans = provider.admins.iter().map(|a| a.span());
        for admin in &provider_admins {
            let span = admin_spans.next().unwrap_or(0..0);
            if admin_roles.insert(admin.name.clone(), None).is_some() {
                return Err(check.error(
                    span,
                    format!("administrator {:?} is named twice", admin.name),
                ));
            }
        }

        let mut tenants = Vec::with_capacity(file.tenant.len());
        let mut zone_given = Vec::with_capacity(file.tenant.len());
        let mut ids = HashMap::new();
        let mut by_account = HashMap::new();
        let mut by_domain = HashMap::new();
        for (index, entry) in file.tenant.iter().enumerate() {
            let id =
                TenantId::new(entry.id.get_ref()).map_err(|e| check.error(entry.id.span(), e))?;
            if let Some(first) = ids.insert(id.clone(), entry.id.span()) {
                return Err(check.error(
                    entry.id.span(),
                    format!(
                        "tenant {id} is already defined on line {}",
                        check.line(first.start)
                    ),
                ));
            }
            let mut tenant = Tenant::new(id.clone());
            if let Some(name) = &entry.name {
                tenant.name = name.clone();
            }
            for domain in &entry.domains {
                let name = domain.get_ref().trim().to_ascii_lowercase();
                let fine = !name.is_empty()
                    && !name.starts_with('.')
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
                if !fine {
                    return Err(check.error(
                        domain.span(),
                        format!("{:?} is not a mail domain", domain.get_ref()),
                    ));
                }
                if let Some(owner) = by_domain.insert(name.clone(), index) {
                    let owner: &Tenant = tenants.get(owner).unwrap_or(&tenant);
                    return Err(check.error(
                        domain.span(),
                        format!("domain {name} is already tenant {}'s", owner.id),
                    ));
                }
                tenant.domains.push(name);
            }
            for account in &entry.accounts {
                let id = AccountId::new(account.get_ref().trim())
                    .map_err(|e| check.error(account.span(), e))?;
                if let Some(owner) = by_account.insert(id.clone(), index) {
                    let owner: &Tenant = tenants.get(owner).unwrap_or(&tenant);
                    return Err(check.error(
                        account.span(),
                        format!("account {id} is already tenant {}'s", owner.id),
                    ));
                }
                tenant.accounts.push(id);
            }
            tenant.admins = check.admins(&entry.admins, &format!("tenant {}", tenant.id))?;
            for (admin, text) in tenant.admins.iter().zip(&entry.admins) {
                if admin_roles
                    .insert(admin.name.clone(), Some(index))
                    .is_some()
                {
                    return Err(check.error(
                        text.span(),
                        format!("administrator {:?} is named twice", admin.name),
                    ));
                }
            }
            if let Some(language) = &entry.language {
                tenant.language = check.language(language)?;
            }
            let zone = match &entry.time_zone {
                Some(zone) => Some(check.zone(zone)?),
                None => default_zone,
            };
            zone_given.push(zone.is_some());
            tenant.time_zone = zone.unwrap_or(TimeZone::UTC);
            if let Some(pricing) = &entry.pricing {
                let p = pricing.get_ref();
                let currency = p.currency.trim();
                if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
                    return Err(check.error(
                        pricing.span(),
                        format!("currency {currency:?} is not an ISO 4217 code such as \"EUR\""),
                    ));
                }
                tenant.pricing = Some(Pricing {
                    currency: currency.to_owned(),
                    base: p.base,
                    per_gib: p.per_gib,
                });
            }
            tenants.push(tenant);
        }
        Ok(Self {
            origin: origin.to_owned(),
            tenants,
            zone_given,
            by_account,
            by_domain,
            provider_admins,
            admin_roles,
            policy: AccessPolicy {
                provider_decides_for_tenants: provider.decide_for_tenants,
            },
            provider_language,
            wordings: Vec::new(),
        })
    }

    /// The same file, with `zone` for the tenants it gives no time zone (neither their own
    /// nor `[provider] time_zone`), instead of UTC: the command line passes the
    /// repository's.
    pub fn with_default_time_zone(mut self, zone: TimeZone) -> Self {
        for (tenant, given) in self.tenants.iter_mut().zip(&self.zone_given) {
            if !given {
                tenant.time_zone = zone;
            }
        }
        self
    }

    /// The same file for `repo`: tenants it gives no time zone get the repository's (what
    /// the command line and the bindings do).
    pub fn for_repository(self, repo: &crate::repo::Repository) -> Self {
        let zone = *repo.inner.zone();
        self.with_default_time_zone(zone)
    }

    /// The built-in templates with the languages the file adds (`[languages]`): the ones its
    /// tenants' emails are written with.
    pub fn templates(&self) -> Result<DefaultTemplates> {
        let mut templates = DefaultTemplates::new();
        for (language, wording) in &self.wordings {
            templates = templates.with_language(language.clone(), wording.clone())?;
        }
        Ok(templates)
    }

    /// Every tenant, in the order of the file.
    pub fn tenants(&self) -> &[Tenant] {
        &self.tenants
    }

    /// The provider's administrators (`[provider] admins`).
    pub fn provider_admins(&self) -> &[AdminContact] {
        &self.provider_admins
    }

    /// The rule for provider administrators (`[provider] decide_for_tenants`).
    pub fn policy(&self) -> AccessPolicy {
        self.policy
    }

    /// The language of emails about the provider's own accounts (`[provider] language`).
    pub fn provider_language(&self) -> &Language {
        &self.provider_language
    }

    /// The actor an administrator's name stands for: a provider administrator, or an
    /// administrator of the tenant that lists them. A name the file does not list is
    /// [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied).
    pub fn admin(&self, name: &str) -> Result<Actor> {
        match self.admin_roles.get(name) {
            Some(None) => Actor::admin(name),
            Some(Some(index)) => Actor::tenant_admin(self.tenants[*index].id.clone(), name),
            None => Err(Error::PermissionDenied {
                actor: format!("admin {name}"),
                action: format!(
                    "act as an administrator: {} does not name them",
                    self.origin
                ),
            }),
        }
    }
}

impl TenantDirectory for TenantsFile {
    fn owner(&self, account: &AccountId) -> Result<Option<Tenant>> {
        let index = self.by_account.get(account).copied().or_else(|| {
            let domain = domain_of(account)?.to_ascii_lowercase();
            self.by_domain.get(&domain).copied()
        });
        Ok(index.map(|i| self.tenants[i].clone()))
    }

    fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        Ok(self.tenants.iter().find(|t| t.id == *id).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[provider]
admins = [{ name = "root", email = "ops@provider.example" }]
decide_for_tenants = true
time_zone = "Europe/Rome"

[[tenant]]
id = "acme"
name = "ACME S.p.A."
domains = ["acme.example", "ACME.it"]
accounts = ["boss"]
admins = [{ name = "carol", email = "Carol Rossi <carol@acme.example>" }]
language = "it"
pricing = { currency = "EUR", base = 500, per_gib = 200 }

[[tenant]]
id = "globex"
domains = ["globex.example"]
time_zone = "America/New_York"
"#;

    fn refused(text: &str) -> String {
        TenantsFile::parse(text, "tenants.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_good_file_maps_accounts_admins_prices_languages_and_zones() {
        let file = TenantsFile::parse(GOOD, "tenants.toml").unwrap();
        let owner = |a: &str| {
            file.owner(&AccountId::new(a).unwrap())
                .unwrap()
                .map(|t| t.id.to_string())
        };
        assert_eq!(owner("alice@acme.example").as_deref(), Some("acme"));
        assert_eq!(owner("alice@acme.IT").as_deref(), Some("acme"));
        assert_eq!(owner("boss").as_deref(), Some("acme"));
        assert_eq!(owner("dave@globex.example").as_deref(), Some("globex"));
        assert_eq!(owner("eve@elsewhere.example"), None);
        let acme = &file.tenants()[0];
        assert_eq!(acme.name, "ACME S.p.A.");
        assert_eq!(acme.pricing.as_ref().unwrap().base, 500);
        assert_eq!(acme.time_zone.name(), "Europe/Rome");
        assert_eq!(file.tenants()[1].time_zone.name(), "America/New_York");
        assert_eq!(file.tenants()[1].language, Language::english());
        let bare = "[[tenant]]\nid = \"a\"\n[[tenant]]\nid = \"b\"\ntime_zone = \"Asia/Tokyo\"\n";
        let rome = TimeZone::parse("Europe/Rome").unwrap();
        let zoneless = TenantsFile::parse(bare, "t.toml").unwrap();
        assert_eq!(zoneless.tenants()[0].time_zone, TimeZone::UTC);
        let zoned = zoneless.with_default_time_zone(rome);
        assert_eq!(zoned.tenants()[0].time_zone, rome);
        assert_eq!(zoned.tenants()[1].time_zone.name(), "Asia/Tokyo");
        assert_eq!(file.admin("root").unwrap(), Actor::admin("root").unwrap());
        assert!(
            matches!(file.admin("carol").unwrap(), Actor::TenantAdmin { tenant, .. } if tenant.as_str() == "acme")
        );
        assert_eq!(
            file.admin("mallory").unwrap_err().kind(),
            crate::ErrorKind::PermissionDenied
        );
        assert!(file.policy().provider_decides_for_tenants);
    }

    #[test]
    fn mistakes_are_refused_with_their_line() {
        let cases = [
            (
                "[[tenant]]\nid = \"a\"\ndomains = [\"x.example\"]\n[[tenant]]\nid = \"b\"\ndomains = [\"X.example\"]\n",
                "line 6: domain x.example is already tenant a's",
            ),
            (
                "[[tenant]]\nid = \"a\"\n\nlanguage = \"de\"\n",
                "line 4: unknown language \"de\"",
            ),
            (
                "[[tenant]]\nid = \"a\"\nadmins = [\n  { name = \"carol\" },\n]\n",
                "line 4: administrator \"carol\" of tenant a has no email address",
            ),
            (
                "[[tenant]]\nid = \"a\"\nadmins = [{ name = \"carol\", email = \"not an address\" }]\n",
                "line 3: administrator \"carol\": \"not an address\" is not an email address",
            ),
            (
                "[[tenant]]\nid = \"a\"\n[[tenant]]\nid = \"a\"\n",
                "line 4: tenant a is already defined on line 2",
            ),
            (
                "[[tenant]]\nid = \"a\"\ntime_zone = \"Mars/Olympus\"\n",
                "line 3:",
            ),
            ("[[tenant]]\nid = \"a\"\ncolour = \"red\"\n", "line 3:"),
            ("[[tenant]]\nid = \"a b\"\n", "line 2:"),
            (
                "[[tenant]]\nid = \"a\"\naccounts = [\"x\", \"x\"]\n",
                "line 3: account x is already tenant a's",
            ),
            (
                "[provider]\nadmins = [{ name = \"carol\", email = \"c@p.example\" }]\n[[tenant]]\nid = \"a\"\nadmins = [{ name = \"carol\", email = \"c@a.example\" }]\n",
                "line 5: administrator \"carol\" is named twice",
            ),
            (
                "[[tenant]]\nid = \"a\"\npricing = { currency = \"euro\" }\n",
                "line 3: currency \"euro\"",
            ),
            ("[[tenant]\nid = \"a\"\n", "line 1:"),
        ];
        for (text, expected) in cases {
            let message = refused(text);
            assert!(message.contains("tenants.toml, "), "{message}");
            assert!(
                message.contains(expected),
                "{expected:?} not in {message:?}"
            );
        }
    }

    #[test]
    fn the_readme_tenants_file_is_a_good_one() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
        let start = readme
            .find("```toml\n[provider]")
            .expect("the README shows a tenants file")
            + 8;
        let end = start + readme[start..].find("```").unwrap();
        let file = TenantsFile::parse(&readme[start..end], "README.md").unwrap();
        assert_eq!(file.tenants()[0].id.as_str(), "rossi");
        assert_eq!(
            file.admin("marco").unwrap().to_string(),
            "admin marco of rossi"
        );
    }

    #[test]
    fn a_language_the_file_adds_is_known_and_written_with_its_wording() {
        let dir = tempfile::tempdir().unwrap();
        let mut german = Wording::english();
        german.completed_subject = "Ihre Wiederherstellung vom {day} ist fertig".into();
        std::fs::write(
            dir.path().join("de.toml"),
            toml::to_string(&german).unwrap(),
        )
        .unwrap();
        let path = dir.path().join("tenants.toml");
        std::fs::write(
            &path,
            "[languages]\nde = \"de.toml\"\n\n[[tenant]]\nid = \"a\"\nlanguage = \"de\"\n",
        )
        .unwrap();
        let file = TenantsFile::read(&path).unwrap();
        let templates = file.templates().unwrap();
        assert!(
            templates
                .languages()
                .contains(&Language::new("de").unwrap())
        );
        assert_eq!(file.tenants()[0].language.as_str(), "de");

        std::fs::write(
            dir.path().join("de.toml"),
            "completed_subject = \"{when}\"\n",
        )
        .unwrap();
        let err = TenantsFile::read(&path).unwrap_err().to_string();
        assert!(err.contains("line 2: language de"), "{err}");
        std::fs::remove_file(dir.path().join("de.toml")).unwrap();
        assert!(TenantsFile::read(&path).is_err());
    }

    #[test]
    fn an_added_language_is_known_to_the_file() {
        let text = "[[tenant]]\nid = \"a\"\nlanguage = \"de\"\n";
        let languages: BTreeSet<Language> =
            [Language::english(), Language::new("de").unwrap()].into();
        let file = TenantsFile::parse_for(text, "t.toml", &languages).unwrap();
        assert_eq!(file.tenants()[0].language.as_str(), "de");
    }
}
