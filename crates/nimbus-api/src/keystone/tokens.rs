//! `/v3/auth/*`: token issue, validation, revocation, and the token's catalogue, projects
//! and domains.

use super::{links_base, render};
use crate::auth::{Auth, Meta};
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use nimbus_control::identity::{AuthIdentity, AuthRequest, AuthScope, NameOrId, UserRef};
use nimbus_core::Error;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

use Access::{Authenticated as A, Public as P};

pub fn routes(r: Routes) -> Routes {
    r.add("POST", "/v3/auth/tokens", P, issue)
        .add("GET", "/v3/auth/tokens", A, validate)
        .add("DELETE", "/v3/auth/tokens", A, revoke)
        .add("GET", "/v3/auth/catalog", A, catalog)
        .add("GET", "/v3/auth/projects", A, projects)
        .add("GET", "/v3/auth/domains", A, domains)
}

#[derive(Deserialize)]
struct Body {
    auth: AuthBody,
}

#[derive(Deserialize)]
struct AuthBody {
    identity: IdentityBody,
    #[serde(default)]
    scope: Option<ScopeBody>,
}

#[derive(Deserialize)]
struct IdentityBody {
    methods: Vec<String>,
    #[serde(default)]
    password: Option<PasswordBody>,
    #[serde(default)]
    token: Option<TokenBody>,
}

#[derive(Deserialize)]
struct PasswordBody {
    user: UserBody,
}

#[derive(Deserialize)]
struct UserBody {
    id: Option<String>,
    name: Option<String>,
    domain: Option<Sel>,
    password: String,
}

#[derive(Deserialize)]
struct TokenBody {
    id: String,
}

#[derive(Deserialize, Default)]
struct Sel {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ScopeBody {
    Project {
        project: ProjectSel,
    },
    Domain {
        domain: Sel,
    },
    // The value of `system` (`{"all": true}`) does not matter: system scope is refused.
    System {
        #[allow(dead_code)]
        system: serde_json::Value,
    },
    /// Keystone accepts the string "unscoped".
    Unscoped(#[allow(dead_code)] String),
}

#[derive(Deserialize)]
struct ProjectSel {
    id: Option<String>,
    name: Option<String>,
    domain: Option<Sel>,
}

impl From<Sel> for NameOrId {
    fn from(s: Sel) -> Self {
        NameOrId { id: s.id, name: s.name }
    }
}

fn auth_request(body: &[u8]) -> Result<AuthRequest, Error> {
    let b: Body = parse_json(body)?;
    let identity = b.auth.identity;
    let identity = if identity.methods.iter().any(|m| m == "password") {
        let pw =
            identity.password.ok_or_else(|| Error::bad_request("The password method needs a 'password' object."))?;
        AuthIdentity::Password {
            user: UserRef { id: pw.user.id, name: pw.user.name, domain: pw.user.domain.map(Into::into) },
            password: pw.user.password,
        }
    } else if identity.methods.iter().any(|m| m == "token") {
        let t = identity.token.ok_or_else(|| Error::bad_request("The token method needs a 'token' object."))?;
        AuthIdentity::Token { token: t.id }
    } else {
        return Err(Error::Unauthorized("Unsupported authentication method; use 'password' or 'token'.".into()));
    };
    let scope = match b.auth.scope {
        None | Some(ScopeBody::Unscoped(_)) => AuthScope::Default,
        Some(ScopeBody::Project { project }) => {
            AuthScope::Project { id: project.id, name: project.name, domain: project.domain.map(Into::into) }
        }
        Some(ScopeBody::Domain { domain }) => AuthScope::Domain(domain.into()),
        Some(ScopeBody::System { .. }) => AuthScope::System,
    };
    Ok(AuthRequest { identity, scope })
}

fn with_subject(mut r: Response, token: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(token) {
        r.headers_mut().insert("x-subject-token", v);
    }
    r
}

async fn issue(
    State(state): State<AppState>,
    Meta(meta): Meta,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult {
    let req = auth_request(&body)?;
    let issued = state.control.issue_token(&meta, req).await?;
    let catalog = (!q.contains_key("nocatalog")).then(|| state.control.catalog(issued.principal.project_id()));
    let doc = render::token(&issued.principal, catalog);
    Ok(with_subject((StatusCode::CREATED, Json(doc)).into_response(), &issued.token))
}

fn subject(headers: &HeaderMap) -> Result<String, Error> {
    headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| Error::bad_request("The X-Subject-Token header is required."))
}

async fn validate(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let token = subject(&headers)?;
    let p = state.control.validate_token(&ctx, &token).await?;
    let catalog = (!q.contains_key("nocatalog")).then(|| state.control.catalog(p.project_id()));
    Ok(with_subject(Json(render::token(&p, catalog)).into_response(), &token))
}

async fn revoke(State(state): State<AppState>, Auth(ctx): Auth, headers: HeaderMap) -> ApiResult {
    let token = subject(&headers)?;
    state.control.revoke_token(&ctx, &token).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn catalog(State(state): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    if ctx.principal.scope == nimbus_control::Scope::Unscoped {
        return Err(Error::Forbidden("An unscoped token has no catalog.".into()).into());
    }
    let base = links_base(&state);
    Ok(Json(json!({"catalog": state.control.catalog(ctx.principal.project_id()), "links": {"self": format!("{base}/auth/catalog")}}))
        .into_response())
}

async fn projects(State(state): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    let base = links_base(&state);
    let list = state.control.list_user_projects(&ctx, &ctx.principal.user_id.clone()).await?;
    let items = list.iter().map(|p| render::project(&base, p, Vec::new())).collect();
    Ok(Json(render::list(&base, "projects", items)).into_response())
}

async fn domains(State(state): State<AppState>, Auth(ctx): Auth) -> ApiResult {
    let base = links_base(&state);
    let list = state.control.list_user_domains(&ctx).await?;
    let items = list.iter().map(|d| render::domain(&base, d)).collect();
    Ok(Json(render::list(&base, "domains", items)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_bodies_parse_like_keystone() {
        let r = auth_request(
            br#"{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"x"}}},
                "scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}"#,
        )
        .unwrap();
        assert!(matches!(r.identity, AuthIdentity::Password { .. }));
        assert!(matches!(r.scope, AuthScope::Project { name: Some(_), .. }));
        let d = auth_request(
            br#"{"auth":{"identity":{"methods":["token"],"token":{"id":"t"}},"scope":{"domain":{"id":"default"}}}}"#,
        )
        .unwrap();
        assert!(matches!(d.scope, AuthScope::Domain(_)));
        assert_eq!(auth_request(br#"{"auth":{}}"#).unwrap_err().status(), 400);
        assert_eq!(auth_request(br#"{"auth":{"identity":{"methods":["totp"]}}}"#).unwrap_err().status(), 401);
    }
}
