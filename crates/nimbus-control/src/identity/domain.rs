//! Domains: customer accounts.

use super::{merge_extra, validate_name, DEFAULT_DOMAIN_ID};
use crate::audit::AuditEvent;
use crate::authz::{authorize, authorize_visible, Target};
use crate::{Control, Ctx};
use nimbus_core::page::PageRequest;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::identity::{self as repo, Domain};
use serde_json::{Map, Value};

/// Fields of a new domain.
#[derive(Debug, Clone, Default)]
pub struct DomainCreate {
    pub name: String,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub extra: Map<String, Value>,
}

/// Changes to a domain.
#[derive(Debug, Clone, Default)]
pub struct DomainUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub extra: Map<String, Value>,
}

fn target(id: &str) -> Target<'_> {
    Target { domain_id: Some(id), ..Default::default() }
}

impl Control {
    pub async fn create_domain(&self, ctx: &Ctx, req: DomainCreate) -> Result<Domain, Error> {
        authorize("identity:create_domain", &ctx.principal, &Target::default())?;
        validate_name("domain", &req.name)?;
        let d = Domain {
            id: nimbus_core::id::new_hex_id(),
            name: req.name,
            description: req.description.unwrap_or_default(),
            enabled: req.enabled.unwrap_or(true),
            extra: merge_extra("{}", &req.extra),
            created_at: now_ms(),
        };
        let mut tx = self.store().write().await?;
        repo::insert_domain(&mut tx, &d).await.map_err(|e| conflict_name(e, &d.name))?;
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "domain", "createDomain", 201).resource(&d.id, &d.name))
            .await?;
        tx.commit().await?;
        Ok(d)
    }

    pub async fn get_domain(&self, ctx: &Ctx, id: &str) -> Result<Domain, Error> {
        authorize_visible("identity:get_domain", "identity:get_domain", &ctx.principal, &target(id), "domain", id)?;
        let mut c = self.store().read().await?;
        repo::get_domain(&mut c, id).await?.ok_or_else(|| Error::not_found("domain", id))
    }

    pub async fn list_domains(
        &self,
        ctx: &Ctx,
        name: Option<&str>,
        enabled: Option<bool>,
        page: &PageRequest,
    ) -> Result<Vec<Domain>, Error> {
        let mut c = self.store().read().await?;
        if !ctx.principal.can_read_all() {
            // Non-admins see the domain they are scoped to, like Keystone's /v3/auth/domains.
            let Some(did) = ctx.principal.scope_domain_id() else {
                return authorize("identity:list_domains", &ctx.principal, &Target::default()).map(|_| vec![]);
            };
            let d = repo::get_domain(&mut c, did).await?;
            return Ok(d
                .into_iter()
                .filter(|d| name.is_none_or(|n| n == d.name) && enabled.is_none_or(|e| e == d.enabled))
                .collect());
        }
        repo::list_domains(&mut c, name, enabled, page).await
    }

    /// Domain names by id (for rendering traces; names are not secret within a region's
    /// audit views, and only ids the caller already sees are looked up).
    pub async fn domain_names(&self) -> Result<std::collections::HashMap<String, String>, Error> {
        let mut c = self.store().read().await?;
        let all = PageRequest::largest();
        Ok(repo::list_domains(&mut c, None, None, &all).await?.into_iter().map(|d| (d.id, d.name)).collect())
    }

    /// Domains the caller holds a role on (`GET /v3/auth/domains`).
    pub async fn list_user_domains(&self, ctx: &Ctx) -> Result<Vec<Domain>, Error> {
        let mut c = self.store().read().await?;
        let mut out = Vec::new();
        for id in repo::domains_of_user(&mut c, &ctx.principal.user_id).await? {
            if let Some(d) = repo::get_domain(&mut c, &id).await?.filter(|d| d.enabled) {
                out.push(d);
            }
        }
        Ok(out)
    }

    pub async fn update_domain(&self, ctx: &Ctx, id: &str, req: DomainUpdate) -> Result<Domain, Error> {
        authorize_visible("identity:get_domain", "identity:update_domain", &ctx.principal, &target(id), "domain", id)?;
        let mut tx = self.store().write().await?;
        let mut d = repo::get_domain(&mut tx, id).await?.ok_or_else(|| Error::not_found("domain", id))?;
        if let Some(name) = req.name {
            validate_name("domain", &name)?;
            d.name = name;
        }
        if let Some(desc) = req.description {
            d.description = desc;
        }
        if let Some(enabled) = req.enabled {
            if !enabled && id == DEFAULT_DOMAIN_ID {
                return Err(Error::Forbidden("The default domain cannot be disabled.".into()));
            }
            if !enabled && d.enabled {
                repo::revoke_scope_tokens(&mut tx, id).await?;
            }
            d.enabled = enabled;
        }
        d.extra = merge_extra(&d.extra, &req.extra);
        repo::update_domain(&mut tx, &d).await.map_err(|e| conflict_name(e, &d.name))?;
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "domain", "updateDomain", 200).resource(&d.id, &d.name))
            .await?;
        tx.commit().await?;
        Ok(d)
    }

    /// Deletes a disabled domain with everything in it: its projects (purged by jobs),
    /// users, groups and domain roles.
    pub async fn delete_domain(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        authorize_visible("identity:get_domain", "identity:delete_domain", &ctx.principal, &target(id), "domain", id)?;
        if id == DEFAULT_DOMAIN_ID {
            return Err(Error::Forbidden("The default domain cannot be deleted.".into()));
        }
        let mut tx = self.store().write().await?;
        let d = repo::get_domain(&mut tx, id).await?.ok_or_else(|| Error::not_found("domain", id))?;
        if d.enabled {
            return Err(Error::Forbidden("Cannot delete a domain that is enabled; disable it first.".into()));
        }
        let all = PageRequest::largest();
        loop {
            let filter = repo::ProjectFilter { domain_id: Some(id.into()), ..Default::default() };
            let projects = repo::list_projects(&mut tx, &filter, &all).await?;
            if projects.is_empty() {
                break;
            }
            for p in projects {
                self.remove_project_rows(&mut tx, ctx, &p).await?;
            }
        }
        for u in repo::list_users(&mut tx, None, Some(id), None, None, &all).await? {
            repo::delete_user(&mut tx, &u.id).await?;
        }
        for g in repo::list_groups(&mut tx, None, Some(id), None, &all).await? {
            repo::delete_group(&mut tx, &g.id).await?;
        }
        for r in repo::list_roles(&mut tx, None, Some(id), &all).await? {
            repo::delete_role(&mut tx, &r.id).await?;
        }
        repo::delete_assignments_on_target(&mut tx, id).await?;
        repo::delete_domain(&mut tx, id).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "domain", "deleteDomain", 204).resource(&d.id, &d.name))
            .await?;
        tx.commit().await
    }
}

pub(crate) fn conflict_name(e: Error, name: &str) -> Error {
    match e {
        Error::Conflict(_) => {
            Error::Conflict(format!("Conflict occurred attempting to store {name:?}: the name is already in use."))
        }
        other => other,
    }
}
