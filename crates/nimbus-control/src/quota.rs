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

impl Control {
    /// The effective limit of a resource for a project.
    pub async fn quota_limit(&self, c: &mut AnyConnection, project_id: &str, resource: &str) -> Result<i64, Error> {
        let default = self
            .config()
            .default_quota(resource)
            .ok_or_else(|| Error::Internal(format!("unknown quota resource {resource}")))?;
        Ok(repo::get_limit(c, project_id, resource).await?.unwrap_or(default))
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
        let mut limits = self.config().quotas.clone();
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

    /// The region's default quotas.
    pub fn default_quotas(&self) -> BTreeMap<String, i64> {
        self.config().quotas.clone()
    }

    /// Changes limits (admin only). A limit below current usage is refused.
    pub async fn update_quotas(
        &self,
        ctx: &Ctx,
        project_id: &str,
        changes: &BTreeMap<String, i64>,
    ) -> Result<QuotaSet, Error> {
        let mut tx = self.store().write().await?;
        self.check_project(&mut tx, ctx, project_id, "quota:update").await?;
        let current = self.quota_set(&mut tx, project_id).await?;
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
            repo::set_limit(&mut tx, project_id, resource, *limit).await?;
        }
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IAM", "quota", "updateQuota", 200).resource(project_id, "").in_project(project_id),
        )
        .await?;
        let set = self.quota_set(&mut tx, project_id).await?;
        tx.commit().await?;
        Ok(set)
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
