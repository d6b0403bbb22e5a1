//! Cinder encryption types (`/types/{id}/encryption`): an operator marks a volume type as
//! LUKS-encrypted, as `openstack volume type create --encryption-provider luks` and
//! `volume type show --encryption-type` do. Every call goes to the encryption service of
//! `Control`.

use crate::auth::Auth;
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use nimbus_control::volumes::EncryptionSpec;
use nimbus_core::time::usage_time;
use nimbus_core::Error;
use nimbus_store::volumes::TypeEncryption;
use serde_json::{json, Value};

use Access::Authenticated as A;

pub fn routes(r: Routes) -> Routes {
    const ENC: &str = "/volume/v3/{project_id}/types/{type_id}/encryption";
    r.add("GET", ENC, A, show)
        .add("POST", ENC, A, create)
        // Cinder's GET names a field (`.../encryption/cipher`) where PUT and DELETE name the
        // encryption: one path, as the router has one parameter per position.
        .add("GET", &format!("{ENC}/{{encryption_id}}"), A, show_spec)
        .add("PUT", &format!("{ENC}/{{encryption_id}}"), A, update)
        .add("DELETE", &format!("{ENC}/{{encryption_id}}"), A, delete)
}

/// Cinder's view of an encryption type.
fn view(e: &TypeEncryption) -> Value {
    json!({
        "volume_type_id": e.type_id, "encryption_id": e.encryption_id, "provider": e.provider,
        "cipher": e.cipher, "key_size": e.key_size, "control_location": e.control_location,
        "created_at": usage_time(e.created_at), "updated_at": e.updated_at.map(usage_time),
        "deleted": false, "deleted_at": null,
    })
}

/// What a create answers (Cinder's fields, without the record's times).
fn created_view(e: &TypeEncryption) -> Value {
    json!({
        "volume_type_id": e.type_id, "encryption_id": e.encryption_id, "provider": e.provider,
        "cipher": e.cipher, "key_size": e.key_size, "control_location": e.control_location,
    })
}

/// What an update answers: the settings as they now are.
fn updated_view(e: &TypeEncryption) -> Value {
    json!({"provider": e.provider, "cipher": e.cipher, "key_size": e.key_size, "control_location": e.control_location})
}

/// The `encryption` object of a request body.
fn spec_of(body: &Bytes) -> Result<EncryptionSpec, Error> {
    let doc: Value = parse_json(body)?;
    let enc = doc
        .get("encryption")
        .filter(|e| e.is_object())
        .ok_or_else(|| Error::bad_request("Invalid input received: the body is {\"encryption\": {...}}."))?;
    for (k, v) in enc.as_object().into_iter().flatten() {
        let ok = match k.as_str() {
            "provider" | "cipher" | "control_location" => v.is_string() || v.is_null(),
            "key_size" => true,
            _ => false,
        };
        if !ok {
            return Err(Error::bad_request(format!("Invalid input received: '{k}' is not a valid encryption field.")));
        }
    }
    let text = |k: &str| enc.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(EncryptionSpec {
        provider: text("provider"),
        cipher: text("cipher"),
        key_size: enc.get("key_size").cloned(),
        control_location: text("control_location"),
    })
}

/// The type's encryption, or `{}` when it has none (as Cinder answers).
async fn show(State(s): State<AppState>, Auth(ctx): Auth, Path((_p, type_id)): Path<(String, String)>) -> ApiResult {
    let e = s.control.get_type_encryption(&ctx, &type_id).await?;
    Ok(Json(e.as_ref().map(view).unwrap_or_else(|| json!({}))).into_response())
}

/// One field of the type's encryption (`{"cipher": ...}`), 404 when it has none.
async fn show_spec(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, type_id, spec)): Path<(String, String, String)>,
) -> ApiResult {
    let e = s.control.get_type_encryption(&ctx, &type_id).await?;
    let v = e.as_ref().map(view).unwrap_or_default();
    match v.get(&spec) {
        Some(value) => Ok(Json(json!({ spec: value })).into_response()),
        None => Err(Error::not_found("volume type encryption spec", &spec).into()),
    }
}

async fn create(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, type_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let spec = spec_of(&body)?;
    let e = s.control.create_type_encryption(&ctx, &type_id, spec).await?;
    Ok(Json(json!({"encryption": created_view(&e)})).into_response())
}

async fn update(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, type_id, encryption_id)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let spec = spec_of(&body)?;
    let e = s.control.update_type_encryption(&ctx, &type_id, &encryption_id, spec).await?;
    Ok(Json(json!({"encryption": updated_view(&e)})).into_response())
}

async fn delete(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((_p, type_id, encryption_id)): Path<(String, String, String)>,
) -> ApiResult {
    s.control.delete_type_encryption(&ctx, &type_id, &encryption_id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
