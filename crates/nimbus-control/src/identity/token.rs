//! Tokens: password (and token re-scoping) authentication, validation and revocation, and
//! the principal behind a signed access-key request.
//!
//! A token is 32 random bytes (URL-safe base64). Only its SHA-256 hash is stored, with its
//! user, scope and expiry; roles are looked up at validation time, so revoking a role takes
//! effect on the next request.

use crate::audit::AuditEvent;
use crate::context::{Principal, RoleRef, Scope};
use crate::{Control, Ctx, RequestMeta};
use base64::Engine;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::identity as repo;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use std::sync::Arc;

/// A selector by id or by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameOrId {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// The user part of a password authentication.
#[derive(Debug, Clone, Default)]
pub struct UserRef {
    pub id: Option<String>,
    pub name: Option<String>,
    pub domain: Option<NameOrId>,
}

/// How the caller proves who it is.
#[derive(Debug, Clone)]
pub enum AuthIdentity {
    Password { user: UserRef, password: String },
    Token { token: String },
}

/// What the new token should be scoped to.
#[derive(Debug, Clone, Default)]
pub enum AuthScope {
    #[default]
    Default,
    Project {
        id: Option<String>,
        name: Option<String>,
        domain: Option<NameOrId>,
    },
    Domain(NameOrId),
    System,
}

/// A request for a token.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub identity: AuthIdentity,
    pub scope: AuthScope,
}

/// A freshly issued token and the principal it stands for.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub principal: Principal,
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unauthorized() -> Error {
    Error::Unauthorized("The request you have made requires authentication.".into())
}

impl Control {
    /// `POST /v3/auth/tokens`: authenticates and issues a token. Every attempt, successful or
    /// not, is traced.
    pub async fn issue_token(&self, meta: &Arc<RequestMeta>, req: AuthRequest) -> Result<IssuedToken, Error> {
        let outcome = self.authenticate(req).await;
        match outcome {
            Ok((principal, methods)) => {
                let token = new_token();
                let row = repo::Token {
                    token_hash: token_hash(&token),
                    user_id: principal.user_id.clone(),
                    project_id: principal.project_id().map(str::to_string),
                    domain_id: match &principal.scope {
                        Scope::Domain { id, .. } => Some(id.clone()),
                        _ => None,
                    },
                    system_scope: principal.scope == Scope::System,
                    methods: methods.join(","),
                    audit_id: principal.audit_id.clone(),
                    // The instant the principal was built with, so issue and validation agree.
                    issued_at: principal.issued_at,
                    expires_at: principal.expires_at,
                    revoked: false,
                };
                let mut tx = self.store().write().await?;
                repo::insert_token(&mut tx, &row).await?;
                repo::reset_login_failures(&mut tx, &principal.user_id).await?;
                let ctx = Ctx { principal: principal.clone(), meta: meta.clone() };
                self.audit(
                    &mut tx,
                    &ctx,
                    AuditEvent::new("IAM", "user", "createToken", 201)
                        .resource(&principal.user_id, &principal.user_name),
                )
                .await?;
                tx.commit().await?;
                Ok(IssuedToken { token, principal })
            }
            Err((err, who)) => {
                self.audit_login_failure(meta, who, &err).await;
                Err(err)
            }
        }
    }

    /// Checks the credentials; on failure returns the error and whoever was named.
    async fn authenticate(&self, req: AuthRequest) -> Result<(Principal, Vec<String>), (Error, Option<repo::User>)> {
        let mut c = self.store().read().await.map_err(|e| (e, None))?;
        let (user, methods, inherited_expiry, audit_id) = match req.identity {
            AuthIdentity::Password { user, password } => {
                let u = self.find_login_user(&mut c, &user).await.map_err(|e| (e, None))?;
                let Some(u) = u else { return Err((unauthorized(), None)) };
                let now = now_ms();
                if u.locked_until.is_some_and(|t| t > now) {
                    return Err((
                        Error::Unauthorized(format!(
                            "The account is locked for user: {}. Try again later or ask an administrator.",
                            u.id
                        )),
                        Some(u),
                    ));
                }
                let ok = u.password_hash.as_deref().is_some_and(|_| true)
                    && super::password::verify(&password, u.password_hash.as_deref().unwrap_or("")).await;
                if !ok {
                    drop(c);
                    self.record_failed_login(&u).await;
                    return Err((unauthorized(), Some(u)));
                }
                if !u.enabled {
                    return Err((unauthorized(), Some(u)));
                }
                (u, vec!["password".to_string()], None, nimbus_core::id::new_hex_id())
            }
            AuthIdentity::Token { token } => {
                let t = repo::get_token(&mut c, &token_hash(&token)).await.map_err(|e| (e, None))?;
                // Keystone answers 404 for a re-scope with an unknown, revoked or expired token.
                let Some(t) = t.filter(|t| !t.revoked && t.expires_at > now_ms()) else {
                    return Err((Error::not_found("token", "(presented token)"), None));
                };
                let u = repo::get_user(&mut c, &t.user_id).await.map_err(|e| (e, None))?;
                let Some(u) = u.filter(|u| u.enabled) else { return Err((unauthorized(), None)) };
                let mut methods: Vec<String> = t.methods.split(',').map(str::to_string).collect();
                if !methods.iter().any(|m| m == "token") {
                    methods.push("token".into());
                }
                // A re-scoped token never outlives the token it came from.
                (u, methods, Some(t.expires_at), t.audit_id)
            }
        };
        let system = matches!(req.scope, AuthScope::System);
        let (project_id, domain_id) =
            self.resolve_auth_scope(&mut c, &user, &req.scope).await.map_err(|e| (e, Some(user.clone())))?;
        let now = now_ms();
        let expires_at = inherited_expiry.unwrap_or(now + self.config().token_ttl_secs * 1000);
        let principal = self
            .build_principal(
                &mut c,
                &user,
                project_id.as_deref(),
                domain_id.as_deref(),
                PrincipalTimes { methods: methods.clone(), audit_id, issued_at: now, expires_at, system },
            )
            .await
            .map_err(|e| (e, Some(user.clone())))?;
        Ok((principal, methods))
    }

    async fn find_login_user(&self, c: &mut AnyConnection, user: &UserRef) -> Result<Option<repo::User>, Error> {
        if let Some(id) = &user.id {
            return repo::get_user(c, id).await;
        }
        let (Some(name), Some(domain)) = (&user.name, &user.domain) else {
            return Err(Error::bad_request("A user must be given by id, or by name and domain."));
        };
        let domain = match self.resolve_domain(c, domain).await {
            Ok(d) => d,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !domain.enabled {
            return Ok(None);
        }
        repo::get_user_by_name(c, &domain.id, name).await
    }

    async fn record_failed_login(&self, u: &repo::User) {
        let cfg = self.config();
        if cfg.lockout_failure_attempts <= 0 {
            return;
        }
        let lock_until = now_ms() + cfg.lockout_duration_secs * 1000;
        let result = async {
            let mut tx = self.store().write().await?;
            repo::record_login_failure(&mut tx, &u.id, cfg.lockout_failure_attempts, lock_until).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "recording a failed login");
        }
    }

    /// Resolves the requested scope to (project, domain), checking the user holds a role.
    async fn resolve_auth_scope(
        &self,
        c: &mut AnyConnection,
        user: &repo::User,
        scope: &AuthScope,
    ) -> Result<(Option<String>, Option<String>), Error> {
        match scope {
            AuthScope::System => {
                if repo::effective_roles(c, &user.id, "system", "all", None).await?.is_empty() {
                    return Err(unauthorized());
                }
                Ok((None, None))
            }
            AuthScope::Default => {
                // Keystone scopes to the default project when the user still has a role there.
                if let Some(pid) = &user.default_project_id {
                    if let Some(p) = repo::get_project(c, pid).await? {
                        if p.enabled
                            && !repo::effective_roles(c, &user.id, "project", &p.id, Some(&p.domain_id))
                                .await?
                                .is_empty()
                        {
                            return Ok((Some(p.id), None));
                        }
                    }
                }
                Ok((None, None))
            }
            AuthScope::Project { id, name, domain } => {
                let project = match (id, name, domain) {
                    (Some(id), _, _) => repo::get_project(c, id).await?,
                    (None, Some(name), Some(domain)) => {
                        let d = self.resolve_domain(c, domain).await.map_err(|_| unauthorized())?;
                        repo::get_project_by_name(c, &d.id, name).await?
                    }
                    _ => return Err(Error::bad_request("A project scope needs an id, or a name and a domain.")),
                };
                let Some(p) = project else { return Err(unauthorized()) };
                let domain_enabled = repo::get_domain(c, &p.domain_id).await?.is_some_and(|d| d.enabled);
                if !p.enabled || !domain_enabled {
                    return Err(unauthorized());
                }
                if repo::effective_roles(c, &user.id, "project", &p.id, Some(&p.domain_id)).await?.is_empty() {
                    return Err(unauthorized());
                }
                Ok((Some(p.id), None))
            }
            AuthScope::Domain(sel) => {
                let d = self.resolve_domain(c, sel).await.map_err(|_| unauthorized())?;
                if !d.enabled || repo::effective_roles(c, &user.id, "domain", &d.id, None).await?.is_empty() {
                    return Err(unauthorized());
                }
                Ok((None, Some(d.id)))
            }
        }
    }

    /// Builds the principal for a user in a scope, with its current roles.
    pub(crate) async fn build_principal(
        &self,
        c: &mut AnyConnection,
        user: &repo::User,
        project_id: Option<&str>,
        domain_id: Option<&str>,
        times: PrincipalTimes,
    ) -> Result<Principal, Error> {
        let user_domain = repo::get_domain(c, &user.domain_id).await?.ok_or_else(unauthorized)?;
        if !user_domain.enabled || !user.enabled {
            return Err(unauthorized());
        }
        let (scope, roles) = if let Some(pid) = project_id {
            let p = repo::get_project(c, pid).await?.ok_or_else(unauthorized)?;
            let d = repo::get_domain(c, &p.domain_id).await?.ok_or_else(unauthorized)?;
            if !p.enabled || !d.enabled {
                return Err(unauthorized());
            }
            let roles = repo::effective_roles(c, &user.id, "project", &p.id, Some(&p.domain_id)).await?;
            (Scope::Project { id: p.id, name: p.name, domain_id: d.id, domain_name: d.name }, roles)
        } else if let Some(did) = domain_id {
            let d = repo::get_domain(c, did).await?.ok_or_else(unauthorized)?;
            if !d.enabled {
                return Err(unauthorized());
            }
            let roles = repo::effective_roles(c, &user.id, "domain", &d.id, None).await?;
            (Scope::Domain { id: d.id, name: d.name }, roles)
        } else if times.system {
            (Scope::System, repo::effective_roles(c, &user.id, "system", "all", None).await?)
        } else {
            (Scope::Unscoped, Vec::new())
        };
        if scope != Scope::Unscoped && roles.is_empty() {
            // The roles that justified this scope were revoked.
            return Err(unauthorized());
        }
        Ok(Principal {
            user_id: user.id.clone(),
            user_name: user.name.clone(),
            user_domain_id: user_domain.id,
            user_domain_name: user_domain.name,
            scope,
            roles: roles.into_iter().map(|r| RoleRef { id: r.id, name: r.name }).collect(),
            methods: times.methods,
            audit_id: times.audit_id,
            issued_at: times.issued_at,
            expires_at: times.expires_at,
            access_key: None,
        })
    }

    /// Resolves a presented token to its principal; 401 when unknown, revoked or expired.
    pub async fn principal_for_token(&self, token: &str) -> Result<Principal, Error> {
        let mut c = self.store().read().await?;
        let t = repo::get_token(&mut c, &token_hash(token)).await?;
        let Some(t) = t.filter(|t| !t.revoked) else {
            return Err(Error::Unauthorized("The token is invalid or has been revoked.".into()));
        };
        if t.expires_at <= now_ms() {
            return Err(Error::Unauthorized("The token has expired.".into()));
        }
        let user = repo::get_user(&mut c, &t.user_id).await?.ok_or_else(unauthorized)?;
        self.build_principal(
            &mut c,
            &user,
            t.project_id.as_deref(),
            t.domain_id.as_deref(),
            PrincipalTimes {
                methods: t.methods.split(',').map(str::to_string).collect(),
                audit_id: t.audit_id,
                issued_at: t.issued_at,
                expires_at: t.expires_at,
                system: t.system_scope,
            },
        )
        .await
    }

    /// `GET /v3/auth/tokens`: validates the subject token on behalf of an authenticated caller.
    /// Any caller may validate its own token; validating another's needs the admin role.
    pub async fn validate_token(&self, ctx: &Ctx, subject: &str) -> Result<Principal, Error> {
        let p = self.principal_for_token(subject).await.map_err(|_| Error::not_found("token", "(subject token)"))?;
        if p.audit_id != ctx.principal.audit_id && !ctx.principal.can_read_all() && p.user_id != ctx.principal.user_id {
            return Err(Error::Forbidden("You are not authorized to validate this token.".into()));
        }
        Ok(p)
    }

    /// `DELETE /v3/auth/tokens`: revokes the subject token (one's own, or any for an admin).
    pub async fn revoke_token(&self, ctx: &Ctx, subject: &str) -> Result<(), Error> {
        let p = self.principal_for_token(subject).await.map_err(|_| Error::not_found("token", "(subject token)"))?;
        if p.user_id != ctx.principal.user_id && !ctx.principal.is_admin() {
            return Err(Error::Forbidden("You are not authorized to revoke this token.".into()));
        }
        let mut tx = self.store().write().await?;
        repo::revoke_token(&mut tx, &token_hash(subject)).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "user", "revokeToken", 204).resource(&p.user_id, &p.user_name))
            .await?;
        tx.commit().await
    }

    /// The principal behind an access key, scoped to `project_id` (or `domain_id`) when given.
    /// Returns the principal and the key's secret so the caller can check the signature.
    pub async fn principal_for_access_key(
        &self,
        access_key: &str,
        project_id: Option<&str>,
        domain_id: Option<&str>,
    ) -> Result<(Principal, String), Error> {
        let mut c = self.store().read().await?;
        let cred = repo::get_credential_by_access_key(&mut c, access_key).await?;
        let Some(cred) = cred.filter(|c| c.status == "active") else {
            return Err(Error::Unauthorized("The access key is unknown or inactive.".into()));
        };
        let secret = cred.secret.clone().ok_or_else(unauthorized)?;
        let user = repo::get_user(&mut c, &cred.user_id).await?.ok_or_else(unauthorized)?;
        // The scope a signed request names (X-Project-Id, or X-Domain-Id for global services),
        // then, when the user holds no role there: the name read as a domain, the user's home
        // project (so an operator's key keeps its admin role everywhere, as its token would),
        // and last an unscoped principal that may still manage itself (its keys, its password).
        let mut candidates: Vec<(Option<&str>, Option<&str>)> = vec![(project_id, domain_id)];
        if let Some(p) = project_id {
            candidates.push((None, Some(p)));
        }
        if let Some(home) = user.default_project_id.as_deref() {
            candidates.push((Some(home), None));
        }
        candidates.push((None, None));
        let now = now_ms();
        let mut last = unauthorized();
        let mut found = None;
        for (project, domain) in candidates {
            let times = PrincipalTimes {
                methods: vec!["aksk".into()],
                audit_id: cred.id.clone(),
                issued_at: now,
                expires_at: now + 15 * 60 * 1000,
                system: false,
            };
            match self.build_principal(&mut c, &user, project, domain, times).await {
                Ok(p) => {
                    found = Some(p);
                    break;
                }
                Err(e @ Error::Unauthorized(_)) => last = e,
                Err(e) => return Err(e),
            }
        }
        let mut p = found.ok_or(last)?;
        p.access_key = Some(access_key.to_string());
        Ok((p, secret))
    }

    /// Deletes expired tokens (run by the housekeeping reconciler).
    pub async fn purge_expired_tokens(&self) -> Result<u64, Error> {
        let mut tx = self.store().write().await?;
        // Keep a day of expired tokens so "expired" is reported instead of "unknown".
        let n = repo::purge_expired_tokens(&mut tx, now_ms() - 24 * 3600 * 1000).await?;
        tx.commit().await?;
        Ok(n)
    }
}

/// The token-derived facts of a principal.
pub struct PrincipalTimes {
    pub methods: Vec<String>,
    pub audit_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The token is system-scoped.
    pub system: bool,
}
