//! Support repositories: plan subscriptions, named contacts, tickets and their timelines.

use crate::db_error;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A plan subscription of an account: the plan applies from `effective_from`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Subscription {
    pub id: String,
    pub domain_id: String,
    pub plan: String,
    pub effective_from: i64,
    pub minimum_until: i64,
    pub requested_by: String,
    pub created_at: i64,
}

pub async fn insert_subscription(c: &mut AnyConnection, s: &Subscription) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO support_subscriptions (id, domain_id, plan, effective_from, minimum_until, requested_by, \
         created_at) VALUES ($1,$2,$3,$4,$5,$6,$7)",
    )
    .bind(&s.id)
    .bind(&s.domain_id)
    .bind(&s.plan)
    .bind(s.effective_from)
    .bind(s.minimum_until)
    .bind(&s.requested_by)
    .bind(s.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// An account's subscriptions, oldest effective first.
pub async fn domain_subscriptions(c: &mut AnyConnection, domain_id: &str) -> Result<Vec<Subscription>, Error> {
    sqlx::query_as("SELECT * FROM support_subscriptions WHERE domain_id = $1 ORDER BY effective_from, created_at")
        .bind(domain_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Removes a subscription not yet in force (replaced by another change).
pub async fn delete_subscription(c: &mut AnyConnection, id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM support_subscriptions WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(())
}

/// A named contact of an account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Contact {
    pub id: String,
    pub domain_id: String,
    pub user_id: String,
    pub last_name: String,
    pub first_name: String,
    pub position: String,
    pub email: String,
    pub phone: String,
    pub availability: String,
    pub created_at: i64,
}

/// Records a contact; `Conflict` when the user already is one.
pub async fn insert_contact(c: &mut AnyConnection, x: &Contact) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO support_contacts (id, domain_id, user_id, last_name, first_name, position, email, phone, \
         availability, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&x.id)
    .bind(&x.domain_id)
    .bind(&x.user_id)
    .bind(&x.last_name)
    .bind(&x.first_name)
    .bind(&x.position)
    .bind(&x.email)
    .bind(&x.phone)
    .bind(&x.availability)
    .bind(x.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_contact(c: &mut AnyConnection, id: &str) -> Result<Option<Contact>, Error> {
    sqlx::query_as("SELECT * FROM support_contacts WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn delete_contact(c: &mut AnyConnection, id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM support_contacts WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(())
}

/// An account's contacts, oldest first.
pub async fn domain_contacts(c: &mut AnyConnection, domain_id: &str) -> Result<Vec<Contact>, Error> {
    sqlx::query_as("SELECT * FROM support_contacts WHERE domain_id = $1 ORDER BY created_at, id")
        .bind(domain_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// A support ticket.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Ticket {
    pub id: String,
    pub number: i64,
    pub domain_id: String,
    pub project_id: String,
    pub opened_by: String,
    pub contact_id: String,
    pub plan: String,
    pub category: String,
    pub request_type: Option<String>,
    pub request_payload: String,
    pub perceived_criticality: String,
    pub priority: i64,
    #[sqlx(try_from = "crate::IntBool")]
    pub priority_set_by_provider: bool,
    pub status: String,
    pub subject: String,
    pub report: String,
    pub opened_at: i64,
    pub responded_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub closed_reason: Option<String>,
    pub held_ms: i64,
    pub held_since: Option<i64>,
    pub updated_at: i64,
}

/// The next ticket number.
pub async fn next_ticket_number(c: &mut AnyConnection) -> Result<i64, Error> {
    let max: Option<i64> =
        sqlx::query_scalar("SELECT MAX(number) FROM support_tickets").fetch_one(c).await.map_err(db_error)?;
    Ok(max.unwrap_or(100_000) + 1)
}

pub async fn insert_ticket(c: &mut AnyConnection, t: &Ticket) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO support_tickets (id, number, domain_id, project_id, opened_by, contact_id, plan, category, \
         request_type, request_payload, perceived_criticality, priority, priority_set_by_provider, status, subject, \
         report, opened_at, responded_at, resolved_at, closed_at, closed_reason, held_ms, held_since, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)",
    )
    .bind(&t.id)
    .bind(t.number)
    .bind(&t.domain_id)
    .bind(&t.project_id)
    .bind(&t.opened_by)
    .bind(&t.contact_id)
    .bind(&t.plan)
    .bind(&t.category)
    .bind(&t.request_type)
    .bind(&t.request_payload)
    .bind(&t.perceived_criticality)
    .bind(t.priority)
    .bind(t.priority_set_by_provider as i64)
    .bind(&t.status)
    .bind(&t.subject)
    .bind(&t.report)
    .bind(t.opened_at)
    .bind(t.responded_at)
    .bind(t.resolved_at)
    .bind(t.closed_at)
    .bind(&t.closed_reason)
    .bind(t.held_ms)
    .bind(t.held_since)
    .bind(t.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes a ticket's changeable state (priority, status, clocks).
pub async fn update_ticket(c: &mut AnyConnection, t: &Ticket) -> Result<(), Error> {
    sqlx::query(
        "UPDATE support_tickets SET priority=$2, priority_set_by_provider=$3, status=$4, responded_at=$5, \
         resolved_at=$6, closed_at=$7, closed_reason=$8, held_ms=$9, held_since=$10, updated_at=$11 WHERE id=$1",
    )
    .bind(&t.id)
    .bind(t.priority)
    .bind(t.priority_set_by_provider as i64)
    .bind(&t.status)
    .bind(t.responded_at)
    .bind(t.resolved_at)
    .bind(t.closed_at)
    .bind(&t.closed_reason)
    .bind(t.held_ms)
    .bind(t.held_since)
    .bind(t.updated_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_ticket(c: &mut AnyConnection, id: &str) -> Result<Option<Ticket>, Error> {
    sqlx::query_as("SELECT * FROM support_tickets WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

/// Every ticket, newest first (the API filters by what the caller may see).
pub async fn list_tickets(c: &mut AnyConnection) -> Result<Vec<Ticket>, Error> {
    sqlx::query_as("SELECT * FROM support_tickets ORDER BY opened_at DESC, id").fetch_all(c).await.map_err(db_error)
}

/// The tickets resolved and not closed (the auto-close candidates).
pub async fn resolved_tickets(c: &mut AnyConnection) -> Result<Vec<Ticket>, Error> {
    sqlx::query_as("SELECT * FROM support_tickets WHERE status = 'resolved' ORDER BY resolved_at, id")
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// An entry of a ticket's timeline.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TicketEvent {
    pub id: String,
    pub ticket_id: String,
    pub at: i64,
    pub actor: String,
    pub side: String,
    pub kind: String,
    pub text: String,
}

pub async fn insert_event(c: &mut AnyConnection, e: &TicketEvent) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO support_ticket_events (id, ticket_id, at, actor, side, kind, text) VALUES ($1,$2,$3,$4,$5,$6,$7)",
    )
    .bind(&e.id)
    .bind(&e.ticket_id)
    .bind(e.at)
    .bind(&e.actor)
    .bind(&e.side)
    .bind(&e.kind)
    .bind(&e.text)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// A ticket's timeline, oldest first.
pub async fn ticket_events(c: &mut AnyConnection, ticket_id: &str) -> Result<Vec<TicketEvent>, Error> {
    sqlx::query_as("SELECT * FROM support_ticket_events WHERE ticket_id = $1 ORDER BY at, id")
        .bind(ticket_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// A support engineer's visit of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Invitation {
    pub id: String,
    pub domain_id: String,
    pub project_id: String,
    pub engineer_id: String,
    pub role_id: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub granted: bool,
    pub invited_by: String,
    pub ticket_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
}

pub async fn insert_invitation(c: &mut AnyConnection, i: &Invitation) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO support_invitations (id, domain_id, project_id, engineer_id, role_id, granted, invited_by, \
         ticket_id, created_at, expires_at, ended_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
    )
    .bind(&i.id)
    .bind(&i.domain_id)
    .bind(&i.project_id)
    .bind(&i.engineer_id)
    .bind(&i.role_id)
    .bind(i.granted as i64)
    .bind(&i.invited_by)
    .bind(&i.ticket_id)
    .bind(i.created_at)
    .bind(i.expires_at)
    .bind(i.ended_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Marks an invitation ended.
pub async fn end_invitation(c: &mut AnyConnection, id: &str, at: i64) -> Result<(), Error> {
    sqlx::query("UPDATE support_invitations SET ended_at = $2 WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Every invitation, newest first.
pub async fn list_invitations(c: &mut AnyConnection) -> Result<Vec<Invitation>, Error> {
    sqlx::query_as("SELECT * FROM support_invitations ORDER BY created_at DESC, id")
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// A change notice.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Notice {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub description: String,
    /// JSON array.
    pub services: String,
    pub starts_at: i64,
    pub interruption_minutes: i64,
    pub published_by: String,
    pub published_at: i64,
}

pub async fn insert_notice(c: &mut AnyConnection, n: &Notice) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO support_notices (id, kind, title, description, services, starts_at, interruption_minutes, \
         published_by, published_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
    )
    .bind(&n.id)
    .bind(&n.kind)
    .bind(&n.title)
    .bind(&n.description)
    .bind(&n.services)
    .bind(n.starts_at)
    .bind(n.interruption_minutes)
    .bind(&n.published_by)
    .bind(n.published_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Every notice, by start.
pub async fn list_notices(c: &mut AnyConnection) -> Result<Vec<Notice>, Error> {
    sqlx::query_as("SELECT * FROM support_notices ORDER BY starts_at, id").fetch_all(c).await.map_err(db_error)
}

/// What a project still holds, by kind (only kinds with something left): an account deletion
/// request waits until all of it is gone.
pub async fn project_holdings(c: &mut AnyConnection, project_id: &str) -> Result<Vec<(&'static str, i64)>, Error> {
    const KINDS: &[(&str, &str)] = &[
        ("servers", "SELECT COUNT(*) FROM servers WHERE project_id = $1"),
        ("volumes", "SELECT COUNT(*) FROM volumes WHERE project_id = $1"),
        ("snapshots", "SELECT COUNT(*) FROM volume_snapshots WHERE project_id = $1"),
        ("backups", "SELECT COUNT(*) FROM backups WHERE project_id = $1"),
        ("backup vaults", "SELECT COUNT(*) FROM cbr_vaults WHERE project_id = $1"),
        ("buckets", "SELECT COUNT(*) FROM buckets WHERE project_id = $1"),
        ("images", "SELECT COUNT(*) FROM images WHERE owner = $1"),
        ("networks", "SELECT COUNT(*) FROM networks WHERE project_id = $1"),
        ("routers", "SELECT COUNT(*) FROM routers WHERE project_id = $1"),
        ("floating IPs", "SELECT COUNT(*) FROM floating_ips WHERE project_id = $1"),
        ("NAT gateways", "SELECT COUNT(*) FROM nat_gateways WHERE project_id = $1"),
        ("DNS zones", "SELECT COUNT(*) FROM dns_zones WHERE project_id = $1"),
    ];
    let mut left = Vec::new();
    for (kind, sql) in KINDS {
        let n: i64 = sqlx::query_scalar(sql).bind(project_id).fetch_one(&mut *c).await.map_err(db_error)?;
        if n > 0 {
            left.push((*kind, n));
        }
    }
    Ok(left)
}
