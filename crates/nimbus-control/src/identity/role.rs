//! Roles: `admin` (cloud operator), `manager` (a customer's account administrator),
//! `member` and `reader`, plus any an operator defines.

use super::domain::conflict_name;
use super::{merge_extra, validate_name};
use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::page::PageRequest;
use nimbus_core::Error;
use nimbus_store::identity::{self as repo, Role};
use serde_json::{Map, Value};

/// The roles every region has.
pub const BUILTIN_ROLES: &[&str] = &["admin", "manager", "member", "reader"];

/// Fields of a new role.
#[derive(Debug, Clone, Default)]
pub struct RoleCreate {
    pub name: String,
    pub domain_id: Option<String>,
    pub description: Option<String>,
    pub extra: Map<String, Value>,
}

/// Changes to a role.
#[derive(Debug, Clone, Default)]
pub struct RoleUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub extra: Map<String, Value>,
}

impl Control {
    pub async fn create_role(&self, ctx: &Ctx, req: RoleCreate) -> Result<Role, Error> {
        authorize("identity:create_role", &ctx.principal, &Target::default())?;
        validate_name("role", &req.name)?;
        let r = Role {
            id: nimbus_core::id::new_hex_id(),
            name: req.name,
            domain_id: req.domain_id.unwrap_or_default(),
            description: req.description.unwrap_or_default(),
            extra: merge_extra("{}", &req.extra),
        };
        let mut tx = self.store().write().await?;
        if !r.domain_id.is_empty() && repo::get_domain(&mut tx, &r.domain_id).await?.is_none() {
            return Err(Error::bad_request(format!("Domain {} does not exist.", r.domain_id)));
        }
        repo::insert_role(&mut tx, &r).await.map_err(|e| conflict_name(e, &r.name))?;
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "role", "createRole", 201).resource(&r.id, &r.name)).await?;
        tx.commit().await?;
        Ok(r)
    }

    pub async fn get_role(&self, ctx: &Ctx, id: &str) -> Result<Role, Error> {
        authorize("identity:get_role", &ctx.principal, &Target::default())?;
        let mut c = self.store().read().await?;
        repo::get_role(&mut c, id).await?.ok_or_else(|| Error::not_found("role", id))
    }

    pub async fn list_roles(
        &self,
        ctx: &Ctx,
        name: Option<&str>,
        domain_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Vec<Role>, Error> {
        authorize("identity:list_roles", &ctx.principal, &Target::default())?;
        let mut c = self.store().read().await?;
        repo::list_roles(&mut c, name, domain_id, page).await
    }

    pub async fn update_role(&self, ctx: &Ctx, id: &str, req: RoleUpdate) -> Result<Role, Error> {
        authorize("identity:update_role", &ctx.principal, &Target::default())?;
        let mut tx = self.store().write().await?;
        let mut r = repo::get_role(&mut tx, id).await?.ok_or_else(|| Error::not_found("role", id))?;
        if let Some(name) = req.name {
            validate_name("role", &name)?;
            if BUILTIN_ROLES.contains(&r.name.as_str()) && name != r.name && r.domain_id.is_empty() {
                return Err(Error::Forbidden(format!("The built-in role {} cannot be renamed.", r.name)));
            }
            r.name = name;
        }
        if let Some(d) = req.description {
            r.description = d;
        }
        r.extra = merge_extra(&r.extra, &req.extra);
        repo::update_role(&mut tx, &r).await.map_err(|e| conflict_name(e, &r.name))?;
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "role", "updateRole", 200).resource(&r.id, &r.name)).await?;
        tx.commit().await?;
        Ok(r)
    }

    pub async fn delete_role(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        authorize("identity:delete_role", &ctx.principal, &Target::default())?;
        let mut tx = self.store().write().await?;
        let r = repo::get_role(&mut tx, id).await?.ok_or_else(|| Error::not_found("role", id))?;
        if r.domain_id.is_empty() && BUILTIN_ROLES.contains(&r.name.as_str()) {
            return Err(Error::Forbidden(format!("The built-in role {} cannot be deleted.", r.name)));
        }
        repo::delete_role(&mut tx, id).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "role", "deleteRole", 204).resource(&r.id, &r.name)).await?;
        tx.commit().await
    }
}
