//! The notifier the restore commands use: the built-in email notifier, sending by SMTP
//! (`--smtp HOST:PORT`) or writing into a Maildir (`--notify-maildir DIR`); none if neither
//! is given (notifications then stay pending until `mtm restore deliver` runs with one).
//! Built from the restore options of `args`; used by the `restore` commands.

use std::sync::Arc;

use mtm_core::{EmailNotifier, EmailSettings, EmailTransport, Notifier, TenantsFile};

use crate::args::Setup;
use crate::error::{CliError, CliResult};

/// The provider's administrators are `--admin-email`'s, else the tenants file's
/// `[provider] admins`; a tenant's new requests go to the tenant's own administrators.
pub fn notifier(
    setup: &Setup,
    tenants: Option<&TenantsFile>,
) -> CliResult<Option<Arc<dyn Notifier>>> {
    let transport = match (&setup.smtp, &setup.notify_maildir) {
        (Some(server), _) => {
            let (host, port) = server
                .rsplit_once(':')
                .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)))
                .ok_or_else(|| CliError::Usage(format!("--smtp {server:?}: expected HOST:PORT")))?;
            EmailTransport::Smtp { host, port }
        }
        (None, Some(dir)) => EmailTransport::Maildir(dir.clone()),
        (None, None) => return Ok(None),
    };
    let mut admins = setup.admin_emails.clone();
    if admins.is_empty() {
        admins = tenants
            .map(|file| {
                file.provider_admins()
                    .iter()
                    .map(|a| a.email.clone())
                    .collect()
            })
            .unwrap_or_default();
    }
    if admins.is_empty() {
        return Err(CliError::Usage(
            "who are the provider's administrators? pass --admin-email ADDRESS, set \
             MTM_ADMIN_EMAIL, or list them in the tenants file's [provider] admins"
                .into(),
        ));
    }
    let mut settings = EmailSettings::new(setup.mail_from.clone(), admins);
    if let Some(domain) = &setup.mail_domain {
        settings = settings.with_default_domain(domain.clone());
    }
    let mut notifier = EmailNotifier::new(settings, transport)?;
    if let Some(file) = tenants {
        // The languages the tenants file adds, besides English and Italian.
        notifier = notifier.with_templates(Arc::new(file.templates()?));
    }
    Ok(Some(Arc::new(notifier)))
}
