//! Credentials, chiefly access keys (AK/SK): Keystone `/v3/credentials` (type `ec2`) and the
//! Huawei IAM permanent access keys. The same key signs native API calls
//! (`SDK-HMAC-SHA256`) and, later, S3 requests (SigV4).

use crate::audit::AuditEvent;
use crate::authz::{authorize, authorize_visible, Target};
use crate::{Control, Ctx};
use nimbus_core::page::PageRequest;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::identity::{self as repo, Credential};
use rand::distributions::{Alphanumeric, DistString};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

/// A Keystone credential to create.
#[derive(Debug, Clone, Default)]
pub struct CredentialCreate {
    pub user_id: String,
    pub project_id: Option<String>,
    pub cred_type: String,
    pub blob: String,
}

/// Changes to a credential.
#[derive(Debug, Clone, Default)]
pub struct CredentialUpdate {
    pub project_id: Option<String>,
    pub cred_type: Option<String>,
    pub blob: Option<String>,
    pub status: Option<String>,
    pub description: Option<String>,
}

/// A new access key; the secret is shown only in this answer.
#[derive(Debug, Clone)]
pub struct AccessKeyCreated {
    pub credential: Credential,
    pub secret: String,
}

/// Extracts `access` and `secret` from an `ec2` blob.
fn ec2_keys(blob: &str) -> Result<(String, String), Error> {
    let v: serde_json::Value =
        serde_json::from_str(blob).map_err(|_| Error::bad_request("An ec2 credential blob must be a JSON object."))?;
    match (v.get("access").and_then(|a| a.as_str()), v.get("secret").and_then(|s| s.as_str())) {
        (Some(a), Some(s)) if !a.is_empty() && !s.is_empty() => Ok((a.to_string(), s.to_string())),
        _ => Err(Error::bad_request("An ec2 credential blob needs non-empty 'access' and 'secret'.")),
    }
}

fn owner(c: &Credential) -> Target<'_> {
    Target { owner_user_id: Some(&c.user_id), project_id: c.project_id.as_deref(), ..Default::default() }
}

impl Control {
    async fn check_key_owner(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        user_id: &str,
        action: &str,
    ) -> Result<(), Error> {
        let t = Target { owner_user_id: Some(user_id), ..Default::default() };
        // Whether another user exists is not the caller's business.
        if !ctx.principal.is_admin() && user_id != ctx.principal.user_id {
            return Err(Error::not_found("user", user_id));
        }
        if repo::get_user(c, user_id).await?.is_none() {
            return Err(if ctx.principal.is_admin() {
                Error::bad_request(format!("User {user_id} does not exist."))
            } else {
                Error::not_found("user", user_id)
            });
        }
        authorize(action, &ctx.principal, &t)
    }

    /// Keystone `POST /v3/credentials`.
    pub async fn create_credential(&self, ctx: &Ctx, req: CredentialCreate) -> Result<Credential, Error> {
        let mut tx = self.store().write().await?;
        self.check_key_owner(&mut tx, ctx, &req.user_id, "identity:create_credential").await?;
        if req.cred_type.is_empty() || req.blob.is_empty() {
            return Err(Error::bad_request("A credential needs a type and a blob."));
        }
        let (id, access, secret) = if req.cred_type == "ec2" {
            if req.project_id.is_none() {
                return Err(Error::bad_request("An ec2 credential needs a project_id."));
            }
            let (a, s) = ec2_keys(&req.blob)?;
            // Keystone names an ec2 credential by the hash of its access key.
            (hex::encode(Sha256::digest(a.as_bytes())), Some(a), Some(s))
        } else {
            (nimbus_core::id::new_hex_id(), None, None)
        };
        let cred = Credential {
            id,
            user_id: req.user_id,
            project_id: req.project_id,
            cred_type: req.cred_type,
            blob: req.blob,
            access_key: access,
            secret,
            status: "active".into(),
            description: String::new(),
            created_at: now_ms(),
            last_used_at: None,
        };
        repo::insert_credential(&mut tx, &cred).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IAM", "credential", "createCredential", 201).resource(&cred.id, &cred.cred_type),
        )
        .await?;
        tx.commit().await?;
        Ok(cred)
    }

    /// Huawei IAM `POST /v3.0/OS-CREDENTIAL/credentials`: a new permanent access key.
    pub async fn create_access_key(
        &self,
        ctx: &Ctx,
        user_id: &str,
        description: Option<String>,
    ) -> Result<AccessKeyCreated, Error> {
        let mut tx = self.store().write().await?;
        self.check_key_owner(&mut tx, ctx, user_id, "identity:create_credential").await?;
        let limit = self.config().max_access_keys_per_user;
        if repo::count_access_keys(&mut tx, user_id).await? >= limit {
            return Err(Error::OverQuota { resource: "access_keys".into(), limit, in_use: limit, requested: 1 });
        }
        let (cred, secret) = new_access_key(user_id, ctx.principal.project_id(), description.unwrap_or_default());
        repo::insert_credential(&mut tx, &cred).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IAM", "credential", "createAccessKey", 201)
                .resource(&cred.id, cred.access_key.as_deref().unwrap_or("")),
        )
        .await?;
        tx.commit().await?;
        Ok(AccessKeyCreated { credential: cred, secret })
    }

    async fn load_credential(&self, c: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<Credential, Error> {
        let cred = repo::get_credential(c, id).await?.ok_or_else(|| Error::not_found("credential", id))?;
        authorize_visible(
            "identity:get_credential",
            "identity:get_credential",
            &ctx.principal,
            &owner(&cred),
            "credential",
            id,
        )?;
        Ok(cred)
    }

    /// Looks a credential up by id, or by access key for the Huawei API.
    pub async fn get_credential(&self, ctx: &Ctx, id_or_access_key: &str) -> Result<Credential, Error> {
        let mut c = self.store().read().await?;
        let id = match repo::get_credential_by_access_key(&mut c, id_or_access_key).await? {
            Some(cred) => cred.id,
            None => id_or_access_key.to_string(),
        };
        self.load_credential(&mut c, ctx, &id).await
    }

    pub async fn list_credentials(
        &self,
        ctx: &Ctx,
        user_id: Option<&str>,
        cred_type: Option<&str>,
        page: &PageRequest,
    ) -> Result<Vec<Credential>, Error> {
        // Non-admins list their own credentials whatever filter they pass.
        let user = if ctx.principal.can_read_all() {
            user_id.map(str::to_string)
        } else {
            Some(ctx.principal.user_id.clone())
        };
        if let (Some(asked), false) = (user_id, ctx.principal.can_read_all()) {
            if asked != ctx.principal.user_id {
                return Ok(Vec::new());
            }
        }
        let mut c = self.store().read().await?;
        repo::list_credentials(&mut c, user.as_deref(), cred_type, page).await
    }

    pub async fn update_credential(
        &self,
        ctx: &Ctx,
        id_or_access_key: &str,
        req: CredentialUpdate,
    ) -> Result<Credential, Error> {
        let mut tx = self.store().write().await?;
        let id = match repo::get_credential_by_access_key(&mut tx, id_or_access_key).await? {
            Some(cred) => cred.id,
            None => id_or_access_key.to_string(),
        };
        let mut cred = self.load_credential(&mut tx, ctx, &id).await?;
        authorize("identity:update_credential", &ctx.principal, &owner(&cred))?;
        if let Some(t) = req.cred_type {
            cred.cred_type = t;
        }
        if let Some(p) = req.project_id {
            cred.project_id = Some(p);
        }
        if let Some(b) = req.blob {
            if cred.cred_type == "ec2" {
                let (a, s) = ec2_keys(&b)?;
                cred.access_key = Some(a);
                cred.secret = Some(s);
            }
            cred.blob = b;
        }
        if let Some(s) = req.status {
            if s != "active" && s != "inactive" {
                return Err(Error::bad_request("status must be 'active' or 'inactive'."));
            }
            cred.status = s;
        }
        if let Some(d) = req.description {
            cred.description = d;
        }
        repo::update_credential(&mut tx, &cred).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IAM", "credential", "updateCredential", 200).resource(&cred.id, &cred.cred_type),
        )
        .await?;
        tx.commit().await?;
        Ok(cred)
    }

    pub async fn delete_credential(&self, ctx: &Ctx, id_or_access_key: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let id = match repo::get_credential_by_access_key(&mut tx, id_or_access_key).await? {
            Some(cred) => cred.id,
            None => id_or_access_key.to_string(),
        };
        let cred = self.load_credential(&mut tx, ctx, &id).await?;
        authorize("identity:delete_credential", &ctx.principal, &owner(&cred))?;
        repo::delete_credential(&mut tx, &cred.id).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IAM", "credential", "deleteCredential", 204).resource(&cred.id, &cred.cred_type),
        )
        .await?;
        tx.commit().await
    }
}

/// Mints an access key pair in Huawei's shape: a 20-character upper-case AK, a 40-character SK.
pub(crate) fn new_access_key(user_id: &str, project_id: Option<&str>, description: String) -> (Credential, String) {
    let mut rng = rand::thread_rng();
    let access = Alphanumeric.sample_string(&mut rng, 20).to_uppercase();
    let secret = Alphanumeric.sample_string(&mut rng, 40);
    let blob = serde_json::json!({"access": access, "secret": secret}).to_string();
    let cred = Credential {
        id: hex::encode(Sha256::digest(access.as_bytes())),
        user_id: user_id.into(),
        project_id: project_id.map(str::to_string),
        cred_type: "ec2".into(),
        blob,
        access_key: Some(access),
        secret: Some(secret.clone()),
        status: "active".into(),
        description,
        created_at: now_ms(),
        last_used_at: None,
    };
    (cred, secret)
}
