//! Billing repositories: what rating reads (usage events and object-storage request counters
//! of an account's projects, kept after the projects go), accounts' primary regions, issued
//! invoices, budgets and their alerts, reserved instances, and price revisions announced.
//! Amounts are decimal strings: both stores keep them exactly.

use crate::db_error;
use crate::objects::RequestCount;
use crate::servers::UsageEvent;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A project as billing knows it (kept after the project is deleted).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProjectAccount {
    pub project_id: String,
    pub domain_id: String,
    pub name: String,
}

/// The projects that ever billed to an account.
pub async fn account_projects(c: &mut AnyConnection, domain_id: &str) -> Result<Vec<ProjectAccount>, Error> {
    sqlx::query_as("SELECT * FROM project_accounts WHERE domain_id = $1 ORDER BY project_id")
        .bind(domain_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// The account a project bills to.
pub async fn project_account(c: &mut AnyConnection, project_id: &str) -> Result<Option<ProjectAccount>, Error> {
    sqlx::query_as("SELECT * FROM project_accounts WHERE project_id = $1")
        .bind(project_id)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

/// The usage events of an account's projects before `until` (the whole history: a resource's
/// state when a month starts comes from its earlier events).
pub async fn account_usage_events(
    c: &mut AnyConnection,
    domain_id: &str,
    until: i64,
) -> Result<Vec<UsageEvent>, Error> {
    sqlx::query_as(
        "SELECT u.* FROM usage_events u JOIN project_accounts p ON p.project_id = u.project_id \
         WHERE p.domain_id = $1 AND u.at < $2 ORDER BY u.resource_type, u.resource_id, u.at",
    )
    .bind(domain_id)
    .bind(until)
    .fetch_all(c)
    .await
    .map_err(db_error)
}

/// The object-storage request counters of an account's projects for hours in [from, to).
pub async fn account_requests(
    c: &mut AnyConnection,
    domain_id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<RequestCount>, Error> {
    sqlx::query_as(
        "SELECT r.* FROM obs_requests r JOIN project_accounts p ON p.project_id = r.project_id \
         WHERE p.domain_id = $1 AND r.hour >= $2 AND r.hour < $3 ORDER BY r.project_id, r.bucket, r.hour",
    )
    .bind(domain_id)
    .bind(from)
    .bind(to)
    .fetch_all(c)
    .await
    .map_err(db_error)
}

/// The accounts with usage before `until`, reserved instances, or a support plan: those
/// that may have something to invoice.
pub async fn billable_accounts(c: &mut AnyConnection, until: i64) -> Result<Vec<String>, Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT p.domain_id FROM usage_events u JOIN project_accounts p ON p.project_id = u.project_id \
         WHERE u.at < $1 \
         UNION SELECT domain_id FROM reserved_instances WHERE subscribed_at < $1 \
         UNION SELECT domain_id FROM support_subscriptions WHERE effective_from < $1 \
         ORDER BY 1",
    )
    .bind(until)
    .fetch_all(c)
    .await
    .map_err(db_error)
}

/// The first instant an account had anything billable (usage, a reservation or a plan).
pub async fn account_first_activity(c: &mut AnyConnection, domain_id: &str) -> Result<Option<i64>, Error> {
    let row: (Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT \
           (SELECT MIN(u.at) FROM usage_events u JOIN project_accounts p ON p.project_id = u.project_id \
            WHERE p.domain_id = $1), \
           (SELECT MIN(subscribed_at) FROM reserved_instances WHERE domain_id = $1), \
           (SELECT MIN(effective_from) FROM support_subscriptions WHERE domain_id = $1)",
    )
    .bind(domain_id)
    .fetch_one(c)
    .await
    .map_err(db_error)?;
    Ok([row.0, row.1, row.2].into_iter().flatten().min())
}

// ---- accounts ----

pub async fn primary_region(c: &mut AnyConnection, domain_id: &str) -> Result<Option<String>, Error> {
    sqlx::query_scalar("SELECT primary_region FROM billing_accounts WHERE domain_id = $1")
        .bind(domain_id)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

pub async fn set_primary_region(c: &mut AnyConnection, domain_id: &str, region: &str, at: i64) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO billing_accounts (domain_id, primary_region, updated_at) VALUES ($1,$2,$3) \
         ON CONFLICT (domain_id) DO UPDATE SET primary_region = $2, updated_at = $3",
    )
    .bind(domain_id)
    .bind(region)
    .bind(at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

// ---- invoices ----

/// An issued invoice.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Invoice {
    pub id: String,
    pub domain_id: String,
    pub month: String,
    pub total: String,
    pub currency: String,
    pub body: String,
    pub issued_at: i64,
}

/// Stores an invoice unless the month's is already issued; whether it was stored.
pub async fn insert_invoice(c: &mut AnyConnection, i: &Invoice) -> Result<bool, Error> {
    let r = sqlx::query(
        "INSERT INTO invoices (id, domain_id, month, total, currency, body, issued_at) VALUES ($1,$2,$3,$4,$5,$6,$7) \
         ON CONFLICT (domain_id, month) DO NOTHING",
    )
    .bind(&i.id)
    .bind(&i.domain_id)
    .bind(&i.month)
    .bind(&i.total)
    .bind(&i.currency)
    .bind(&i.body)
    .bind(i.issued_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

pub async fn get_invoice(c: &mut AnyConnection, domain_id: &str, month: &str) -> Result<Option<Invoice>, Error> {
    sqlx::query_as("SELECT * FROM invoices WHERE domain_id = $1 AND month = $2")
        .bind(domain_id)
        .bind(month)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

/// An account's invoices, newest month first.
pub async fn list_invoices(c: &mut AnyConnection, domain_id: &str) -> Result<Vec<Invoice>, Error> {
    sqlx::query_as("SELECT * FROM invoices WHERE domain_id = $1 ORDER BY month DESC")
        .bind(domain_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

// ---- budgets ----

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Budget {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub amount: String,
    /// JSON list of percentages.
    pub thresholds: String,
    pub notify_url: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

pub async fn insert_budget(c: &mut AnyConnection, b: &Budget) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO budgets (id, domain_id, name, amount, thresholds, notify_url, created_by, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(&b.id)
    .bind(&b.domain_id)
    .bind(&b.name)
    .bind(&b.amount)
    .bind(&b.thresholds)
    .bind(&b.notify_url)
    .bind(&b.created_by)
    .bind(b.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn delete_budget(c: &mut AnyConnection, id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM budget_alerts WHERE budget_id = $1").bind(id).execute(&mut *c).await.map_err(db_error)?;
    sqlx::query("DELETE FROM budgets WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(())
}

/// Budgets, of one account or of all.
pub async fn list_budgets(c: &mut AnyConnection, domain_id: Option<&str>) -> Result<Vec<Budget>, Error> {
    match domain_id {
        Some(d) => {
            sqlx::query_as("SELECT * FROM budgets WHERE domain_id = $1 ORDER BY name").bind(d).fetch_all(c).await
        }
        None => sqlx::query_as("SELECT * FROM budgets ORDER BY domain_id, name").fetch_all(c).await,
    }
    .map_err(db_error)
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BudgetAlert {
    pub id: String,
    pub budget_id: String,
    pub domain_id: String,
    pub month: String,
    pub threshold: i64,
    pub spent: String,
    pub at: i64,
    #[sqlx(try_from = "crate::IntBool")]
    pub delivered: bool,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// Records an alert unless that threshold already alerted this month; whether it is new.
pub async fn insert_alert(c: &mut AnyConnection, a: &BudgetAlert) -> Result<bool, Error> {
    let r = sqlx::query(
        "INSERT INTO budget_alerts (id, budget_id, domain_id, month, threshold, spent, at, delivered, attempts, \
         last_error) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (budget_id, month, threshold) DO NOTHING",
    )
    .bind(&a.id)
    .bind(&a.budget_id)
    .bind(&a.domain_id)
    .bind(&a.month)
    .bind(a.threshold)
    .bind(&a.spent)
    .bind(a.at)
    .bind(a.delivered as i64)
    .bind(a.attempts)
    .bind(&a.last_error)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Notes a delivery attempt.
pub async fn alert_attempted(c: &mut AnyConnection, id: &str, error: Option<&str>) -> Result<(), Error> {
    sqlx::query("UPDATE budget_alerts SET attempts = attempts + 1, delivered = $2, last_error = $3 WHERE id = $1")
        .bind(id)
        .bind(error.is_none() as i64)
        .bind(error)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Alerts, of one account or of all, newest first.
pub async fn list_alerts(c: &mut AnyConnection, domain_id: Option<&str>) -> Result<Vec<BudgetAlert>, Error> {
    match domain_id {
        Some(d) => {
            sqlx::query_as("SELECT * FROM budget_alerts WHERE domain_id = $1 ORDER BY at DESC, threshold DESC")
                .bind(d)
                .fetch_all(c)
                .await
        }
        None => sqlx::query_as("SELECT * FROM budget_alerts ORDER BY at DESC, threshold DESC").fetch_all(c).await,
    }
    .map_err(db_error)
}

// ---- reserved instances ----

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Reservation {
    pub id: String,
    pub domain_id: String,
    pub region: String,
    pub flavor: String,
    pub term_years: i64,
    pub payment: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub flexible: bool,
    pub monthly_amount: String,
    pub upfront_amount: String,
    pub subscribed_at: i64,
    pub effective_from: i64,
    pub ends_at: i64,
    pub cancelled_at: Option<i64>,
    pub cancellation_fee: Option<String>,
    pub modifications: String,
    pub subscribed_by: String,
}

pub async fn insert_reservation(c: &mut AnyConnection, r: &Reservation) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO reserved_instances (id, domain_id, region, flavor, term_years, payment, flexible, \
         monthly_amount, upfront_amount, subscribed_at, effective_from, ends_at, cancelled_at, cancellation_fee, \
         modifications, subscribed_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)",
    )
    .bind(&r.id)
    .bind(&r.domain_id)
    .bind(&r.region)
    .bind(&r.flavor)
    .bind(r.term_years)
    .bind(&r.payment)
    .bind(r.flexible as i64)
    .bind(&r.monthly_amount)
    .bind(&r.upfront_amount)
    .bind(r.subscribed_at)
    .bind(r.effective_from)
    .bind(r.ends_at)
    .bind(r.cancelled_at)
    .bind(&r.cancellation_fee)
    .bind(&r.modifications)
    .bind(&r.subscribed_by)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Saves a reservation's changes (a cancellation, a modification).
pub async fn update_reservation(c: &mut AnyConnection, r: &Reservation) -> Result<(), Error> {
    sqlx::query(
        "UPDATE reserved_instances SET cancelled_at = $2, cancellation_fee = $3, modifications = $4 WHERE id = $1",
    )
    .bind(&r.id)
    .bind(r.cancelled_at)
    .bind(&r.cancellation_fee)
    .bind(&r.modifications)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_reservation(c: &mut AnyConnection, id: &str) -> Result<Option<Reservation>, Error> {
    sqlx::query_as("SELECT * FROM reserved_instances WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

/// Reservations, of one account or of all, oldest first.
pub async fn list_reservations(c: &mut AnyConnection, domain_id: Option<&str>) -> Result<Vec<Reservation>, Error> {
    match domain_id {
        Some(d) => {
            sqlx::query_as("SELECT * FROM reserved_instances WHERE domain_id = $1 ORDER BY subscribed_at, id")
                .bind(d)
                .fetch_all(c)
                .await
        }
        None => sqlx::query_as("SELECT * FROM reserved_instances ORDER BY subscribed_at, id").fetch_all(c).await,
    }
    .map_err(db_error)
}

// ---- price announcements ----

/// When each price revision was announced.
pub async fn price_announcements(c: &mut AnyConnection) -> Result<Vec<(String, i64)>, Error> {
    sqlx::query_as("SELECT revision, announced_at FROM price_announcements ORDER BY revision")
        .fetch_all(c)
        .await
        .map_err(db_error)
}

pub async fn insert_price_announcement(
    c: &mut AnyConnection,
    revision: &str,
    notice_id: Option<&str>,
    at: i64,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO price_announcements (revision, notice_id, announced_at) VALUES ($1,$2,$3) \
         ON CONFLICT (revision) DO NOTHING",
    )
    .bind(revision)
    .bind(notice_id)
    .bind(at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Flavors and whether each includes a local disk (an ephemeral disk).
pub async fn flavor_local_disks(c: &mut AnyConnection) -> Result<Vec<(String, bool)>, Error> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT id, ephemeral_gb FROM flavors").fetch_all(c).await.map_err(db_error)?;
    Ok(rows.into_iter().map(|(id, e)| (id, e > 0)).collect())
}
