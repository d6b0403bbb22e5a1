//! The customer space's billing API (native, documented in `/openapi.json`): the price list,
//! the account's primary region, monthly invoices (JSON, or CSV with `?format=csv`), budgets
//! and their alerts, and reserved instances. The account is the caller's; the provider's
//! operators name one with `?domain_id=`.

use super::support::{object, AccountQuery};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::billing::{invoice_csv, BudgetCreate, ReservationCreate, ReservationView};
use nimbus_core::time::iso_time;
use nimbus_core::Error;
use nimbus_store::billing::{Budget, BudgetAlert};
use serde::Deserialize;
use serde_json::{json, Value};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/v1/billing/prices", A, show_prices)
        .add("GET", "/v1/billing/account", A, show_account)
        .add("PUT", "/v1/billing/account", A, update_account)
        .add("GET", "/v1/billing/invoices", A, list_invoices)
        .add("GET", "/v1/billing/invoices/{month}", A, show_invoice)
        .add("GET", "/v1/billing/budgets", A, list_budgets)
        .add("POST", "/v1/billing/budgets", A, create_budget)
        .add("DELETE", "/v1/billing/budgets/{budget_id}", A, delete_budget)
        .add("GET", "/v1/billing/budget-alerts", A, list_alerts)
        .add("GET", "/v1/billing/reserved-instances", A, list_reservations)
        .add("POST", "/v1/billing/reserved-instances", A, subscribe_reservation)
        .add("GET", "/v1/billing/reserved-instances/{reservation_id}", A, show_reservation)
        .add("POST", "/v1/billing/reserved-instances/{reservation_id}/modify", A, modify_reservation)
        .add("POST", "/v1/billing/reserved-instances/{reservation_id}/cancel", A, cancel_reservation)
}

fn str_field(m: &serde_json::Map<String, Value>, k: &str) -> Result<Option<String>, Error> {
    super::evs::str_of(m, k)
}

fn budget_view(b: &Budget) -> Value {
    json!({"id": b.id, "domain_id": b.domain_id, "name": b.name, "amount": b.amount,
        "thresholds": serde_json::from_str::<Value>(&b.thresholds).unwrap_or(json!([])),
        "notify_url": b.notify_url, "created_at": iso_time(b.created_at)})
}

fn alert_view(a: &BudgetAlert) -> Value {
    json!({"id": a.id, "budget_id": a.budget_id, "month": a.month, "threshold_percent": a.threshold,
        "spent": a.spent, "at": iso_time(a.at), "delivered": a.delivered, "attempts": a.attempts,
        "last_error": a.last_error})
}

fn reservation_view(v: &ReservationView) -> Value {
    let r = &v.reservation;
    json!({
        "id": r.id, "domain_id": r.domain_id, "region": r.region, "flavor": r.flavor, "term_years": r.term_years,
        "payment": r.payment, "flexible": r.flexible, "status": v.status, "monthly_amount": r.monthly_amount,
        "upfront_amount": r.upfront_amount, "subscribed_at": iso_time(r.subscribed_at),
        "effective_from": iso_time(r.effective_from), "ends_at": iso_time(r.ends_at),
        "cancelled_at": r.cancelled_at.map(iso_time), "cancellation_fee": r.cancellation_fee,
        "current_flavor": v.flavor_now, "current_monthly_amount": v.monthly_now,
        "modifications": serde_json::from_str::<Value>(&r.modifications).unwrap_or(json!([])),
    })
}

/// The price list: prices in force in this region now, and the revisions.
#[utoipa::path(get, path = "/v1/billing/prices", tag = "Billing", responses((status = 200, body = super::NetDoc)))]
pub async fn show_prices(State(s): State<AppState>, Auth(_ctx): Auth) -> ApiResult {
    let prices = s.control.prices();
    let region = &s.control.config().region;
    let now = s.control.billing_now();
    let mut keys: Vec<&String> =
        prices.revisions.iter().flat_map(|r| r.prices.values().flat_map(|t| t.keys())).collect();
    keys.sort();
    keys.dedup();
    let in_force: Vec<Value> = keys
        .iter()
        .filter_map(|k| {
            let unit = nimbus_control::billing::prices::sku(k)?;
            let p = prices.price(region, k, now)?;
            Some(json!({"item": k, "price": p.normalize().to_string(), "unit": unit.unit}))
        })
        .collect();
    let revisions: Vec<Value> = prices
        .revisions
        .iter()
        .map(|r| {
            json!({"id": r.id, "effective_from": iso_time(r.effective_from),
                "announced_at": prices.announced.get(&r.id).map(|a| iso_time(*a)),
                "increases_from": Some(prices.increase_from(r)).filter(|t| *t < i64::MAX).map(iso_time),
                "prices": r.prices.iter().map(|(scope, t)| (scope.clone(), Value::Object(
                    t.iter().map(|(k, v)| (k.clone(), json!(v.normalize().to_string()))).collect())))
                    .collect::<serde_json::Map<_, _>>()})
        })
        .collect();
    let reserved: Vec<Value> = prices
        .reserved
        .discounts
        .iter()
        .map(|((payment, years), d)| json!({"payment": payment, "term_years": years, "discount": d.normalize().to_string()}))
        .collect();
    Ok(Json(json!({"prices": {"currency": prices.currency, "region": region, "in_force": in_force,
        "revisions": revisions, "reserved_instances": {"hours_per_month": prices.reserved.hours_per_month,
        "upfront_share": prices.reserved.upfront_share.normalize().to_string(), "discounts": reserved}}}))
    .into_response())
}

/// The account's billing settings.
#[utoipa::path(get, path = "/v1/billing/account", tag = "Billing", params(AccountQuery),
    responses((status = 200, body = super::NetDoc)))]
pub async fn show_account(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Query<AccountQuery>) -> ApiResult {
    let (domain, region) = s.control.billing_account(&ctx, q.domain_id.as_deref()).await?;
    Ok(Json(json!({"account": {"domain_id": domain, "primary_region": region,
        "currency": s.control.prices().currency}}))
    .into_response())
}

/// Sets the account's primary region (`{"primary_region": "eu-west-0"}`), which bears the
/// fees tied to no region.
#[utoipa::path(put, path = "/v1/billing/account", tag = "Billing", params(AccountQuery), request_body = super::NetDoc,
    responses((status = 200, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn update_account(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Query<AccountQuery>,
    raw: Bytes,
) -> ApiResult {
    let m = object(&raw)?;
    let region = str_field(&m, "primary_region")?.ok_or_else(|| Error::bad_request("'primary_region' is required."))?;
    let (domain, region) = s.control.set_primary_region(&ctx, q.domain_id.as_deref(), &region).await?;
    Ok(Json(json!({"account": {"domain_id": domain, "primary_region": region}})).into_response())
}

/// The account's invoices: this month's (open) and the issued ones.
#[utoipa::path(get, path = "/v1/billing/invoices", tag = "Billing", params(AccountQuery),
    responses((status = 200, body = super::NetDoc)))]
pub async fn list_invoices(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Query<AccountQuery>) -> ApiResult {
    let list = s.control.list_invoices(&ctx, q.domain_id.as_deref()).await?;
    let v: Vec<Value> = list
        .iter()
        .map(|i| {
            json!({"id": i.id, "month": i.month, "status": i.status, "total": i.total,
            "currency": i.currency, "issued_at": i.issued_at.map(iso_time)})
        })
        .collect();
    Ok(Json(json!({"invoices": v})).into_response())
}

/// Query of an invoice.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct InvoiceQuery {
    pub domain_id: Option<String>,
    /// `json` (the default) or `csv`.
    pub format: Option<String>,
}

/// A month's invoice (`YYYY-MM`, or `current`): lines per region, the total, and for the
/// current month the projection to its end.
#[utoipa::path(get, path = "/v1/billing/invoices/{month}", tag = "Billing",
    params(("month" = String, Path), InvoiceQuery),
    responses((status = 200, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn show_invoice(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(month): Path<String>,
    Query(q): Query<InvoiceQuery>,
) -> ApiResult {
    let month = (month != "current").then_some(month);
    let doc = s.control.invoice(&ctx, q.domain_id.as_deref(), month.as_deref()).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(json!({"invoice": doc})).into_response()),
        Some("csv") => {
            let name = format!("attachment; filename=\"{}.csv\"", doc["id"].as_str().unwrap_or("invoice"));
            Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, name)],
                invoice_csv(&doc),
            )
                .into_response())
        }
        Some(other) => Err(Error::bad_request(format!("Unknown format {other:?}: json or csv.")).into()),
    }
}

/// The account's budgets.
#[utoipa::path(get, path = "/v1/billing/budgets", tag = "Billing", params(AccountQuery),
    responses((status = 200, body = super::NetDoc)))]
pub async fn list_budgets(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Query<AccountQuery>) -> ApiResult {
    let list = s.control.list_budgets(&ctx, q.domain_id.as_deref()).await?;
    Ok(Json(json!({"budgets": list.iter().map(budget_view).collect::<Vec<_>>()})).into_response())
}

/// Creates a monthly budget: `{"name", "amount": "100.00", "thresholds": [50, 80, 100],
/// "notify_url": "https://..."}`.
#[utoipa::path(post, path = "/v1/billing/budgets", tag = "Billing", params(AccountQuery), request_body = super::NetDoc,
    responses((status = 201, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn create_budget(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Query<AccountQuery>,
    raw: Bytes,
) -> ApiResult {
    let m = object(&raw)?;
    let amount = match m.get("amount") {
        Some(Value::String(a)) => a.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(Error::bad_request("'amount' is required: the monthly budget in EUR.").into()),
    };
    let thresholds = match m.get("thresholds") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_i64().ok_or_else(|| Error::bad_request("'thresholds' holds whole percentages.")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(Error::bad_request("'thresholds' must be a list of percentages.").into()),
    };
    let req = BudgetCreate {
        name: str_field(&m, "name")?.unwrap_or_default(),
        amount,
        thresholds,
        notify_url: str_field(&m, "notify_url")?,
    };
    let b = s.control.create_budget(&ctx, q.domain_id.as_deref(), req).await?;
    Ok((StatusCode::CREATED, Json(json!({"budget": budget_view(&b)}))).into_response())
}

/// Deletes a budget (and its alerts).
#[utoipa::path(delete, path = "/v1/billing/budgets/{budget_id}", tag = "Billing",
    params(("budget_id" = String, Path), AccountQuery),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete_budget(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    Query(q): Query<AccountQuery>,
) -> ApiResult {
    s.control.delete_budget(&ctx, q.domain_id.as_deref(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The account's budget alerts, newest first.
#[utoipa::path(get, path = "/v1/billing/budget-alerts", tag = "Billing", params(AccountQuery),
    responses((status = 200, body = super::NetDoc)))]
pub async fn list_alerts(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Query<AccountQuery>) -> ApiResult {
    let list = s.control.list_budget_alerts(&ctx, q.domain_id.as_deref()).await?;
    Ok(Json(json!({"alerts": list.iter().map(alert_view).collect::<Vec<_>>()})).into_response())
}

/// The account's reserved instances.
#[utoipa::path(get, path = "/v1/billing/reserved-instances", tag = "Billing", params(AccountQuery),
    responses((status = 200, body = super::NetDoc)))]
pub async fn list_reservations(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Query<AccountQuery>) -> ApiResult {
    let list = s.control.list_reservations(&ctx, q.domain_id.as_deref()).await?;
    Ok(Json(json!({"reserved_instances": list.iter().map(reservation_view).collect::<Vec<_>>()})).into_response())
}

/// Subscribes a reserved instance: `{"flavor", "term_years": 1|2|3|5, "payment":
/// "no_upfront"|"partial_upfront", "flexible": false, "region"}`, in force from the first day
/// of next month.
#[utoipa::path(post, path = "/v1/billing/reserved-instances", tag = "Billing", params(AccountQuery),
    request_body = super::NetDoc,
    responses((status = 201, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn subscribe_reservation(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Query<AccountQuery>,
    raw: Bytes,
) -> ApiResult {
    let m = object(&raw)?;
    let req = ReservationCreate {
        region: str_field(&m, "region")?,
        flavor: str_field(&m, "flavor")?.ok_or_else(|| Error::bad_request("'flavor' is required."))?,
        term_years: m
            .get("term_years")
            .and_then(Value::as_i64)
            .ok_or_else(|| Error::bad_request("'term_years' is required: 1, 2, 3 or 5."))?,
        payment: str_field(&m, "payment")?.unwrap_or_else(|| "no_upfront".into()),
        flexible: match m.get("flexible") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Error::bad_request("'flexible' is true or false.").into()),
        },
    };
    let v = s.control.subscribe_reservation(&ctx, q.domain_id.as_deref(), req).await?;
    Ok((StatusCode::CREATED, Json(json!({"reserved_instance": reservation_view(&v)}))).into_response())
}

/// A reserved instance.
#[utoipa::path(get, path = "/v1/billing/reserved-instances/{reservation_id}", tag = "Billing",
    params(("reservation_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 404, body = super::ErrorBody)))]
pub async fn show_reservation(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let v = s.control.get_reservation(&ctx, &id).await?;
    Ok(Json(json!({"reserved_instance": reservation_view(&v)})).into_response())
}

/// Modifies a flexible reserved instance (`{"flavor": ...}`, same family) from next month.
#[utoipa::path(post, path = "/v1/billing/reserved-instances/{reservation_id}/modify", tag = "Billing",
    params(("reservation_id" = String, Path)), request_body = super::NetDoc,
    responses((status = 200, body = super::NetDoc), (status = 409, body = super::ErrorBody)))]
pub async fn modify_reservation(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let m = object(&raw)?;
    let flavor = str_field(&m, "flavor")?.ok_or_else(|| Error::bad_request("'flavor' is required."))?;
    let v = s.control.modify_reservation(&ctx, &id, &flavor).await?;
    Ok(Json(json!({"reserved_instance": reservation_view(&v)})).into_response())
}

/// Cancels a reserved instance before its end; the answer shows the cancellation fee (12% of
/// the amount still due for the term).
#[utoipa::path(post, path = "/v1/billing/reserved-instances/{reservation_id}/cancel", tag = "Billing",
    params(("reservation_id" = String, Path)),
    responses((status = 200, body = super::NetDoc), (status = 409, body = super::ErrorBody)))]
pub async fn cancel_reservation(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let v = s.control.cancel_reservation(&ctx, &id).await?;
    Ok(Json(json!({"reserved_instance": reservation_view(&v)})).into_response())
}
