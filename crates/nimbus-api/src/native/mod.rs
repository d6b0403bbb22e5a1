//! Huawei-style native APIs at the listener's root: CTS traces and trackers, IAM access
//! keys, jobs, plus the OpenAPI document and the region's own `/healthz`.
//!
//! The response types derive `utoipa::ToSchema`, and `/openapi.json` is generated from the
//! handlers' `#[utoipa::path]` annotations, so the document cannot drift from the code.

mod billing;
mod bss;
mod cbr;
mod cts;
mod dns;
mod ecs;
mod eip;
mod evs;
mod evs_snapshots;
mod iam;
mod ims;
mod jobs;
mod metering;
mod nat;
mod obs;
mod support;
mod tms;
mod vpc;

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_core::Error;
use utoipa::OpenApi;

use Access::{Authenticated as A, Public as P};

/// Every native route.
pub fn routes() -> Routes {
    let r = Routes::default().add("GET", "/healthz", P, healthz).add("GET", "/openapi.json", P, openapi).add(
        "GET",
        "/_nimbus/endpoints",
        A,
        endpoints,
    );
    let r = cts::routes(r);
    let r = iam::routes(r);
    let r = tms::routes(r);
    let r = ims::routes(r);
    let r = metering::routes(r);
    let r = ecs::routes(r);
    let r = evs::routes(r);
    let r = cbr::routes(r);
    let r = evs_snapshots::routes(r);
    let r = vpc::routes(r);
    let r = eip::routes(r);
    let r = nat::routes(r);
    let r = dns::routes(r);
    let r = support::routes(r);
    let r = billing::routes(r);
    let r = bss::routes(r);
    let r = obs::routes(r);
    jobs::routes(r)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Nimbus native APIs", description = "Huawei Cloud compatible native APIs of a Nimbus region."),
    paths(
        cts::list_traces,
        cts::list_trackers,
        cts::create_tracker,
        cts::update_tracker,
        cts::delete_tracker,
        cts::list_quotas,
        cts::verify_traces,
        iam::create_access_key,
        iam::list_access_keys,
        iam::show_access_key,
        iam::update_access_key,
        iam::delete_access_key,
        jobs::show_job,
        metering::list_usage_events,
        metering::list_obs_requests,
        ecs::create_servers_v1,
        ecs::create_servers,
        ecs::batch_action,
        ecs::delete_servers,
        ecs::show_server,
        ecs::list_servers_details,
        ecs::attach_volume,
        ecs::detach_volume,
        ecs::list_block_devices,
        ecs::show_block_device,
        cbr::create_vault,
        cbr::list_vaults,
        cbr::show_vault,
        cbr::update_vault,
        cbr::delete_vault,
        cbr::add_resources,
        cbr::remove_resources,
        cbr::associate_policy,
        cbr::dissociate_policy,
        cbr::create_policy,
        cbr::list_policies,
        cbr::show_policy,
        cbr::update_policy,
        cbr::delete_policy,
        cbr::create_checkpoint,
        cbr::show_checkpoint,
        cbr::list_backups,
        cbr::show_backup,
        cbr::update_backup,
        cbr::delete_backup,
        cbr::restore_backup,
        ims::list_images,
        tms::batch_create,
        tms::batch_delete,
        tms::show_resource_tags,
        vpc::create_vpc,
        vpc::list_vpcs,
        vpc::show_vpc,
        vpc::update_vpc,
        vpc::delete_vpc,
        vpc::create_subnet,
        vpc::list_subnets,
        vpc::show_subnet,
        vpc::update_subnet,
        vpc::delete_subnet,
        vpc::create_group,
        vpc::list_groups,
        vpc::show_group,
        vpc::delete_group,
        vpc::create_rule,
        vpc::list_rules,
        vpc::show_rule,
        vpc::delete_rule,
        vpc::create_port,
        vpc::list_ports,
        vpc::show_port,
        vpc::update_port,
        vpc::delete_port,
        eip::create,
        eip::list,
        eip::show,
        eip::update,
        eip::delete,
        eip::list_bandwidths,
        eip::show_bandwidth,
        eip::update_bandwidth,
        support::list_plans,
        support::show_subscription,
        support::change_subscription,
        support::list_contacts,
        support::add_contact,
        support::remove_contact,
        support::list_tickets,
        support::open_ticket,
        support::show_ticket,
        support::comment_ticket,
        support::act_on_ticket,
        support::list_invitations,
        support::invite_engineer,
        support::revoke_invitation,
        support::list_notices,
        support::publish_notice,
        billing::show_prices,
        billing::show_account,
        billing::update_account,
        billing::list_invoices,
        billing::show_invoice,
        billing::list_budgets,
        billing::create_budget,
        billing::delete_budget,
        billing::list_alerts,
        billing::list_reservations,
        billing::subscribe_reservation,
        billing::show_reservation,
        billing::modify_reservation,
        billing::cancel_reservation,
        bss::monthly_sum,
        bss::fee_records,
        bss::resource_fee_records,
        bss::resource_records,
        obs::list_buckets,
        obs::create_bucket,
        obs::delete_bucket,
        obs::list_objects,
        obs::put_object,
        obs::get_object,
        obs::delete_object,
        nat::create_gateway,
        nat::list_gateways,
        nat::show_gateway,
        nat::update_gateway,
        nat::delete_gateway,
        nat::create_snat,
        nat::list_snat,
        nat::show_snat,
        nat::delete_snat,
        nat::create_dnat,
        nat::list_dnat,
        nat::show_dnat,
        nat::delete_dnat,
        dns::create_zone,
        dns::list_zones,
        dns::show_zone,
        dns::update_zone,
        dns::delete_zone,
        dns::associate_router,
        dns::disassociate_router,
        dns::create_recordset,
        dns::list_recordsets,
        dns::show_recordset,
        dns::update_recordset,
        dns::delete_recordset,
    ),
    components(schemas(
        crate::native::ErrorBody,
        ecs::CreatedBody,
        ecs::JobIdBody,
        ecs::CreateServersBody,
        ecs::BatchActionBody,
        ecs::DeleteServersBody,
        ecs::AttachVolumeBody,
        ecs::BlockDevicesBody,
        cbr::CbrDoc,
        NetDoc
    ))
)]
struct NativeApi;

/// The native APIs' error body.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable error code, e.g. `Nimbus.0404`.
    pub error_code: String,
    /// Human-readable message.
    pub error_msg: String,
    /// The request id (also in the `X-Request-Id` header).
    pub request_id: Option<String>,
}

/// The OpenAPI document of the native APIs.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    NativeApi::openapi()
}

async fn openapi() -> impl IntoResponse {
    Json(openapi_document())
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

/// Runs a create once per `X-Client-Token`: a retry carrying the same token gets the first
/// answer again instead of a second resource. Without the header the create simply runs.
pub(crate) async fn idempotent<F, Fut>(
    s: &AppState,
    ctx: &nimbus_control::Ctx,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    create: F,
) -> ApiResult
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(axum::http::StatusCode, serde_json::Value), crate::error::ApiError>>,
{
    use sha2::{Digest, Sha256};
    let Some(token) = headers.get("x-client-token").and_then(|v| v.to_str().ok()).map(str::to_string) else {
        let (status, v) = create().await?;
        return Ok((status, Json(v)).into_response());
    };
    // Keys are per caller scope, so two tenants can never collide on a token.
    let scope =
        ctx.principal.project_id().or(ctx.principal.scope_domain_id()).unwrap_or(&ctx.principal.user_id).to_string();
    let mut h = Sha256::new();
    h.update(ctx.meta.method.as_bytes());
    h.update(ctx.meta.path.as_bytes());
    h.update(body);
    let fingerprint = hex::encode(h.finalize());
    match s.control.claim_client_token(&scope, &token, &fingerprint).await? {
        nimbus_control::idempotency::Claim::Replay { status, body } => {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
            let status = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
            Ok((status, Json(v)).into_response())
        }
        nimbus_control::idempotency::Claim::Fresh => match create().await {
            Ok((status, v)) => {
                s.control.complete_client_token(&scope, &token, status.as_u16(), &v.to_string()).await?;
                Ok((status, Json(v)).into_response())
            }
            Err(e) => {
                s.control.complete_client_token(&scope, &token, e.0.status(), "").await?;
                Err(e)
            }
        },
    }
}

/// Every registered endpoint, for operators and tooling (admin only).
async fn endpoints(State(s): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    if !ctx.principal.is_admin() {
        return Err(Error::Forbidden("Only administrators may list the endpoints.".into()).into());
    }
    Ok(Json(serde_json::json!({"endpoints": *s.endpoints})).into_response())
}

/// A VPC, subnet, security group, port, EIP or bandwidth document (see the provider's VPC and
/// EIP APIs for their fields).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct NetDoc {
    #[schema(value_type = Object)]
    pub doc: serde_json::Value,
}
