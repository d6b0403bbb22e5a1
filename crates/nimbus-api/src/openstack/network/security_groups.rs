//! Neutron security groups and rules: `/v2.0/security-groups`, `/v2.0/security-group-rules`.

use super::listing::{self, pairs};
use super::{body_object, bool_of, check_keys, int_of, project_of, standard, str_of};
use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::network::{RuleCreate, SecurityGroupView};
use nimbus_core::Error;
use nimbus_store::network::SecurityGroupRule;
use serde_json::{json, Map, Value};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/network/v2.0/security-groups", A, list_groups)
        .add("POST", "/network/v2.0/security-groups", A, create_group)
        .add("GET", "/network/v2.0/security-groups/{security_group_id}", A, show_group)
        .add("PUT", "/network/v2.0/security-groups/{security_group_id}", A, update_group)
        .add("DELETE", "/network/v2.0/security-groups/{security_group_id}", A, delete_group)
        .add("GET", "/network/v2.0/security-group-rules", A, list_rules)
        .add("POST", "/network/v2.0/security-group-rules", A, create_rule)
        .add("GET", "/network/v2.0/security-group-rules/{rule_id}", A, show_rule)
        .add("DELETE", "/network/v2.0/security-group-rules/{rule_id}", A, delete_rule)
}

fn rule_view(r: &SecurityGroupRule, default_group: bool) -> Value {
    let mut o = json!({
        "id": r.id, "security_group_id": r.security_group_id, "direction": r.direction, "ethertype": r.ethertype,
        "protocol": r.protocol, "port_range_min": r.port_range_min, "port_range_max": r.port_range_max,
        "remote_ip_prefix": r.remote_ip_prefix, "remote_group_id": r.remote_group_id,
        "remote_address_group_id": null, "normalized_cidr": r.remote_ip_prefix, "description": r.description,
        "belongs_to_default_sg": default_group,
    });
    standard(&mut o, &r.project_id, r.created_at, r.updated_at, r.revision_number);
    o
}

fn group_view(v: &SecurityGroupView) -> Value {
    let g = &v.group;
    let is_default = g.name == "default";
    let rules: Vec<Value> = v.rules.iter().map(|r| rule_view(r, is_default)).collect();
    let mut o = json!({
        "id": g.id, "name": g.name, "description": g.description, "stateful": g.stateful, "shared": false,
        "security_group_rules": rules,
    });
    standard(&mut o, &g.project_id, g.created_at, g.updated_at, g.revision_number);
    o
}

async fn list_groups(State(s): State<AppState>, Auth(ctx): Auth, RawQuery(raw): RawQuery) -> ApiResult {
    let q = pairs(raw.as_deref());
    let items: Vec<Value> = s.control.list_security_groups(&ctx).await?.iter().map(group_view).collect();
    let items = super::tags::with_tags(&s, "security-groups", items).await?;
    let url = format!("{}/network/v2.0/security-groups", super::base(&s));
    Ok(Json(listing::list(items, &q, "security_groups", &url)?).into_response())
}

async fn create_group(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "security_group")?;
    check_keys(&m, &["name", "description", "stateful", "project_id", "tenant_id"])?;
    let name = str_of(&m, "name")?.unwrap_or_default();
    let description = str_of(&m, "description")?.unwrap_or_default();
    let stateful = bool_of(&m, "stateful")?.unwrap_or(true);
    let project = project_of(&m)?;
    let g = s.control.create_security_group(&ctx, &name, &description, stateful, project.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(json!({"security_group": group_view(&g)}))).into_response())
}

async fn show_group(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let g = s.control.get_security_group(&ctx, &id).await?;
    let v = super::tags::with_tags_one(&s, "security-groups", group_view(&g)).await?;
    Ok(Json(json!({"security_group": listing::project_fields(v, &pairs(raw.as_deref()))})).into_response())
}

async fn update_group(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "security_group")?;
    check_keys(&m, &["name", "description"])?;
    let g = s.control.update_security_group(&ctx, &id, str_of(&m, "name")?, str_of(&m, "description")?).await?;
    Ok(Json(json!({"security_group": group_view(&g)})).into_response())
}

async fn delete_group(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_security_group(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_rules(State(s): State<AppState>, Auth(ctx): Auth, RawQuery(raw): RawQuery) -> ApiResult {
    let q = pairs(raw.as_deref());
    let defaults: Vec<String> = s
        .control
        .list_security_groups(&ctx)
        .await?
        .into_iter()
        .filter(|g| g.group.name == "default")
        .map(|g| g.group.id)
        .collect();
    let items: Vec<Value> = s
        .control
        .list_security_group_rules(&ctx)
        .await?
        .iter()
        .map(|r| rule_view(r, defaults.contains(&r.security_group_id)))
        .collect();
    let url = format!("{}/network/v2.0/security-group-rules", super::base(&s));
    Ok(Json(listing::list(items, &q, "security_group_rules", &url)?).into_response())
}

fn port_of(m: &Map<String, Value>, key: &str) -> Result<Option<i64>, Error> {
    int_of(m, key)
}

async fn create_rule(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let doc: Value = parse_json(&body)?;
    let m = body_object(&doc, "security_group_rule")?;
    check_keys(
        &m,
        &[
            "security_group_id",
            "direction",
            "ethertype",
            "protocol",
            "port_range_min",
            "port_range_max",
            "remote_ip_prefix",
            "remote_group_id",
            "description",
            "project_id",
            "tenant_id",
            "remote_address_group_id",
        ],
    )?;
    let protocol = match m.get("protocol") {
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => str_of(&m, "protocol")?,
    };
    let req = RuleCreate {
        security_group_id: str_of(&m, "security_group_id")?.ok_or_else(|| {
            Error::bad_request("Failed to parse request. Required attribute 'security_group_id' not specified")
        })?,
        direction: str_of(&m, "direction")?.ok_or_else(|| {
            Error::bad_request("Failed to parse request. Required attribute 'direction' not specified")
        })?,
        ethertype: str_of(&m, "ethertype")?,
        protocol,
        port_range_min: port_of(&m, "port_range_min")?,
        port_range_max: port_of(&m, "port_range_max")?,
        remote_ip_prefix: str_of(&m, "remote_ip_prefix")?,
        remote_group_id: str_of(&m, "remote_group_id")?,
        description: str_of(&m, "description")?.unwrap_or_default(),
    };
    let r = s.control.create_security_group_rule(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(json!({"security_group_rule": rule_view(&r, false)}))).into_response())
}

async fn show_rule(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let r = s.control.get_security_group_rule(&ctx, &id).await?;
    let is_default =
        s.control.get_security_group(&ctx, &r.security_group_id).await.is_ok_and(|g| g.group.name == "default");
    let v = listing::project_fields(rule_view(&r, is_default), &pairs(raw.as_deref()));
    Ok(Json(json!({"security_group_rule": v})).into_response())
}

async fn delete_rule(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_security_group_rule(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
