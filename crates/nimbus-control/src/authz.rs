//! Authorisation in one place: a policy table of action -> rules.
//!
//! Every service method calls [`authorize`] (or [`authorize_visible`]) first. A rule names
//! who may act: the cloud `admin`, a role held in the target's project, a `manager` of the
//! target's domain, or the owner of the target. Denials on a specific resource the caller
//! may not even read are reported as 404, so tenants cannot probe each other's ids.

use crate::context::Principal;
use nimbus_core::Error;

/// Who may perform an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The cloud operator (`admin` role).
    Admin,
    /// A token scoped to the target project holding one of these roles.
    ProjectRole(&'static [&'static str]),
    /// A token scoped to the target domain, or to a project in it, holding one of these roles.
    DomainRole(&'static [&'static str]),
    /// A token scoped to the target domain itself holding one of these roles: the customer's
    /// account administrators (`manager`), who manage users and projects of their domain.
    DomainScoped(&'static [&'static str]),
    /// The user the target belongs to.
    Owner,
    /// A system-scoped token with any role: the operators' read-only view of the region.
    SystemReader,
    /// Any authenticated caller.
    Anyone,
}

use Rule::*;

const READERS: &[&str] = &["reader", "member", "manager"];
const MEMBERS: &[&str] = &["member", "manager"];
const MANAGERS: &[&str] = &["manager"];

/// The policy table: every action the service layer performs, and who may perform it.
pub const POLICY: &[(&str, &[Rule])] = &[
    // Identity: domains
    ("identity:list_domains", &[Admin, SystemReader]),
    ("identity:get_domain", &[Admin, SystemReader, DomainRole(READERS)]),
    ("identity:create_domain", &[Admin]),
    ("identity:update_domain", &[Admin]),
    ("identity:delete_domain", &[Admin]),
    // Identity: projects
    ("identity:list_projects", &[Admin, SystemReader, DomainScoped(MANAGERS)]),
    ("identity:get_project", &[Admin, SystemReader, ProjectRole(READERS), DomainScoped(MANAGERS)]),
    ("identity:create_project", &[Admin, DomainScoped(MANAGERS)]),
    ("identity:update_project", &[Admin, DomainScoped(MANAGERS)]),
    ("identity:delete_project", &[Admin, DomainScoped(MANAGERS)]),
    ("identity:list_user_projects", &[Admin, SystemReader, DomainScoped(MANAGERS), Owner]),
    // Identity: users
    ("identity:list_users", &[Admin, SystemReader, DomainScoped(MANAGERS)]),
    ("identity:get_user", &[Admin, SystemReader, DomainScoped(MANAGERS), Owner]),
    ("identity:create_user", &[Admin, DomainScoped(MANAGERS)]),
    ("identity:update_user", &[Admin, DomainScoped(MANAGERS)]),
    ("identity:delete_user", &[Admin, DomainScoped(MANAGERS)]),
    ("identity:change_password", &[Admin, Owner]),
    // Identity: groups
    ("identity:list_groups", &[Admin, SystemReader, DomainScoped(MANAGERS)]),
    ("identity:get_group", &[Admin, SystemReader, DomainScoped(MANAGERS)]),
    ("identity:create_group", &[Admin, DomainScoped(MANAGERS)]),
    ("identity:update_group", &[Admin, DomainScoped(MANAGERS)]),
    ("identity:delete_group", &[Admin, DomainScoped(MANAGERS)]),
    ("identity:list_user_groups", &[Admin, SystemReader, DomainScoped(MANAGERS), Owner]),
    // Identity: roles and assignments
    ("identity:list_roles", &[Anyone]),
    ("identity:get_role", &[Anyone]),
    ("identity:create_role", &[Admin]),
    ("identity:update_role", &[Admin]),
    ("identity:delete_role", &[Admin]),
    ("identity:grant", &[Admin, DomainScoped(MANAGERS)]),
    ("identity:grant_system", &[Admin]),
    ("identity:list_role_assignments", &[Admin, SystemReader, DomainScoped(MANAGERS)]),
    // Identity: credentials (access keys)
    ("identity:list_credentials", &[Admin, SystemReader, Owner]),
    ("identity:get_credential", &[Admin, SystemReader, Owner]),
    ("identity:create_credential", &[Admin, Owner]),
    ("identity:update_credential", &[Admin, Owner]),
    ("identity:delete_credential", &[Admin, Owner]),
    // Region catalogue
    ("identity:list_regions", &[Anyone]),
    ("identity:list_services", &[Anyone]),
    // Audit (CTS)
    ("cts:list_traces", &[Admin, SystemReader, ProjectRole(READERS)]),
    ("cts:list_trackers", &[Admin, SystemReader, ProjectRole(READERS)]),
    ("cts:create_tracker", &[Admin, ProjectRole(MEMBERS)]),
    // Images (visibility rules are applied by the image service itself)
    ("image:create", &[Admin, ProjectRole(MEMBERS)]),
    ("image:modify", &[Admin, ProjectRole(MEMBERS)]),
    ("image:publicize", &[Admin]),
    ("image:share", &[Admin, ProjectRole(MEMBERS)]),
    // Compute catalogue
    ("compute:manage_flavors", &[Admin]),
    // Servers and server groups
    ("compute:get", &[Admin, SystemReader, ProjectRole(READERS)]),
    ("compute:create", &[Admin, ProjectRole(MEMBERS)]),
    ("compute:update", &[Admin, ProjectRole(MEMBERS)]),
    ("compute:delete", &[Admin, ProjectRole(MEMBERS)]),
    ("compute:action", &[Admin, ProjectRole(MEMBERS)]),
    ("compute:console", &[Admin, ProjectRole(MEMBERS)]),
    ("compute:hypervisors", &[Admin, SystemReader]),
    ("compute:reset_state", &[Admin]),
    // Block storage
    ("volume:get", &[Admin, SystemReader, ProjectRole(READERS)]),
    ("volume:create", &[Admin, ProjectRole(MEMBERS)]),
    ("volume:update", &[Admin, ProjectRole(MEMBERS)]),
    ("volume:extend", &[Admin, ProjectRole(MEMBERS)]),
    ("volume:delete", &[Admin, ProjectRole(MEMBERS)]),
    ("volume:attach", &[Admin, ProjectRole(MEMBERS)]),
    ("volume:admin_actions", &[Admin]),
    ("volume:services", &[Admin, SystemReader]),
    ("volume:manage_services", &[Admin]),
    ("backup:get", &[Admin, SystemReader, ProjectRole(READERS)]),
    ("backup:create", &[Admin, ProjectRole(MEMBERS)]),
    ("backup:update", &[Admin, ProjectRole(MEMBERS)]),
    ("backup:delete", &[Admin, ProjectRole(MEMBERS)]),
    ("backup:restore", &[Admin, ProjectRole(MEMBERS)]),
    ("volume:manage_types", &[Admin]),
    ("volume:qos_specs", &[Admin, SystemReader]),
    ("volume:manage_qos", &[Admin]),
    // Virtual networking (shared and external networks are the operators')
    ("network:get", &[Admin, SystemReader, ProjectRole(READERS)]),
    ("network:create", &[Admin, ProjectRole(MEMBERS)]),
    ("network:update", &[Admin, ProjectRole(MEMBERS)]),
    ("network:delete", &[Admin, ProjectRole(MEMBERS)]),
    ("network:manage", &[Admin]),
    // Object storage (another project's bucket is refused with 403, as S3 does)
    ("obs:read", &[Admin, SystemReader, ProjectRole(READERS)]),
    ("obs:write", &[Admin, ProjectRole(MEMBERS)]),
    // Jobs
    ("jobs:get", &[Admin, SystemReader, ProjectRole(READERS)]),
    // Quotas
    ("quota:get", &[Admin, SystemReader, ProjectRole(READERS)]),
    ("quota:update", &[Admin]),
    // Support (the customer's account: the domain of its project; the provider: operators)
    ("support:read", &[Admin, SystemReader, DomainRole(READERS)]),
    ("support:manage", &[Admin, DomainRole(MEMBERS)]),
    ("support:provide", &[Admin]),
    ("billing:read", &[Admin, SystemReader, DomainRole(READERS)]),
    ("billing:manage", &[Admin, DomainRole(MEMBERS)]),
    ("billing:provide", &[Admin]),
    // Tags
    ("tags:read", &[Admin, SystemReader, ProjectRole(READERS), DomainScoped(MANAGERS)]),
    ("tags:write", &[Admin, ProjectRole(MEMBERS), DomainScoped(MANAGERS)]),
];

/// What an action is performed on.
#[derive(Debug, Clone, Default)]
pub struct Target<'a> {
    /// The project the target belongs to.
    pub project_id: Option<&'a str>,
    /// The domain the target belongs to.
    pub domain_id: Option<&'a str>,
    /// The user who owns the target (a user record is owned by itself).
    pub owner_user_id: Option<&'a str>,
}

fn rule_allows(rule: Rule, p: &Principal, t: &Target) -> bool {
    match rule {
        Admin => p.is_admin(),
        Anyone => true,
        SystemReader => p.is_system_reader(),
        Owner => t.owner_user_id.is_some_and(|u| u == p.user_id),
        ProjectRole(roles) => {
            t.project_id.is_some_and(|proj| p.project_id() == Some(proj)) && roles.iter().any(|r| p.has_role(r))
        }
        DomainRole(roles) => {
            t.domain_id.is_some_and(|d| p.scope_domain_id() == Some(d)) && roles.iter().any(|r| p.has_role(r))
        }
        DomainScoped(roles) => {
            matches!(&p.scope, crate::Scope::Domain { id, .. } if t.domain_id == Some(id.as_str()))
                && roles.iter().any(|r| p.has_role(r))
        }
    }
}

/// Whether `p` may perform `action` on `target`.
pub fn allowed(action: &str, p: &Principal, target: &Target) -> bool {
    match POLICY.iter().find(|(a, _)| *a == action) {
        Some((_, rules)) => rules.iter().any(|r| rule_allows(*r, p, target)),
        // An action missing from the table is a programming error: deny, loudly in debug.
        None => {
            debug_assert!(false, "action {action} missing from the policy table");
            false
        }
    }
}

/// The customer account (domain) a call of the customer space acts on: the caller's (the
/// domain of its scope), or for the provider's operators (`{family}:provide`) the one named;
/// another account named by a customer is not found. Then `{family}:read` or `:manage`.
pub fn account_of(p: &Principal, asked: Option<&str>, family: &str, write: bool) -> Result<String, Error> {
    let own = p.scope_domain_id().map(str::to_string);
    let domain = match (asked.filter(|a| !a.is_empty()), own) {
        (Some(a), Some(o)) if a == o => o,
        (Some(a), _) => {
            authorize(&format!("{family}:provide"), p, &Target::default())
                .map_err(|_| Error::not_found("account", a))?;
            a.to_string()
        }
        (None, Some(o)) => o,
        (None, None) => {
            return Err(Error::Forbidden(format!(
                "The {family} of the customer space belongs to accounts: scope the request to a project or domain."
            )))
        }
    };
    let action = format!("{family}:{}", if write { "manage" } else { "read" });
    authorize(&action, p, &Target { domain_id: Some(&domain), ..Default::default() })?;
    Ok(domain)
}

/// Fails with 403 unless `p` may perform `action` on `target`.
pub fn authorize(action: &str, p: &Principal, target: &Target) -> Result<(), Error> {
    if allowed(action, p, target) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("You are not authorized to perform the requested action: {action}.")))
    }
}

/// For an action on one existing resource: 404 if the caller may not even `read_action` it,
/// 403 if it may read but not perform `action`.
pub fn authorize_visible(
    read_action: &str,
    action: &str,
    p: &Principal,
    target: &Target,
    kind: &'static str,
    id: &str,
) -> Result<(), Error> {
    if !allowed(read_action, p, target) {
        return Err(Error::not_found(kind, id));
    }
    authorize(action, p, target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{RoleRef, Scope};

    fn principal(roles: &[&str], scope: Scope) -> Principal {
        Principal {
            user_id: "u1".into(),
            user_name: "alice".into(),
            user_domain_id: "d1".into(),
            user_domain_name: "D1".into(),
            scope,
            roles: roles.iter().map(|r| RoleRef { id: r.to_string(), name: r.to_string() }).collect(),
            methods: vec!["password".into()],
            audit_id: "a".into(),
            issued_at: 0,
            expires_at: 0,
            access_key: None,
        }
    }

    fn project_scope(id: &str) -> Scope {
        Scope::Project { id: id.into(), name: id.into(), domain_id: "d1".into(), domain_name: "D1".into() }
    }

    #[test]
    fn every_action_has_rules_and_is_unique() {
        let mut names: Vec<_> = POLICY.iter().map(|(a, _)| *a).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
        assert!(POLICY.iter().all(|(_, rules)| !rules.is_empty()));
    }

    #[test]
    fn members_read_their_project_only() {
        let p = principal(&["member"], project_scope("p1"));
        let own = Target { project_id: Some("p1"), ..Default::default() };
        let other = Target { project_id: Some("p2"), ..Default::default() };
        assert!(allowed("cts:list_traces", &p, &own));
        assert!(!allowed("cts:list_traces", &p, &other));
        assert!(!allowed("quota:update", &p, &own));
        let e = authorize_visible("jobs:get", "jobs:get", &p, &other, "job", "j").unwrap_err();
        assert_eq!(e.status(), 404);
    }

    #[test]
    fn readers_cannot_write_and_admin_can_do_anything() {
        let reader = principal(&["reader"], project_scope("p1"));
        let own = Target { project_id: Some("p1"), domain_id: Some("d1"), ..Default::default() };
        assert!(allowed("tags:read", &reader, &own));
        let e = authorize_visible("tags:read", "tags:write", &reader, &own, "project", "p1").unwrap_err();
        assert_eq!(e.status(), 403);
        let admin = principal(&["admin"], project_scope("other"));
        // Admins may do everything except what only the owner may do (an admin resets a
        // password through update_user instead of "changing" someone else's).
        for (action, rules) in POLICY.iter().filter(|(_, rules)| *rules != [Owner]) {
            assert!(allowed(action, &admin, &own), "{action} {rules:?}");
        }
    }

    #[test]
    fn domain_managers_stay_in_their_domain() {
        let m = principal(&["manager"], Scope::Domain { id: "d1".into(), name: "D1".into() });
        assert!(allowed("identity:create_user", &m, &Target { domain_id: Some("d1"), ..Default::default() }));
        assert!(!allowed("identity:create_user", &m, &Target { domain_id: Some("d2"), ..Default::default() }));
        assert!(!allowed("identity:create_domain", &m, &Target::default()));
    }

    #[test]
    fn owners_manage_their_own_credentials() {
        let p = principal(&["member"], project_scope("p1"));
        assert!(allowed("identity:create_credential", &p, &Target { owner_user_id: Some("u1"), ..Default::default() }));
        assert!(!allowed(
            "identity:create_credential",
            &p,
            &Target { owner_user_id: Some("u2"), ..Default::default() }
        ));
    }
}
