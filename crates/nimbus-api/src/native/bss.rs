//! The Huawei BSS billing API as `huaweicloudsdkbss` calls it (global, `GlobalCredentials`:
//! the account is the signed `X-Domain-Id`'s): a month's sums per service and charging mode,
//! the fee records per service, resource type and region, and the records per resource. Each
//! answers from the same invoice the customer space shows (the month so far for the current
//! one), in euros.

use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::Json;
use nimbus_core::Error;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::str::FromStr;

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/v2/bills/customer-bills/monthly-sum", A, monthly_sum)
        .add("GET", "/v2/bills/customer-bills/fee-records", A, fee_records)
        .add("GET", "/v2/bills/customer-bills/res-fee-records", A, resource_fee_records)
        .add("POST", "/v2/bills/customer-bills/res-records/query", A, resource_records)
}

/// (service type code, resource type code, service name, resource type name) of a line.
fn codes(line: &Value) -> (&'static str, &'static str, &'static str, &'static str) {
    let item = line["item"].as_str().unwrap_or_default();
    match line["service"].as_str().unwrap_or_default() {
        "ecs" => ("hws.service.type.ec2", "hws.resource.type.vm", "Elastic Cloud Server", "ECS"),
        "evs" => ("hws.service.type.ebs", "hws.resource.type.volume", "Elastic Volume Service", "Disk"),
        "snapshot" => ("hws.service.type.ebs", "hws.resource.type.snapshot", "Elastic Volume Service", "Snapshot"),
        "backup" => ("hws.service.type.cbr", "hws.resource.type.backup", "Cloud Backup and Recovery", "Backup"),
        "obs" => ("hws.service.type.obs", "hws.resource.type.obs", "Object Storage Service", "OBS"),
        "eip" if item == "eip:bandwidth" => {
            ("hws.service.type.vpc", "hws.resource.type.bandwidth", "Virtual Private Cloud", "Bandwidth")
        }
        "eip" => ("hws.service.type.vpc", "hws.resource.type.ip", "Virtual Private Cloud", "EIP"),
        _ => ("hws.service.type.support", "hws.resource.type.support", "Support", "Support plan"),
    }
}

/// BSS charging modes: 1 yearly/monthly, 3 pay-per-use, 10 reserved instance.
fn charging_mode(line: &Value) -> i64 {
    match (line["charge_mode"].as_str(), line["reservation_id"].is_string()) {
        (Some("pay_per_use"), _) => 3,
        (_, true) => 10,
        _ => 1,
    }
}

/// BSS bill types: 5 usage, 18 monthly payment, 1 purchase, 16 adjustment (a fee).
fn bill_type(line: &Value) -> i64 {
    match (line["charge_mode"].as_str(), line["item"].as_str()) {
        (Some("subscription"), _) => 18,
        (_, Some("ri:upfront")) => 1,
        (_, Some("ri:cancellation")) => 16,
        _ => 5,
    }
}

fn amount(v: &Value) -> Decimal {
    v.as_str().and_then(|s| Decimal::from_str(s).ok()).unwrap_or_default()
}

fn num(d: Decimal) -> Value {
    json!(d.to_f64().unwrap_or(0.0))
}

/// The invoice of a `YYYY-MM` cycle, for the signed account.
async fn cycle_invoice(
    s: &AppState,
    ctx: &nimbus_control::Ctx,
    cycle: Option<&str>,
    name: &str,
) -> Result<Value, Error> {
    let cycle = cycle.filter(|c| !c.is_empty()).ok_or_else(|| Error::bad_request(format!("{name} is required.")))?;
    s.control.invoice(ctx, None, Some(cycle)).await
}

/// Every line of an invoice with its region.
fn lines(doc: &Value) -> Vec<(String, Value)> {
    doc["regions"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| {
            let region = r["region"].as_str().unwrap_or_default().to_string();
            r["lines"].as_array().into_iter().flatten().map(move |l| (region.clone(), l.clone()))
        })
        .collect()
}

fn page<T: Clone>(items: &[T], offset: Option<i64>, limit: Option<i64>) -> Result<Vec<T>, Error> {
    let offset = offset.unwrap_or(0);
    let limit = limit.unwrap_or(10);
    if offset < 0 || !(1..=1000).contains(&limit) {
        return Err(Error::bad_request("Invalid paging: offset from 0, limit from 1 to 1000."));
    }
    Ok(items.iter().skip(offset as usize).take(limit as usize).cloned().collect())
}

/// Query of the monthly sums.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct MonthlySumQuery {
    pub bill_cycle: Option<String>,
    pub service_type_code: Option<String>,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

/// A month's spending per service, resource type and charging mode.
#[utoipa::path(get, path = "/v2/bills/customer-bills/monthly-sum", tag = "BSS", params(MonthlySumQuery),
    responses((status = 200, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn monthly_sum(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Query<MonthlySumQuery>) -> ApiResult {
    let doc = cycle_invoice(&s, &ctx, q.bill_cycle.as_deref(), "bill_cycle").await?;
    let mut sums: BTreeMap<(&str, &str, i64), (Decimal, &str, &str)> = BTreeMap::new();
    for (_, l) in lines(&doc) {
        let (svc, res, svc_name, res_name) = codes(&l);
        if q.service_type_code.as_deref().is_some_and(|c| c != svc) {
            continue;
        }
        let e = sums.entry((svc, res, charging_mode(&l))).or_insert((Decimal::ZERO, svc_name, res_name));
        e.0 += amount(&l["amount"]);
    }
    let total: Decimal = sums.values().map(|v| v.0).sum();
    let all: Vec<Value> = sums
        .iter()
        .map(|((svc, res, mode), (a, svc_name, res_name))| {
            json!({"bill_cycle": doc["month"], "customer_id": doc["domain_id"], "account_name": doc["account_name"],
                "service_type_code": svc, "service_type_name": svc_name, "resource_type_code": res,
                "resource_type_name": res_name, "charging_mode": mode, "bill_type": 1, "official_amount": num(*a),
                "official_discount_amount": 0, "truncated_amount": 0, "consume_amount": num(*a), "coupon_amount": 0,
                "flexipurchase_coupon_amount": 0, "stored_value_card_amount": 0, "debt_amount": num(*a),
                "writeoff_amount": 0, "cash_amount": 0, "credit_amount": 0, "measure_id": 1})
        })
        .collect();
    Ok(Json(json!({
        "total_count": all.len(), "bill_sums": page(&all, q.offset, q.limit)?, "consume_amount": num(total),
        "debt_amount": num(total), "coupon_amount": 0, "flexipurchase_coupon_amount": 0, "stored_value_card_amount": 0,
        "cash_amount": 0, "credit_amount": 0, "writeoff_amount": 0, "measure_id": 1, "currency": doc["currency"],
    }))
    .into_response())
}

/// Query of the fee records.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FeeRecordsQuery {
    pub bill_cycle: Option<String>,
    pub service_type_code: Option<String>,
    pub resource_type_code: Option<String>,
    pub region_code: Option<String>,
    pub charging_mode: Option<i64>,
    pub include_zero_record: Option<bool>,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

/// A month's fees per service, resource type, region and charging mode.
#[utoipa::path(get, path = "/v2/bills/customer-bills/fee-records", tag = "BSS", params(FeeRecordsQuery),
    responses((status = 200, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn fee_records(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Query<FeeRecordsQuery>) -> ApiResult {
    let doc = cycle_invoice(&s, &ctx, q.bill_cycle.as_deref(), "bill_cycle").await?;
    let status = if doc["status"] == "issued" { 2 } else { 3 };
    let mut sums: BTreeMap<(String, &str, &str, i64, i64), (Decimal, &str, &str)> = BTreeMap::new();
    for (region, l) in lines(&doc) {
        let (svc, res, svc_name, res_name) = codes(&l);
        let mode = charging_mode(&l);
        if q.service_type_code.as_deref().is_some_and(|c| c != svc)
            || q.resource_type_code.as_deref().is_some_and(|c| c != res)
            || q.region_code.as_deref().is_some_and(|c| c != region)
            || q.charging_mode.is_some_and(|c| c != mode)
        {
            continue;
        }
        let e = sums.entry((region, svc, res, mode, bill_type(&l))).or_insert((Decimal::ZERO, svc_name, res_name));
        e.0 += amount(&l["amount"]);
    }
    let all: Vec<Value> = sums
        .iter()
        .filter(|(_, (a, _, _))| q.include_zero_record != Some(false) || !a.is_zero())
        .map(|((region, svc, res, mode, bill), (a, svc_name, res_name))| {
            json!({"bill_cycle": doc["month"], "customer_id": doc["domain_id"], "account_name": doc["account_name"],
                "service_type_code": svc, "service_type_name": svc_name, "resource_type_code": res,
                "resource_type_name": res_name, "region_code": region, "region_name": region,
                "charging_mode": mode, "bill_type": bill, "provider_type": 1, "status": status,
                "trade_time": doc["as_of"], "consume_time": doc["as_of"], "official_amount": num(*a),
                "official_discount_amount": 0, "erase_amount": 0, "consume_amount": num(*a), "cash_amount": 0,
                "credit_amount": 0, "coupon_amount": 0, "flexipurchase_coupon_amount": 0,
                "stored_value_card_amount": 0, "bonus_amount": 0, "debt_amount": num(*a), "writeoff_amount": 0,
                "enterprise_project_id": "0", "enterprise_project_name": "default"})
        })
        .collect();
    Ok(Json(json!({"total_count": all.len(), "records": page(&all, q.offset, q.limit)?, "currency": doc["currency"]}))
        .into_response())
}

/// One resource record of a month.
fn resource_record(doc: &Value, region: &str, l: &Value) -> Value {
    let (svc, res, svc_name, res_name) = codes(l);
    let a = amount(&l["amount"]);
    json!({
        "cycle": doc["month"], "bill_date": format!("{}-01", doc["month"].as_str().unwrap_or_default()),
        "bill_type": bill_type(l), "customer_id": doc["domain_id"], "account_name": doc["account_name"],
        "region": region, "region_name": region, "cloud_service_type": svc, "cloud_service_type_name": svc_name,
        "resource_type": res, "resource_Type_code": res, "resource_type_name": res_name,
        "resource_id": l["resource_id"], "res_instance_id": l["resource_id"], "resource_name": l["resource_name"],
        "sku_code": l["item"], "product_spec_desc": l["item"], "enterprise_project_id": "0",
        "enterprise_project_name": "default", "charge_mode": charging_mode(l), "period_type": 20,
        "usage_type": l["unit"], "usage": num(amount(&l["quantity"])), "unit": format!("EUR/{}", l["unit"].as_str().unwrap_or_default()),
        "unit_price": l["unit_price"].as_str().map(|p| num(Decimal::from_str(p).unwrap_or_default())),
        "official_amount": num(a), "discount_amount": 0, "amount": num(a), "consume_amount": num(a),
        "cash_amount": 0, "credit_amount": 0, "coupon_amount": 0, "flexipurchase_coupon_amount": 0,
        "stored_card_amount": 0, "bonus_amount": 0, "debt_amount": num(a), "adjustment_amount": 0,
        "measure_id": 1, "effective_time": doc["period_start"], "expire_time": doc["period_end"],
        "consume_time": doc["as_of"], "sub_resource_id": l["reservation_id"], "payment_type": Value::Null,
    })
}

/// Query of the resource fee records.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ResFeeRecordsQuery {
    pub cycle: Option<String>,
    pub cloud_service_type: Option<String>,
    pub region: Option<String>,
    pub charge_mode: Option<String>,
    pub resource_id: Option<String>,
    pub include_zero_record: Option<bool>,
    pub statistic_type: Option<i64>,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

fn select(
    doc: &Value,
    service: Option<&str>,
    region_filter: Option<&str>,
    mode: Option<i64>,
    resource: Option<&str>,
    zero: Option<bool>,
) -> Vec<Value> {
    lines(doc)
        .into_iter()
        .filter(|(region, l)| {
            service.is_none_or(|c| c == codes(l).0)
                && region_filter.is_none_or(|r| r == region)
                && mode.is_none_or(|m| m == charging_mode(l))
                && resource.is_none_or(|r| Some(r) == l["resource_id"].as_str())
                && (zero != Some(false) || !amount(&l["amount"]).is_zero())
        })
        .map(|(region, l)| resource_record(doc, &region, &l))
        .collect()
}

/// A month's records per resource.
#[utoipa::path(get, path = "/v2/bills/customer-bills/res-fee-records", tag = "BSS", params(ResFeeRecordsQuery),
    responses((status = 200, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn resource_fee_records(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Query<ResFeeRecordsQuery>,
) -> ApiResult {
    if q.statistic_type.is_some_and(|t| !(1..=3).contains(&t)) {
        return Err(Error::bad_request("Invalid statistic_type: 1 (by cycle), 2 (by day) or 3 (itemized).").into());
    }
    let mode = match q.charge_mode.as_deref() {
        None | Some("") => None,
        Some(m) => Some(m.parse::<i64>().map_err(|_| Error::bad_request(format!("Invalid charge_mode {m:?}.")))?),
    };
    let doc = cycle_invoice(&s, &ctx, q.cycle.as_deref(), "cycle").await?;
    let mut all = select(
        &doc,
        q.cloud_service_type.as_deref(),
        q.region.as_deref(),
        mode,
        q.resource_id.as_deref(),
        q.include_zero_record,
    );
    for r in &mut all {
        // This listing spells the charging mode and period type as strings.
        r["charge_mode"] = json!(r["charge_mode"].to_string());
        r["period_type"] = json!("20");
    }
    Ok(Json(
        json!({"total_count": all.len(), "fee_records": page(&all, q.offset, q.limit)?, "currency": doc["currency"]}),
    )
    .into_response())
}

/// The records per resource of a month (`{"cycle": "YYYY-MM", ...}`).
#[utoipa::path(post, path = "/v2/bills/customer-bills/res-records/query", tag = "BSS", request_body = super::NetDoc,
    responses((status = 200, body = super::NetDoc), (status = 400, body = super::ErrorBody)))]
pub async fn resource_records(State(s): State<AppState>, Auth(ctx): Auth, raw: Bytes) -> ApiResult {
    let m: Map<String, Value> = match parse_json::<Value>(&raw)? {
        Value::Object(m) => m,
        _ => return Err(Error::bad_request("The body must be a JSON object.").into()),
    };
    let text = |k: &str| m.get(k).and_then(Value::as_str);
    let int = |k: &str| -> Result<Option<i64>, Error> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| Error::bad_request(format!("'{k}' must be an integer."))),
        }
    };
    let doc = cycle_invoice(&s, &ctx, text("cycle"), "cycle").await?;
    let all = select(
        &doc,
        text("cloud_service_type"),
        text("region"),
        int("charge_mode")?,
        text("res_instance_id"),
        m.get("include_zero_record").and_then(Value::as_bool),
    );
    Ok(Json(json!({"total_count": all.len(), "monthly_records": page(&all, int("offset")?, int("limit")?)?,
        "currency": doc["currency"]}))
    .into_response())
}
