//! Volume types (EVS disk types; Cinder's types, their extra specs and access lists) and
//! the QoS specs that throttle their volumes.
//!
//! A type is public, or private and usable only by the projects it is shared with (others
//! get a 404, as for anything they may not see). QoS specs are named sets of limits an
//! operator associates with types (a type has at most one); the hypervisor enforces the
//! limits of specs consumed at the front end (`front-end` or `both`) on every disk of the
//! type's volumes, through QEMU's throttling, when the disk is plugged in or retyped.
//! `back-end` specs are for a storage back end that throttles by itself: the local qcow2
//! back end does not, so they are kept and shown but not enforced.

use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_drivers::hypervisor::DiskQos;
use nimbus_store::volumes::{self as repo, QosSpecs, VolumeType};
use sqlx::AnyConnection;
use std::collections::BTreeMap;

use super::validate_metadata;

/// The built-in types (seed 6.2.1: common I/O, high I/O, ultra-high I/O) and the QoS each
/// one's volumes get from QEMU's throttling: (name, description, IOPS, bytes/s).
pub const BUILTIN_TYPES: &[(&str, &str, i64, i64)] = &[
    ("SATA", "Common I/O", 2_200, 90 << 20),
    ("SAS", "High I/O", 5_000, 150 << 20),
    ("SSD", "Ultra-high I/O", 33_000, 350 << 20),
];

/// Whether a type makes its volumes shareable (Cinder's extra spec `multiattach="<is> True"`).
pub(super) fn type_is_multiattach(t: &VolumeType) -> bool {
    let specs: BTreeMap<String, String> = serde_json::from_str(&t.extra_specs).unwrap_or_default();
    specs.get("multiattach").is_some_and(|v| v.trim().eq_ignore_ascii_case("<is> True"))
}

/// The limits of a type made before QoS specs existed (its `qos` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct LegacyQos {
    total_iops_sec: i64,
    total_bytes_sec: i64,
}

/// Who applies QoS specs' limits (Cinder's consumers).
pub const QOS_CONSUMERS: &[&str] = &["front-end", "back-end", "both"];

/// The limits the hypervisor enforces (QEMU's `block_set_io_throttle`), by Cinder's key
/// names; every value a whole number, 0 for none.
pub const QOS_LIMIT_KEYS: &[&str] =
    &["total_iops_sec", "read_iops_sec", "write_iops_sec", "total_bytes_sec", "read_bytes_sec", "write_bytes_sec"];

/// Checks QoS specs' keys and values: Cinder's strings, and whole numbers of at least zero
/// for the limits enforced here.
fn validate_qos_specs(specs: &BTreeMap<String, String>) -> Result<(), Error> {
    validate_metadata(specs)?;
    for (k, v) in specs {
        if QOS_LIMIT_KEYS.contains(&k.as_str()) && v.trim().parse::<u64>().is_err() {
            return Err(Error::bad_request(format!(
                "Invalid input received: the QoS spec {k} is a number of at least 0, not '{v}'."
            )));
        }
    }
    Ok(())
}

fn validate_consumer(consumer: &str) -> Result<(), Error> {
    if !QOS_CONSUMERS.contains(&consumer) {
        return Err(Error::bad_request(format!(
            "Invalid input received: the QoS consumer '{consumer}' is not one of front-end, back-end, both."
        )));
    }
    Ok(())
}

/// The limits QoS specs put on a disk: those of front-end specs (a total limit wins over
/// the read and write ones of the same kind: QEMU takes one or the other).
pub fn disk_qos(q: Option<&QosSpecs>) -> DiskQos {
    let Some(q) = q.filter(|q| q.consumer != "back-end") else { return DiskQos::default() };
    let specs: BTreeMap<String, String> = serde_json::from_str(&q.specs).unwrap_or_default();
    let get = |k: &str| specs.get(k).and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(0).max(0);
    let (iops, bps) = (get("total_iops_sec"), get("total_bytes_sec"));
    DiskQos {
        iops,
        read_iops: if iops > 0 { 0 } else { get("read_iops_sec") },
        write_iops: if iops > 0 { 0 } else { get("write_iops_sec") },
        bytes_per_sec: bps,
        read_bytes_per_sec: if bps > 0 { 0 } else { get("read_bytes_sec") },
        write_bytes_per_sec: if bps > 0 { 0 } else { get("write_bytes_sec") },
    }
}

/// Whether a caller may see and use a type: public ones, those shared with the caller's
/// project, and every one for operators.
async fn type_visible(c: &mut AnyConnection, ctx: &Ctx, t: &VolumeType) -> Result<bool, Error> {
    if t.is_public || ctx.principal.can_read_all() {
        return Ok(true);
    }
    match ctx.principal.project_id() {
        Some(p) => Ok(repo::type_access(c, &t.id).await?.iter().any(|a| a == p)),
        None => Ok(false),
    }
}

impl Control {
    /// Creates the built-in volume types that are missing (first start and upgrades), each
    /// with QoS specs of its limits, and turns the limits of types made before QoS specs
    /// existed into specs.
    pub(crate) async fn ensure_builtin_volume_types(&self, c: &mut AnyConnection) -> Result<(), Error> {
        for (name, description, iops, bps) in BUILTIN_TYPES {
            if repo::find_type(c, name).await?.is_none() {
                let t = VolumeType {
                    id: uuid::Uuid::new_v4().to_string(),
                    name: name.to_string(),
                    description: Some(description.to_string()),
                    is_public: true,
                    extra_specs: "{}".into(),
                    qos: serde_json::to_string(&LegacyQos { total_iops_sec: *iops, total_bytes_sec: *bps })?,
                    created_at: now_ms(),
                    qos_specs_id: None,
                };
                repo::insert_type(c, &t).await?;
            }
        }
        for mut t in repo::list_types(c).await? {
            let Ok(old) = serde_json::from_str::<LegacyQos>(&t.qos) else { continue };
            if t.qos_specs_id.is_none() {
                let mut name = format!("{}-qos", t.name);
                if repo::find_qos_by_name(c, &name).await?.is_some() {
                    name = format!("{name}-{}", &t.id[..8]);
                }
                let specs = BTreeMap::from([
                    ("total_iops_sec".to_string(), old.total_iops_sec.to_string()),
                    ("total_bytes_sec".to_string(), old.total_bytes_sec.to_string()),
                ]);
                let q = QosSpecs {
                    id: uuid::Uuid::new_v4().to_string(),
                    name,
                    consumer: "front-end".into(),
                    specs: serde_json::to_string(&specs)?,
                    created_at: now_ms(),
                };
                repo::insert_qos(c, &q).await?;
                t.qos_specs_id = Some(q.id);
            }
            t.qos = "{}".into();
            repo::update_type(c, &t).await?;
        }
        Ok(())
    }

    /// The types the caller may use: public ones and those shared with the caller's project
    /// (every one for operators).
    pub async fn list_volume_types(&self, ctx: &Ctx) -> Result<Vec<VolumeType>, Error> {
        let mut c = self.store().read().await?;
        let shared = match ctx.principal.project_id() {
            Some(p) => repo::types_shared_with(&mut c, p).await?,
            None => Vec::new(),
        };
        let all = repo::list_types(&mut c).await?;
        Ok(all.into_iter().filter(|t| t.is_public || ctx.principal.can_read_all() || shared.contains(&t.id)).collect())
    }

    /// One type by id or name (`default`: the region's default type); 404 when the caller
    /// may not see it.
    pub async fn get_volume_type(&self, ctx: &Ctx, id_or_name: &str) -> Result<VolumeType, Error> {
        let mut c = self.store().read().await?;
        self.usable_volume_type(&mut c, ctx, id_or_name).await
    }

    /// A type the caller may use, by id or name (`default`: the region's default), read in
    /// `c`; 404 otherwise.
    pub(crate) async fn usable_volume_type(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        id_or_name: &str,
    ) -> Result<VolumeType, Error> {
        let key = if id_or_name == "default" { self.config().default_volume_type.as_str() } else { id_or_name };
        match repo::find_type(c, key).await? {
            Some(t) if type_visible(c, ctx, &t).await? => Ok(t),
            _ => Err(Error::not_found("volume type", id_or_name)),
        }
    }

    /// The QoS specs a type's volumes get, if any.
    pub(crate) async fn type_qos(&self, c: &mut AnyConnection, t: &VolumeType) -> Result<Option<QosSpecs>, Error> {
        match &t.qos_specs_id {
            Some(id) => repo::get_qos(c, id).await,
            None => Ok(None),
        }
    }

    /// Creates a volume type (operators only); names are unique (409).
    pub async fn create_volume_type(
        &self,
        ctx: &Ctx,
        name: &str,
        description: Option<String>,
        is_public: bool,
        extra_specs: BTreeMap<String, String>,
    ) -> Result<VolumeType, Error> {
        authorize("volume:manage_types", &ctx.principal, &Target::default())?;
        let name = name.trim();
        if name.is_empty() || name.len() > 255 {
            return Err(Error::bad_request("Invalid input received: a volume type needs a name of 1-255 characters."));
        }
        validate_metadata(&extra_specs)?;
        let mut tx = self.store().write().await?;
        if repo::find_type(&mut tx, name).await?.is_some_and(|t| t.name == name) {
            return Err(Error::Conflict(format!("Volume Type {name} already exists.")));
        }
        let t = VolumeType {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            description,
            is_public,
            extra_specs: serde_json::to_string(&extra_specs)?,
            qos: "{}".into(),
            created_at: now_ms(),
            qos_specs_id: None,
        };
        repo::insert_type(&mut tx, &t).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volumeType", "createVolumeType", 200).resource(&t.id, &t.name),
        )
        .await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Loads a type for an operator's change (404 for an unknown id).
    async fn load_type_for_change(&self, c: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<VolumeType, Error> {
        authorize("volume:manage_types", &ctx.principal, &Target::default())?;
        repo::find_type(c, id).await?.filter(|t| t.id == id).ok_or_else(|| Error::not_found("volume type", id))
    }

    /// Renames, re-describes or publishes a type.
    pub async fn update_volume_type(
        &self,
        ctx: &Ctx,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        is_public: Option<bool>,
    ) -> Result<VolumeType, Error> {
        let mut tx = self.store().write().await?;
        let mut t = self.load_type_for_change(&mut tx, ctx, id).await?;
        if let Some(n) = name.map(|n| n.trim().to_string()) {
            if n.is_empty() || n.len() > 255 {
                return Err(Error::bad_request(
                    "Invalid input received: a volume type needs a name of 1-255 characters.",
                ));
            }
            if repo::find_type(&mut tx, &n).await?.is_some_and(|o| o.name == n && o.id != t.id) {
                return Err(Error::Conflict(format!("Volume Type {n} already exists.")));
            }
            // The type's own quotas (limits and usage) follow its name.
            if n != t.name {
                for base in crate::quota::PER_TYPE_QUOTAS {
                    let (from, to) =
                        (crate::quota::per_type_resource(base, &t.name), crate::quota::per_type_resource(base, &n));
                    nimbus_store::quota::rename_resource(&mut tx, &from, &to).await?;
                }
            }
            t.name = n;
        }
        if description.is_some() {
            t.description = description;
        }
        if let Some(p) = is_public {
            t.is_public = p;
        }
        repo::update_type(&mut tx, &t).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volumeType", "updateVolumeType", 200).resource(&t.id, &t.name),
        )
        .await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Deletes a type no volume uses (nor the region's default type).
    pub async fn delete_volume_type(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let t = self.load_type_for_change(&mut tx, ctx, id).await?;
        if t.name == self.config().default_volume_type || repo::type_in_use(&mut tx, &t.id).await? > 0 {
            return Err(Error::bad_request("Target volume type is still in use."));
        }
        repo::delete_type(&mut tx, &t.id).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volumeType", "deleteVolumeType", 202).resource(&t.id, &t.name),
        )
        .await?;
        tx.commit().await
    }

    /// Changes a type's extra specs: merges `set`, then removes `unset` (404 if absent).
    pub async fn change_type_extra_specs(
        &self,
        ctx: &Ctx,
        id: &str,
        set: BTreeMap<String, String>,
        unset: Option<&str>,
    ) -> Result<BTreeMap<String, String>, Error> {
        validate_metadata(&set)?;
        let mut tx = self.store().write().await?;
        let mut t = self.load_type_for_change(&mut tx, ctx, id).await?;
        let mut specs: BTreeMap<String, String> = serde_json::from_str(&t.extra_specs).unwrap_or_default();
        specs.extend(set);
        if let Some(k) = unset {
            specs.remove(k).ok_or_else(|| Error::not_found("extra spec", k))?;
        }
        t.extra_specs = serde_json::to_string(&specs)?;
        repo::update_type(&mut tx, &t).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volumeType", "updateVolumeTypeExtraSpecs", 200).resource(&t.id, &t.name),
        )
        .await?;
        tx.commit().await?;
        Ok(specs)
    }

    /// The projects a private type is shared with (operators only; 404 for a public type,
    /// as Cinder answers: it has no list).
    pub async fn volume_type_access(&self, ctx: &Ctx, id: &str) -> Result<Vec<String>, Error> {
        authorize("volume:manage_types", &ctx.principal, &Target::default())?;
        let mut c = self.store().read().await?;
        let t = repo::find_type(&mut c, id)
            .await?
            .filter(|t| t.id == id)
            .ok_or_else(|| Error::not_found("volume type", id))?;
        if t.is_public {
            return Err(Error::not_found("access list of the public volume type", &t.id));
        }
        repo::type_access(&mut c, &t.id).await
    }

    /// Shares a private type with a project (`add`), or stops sharing it.
    pub async fn change_volume_type_access(&self, ctx: &Ctx, id: &str, project: &str, add: bool) -> Result<(), Error> {
        let project = project.trim();
        if project.is_empty() || project.len() > 64 {
            return Err(Error::bad_request("Invalid input received: a project id is 1-64 characters."));
        }
        let mut tx = self.store().write().await?;
        let t = self.load_type_for_change(&mut tx, ctx, id).await?;
        if t.is_public {
            return Err(Error::bad_request(
                "Invalid volume type: type access modification is not applicable to public volume type.",
            ));
        }
        let (changed, action) = if add {
            (repo::add_type_access(&mut tx, &t.id, project).await?, "addVolumeTypeAccess")
        } else {
            (repo::remove_type_access(&mut tx, &t.id, project).await?, "removeVolumeTypeAccess")
        };
        match (changed, add) {
            (false, true) => {
                return Err(Error::Conflict(format!(
                    "Volume type access for {} / {project} combination already exists.",
                    t.id
                )))
            }
            (false, false) => return Err(Error::not_found("volume type access", format!("{} / {project}", t.id))),
            _ => {}
        }
        self.audit(&mut tx, ctx, AuditEvent::new("EVS", "volumeType", action, 202).resource(&t.id, &t.name)).await?;
        tx.commit().await
    }

    /// Every QoS specs (operators and system readers).
    pub async fn list_qos_specs(&self, ctx: &Ctx) -> Result<Vec<QosSpecs>, Error> {
        authorize("volume:qos_specs", &ctx.principal, &Target::default())?;
        let mut c = self.store().read().await?;
        repo::list_qos(&mut c).await
    }

    /// QoS specs by id.
    pub async fn get_qos_specs(&self, ctx: &Ctx, id: &str) -> Result<QosSpecs, Error> {
        authorize("volume:qos_specs", &ctx.principal, &Target::default())?;
        let mut c = self.store().read().await?;
        repo::get_qos(&mut c, id).await?.ok_or_else(|| Error::not_found("QoS specs", id))
    }

    /// Loads QoS specs for an operator's change.
    async fn load_qos_for_change(&self, c: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<QosSpecs, Error> {
        authorize("volume:manage_qos", &ctx.principal, &Target::default())?;
        repo::get_qos(c, id).await?.ok_or_else(|| Error::not_found("QoS specs", id))
    }

    /// Creates QoS specs; names are unique (409).
    pub async fn create_qos_specs(
        &self,
        ctx: &Ctx,
        name: &str,
        consumer: &str,
        specs: BTreeMap<String, String>,
    ) -> Result<QosSpecs, Error> {
        authorize("volume:manage_qos", &ctx.principal, &Target::default())?;
        let name = name.trim();
        if name.is_empty() || name.len() > 255 {
            return Err(Error::bad_request("Invalid input received: QoS specs need a name of 1-255 characters."));
        }
        validate_consumer(consumer)?;
        validate_qos_specs(&specs)?;
        let mut tx = self.store().write().await?;
        if repo::find_qos_by_name(&mut tx, name).await?.is_some() {
            return Err(Error::Conflict(format!("QoS Specs {name} already exists.")));
        }
        let q = QosSpecs {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.into(),
            consumer: consumer.into(),
            specs: serde_json::to_string(&specs)?,
            created_at: now_ms(),
        };
        repo::insert_qos(&mut tx, &q).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("EVS", "qosSpecs", "createQosSpecs", 200).resource(&q.id, &q.name))
            .await?;
        tx.commit().await?;
        Ok(q)
    }

    /// Sets keys of QoS specs (`consumer` among them changes the consumer); returns the
    /// keys set.
    pub async fn set_qos_keys(
        &self,
        ctx: &Ctx,
        id: &str,
        mut set: BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, Error> {
        let mut tx = self.store().write().await?;
        let mut q = self.load_qos_for_change(&mut tx, ctx, id).await?;
        let asked = set.clone();
        if let Some(c) = set.remove("consumer") {
            validate_consumer(&c)?;
            q.consumer = c;
        }
        validate_qos_specs(&set)?;
        let mut specs: BTreeMap<String, String> = serde_json::from_str(&q.specs).unwrap_or_default();
        specs.extend(set);
        q.specs = serde_json::to_string(&specs)?;
        repo::update_qos(&mut tx, &q).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("EVS", "qosSpecs", "updateQosSpecs", 200).resource(&q.id, &q.name))
            .await?;
        tx.commit().await?;
        Ok(asked)
    }

    /// Removes keys of QoS specs (404 for a key they do not have, nothing removed).
    pub async fn unset_qos_keys(&self, ctx: &Ctx, id: &str, keys: &[String]) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let mut q = self.load_qos_for_change(&mut tx, ctx, id).await?;
        let mut specs: BTreeMap<String, String> = serde_json::from_str(&q.specs).unwrap_or_default();
        for k in keys {
            specs.remove(k).ok_or_else(|| Error::not_found("QoS spec key", k))?;
        }
        q.specs = serde_json::to_string(&specs)?;
        repo::update_qos(&mut tx, &q).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("EVS", "qosSpecs", "unsetQosSpecsKeys", 202).resource(&q.id, &q.name))
            .await?;
        tx.commit().await
    }

    /// Deletes QoS specs; specs associated with types only when `force` (the types are
    /// then dissociated).
    pub async fn delete_qos_specs(&self, ctx: &Ctx, id: &str, force: bool) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let q = self.load_qos_for_change(&mut tx, ctx, id).await?;
        if !force && !repo::qos_types(&mut tx, &q.id).await?.is_empty() {
            return Err(Error::bad_request(format!(
                "QoS Specs {} is still associated with entities (use force to delete them anyway).",
                q.id
            )));
        }
        repo::delete_qos(&mut tx, &q.id).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("EVS", "qosSpecs", "deleteQosSpecs", 202).resource(&q.id, &q.name))
            .await?;
        tx.commit().await
    }

    /// The types associated with QoS specs.
    pub async fn qos_associations(&self, ctx: &Ctx, id: &str) -> Result<Vec<VolumeType>, Error> {
        let q = self.get_qos_specs(ctx, id).await?;
        let mut c = self.store().read().await?;
        repo::qos_types(&mut c, &q.id).await
    }

    /// Associates QoS specs with a type (refused if the type has other specs), dissociates
    /// them from one (`type_id`), or from every type (`None`, `associate` false). An empty
    /// `type_id` is refused (400). The
    /// volumes of a type get its new limits when next plugged in or retyped.
    pub async fn change_qos_association(
        &self,
        ctx: &Ctx,
        id: &str,
        type_id: Option<&str>,
        associate: bool,
    ) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let q = self.load_qos_for_change(&mut tx, ctx, id).await?;
        let types = match type_id {
            Some("") => return Err(Error::bad_request("Invalid input received: vol_type_id is required.")),
            Some(tid) => vec![repo::find_type(&mut tx, tid)
                .await?
                .filter(|t| t.id == tid)
                .ok_or_else(|| Error::not_found("volume type", tid))?],
            None if associate => return Err(Error::bad_request("Invalid input received: vol_type_id is required.")),
            None => repo::qos_types(&mut tx, &q.id).await?,
        };
        for mut t in types {
            if associate {
                match &t.qos_specs_id {
                    Some(other) if *other == q.id => continue,
                    Some(other) => {
                        return Err(Error::bad_request(format!(
                            "Invalid volume type: type {} is already associated with another qos specs: {other}",
                            t.id
                        )))
                    }
                    None => t.qos_specs_id = Some(q.id.clone()),
                }
            } else if t.qos_specs_id.as_deref() == Some(q.id.as_str()) {
                t.qos_specs_id = None;
            } else {
                continue;
            }
            repo::update_type(&mut tx, &t).await?;
        }
        let action = match (associate, type_id) {
            (true, _) => "associateQosSpecs",
            (false, Some(_)) => "disassociateQosSpecs",
            (false, None) => "disassociateAllQosSpecs",
        };
        self.audit(&mut tx, ctx, AuditEvent::new("EVS", "qosSpecs", action, 202).resource(&q.id, &q.name)).await?;
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(consumer: &str, pairs: &[(&str, &str)]) -> QosSpecs {
        let m: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        QosSpecs {
            id: "q".into(),
            name: "q".into(),
            consumer: consumer.into(),
            specs: serde_json::to_string(&m).unwrap(),
            created_at: 0,
        }
    }

    #[test]
    fn front_end_specs_become_disk_limits() {
        assert_eq!(disk_qos(None), DiskQos::default());
        let q =
            specs("front-end", &[("total_iops_sec", "500"), ("read_bytes_sec", "1000"), ("write_bytes_sec", "2000")]);
        assert_eq!(
            disk_qos(Some(&q)),
            DiskQos { iops: 500, read_bytes_per_sec: 1000, write_bytes_per_sec: 2000, ..Default::default() }
        );
        // A total limit wins over the read and write ones of its kind.
        let q = specs("both", &[("total_iops_sec", "500"), ("read_iops_sec", "10"), ("total_bytes_sec", "7")]);
        assert_eq!(disk_qos(Some(&q)), DiskQos { iops: 500, bytes_per_sec: 7, ..Default::default() });
        // The back end's limits are not the hypervisor's.
        assert_eq!(disk_qos(Some(&specs("back-end", &[("total_iops_sec", "500")]))), DiskQos::default());
    }

    #[test]
    fn limits_must_be_whole_numbers() {
        let ok = BTreeMap::from([("total_iops_sec".to_string(), "100".to_string()), ("x".into(), "y".into())]);
        assert!(validate_qos_specs(&ok).is_ok());
        for bad in ["-1", "fast", "1.5"] {
            let m = BTreeMap::from([("read_iops_sec".to_string(), bad.to_string())]);
            assert!(matches!(validate_qos_specs(&m), Err(Error::BadRequest(_))), "{bad}");
        }
        assert!(validate_consumer("both").is_ok() && validate_consumer("middle").is_err());
    }
}
