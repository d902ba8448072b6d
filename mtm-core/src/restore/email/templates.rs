//! The email templates: [`EmailTemplates`] and the built-in [`DefaultTemplates`].

use std::fmt::{Debug, Write as _};

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::restore::notify::{Notification, NotificationKind};
use crate::restore::outcome::{RestorePlan, RestoreResult};

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

/// The built-in wording, in English: see [`EmailTemplates`].
///
/// - New request (administrators): account, day, scope, who asked and when, the deadline,
///   and the plan per folder with totals.
/// - Completed (user): messages and bytes restored, folders recreated and resubscribed,
///   what was already there, warnings.
/// - Failed (an administrator gave up on a restore that could not complete): the reason. Rejected: the administrator's reason. Expired: the deadline passed.
///
/// ```
/// use mtm_core::{DefaultTemplates, EmailTemplates};
/// let templates = DefaultTemplates::new();
/// # let _: &dyn EmailTemplates = &templates;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultTemplates;

impl DefaultTemplates {
    /// The built-in templates.
    pub fn new() -> Self {
        Self
    }
}

impl EmailTemplates for DefaultTemplates {
    fn render(&self, n: &Notification) -> Result<RenderedEmail> {
        let r = &n.request;
        let mut doc = Doc::default();
        let subject = match n.kind {
            NotificationKind::NewRequest => {
                doc.para(&format!(
                    "A restore of {} was requested and waits for your decision.",
                    r.id.account()
                ));
                doc.strong(&format!(
                    "Decide before {}: after that the snapshot of {} leaves retention and the \
                     request expires.",
                    when(r.deadline),
                    r.day
                ));
                doc.facts(&[
                    ("Request", r.id.to_string()),
                    ("Account", r.id.account().to_string()),
                    ("Snapshot day", r.day.to_string()),
                    ("Scope", r.scope.to_string()),
                    ("Requested by", r.requested_by.to_string()),
                    ("Requested at", when(r.requested_at)),
                    ("Deadline", when(r.deadline)),
                ]);
                match &n.plan {
                    Some(plan) => plan_section(&mut doc, plan),
                    None => doc.para("No restore plan came with this request."),
                }
                format!(
                    "Restore request for {} (snapshot of {}): decide before {}",
                    r.id.account(),
                    r.day,
                    when(r.deadline)
                )
            }
            NotificationKind::Completed => {
                doc.para(&format!(
                    "Your restore of {} from the snapshot of {} is complete.",
                    r.scope, r.day
                ));
                match &n.result {
                    Some(result) => result_section(&mut doc, result),
                    None => doc.para("No details of the run are available."),
                }
                format!("Your mailbox restore from {} is complete", r.day)
            }
            NotificationKind::Failed => {
                doc.para(&format!(
                    "Your restore of {} from the snapshot of {} could not be completed, and \
                     our administrators have stopped trying.",
                    r.scope, r.day
                ));
                doc.facts(&[
                    ("Reason", reason(r.reason.as_deref())),
                    ("Request", r.id.to_string()),
                ]);
                if let Some(result) = &n.result {
                    doc.para("Before it stopped, the restore did this:");
                    result_section(&mut doc, result);
                }
                doc.para(
                    "Messages it already wrote back stay in your mailbox. You may ask for a \
                     restore again.",
                );
                format!("Your mailbox restore from {} failed", r.day)
            }
            NotificationKind::Rejected => {
                doc.para(&format!(
                    "Your request to restore {} from the snapshot of {} was rejected by an \
                     administrator.",
                    r.scope, r.day
                ));
                doc.facts(&[
                    ("Reason", reason(r.reason.as_deref())),
                    ("Request", r.id.to_string()),
                    ("Requested at", when(r.requested_at)),
                ]);
                format!("Your mailbox restore request for {} was rejected", r.day)
            }
            NotificationKind::Expired => {
                doc.para(&format!(
                    "Your request to restore {} from the snapshot of {} expired: nobody \
                     decided on it before {}, when that snapshot left retention.",
                    r.scope,
                    r.day,
                    when(r.deadline)
                ));
                doc.facts(&[
                    ("Request", r.id.to_string()),
                    ("Requested at", when(r.requested_at)),
                    ("Deadline", when(r.deadline)),
                ]);
                doc.para("You may ask for a restore from a later day that is still kept.");
                format!("Your mailbox restore request for {} expired", r.day)
            }
        };
        Ok(doc.finish(subject))
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn reason(reason: Option<&str>) -> String {
    match reason {
        Some(r) if !r.trim().is_empty() => r.to_owned(),
        _ => "(no reason was given)".to_owned(),
    }
}

fn plan_section(doc: &mut Doc, plan: &RestorePlan) {
    if plan.folders.is_empty() {
        doc.para("The plan covers no folder: there is nothing to restore.");
        return;
    }
    let rows: Vec<Vec<String>> = plan
        .folders
        .iter()
        .map(|f| {
            let mut notes = Vec::new();
            if f.recreate {
                notes.push("recreate folder");
            }
            if f.resubscribe {
                notes.push("resubscribe");
            }
            vec![
                f.folder.to_string(),
                f.to_restore.to_string(),
                human_bytes(f.bytes_to_restore),
                f.already_present.to_string(),
                notes.join(", "),
            ]
        })
        .chain(std::iter::once(vec![
            "Total".to_owned(),
            plan.messages.to_string(),
            human_bytes(plan.bytes),
            plan.already_present.to_string(),
            String::new(),
        ]))
        .collect();
    doc.heading("What the restore would write back");
    doc.table(
        &[
            "Folder",
            "Messages to restore",
            "Size",
            "Already present",
            "Notes",
        ],
        &rows,
    );
    let recreate = plan.folders_to_recreate();
    let recreate = if recreate.is_empty() {
        "none".to_owned()
    } else {
        list(recreate.iter().map(|f| f.as_str()))
    };
    doc.facts(&[
        (
            "Total",
            format!(
                "{} messages ({}) to restore, {} already present",
                plan.messages,
                human_bytes(plan.bytes),
                plan.already_present
            ),
        ),
        ("Folders to recreate", recreate),
    ]);
}

fn result_section(doc: &mut Doc, result: &RestoreResult) {
    let folders = |names: &[crate::names::FolderName]| {
        if names.is_empty() {
            "none".to_owned()
        } else {
            list(names.iter().map(|f| f.as_str()))
        }
    };
    doc.facts(&[
        (
            "Messages restored",
            format!(
                "{} ({})",
                result.messages_restored,
                human_bytes(result.bytes_restored)
            ),
        ),
        (
            "Already in your mailbox",
            format!("{} messages, left alone", result.already_present),
        ),
        ("Folders recreated", folders(&result.folders_recreated)),
        (
            "Folders subscribed again",
            folders(&result.folders_resubscribed),
        ),
    ]);
    if !result.warnings.is_empty() {
        doc.heading("Warnings");
        doc.bullets(&result.warnings);
    }
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// Sizes for people: `0 bytes`, `1 byte`, `980 bytes`, `1.5 KB`, `12 MB`, `3.4 GB` (powers of
/// 1024, one decimal below 10).
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
#[derive(Default)]
struct Doc {
    text: String,
    html: String,
}

impl Doc {
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

    fn finish(self, subject: String) -> RenderedEmail {
        let html = format!(
            "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n</head>\n\
             <body style=\"font-family:sans-serif\">\n{}<p style=\"color:#666\">Mail Time Machine</p>\n\
             </body>\n</html>\n",
            escape_html(&subject),
            self.html
        );
        let text = format!("{}-- \nMail Time Machine\n", self.text);
        RenderedEmail {
            subject,
            text,
            html,
        }
    }
}
