//! Encrypted volumes: Cinder's encryption types (an operator marks a volume type as LUKS;
//! its new volumes are encrypted), EVS's per-volume `__system__encrypted` flag, and the keys.
//!
//! Each encrypted volume has its own key (a LUKS passphrase, see
//! `nimbus_drivers::volume_crypt`), wrapped by the region's volume key in `volume_keys`. A
//! copy of a volume's stored bytes (a clone, a volume made from a snapshot, a backup, a
//! restore) is ciphertext under the same key, so it gets its own copy of the key row; the
//! store deletes a volume's or a backup's copy with its row, which destroys the key: what
//! is left of the data anywhere (the file's blocks, a backup's chunks) no longer opens.
//!
//! Encryption is fixed for a volume's life: a retype may not change it, a copy keeps its
//! source's, and a backup restores only to a volume encrypted as the backup was.

use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_drivers::volume_files::{Layout, VolumeFormat};
use nimbus_store::volumes::{self as repo, TypeEncryption, Volume, VolumeKeyRow};
use sqlx::AnyConnection;

/// The providers accepted: LUKS under its Cinder, Nova and os-brick names (QEMU opens LUKS
/// version 1 images itself; `plain` dm-crypt has no header to check a key against).
const LUKS_PROVIDERS: &[&str] =
    &["luks", "LuksEncryptor", "nova.volume.encryptors.luks.LuksEncryptor", "os_brick.encryptors.luks.LuksEncryptor"];
/// The one cipher (`cryptsetup`'s name): AES in XTS mode, sector numbers as IVs.
const CIPHER: &str = "aes-xts-plain64";
/// Where encryption happens, in Cinder's words; both mean QEMU on this host here.
const CONTROL_LOCATIONS: &[&str] = &["front-end", "back-end"];

/// An encryption type's fields as a request gives them (all optional on update).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct EncryptionSpec {
    pub provider: Option<String>,
    pub cipher: Option<String>,
    pub key_size: Option<serde_json::Value>,
    pub control_location: Option<String>,
}

/// AES key bits of an XTS key of `key_size` bits (XTS splits its key in two); QEMU's
/// default, AES-256, when the type names none.
fn aes_bits(key_size: Option<i64>) -> u16 {
    if key_size == Some(256) {
        128
    } else {
        256
    }
}

/// Metadata key of an EVS volume created encrypted (`"1"`), and of the KMS key asked for.
pub const EVS_ENCRYPTED: &str = "__system__encrypted";
pub const EVS_CMK: &str = "__system__cmkid";

/// Whether an EVS create asks for encryption through its metadata; a KMS key is refused,
/// there being no key management service in this region.
pub(super) fn evs_asks_encryption(metadata: &std::collections::BTreeMap<String, String>) -> Result<bool, Error> {
    let asked = match metadata.get(EVS_ENCRYPTED).map(String::as_str) {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => {
            return Err(Error::bad_request(format!(
                "Invalid input received: {EVS_ENCRYPTED} is \"0\" or \"1\", not \"{other}\"."
            )))
        }
    };
    if metadata.contains_key(EVS_CMK) {
        return Err(Error::bad_request(format!(
            "Invalid input received: this region offers no key management service, so {EVS_CMK} cannot name a \
             customer master key; leave it out and set {EVS_ENCRYPTED}=\"1\" to encrypt with a key the region keeps."
        )));
    }
    Ok(asked)
}

impl Control {
    /// How a volume's data is stored: its container and, if encrypted, its key.
    pub(crate) async fn volume_layout(&self, v: &Volume) -> Result<Layout, Error> {
        let format = VolumeFormat::for_volume(v.multiattach);
        let Some(key_id) = &v.encryption_key_id else { return Ok(Layout::plain(format)) };
        let row = {
            let mut c = self.store().read().await?;
            repo::get_key(&mut c, key_id).await?
        }
        .ok_or_else(|| Error::Internal(format!("the key of encrypted volume {} is gone", v.id)))?;
        let key = self.drivers().volumes.open_key(&row.wrapped, row.aes_bits as u16)?;
        Ok(Layout { format, key: Some(key) })
    }

    /// Refuses to serve when the region's volume key was just created but encrypted volumes
    /// or backups exist: their keys are wrapped by the lost one (restore `DATA/keys/evs.key`
    /// from a backup), and a new one would leave them unreadable for good.
    pub async fn check_volume_key(&self) -> Result<(), Error> {
        if !self.drivers().volumes.key_created() {
            return Ok(());
        }
        let mut c = self.store().read().await?;
        match repo::count_keys(&mut c).await? {
            0 => Ok(()),
            n => Err(Error::Internal(format!(
                "the volume encryption key (keys/evs.key) is missing but {n} encrypted volume(s) or backup(s) \
                 exist: restore the key from a backup"
            ))),
        }
    }

    /// A new key row for a volume of a type encrypted as `encryption` says; its id.
    pub(crate) async fn new_volume_key(&self, c: &mut AnyConnection, aes: u16) -> Result<String, Error> {
        let (_, wrapped) = self.drivers().volumes.new_key(aes);
        let row =
            VolumeKeyRow { id: uuid::Uuid::new_v4().to_string(), wrapped, aes_bits: aes as i64, created_at: now_ms() };
        repo::insert_key(c, &row).await?;
        Ok(row.id)
    }

    /// A copy of a key row (for a copy of the data it opens); its id. `None` stays `None`.
    pub(crate) async fn copy_volume_key(
        &self,
        c: &mut AnyConnection,
        key_id: Option<&str>,
    ) -> Result<Option<String>, Error> {
        let Some(key_id) = key_id else { return Ok(None) };
        let mut row = repo::get_key(&mut *c, key_id)
            .await?
            .ok_or_else(|| Error::Internal(format!("the volume key {key_id} to copy is gone")))?;
        row.id = uuid::Uuid::new_v4().to_string();
        row.created_at = now_ms();
        repo::insert_key(c, &row).await?;
        Ok(Some(row.id))
    }

    /// Whether two key rows hold the same key (ciphertext under one opens with the other).
    pub(crate) async fn same_volume_key(
        &self,
        c: &mut AnyConnection,
        a: Option<&str>,
        b: Option<&str>,
    ) -> Result<bool, Error> {
        Ok(match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                let (ka, kb) = (repo::get_key(&mut *c, a).await?, repo::get_key(&mut *c, b).await?);
                matches!((ka, kb), (Some(x), Some(y)) if x.wrapped == y.wrapped)
            }
            _ => false,
        })
    }

    /// Readies volume `v` for a restore of backup `b` in place: an encrypted backup restores
    /// only to an encrypted volume and a plaintext one to a plaintext volume; the restored
    /// bytes open with the backup's key, so the volume takes a copy of it. Returns the key
    /// row the volume held, which the caller destroys once the volume is written.
    pub(crate) async fn take_backup_key(
        &self,
        c: &mut AnyConnection,
        v: &mut Volume,
        b: &nimbus_store::backups::Backup,
    ) -> Result<Option<String>, Error> {
        if v.encrypted() != b.encryption_key_id.is_some() {
            return Err(Error::bad_request(format!(
                "Invalid volume: backup {} is {} and volume {} is {}: a backup restores only to a volume encrypted as                  its source was.",
                b.id,
                if b.encryption_key_id.is_some() { "encrypted" } else { "not encrypted" },
                v.id,
                if v.encrypted() { "encrypted" } else { "not encrypted" },
            )));
        }
        let (vk, bk) = (v.encryption_key_id.clone(), b.encryption_key_id.as_deref());
        if self.same_volume_key(&mut *c, vk.as_deref(), bk).await? {
            return Ok(None);
        }
        v.encryption_key_id = self.copy_volume_key(c, bk).await?;
        Ok(vk)
    }

    /// Whether a type is encrypted.
    pub(crate) async fn type_is_encrypted(&self, c: &mut AnyConnection, type_id: &str) -> Result<bool, Error> {
        Ok(repo::type_encryption(c, type_id).await?.is_some())
    }

    /// The AES key bits a type's new volumes get, if the type is encrypted; a 400 naming
    /// the type when its encryption is one this region cannot do.
    pub(crate) async fn type_encryption_bits(
        &self,
        c: &mut AnyConnection,
        t: &nimbus_store::volumes::VolumeType,
    ) -> Result<Option<u16>, Error> {
        match repo::type_encryption(c, &t.id).await? {
            None => Ok(None),
            Some(e) => usable_bits(&t.name, &e).map(Some),
        }
    }

    /// A type's encryption (`None`: the type is not encrypted), for anyone who may use it.
    pub async fn get_type_encryption(&self, ctx: &Ctx, type_id: &str) -> Result<Option<TypeEncryption>, Error> {
        let mut c = self.store().read().await?;
        let t = self.usable_volume_type(&mut c, ctx, type_id).await?;
        repo::type_encryption(&mut c, &t.id).await
    }

    /// Makes a type encrypted (operators; not while volumes use it, as Cinder).
    pub async fn create_type_encryption(
        &self,
        ctx: &Ctx,
        type_id: &str,
        spec: EncryptionSpec,
    ) -> Result<TypeEncryption, Error> {
        authorize("volume:manage_types", &ctx.principal, &Target::default())?;
        let mut tx = self.store().write().await?;
        let t = repo::find_type(&mut tx, type_id)
            .await?
            .filter(|t| t.id == type_id)
            .ok_or_else(|| Error::not_found("volume type", type_id))?;
        if repo::type_encryption(&mut tx, &t.id).await?.is_some() {
            return Err(Error::bad_request(format!("Volume type encryption for type {} already exists.", t.id)));
        }
        if repo::type_in_use(&mut tx, &t.id).await? > 0 {
            return Err(Error::bad_request("Cannot create encryption specs. Volume type in use."));
        }
        if spec.provider.as_deref().is_none_or(|p| p.trim().is_empty()) {
            return Err(Error::bad_request("Invalid input received: provider must be defined."));
        }
        let now = now_ms();
        let mut e = TypeEncryption {
            type_id: t.id.clone(),
            encryption_id: uuid::Uuid::new_v4().to_string(),
            provider: String::new(),
            cipher: None,
            key_size: None,
            control_location: "front-end".into(),
            created_at: now,
            updated_at: None,
        };
        apply_spec(&mut e, spec)?;
        repo::put_type_encryption(&mut tx, &e).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volumeType", "createEncryptionType", 200).resource(&t.id, &t.name),
        )
        .await?;
        tx.commit().await?;
        Ok(e)
    }

    /// Changes a type's encryption (operators; not while volumes use it).
    pub async fn update_type_encryption(
        &self,
        ctx: &Ctx,
        type_id: &str,
        encryption_id: &str,
        spec: EncryptionSpec,
    ) -> Result<TypeEncryption, Error> {
        authorize("volume:manage_types", &ctx.principal, &Target::default())?;
        let mut tx = self.store().write().await?;
        let mut e = repo::type_encryption(&mut tx, type_id)
            .await?
            .filter(|e| e.encryption_id == encryption_id)
            .ok_or_else(|| Error::not_found("volume type encryption", encryption_id))?;
        if repo::type_in_use(&mut tx, type_id).await? > 0 {
            return Err(Error::bad_request("Cannot update encryption specs. Volume type in use."));
        }
        apply_spec(&mut e, spec)?;
        e.updated_at = Some(now_ms());
        repo::put_type_encryption(&mut tx, &e).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volumeType", "updateEncryptionType", 200).resource(type_id, ""),
        )
        .await?;
        tx.commit().await?;
        Ok(e)
    }

    /// Makes a type plaintext again (operators; not while volumes use it).
    pub async fn delete_type_encryption(&self, ctx: &Ctx, type_id: &str, encryption_id: &str) -> Result<(), Error> {
        authorize("volume:manage_types", &ctx.principal, &Target::default())?;
        let mut tx = self.store().write().await?;
        repo::type_encryption(&mut tx, type_id)
            .await?
            .filter(|e| e.encryption_id == encryption_id)
            .ok_or_else(|| Error::not_found("volume type encryption", encryption_id))?;
        if repo::type_in_use(&mut tx, type_id).await? > 0 {
            return Err(Error::bad_request("Cannot delete encryption specs. Volume type in use."));
        }
        repo::delete_type_encryption(&mut tx, type_id).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volumeType", "deleteEncryptionType", 202).resource(type_id, ""),
        )
        .await?;
        tx.commit().await
    }
}

/// Checks a request's fields and sets them on `e`. As Cinder, any provider and cipher name
/// is kept (the volume service judges them when a volume of the type is made); the key
/// size is a whole number of bits and the location one of Cinder's two.
fn apply_spec(e: &mut TypeEncryption, spec: EncryptionSpec) -> Result<(), Error> {
    if let Some(p) = spec.provider {
        let p = p.trim().to_string();
        if p.is_empty() || p.len() > 255 {
            return Err(Error::bad_request("Invalid input received: provider must be 1 to 255 characters."));
        }
        e.provider = p;
    }
    if let Some(c) = spec.cipher {
        if c.len() > 255 {
            return Err(Error::bad_request("Invalid input received: cipher is at most 255 characters."));
        }
        e.cipher = Some(c);
    }
    if let Some(k) = spec.key_size {
        let size = match &k {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match (size, k.is_null()) {
            (_, true) => e.key_size = None,
            (Some(s), _) if (0..=1 << 16).contains(&s) => e.key_size = Some(s),
            _ => {
                return Err(Error::bad_request(format!(
                    "Invalid input received: key_size must be a whole number of bits of at least 0, not {k}."
                )))
            }
        }
    }
    if let Some(l) = spec.control_location {
        if !CONTROL_LOCATIONS.contains(&l.as_str()) {
            return Err(Error::bad_request(format!(
                "Invalid input received: Valid control location are: ['front-end', 'back-end'], not '{l}'."
            )));
        }
        e.control_location = l;
    }
    Ok(())
}

/// The AES key bits of a type's encryption, or why this region cannot encrypt that way.
fn usable_bits(type_name: &str, e: &TypeEncryption) -> Result<u16, Error> {
    let provider_ok = LUKS_PROVIDERS.contains(&e.provider.as_str());
    let cipher_ok = e.cipher.as_deref().is_none_or(|c| c == CIPHER);
    let size_ok = matches!(e.key_size, None | Some(256) | Some(512));
    if provider_ok && cipher_ok && size_ok {
        return Ok(aes_bits(e.key_size));
    }
    Err(Error::bad_request(format!(
        "Invalid input received: volume type {type_name} asks for encryption this region cannot do (provider '{}', \
         cipher '{}', key size {}): its volumes are LUKS ('luks'), '{CIPHER}', 256 or 512 bits.",
        e.provider,
        e.cipher.as_deref().unwrap_or("default"),
        e.key_size.map(|k| k.to_string()).unwrap_or_else(|| "default".into()),
    )))
}
