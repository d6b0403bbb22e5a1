//! Keystone JSON documents for each resource.

use nimbus_control::catalog::CatalogService;
use nimbus_control::{Principal, Scope};
use nimbus_core::time::keystone_time;
use nimbus_store::identity::{Assignment, Credential, Domain, Group, Project, Role, User};
use serde_json::{json, Map, Value};

fn with_extra(mut v: Value, extra: &str) -> Value {
    if let (Value::Object(obj), Ok(Value::Object(extra))) = (&mut v, serde_json::from_str::<Value>(extra)) {
        for (k, val) in extra {
            obj.entry(k).or_insert(val);
        }
    }
    v
}

fn link(base: &str, collection: &str, id: &str) -> Value {
    json!({"self": format!("{base}/{collection}/{id}")})
}

pub fn domain(base: &str, d: &Domain) -> Value {
    with_extra(
        json!({
            "id": d.id, "name": d.name, "description": d.description, "enabled": d.enabled,
            "tags": [], "options": {}, "links": link(base, "domains", &d.id),
        }),
        &d.extra,
    )
}

pub fn project(base: &str, p: &Project, tags: Vec<String>) -> Value {
    with_extra(
        json!({
            "id": p.id, "name": p.name, "domain_id": p.domain_id,
            "parent_id": p.parent_id.clone().unwrap_or_else(|| p.domain_id.clone()),
            "description": p.description, "enabled": p.enabled, "is_domain": false,
            "tags": tags, "options": {}, "links": link(base, "projects", &p.id),
        }),
        &p.extra,
    )
}

pub fn user(base: &str, u: &User) -> Value {
    let mut v = json!({
        "id": u.id, "name": u.name, "domain_id": u.domain_id, "enabled": u.enabled,
        "password_expires_at": Value::Null, "options": {}, "links": link(base, "users", &u.id),
    });
    if let Some(p) = &u.default_project_id {
        v["default_project_id"] = json!(p);
    }
    if let Some(e) = &u.email {
        v["email"] = json!(e);
    }
    if !u.description.is_empty() {
        v["description"] = json!(u.description);
    }
    with_extra(v, &u.extra)
}

pub fn group(base: &str, g: &Group) -> Value {
    with_extra(
        json!({"id": g.id, "name": g.name, "domain_id": g.domain_id, "description": g.description,
               "links": link(base, "groups", &g.id)}),
        &g.extra,
    )
}

pub fn role(base: &str, r: &Role) -> Value {
    let domain = if r.domain_id.is_empty() { Value::Null } else { json!(r.domain_id) };
    with_extra(
        json!({"id": r.id, "name": r.name, "domain_id": domain, "description": r.description, "options": {},
               "links": link(base, "roles", &r.id)}),
        &r.extra,
    )
}

pub fn credential(base: &str, c: &Credential) -> Value {
    json!({"id": c.id, "user_id": c.user_id, "project_id": c.project_id, "type": c.cred_type, "blob": c.blob,
           "links": link(base, "credentials", &c.id)})
}

/// `{"id"}`, plus `name` and `domain` when names were asked for.
fn party(id: &str, names: Option<&nimbus_control::identity::AssignmentNames>) -> Value {
    let mut v = json!({"id": id});
    if let Some((name, domain)) = names.and_then(|n| n.names.get(id)) {
        v["name"] = json!(name);
        if let Some((did, dname)) = domain {
            v["domain"] = json!({"id": did, "name": dname});
        }
    }
    v
}

pub fn assignment(base: &str, a: &Assignment, names: Option<&nimbus_control::identity::AssignmentNames>) -> Value {
    let mut scope = Map::new();
    if a.target_type == "system" {
        scope.insert("system".into(), json!({"all": true}));
    } else {
        scope.insert(a.target_type.clone(), party(&a.target_id, names));
    }
    if a.inherited {
        scope.insert("OS-INHERIT:inherited_to".into(), json!("projects"));
    }
    let targets = match a.target_type.as_str() {
        "project" => format!("projects/{}", a.target_id),
        "system" => "system".to_string(),
        _ => format!("domains/{}", a.target_id),
    };
    let actors = if a.actor_type == "user" { "users" } else { "groups" };
    json!({
        "role": party(&a.role_id, names),
        a.actor_type.clone(): party(&a.actor_id, names),
        "scope": scope,
        "links": {"assignment": format!("{base}/{targets}/{actors}/{}/roles/{}", a.actor_id, a.role_id)},
    })
}

/// A collection document with Keystone's `links`.
pub fn list(base: &str, collection: &str, items: Vec<Value>) -> Value {
    json!({ collection: items, "links": {"self": format!("{base}/{collection}"), "previous": null, "next": null} })
}

/// The `token` document of `POST`/`GET /v3/auth/tokens`.
pub fn token(p: &Principal, catalog: Option<Vec<CatalogService>>) -> Value {
    let mut t = json!({
        "methods": p.methods,
        "user": {
            "id": p.user_id, "name": p.user_name,
            "domain": {"id": p.user_domain_id, "name": p.user_domain_name},
            "password_expires_at": null,
        },
        "audit_ids": [p.audit_id],
        "expires_at": keystone_time(p.expires_at),
        "issued_at": keystone_time(p.issued_at),
    });
    match &p.scope {
        Scope::Project { id, name, domain_id, domain_name } => {
            t["project"] = json!({"id": id, "name": name, "domain": {"id": domain_id, "name": domain_name}});
            t["is_domain"] = json!(false);
        }
        Scope::Domain { id, name } => {
            t["domain"] = json!({"id": id, "name": name});
        }
        Scope::System => {
            t["system"] = json!({"all": true});
        }
        Scope::Unscoped => {}
    }
    if p.scope != Scope::Unscoped {
        t["roles"] = json!(p.roles.iter().map(|r| json!({"id": r.id, "name": r.name})).collect::<Vec<_>>());
        if let Some(c) = catalog {
            t["catalog"] = json!(c);
        }
    }
    json!({ "token": t })
}
