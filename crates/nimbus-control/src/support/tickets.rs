//! Tickets (seed 7.7): opened by an account's named contacts with the reporting model's
//! mandatory fields, processed by the provider, timed against the plan's objectives.
//!
//! Statuses: `new` (opened, not yet taken), `in_progress` (taken: the response clock stops),
//! `on_hold` (the provider proposes another priority and the customer may argue, or waits for
//! the customer: the repair clock is paused), `resolved` (the repair clock stops),
//! `closed` (confirmed by the customer, five working days after resolution without
//! confirmation, or out of scope). A customer who rejects a resolution reopens the ticket.
//!
//! The priority (P1-P4) is the provider's: until it takes the ticket it follows the
//! customer's perceived criticality (critical P1, major P2, minor P3; questions and requests
//! P4). The response objective applies to every ticket, the fault repair objective to
//! incidents on the platform's APIs (seed 7.7.3.3). Catalogue requests (account creation and
//! deletion, quota change) have their processing time in working days; an approved quota
//! change sets the quota.
//!
//! Our choices where the seed is silent: a ticket may be opened on any plan (Basic gets no
//! commitments); the API login, URL and source address are mandatory for incidents only;
//! time on hold pauses the repair clock, counted around the clock.

use super::calendar::{self, Hours};
use super::plans::{self, Plan, Priority};
use crate::audit::AuditEvent;
use crate::authz::Target;
use crate::reconcile::Reconciler;
use crate::{Control, Ctx};
use chrono::{DateTime, Duration, TimeZone, Utc};
use nimbus_core::Error;
use nimbus_store::support::{self as repo, Ticket, TicketEvent};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The catalogue requests and their processing time in working days (seed 7.7.6.1).
pub const REQUEST_TYPES: &[(&str, i64)] = &[("account_creation", 2), ("account_deletion", 10), ("quota_change", 5)];

/// Working days after resolution before an unconfirmed ticket closes (seed 7.7.3.2).
pub const AUTO_CLOSE_WORKING_DAYS: i64 = 5;

/// The reporting model's fields every ticket carries, and those incidents add.
const ALWAYS: &[&str] = &[
    "company_name",
    "reporter_name",
    "reporter_position",
    "reporter_email",
    "reporter_phone",
    "user_name",
    "user_email",
    "service",
    "component",
    "description",
    "occurred_at",
];
const INCIDENT: &[&str] = &["api_login", "api_url", "source_ip"];
const OPTIONAL: &[&str] = &["user_phone", "error_message", "error_code", "customer_reference"];

/// What a ticket open asks for.
#[derive(Debug, Clone, Default)]
pub struct TicketCreate {
    /// The tenant concerned (a project of the account).
    pub project_id: String,
    pub category: String,
    pub perceived_criticality: String,
    pub subject: String,
    pub resource_ids: Vec<String>,
    /// The reporting model's text fields (see `ALWAYS`, `INCIDENT`, `OPTIONAL`).
    pub fields: Map<String, Value>,
    pub request_type: Option<String>,
    pub request: Map<String, Value>,
    /// Attachments: (name, content), recorded on the timeline.
    pub attachments: Vec<(String, String)>,
}

/// What the customer or the provider does to a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketAction {
    /// Provider: takes the ticket (it responds), optionally setting the priority.
    Take {
        priority: Option<Priority>,
    },
    /// Provider: changes the priority; `hold` first puts the ticket on hold so that the
    /// customer can argue (seed 7.7.3.4), `decide` ends that hold with the final priority.
    SetPriority {
        priority: Priority,
        reason: String,
        hold: bool,
    },
    Decide {
        priority: Priority,
        reason: String,
    },
    /// Provider: waits for the customer / resumes.
    Hold {
        reason: String,
    },
    Resume,
    /// Provider: the fix is in place.
    Resolve {
        resolution: String,
    },
    /// Provider: a catalogue request carried out (a quota change is applied) or refused.
    Approve {
        note: String,
    },
    Reject {
        reason: String,
    },
    /// Provider: not within the support scope: closed.
    OutOfScope {
        reason: String,
    },
    /// Customer: the resolution works (closes) or does not (reopens).
    Confirm,
    Reopen {
        reason: String,
    },
}

/// A ticket with its timeline and its clocks.
#[derive(Debug, Clone)]
pub struct TicketView {
    pub ticket: Ticket,
    pub events: Vec<TicketEvent>,
    pub response_due: Option<i64>,
    pub response_breached: bool,
    pub repair_due: Option<i64>,
    pub repair_breached: bool,
    /// A catalogue request's deadline.
    pub request_due: Option<i64>,
    /// When a resolved ticket closes by itself.
    pub auto_close_at: Option<i64>,
}

fn utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// The priority a customer's perceived criticality stands for (questions and requests: P4).
fn default_priority(category: &str, criticality: &str) -> Priority {
    match (category, criticality) {
        ("information" | "request", _) => 4,
        (_, "critical") => 1,
        (_, "major") => 2,
        _ => 3,
    }
}

fn text<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// The clocks of a ticket at `now`.
fn clocks(t: &Ticket, plan: &Plan, now: i64) -> (Option<i64>, bool, Option<i64>, bool, Option<i64>, Option<i64>) {
    let p = t.priority as Priority;
    let opened = utc(t.opened_at);
    let response = plan.response_objective(p).map(|o| o.hours.add(opened, o.duration()).timestamp_millis());
    let response_breached = response.is_some_and(|due| t.responded_at.unwrap_or(now) > due);
    let service = t.report_field("service").to_ascii_lowercase();
    let repair_applies = t.category == "incident" && plans::REPAIR_SERVICES.contains(&service.as_str());
    let held = t.held_ms + t.held_since.map(|h| (t.resolved_at.unwrap_or(now) - h).max(0)).unwrap_or(0);
    let objective = plan.repair_objective(p).filter(|_| repair_applies);
    let repair = objective.map(|o| o.hours.add(opened, o.duration()).timestamp_millis() + held);
    let repair_breached = repair.is_some_and(|due| t.resolved_at.unwrap_or(now) > due);
    let request =
        t.request_type.as_deref().and_then(|r| REQUEST_TYPES.iter().find(|(n, _)| *n == r)).map(|(_, days)| {
            Hours::Working.add(opened, Duration::hours(days * calendar::HOURS_PER_WORKING_DAY)).timestamp_millis()
        });
    let auto_close = t.resolved_at.filter(|_| t.status == "resolved").map(|r| {
        calendar::add_working_time(utc(r), Duration::hours(AUTO_CLOSE_WORKING_DAYS * calendar::HOURS_PER_WORKING_DAY))
            .timestamp_millis()
    });
    (response, response_breached, repair, repair_breached, request, auto_close)
}

trait Report {
    fn report_field(&self, k: &str) -> String;
}

impl Report for Ticket {
    fn report_field(&self, k: &str) -> String {
        serde_json::from_str::<Map<String, Value>>(&self.report)
            .ok()
            .and_then(|m| m.get(k).and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default()
    }
}

impl Control {
    async fn ticket_view(&self, c: &mut sqlx::AnyConnection, t: Ticket) -> Result<TicketView, Error> {
        let events = repo::ticket_events(&mut *c, &t.id).await?;
        let plan = plans::plan(&t.plan).unwrap_or(&plans::PLANS[0]);
        let (response_due, response_breached, repair_due, repair_breached, request_due, auto_close_at) =
            clocks(&t, plan, self.support_now());
        Ok(TicketView {
            ticket: t,
            events,
            response_due,
            response_breached,
            repair_due,
            repair_breached,
            request_due,
            auto_close_at,
        })
    }

    async fn ticket_event(
        &self,
        c: &mut sqlx::AnyConnection,
        t: &Ticket,
        actor: &str,
        side: &str,
        kind: &str,
        text: &str,
    ) -> Result<(), Error> {
        let e = TicketEvent {
            id: uuid::Uuid::new_v4().to_string(),
            ticket_id: t.id.clone(),
            at: self.support_now(),
            actor: actor.to_string(),
            side: side.to_string(),
            kind: kind.to_string(),
            text: text.to_string(),
        };
        repo::insert_event(c, &e).await
    }

    /// Opens a ticket: the caller must be a named contact of the account, the tenant one of
    /// its projects, and every mandatory field of the reporting model given.
    pub async fn open_ticket(&self, ctx: &Ctx, req: TicketCreate) -> Result<TicketView, Error> {
        let domain = self.support_account(ctx, None, true)?;
        if !["request", "incident", "problem", "information"].contains(&req.category.as_str()) {
            return Err(Error::bad_request(format!(
                "Invalid ticket category {:?}: request, incident, problem or information.",
                req.category
            )));
        }
        if !["critical", "major", "minor"].contains(&req.perceived_criticality.as_str()) {
            return Err(Error::bad_request(format!(
                "Invalid perceived criticality {:?}: critical, major or minor.",
                req.perceived_criticality
            )));
        }
        if req.subject.trim().is_empty() || req.subject.chars().count() > 255 {
            return Err(Error::bad_request("A ticket needs a subject of at most 255 characters."));
        }
        let incident = req.category == "incident";
        let needed: Vec<&str> = ALWAYS.iter().chain(if incident { INCIDENT } else { &[] }).copied().collect();
        for f in &needed {
            if text(&req.fields, f).is_none() {
                return Err(Error::bad_request(format!(
                    "Missing mandatory field '{f}': the ticket reporting model requires it{}.",
                    if INCIDENT.contains(f) { " for incidents" } else { "" }
                )));
            }
        }
        for k in req.fields.keys() {
            if !ALWAYS.contains(&k.as_str()) && !INCIDENT.contains(&k.as_str()) && !OPTIONAL.contains(&k.as_str()) {
                return Err(Error::bad_request(format!("Unknown ticket field '{k}'.")));
            }
        }
        let occurred = text(&req.fields, "occurred_at").unwrap_or_default();
        if DateTime::parse_from_rfc3339(occurred).is_err() {
            return Err(Error::bad_request(format!(
                "Invalid occurred_at {occurred:?}: a date and time such as 2026-12-05T10:30:00Z."
            )));
        }
        if (incident || req.category == "problem") && req.resource_ids.is_empty() {
            return Err(Error::bad_request(
                "Missing mandatory field 'resource_ids': the ids of the resources concerned (an instance, a router...).",
            ));
        }
        if let Some(email) = text(&req.fields, "reporter_email") {
            if !email.contains('@') {
                return Err(Error::bad_request(format!("Invalid reporter_email {email:?}.")));
            }
        }
        let request_type = match (&req.request_type, req.category.as_str()) {
            (Some(r), "request") => {
                if !REQUEST_TYPES.iter().any(|(n, _)| n == r) {
                    return Err(Error::bad_request(format!(
                        "Unknown request type {r:?}: account_creation, account_deletion or quota_change."
                    )));
                }
                Some(r.clone())
            }
            (Some(_), _) => {
                return Err(Error::bad_request("A request_type belongs to tickets of the request category."))
            }
            (None, _) => None,
        };
        let now = self.support_now();
        let mut tx = self.store().write().await?;
        let contact = repo::domain_contacts(&mut tx, &domain)
            .await?
            .into_iter()
            .find(|c| c.user_id == ctx.principal.user_id)
            .ok_or_else(|| Error::Forbidden("Only the account's named contacts open tickets.".into()))?;
        let project = nimbus_store::identity::get_project(&mut tx, &req.project_id)
            .await?
            .filter(|p| p.domain_id == domain)
            .ok_or_else(|| {
                Error::bad_request(format!("Tenant {} is not a project of this account.", req.project_id))
            })?;
        match request_type.as_deref() {
            Some("quota_change") => self.check_quota_request(&mut tx, &domain, &req.request).await?,
            Some("account_creation") => self.check_account_creation(&mut tx, &domain, &req.request).await?,
            Some("account_deletion") => {
                let target = text(&req.request, "project_id")
                    .ok_or_else(|| Error::bad_request("An account deletion names the project_id to delete."))?;
                nimbus_store::identity::get_project(&mut tx, target)
                    .await?
                    .filter(|p| p.domain_id == domain)
                    .ok_or_else(|| Error::bad_request(format!("Project {target} is not a project of this account.")))?;
            }
            _ => {}
        }
        let plan = self.subscription_at(&mut tx, &domain, now).await?.plan;
        let mut report = req.fields.clone();
        report.insert("resource_ids".into(), Value::from(req.resource_ids.clone()));
        let mut number = repo::next_ticket_number(&mut tx).await?;
        let mut t = Ticket {
            id: uuid::Uuid::new_v4().to_string(),
            number,
            domain_id: domain.clone(),
            project_id: project.id.clone(),
            opened_by: ctx.principal.user_id.clone(),
            contact_id: contact.id.clone(),
            plan: plan.name.to_string(),
            category: req.category.clone(),
            request_type,
            request_payload: serde_json::to_string(&req.request)?,
            perceived_criticality: req.perceived_criticality.clone(),
            priority: i64::from(default_priority(&req.category, &req.perceived_criticality)),
            priority_set_by_provider: false,
            status: "new".into(),
            subject: req.subject.clone(),
            report: serde_json::to_string(&report)?,
            opened_at: now,
            responded_at: None,
            resolved_at: None,
            closed_at: None,
            closed_reason: None,
            held_ms: 0,
            held_since: None,
            updated_at: now,
        };
        // Numbers are unique: one taken meanwhile (PostgreSQL) moves to the next.
        loop {
            match repo::insert_ticket(&mut tx, &t).await {
                Ok(()) => break,
                Err(Error::Conflict(_)) if number < t.number + 10 => {
                    number += 1;
                    t.number = number;
                }
                Err(e) => return Err(e),
            }
        }
        self.ticket_event(&mut tx, &t, &ctx.principal.user_id, "customer", "opened", &req.subject).await?;
        for (name, content) in &req.attachments {
            self.ticket_event(
                &mut tx,
                &t,
                &ctx.principal.user_id,
                "customer",
                "attachment",
                &format!("{name}\n{content}"),
            )
            .await?;
        }
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("Support", "ticket", "openTicket", 201).resource(&t.id, &t.subject).in_project(&project.id),
        )
        .await?;
        let view = self.ticket_view(&mut tx, t).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Checks a quota change request: a project of the account, a known quota, a new limit
    /// and a justification (needs and expected use).
    async fn check_quota_request(
        &self,
        c: &mut sqlx::AnyConnection,
        domain: &str,
        r: &Map<String, Value>,
    ) -> Result<(), Error> {
        let project =
            text(r, "project_id").ok_or_else(|| Error::bad_request("A quota change names its project_id."))?;
        nimbus_store::identity::get_project(&mut *c, project)
            .await?
            .filter(|p| p.domain_id == domain)
            .ok_or_else(|| Error::bad_request(format!("Project {project} is not a project of this account.")))?;
        let resource = text(r, "resource").ok_or_else(|| Error::bad_request("A quota change names its resource."))?;
        if self.default_limit(&mut *c, resource).await.is_err() {
            return Err(Error::bad_request(format!("Unknown quota resource {resource:?}.")));
        }
        match r.get("limit").and_then(Value::as_i64) {
            Some(l) if l >= -1 => {}
            _ => return Err(Error::bad_request("A quota change gives the new limit: an integer, -1 for unlimited.")),
        }
        if text(r, "justification").is_none() {
            return Err(Error::bad_request(
                "A quota change needs a justification: the needs and the expected use (seed 7.7.6.1).",
            ));
        }
        Ok(())
    }

    /// A tenant creation request names a new project of the account.
    async fn check_account_creation(
        &self,
        c: &mut sqlx::AnyConnection,
        domain: &str,
        r: &Map<String, Value>,
    ) -> Result<(), Error> {
        let name = text(r, "name").ok_or_else(|| Error::bad_request("An account creation names the new tenant."))?;
        if name.len() > 64 || name.trim() != name {
            return Err(Error::bad_request("A tenant name is 1 to 64 characters without surrounding spaces."));
        }
        if nimbus_store::identity::get_project_by_name(&mut *c, domain, name).await?.is_some() {
            return Err(Error::Conflict(format!("The account already has a tenant named {name:?}.")));
        }
        Ok(())
    }

    /// Tickets the caller may see: its account's (every account's for the provider).
    pub async fn list_tickets(&self, ctx: &Ctx, domain: Option<&str>) -> Result<Vec<TicketView>, Error> {
        let provider = crate::authz::allowed("support:provide", &ctx.principal, &Target::default());
        let scope = if provider && domain.is_none() { None } else { Some(self.support_account(ctx, domain, false)?) };
        let mut c = self.store().read().await?;
        let mut out = Vec::new();
        for t in repo::list_tickets(&mut c).await? {
            if scope.as_ref().is_none_or(|d| &t.domain_id == d) {
                out.push(self.ticket_view(&mut c, t).await?);
            }
        }
        Ok(out)
    }

    async fn load_ticket(&self, c: &mut sqlx::AnyConnection, ctx: &Ctx, id: &str) -> Result<(Ticket, bool), Error> {
        let t = repo::get_ticket(&mut *c, id).await?.ok_or_else(|| Error::not_found("ticket", id))?;
        let provider = crate::authz::allowed("support:provide", &ctx.principal, &Target::default());
        let own = ctx.principal.scope_domain_id() == Some(t.domain_id.as_str())
            && crate::authz::allowed(
                "support:read",
                &ctx.principal,
                &Target { domain_id: Some(&t.domain_id), ..Default::default() },
            );
        if !provider && !own {
            return Err(Error::not_found("ticket", id));
        }
        Ok((t, provider))
    }

    /// One ticket with its timeline and clocks.
    pub async fn get_ticket(&self, ctx: &Ctx, id: &str) -> Result<TicketView, Error> {
        let mut c = self.store().read().await?;
        let (t, _) = self.load_ticket(&mut c, ctx, id).await?;
        self.ticket_view(&mut c, t).await
    }

    /// Adds a comment (the account's named contacts, or the provider).
    pub async fn comment_ticket(&self, ctx: &Ctx, id: &str, comment: &str) -> Result<TicketView, Error> {
        if comment.trim().is_empty() {
            return Err(Error::bad_request("A comment needs some text."));
        }
        let mut tx = self.store().write().await?;
        let (mut t, provider) = self.load_ticket(&mut tx, ctx, id).await?;
        if t.status == "closed" {
            return Err(Error::Conflict(format!("Ticket {} is closed.", t.number)));
        }
        let side = if provider { "provider" } else { self.customer_contact(&mut tx, ctx, &t).await? };
        self.ticket_event(&mut tx, &t, &ctx.principal.user_id, side, "comment", comment).await?;
        t.updated_at = self.support_now();
        repo::update_ticket(&mut tx, &t).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("Support", "ticket", "commentTicket", 200).resource(&t.id, &t.subject),
        )
        .await?;
        let view = self.ticket_view(&mut tx, t).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Checks that the caller is a named contact of the ticket's account.
    async fn customer_contact(
        &self,
        c: &mut sqlx::AnyConnection,
        ctx: &Ctx,
        t: &Ticket,
    ) -> Result<&'static str, Error> {
        let is_contact =
            repo::domain_contacts(&mut *c, &t.domain_id).await?.iter().any(|x| x.user_id == ctx.principal.user_id);
        if !is_contact {
            return Err(Error::Forbidden("Only the account's named contacts act on its tickets.".into()));
        }
        Ok("customer")
    }

    /// Applies an action to a ticket, each allowed from some statuses only (409 otherwise).
    pub async fn act_on_ticket(&self, ctx: &Ctx, id: &str, action: TicketAction) -> Result<TicketView, Error> {
        let now = self.support_now();
        let mut tx = self.store().write().await?;
        let (mut t, provider) = self.load_ticket(&mut tx, ctx, id).await?;
        let customer_action = matches!(action, TicketAction::Confirm | TicketAction::Reopen { .. });
        if customer_action {
            self.customer_contact(&mut tx, ctx, &t).await?;
        } else if !provider {
            return Err(Error::Forbidden("Only the provider's support processes tickets.".into()));
        }
        let side = if customer_action { "customer" } else { "provider" };
        let status = t.status.clone();
        let wrong = |allowed: &str| {
            Error::Conflict(format!("Ticket {} is {status}: that action needs a ticket that is {allowed}.", t.number))
        };
        let check_priority = |p: Priority| {
            if (1..=4).contains(&p) {
                Ok(p)
            } else {
                Err(Error::bad_request(format!("Invalid priority P{p}: P1 to P4.")))
            }
        };
        let end_hold = |t: &mut Ticket| {
            if let Some(since) = t.held_since.take() {
                t.held_ms += (now - since).max(0);
            }
        };
        let (kind, note): (&str, String) = match &action {
            TicketAction::Take { priority } => {
                if status != "new" {
                    return Err(wrong("new"));
                }
                if let Some(p) = priority {
                    t.priority = i64::from(check_priority(*p)?);
                    t.priority_set_by_provider = true;
                }
                t.status = "in_progress".into();
                t.responded_at = Some(now);
                ("status", format!("in_progress: taken at P{}", t.priority))
            }
            TicketAction::SetPriority { priority, reason, hold } => {
                if !["new", "in_progress"].contains(&status.as_str()) {
                    return Err(wrong("new or in progress"));
                }
                let p = check_priority(*priority)?;
                if *hold {
                    t.status = "on_hold".into();
                    t.held_since = Some(now);
                    t.responded_at.get_or_insert(now);
                    ("priority", format!("on_hold: the provider proposes P{p} instead of P{}: {reason}", t.priority))
                } else {
                    let old = t.priority;
                    t.priority = i64::from(p);
                    t.priority_set_by_provider = true;
                    ("priority", format!("P{old} -> P{p}: {reason}"))
                }
            }
            TicketAction::Decide { priority, reason } => {
                if status != "on_hold" {
                    return Err(wrong("on hold"));
                }
                let p = check_priority(*priority)?;
                let old = t.priority;
                t.priority = i64::from(p);
                t.priority_set_by_provider = true;
                end_hold(&mut t);
                t.status = "in_progress".into();
                ("priority", format!("decided: P{old} -> P{p}: {reason}"))
            }
            TicketAction::Hold { reason } => {
                if status != "in_progress" {
                    return Err(wrong("in progress"));
                }
                t.status = "on_hold".into();
                t.held_since = Some(now);
                ("status", format!("on_hold: {reason}"))
            }
            TicketAction::Resume => {
                if status != "on_hold" {
                    return Err(wrong("on hold"));
                }
                end_hold(&mut t);
                t.status = "in_progress".into();
                ("status", "in_progress".to_string())
            }
            TicketAction::Resolve { resolution } => {
                if status != "in_progress" {
                    return Err(wrong("in progress"));
                }
                t.status = "resolved".into();
                t.resolved_at = Some(now);
                ("status", format!("resolved: {resolution}"))
            }
            TicketAction::Approve { note } => {
                if status != "in_progress" || t.request_type.is_none() {
                    return Err(wrong("an in-progress catalogue request"));
                }
                let applied = self.carry_out_request(&mut tx, ctx, &t).await?;
                t.status = "resolved".into();
                t.resolved_at = Some(now);
                ("status", format!("resolved: request carried out ({applied}). {note}"))
            }
            TicketAction::Reject { reason } => {
                if status != "in_progress" || t.request_type.is_none() {
                    return Err(wrong("an in-progress catalogue request"));
                }
                t.status = "resolved".into();
                t.resolved_at = Some(now);
                ("status", format!("resolved: request refused: {reason}"))
            }
            TicketAction::OutOfScope { reason } => {
                if status == "closed" {
                    return Err(wrong("open"));
                }
                end_hold(&mut t);
                t.status = "closed".into();
                t.closed_at = Some(now);
                t.closed_reason = Some("out_of_scope".into());
                ("status", format!("closed: out of the support scope: {reason}"))
            }
            TicketAction::Confirm => {
                if status != "resolved" {
                    return Err(wrong("resolved"));
                }
                t.status = "closed".into();
                t.closed_at = Some(now);
                t.closed_reason = Some("confirmed".into());
                ("status", "closed: the customer confirmed the resolution".to_string())
            }
            TicketAction::Reopen { reason } => {
                if status != "resolved" {
                    return Err(wrong("resolved"));
                }
                t.status = "in_progress".into();
                t.resolved_at = None;
                ("status", format!("in_progress: reopened by the customer: {reason}"))
            }
        };
        t.updated_at = now;
        repo::update_ticket(&mut tx, &t).await?;
        self.ticket_event(&mut tx, &t, &ctx.principal.user_id, side, kind, &note).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("Support", "ticket", "updateTicket", 200).resource(&t.id, &t.subject))
            .await?;
        let view = self.ticket_view(&mut tx, t).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Carries out an approved catalogue request; what was done, for the timeline.
    async fn carry_out_request(&self, tx: &mut sqlx::AnyConnection, ctx: &Ctx, t: &Ticket) -> Result<String, Error> {
        let r: Map<String, Value> = serde_json::from_str(&t.request_payload).unwrap_or_default();
        match t.request_type.as_deref() {
            Some("quota_change") => {
                let project = text(&r, "project_id").unwrap_or_default().to_string();
                let resource = text(&r, "resource").unwrap_or_default().to_string();
                let limit = r.get("limit").and_then(Value::as_i64).unwrap_or(0);
                let change = std::collections::BTreeMap::from([(resource.clone(), limit)]);
                self.update_quotas_in(tx, ctx, &project, &change).await?;
                Ok(format!("quota {resource} of project {project} set to {limit}"))
            }
            Some("account_creation") => {
                // The tenant is made in the account, the contact who asked for it its member.
                let name = text(&r, "name").unwrap_or_default().to_string();
                self.check_account_creation(&mut *tx, &t.domain_id, &r).await?;
                let p = nimbus_store::identity::Project {
                    id: nimbus_core::id::new_hex_id(),
                    name: name.clone(),
                    domain_id: t.domain_id.clone(),
                    parent_id: None,
                    description: format!("Created by support ticket #{}", t.number),
                    enabled: true,
                    extra: "{}".into(),
                    created_at: nimbus_core::time::now_ms(),
                };
                nimbus_store::identity::insert_project(&mut *tx, &p).await?;
                if let Some(role) = nimbus_store::identity::get_global_role_by_name(&mut *tx, "member").await? {
                    let a = nimbus_store::identity::Assignment {
                        actor_type: "user".into(),
                        actor_id: t.opened_by.clone(),
                        target_type: "project".into(),
                        target_id: p.id.clone(),
                        role_id: role.id,
                        inherited: false,
                    };
                    nimbus_store::identity::grant(&mut *tx, &a).await?;
                }
                self.audit(
                    &mut *tx,
                    ctx,
                    AuditEvent::new("IAM", "project", "createProject", 201).resource(&p.id, &p.name).in_project(&p.id),
                )
                .await?;
                Ok(format!("tenant {name} created: {}", p.id))
            }
            Some("account_deletion") => {
                // Only an empty tenant goes (seed 7.7.6.1: all data deleted, services stopped).
                let target = text(&r, "project_id").unwrap_or_default().to_string();
                let p = nimbus_store::identity::get_project(&mut *tx, &target)
                    .await?
                    .filter(|p| p.domain_id == t.domain_id)
                    .ok_or_else(|| Error::not_found("project", &target))?;
                let left = repo::project_holdings(&mut *tx, &p.id).await?;
                if !left.is_empty() {
                    let what: Vec<String> = left.iter().map(|(k, n)| format!("{n} {k}")).collect();
                    return Err(Error::Conflict(format!(
                        "Tenant {} still holds {}: an account is deleted once all its data is deleted and its \
                         services stopped.",
                        p.name,
                        what.join(", ")
                    )));
                }
                self.remove_project_rows(&mut *tx, ctx, &p).await?;
                self.audit(
                    &mut *tx,
                    ctx,
                    AuditEvent::new("IAM", "project", "deleteProject", 204).resource(&p.id, &p.name).in_project(&p.id),
                )
                .await?;
                Ok(format!("tenant {} deleted", p.name))
            }
            Some(other) => Ok(format!("{other} done by the provider")),
            None => Ok(String::new()),
        }
    }

    /// Closes the resolved tickets whose customer did not confirm within five working days.
    pub(crate) async fn auto_close_tickets(&self) -> Result<usize, Error> {
        let now = self.support_now();
        let mut tx = self.store().write().await?;
        let mut closed = 0;
        for mut t in repo::resolved_tickets(&mut tx).await? {
            let Some(resolved) = t.resolved_at else { continue };
            let due = calendar::add_working_time(
                utc(resolved),
                Duration::hours(AUTO_CLOSE_WORKING_DAYS * calendar::HOURS_PER_WORKING_DAY),
            );
            if now < due.timestamp_millis() {
                continue;
            }
            t.status = "closed".into();
            t.closed_at = Some(now);
            t.closed_reason = Some("auto_closed".into());
            t.updated_at = now;
            repo::update_ticket(&mut tx, &t).await?;
            self.ticket_event(
                &mut tx,
                &t,
                "",
                "platform",
                "status",
                "closed: the resolution was not confirmed within five working days",
            )
            .await?;
            closed += 1;
        }
        tx.commit().await?;
        Ok(closed)
    }
}

/// Closes unconfirmed resolved tickets (seed 7.7.3.2).
pub struct AutoCloseReconciler;

#[async_trait::async_trait]
impl Reconciler for AutoCloseReconciler {
    fn name(&self) -> &'static str {
        "support-auto-close"
    }

    fn period(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }

    async fn reconcile(&self, control: &Arc<Control>) -> Result<(), Error> {
        control.auto_close_tickets().await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(plan: &str, category: &str, priority: i64, service: &str, opened: &str) -> Ticket {
        let opened = DateTime::parse_from_rfc3339(opened).unwrap().timestamp_millis();
        Ticket {
            id: "t".into(),
            number: 1,
            domain_id: "d".into(),
            project_id: "p".into(),
            opened_by: "u".into(),
            contact_id: "c".into(),
            plan: plan.into(),
            category: category.into(),
            request_type: None,
            request_payload: "{}".into(),
            perceived_criticality: "critical".into(),
            priority,
            priority_set_by_provider: false,
            status: "new".into(),
            subject: "s".into(),
            report: serde_json::json!({ "service": service }).to_string(),
            opened_at: opened,
            responded_at: None,
            resolved_at: None,
            closed_at: None,
            closed_reason: None,
            held_ms: 0,
            held_since: None,
            updated_at: opened,
        }
    }

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    /// Clocks worked out by hand, per plan and priority.
    #[test]
    fn response_and_repair_clocks() {
        // Business P1 (24/7): responded 59 min after a Friday-evening opening: in time.
        let mut t = ticket("business", "incident", 1, "ecs", "2026-04-03T16:30:00Z");
        t.responded_at = Some(ms("2026-04-03T17:29:00Z"));
        let (due, late, repair, _, _, _) = clocks(&t, plans::plan("business").unwrap(), ms("2026-04-03T18:00:00Z"));
        assert_eq!((due, late), (Some(ms("2026-04-03T17:30:00Z")), false));
        assert_eq!(repair, Some(ms("2026-04-03T20:30:00Z")), "4 h repair for an ECS API incident");
        // Standard P2 (1 working day) opened Friday 18:30 before Easter Monday: due Tuesday
        // 18:30 Paris; not responded by Tuesday 19:00: breached.
        let t = ticket("standard", "incident", 2, "ecs", "2026-04-03T16:30:00Z");
        let (due, late, repair, _, _, _) = clocks(&t, plans::plan("standard").unwrap(), ms("2026-04-07T17:00:00Z"));
        assert_eq!((due, late, repair), (Some(ms("2026-04-07T16:30:00Z")), true, None));
        // Premium P1: 15 minutes, any hour.
        let t = ticket("premium", "incident", 1, "obs", "2026-01-10T03:00:00Z");
        let (due, _, _, _, _, _) = clocks(&t, plans::plan("premium").unwrap(), ms("2026-01-10T03:01:00Z"));
        assert_eq!(due, Some(ms("2026-01-10T03:15:00Z")));
        // No repair objective for a service outside the listed APIs, nor for Basic at all.
        let t = ticket("business", "incident", 1, "dns", "2026-01-10T03:00:00Z");
        assert_eq!(clocks(&t, plans::plan("business").unwrap(), ms("2026-01-10T04:00:00Z")).2, None);
        let t = ticket("basic", "incident", 1, "ecs", "2026-01-10T03:00:00Z");
        assert_eq!(clocks(&t, plans::plan("basic").unwrap(), ms("2026-01-10T04:00:00Z")).0, None);
        // Two hours on hold push the repair deadline by two hours.
        let mut t = ticket("business", "incident", 2, "evs", "2026-01-10T03:00:00Z");
        t.held_ms = 2 * 3_600_000;
        assert_eq!(
            clocks(&t, plans::plan("business").unwrap(), ms("2026-01-10T04:00:00Z")).2,
            Some(ms("2026-01-10T09:00:00Z"))
        );
    }

    #[test]
    fn requests_and_auto_close_run_in_working_days() {
        let mut t = ticket("standard", "request", 4, "ecs", "2026-05-07T13:00:00Z");
        t.request_type = Some("quota_change".into());
        t.status = "resolved".into();
        t.resolved_at = Some(ms("2026-05-07T13:00:00Z"));
        let (_, _, _, _, request, auto_close) =
            clocks(&t, plans::plan("standard").unwrap(), ms("2026-05-07T13:00:00Z"));
        assert_eq!(request, Some(ms("2026-05-18T13:00:00Z")), "5 working days, past 8 May and Ascension");
        assert_eq!(auto_close, Some(ms("2026-05-18T13:00:00Z")));
        assert_eq!(default_priority("incident", "critical"), 1);
        assert_eq!(default_priority("incident", "minor"), 3);
        assert_eq!(default_priority("information", "critical"), 4);
    }
}
