//! Billing: a restore is billed once, when an administrator approves it.
//!
//! The price comes from the provider's [`Pricing`]; the record goes to a [`BillingSink`]. The
//! built-in sink, [`LedgerBilling`], keeps an append-only ledger in the repository
//! (`billing/<account>/<n>.json`, one create-only sealed file per request), so a second
//! attempt to bill the same request finds the first and bills nothing.

use std::fmt::Debug;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::names::AccountId;
use crate::restore::request::{RequestId, RestoreScope};
use crate::restore::tenant::TenantId;
use crate::sealed::{seal, unseal};

/// What a restore costs: a fixed fee plus a rate per started GiB restored, in the minor
/// unit of the currency (cents), so no rounding of floating point ever reaches a bill.
///
/// ```
/// use mtm_core::Pricing;
/// let pricing = Pricing { currency: "EUR".into(), base: 500, per_gib: 200 };
/// assert_eq!(pricing.price(0), 500);
/// assert_eq!(pricing.price(1), 700); // a started GiB counts whole
/// assert_eq!(pricing.price(3 << 30), 1100);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pricing {
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
    /// The fee of every restore, in minor units.
    pub base: u64,
    /// The price of each started GiB restored, in minor units.
    pub per_gib: u64,
}

impl Default for Pricing {
    /// Free: a provider sets its own prices.
    fn default() -> Self {
        Self {
            currency: "EUR".to_owned(),
            base: 0,
            per_gib: 0,
        }
    }
}

impl Pricing {
    /// The price of restoring `bytes`, in minor units.
    pub fn price(&self, bytes: u64) -> u64 {
        let gib = bytes.div_ceil(1 << 30);
        self.base.saturating_add(self.per_gib.saturating_mul(gib))
    }
}

/// One bill: written when a request is approved, never for a rejected one, never twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingRecord {
    /// The request billed: also the key a billing system can deduplicate on.
    pub request: RequestId,
    /// The account restored.
    pub account: AccountId,
    /// The tenant invoiced: the account's owner when the request was approved, whose
    /// prices were used. `None`: the provider's own account (and bills written before
    /// tenants existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantId>,
    /// The snapshot day restored.
    pub day: NaiveDate,
    /// What is restored.
    pub scope: RestoreScope,
    /// Messages the approved plan restores.
    pub messages: u64,
    /// Their size in bytes.
    pub bytes: u64,
    /// The price, in minor units of `currency`.
    pub price: u64,
    /// The currency.
    pub currency: String,
    /// The administrator who approved.
    pub approved_by: String,
    /// When it was approved.
    pub at: DateTime<Utc>,
}

impl BillingRecord {
    /// The price for people: `7.00 EUR` (two decimals of the minor unit).
    pub fn price_text(&self) -> String {
        format!(
            "{}.{:02} {}",
            self.price / 100,
            self.price % 100,
            self.currency
        )
    }
}

/// Receives billing records. Implement it to send them to your own billing system.
///
/// The same record may be offered again after a crash between your sink accepting it and
/// the journal noting that: deduplicate on [`BillingRecord::request`].
pub trait BillingSink: Send + Sync + Debug {
    /// Records one bill.
    fn bill(&self, record: &BillingRecord) -> Result<()>;
}

/// The built-in billing sink: an append-only ledger inside the repository.
#[derive(Debug, Clone)]
pub struct LedgerBilling {
    backend: Arc<dyn Backend>,
}

fn ledger_key(request: &RequestId) -> String {
    format!("billing/{}/{:06}.json", request.account(), request.number())
}

impl LedgerBilling {
    pub(crate) fn new(backend: Arc<dyn Backend>) -> Self {
        Self { backend }
    }

    /// Every record of the ledger, by account and request number.
    pub fn records(&self) -> Result<Vec<BillingRecord>> {
        self.query(&LedgerQuery::default())
    }

    /// The records `query` selects (one tenant's, one period's), by account and request
    /// number.
    ///
    /// ```
    /// use mtm_core::*;
    /// let dir = tempfile::tempdir().unwrap();
    /// let repo = Repository::init(dir.path(), RepositoryOptions::default())?;
    /// let acme = LedgerQuery::default().tenant(TenantId::new("acme")?);
    /// assert!(repo.billing_ledger().query(&acme)?.is_empty());
    /// # Ok::<(), mtm_core::Error>(())
    /// ```
    pub fn query(&self, query: &LedgerQuery) -> Result<Vec<BillingRecord>> {
        let mut records = Vec::new();
        for key in self.backend.list("billing/")? {
            let record: BillingRecord = unseal(&self.backend.read(&key)?, &key, "billing record")?;
            if query.selects(&record) {
                records.push(record);
            }
        }
        Ok(records)
    }
}

/// Which bills to list: all by default; [`tenant`](Self::tenant) narrows to one tenant's
/// (or, with [`provider_only`](Self::provider_only), to the provider's own accounts'), and
/// [`since`](Self::since) / [`before`](Self::before) to the bills approved in a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerQuery {
    /// `Some(Some(t))`: tenant `t`'s bills; `Some(None)`: the provider's own; `None`: all.
    pub tenant: Option<Option<TenantId>>,
    /// Only bills approved at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only bills approved before this instant.
    pub before: Option<DateTime<Utc>>,
}

impl LedgerQuery {
    /// Only `tenant`'s bills.
    pub fn tenant(mut self, tenant: TenantId) -> Self {
        self.tenant = Some(Some(tenant));
        self
    }

    /// Only the bills of the provider's own accounts.
    pub fn provider_only(mut self) -> Self {
        self.tenant = Some(None);
        self
    }

    /// Only bills approved at or after `since`.
    pub fn since(mut self, since: DateTime<Utc>) -> Self {
        self.since = Some(since);
        self
    }

    /// Only bills approved before `before`.
    pub fn before(mut self, before: DateTime<Utc>) -> Self {
        self.before = Some(before);
        self
    }

    /// Whether `record` is one of the bills asked for.
    pub fn selects(&self, record: &BillingRecord) -> bool {
        self.tenant.as_ref().is_none_or(|t| *t == record.tenant)
            && self.since.is_none_or(|since| record.at >= since)
            && self.before.is_none_or(|before| record.at < before)
    }
}

impl BillingSink for LedgerBilling {
    /// Writes the record once; a record already in the ledger for the same request is
    /// accepted if it is the same bill, and an integrity error if it differs.
    fn bill(&self, record: &BillingRecord) -> Result<()> {
        let key = ledger_key(&record.request);
        match self
            .backend
            .write_new(&key, &seal(record, "billing record")?)
        {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let existing: BillingRecord =
                    unseal(&self.backend.read(&key)?, &key, "billing record")?;
                if existing == *record {
                    Ok(())
                } else {
                    Err(Error::integrity(
                        key,
                        "a different bill exists for this request",
                    ))
                }
            }
            Err(e) => Err(e),
        }
    }
}
