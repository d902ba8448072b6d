//! Who may do what to whose restore requests: a pure function of the actor, the verb and
//! the account's owner now, with no I/O.
//!
//! | actor | see | request, cancel | approve, reject, give up | run, retry |
//! |---|---|---|---|---|
//! | user of the account | own account | own account | no | no |
//! | tenant administrator | accounts its tenant owns | same | same | same |
//! | provider administrator | every account | every account | the provider's accounts; a tenant's only where [`AccessPolicy::provider_decides_for_tenants`] | every account |
//! | the system | every account | no | no (it expires) | no |
//!
//! Anything else is [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied):
//! a tenant administrator cannot even see that another tenant's request exists. A provider
//! administrator's move on a tenant's account is made on that tenant's behalf: the journal
//! entry names the tenant, so the audit trail shows it.

use crate::error::Result;
use crate::names::AccountId;
use crate::restore::request::Actor;
use crate::restore::tenant::TenantId;

/// The provider's rule for its own administrators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Whether a provider administrator may approve, reject, cancel or give up on
    /// requests of accounts a tenant owns, on that tenant's behalf. Off by default: each
    /// customer decides its own restores.
    pub provider_decides_for_tenants: bool,
}

/// What an actor asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    /// Read a request, its plan or its audit trail; list it.
    See,
    /// Ask for a restore of the account (for oneself, or on the user's behalf).
    Request,
    /// Withdraw a request nobody decided yet.
    Cancel,
    /// Approve, reject or give up: a decision the account's owner makes.
    Decide,
    /// Run an approved restore again (retry, resume): operating the machine.
    Run,
}

impl AccessPolicy {
    /// Whether `actor` may do `verb` to a request of `account`, which `owner` owns now
    /// (`None`: the provider). The error names the actor and what was refused (`doing`,
    /// for example "approve restore request alice@acme.example/1").
    pub(crate) fn check(
        &self,
        actor: &Actor,
        verb: Verb,
        account: &AccountId,
        owner: Option<&TenantId>,
        doing: &str,
    ) -> Result<()> {
        if self.allows(actor, verb, account, owner) {
            Ok(())
        } else {
            Err(actor.denied(doing))
        }
    }

    pub(crate) fn allows(
        &self,
        actor: &Actor,
        verb: Verb,
        account: &AccountId,
        owner: Option<&TenantId>,
    ) -> bool {
        match actor {
            Actor::User(own) => {
                own == account && matches!(verb, Verb::See | Verb::Request | Verb::Cancel)
            }
            Actor::TenantAdmin { tenant, .. } => owner == Some(tenant),
            Actor::Admin(_) => match (verb, owner) {
                (Verb::See | Verb::Request | Verb::Run, _) | (_, None) => true,
                (Verb::Cancel | Verb::Decide, Some(_)) => self.provider_decides_for_tenants,
            },
            Actor::System => verb == Verb::See,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountId {
        AccountId::new("alice@acme.example").unwrap()
    }

    fn acme() -> TenantId {
        TenantId::new("acme").unwrap()
    }

    fn globex() -> TenantId {
        TenantId::new("globex").unwrap()
    }

    const VERBS: [Verb; 5] = [
        Verb::See,
        Verb::Request,
        Verb::Cancel,
        Verb::Decide,
        Verb::Run,
    ];

    /// One row per role and whose account it is: what each verb gives (in `VERBS` order).
    fn table(provider_decides: bool) -> Vec<(&'static str, Actor, Option<TenantId>, [bool; 5])> {
        let user = Actor::User(account());
        let other_user = Actor::User(AccountId::new("bob@acme.example").unwrap());
        let acme_admin = Actor::tenant_admin(acme(), "carol").unwrap();
        let globex_admin = Actor::tenant_admin(globex(), "dave").unwrap();
        let provider = Actor::admin("root").unwrap();
        let p = provider_decides;
        vec![
            (
                "owner, own tenant",
                user.clone(),
                Some(acme()),
                [true, true, true, false, false],
            ),
            (
                "owner, provider's account",
                user,
                None,
                [true, true, true, false, false],
            ),
            ("another user", other_user, Some(acme()), [false; 5]),
            (
                "tenant admin, own tenant",
                acme_admin.clone(),
                Some(acme()),
                [true; 5],
            ),
            (
                "tenant admin, other tenant",
                acme_admin.clone(),
                Some(globex()),
                [false; 5],
            ),
            (
                "tenant admin, provider's account",
                acme_admin,
                None,
                [false; 5],
            ),
            (
                "other tenant's admin",
                globex_admin,
                Some(acme()),
                [false; 5],
            ),
            (
                "provider admin, provider's account",
                provider.clone(),
                None,
                [true; 5],
            ),
            (
                "provider admin, a tenant's account",
                provider,
                Some(acme()),
                [true, true, p, p, true],
            ),
            (
                "system",
                Actor::System,
                Some(acme()),
                [true, false, false, false, false],
            ),
        ]
    }

    #[test]
    fn every_role_and_verb_on_own_and_other_tenants_accounts() {
        for provider_decides in [false, true] {
            let policy = AccessPolicy {
                provider_decides_for_tenants: provider_decides,
            };
            for (case, actor, owner, expected) in table(provider_decides) {
                for (verb, allowed) in VERBS.iter().zip(expected) {
                    let got = policy.check(&actor, *verb, &account(), owner.as_ref(), "act");
                    assert_eq!(
                        got.is_ok(),
                        allowed,
                        "{case}, {verb:?}, provider decides: {provider_decides}"
                    );
                    if let Err(e) = got {
                        assert_eq!(e.kind(), crate::ErrorKind::PermissionDenied);
                    }
                }
            }
        }
    }
}
