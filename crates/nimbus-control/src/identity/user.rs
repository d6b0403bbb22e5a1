//! Users: people and service accounts of a domain.

use super::domain::conflict_name;
use super::{merge_extra, password, validate_name};
use crate::audit::AuditEvent;
use crate::authz::{authorize, authorize_visible, Target};
use crate::{Control, Ctx};
use nimbus_core::page::PageRequest;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::identity::{self as repo, User};
use serde_json::{Map, Value};
use sqlx::AnyConnection;

/// Fields of a new user.
#[derive(Debug, Clone, Default)]
pub struct UserCreate {
    pub name: String,
    pub domain_id: Option<String>,
    pub password: Option<String>,
    pub email: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub default_project_id: Option<String>,
    pub extra: Map<String, Value>,
}

/// Changes to a user (by an administrator).
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub password: Option<String>,
    pub email: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub default_project_id: Option<String>,
    pub domain_id: Option<String>,
    pub extra: Map<String, Value>,
}

/// Filters of `GET /v3/users`.
#[derive(Debug, Clone, Default)]
pub struct UserListQuery {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub enabled: Option<bool>,
}

fn target(u: &User) -> Target<'_> {
    Target { domain_id: Some(&u.domain_id), owner_user_id: Some(&u.id), ..Default::default() }
}

impl Control {
    pub async fn create_user(&self, ctx: &Ctx, req: UserCreate) -> Result<User, Error> {
        let domain_id = super::creation_domain(ctx, req.domain_id.as_deref(), "user", &req.name)?;
        let password_hash = match &req.password {
            Some(pw) => {
                password::validate(pw)?;
                Some(password::hash(pw).await?)
            }
            None => None,
        };
        let mut tx = self.store().write().await?;
        if repo::get_domain(&mut tx, &domain_id).await?.is_none() {
            return Err(Error::not_found("domain", domain_id));
        }
        if let Some(pid) = &req.default_project_id {
            check_default_project(&mut tx, pid, &domain_id).await?;
        }
        let u = User {
            id: nimbus_core::id::new_hex_id(),
            name: req.name,
            domain_id,
            password_hash,
            enabled: req.enabled.unwrap_or(true),
            email: req.email,
            description: req.description.unwrap_or_default(),
            default_project_id: req.default_project_id,
            extra: merge_extra("{}", &req.extra),
            failed_logins: 0,
            locked_until: None,
            password_expires_at: None,
            created_at: now_ms(),
        };
        repo::insert_user(&mut tx, &u).await.map_err(|e| conflict_name(e, &u.name))?;
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "user", "createUser", 201).resource(&u.id, &u.name)).await?;
        tx.commit().await?;
        Ok(u)
    }

    pub(crate) async fn load_user(&self, c: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<User, Error> {
        let u = repo::get_user(c, id).await?.ok_or_else(|| Error::not_found("user", id))?;
        authorize_visible("identity:get_user", "identity:get_user", &ctx.principal, &target(&u), "user", id)?;
        Ok(u)
    }

    pub async fn get_user(&self, ctx: &Ctx, id: &str) -> Result<User, Error> {
        let mut c = self.store().read().await?;
        self.load_user(&mut c, ctx, id).await
    }

    pub async fn list_users(&self, ctx: &Ctx, q: &UserListQuery, page: &PageRequest) -> Result<Vec<User>, Error> {
        let mut domain = q.domain_id.clone();
        if !ctx.principal.can_read_all() {
            domain = domain.or_else(|| ctx.principal.scope_domain_id().map(str::to_string));
            authorize(
                "identity:list_users",
                &ctx.principal,
                &Target { domain_id: domain.as_deref(), ..Default::default() },
            )?;
        }
        let mut c = self.store().read().await?;
        repo::list_users(&mut c, q.name.as_deref(), domain.as_deref(), q.enabled, None, page).await
    }

    pub async fn update_user(&self, ctx: &Ctx, id: &str, req: UserUpdate) -> Result<User, Error> {
        let new_hash = match &req.password {
            Some(pw) => {
                password::validate(pw)?;
                Some(password::hash(pw).await?)
            }
            None => None,
        };
        let mut tx = self.store().write().await?;
        let mut u = self.load_user(&mut tx, ctx, id).await?;
        authorize("identity:update_user", &ctx.principal, &target(&u))?;
        if req.domain_id.as_ref().is_some_and(|d| *d != u.domain_id) {
            return Err(Error::bad_request("A user cannot move to another domain."));
        }
        let mut revoke = false;
        if let Some(name) = req.name {
            validate_name("user", &name)?;
            u.name = name;
        }
        if let Some(h) = new_hash {
            u.password_hash = Some(h);
            u.failed_logins = 0;
            u.locked_until = None;
            revoke = true;
        }
        if let Some(e) = req.email {
            u.email = Some(e);
        }
        if let Some(d) = req.description {
            u.description = d;
        }
        if let Some(enabled) = req.enabled {
            revoke |= u.enabled && !enabled;
            u.enabled = enabled;
        }
        if let Some(pid) = req.default_project_id {
            check_default_project(&mut tx, &pid, &u.domain_id).await?;
            u.default_project_id = Some(pid);
        }
        u.extra = merge_extra(&u.extra, &req.extra);
        repo::update_user(&mut tx, &u).await.map_err(|e| conflict_name(e, &u.name))?;
        if revoke {
            repo::revoke_user_tokens(&mut tx, &u.id).await?;
        }
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "user", "updateUser", 200).resource(&u.id, &u.name)).await?;
        tx.commit().await?;
        Ok(u)
    }

    /// A user changes their own password, proving the old one. All their tokens are revoked.
    pub async fn change_password(&self, ctx: &Ctx, id: &str, original: &str, new: &str) -> Result<(), Error> {
        password::validate(new)?;
        let mut c = self.store().read().await?;
        let u = self.load_user(&mut c, ctx, id).await?;
        drop(c);
        authorize("identity:change_password", &ctx.principal, &target(&u))?;
        let ok = match &u.password_hash {
            Some(h) => password::verify(original, h).await,
            None => false,
        };
        if !ok {
            return Err(Error::Unauthorized("The original password is incorrect.".into()));
        }
        let hash = password::hash(new).await?;
        let mut tx = self.store().write().await?;
        let mut u = repo::get_user(&mut tx, id).await?.ok_or_else(|| Error::not_found("user", id))?;
        u.password_hash = Some(hash);
        repo::update_user(&mut tx, &u).await?;
        repo::revoke_user_tokens(&mut tx, id).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "user", "changePassword", 204).resource(&u.id, &u.name))
            .await?;
        tx.commit().await
    }

    pub async fn delete_user(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let u = self.load_user(&mut tx, ctx, id).await?;
        authorize("identity:delete_user", &ctx.principal, &target(&u))?;
        if u.id == ctx.principal.user_id {
            return Err(Error::Forbidden("You cannot delete your own user.".into()));
        }
        repo::delete_user(&mut tx, id).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "user", "deleteUser", 204).resource(&u.id, &u.name)).await?;
        tx.commit().await
    }
}

async fn check_default_project(c: &mut AnyConnection, pid: &str, domain_id: &str) -> Result<(), Error> {
    match repo::get_project(c, pid).await? {
        Some(p) if p.domain_id == domain_id => Ok(()),
        Some(_) => Err(Error::bad_request("The default project belongs to another domain.")),
        None => Err(Error::bad_request(format!("Default project {pid} does not exist."))),
    }
}
