//! Quotas (seed 8.1): per-project limits with configured defaults, usage charged in the
//! transaction of the create (see `nimbus_store::quota`), shown and changed through the
//! OpenStack quota APIs.

use crate::audit::AuditEvent;
use crate::authz::{authorize, authorize_visible, Target};
use crate::{Control, Ctx};
use nimbus_core::Error;
use nimbus_store::identity as idrepo;
use nimbus_store::quota as repo;
use sqlx::AnyConnection;
use std::collections::BTreeMap;

/// A project's limits and usage for every quota resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaSet {
    pub project_id: String,
    pub limits: BTreeMap<String, i64>,
    pub in_use: BTreeMap<String, i64>,
}

/// The quota class whose limits are every project's defaults (the only class that has an
/// effect, as in Cinder and Nova).
pub const DEFAULT_QUOTA_CLASS: &str = "default";

/// The resources counted per volume type as well as in total (Cinder's `volumes_<type>`,
/// `gigabytes_<type>`, `snapshots_<type>`; unlimited unless set).
pub const PER_TYPE_QUOTAS: &[&str] = &["volumes", "gigabytes", "snapshots"];

/// The per-type resource of `base` for the volume type named `type_name`.
pub fn per_type_resource(base: &str, type_name: &str) -> String {
    format!("{base}_{type_name}")
}

/// Whether a resource is a per-volume-type one (`volumes_<type>`...).
pub fn is_per_type(resource: &str) -> bool {
    PER_TYPE_QUOTAS
        .iter()
        .any(|b| resource.strip_prefix(b).and_then(|r| r.strip_prefix('_')).is_some_and(|t| !t.is_empty()))
}

impl Control {
    /// The effective limit of a resource for a project: its own, else the default.
    pub async fn quota_limit(&self, c: &mut AnyConnection, project_id: &str, resource: &str) -> Result<i64, Error> {
        if let Some(own) = repo::get_limit(c, project_id, resource).await? {
            return Ok(own);
        }
        self.default_limit(c, resource).await
    }

    /// The default limit of a resource: the default class's, else the configured one
    /// (per-type resources: unlimited).
    pub async fn default_limit(&self, c: &mut AnyConnection, resource: &str) -> Result<i64, Error> {
        if let Some(class) = repo::class_limit(c, DEFAULT_QUOTA_CLASS, resource).await? {
            return Ok(class);
        }
        match self.config().default_quota(resource) {
            Some(d) => Ok(d),
            None if is_per_type(resource) => Ok(-1),
            None => Err(Error::Internal(format!("unknown quota resource {resource}"))),
        }
    }

    /// Every project's default limits: the configured ones, unlimited per-type ones for each
    /// volume type, and what the default class changed.
    async fn default_limits(&self, c: &mut AnyConnection) -> Result<BTreeMap<String, i64>, Error> {
        let mut limits = self.config().quotas.clone();
        for t in nimbus_store::volumes::list_types(c).await? {
            for base in PER_TYPE_QUOTAS {
                limits.insert(per_type_resource(base, &t.name), -1);
            }
        }
        for (k, v) in repo::class_limits(c, DEFAULT_QUOTA_CLASS).await? {
            if let Some(l) = limits.get_mut(&k) {
                *l = v;
            }
        }
        Ok(limits)
    }

    /// The region's default quotas (the default class over the configured ones).
    pub async fn default_quota_set(&self) -> Result<BTreeMap<String, i64>, Error> {
        let mut c = self.store().read().await?;
        self.default_limits(&mut c).await
    }

    fn check_quota_class(ctx: &Ctx, class: &str, action: &str) -> Result<(), Error> {
        authorize(action, &ctx.principal, &Target::default())?;
        if class != DEFAULT_QUOTA_CLASS {
            return Err(Error::bad_request(format!(
                "Quota class {class:?}: only the {DEFAULT_QUOTA_CLASS:?} class is used in this region."
            )));
        }
        Ok(())
    }

    /// A quota class's limits (operators and system readers).
    pub async fn get_quota_class(&self, ctx: &Ctx, class: &str) -> Result<BTreeMap<String, i64>, Error> {
        Self::check_quota_class(ctx, class, "quota:get")?;
        self.default_quota_set().await
    }

    /// Changes the default class's limits (operators): every project without its own limit
    /// for a resource gets the new one at once.
    pub async fn update_quota_class(
        &self,
        ctx: &Ctx,
        class: &str,
        changes: &BTreeMap<String, i64>,
    ) -> Result<BTreeMap<String, i64>, Error> {
        Self::check_quota_class(ctx, class, "quota:update")?;
        let mut tx = self.store().write().await?;
        let known = self.default_limits(&mut tx).await?;
        for (resource, limit) in changes {
            if !known.contains_key(resource) {
                return Err(Error::bad_request(format!("Unknown quota resource {resource:?}.")));
            }
            if *limit < -1 {
                return Err(Error::bad_request(format!("Quota limit for {resource} must be -1 (unlimited) or more.")));
            }
        }
        for (resource, limit) in changes {
            repo::set_class_limit(&mut tx, class, resource, *limit).await?;
        }
        self.audit(&mut tx, ctx, AuditEvent::new("IAM", "quotaClass", "updateQuotaClass", 200).resource(class, class))
            .await?;
        let set = self.default_limits(&mut tx).await?;
        tx.commit().await?;
        Ok(set)
    }

    /// Charges quota inside the caller's transaction; fails with `OverQuota`.
    pub async fn charge_quota(
        &self,
        tx: &mut AnyConnection,
        project_id: &str,
        resource: &str,
        amount: i64,
    ) -> Result<(), Error> {
        let limit = self.quota_limit(tx, project_id, resource).await?;
        repo::charge(tx, project_id, resource, amount, limit).await
    }

    /// Gives quota back inside the caller's transaction.
    pub async fn release_quota(
        &self,
        tx: &mut AnyConnection,
        project_id: &str,
        resource: &str,
        amount: i64,
    ) -> Result<(), Error> {
        repo::release(tx, project_id, resource, amount).await
    }

    async fn check_project(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        project_id: &str,
        action: &str,
    ) -> Result<(), Error> {
        let target = Target { project_id: Some(project_id), ..Default::default() };
        authorize_visible("quota:get", action, &ctx.principal, &target, "project", project_id)?;
        if idrepo::get_project(c, project_id).await?.is_none() {
            return Err(Error::not_found("project", project_id));
        }
        Ok(())
    }

    async fn quota_set(&self, c: &mut AnyConnection, project_id: &str) -> Result<QuotaSet, Error> {
        let mut limits = self.default_limits(c).await?;
        for (k, v) in repo::limits(c, project_id).await? {
            limits.insert(k, v);
        }
        let mut in_use: BTreeMap<String, i64> = limits.keys().map(|k| (k.clone(), 0)).collect();
        for (k, v) in repo::usage(c, project_id).await? {
            in_use.insert(k, v);
        }
        Ok(QuotaSet { project_id: project_id.into(), limits, in_use })
    }

    /// A project's quotas; readers of the project and admins may look.
    pub async fn get_quotas(&self, ctx: &Ctx, project_id: &str) -> Result<QuotaSet, Error> {
        let mut c = self.store().read().await?;
        self.check_project(&mut c, ctx, project_id, "quota:get").await?;
        self.quota_set(&mut c, project_id).await
    }

    /// Changes limits (admin only). A limit below current usage is refused.
    pub async fn update_quotas(
        &self,
        ctx: &Ctx,
        project_id: &str,
        changes: &BTreeMap<String, i64>,
    ) -> Result<QuotaSet, Error> {
        let mut tx = self.store().write().await?;
        let set = self.update_quotas_in(&mut tx, ctx, project_id, changes).await?;
        tx.commit().await?;
        Ok(set)
    }

    /// [`update_quotas`](Self::update_quotas) in the caller's transaction.
    pub(crate) async fn update_quotas_in(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        project_id: &str,
        changes: &BTreeMap<String, i64>,
    ) -> Result<QuotaSet, Error> {
        let tx = &mut *tx;
        self.check_project(&mut *tx, ctx, project_id, "quota:update").await?;
        let current = self.quota_set(&mut *tx, project_id).await?;
        for (resource, limit) in changes {
            if !current.limits.contains_key(resource) {
                return Err(Error::bad_request(format!("Unknown quota resource {resource:?}.")));
            }
            if *limit < -1 {
                return Err(Error::bad_request(format!("Quota limit for {resource} must be -1 (unlimited) or more.")));
            }
            let used = current.in_use.get(resource).copied().unwrap_or(0);
            if *limit >= 0 && *limit < used {
                return Err(Error::bad_request(format!(
                    "Quota limit {limit} for {resource} must be at least the {used} in use."
                )));
            }
            repo::set_limit(&mut *tx, project_id, resource, *limit).await?;
        }
        self.audit(
            &mut *tx,
            ctx,
            AuditEvent::new("IAM", "quota", "updateQuota", 200).resource(project_id, "").in_project(project_id),
        )
        .await?;
        self.quota_set(&mut *tx, project_id).await
    }

    /// Returns a project to the default limits (admin only).
    pub async fn reset_quotas(&self, ctx: &Ctx, project_id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        self.check_project(&mut tx, ctx, project_id, "quota:update").await?;
        authorize("quota:update", &ctx.principal, &Target { project_id: Some(project_id), ..Default::default() })?;
        repo::reset_limits(&mut tx, project_id).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IAM", "quota", "resetQuota", 202).resource(project_id, "").in_project(project_id),
        )
        .await?;
        tx.commit().await
    }
}
