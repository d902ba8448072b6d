//! The words of the built-in templates, one [`Wording`] per language: English and Italian
//! built in, others added by the provider ([`DefaultTemplates::with_language`]).
//!
//! Every text may hold placeholders in braces, filled when an email is rendered: `{account}`,
//! `{day}`, `{deadline}`, `{scope}`, `{name}`, `{folders}`, `{count}`, `{size}`,
//! `{messages}`, `{present}`, `{tenant}`. A wording that uses any other is refused.
//!
//! [`DefaultTemplates::with_language`]: super::DefaultTemplates::with_language

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The placeholders a wording may use.
const PLACEHOLDERS: [&str; 11] = [
    "account", "day", "deadline", "scope", "name", "folders", "count", "size", "messages",
    "present", "tenant",
];

macro_rules! wording {
    ($( $(#[$doc:meta])* $field:ident ),* $(,)?) => {
        /// Every text of the built-in emails in one language. Build one from TOML
        /// ([`Wording::from_toml`], every field required) or in code, starting from
        /// [`Wording::english`]. Dates and times are formatted with chrono `strftime`
        /// patterns; `%Z` is the zone's abbreviation.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(missing_docs)]
        pub struct Wording {
            $( $(#[$doc])* pub $field: String, )*
        }

        impl Wording {
            fn fields(&self) -> Vec<(&'static str, &str)> {
                vec![$( (stringify!($field), self.$field.as_str()), )*]
            }
        }
    };
}

wording! {
    /// The pattern of instants, e.g. `%Y-%m-%d %H:%M %Z`.
    date_time,
    /// The pattern of days, e.g. `%Y-%m-%d`.
    date,
    /// `.` or `,`, in sizes such as `1.5 MB`.
    decimal_separator,
    /// The last line of every email.
    signature,
    bytes_one, bytes_many,
    scope_account, scope_folders, scope_one_message, scope_messages,
    actor_user, actor_admin, actor_system,
    label_request, label_account, label_tenant, label_day, label_scope, label_requested_by,
    label_requested_at, label_deadline, label_reason, label_total, label_folders_to_recreate,
    none,
    new_request_subject, new_request_intro, new_request_deadline, no_plan,
    plan_empty, plan_heading, plan_folder, plan_to_restore, plan_size, plan_present,
    plan_notes, plan_recreate, plan_resubscribe, plan_total_row, plan_total,
    completed_subject, completed_intro, no_details,
    label_restored, restored, label_already_there, already_there, label_recreated,
    label_resubscribed, warnings,
    failed_subject, failed_intro, failed_before, failed_outro,
    rejected_subject, rejected_intro,
    expired_subject, expired_intro, expired_outro,
    no_reason,
}

impl Wording {
    /// The English wording.
    pub fn english() -> Self {
        let w = |s: &str| s.to_owned();
        Self {
            date_time: w("%Y-%m-%d %H:%M %Z"),
            date: w("%Y-%m-%d"),
            decimal_separator: w("."),
            signature: w("Mail Time Machine"),
            bytes_one: w("1 byte"),
            bytes_many: w("{count} bytes"),
            scope_account: w("the whole account"),
            scope_folders: w("folders {folders}"),
            scope_one_message: w("1 message"),
            scope_messages: w("{count} messages"),
            actor_user: w("user {account}"),
            actor_admin: w("administrator {name}"),
            actor_system: w("the system"),
            label_request: w("Request"),
            label_account: w("Account"),
            label_tenant: w("Customer"),
            label_day: w("Snapshot day"),
            label_scope: w("Scope"),
            label_requested_by: w("Requested by"),
            label_requested_at: w("Requested at"),
            label_deadline: w("Deadline"),
            label_reason: w("Reason"),
            label_total: w("Total"),
            label_folders_to_recreate: w("Folders to recreate"),
            none: w("none"),
            new_request_subject: w(
                "Restore request for {account} (snapshot of {day}): decide before {deadline}",
            ),
            new_request_intro: w(
                "A restore of {account} was requested and waits for your decision.",
            ),
            new_request_deadline: w(
                "Decide before {deadline}: after that the snapshot of {day} leaves retention and \
                 the request expires.",
            ),
            no_plan: w("No restore plan came with this request."),
            plan_empty: w("The plan covers no folder: there is nothing to restore."),
            plan_heading: w("What the restore would write back"),
            plan_folder: w("Folder"),
            plan_to_restore: w("Messages to restore"),
            plan_size: w("Size"),
            plan_present: w("Already present"),
            plan_notes: w("Notes"),
            plan_recreate: w("recreate folder"),
            plan_resubscribe: w("resubscribe"),
            plan_total_row: w("Total"),
            plan_total: w("{messages} messages ({size}) to restore, {present} already present"),
            completed_subject: w("Your mailbox restore from {day} is complete"),
            completed_intro: w("Your restore of {scope} from the snapshot of {day} is complete."),
            no_details: w("No details of the run are available."),
            label_restored: w("Messages restored"),
            restored: w("{count} ({size})"),
            label_already_there: w("Already in your mailbox"),
            already_there: w("{count} messages, left alone"),
            label_recreated: w("Folders recreated"),
            label_resubscribed: w("Folders subscribed again"),
            warnings: w("Warnings"),
            failed_subject: w("Your mailbox restore from {day} failed"),
            failed_intro: w(
                "Your restore of {scope} from the snapshot of {day} could not be completed, and \
                 our administrators have stopped trying.",
            ),
            failed_before: w("Before it stopped, the restore did this:"),
            failed_outro: w(
                "Messages it already wrote back stay in your mailbox. You may ask for a restore \
                 again.",
            ),
            rejected_subject: w("Your mailbox restore request for {day} was rejected"),
            rejected_intro: w(
                "Your request to restore {scope} from the snapshot of {day} was rejected by an \
                 administrator.",
            ),
            expired_subject: w("Your mailbox restore request for {day} expired"),
            expired_intro: w(
                "Your request to restore {scope} from the snapshot of {day} expired: nobody \
                 decided on it before {deadline}, when that snapshot left retention.",
            ),
            expired_outro: w("You may ask for a restore from a later day that is still kept."),
            no_reason: w("(no reason was given)"),
        }
    }

    /// The Italian wording.
    pub fn italian() -> Self {
        let w = |s: &str| s.to_owned();
        Self {
            date_time: w("%d/%m/%Y %H:%M %Z"),
            date: w("%d/%m/%Y"),
            decimal_separator: w(","),
            signature: w("Mail Time Machine"),
            bytes_one: w("1 byte"),
            bytes_many: w("{count} byte"),
            scope_account: w("l'intera casella"),
            scope_folders: w("le cartelle {folders}"),
            scope_one_message: w("1 messaggio"),
            scope_messages: w("{count} messaggi"),
            actor_user: w("l'utente {account}"),
            actor_admin: w("l'amministratore {name}"),
            actor_system: w("il sistema"),
            label_request: w("Richiesta"),
            label_account: w("Casella"),
            label_tenant: w("Cliente"),
            label_day: w("Giorno della copia"),
            label_scope: w("Contenuto"),
            label_requested_by: w("Richiesta da"),
            label_requested_at: w("Richiesta il"),
            label_deadline: w("Scadenza"),
            label_reason: w("Motivo"),
            label_total: w("Totale"),
            label_folders_to_recreate: w("Cartelle da ricreare"),
            none: w("nessuna"),
            new_request_subject: w(
                "Richiesta di ripristino per {account} (copia del {day}): decidere entro il {deadline}",
            ),
            new_request_intro: w(
                "È stato chiesto il ripristino di {account}, che attende la tua decisione.",
            ),
            new_request_deadline: w(
                "Decidi entro il {deadline}: dopo, la copia del {day} esce dal periodo di \
                 conservazione e la richiesta scade.",
            ),
            no_plan: w("Questa richiesta non ha un piano di ripristino."),
            plan_empty: w("Il piano non comprende alcuna cartella: non c'è nulla da ripristinare."),
            plan_heading: w("Che cosa il ripristino riscriverebbe"),
            plan_folder: w("Cartella"),
            plan_to_restore: w("Messaggi da ripristinare"),
            plan_size: w("Dimensione"),
            plan_present: w("Già presenti"),
            plan_notes: w("Note"),
            plan_recreate: w("ricrea la cartella"),
            plan_resubscribe: w("riattiva l'iscrizione"),
            plan_total_row: w("Totale"),
            plan_total: w("{messages} messaggi ({size}) da ripristinare, {present} già presenti"),
            completed_subject: w("Il ripristino della tua casella dal {day} è completato"),
            completed_intro: w("Il ripristino di {scope} dalla copia del {day} è completato."),
            no_details: w("Non sono disponibili dettagli sull'esecuzione."),
            label_restored: w("Messaggi ripristinati"),
            restored: w("{count} ({size})"),
            label_already_there: w("Già nella tua casella"),
            already_there: w("{count} messaggi, lasciati come sono"),
            label_recreated: w("Cartelle ricreate"),
            label_resubscribed: w("Cartelle di nuovo sottoscritte"),
            warnings: w("Avvisi"),
            failed_subject: w("Il ripristino della tua casella dal {day} non è riuscito"),
            failed_intro: w(
                "Il ripristino di {scope} dalla copia del {day} non è stato completato e i \
                 nostri amministratori hanno smesso di riprovare.",
            ),
            failed_before: w("Prima di fermarsi, il ripristino ha fatto questo:"),
            failed_outro: w(
                "I messaggi già riscritti restano nella tua casella. Puoi chiedere di nuovo un \
                 ripristino.",
            ),
            rejected_subject: w("La tua richiesta di ripristino per il {day} è stata respinta"),
            rejected_intro: w(
                "La tua richiesta di ripristinare {scope} dalla copia del {day} è stata \
                 respinta da un amministratore.",
            ),
            expired_subject: w("La tua richiesta di ripristino per il {day} è scaduta"),
            expired_intro: w(
                "La tua richiesta di ripristinare {scope} dalla copia del {day} è scaduta: \
                 nessuno l'ha decisa prima del {deadline}, quando quella copia è uscita dal \
                 periodo di conservazione.",
            ),
            expired_outro: w(
                "Puoi chiedere un ripristino da un giorno successivo ancora conservato.",
            ),
            no_reason: w("(nessun motivo indicato)"),
        }
    }

    /// A wording from TOML, one `field = "text"` per line (every field of [`Wording`]),
    /// checked; `origin` names the text in errors.
    ///
    /// ```
    /// use mtm_core::Wording;
    /// let mut toml = toml_of(&Wording::english());
    /// assert!(Wording::from_toml(&toml, "de.toml").is_ok());
    /// toml.push_str("colour = \"red\"\n");
    /// assert!(Wording::from_toml(&toml, "de.toml").is_err());
    /// # fn toml_of(w: &Wording) -> String {
    /// #     let value = serde_json::to_value(w).unwrap();
    /// #     value.as_object().unwrap().iter()
    /// #         .map(|(k, v)| format!("{k} = {v}\n")).collect()
    /// # }
    /// ```
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let wording: Self = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            Error::invalid("wording", format!("{origin}, line {line}: {}", e.message()))
        })?;
        wording.check()?;
        Ok(wording)
    }

    /// Checks that every placeholder is one the templates fill and that the date patterns
    /// are valid.
    pub fn check(&self) -> Result<()> {
        for (field, text) in self.fields() {
            let mut rest = text;
            while let Some(open) = rest.find('{') {
                let after = &rest[open + 1..];
                let close = after.find('}').ok_or_else(|| {
                    Error::invalid("wording", format!("{field}: an unclosed '{{' in {text:?}"))
                })?;
                let name = &after[..close];
                if !PLACEHOLDERS.contains(&name) {
                    return Err(Error::invalid(
                        "wording",
                        format!(
                            "{field}: unknown placeholder {{{name}}} (known: {})",
                            PLACEHOLDERS.join(", ")
                        ),
                    ));
                }
                rest = &after[close + 1..];
            }
        }
        for (field, pattern) in [("date_time", &self.date_time), ("date", &self.date)] {
            let fine = chrono::format::StrftimeItems::new(pattern)
                .all(|item| !matches!(item, chrono::format::Item::Error));
            if !fine {
                return Err(Error::invalid(
                    "wording",
                    format!("{field}: {pattern:?} is not a strftime pattern"),
                ));
            }
        }
        Ok(())
    }
}

/// `template` with each `{name}` of `values` replaced, in one pass (a value that holds
/// braces, such as a folder named `{day}`, is never filled again).
pub(super) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_wordings_pass_their_own_checks() {
        Wording::english().check().unwrap();
        Wording::italian().check().unwrap();
    }

    #[test]
    fn unknown_placeholders_and_bad_patterns_are_refused() {
        let mut w = Wording::english();
        w.completed_subject = "Done {when}".into();
        assert!(w.check().unwrap_err().to_string().contains("{when}"));
        let mut w = Wording::english();
        w.date = "%Q".into();
        assert!(w.check().is_err());
    }

    #[test]
    fn filling_is_one_pass() {
        let text = fill(
            "{scope} of {day}",
            &[("scope", "folder {day}"), ("day", "today")],
        );
        assert_eq!(text, "folder {day} of today");
    }

    #[test]
    fn a_toml_wording_names_the_line_of_its_mistake() {
        let err = Wording::from_toml("date = \"%Y\"\nbogus = 1\n", "de.toml").unwrap_err();
        assert!(err.to_string().contains("de.toml, line"), "{err}");
    }
}
