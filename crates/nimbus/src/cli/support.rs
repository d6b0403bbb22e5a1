//! `nimbus support`: plans, the account's plan, named contacts, tickets (open with the
//! reporting model's fields, comment, act), engineer invitations and change notices, through
//! the customer space's support API.

use super::client::Client;
use super::output::Out;
use anyhow::{anyhow, Context};
use clap::Subcommand;
use serde_json::{json, Map, Value};

#[derive(Debug, Subcommand)]
pub enum SupportCmd {
    /// The support plans and their objectives.
    Plans,
    /// The account's plan, or order another (in force next month).
    Plan {
        #[arg(long)]
        set: Option<String>,
        #[arg(long)]
        domain: Option<String>,
    },
    /// Named contacts.
    #[command(subcommand)]
    Contact(ContactCmd),
    /// Tickets.
    #[command(subcommand)]
    Ticket(TicketCmd),
    /// Invite a provider engineer into a tenant, list invitations, end one.
    #[command(subcommand)]
    Engineer(EngineerCmd),
    /// The provider's change notices.
    Notices,
}

#[derive(Debug, Subcommand)]
pub enum ContactCmd {
    List {
        #[arg(long)]
        domain: Option<String>,
    },
    Add {
        /// The account's user who becomes a named contact.
        #[arg(long)]
        user: String,
        #[arg(long)]
        last_name: String,
        #[arg(long)]
        first_name: String,
        #[arg(long)]
        position: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        phone: String,
        #[arg(long)]
        availability: String,
    },
    Remove {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TicketCmd {
    List {
        #[arg(long)]
        domain: Option<String>,
    },
    Show {
        id: String,
    },
    /// Opens a ticket (named contacts): the reporting model's fields as `--field key=value`.
    Open {
        #[arg(long)]
        project: String,
        /// incident, request, problem or information.
        #[arg(long)]
        category: String,
        /// critical, major, minor...
        #[arg(long)]
        criticality: String,
        #[arg(long)]
        subject: String,
        #[arg(long = "field", value_name = "KEY=VALUE")]
        fields: Vec<String>,
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// account_creation, account_deletion or quota_change (requests).
        #[arg(long)]
        request_type: Option<String>,
        #[arg(long = "request", value_name = "KEY=VALUE")]
        request: Vec<String>,
        /// A text file attached to the ticket.
        #[arg(long = "attach")]
        attachments: Vec<std::path::PathBuf>,
    },
    Comment {
        id: String,
        text: String,
    },
    /// An action: take, set_priority, decide_priority, hold, resume, resolve, approve, reject,
    /// out_of_scope, confirm, reopen.
    Act {
        id: String,
        action: String,
        #[arg(long)]
        priority: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        resolution: Option<String>,
        #[arg(long)]
        note: Option<String>,
        /// With set_priority: hold the ticket while the customer answers.
        #[arg(long)]
        hold: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum EngineerCmd {
    List,
    Invite {
        #[arg(long)]
        project: String,
        /// The provider engineer's user id.
        #[arg(long)]
        engineer: String,
        #[arg(long, default_value_t = 24)]
        hours: i64,
        #[arg(long)]
        ticket: Option<String>,
    },
    Revoke {
        id: String,
    },
}

/// `key=value` pairs; a value that parses as JSON (a number, true) keeps its type.
pub fn pairs(items: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut m = Map::new();
    for it in items {
        let (k, v) = it.split_once('=').ok_or_else(|| anyhow!("{it:?} is not KEY=VALUE"))?;
        let value = match serde_json::from_str::<Value>(v) {
            Ok(j @ (Value::Number(_) | Value::Bool(_))) => j,
            _ => Value::String(v.to_string()),
        };
        m.insert(k.to_string(), value);
    }
    Ok(m)
}

fn account(domain: &Option<String>) -> String {
    domain.as_ref().map(|d| format!("?domain_id={d}")).unwrap_or_default()
}

const TICKET_FIELDS: &[&str] = &[
    "id",
    "number",
    "status",
    "priority",
    "category",
    "request_type",
    "subject",
    "project_id",
    "opened_at",
    "clocks.response_due",
    "clocks.response_breached",
    "clocks.repair_due",
    "clocks.repair_breached",
    "clocks.request_due",
    "clocks.auto_close_at",
    "closed_reason",
];

pub async fn run(c: &Client, out: &Out, cmd: SupportCmd) -> anyhow::Result<()> {
    match cmd {
        SupportCmd::Plans => {
            let v = c.get("/v1/support/plans").await?;
            out.list(
                &v["plans"],
                &[
                    ("Plan", "name"),
                    ("Title", "title"),
                    ("Contacts", "named_contacts"),
                    ("P1 response (min)", "response_objectives.P1.minutes"),
                    ("P1 hours", "response_objectives.P1.hours"),
                    ("Location", "support_location"),
                ],
            );
        }
        SupportCmd::Plan { set, domain } => {
            let path = format!("/v1/support/subscription{}", account(&domain));
            let v = match set {
                Some(p) => c.call("PUT", &path, Some(json!({"plan": p}))).await?,
                None => c.get(&path).await?,
            };
            out.object(&v["subscription"], &["domain_id", "plan", "since", "minimum_until", "pending"]);
        }
        SupportCmd::Contact(cmd) => match cmd {
            ContactCmd::List { domain } => {
                let v = c.get(&format!("/v1/support/contacts{}", account(&domain))).await?;
                out.list(
                    &v["contacts"],
                    &[
                        ("Id", "id"),
                        ("Last name", "last_name"),
                        ("First name", "first_name"),
                        ("Email", "email"),
                        ("Phone", "phone"),
                        ("Availability", "availability"),
                    ],
                );
            }
            ContactCmd::Add { user, last_name, first_name, position, email, phone, availability } => {
                let body = json!({"user_id": user, "last_name": last_name, "first_name": first_name,
                    "position": position, "email": email, "phone": phone, "availability": availability});
                out.object(&c.post("/v1/support/contacts", body).await?["contact"], &[]);
            }
            ContactCmd::Remove { id } => {
                c.call("DELETE", &format!("/v1/support/contacts/{id}"), None).await?;
            }
        },
        SupportCmd::Ticket(cmd) => match cmd {
            TicketCmd::List { domain } => {
                let v = c.get(&format!("/v1/support/tickets{}", account(&domain))).await?;
                out.list(
                    &v["tickets"],
                    &[
                        ("Number", "number"),
                        ("Id", "id"),
                        ("Status", "status"),
                        ("Priority", "priority"),
                        ("Category", "category"),
                        ("Subject", "subject"),
                        ("Response due", "clocks.response_due"),
                    ],
                );
            }
            TicketCmd::Show { id } => {
                let v = c.get(&format!("/v1/support/tickets/{id}")).await?;
                out.object(&v["ticket"], TICKET_FIELDS);
                if out.format == super::output::Format::Table {
                    out.list(
                        &v["ticket"]["timeline"],
                        &[("At", "at"), ("Side", "side"), ("Kind", "kind"), ("Text", "text")],
                    );
                }
            }
            TicketCmd::Open {
                project,
                category,
                criticality,
                subject,
                fields,
                resources,
                request_type,
                request,
                attachments,
            } => {
                let mut files = Vec::new();
                for p in attachments {
                    let content = std::fs::read_to_string(&p)
                        .with_context(|| format!("reading the attachment {}", p.display()))?;
                    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    files.push(json!({"name": name, "content": content}));
                }
                let body = json!({"project_id": project, "category": category, "perceived_criticality": criticality,
                    "subject": subject, "resource_ids": resources, "report": pairs(&fields)?,
                    "request_type": request_type, "request": pairs(&request)?, "attachments": files});
                out.object(&c.post("/v1/support/tickets", body).await?["ticket"], TICKET_FIELDS);
            }
            TicketCmd::Comment { id, text } => {
                let v = c.post(&format!("/v1/support/tickets/{id}/comments"), json!({"text": text})).await?;
                out.object(&v["ticket"], TICKET_FIELDS);
            }
            TicketCmd::Act { id, action, priority, reason, resolution, note, hold } => {
                let body = json!({"action": action, "priority": priority, "reason": reason,
                    "resolution": resolution, "note": note, "hold": hold});
                let v = c.post(&format!("/v1/support/tickets/{id}/actions"), body).await?;
                out.object(&v["ticket"], TICKET_FIELDS);
            }
        },
        SupportCmd::Engineer(cmd) => match cmd {
            EngineerCmd::List => {
                let v = c.get("/v1/support/invitations").await?;
                out.list(
                    &v["invitations"],
                    &[
                        ("Id", "id"),
                        ("Project", "project_id"),
                        ("Engineer", "engineer_id"),
                        ("Status", "status"),
                        ("Expires", "expires_at"),
                    ],
                );
            }
            EngineerCmd::Invite { project, engineer, hours, ticket } => {
                let body = json!({"project_id": project, "engineer_id": engineer, "hours": hours, "ticket_id": ticket});
                out.object(&c.post("/v1/support/invitations", body).await?["invitation"], &[]);
            }
            EngineerCmd::Revoke { id } => {
                c.call("DELETE", &format!("/v1/support/invitations/{id}"), None).await?;
            }
        },
        SupportCmd::Notices => {
            let v = c.get("/v1/support/notices").await?;
            out.list(
                &v["notices"],
                &[
                    ("Kind", "kind"),
                    ("Title", "title"),
                    ("Services", "services"),
                    ("Starts", "starts_at"),
                    ("Interruption (min)", "interruption_minutes"),
                ],
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_keep_numbers_and_text() {
        let m = pairs(&["limit=50".into(), "resource=instances".into(), "why=a=b".into()]).unwrap();
        assert_eq!(m["limit"], json!(50));
        assert_eq!(m["resource"], json!("instances"));
        assert_eq!(m["why"], json!("a=b"));
        assert!(pairs(&["novalue".into()]).is_err());
    }
}
