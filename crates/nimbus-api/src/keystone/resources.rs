//! Keystone identity resources: domains, projects (and their tags), users, groups, roles,
//! grants and role assignments, credentials, and the read-only regions, services and
//! endpoints of the catalogue.

use super::{links_base, render};
use crate::auth::Auth;
use crate::body::{entity, extras, query_bool, require_str, take_bool, take_str, take_str_list};
use crate::error::{parse_json, ApiResult};
use crate::routes::{Access, Routes};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use nimbus_control::identity::*;
use nimbus_control::Ctx;
use nimbus_core::page::PageRequest;
use nimbus_core::Error;
use serde_json::{json, Value};
use std::collections::HashMap;

use Access::Authenticated as A;

type Q = Query<HashMap<String, String>>;

pub fn routes(r: Routes) -> Routes {
    let r = r
        .add("GET", "/v3/domains", A, list_domains)
        .add("POST", "/v3/domains", A, create_domain)
        .add("GET", "/v3/domains/{domain_id}", A, get_domain)
        .add("PATCH", "/v3/domains/{domain_id}", A, update_domain)
        .add("DELETE", "/v3/domains/{domain_id}", A, delete_domain)
        .add("GET", "/v3/projects", A, list_projects)
        .add("POST", "/v3/projects", A, create_project)
        .add("GET", "/v3/projects/{project_id}", A, get_project)
        .add("PATCH", "/v3/projects/{project_id}", A, update_project)
        .add("DELETE", "/v3/projects/{project_id}", A, delete_project)
        .add("GET", "/v3/projects/{project_id}/tags", A, list_project_tags)
        .add("PUT", "/v3/projects/{project_id}/tags", A, replace_project_tags)
        .add("DELETE", "/v3/projects/{project_id}/tags", A, clear_project_tags)
        .add("GET", "/v3/projects/{project_id}/tags/{tag}", A, check_project_tag)
        .add("PUT", "/v3/projects/{project_id}/tags/{tag}", A, add_project_tag)
        .add("DELETE", "/v3/projects/{project_id}/tags/{tag}", A, remove_project_tag)
        .add("GET", "/v3/users", A, list_users)
        .add("POST", "/v3/users", A, create_user)
        .add("GET", "/v3/users/{user_id}", A, get_user)
        .add("PATCH", "/v3/users/{user_id}", A, update_user)
        .add("DELETE", "/v3/users/{user_id}", A, delete_user)
        .add("POST", "/v3/users/{user_id}/password", A, change_password)
        .add("GET", "/v3/users/{user_id}/projects", A, user_projects)
        .add("GET", "/v3/users/{user_id}/groups", A, user_groups)
        .add("GET", "/v3/groups", A, list_groups)
        .add("POST", "/v3/groups", A, create_group)
        .add("GET", "/v3/groups/{group_id}", A, get_group)
        .add("PATCH", "/v3/groups/{group_id}", A, update_group)
        .add("DELETE", "/v3/groups/{group_id}", A, delete_group)
        .add("GET", "/v3/groups/{group_id}/users", A, group_users)
        .add("PUT", "/v3/groups/{group_id}/users/{user_id}", A, add_member)
        .add("GET", "/v3/groups/{group_id}/users/{user_id}", A, check_member)
        .add("DELETE", "/v3/groups/{group_id}/users/{user_id}", A, remove_member)
        .add("GET", "/v3/roles", A, list_roles)
        .add("POST", "/v3/roles", A, create_role)
        .add("GET", "/v3/roles/{role_id}", A, get_role)
        .add("PATCH", "/v3/roles/{role_id}", A, update_role)
        .add("DELETE", "/v3/roles/{role_id}", A, delete_role)
        .add("GET", "/v3/role_assignments", A, list_role_assignments)
        .add("GET", "/v3/credentials", A, list_credentials)
        .add("POST", "/v3/credentials", A, create_credential)
        .add("GET", "/v3/credentials/{credential_id}", A, get_credential)
        .add("PATCH", "/v3/credentials/{credential_id}", A, update_credential)
        .add("DELETE", "/v3/credentials/{credential_id}", A, delete_credential)
        .add("GET", "/v3/regions", A, list_regions)
        .add("GET", "/v3/regions/{region_id}", A, get_region)
        .add("GET", "/v3/services", A, list_services)
        .add("GET", "/v3/services/{service_id}", A, get_service)
        .add("GET", "/v3/endpoints", A, list_endpoints);
    grant_routes(r)
}

/// `/{projects|domains}/{t}/{users|groups}/{a}/roles[/{r}]` and the OS-INHERIT variants.
fn grant_routes(mut r: Routes) -> Routes {
    for (target, tt) in [("projects", "project"), ("domains", "domain")] {
        for (actor, at) in [("users", "user"), ("groups", "group")] {
            let base = format!("/v3/{target}/{{target_id}}/{actor}/{{actor_id}}/roles");
            r = r
                .add("GET", &base, A, move |s: State<AppState>, a: Auth, p: Path<(String, String)>| {
                    list_grants(s, a, p, at, tt, false)
                })
                .add(
                    "PUT",
                    &format!("{base}/{{role_id}}"),
                    A,
                    move |s: State<AppState>, a: Auth, p: Path<(String, String, String)>| {
                        grant(s, a, p, at, tt, false, Op::Put)
                    },
                )
                .add(
                    "GET",
                    &format!("{base}/{{role_id}}"),
                    A,
                    move |s: State<AppState>, a: Auth, p: Path<(String, String, String)>| {
                        grant(s, a, p, at, tt, false, Op::Check)
                    },
                )
                .add(
                    "DELETE",
                    &format!("{base}/{{role_id}}"),
                    A,
                    move |s: State<AppState>, a: Auth, p: Path<(String, String, String)>| {
                        grant(s, a, p, at, tt, false, Op::Delete)
                    },
                );
        }
    }
    for (actor, at) in [("users", "user"), ("groups", "group")] {
        let base = format!("/v3/system/{actor}/{{actor_id}}/roles");
        r = r
            .add("GET", &base, A, move |s: State<AppState>, a: Auth, Path(actor_id): Path<String>| {
                list_grants(s, a, Path(("all".to_string(), actor_id)), at, "system", false)
            })
            .add(
                "PUT",
                &format!("{base}/{{role_id}}"),
                A,
                move |s: State<AppState>, a: Auth, Path((u, r)): Path<(String, String)>| {
                    grant(s, a, Path(("all".into(), u, r)), at, "system", false, Op::Put)
                },
            )
            .add(
                "GET",
                &format!("{base}/{{role_id}}"),
                A,
                move |s: State<AppState>, a: Auth, Path((u, r)): Path<(String, String)>| {
                    grant(s, a, Path(("all".into(), u, r)), at, "system", false, Op::Check)
                },
            )
            .add(
                "DELETE",
                &format!("{base}/{{role_id}}"),
                A,
                move |s: State<AppState>, a: Auth, Path((u, r)): Path<(String, String)>| {
                    grant(s, a, Path(("all".into(), u, r)), at, "system", false, Op::Delete)
                },
            );
    }
    for (actor, at) in [("users", "user"), ("groups", "group")] {
        let base = format!("/v3/OS-INHERIT/domains/{{target_id}}/{actor}/{{actor_id}}/roles");
        r = r
            .add(
                "GET",
                &format!("{base}/inherited_to_projects"),
                A,
                move |s: State<AppState>, a: Auth, p: Path<(String, String)>| list_grants(s, a, p, at, "domain", true),
            )
            .add(
                "PUT",
                &format!("{base}/{{role_id}}/inherited_to_projects"),
                A,
                move |s: State<AppState>, a: Auth, p: Path<(String, String, String)>| {
                    grant(s, a, p, at, "domain", true, Op::Put)
                },
            )
            .add(
                "GET",
                &format!("{base}/{{role_id}}/inherited_to_projects"),
                A,
                move |s: State<AppState>, a: Auth, p: Path<(String, String, String)>| {
                    grant(s, a, p, at, "domain", true, Op::Check)
                },
            )
            .add(
                "DELETE",
                &format!("{base}/{{role_id}}/inherited_to_projects"),
                A,
                move |s: State<AppState>, a: Auth, p: Path<(String, String, String)>| {
                    grant(s, a, p, at, "domain", true, Op::Delete)
                },
            );
    }
    r
}

/// Keystone lists everything unless the client pages with `limit`/`marker`; a hard cap keeps
/// one call bounded.
const LIST_CAP: u32 = 100_000;

fn page(q: &HashMap<String, String>) -> Result<PageRequest, Error> {
    let mut p = PageRequest::from_query(q)?;
    if p.limit.is_none() {
        p.limit = Some(LIST_CAP);
    }
    Ok(p)
}

fn ok(v: Value) -> ApiResult {
    Ok(Json(v).into_response())
}

fn created(v: Value) -> ApiResult {
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- domains ----

async fn list_domains(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Q) -> ApiResult {
    let list = s
        .control
        .list_domains(&ctx, q.get("name").map(String::as_str), query_bool(q.get("enabled")), &page(&q)?)
        .await?;
    let base = links_base(&s);
    ok(render::list(&base, "domains", list.iter().map(|d| render::domain(&base, d)).collect()))
}

async fn create_domain(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let mut m = entity(&body, "domain")?;
    let req = DomainCreate {
        name: require_str(&mut m, "name")?,
        description: take_str(&mut m, "description")?,
        enabled: take_bool(&mut m, "enabled")?,
        extra: extras(m),
    };
    let d = s.control.create_domain(&ctx, req).await?;
    created(json!({"domain": render::domain(&links_base(&s), &d)}))
}

async fn get_domain(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let d = s.control.get_domain(&ctx, &id).await?;
    ok(json!({"domain": render::domain(&links_base(&s), &d)}))
}

async fn update_domain(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let mut m = entity(&body, "domain")?;
    let req = DomainUpdate {
        name: take_str(&mut m, "name")?,
        description: take_str(&mut m, "description")?,
        enabled: take_bool(&mut m, "enabled")?,
        extra: extras(m),
    };
    let d = s.control.update_domain(&ctx, &id, req).await?;
    ok(json!({"domain": render::domain(&links_base(&s), &d)}))
}

async fn delete_domain(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_domain(&ctx, &id).await?;
    no_content()
}

// ---- projects ----

async fn project_doc(s: &AppState, ctx: &Ctx, p: &nimbus_store::identity::Project) -> Result<Value, Error> {
    let tags = s.control.project_tags(ctx, &p.id).await.unwrap_or_default();
    Ok(render::project(&links_base(s), p, tags))
}

async fn list_projects(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Q) -> ApiResult {
    let query = ProjectListQuery {
        name: q.get("name").cloned(),
        domain_id: q.get("domain_id").cloned(),
        parent_id: q.get("parent_id").cloned(),
        enabled: query_bool(q.get("enabled")),
        is_domain: query_bool(q.get("is_domain")),
        tags: q.get("tags").map(|t| t.split(',').map(str::to_string).collect()).unwrap_or_default(),
    };
    let list = s.control.list_projects_with_tags(&ctx, &query, &page(&q)?).await?;
    let base = links_base(&s);
    let items = list.into_iter().map(|(p, tags)| render::project(&base, &p, tags)).collect();
    ok(render::list(&base, "projects", items))
}

async fn create_project(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let mut m = entity(&body, "project")?;
    let req = ProjectCreate {
        name: require_str(&mut m, "name")?,
        domain_id: take_str(&mut m, "domain_id")?,
        parent_id: take_str(&mut m, "parent_id")?,
        description: take_str(&mut m, "description")?,
        enabled: take_bool(&mut m, "enabled")?,
        is_domain: take_bool(&mut m, "is_domain")?,
        tags: take_str_list(&mut m, "tags")?,
        extra: extras(m),
    };
    let p = s.control.create_project(&ctx, req).await?;
    created(json!({"project": project_doc(&s, &ctx, &p).await?}))
}

async fn get_project(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let p = s.control.get_project(&ctx, &id).await?;
    ok(json!({"project": project_doc(&s, &ctx, &p).await?}))
}

async fn update_project(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let mut m = entity(&body, "project")?;
    m.remove("parent_id");
    m.remove("is_domain");
    let req = ProjectUpdate {
        name: take_str(&mut m, "name")?,
        description: take_str(&mut m, "description")?,
        enabled: take_bool(&mut m, "enabled")?,
        domain_id: take_str(&mut m, "domain_id")?,
        tags: take_str_list(&mut m, "tags")?,
        extra: extras(m),
    };
    let p = s.control.update_project(&ctx, &id, req).await?;
    ok(json!({"project": project_doc(&s, &ctx, &p).await?}))
}

async fn delete_project(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let job_id = s.control.delete_project(&ctx, &id).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    // The purge of what the project owned is a durable job; its id lets an operator follow it.
    if let Ok(v) = axum::http::HeaderValue::from_str(&job_id) {
        r.headers_mut().insert("x-nimbus-job-id", v);
    }
    Ok(r)
}

async fn list_project_tags(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    ok(json!({"tags": s.control.project_tags(&ctx, &id).await?}))
}

async fn replace_project_tags(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    #[derive(serde::Deserialize)]
    struct Tags {
        tags: Vec<String>,
    }
    let t: Tags = parse_json(&body)?;
    ok(json!({"tags": s.control.edit_project_tags(&ctx, &id, TagEdit::Replace(t.tags)).await?}))
}

async fn clear_project_tags(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.edit_project_tags(&ctx, &id, TagEdit::Replace(Vec::new())).await?;
    no_content()
}

async fn check_project_tag(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult {
    s.control.check_project_tag(&ctx, &id, &tag).await?;
    no_content()
}

async fn add_project_tag(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult {
    s.control.edit_project_tags(&ctx, &id, TagEdit::Add(tag)).await?;
    Ok(StatusCode::CREATED.into_response())
}

async fn remove_project_tag(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult {
    s.control.edit_project_tags(&ctx, &id, TagEdit::Remove(tag)).await?;
    no_content()
}

// ---- users ----

async fn list_users(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Q) -> ApiResult {
    let query = UserListQuery {
        name: q.get("name").cloned(),
        domain_id: q.get("domain_id").cloned(),
        enabled: query_bool(q.get("enabled")),
    };
    let list = s.control.list_users(&ctx, &query, &page(&q)?).await?;
    let base = links_base(&s);
    ok(render::list(&base, "users", list.iter().map(|u| render::user(&base, u)).collect()))
}

async fn create_user(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let mut m = entity(&body, "user")?;
    let req = UserCreate {
        name: require_str(&mut m, "name")?,
        domain_id: take_str(&mut m, "domain_id")?,
        password: take_str(&mut m, "password")?,
        email: take_str(&mut m, "email")?,
        description: take_str(&mut m, "description")?,
        enabled: take_bool(&mut m, "enabled")?,
        default_project_id: take_str(&mut m, "default_project_id")?,
        extra: extras(m),
    };
    let u = s.control.create_user(&ctx, req).await?;
    created(json!({"user": render::user(&links_base(&s), &u)}))
}

async fn get_user(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let u = s.control.get_user(&ctx, &id).await?;
    ok(json!({"user": render::user(&links_base(&s), &u)}))
}

async fn update_user(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let mut m = entity(&body, "user")?;
    let req = UserUpdate {
        name: take_str(&mut m, "name")?,
        password: take_str(&mut m, "password")?,
        email: take_str(&mut m, "email")?,
        description: take_str(&mut m, "description")?,
        enabled: take_bool(&mut m, "enabled")?,
        default_project_id: take_str(&mut m, "default_project_id")?,
        domain_id: take_str(&mut m, "domain_id")?,
        extra: extras(m),
    };
    let u = s.control.update_user(&ctx, &id, req).await?;
    ok(json!({"user": render::user(&links_base(&s), &u)}))
}

async fn delete_user(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_user(&ctx, &id).await?;
    no_content()
}

async fn change_password(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let mut m = entity(&body, "user")?;
    let original = require_str(&mut m, "original_password")?;
    let new = require_str(&mut m, "password")?;
    s.control.change_password(&ctx, &id, &original, &new).await?;
    no_content()
}

async fn user_projects(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let list = s.control.list_user_projects(&ctx, &id).await?;
    let base = links_base(&s);
    ok(render::list(&base, "projects", list.iter().map(|p| render::project(&base, p, Vec::new())).collect()))
}

async fn user_groups(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let list = s.control.list_user_groups(&ctx, &id).await?;
    let base = links_base(&s);
    ok(render::list(&base, "groups", list.iter().map(|g| render::group(&base, g)).collect()))
}

// ---- groups ----

async fn list_groups(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Q) -> ApiResult {
    let list = s
        .control
        .list_groups(&ctx, q.get("name").map(String::as_str), q.get("domain_id").map(String::as_str), &page(&q)?)
        .await?;
    let base = links_base(&s);
    ok(render::list(&base, "groups", list.iter().map(|g| render::group(&base, g)).collect()))
}

async fn create_group(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let mut m = entity(&body, "group")?;
    let req = GroupCreate {
        name: require_str(&mut m, "name")?,
        domain_id: take_str(&mut m, "domain_id")?,
        description: take_str(&mut m, "description")?,
        extra: extras(m),
    };
    let g = s.control.create_group(&ctx, req).await?;
    created(json!({"group": render::group(&links_base(&s), &g)}))
}

async fn get_group(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let g = s.control.get_group(&ctx, &id).await?;
    ok(json!({"group": render::group(&links_base(&s), &g)}))
}

async fn update_group(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let mut m = entity(&body, "group")?;
    let req = GroupUpdate {
        name: take_str(&mut m, "name")?,
        description: take_str(&mut m, "description")?,
        domain_id: take_str(&mut m, "domain_id")?,
        extra: extras(m),
    };
    let g = s.control.update_group(&ctx, &id, req).await?;
    ok(json!({"group": render::group(&links_base(&s), &g)}))
}

async fn delete_group(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_group(&ctx, &id).await?;
    no_content()
}

async fn group_users(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    let list = s.control.list_group_users(&ctx, &id, &page(&q)?).await?;
    let base = links_base(&s);
    ok(render::list(&base, "users", list.iter().map(|u| render::user(&base, u)).collect()))
}

async fn add_member(State(s): State<AppState>, Auth(ctx): Auth, Path((g, u)): Path<(String, String)>) -> ApiResult {
    s.control.set_group_member(&ctx, &g, &u, true).await?;
    no_content()
}

async fn check_member(State(s): State<AppState>, Auth(ctx): Auth, Path((g, u)): Path<(String, String)>) -> ApiResult {
    s.control.check_group_member(&ctx, &g, &u).await?;
    no_content()
}

async fn remove_member(State(s): State<AppState>, Auth(ctx): Auth, Path((g, u)): Path<(String, String)>) -> ApiResult {
    s.control.set_group_member(&ctx, &g, &u, false).await?;
    no_content()
}

// ---- roles and grants ----

async fn list_roles(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Q) -> ApiResult {
    let list = s
        .control
        .list_roles(&ctx, q.get("name").map(String::as_str), q.get("domain_id").map(String::as_str), &page(&q)?)
        .await?;
    let base = links_base(&s);
    ok(render::list(&base, "roles", list.iter().map(|r| render::role(&base, r)).collect()))
}

async fn create_role(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let mut m = entity(&body, "role")?;
    let req = RoleCreate {
        name: require_str(&mut m, "name")?,
        domain_id: take_str(&mut m, "domain_id")?,
        description: take_str(&mut m, "description")?,
        extra: extras(m),
    };
    let r = s.control.create_role(&ctx, req).await?;
    created(json!({"role": render::role(&links_base(&s), &r)}))
}

async fn get_role(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let r = s.control.get_role(&ctx, &id).await?;
    ok(json!({"role": render::role(&links_base(&s), &r)}))
}

async fn update_role(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let mut m = entity(&body, "role")?;
    m.remove("domain_id");
    let req =
        RoleUpdate { name: take_str(&mut m, "name")?, description: take_str(&mut m, "description")?, extra: extras(m) };
    let r = s.control.update_role(&ctx, &id, req).await?;
    ok(json!({"role": render::role(&links_base(&s), &r)}))
}

async fn delete_role(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_role(&ctx, &id).await?;
    no_content()
}

#[derive(Clone, Copy)]
enum Op {
    Put,
    Check,
    Delete,
}

async fn grant(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((target_id, actor_id, role_id)): Path<(String, String, String)>,
    actor_type: &'static str,
    target_type: &'static str,
    inherited: bool,
    op: Op,
) -> ApiResult {
    let g = Grant { actor_type, actor_id, target_type, target_id, role_id, inherited };
    match op {
        Op::Put => s.control.grant_role(&ctx, g).await?,
        Op::Check => s.control.check_grant_exists(&ctx, g).await?,
        Op::Delete => s.control.revoke_role(&ctx, g).await?,
    }
    no_content()
}

async fn list_grants(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((target_id, actor_id)): Path<(String, String)>,
    actor_type: &'static str,
    target_type: &'static str,
    inherited: bool,
) -> ApiResult {
    let roles = s.control.list_grants(&ctx, actor_type, &actor_id, target_type, &target_id, inherited).await?;
    let base = links_base(&s);
    ok(render::list(&base, "roles", roles.iter().map(|r| render::role(&base, r)).collect()))
}

async fn list_role_assignments(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Q) -> ApiResult {
    let query = AssignmentQuery {
        user_id: q.get("user.id").cloned(),
        group_id: q.get("group.id").cloned(),
        project_id: q.get("scope.project.id").cloned(),
        domain_id: q.get("scope.domain.id").cloned(),
        role_id: q.get("role.id").cloned(),
        system: q.contains_key("scope.system"),
        effective: q.contains_key("effective"),
    };
    let list = s.control.list_role_assignments(&ctx, &query).await?;
    let names = if q.contains_key("include_names") { Some(s.control.assignment_names(&list).await?) } else { None };
    let base = links_base(&s);
    let items = list.iter().map(|a| render::assignment(&base, a, names.as_ref())).collect();
    ok(render::list(&base, "role_assignments", items))
}

// ---- credentials ----

async fn list_credentials(State(s): State<AppState>, Auth(ctx): Auth, Query(q): Q) -> ApiResult {
    let list = s
        .control
        .list_credentials(&ctx, q.get("user_id").map(String::as_str), q.get("type").map(String::as_str), &page(&q)?)
        .await?;
    let base = links_base(&s);
    ok(render::list(&base, "credentials", list.iter().map(|c| render::credential(&base, c)).collect()))
}

async fn create_credential(State(s): State<AppState>, Auth(ctx): Auth, body: Bytes) -> ApiResult {
    let mut m = entity(&body, "credential")?;
    let req = CredentialCreate {
        user_id: require_str(&mut m, "user_id")?,
        project_id: take_str(&mut m, "project_id")?,
        cred_type: require_str(&mut m, "type")?,
        blob: require_str(&mut m, "blob")?,
    };
    let c = s.control.create_credential(&ctx, req).await?;
    created(json!({"credential": render::credential(&links_base(&s), &c)}))
}

async fn get_credential(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    let c = s.control.get_credential(&ctx, &id).await?;
    ok(json!({"credential": render::credential(&links_base(&s), &c)}))
}

async fn update_credential(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let mut m = entity(&body, "credential")?;
    let req = CredentialUpdate {
        project_id: take_str(&mut m, "project_id")?,
        cred_type: take_str(&mut m, "type")?,
        blob: take_str(&mut m, "blob")?,
        status: None,
        description: None,
    };
    let c = s.control.update_credential(&ctx, &id, req).await?;
    ok(json!({"credential": render::credential(&links_base(&s), &c)}))
}

async fn delete_credential(State(s): State<AppState>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult {
    s.control.delete_credential(&ctx, &id).await?;
    no_content()
}

// ---- regions, services, endpoints (read-only, derived from the region's catalogue) ----

fn region_doc(s: &AppState, id: &str) -> Value {
    json!({"id": id, "description": "", "parent_region_id": null,
           "links": {"self": format!("{}/regions/{id}", links_base(s))}})
}

async fn list_regions(State(s): State<AppState>, Auth(_): Auth) -> ApiResult {
    let region = s.control.config().region.clone();
    ok(render::list(&links_base(&s), "regions", vec![region_doc(&s, &region)]))
}

async fn get_region(State(s): State<AppState>, Auth(_): Auth, Path(id): Path<String>) -> ApiResult {
    if id != s.control.config().region {
        return Err(Error::not_found("region", id).into());
    }
    ok(json!({"region": region_doc(&s, &id)}))
}

fn services(s: &AppState) -> Vec<Value> {
    s.control
        .catalog(None)
        .into_iter()
        .map(|c| {
            json!({"id": c.id, "type": c.service_type, "name": c.name, "enabled": true, "description": "",
                        "links": {"self": format!("{}/services/{}", links_base(s), c.id)}})
        })
        .collect()
}

async fn list_services(State(s): State<AppState>, Auth(_): Auth, Query(q): Q) -> ApiResult {
    let mut list = services(&s);
    if let Some(t) = q.get("type") {
        list.retain(|v| v["type"] == json!(t));
    }
    ok(render::list(&links_base(&s), "services", list))
}

async fn get_service(State(s): State<AppState>, Auth(_): Auth, Path(id): Path<String>) -> ApiResult {
    let found = services(&s).into_iter().find(|v| v["id"] == json!(id));
    match found {
        Some(v) => ok(json!({"service": v})),
        None => Err(Error::not_found("service", id).into()),
    }
}

async fn list_endpoints(State(s): State<AppState>, Auth(_): Auth) -> Result<Response, crate::error::ApiError> {
    let mut out = Vec::new();
    for c in s.control.catalog(None) {
        for e in c.endpoints {
            out.push(json!({"id": e.id, "interface": e.interface, "region": e.region, "region_id": e.region_id,
                            "url": e.url, "service_id": c.id, "enabled": true,
                            "links": {"self": format!("{}/endpoints/{}", links_base(&s), e.id)}}));
        }
    }
    ok(render::list(&links_base(&s), "endpoints", out))
}
