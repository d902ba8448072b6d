//! The email templates: [`EmailTemplates`] and the built-in [`DefaultTemplates`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{Debug, Write as _};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::wording::{Wording, fill};
use crate::clock::TimeZone;
use crate::error::Result;
use crate::names::FolderName;
use crate::restore::notify::{Notification, NotificationKind};
use crate::restore::outcome::{RestorePlan, RestoreResult};
use crate::restore::request::{Actor, RestoreScope};
use crate::restore::tenant::Language;

/// The three texts of one email, as a template renders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// The subject line (one line: each run of control characters becomes a space when sent).
    pub subject: String,
    /// The `text/plain` part.
    pub text: String,
    /// The `text/html` part: a whole HTML document, with every user-controlled text escaped.
    pub html: String,
}

/// Turns a notification into an email's subject, text and HTML. Implement it to word the
/// emails your way (your brand, your language) and pass it to
/// [`EmailNotifier::with_templates`](super::EmailNotifier::with_templates).
///
/// ```
/// use mtm_core::{EmailTemplates, Notification, RenderedEmail, Result};
///
/// #[derive(Debug)]
/// struct Terse;
///
/// impl EmailTemplates for Terse {
///     fn render(&self, n: &Notification) -> Result<RenderedEmail> {
///         let line = format!("Restore {}: {:?}", n.request.id, n.kind);
///         let html = format!("<p>{line}</p>"); // nothing user-controlled in `line`
///         Ok(RenderedEmail { subject: line.clone(), text: line, html })
///     }
/// }
/// ```
pub trait EmailTemplates: Send + Sync + Debug {
    /// The email for `notification`. HTML must escape every text that users or
    /// administrators control (reasons, folder names).
    fn render(&self, notification: &Notification) -> Result<RenderedEmail>;
}

/// The built-in templates, in English and Italian, and in any language the provider adds
/// with [`with_language`](Self::with_language). Each notification is written in its
/// [`language`](Notification::language) (English if the templates do not speak it), with
/// its dates and times in its [`time_zone`](Notification::time_zone).
///
/// - New request (administrators): account, customer, day, scope, who asked and when, the
///   deadline, and the plan per folder with totals.
/// - Completed (user): messages and bytes restored, folders recreated and resubscribed,
///   what was already there, warnings.
/// - Failed (an administrator gave up on a restore that could not complete): the reason.
///   Rejected: the administrator's reason. Expired: the deadline passed.
///
/// ```
/// use mtm_core::{DefaultTemplates, Language, Wording};
/// let mut german = Wording::english();
/// german.completed_subject = "Ihre Wiederherstellung vom {day} ist fertig".into();
/// let templates = DefaultTemplates::new().with_language(Language::new("de")?, german)?;
/// assert_eq!(templates.languages().len(), 3);
/// # Ok::<(), mtm_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct DefaultTemplates {
    wordings: BTreeMap<Language, Arc<Wording>>,
}

impl Default for DefaultTemplates {
    fn default() -> Self {
        Self::new()
    }
}

impl DefaultTemplates {
    /// The built-in templates: English and Italian.
    pub fn new() -> Self {
        let wordings = [
            (Language::english(), Wording::english()),
            (Language::italian(), Wording::italian()),
        ]
        .into_iter()
        .map(|(language, wording)| (language, Arc::new(wording)))
        .collect();
        Self { wordings }
    }

    /// The same templates speaking `language` too (or with another wording of it), once
    /// the wording passes [`Wording::check`].
    pub fn with_language(mut self, language: Language, wording: Wording) -> Result<Self> {
        wording.check()?;
        self.wordings.insert(language, Arc::new(wording));
        Ok(self)
    }

    /// The languages these templates speak.
    pub fn languages(&self) -> BTreeSet<Language> {
        self.wordings.keys().cloned().collect()
    }

    fn wording(&self, language: &Language) -> &Wording {
        self.wordings
            .get(language)
            .or_else(|| self.wordings.get(&Language::english()))
            .map_or_else(|| english(), |w| w.as_ref())
    }
}

fn english() -> &'static Wording {
    static ENGLISH: std::sync::OnceLock<Wording> = std::sync::OnceLock::new();
    ENGLISH.get_or_init(Wording::english)
}

/// One notification being written in one wording and zone.
struct Writer<'a> {
    w: &'a Wording,
    zone: TimeZone,
}

impl Writer<'_> {
    fn when(&self, t: DateTime<Utc>) -> String {
        self.zone.format(t, &self.w.date_time)
    }

    fn day(&self, day: NaiveDate) -> String {
        day.format(&self.w.date).to_string()
    }

    fn bytes(&self, bytes: u64) -> String {
        if bytes == 1 {
            return self.w.bytes_one.clone();
        }
        if bytes < 1024 {
            return fill(&self.w.bytes_many, &[("count", &bytes.to_string())]);
        }
        human_bytes(bytes).replace('.', &self.w.decimal_separator)
    }

    fn scope(&self, scope: &RestoreScope) -> String {
        match scope {
            RestoreScope::Account => self.w.scope_account.clone(),
            RestoreScope::Folders { folders } => {
                let names = list(folders.iter().map(|f| f.as_str()));
                fill(&self.w.scope_folders, &[("folders", &names)])
            }
            RestoreScope::Messages { messages } if messages.len() == 1 => {
                self.w.scope_one_message.clone()
            }
            RestoreScope::Messages { messages } => fill(
                &self.w.scope_messages,
                &[("count", &messages.len().to_string())],
            ),
        }
    }

    fn actor(&self, actor: &Actor) -> String {
        match actor {
            Actor::User(account) => fill(&self.w.actor_user, &[("account", account.as_str())]),
            Actor::Admin(name) | Actor::TenantAdmin { name, .. } => {
                fill(&self.w.actor_admin, &[("name", name)])
            }
            Actor::System => self.w.actor_system.clone(),
        }
    }

    fn reason(&self, reason: Option<&str>) -> String {
        match reason {
            Some(r) if !r.trim().is_empty() => r.to_owned(),
            _ => self.w.no_reason.clone(),
        }
    }

    fn names<'n>(&self, names: impl IntoIterator<Item = &'n FolderName>) -> String {
        let names = list(names.into_iter().map(FolderName::as_str));
        if names.is_empty() {
            self.w.none.clone()
        } else {
            names
        }
    }
}

impl EmailTemplates for DefaultTemplates {
    fn render(&self, n: &Notification) -> Result<RenderedEmail> {
        let r = &n.request;
        let x = Writer {
            w: self.wording(&n.language),
            zone: n.time_zone,
        };
        let w = x.w;
        let account = r.id.account().as_str();
        let day = x.day(r.day);
        let deadline = x.when(r.deadline);
        let scope = x.scope(&r.scope);
        let values = [
            ("account", account),
            ("day", day.as_str()),
            ("deadline", deadline.as_str()),
            ("scope", scope.as_str()),
        ];
        let f = |template: &str| fill(template, &values);
        let mut doc = Doc::new(&w.signature);
        let subject = match n.kind {
            NotificationKind::NewRequest => {
                doc.para(&f(&w.new_request_intro));
                doc.strong(&f(&w.new_request_deadline));
                let mut facts = vec![
                    (w.label_request.as_str(), r.id.to_string()),
                    (w.label_account.as_str(), account.to_owned()),
                ];
                if let Some(tenant) = &n.tenant {
                    facts.push((w.label_tenant.as_str(), tenant.name.clone()));
                }
                facts.extend([
                    (w.label_day.as_str(), day.clone()),
                    (w.label_scope.as_str(), scope.clone()),
                    (w.label_requested_by.as_str(), x.actor(&r.requested_by)),
                    (w.label_requested_at.as_str(), x.when(r.requested_at)),
                    (w.label_deadline.as_str(), deadline.clone()),
                ]);
                doc.facts(&facts);
                match &n.plan {
                    Some(plan) => plan_section(&mut doc, &x, plan),
                    None => doc.para(&w.no_plan),
                }
                f(&w.new_request_subject)
            }
            NotificationKind::Completed => {
                doc.para(&f(&w.completed_intro));
                match &n.result {
                    Some(result) => result_section(&mut doc, &x, result),
                    None => doc.para(&w.no_details),
                }
                f(&w.completed_subject)
            }
            NotificationKind::Failed => {
                doc.para(&f(&w.failed_intro));
                doc.facts(&[
                    (w.label_reason.as_str(), x.reason(r.reason.as_deref())),
                    (w.label_request.as_str(), r.id.to_string()),
                ]);
                if let Some(result) = &n.result {
                    doc.para(&w.failed_before);
                    result_section(&mut doc, &x, result);
                }
                doc.para(&w.failed_outro);
                f(&w.failed_subject)
            }
            NotificationKind::Rejected => {
                doc.para(&f(&w.rejected_intro));
                doc.facts(&[
                    (w.label_reason.as_str(), x.reason(r.reason.as_deref())),
                    (w.label_request.as_str(), r.id.to_string()),
                    (w.label_requested_at.as_str(), x.when(r.requested_at)),
                ]);
                f(&w.rejected_subject)
            }
            NotificationKind::Expired => {
                doc.para(&f(&w.expired_intro));
                doc.facts(&[
                    (w.label_request.as_str(), r.id.to_string()),
                    (w.label_requested_at.as_str(), x.when(r.requested_at)),
                    (w.label_deadline.as_str(), deadline.clone()),
                ]);
                doc.para(&w.expired_outro);
                f(&w.expired_subject)
            }
        };
        Ok(doc.finish(subject, n.language.as_str()))
    }
}

fn plan_section(doc: &mut Doc, x: &Writer<'_>, plan: &RestorePlan) {
    let w = x.w;
    if plan.folders.is_empty() {
        doc.para(&w.plan_empty);
        return;
    }
    let rows: Vec<Vec<String>> = plan
        .folders
        .iter()
        .map(|f| {
            let mut notes = Vec::new();
            if f.recreate {
                notes.push(w.plan_recreate.as_str());
            }
            if f.resubscribe {
                notes.push(w.plan_resubscribe.as_str());
            }
            vec![
                f.folder.to_string(),
                f.to_restore.to_string(),
                x.bytes(f.bytes_to_restore),
                f.already_present.to_string(),
                notes.join(", "),
            ]
        })
        .chain(std::iter::once(vec![
            w.plan_total_row.clone(),
            plan.messages.to_string(),
            x.bytes(plan.bytes),
            plan.already_present.to_string(),
            String::new(),
        ]))
        .collect();
    doc.heading(&w.plan_heading);
    doc.table(
        &[
            &w.plan_folder,
            &w.plan_to_restore,
            &w.plan_size,
            &w.plan_present,
            &w.plan_notes,
        ],
        &rows,
    );
    let total = fill(
        &w.plan_total,
        &[
            ("messages", &plan.messages.to_string()),
            ("size", &x.bytes(plan.bytes)),
            ("present", &plan.already_present.to_string()),
        ],
    );
    doc.facts(&[
        (w.label_total.as_str(), total),
        (
            w.label_folders_to_recreate.as_str(),
            x.names(plan.folders_to_recreate()),
        ),
    ]);
}

fn result_section(doc: &mut Doc, x: &Writer<'_>, result: &RestoreResult) {
    let w = x.w;
    let restored = fill(
        &w.restored,
        &[
            ("count", &result.messages_restored.to_string()),
            ("size", &x.bytes(result.bytes_restored)),
        ],
    );
    let already = fill(
        &w.already_there,
        &[("count", &result.already_present.to_string())],
    );
    doc.facts(&[
        (w.label_restored.as_str(), restored),
        (w.label_already_there.as_str(), already),
        (
            w.label_recreated.as_str(),
            x.names(&result.folders_recreated),
        ),
        (
            w.label_resubscribed.as_str(),
            x.names(&result.folders_resubscribed),
        ),
    ]);
    if !result.warnings.is_empty() {
        doc.heading(&w.warnings);
        doc.bullets(&result.warnings);
    }
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// Sizes for people: `1.5 KB`, `12 MB`, `3.4 GB` (powers of 1024, one decimal below 10);
/// below 1 KB, `N bytes`.
pub(super) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KB", "MB", "GB", "TB", "PB", "EB"];
    if bytes == 1 {
        return "1 byte".to_owned();
    }
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    // Precision loss above 2^53 bytes does not matter for a display value.
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 9.95 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub(super) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// One email body written twice at once: plain text and HTML. Every text given to it is
/// escaped for the HTML side here, so templates cannot forget to.
struct Doc {
    text: String,
    html: String,
    signature: String,
}

impl Doc {
    fn new(signature: &str) -> Self {
        Self {
            text: String::new(),
            html: String::new(),
            signature: signature.to_owned(),
        }
    }

    fn para(&mut self, line: &str) {
        let _ = writeln!(self.text, "{line}\n");
        let _ = writeln!(self.html, "<p>{}</p>", escape_html(line));
    }

    fn strong(&mut self, line: &str) {
        let _ = writeln!(self.text, ">>> {line}\n");
        let _ = writeln!(
            self.html,
            "<p style=\"font-size:1.2em;font-weight:bold;color:#b00020\">{}</p>",
            escape_html(line)
        );
    }

    fn heading(&mut self, line: &str) {
        let _ = writeln!(self.text, "{line}\n{}", "-".repeat(line.chars().count()));
        let _ = writeln!(self.html, "<h3>{}</h3>", escape_html(line));
    }

    fn facts(&mut self, facts: &[(&str, String)]) {
        let width = facts
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        self.html.push_str("<table>\n");
        for (key, value) in facts {
            let _ = writeln!(
                self.text,
                "{:<width$}  {value}",
                format!("{key}:"),
                width = width + 1
            );
            let _ = writeln!(
                self.html,
                "<tr><th style=\"text-align:left;padding-right:1em\">{}</th><td>{}</td></tr>",
                escape_html(key),
                escape_html(value)
            );
        }
        self.text.push('\n');
        self.html.push_str("</table>\n");
    }

    fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let padded: Vec<String> = cells
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}", w = *w))
                .collect();
            padded.join("  ").trim_end().to_owned()
        };
        let _ = writeln!(self.text, "{}", line(&mut header.iter().copied()));
        for row in rows {
            let _ = writeln!(self.text, "{}", line(&mut row.iter().map(String::as_str)));
        }
        self.text.push('\n');

        self.html.push_str(
            "<table style=\"border-collapse:collapse\" border=\"1\" cellpadding=\"4\">\n<tr>",
        );
        for h in header {
            let _ = write!(self.html, "<th>{}</th>", escape_html(h));
        }
        self.html.push_str("</tr>\n");
        for row in rows {
            self.html.push_str("<tr>");
            for cell in row {
                let _ = write!(self.html, "<td>{}</td>", escape_html(cell));
            }
            self.html.push_str("</tr>\n");
        }
        self.html.push_str("</table>\n");
    }

    fn bullets(&mut self, items: &[String]) {
        self.html.push_str("<ul>\n");
        for item in items {
            let _ = writeln!(self.text, "- {item}");
            let _ = writeln!(self.html, "<li>{}</li>", escape_html(item));
        }
        self.text.push('\n');
        self.html.push_str("</ul>\n");
    }

    fn finish(self, subject: String, language: &str) -> RenderedEmail {
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n</head>\n\
             <body style=\"font-family:sans-serif\">\n{}<p style=\"color:#666\">{}</p>\n\
             </body>\n</html>\n",
            escape_html(language),
            escape_html(&subject),
            self.html,
            escape_html(&self.signature)
        );
        let text = format!("{}-- \n{}\n", self.text, self.signature);
        RenderedEmail {
            subject,
            text,
            html,
        }
    }
}
