//! Role assignments: a role granted to a user or group on a project or domain.

use crate::audit::AuditEvent;
use crate::authz::{authorize, authorize_visible, Target};
use crate::{Control, Ctx};
use nimbus_core::Error;
use nimbus_store::identity::{self as repo, Assignment, AssignmentFilter, Role};
use sqlx::AnyConnection;

/// One grant, as addressed by the Keystone URL
/// `/{projects|domains}/{target}/{users|groups}/{actor}/roles/{role}`.
#[derive(Debug, Clone)]
pub struct Grant {
    pub actor_type: &'static str,
    pub actor_id: String,
    pub target_type: &'static str,
    pub target_id: String,
    pub role_id: String,
    /// Keystone's OS-INHERIT: a domain grant that applies to every project of the domain.
    pub inherited: bool,
}

/// Filters of `GET /v3/role_assignments`.
#[derive(Debug, Clone, Default)]
pub struct AssignmentQuery {
    pub user_id: Option<String>,
    pub group_id: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub role_id: Option<String>,
    /// Only system assignments (`scope.system=all`).
    pub system: bool,
    /// Expand group grants into per-user grants (Keystone `effective`).
    pub effective: bool,
}

impl Control {
    /// Checks the grant's parts exist and the caller may manage grants on the target's domain;
    /// returns the role and the target's domain.
    async fn check_grant(&self, c: &mut AnyConnection, ctx: &Ctx, g: &Grant) -> Result<Role, Error> {
        if g.target_type == "system" {
            authorize("identity:grant_system", &ctx.principal, &Target::default())?;
            return self.check_grant_parties(c, g).await;
        }
        let target_domain = match g.target_type {
            "project" => repo::get_project(c, &g.target_id).await?.map(|p| p.domain_id),
            _ => repo::get_domain(c, &g.target_id).await?.map(|d| d.id),
        };
        let kind = if g.target_type == "project" { "project" } else { "domain" };
        let Some(domain_id) = target_domain else {
            return Err(Error::not_found(kind, &g.target_id));
        };
        // Someone who may not even see the target learns nothing about it: 404, not 403.
        let (read, t) = if g.target_type == "project" {
            (
                "identity:get_project",
                Target { project_id: Some(&g.target_id), domain_id: Some(&domain_id), ..Default::default() },
            )
        } else {
            ("identity:get_domain", Target { domain_id: Some(&domain_id), ..Default::default() })
        };
        authorize_visible(read, "identity:grant", &ctx.principal, &t, kind, &g.target_id)?;
        let role = self.check_grant_parties(c, g).await?;
        // Only the operator hands out the operator role.
        if role.name == "admin" && !ctx.principal.is_admin() {
            return Err(Error::Forbidden("Only an administrator can grant the admin role.".into()));
        }
        Ok(role)
    }

    /// Checks the actor and role of a grant exist; returns the role.
    async fn check_grant_parties(&self, c: &mut AnyConnection, g: &Grant) -> Result<Role, Error> {
        let actor_exists = match g.actor_type {
            "user" => repo::get_user(c, &g.actor_id).await?.is_some(),
            _ => repo::get_group(c, &g.actor_id).await?.is_some(),
        };
        if !actor_exists {
            return Err(Error::not_found(g.actor_type, &g.actor_id));
        }
        repo::get_role(c, &g.role_id).await?.ok_or_else(|| Error::not_found("role", &g.role_id))
    }

    fn row(g: &Grant) -> Assignment {
        Assignment {
            actor_type: g.actor_type.into(),
            actor_id: g.actor_id.clone(),
            target_type: g.target_type.into(),
            target_id: g.target_id.clone(),
            role_id: g.role_id.clone(),
            inherited: g.inherited,
        }
    }

    pub async fn grant_role(&self, ctx: &Ctx, g: Grant) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let role = self.check_grant(&mut tx, ctx, &g).await?;
        repo::grant(&mut tx, &Self::row(&g)).await?;
        let ev = AuditEvent::new("IAM", "role", "grantRole", 204).resource(&role.id, &role.name);
        let ev = if g.target_type == "project" { ev.in_project(&g.target_id) } else { ev };
        self.audit(&mut tx, ctx, ev).await?;
        tx.commit().await
    }

    pub async fn revoke_role(&self, ctx: &Ctx, g: Grant) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let role = self.check_grant(&mut tx, ctx, &g).await?;
        if !repo::revoke(&mut tx, &Self::row(&g)).await? {
            return Err(Error::not_found("role assignment", format!("{} on {}", g.role_id, g.target_id)));
        }
        let ev = AuditEvent::new("IAM", "role", "revokeRole", 204).resource(&role.id, &role.name);
        let ev = if g.target_type == "project" { ev.in_project(&g.target_id) } else { ev };
        self.audit(&mut tx, ctx, ev).await?;
        tx.commit().await
    }

    /// `HEAD .../roles/{role}`: 204 when granted, 404 otherwise.
    pub async fn check_grant_exists(&self, ctx: &Ctx, g: Grant) -> Result<(), Error> {
        let mut c = self.store().read().await?;
        self.check_grant(&mut c, ctx, &g).await?;
        let f = AssignmentFilter {
            actor_type: Some(g.actor_type.into()),
            actor_id: Some(g.actor_id.clone()),
            target_type: Some(g.target_type.into()),
            target_id: Some(g.target_id.clone()),
            role_id: Some(g.role_id.clone()),
            inherited: Some(g.inherited),
        };
        if repo::list_assignments(&mut c, &f).await?.is_empty() {
            Err(Error::not_found("role assignment", format!("{} on {}", g.role_id, g.target_id)))
        } else {
            Ok(())
        }
    }

    /// Roles granted directly to an actor on a target (`GET .../users/{u}/roles`).
    pub async fn list_grants(
        &self,
        ctx: &Ctx,
        actor_type: &'static str,
        actor_id: &str,
        target_type: &'static str,
        target_id: &str,
        inherited: bool,
    ) -> Result<Vec<Role>, Error> {
        let mut c = self.store().read().await?;
        let probe = Grant {
            actor_type,
            actor_id: actor_id.into(),
            target_type,
            target_id: target_id.into(),
            role_id: String::new(),
            inherited,
        };
        // Reuse the existence and permission checks; the role is looked up per row below.
        match self.check_grant(&mut c, ctx, &probe).await {
            Err(Error::NotFound { kind: "role", .. }) => {}
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let f = AssignmentFilter {
            actor_type: Some(actor_type.into()),
            actor_id: Some(actor_id.into()),
            target_type: Some(target_type.into()),
            target_id: Some(target_id.into()),
            role_id: None,
            inherited: Some(inherited),
        };
        let mut roles = Vec::new();
        for a in repo::list_assignments(&mut c, &f).await? {
            if let Some(r) = repo::get_role(&mut c, &a.role_id).await? {
                roles.push(r);
            }
        }
        Ok(roles)
    }

    /// `GET /v3/role_assignments`.
    pub async fn list_role_assignments(&self, ctx: &Ctx, q: &AssignmentQuery) -> Result<Vec<Assignment>, Error> {
        let mut c = self.store().read().await?;
        if !ctx.principal.can_read_all() {
            // Managers see assignments inside their domain only.
            let domain = ctx.principal.scope_domain_id().map(str::to_string);
            authorize(
                "identity:list_role_assignments",
                &ctx.principal,
                &Target { domain_id: domain.as_deref(), ..Default::default() },
            )?;
        }
        let (target_type, target_id) = match (&q.project_id, &q.domain_id) {
            _ if q.system => (Some("system".to_string()), Some("all".to_string())),
            (Some(p), _) => (Some("project".to_string()), Some(p.clone())),
            (None, Some(d)) => (Some("domain".to_string()), Some(d.clone())),
            _ => (None, None),
        };
        let (actor_type, actor_id) = match (&q.user_id, &q.group_id) {
            (Some(u), _) if !q.effective => (Some("user".to_string()), Some(u.clone())),
            (_, Some(g)) => (Some("group".to_string()), Some(g.clone())),
            _ => (None, None),
        };
        let f = AssignmentFilter {
            actor_type,
            actor_id,
            target_type,
            target_id,
            role_id: q.role_id.clone(),
            inherited: None,
        };
        let mut rows = repo::list_assignments(&mut c, &f).await?;
        if q.effective {
            rows = self.expand_inherited(&mut c, q, &f, rows).await?;
        }
        let mut out = Vec::new();
        for a in rows {
            if q.effective {
                // Domain-specific roles are never effective by themselves.
                let global = repo::get_role(&mut c, &a.role_id).await?.is_some_and(|r| r.domain_id.is_empty());
                if !global {
                    continue;
                }
            }
            if q.effective && a.actor_type == "group" {
                // Expand the group into its members.
                let members =
                    repo::list_users(&mut c, None, None, None, Some(&a.actor_id), &Default::default()).await?;
                for m in members {
                    out.push(Assignment { actor_type: "user".into(), actor_id: m.id, ..a.clone() });
                }
            } else {
                out.push(a);
            }
        }
        if let Some(u) = &q.user_id {
            out.retain(|a| a.actor_type == "user" && a.actor_id == *u);
        }
        if !ctx.principal.can_read_all() {
            let own = ctx.principal.scope_domain_id().unwrap_or_default().to_string();
            let mut visible = Vec::new();
            for a in out {
                let domain = match a.target_type.as_str() {
                    "project" => repo::get_project(&mut c, &a.target_id).await?.map(|p| p.domain_id),
                    _ => Some(a.target_id.clone()),
                };
                if domain.as_deref() == Some(own.as_str()) {
                    visible.push(a);
                }
            }
            out = visible;
        }
        Ok(out)
    }
}

impl Control {
    /// Keystone `effective`: a domain grant inherited to projects (OS-INHERIT) becomes one
    /// assignment per project of the domain (or only the project asked about), and never
    /// shows as a domain assignment.
    async fn expand_inherited(
        &self,
        c: &mut AnyConnection,
        q: &AssignmentQuery,
        f: &AssignmentFilter,
        mut rows: Vec<Assignment>,
    ) -> Result<Vec<Assignment>, Error> {
        if let Some(pid) = &q.project_id {
            if let Some(p) = repo::get_project(c, pid).await? {
                let from_domain = AssignmentFilter {
                    target_type: Some("domain".into()),
                    target_id: Some(p.domain_id),
                    inherited: Some(true),
                    ..f.clone()
                };
                rows.extend(repo::list_assignments(c, &from_domain).await?);
            }
        }
        let mut out = Vec::new();
        for a in rows {
            if !(a.inherited && a.target_type == "domain") {
                out.push(a);
                continue;
            }
            if q.domain_id.is_some() {
                continue; // applies to the domain's projects, not to the domain itself
            }
            let projects: Vec<String> = match &q.project_id {
                Some(pid) => vec![pid.clone()],
                None => {
                    let in_domain = repo::ProjectFilter { domain_id: Some(a.target_id.clone()), ..Default::default() };
                    let all = nimbus_core::page::PageRequest { limit: Some(100_000), marker: None };
                    repo::list_projects(c, &in_domain, &all).await?.into_iter().map(|p| p.id).collect()
                }
            };
            for pid in projects {
                out.push(Assignment { target_type: "project".into(), target_id: pid, inherited: false, ..a.clone() });
            }
        }
        Ok(out)
    }
}

/// Display names of the parties of some assignments (Keystone `include_names`): for each id,
/// its name and the name of its domain.
#[derive(Debug, Default, Clone)]
pub struct AssignmentNames {
    pub names: std::collections::HashMap<String, (String, Option<(String, String)>)>,
}

impl Control {
    /// Names the roles, actors and targets of assignments the caller was allowed to list.
    pub async fn assignment_names(&self, list: &[Assignment]) -> Result<AssignmentNames, Error> {
        let mut c = self.store().read().await?;
        let mut out = AssignmentNames::default();
        let mut domain_name = std::collections::HashMap::new();
        for d in
            repo::list_domains(&mut c, None, None, &nimbus_core::page::PageRequest { limit: Some(1000), marker: None })
                .await?
        {
            domain_name.insert(d.id.clone(), d.name.clone());
        }
        let dom = |id: &str| Some((id.to_string(), domain_name.get(id).cloned().unwrap_or_default()));
        for a in list {
            if let Some(r) = repo::get_role(&mut c, &a.role_id).await? {
                let d = if r.domain_id.is_empty() { None } else { dom(&r.domain_id) };
                out.names.insert(r.id, (r.name, d));
            }
            match a.actor_type.as_str() {
                "user" => {
                    if let Some(u) = repo::get_user(&mut c, &a.actor_id).await? {
                        out.names.insert(u.id, (u.name, dom(&u.domain_id)));
                    }
                }
                _ => {
                    if let Some(g) = repo::get_group(&mut c, &a.actor_id).await? {
                        out.names.insert(g.id, (g.name, dom(&g.domain_id)));
                    }
                }
            }
            match a.target_type.as_str() {
                "project" => {
                    if let Some(p) = repo::get_project(&mut c, &a.target_id).await? {
                        out.names.insert(p.id, (p.name, dom(&p.domain_id)));
                    }
                }
                _ => {
                    if let Some(n) = domain_name.get(&a.target_id) {
                        out.names.insert(a.target_id.clone(), (n.clone(), None));
                    }
                }
            }
        }
        Ok(out)
    }
}
