//! The customer space's support API (native, documented in `/openapi.json`): the plans, the
//! account's plan subscription, its named contacts, and tickets with their timeline, clocks
//! and actions. The account is the caller's (the domain of its project); the provider's
//! operators name one with `?domain_id=`.

use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::support::plans::{Objective, Plan, PLANS};
use nimbus_control::support::{ContactCreate, NoticeCreate, SubscriptionView, TicketAction, TicketCreate, TicketView};
use nimbus_core::time::iso_time;
use nimbus_core::Error;
use nimbus_store::support::{Contact, Invitation, Notice};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/v1/support/plans", A, list_plans)
        .add("GET", "/v1/support/subscription", A, show_subscription)
        .add("PUT", "/v1/support/subscription", A, change_subscription)
        .add("GET", "/v1/support/contacts", A, list_contacts)
        .add("POST", "/v1/support/contacts", A, add_contact)
        .add("DELETE", "/v1/support/contacts/{contact_id}", A, remove_contact)
        .add("GET", "/v1/support/tickets", A, list_tickets)
        .add("POST", "/v1/support/tickets", A, open_ticket)
        .add("GET", "/v1/support/tickets/{ticket_id}", A, show_ticket)
        .add("POST", "/v1/support/tickets/{ticket_id}/comments", A, comment_ticket)
        .add("POST", "/v1/support/tickets/{ticket_id}/actions", A, act_on_ticket)
        .add("GET", "/v1/support/invitations", A, list_invitations)
        .add("POST", "/v1/support/invitations", A, invite_engineer)
        .add("DELETE", "/v1/support/invitations/{invitation_id}", A, revoke_invitation)
        .add("GET", "/v1/support/notices", A, list_notices)
        .add("POST", "/v1/support/notices", A, publish_notice)
}

/// The account an operator names (`?domain_id=`).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AccountQuery {
    pub domain_id: Option<String>,
}

fn objective(o: &Option<Objective>) -> Value {
    match o {
        Some(o) => json!({"minutes": o.minutes, "hours": match o.hours {
            nimbus_control::support::calendar::Hours::Working => "working_hours",
            nimbus_control::support::calendar::Hours::AllDay => "24x7",
        }}),
        None => Value::Null,
    }
}

fn plan_view(p: &Plan) -> Value {
    json!({
        "name": p.name, "title": p.title, "rank": p.rank, "email": p.email, "phone": p.phone,
        "support_location": if p.europe { "Europe" } else { "International" },
        "named_contacts": p.contacts, "minimum_months": p.minimum_months,
        "response_objectives": {"P1": objective(&p.response[0]), "P2": objective(&p.response[1]),
            "P3": objective(&p.response[2]), "P4": objective(&p.response[3])},
        "fault_repair_objectives": {"P1": objective(&p.repair[0]), "P2": objective(&p.repair[1]),
            "P3": objective(&p.repair[2]), "P4": objective(&p.repair[3])},
    })
}

fn subscription_view(v: &SubscriptionView) -> Value {
    json!({
        "domain_id": v.domain_id, "plan": v.plan.name, "since": iso_time(v.since),
        "minimum_until": (v.minimum_until > 0).then(|| iso_time(v.minimum_until)),
        "pending": v.pending.map(|(p, at)| json!({"plan": p.name, "effective_from": iso_time(at)})),
        "history": v.history.iter().map(|s| json!({"plan": s.plan, "effective_from": iso_time(s.effective_from),
            "minimum_until": iso_time(s.minimum_until), "requested_by": s.requested_by})).collect::<Vec<_>>(),
    })
}

fn contact_view(c: &Contact) -> Value {
    json!({
        "id": c.id, "user_id": c.user_id, "last_name": c.last_name, "first_name": c.first_name,
        "position": c.position, "email": c.email, "phone": c.phone, "availability": c.availability,
        "created_at": iso_time(c.created_at),
    })
}

fn ticket_view(v: &TicketView) -> Value {
    let t = &v.ticket;
    let report: Value = serde_json::from_str(&t.report).unwrap_or(json!({}));
    json!({
        "id": t.id, "number": t.number, "domain_id": t.domain_id, "project_id": t.project_id,
        "opened_by": t.opened_by, "contact_id": t.contact_id, "plan": t.plan, "category": t.category,
        "request_type": t.request_type, "request": serde_json::from_str::<Value>(&t.request_payload).unwrap_or(json!({})),
        "perceived_criticality": t.perceived_criticality, "priority": format!("P{}", t.priority),
        "priority_set_by_provider": t.priority_set_by_provider, "status": t.status, "subject": t.subject,
        "report": report, "opened_at": iso_time(t.opened_at), "responded_at": t.responded_at.map(iso_time),
        "resolved_at": t.resolved_at.map(iso_time), "closed_at": t.closed_at.map(iso_time),
        "closed_reason": t.closed_reason,
        "clocks": {
            "response_due": v.response_due.map(iso_time), "response_breached": v.response_breached,
            "repair_due": v.repair_due.map(iso_time), "repair_breached": v.repair_breached,
            "request_due": v.request_due.map(iso_time), "auto_close_at": v.auto_close_at.map(iso_time),
        },
        "timeline": v.events.iter().map(|e| json!({"at": iso_time(e.at), "actor": e.actor, "side": e.side,
            "kind": e.kind, "text": e.text})).collect::<Vec<_>>(),
    })
}

fn invitation_view(i: &Invitation) -> Value {
    json!({
        "id": i.id, "domain_id": i.domain_id, "project_id": i.project_id, "engineer_id": i.engineer_id,
        "invited_by": i.invited_by, "ticket_id": i.ticket_id, "created_at": iso_time(i.created_at),
        "expires_at": iso_time(i.expires_at), "ended_at": i.ended_at.map(iso_time),
        "status": if i.ended_at.is_some() { "ended" } else { "active" },
    })
}

fn notice_view(n: &Notice) -> Value {
    json!({
        "id": n.id, "kind": n.kind, "title": n.title, "description": n.description,
        "services": serde_json::from_str::<Value>(&n.services).unwrap_or(json!([])),
        "starts_at": iso_time(n.starts_at), "interruption_minutes": n.interruption_minutes,
        "published_at": iso_time(n.published_at),
    })
}

pub(super) fn object(raw: &[u8]) -> Result<Map<String, Value>, Error> {
    match parse_json::<Value>(raw)? {
        Value::Object(m) => Ok(m),
        _ => Err(Error::bad_request("The body must be a JSON object.")),
    }
}

fn str_of(m: &Map<String, Value>, k: &str) -> Result<Option<String>, Error> {
    super::evs::str_of(m, k)
}

/// The support plans and their objectives.
#[utoipa::path(get, path = "/v1/support/plans", tag = "Support", responses((status = 200, body = super::NetDoc)))]
pub async fn list_plans(Auth(_ctx): Auth) -> ApiResult {
    Ok(Json(json!({"plans": PLANS.iter().map(plan_view).collect::<Vec<_>>()})).into_response())
}

/// The account's plan, the change ordered, and the history.
#[utoipa::path(get, path = "/v1/support/subscription", tag = "Support", params(AccountQuery),
    responses((status = 200, body = super::NetDoc)))]
pub async fn show_subscription(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Query<AccountQuery>) -> ApiResult {
    let v = s.control.support_subscription(&ctx, q.domain_id.as_deref()).await?;
    Ok(Json(json!({"subscription": subscription_view(&v)})).into_response())
}

/// Orders a plan change (`{"plan": "business"}`), in force on the first day of next month.
#[utoipa::path(put, path = "/v1/support/subscription", tag = "Support", params(AccountQuery),
    request_body = super::NetDoc,
    responses((status = 200, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn change_subscription(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Query<AccountQuery>,
    raw: Bytes,
) -> ApiResult {
    let m = object(&raw)?;
    let plan = str_of(&m, "plan")?.ok_or_else(|| Error::bad_request("'plan' is required."))?;
    let v = s.control.change_support_plan(&ctx, q.domain_id.as_deref(), &plan).await?;
    Ok(Json(json!({"subscription": subscription_view(&v)})).into_response())
}

/// The account's named contacts.
#[utoipa::path(get, path = "/v1/support/contacts", tag = "Support", params(AccountQuery),
    responses((status = 200, body = super::NetDoc)))]
pub async fn list_contacts(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Query<AccountQuery>) -> ApiResult {
    let list = s.control.support_contacts(&ctx, q.domain_id.as_deref()).await?;
    Ok(Json(json!({"contacts": list.iter().map(contact_view).collect::<Vec<_>>()})).into_response())
}

/// Designates a named contact (as many as the plan allows).
#[utoipa::path(post, path = "/v1/support/contacts", tag = "Support", params(AccountQuery),
    request_body = super::NetDoc,
    responses((status = 201, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn add_contact(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Query<AccountQuery>,
    raw: Bytes,
) -> ApiResult {
    let m = object(&raw)?;
    let f = |k: &str| -> Result<String, Error> { Ok(str_of(&m, k)?.unwrap_or_default()) };
    let req = ContactCreate {
        user_id: f("user_id")?,
        last_name: f("last_name")?,
        first_name: f("first_name")?,
        position: f("position")?,
        email: f("email")?,
        phone: f("phone")?,
        availability: f("availability")?,
    };
    let c = s.control.add_support_contact(&ctx, q.domain_id.as_deref(), req).await?;
    Ok((StatusCode::CREATED, Json(json!({"contact": contact_view(&c)}))).into_response())
}

/// Removes a named contact.
#[utoipa::path(delete, path = "/v1/support/contacts/{contact_id}", tag = "Support",
    params(("contact_id" = String, Path), AccountQuery),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn remove_contact(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    Query(q): Query<AccountQuery>,
) -> ApiResult {
    s.control.remove_support_contact(&ctx, q.domain_id.as_deref(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The account's tickets (every account's for the provider).
#[utoipa::path(get, path = "/v1/support/tickets", tag = "Support", params(AccountQuery),
    responses((status = 200, body = super::NetDoc)))]
pub async fn list_tickets(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Query<AccountQuery>) -> ApiResult {
    let list = s.control.list_tickets(&ctx, q.domain_id.as_deref()).await?;
    Ok(Json(json!({"tickets": list.iter().map(ticket_view).collect::<Vec<_>>()})).into_response())
}

/// Opens a ticket (named contacts only): the reporting model's fields in `report`.
#[utoipa::path(post, path = "/v1/support/tickets", tag = "Support", request_body = super::NetDoc,
    responses((status = 201, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn open_ticket(State(s): State<AppState>, Auth(ctx): Auth, raw: Bytes) -> ApiResult {
    let m = object(&raw)?;
    let required = |k: &str| -> Result<String, Error> {
        str_of(&m, k)?.filter(|v| !v.is_empty()).ok_or_else(|| {
            Error::bad_request(format!("Missing mandatory field '{k}': the ticket reporting model requires it."))
        })
    };
    let resource_ids = match m.get("resource_ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| Error::bad_request("'resource_ids' holds strings.")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(Error::bad_request("'resource_ids' must be a list.").into()),
    };
    let attachments = match m.get("attachments") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                let name = v["name"].as_str().ok_or_else(|| Error::bad_request("Each attachment needs a 'name'."))?;
                let content =
                    v["content"].as_str().ok_or_else(|| Error::bad_request("Each attachment needs its 'content'."))?;
                if content.len() > 1 << 20 {
                    return Err(Error::bad_request("An attachment is at most 1 MiB of text."));
                }
                Ok((name.to_string(), content.to_string()))
            })
            .collect::<Result<Vec<_>, Error>>()?,
        Some(_) => return Err(Error::bad_request("'attachments' must be a list.").into()),
    };
    let req = TicketCreate {
        project_id: required("project_id")?,
        category: required("category")?,
        perceived_criticality: required("perceived_criticality")?,
        subject: required("subject")?,
        resource_ids,
        fields: m.get("report").and_then(Value::as_object).cloned().unwrap_or_default(),
        request_type: str_of(&m, "request_type")?,
        request: m.get("request").and_then(Value::as_object).cloned().unwrap_or_default(),
        attachments,
    };
    let v = s.control.open_ticket(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(json!({"ticket": ticket_view(&v)}))).into_response())
}

/// A ticket with its clocks and timeline.
#[utoipa::path(get, path = "/v1/support/tickets/{ticket_id}", tag = "Support",
    params(("ticket_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_ticket(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let v = s.control.get_ticket(&ctx, &id).await?;
    Ok(Json(json!({"ticket": ticket_view(&v)})).into_response())
}

/// Adds a comment (`{"text": ...}`).
#[utoipa::path(post, path = "/v1/support/tickets/{ticket_id}/comments", tag = "Support",
    params(("ticket_id" = String, Path)), request_body = super::NetDoc,
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn comment_ticket(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let m = object(&raw)?;
    let text = str_of(&m, "text")?.unwrap_or_default();
    let v = s.control.comment_ticket(&ctx, &id, &text).await?;
    Ok(Json(json!({"ticket": ticket_view(&v)})).into_response())
}

/// Acts on a ticket: `{"action": "take"|"set_priority"|"decide_priority"|"hold"|"resume"|
/// "resolve"|"approve"|"reject"|"out_of_scope"|"confirm"|"reopen", "priority": "P2",
/// "reason"/"resolution"/"note": ..., "hold": true}`.
#[utoipa::path(post, path = "/v1/support/tickets/{ticket_id}/actions", tag = "Support",
    params(("ticket_id" = String, Path)), request_body = super::NetDoc,
    responses((status = 200, body = super::NetDoc), (status = 409, body = super::ErrorBody)))]
pub async fn act_on_ticket(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let m = object(&raw)?;
    let priority = |required: bool| -> Result<Option<u8>, Error> {
        match str_of(&m, "priority")? {
            Some(p) => p
                .trim_start_matches(['P', 'p'])
                .parse::<u8>()
                .map(Some)
                .map_err(|_| Error::bad_request(format!("Invalid priority {p:?}: P1 to P4."))),
            None if required => Err(Error::bad_request("'priority' is required (P1 to P4).")),
            None => Ok(None),
        }
    };
    let words = |k: &str| -> Result<String, Error> {
        str_of(&m, k)?
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| Error::bad_request(format!("'{k}' is required for this action.")))
    };
    let action = match str_of(&m, "action")?.as_deref() {
        Some("take") => TicketAction::Take { priority: priority(false)? },
        Some("set_priority") => TicketAction::SetPriority {
            priority: priority(true)?.unwrap_or(3),
            reason: words("reason")?,
            hold: m.get("hold").and_then(Value::as_bool).unwrap_or(false),
        },
        Some("decide_priority") => {
            TicketAction::Decide { priority: priority(true)?.unwrap_or(3), reason: words("reason")? }
        }
        Some("hold") => TicketAction::Hold { reason: words("reason")? },
        Some("resume") => TicketAction::Resume,
        Some("resolve") => TicketAction::Resolve { resolution: words("resolution")? },
        Some("approve") => TicketAction::Approve { note: str_of(&m, "note")?.unwrap_or_default() },
        Some("reject") => TicketAction::Reject { reason: words("reason")? },
        Some("out_of_scope") => TicketAction::OutOfScope { reason: words("reason")? },
        Some("confirm") => TicketAction::Confirm,
        Some("reopen") => TicketAction::Reopen { reason: words("reason")? },
        Some(other) => return Err(Error::bad_request(format!("Unknown ticket action {other:?}.")).into()),
        None => return Err(Error::bad_request("'action' is required.").into()),
    };
    let v = s.control.act_on_ticket(&ctx, &id, action).await?;
    Ok(Json(json!({"ticket": ticket_view(&v)})).into_response())
}

/// The account's engineer invitations (every account's for the provider).
#[utoipa::path(get, path = "/v1/support/invitations", tag = "Support", responses((status = 200, body = super::NetDoc)))]
pub async fn list_invitations(State(s): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    let list = s.control.list_invitations(&ctx).await?;
    Ok(Json(json!({"invitations": list.iter().map(invitation_view).collect::<Vec<_>>()})).into_response())
}

/// Invites a provider support engineer into a tenant with the customer's rights:
/// `{"project_id", "engineer_id", "hours": 1..720, "ticket_id"?}`.
#[utoipa::path(post, path = "/v1/support/invitations", tag = "Support", request_body = super::NetDoc,
    responses((status = 201, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn invite_engineer(State(s): State<AppState>, Auth(ctx): Auth, raw: Bytes) -> ApiResult {
    let m = object(&raw)?;
    let required = |k: &str| -> Result<String, Error> {
        str_of(&m, k)?.filter(|v| !v.is_empty()).ok_or_else(|| Error::bad_request(format!("'{k}' is required.")))
    };
    let hours = match m.get("hours") {
        None | Some(Value::Null) => 24,
        Some(v) => v.as_i64().ok_or_else(|| Error::bad_request("'hours' is a whole number of hours."))?,
    };
    let inv = s
        .control
        .invite_engineer(&ctx, &required("project_id")?, &required("engineer_id")?, hours, str_of(&m, "ticket_id")?)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"invitation": invitation_view(&inv)}))).into_response())
}

/// Ends an invitation: the engineer loses the access it gave at once.
#[utoipa::path(delete, path = "/v1/support/invitations/{invitation_id}", tag = "Support",
    params(("invitation_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn revoke_invitation(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.revoke_invitation(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The provider's change notices.
#[utoipa::path(get, path = "/v1/support/notices", tag = "Support", responses((status = 200, body = super::NetDoc)))]
pub async fn list_notices(State(s): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    let list = s.control.list_notices(&ctx).await?;
    Ok(Json(json!({"notices": list.iter().map(notice_view).collect::<Vec<_>>()})).into_response())
}

/// Publishes a change notice (operators): `{"kind", "title", "description", "services": [...],
/// "starts_at": RFC 3339, "interruption_minutes"}`, refused when it comes later than its notice
/// period allows.
#[utoipa::path(post, path = "/v1/support/notices", tag = "Support", request_body = super::NetDoc,
    responses((status = 201, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn publish_notice(State(s): State<AppState>, Auth(ctx): Auth, raw: Bytes) -> ApiResult {
    let m = object(&raw)?;
    let starts = str_of(&m, "starts_at")?.ok_or_else(|| Error::bad_request("'starts_at' is required."))?;
    let starts_at = chrono::DateTime::parse_from_rfc3339(&starts)
        .map_err(|_| Error::bad_request(format!("Invalid 'starts_at' {starts:?}: an RFC 3339 time.")))?
        .timestamp_millis();
    let services = match m.get("services") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| Error::bad_request("'services' holds strings.")))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(Error::bad_request("'services' is a list of service names.").into()),
    };
    let interruption_minutes = match m.get("interruption_minutes") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_i64().ok_or_else(|| Error::bad_request("'interruption_minutes' is a whole number."))?,
    };
    let req = NoticeCreate {
        kind: str_of(&m, "kind")?.unwrap_or_default(),
        title: str_of(&m, "title")?.unwrap_or_default(),
        description: str_of(&m, "description")?.unwrap_or_default(),
        services,
        starts_at,
        interruption_minutes,
    };
    let n = s.control.publish_notice(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(json!({"notice": notice_view(&n)}))).into_response())
}
