//! Groups of users; roles granted to a group apply to its members.

use super::domain::conflict_name;
use super::{merge_extra, validate_name};
use crate::audit::AuditEvent;
use crate::authz::{authorize, authorize_visible, Target};
use crate::{Control, Ctx};
use nimbus_core::page::PageRequest;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::identity::{self as repo, Group, User};
use serde_json::{Map, Value};
use sqlx::AnyConnection;

/// Fields of a new group.
#[derive(Debug, Clone, Default)]
pub struct GroupCreate {
    pub name: String,
    pub domain_id: Option<String>,
    pub description: Option<String>,
    pub extra: Map<String, Value>,
}

/// Changes to a group.
#[derive(Debug, Clone, Default)]
pub struct GroupUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub domain_id: Option<String>,
    pub extra: Map<String, Value>,
}

fn target(g: &Group) -> Target<'_> {
    Target { domain_id: Some(&g.domain_id), ..Default::default() }
}

impl Control {
    pub async fn create_group(&self, ctx: &Ctx, req: GroupCreate) -> Result<Group, Error> {
        let domain_id = super::creation_domain(ctx, req.domain_id.as_deref(), "group", &req.name)?;
        let mut tx = self.store().write().await?;
        if repo::get_domain(&mut tx, &domain_id).await?.is_none() {
            return Err(Error::not_found("domain", domain_id));
        }
        let g = Group {
            id: nimbus_core::id::new_hex_id(),
            name: req.name,
            domain_id,
            description: req.description.unwrap_or_default(),
            extra: merge_extra("{}", &req.extra),
            created_at: now_ms(),
        };
        repo::insert_group(&mut tx, &g).await.map_err(|e| conflict_name(e, &g.name))?;
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "group", "createGroup", 201).resource(&g.id, &g.name)).await?;
        tx.commit().await?;
        Ok(g)
    }

    async fn load_group(&self, c: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<Group, Error> {
        let g = repo::get_group(c, id).await?.ok_or_else(|| Error::not_found("group", id))?;
        authorize_visible("identity:get_group", "identity:get_group", &ctx.principal, &target(&g), "group", id)?;
        Ok(g)
    }

    pub async fn get_group(&self, ctx: &Ctx, id: &str) -> Result<Group, Error> {
        let mut c = self.store().read().await?;
        self.load_group(&mut c, ctx, id).await
    }

    pub async fn list_groups(
        &self,
        ctx: &Ctx,
        name: Option<&str>,
        domain_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Vec<Group>, Error> {
        let mut domain = domain_id.map(str::to_string);
        if !ctx.principal.can_read_all() {
            domain = domain.or_else(|| ctx.principal.scope_domain_id().map(str::to_string));
            authorize(
                "identity:list_groups",
                &ctx.principal,
                &Target { domain_id: domain.as_deref(), ..Default::default() },
            )?;
        }
        let mut c = self.store().read().await?;
        repo::list_groups(&mut c, name, domain.as_deref(), None, page).await
    }

    pub async fn update_group(&self, ctx: &Ctx, id: &str, req: GroupUpdate) -> Result<Group, Error> {
        let mut tx = self.store().write().await?;
        let mut g = self.load_group(&mut tx, ctx, id).await?;
        authorize("identity:update_group", &ctx.principal, &target(&g))?;
        if req.domain_id.as_ref().is_some_and(|d| *d != g.domain_id) {
            return Err(Error::bad_request("A group cannot move to another domain."));
        }
        if let Some(name) = req.name {
            validate_name("group", &name)?;
            g.name = name;
        }
        if let Some(d) = req.description {
            g.description = d;
        }
        g.extra = merge_extra(&g.extra, &req.extra);
        repo::update_group(&mut tx, &g).await.map_err(|e| conflict_name(e, &g.name))?;
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "group", "updateGroup", 200).resource(&g.id, &g.name)).await?;
        tx.commit().await?;
        Ok(g)
    }

    pub async fn delete_group(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let g = self.load_group(&mut tx, ctx, id).await?;
        authorize("identity:delete_group", &ctx.principal, &target(&g))?;
        repo::delete_group(&mut tx, id).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "group", "deleteGroup", 204).resource(&g.id, &g.name)).await?;
        tx.commit().await
    }

    pub async fn list_group_users(&self, ctx: &Ctx, id: &str, page: &PageRequest) -> Result<Vec<User>, Error> {
        let mut c = self.store().read().await?;
        let g = self.load_group(&mut c, ctx, id).await?;
        repo::list_users(&mut c, None, None, None, Some(&g.id), page).await
    }

    /// Adds (`add`) or removes a member; membership changes revoke nothing but take effect at
    /// the next token validation, since roles are resolved then.
    pub async fn set_group_member(&self, ctx: &Ctx, group_id: &str, user_id: &str, add: bool) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let g = self.load_group(&mut tx, ctx, group_id).await?;
        authorize("identity:update_group", &ctx.principal, &target(&g))?;
        let u = self.load_user(&mut tx, ctx, user_id).await?;
        if add {
            repo::add_group_member(&mut tx, &g.id, &u.id).await?;
        } else if !repo::remove_group_member(&mut tx, &g.id, &u.id).await? {
            return Err(Error::not_found("group membership", format!("{user_id} in {group_id}")));
        }
        let action = if add { "addUserToGroup" } else { "removeUserFromGroup" };
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "group", action, 204).resource(&g.id, &g.name)).await?;
        tx.commit().await
    }

    pub async fn check_group_member(&self, ctx: &Ctx, group_id: &str, user_id: &str) -> Result<(), Error> {
        let mut c = self.store().read().await?;
        let g = self.load_group(&mut c, ctx, group_id).await?;
        self.load_user(&mut c, ctx, user_id).await?;
        if repo::is_group_member(&mut c, &g.id, user_id).await? {
            Ok(())
        } else {
            Err(Error::not_found("group membership", format!("{user_id} in {group_id}")))
        }
    }

    pub async fn list_user_groups(&self, ctx: &Ctx, user_id: &str) -> Result<Vec<Group>, Error> {
        let mut c = self.store().read().await?;
        let u = self.load_user(&mut c, ctx, user_id).await?;
        let t = Target { domain_id: Some(&u.domain_id), owner_user_id: Some(&u.id), ..Default::default() };
        authorize("identity:list_user_groups", &ctx.principal, &t)?;
        repo::list_groups(&mut c, None, None, Some(&u.id), &PageRequest::default()).await
    }
}
