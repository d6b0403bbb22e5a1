//! Flavors, named like the seed's provider: `<family><generation>.<size>.<ram per vCPU>`
//! (`s3.small.1`: general purpose, 1 vCPU, 1 GiB), with their id equal to their name as
//! the native API shows them.

use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::page::PageRequest;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::compute::{self as repo, Flavor};
use sqlx::AnyConnection;

/// The flavors every region starts with: (name, vCPUs, RAM MiB, root GiB, ephemeral GiB).
/// `s` general purpose, `c` compute-optimised, `m` memory-optimised, `d` with local disks.
pub const BUILTIN_FLAVORS: &[(&str, i64, i64, i64, i64)] = &[
    ("s3.small.1", 1, 1024, 0, 0),
    ("s3.medium.2", 1, 2048, 0, 0),
    ("s3.medium.4", 1, 4096, 0, 0),
    ("s3.large.2", 2, 4096, 0, 0),
    ("s3.large.4", 2, 8192, 0, 0),
    ("s3.xlarge.2", 4, 8192, 0, 0),
    ("s3.xlarge.4", 4, 16384, 0, 0),
    ("c3.large.2", 2, 4096, 0, 0),
    ("c3.xlarge.2", 4, 8192, 0, 0),
    ("m3.large.8", 2, 16384, 0, 0),
    ("m3.xlarge.8", 4, 32768, 0, 0),
    ("d3.xlarge.8", 4, 32768, 0, 50),
];

/// Fields of a new flavor (admin).
#[derive(Debug, Clone, Default)]
pub struct FlavorCreate {
    pub id: Option<String>,
    pub name: String,
    pub vcpus: i64,
    pub ram_mb: i64,
    pub disk_gb: i64,
    pub ephemeral_gb: i64,
    pub swap_mb: i64,
    pub rxtx_factor: Option<f64>,
    pub is_public: bool,
    pub description: Option<String>,
}

impl Control {
    /// Creates the built-in flavors that are missing (first start and upgrades).
    pub(crate) async fn ensure_builtin_flavors(&self, c: &mut AnyConnection) -> Result<(), Error> {
        for (name, vcpus, ram, disk, eph) in BUILTIN_FLAVORS {
            if repo::get_flavor(c, name).await?.is_none() {
                let f = Flavor {
                    id: name.to_string(),
                    name: name.to_string(),
                    vcpus: *vcpus,
                    ram_mb: *ram,
                    disk_gb: *disk,
                    ephemeral_gb: *eph,
                    swap_mb: 0,
                    rxtx_factor: "1.0".into(),
                    is_public: true,
                    disabled: false,
                    description: None,
                    extra_specs: "{}".into(),
                    created_at: now_ms(),
                };
                repo::insert_flavor(c, &f).await?;
            }
        }
        Ok(())
    }

    /// Whether the caller may use a flavor (public, or private with access, or admin).
    async fn flavor_visible(&self, c: &mut AnyConnection, ctx: &Ctx, f: &Flavor) -> Result<bool, Error> {
        if f.is_public || ctx.principal.can_read_all() {
            return Ok(true);
        }
        match ctx.principal.project_id() {
            Some(p) => repo::has_flavor_access(c, &f.id, p).await,
            None => Ok(false),
        }
    }

    /// A flavor by id (or name), if the caller may see it.
    pub async fn get_flavor(&self, ctx: &Ctx, id: &str) -> Result<Flavor, Error> {
        let mut c = self.store().read().await?;
        let f = match repo::get_flavor(&mut c, id).await? {
            Some(f) => Some(f),
            None => repo::get_flavor_by_name(&mut c, id).await?,
        };
        match f {
            Some(f) if self.flavor_visible(&mut c, ctx, &f).await? => Ok(f),
            _ => Err(Error::not_found("flavor", id)),
        }
    }

    /// Flavors the caller may use. `is_public`: `Some(true)` public only, `Some(false)` private
    /// only (admins), `None` both.
    pub async fn list_flavors(
        &self,
        ctx: &Ctx,
        is_public: Option<bool>,
        min_ram: Option<i64>,
        min_disk: Option<i64>,
        page: &PageRequest,
    ) -> Result<Vec<Flavor>, Error> {
        let mut c = self.store().read().await?;
        let viewer = if ctx.principal.can_read_all() { None } else { ctx.principal.project_id() };
        if viewer.is_none() && !ctx.principal.can_read_all() {
            // Unscoped callers see the public catalogue only.
            return repo::list_flavors(&mut c, Some(""), Some(true), min_ram, min_disk, page).await;
        }
        repo::list_flavors(&mut c, viewer, is_public, min_ram, min_disk, page).await
    }

    /// Creates a flavor (admin).
    pub async fn create_flavor(&self, ctx: &Ctx, req: FlavorCreate) -> Result<Flavor, Error> {
        authorize("compute:manage_flavors", &ctx.principal, &Target::default())?;
        crate::identity::validate_name("flavor", &req.name)?;
        if req.vcpus < 1 || req.ram_mb < 1 || req.disk_gb < 0 || req.ephemeral_gb < 0 || req.swap_mb < 0 {
            return Err(Error::bad_request("vcpus and ram must be positive; disk, ephemeral and swap not negative."));
        }
        if req.rxtx_factor.is_some_and(|r| r <= 0.0) {
            return Err(Error::bad_request("rxtx_factor must be positive."));
        }
        let f = Flavor {
            id: req.id.clone().filter(|i| !i.is_empty()).unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            name: req.name,
            vcpus: req.vcpus,
            ram_mb: req.ram_mb,
            disk_gb: req.disk_gb,
            ephemeral_gb: req.ephemeral_gb,
            swap_mb: req.swap_mb,
            rxtx_factor: format!("{}", req.rxtx_factor.unwrap_or(1.0)),
            is_public: req.is_public,
            disabled: false,
            description: req.description,
            extra_specs: "{}".into(),
            created_at: now_ms(),
        };
        let mut tx = self.store().write().await?;
        repo::insert_flavor(&mut tx, &f).await.map_err(|e| match e {
            Error::Conflict(_) => {
                Error::Conflict(format!("Flavor with name {} or id {} already exists.", f.name, f.id))
            }
            other => other,
        })?;
        self.audit(&mut tx, ctx, AuditEvent::new("ECS", "flavor", "createFlavor", 200).resource(&f.id, &f.name))
            .await?;
        tx.commit().await?;
        Ok(f)
    }

    /// Changes a flavor's description (the only mutable field, as in Nova 2.55).
    pub async fn update_flavor_description(
        &self,
        ctx: &Ctx,
        id: &str,
        description: Option<String>,
    ) -> Result<Flavor, Error> {
        authorize("compute:manage_flavors", &ctx.principal, &Target::default())?;
        let mut tx = self.store().write().await?;
        let mut f = repo::get_flavor(&mut tx, id).await?.ok_or_else(|| Error::not_found("flavor", id))?;
        f.description = description;
        repo::update_flavor(&mut tx, &f).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("ECS", "flavor", "updateFlavor", 200).resource(&f.id, &f.name))
            .await?;
        tx.commit().await?;
        Ok(f)
    }

    /// Sets extra specs (merged into the existing ones) and/or removes one key (404 if it is
    /// not set); returns the specs after the change (admin).
    pub async fn change_flavor_extra_specs(
        &self,
        ctx: &Ctx,
        id: &str,
        set: &std::collections::BTreeMap<String, String>,
        unset: Option<&str>,
    ) -> Result<std::collections::BTreeMap<String, String>, Error> {
        authorize("compute:manage_flavors", &ctx.principal, &Target::default())?;
        for (k, v) in set {
            let key_ok = !k.is_empty()
                && k.len() <= 255
                && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | ' '));
            if !key_ok || v.chars().count() > 255 {
                return Err(Error::bad_request(format!(
                    "Invalid extra spec {k:?}: keys are 1-255 letters, digits or _-.: and values at most 255 characters."
                )));
            }
        }
        let mut tx = self.store().write().await?;
        let mut f = repo::get_flavor(&mut tx, id).await?.ok_or_else(|| Error::not_found("flavor", id))?;
        let mut specs: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&f.extra_specs).unwrap_or_default();
        specs.extend(set.clone());
        if let Some(k) = unset {
            if specs.remove(k).is_none() {
                return Err(Error::not_found("extra spec", k));
            }
        }
        f.extra_specs = serde_json::to_string(&specs)?;
        repo::update_flavor(&mut tx, &f).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("ECS", "flavor", "updateFlavorExtraSpecs", 200).resource(&f.id, &f.name),
        )
        .await?;
        tx.commit().await?;
        Ok(specs)
    }

    /// Deletes a flavor (admin).
    pub async fn delete_flavor(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        authorize("compute:manage_flavors", &ctx.principal, &Target::default())?;
        let mut tx = self.store().write().await?;
        let f = repo::get_flavor(&mut tx, id).await?.ok_or_else(|| Error::not_found("flavor", id))?;
        repo::delete_flavor(&mut tx, id).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("ECS", "flavor", "deleteFlavor", 202).resource(&f.id, &f.name))
            .await?;
        tx.commit().await
    }

    /// Projects given access to a private flavor (admin).
    pub async fn flavor_access(&self, ctx: &Ctx, id: &str) -> Result<Vec<String>, Error> {
        authorize("compute:manage_flavors", &ctx.principal, &Target::default())?;
        let mut c = self.store().read().await?;
        let f = repo::get_flavor(&mut c, id).await?.ok_or_else(|| Error::not_found("flavor", id))?;
        if f.is_public {
            return Err(Error::not_found("flavor access", "(public flavor)"));
        }
        repo::flavor_access(&mut c, id).await
    }

    /// Grants or removes a project's access to a private flavor (admin).
    pub async fn set_flavor_access(
        &self,
        ctx: &Ctx,
        id: &str,
        project: &str,
        grant: bool,
    ) -> Result<Vec<String>, Error> {
        authorize("compute:manage_flavors", &ctx.principal, &Target::default())?;
        let mut tx = self.store().write().await?;
        let f = repo::get_flavor(&mut tx, id).await?.ok_or_else(|| Error::not_found("flavor", id))?;
        if f.is_public {
            return Err(Error::Conflict("A public flavor has no access list.".into()));
        }
        if grant {
            repo::add_flavor_access(&mut tx, id, project).await.map_err(|e| match e {
                Error::Conflict(_) => Error::Conflict(format!("Project {project} already has access to flavor {id}.")),
                other => other,
            })?;
        } else if !repo::remove_flavor_access(&mut tx, id, project).await? {
            return Err(Error::not_found("flavor access", project));
        }
        let action = if grant { "addFlavorAccess" } else { "removeFlavorAccess" };
        self.audit(&mut tx, ctx, AuditEvent::new("ECS", "flavor", action, 200).resource(&f.id, &f.name)).await?;
        let list = repo::flavor_access(&mut tx, id).await?;
        tx.commit().await?;
        Ok(list)
    }
}
