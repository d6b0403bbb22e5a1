//! Identity (Keystone v3 compatible, plus the seed's IAM): domains, projects, users, groups,
//! roles, role assignments, access keys and tokens.
//!
//! One file per resource. Passwords are argon2id hashes; tokens are random and stored only
//! as SHA-256 hashes; access-key secrets are kept because signature checks need them.

mod assignment;
pub mod bootstrap;
mod credential;
mod domain;
mod group;
pub mod password;
mod project;
mod purge;
mod role;
pub mod token;
mod user;

pub use assignment::{AssignmentNames, AssignmentQuery, Grant};
pub use credential::{AccessKeyCreated, CredentialCreate, CredentialUpdate};
pub use domain::{DomainCreate, DomainUpdate};
pub use group::{GroupCreate, GroupUpdate};
pub use project::{ProjectCreate, ProjectListQuery, ProjectUpdate, TagEdit, TAG_KIND as PROJECT_TAG_KIND};
pub use role::{RoleCreate, RoleUpdate};
pub use token::{AuthIdentity, AuthRequest, AuthScope, IssuedToken, NameOrId, UserRef};
pub use user::{UserCreate, UserListQuery, UserUpdate};

use crate::Control;
use nimbus_core::Error;
use nimbus_store::identity as repo;
use sqlx::AnyConnection;

/// The id of the domain created at first start (Keystone's own default id).
pub const DEFAULT_DOMAIN_ID: &str = "default";

/// Registers the identity job types with the job runner.
pub fn register_jobs(registry: &mut crate::jobs::JobRegistry) {
    registry.register(std::sync::Arc::new(purge::ProjectPurge));
}

/// Validates a resource name: 1 to 255 characters, not only blanks, no control characters.
pub fn validate_name(kind: &str, name: &str) -> Result<(), Error> {
    if name.trim().is_empty() {
        return Err(Error::bad_request(format!("The {kind} name must not be empty.")));
    }
    // Keystone's limits: 64 characters for domains, projects and groups, 255 for the rest.
    let max = if matches!(kind, "domain" | "project" | "group") { 64 } else { 255 };
    if name.chars().count() > max {
        return Err(Error::bad_request(format!("The {kind} name is longer than {max} characters.")));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(Error::bad_request(format!("The {kind} name contains control characters.")));
    }
    Ok(())
}

/// The domain a new user, group or project goes into (the one asked for, else the caller's,
/// else the default domain), once the caller is allowed to create `kind` there and the name
/// is valid.
pub(crate) fn creation_domain(
    ctx: &crate::Ctx,
    requested: Option<&str>,
    kind: &str,
    name: &str,
) -> Result<String, Error> {
    let domain_id = requested
        .map(str::to_string)
        .or_else(|| ctx.principal.scope_domain_id().map(str::to_string))
        .unwrap_or_else(|| DEFAULT_DOMAIN_ID.to_string());
    crate::authz::authorize(
        &format!("identity:create_{kind}"),
        &ctx.principal,
        &crate::authz::Target { domain_id: Some(&domain_id), ..Default::default() },
    )?;
    validate_name(kind, name)?;
    Ok(domain_id)
}

/// Merges a JSON object of extra attributes into a stored `extra` document.
pub(crate) fn merge_extra(stored: &str, update: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut base: serde_json::Map<String, serde_json::Value> = serde_json::from_str(stored).unwrap_or_default();
    for (k, v) in update {
        base.insert(k.clone(), v.clone());
    }
    serde_json::Value::Object(base).to_string()
}

impl Control {
    /// Finds a domain by id or by name.
    pub(crate) async fn resolve_domain(&self, c: &mut AnyConnection, sel: &NameOrId) -> Result<repo::Domain, Error> {
        let found = match (&sel.id, &sel.name) {
            (Some(id), _) => repo::get_domain(c, id).await?,
            (None, Some(name)) => repo::get_domain_by_name(c, name).await?,
            (None, None) => return Err(Error::bad_request("A domain must be given by id or name.")),
        };
        found.ok_or_else(|| Error::not_found("domain", sel.id.clone().or_else(|| sel.name.clone()).unwrap_or_default()))
    }
}
