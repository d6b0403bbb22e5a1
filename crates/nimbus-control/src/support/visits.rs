//! Two more duties of seed 7: the customer may invite a provider support engineer into a
//! tenant, temporarily and with the customer's rights, and end the invitation (7.7.3); the
//! provider announces changes ahead of time (7.7.5, 7.7.7), each kind with its notice period.
//!
//! An invitation grants the engineer the `member` role on the project (what a customer's
//! member may do) until it is ended or expires (at most 30 days; the `InvitationReconciler`
//! ends expired ones); a grant the engineer already had is left as it was. Engineers are
//! users of the provider's own domain.
//!
//! Notices: a minor release at least 24 hours ahead, a major release 10 working days, an
//! incompatible API change 60 days, non-urgent maintenance 24 hours; an urgent change may be
//! announced at once, but urgent interruptions add up to at most 3 hours per service and per
//! calendar month.

use super::calendar;
use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::reconcile::Reconciler;
use crate::{Control, Ctx};
use chrono::{Duration, TimeZone, Utc};
use nimbus_core::Error;
use nimbus_store::identity as idrepo;
use nimbus_store::support::{self as repo, Invitation, Notice};
use std::sync::Arc;

/// The longest visit.
pub const MAX_INVITATION_HOURS: i64 = 30 * 24;
/// The urgent interruption a service may have per calendar month, in minutes.
pub const URGENT_MINUTES_PER_MONTH: i64 = 180;

/// What a notice announces.
#[derive(Debug, Clone, Default)]
pub struct NoticeCreate {
    pub kind: String,
    pub title: String,
    pub description: String,
    pub services: Vec<String>,
    pub starts_at: i64,
    pub interruption_minutes: i64,
}

/// The notice period of a kind: (at least this much before, counted in working time?).
fn notice_period(kind: &str) -> Option<(Duration, bool)> {
    match kind {
        "minor_release" | "maintenance" => Some((Duration::hours(24), false)),
        "major_release" => Some((Duration::hours(10 * calendar::HOURS_PER_WORKING_DAY), true)),
        "incompatible_api" => Some((Duration::days(60), false)),
        "urgent" => Some((Duration::zero(), false)),
        _ => None,
    }
}

impl Control {
    /// Invites a provider engineer into one of the account's projects for `hours`.
    pub async fn invite_engineer(
        &self,
        ctx: &Ctx,
        project_id: &str,
        engineer: &str,
        hours: i64,
        ticket_id: Option<String>,
    ) -> Result<Invitation, Error> {
        let domain = self.support_account(ctx, None, true)?;
        if !(1..=MAX_INVITATION_HOURS).contains(&hours) {
            return Err(Error::bad_request(format!("An invitation lasts 1 to {MAX_INVITATION_HOURS} hours.")));
        }
        let now = self.support_now();
        let mut tx = self.store().write().await?;
        let project = idrepo::get_project(&mut tx, project_id)
            .await?
            .filter(|p| p.domain_id == domain)
            .ok_or_else(|| Error::not_found("project", project_id))?;
        authorize(
            "support:manage",
            &ctx.principal,
            &Target { project_id: Some(&project.id), domain_id: Some(&domain), ..Default::default() },
        )?;
        let user = idrepo::get_user(&mut tx, engineer)
            .await?
            .filter(|u| u.domain_id == crate::identity::DEFAULT_DOMAIN_ID && u.domain_id != domain)
            .ok_or_else(|| {
                Error::bad_request(format!("User {engineer} is not one of the provider's support engineers."))
            })?;
        let role = idrepo::get_global_role_by_name(&mut tx, "member")
            .await?
            .ok_or_else(|| Error::Internal("the member role is missing".into()))?;
        let a = idrepo::Assignment {
            actor_type: "user".into(),
            actor_id: user.id.clone(),
            target_type: "project".into(),
            target_id: project.id.clone(),
            role_id: role.id.clone(),
            inherited: false,
        };
        let existing = idrepo::list_assignments(
            &mut tx,
            &idrepo::AssignmentFilter {
                actor_type: Some("user".into()),
                actor_id: Some(user.id.clone()),
                target_type: Some("project".into()),
                target_id: Some(project.id.clone()),
                role_id: Some(role.id.clone()),
                inherited: Some(false),
            },
        )
        .await?;
        let granted = existing.is_empty();
        if granted {
            idrepo::grant(&mut tx, &a).await?;
        }
        let inv = Invitation {
            id: uuid::Uuid::new_v4().to_string(),
            domain_id: domain.clone(),
            project_id: project.id.clone(),
            engineer_id: user.id.clone(),
            role_id: role.id,
            granted,
            invited_by: ctx.principal.user_id.clone(),
            ticket_id,
            created_at: now,
            expires_at: now + hours * 3_600_000,
            ended_at: None,
        };
        repo::insert_invitation(&mut tx, &inv).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("Support", "invitation", "inviteEngineer", 201)
                .resource(&inv.id, &user.name)
                .in_project(&project.id),
        )
        .await?;
        tx.commit().await?;
        Ok(inv)
    }

    /// The account's invitations (every account's for the provider).
    pub async fn list_invitations(&self, ctx: &Ctx) -> Result<Vec<Invitation>, Error> {
        let provider = crate::authz::allowed("support:provide", &ctx.principal, &Target::default());
        let domain = if provider { None } else { Some(self.support_account(ctx, None, false)?) };
        let mut c = self.store().read().await?;
        Ok(repo::list_invitations(&mut c)
            .await?
            .into_iter()
            .filter(|i| domain.as_ref().is_none_or(|d| &i.domain_id == d))
            .collect())
    }

    /// Ends an invitation: the engineer's grant goes (unless it predates the invitation).
    async fn end_invitation_in(&self, tx: &mut sqlx::AnyConnection, inv: &Invitation, now: i64) -> Result<(), Error> {
        if inv.granted {
            let a = idrepo::Assignment {
                actor_type: "user".into(),
                actor_id: inv.engineer_id.clone(),
                target_type: "project".into(),
                target_id: inv.project_id.clone(),
                role_id: inv.role_id.clone(),
                inherited: false,
            };
            idrepo::revoke(&mut *tx, &a).await?;
            // Tokens already issued for the project end with the grant.
            idrepo::revoke_user_project_tokens(&mut *tx, &inv.engineer_id, &inv.project_id).await?;
        }
        repo::end_invitation(&mut *tx, &inv.id, now).await
    }

    /// The customer ends an invitation.
    pub async fn revoke_invitation(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let domain = self.support_account(ctx, None, true)?;
        let now = self.support_now();
        let mut tx = self.store().write().await?;
        let inv = repo::list_invitations(&mut tx)
            .await?
            .into_iter()
            .find(|i| i.id == id && i.domain_id == domain)
            .ok_or_else(|| Error::not_found("invitation", id))?;
        if inv.ended_at.is_some() {
            return Err(Error::Conflict(format!("Invitation {id} has already ended.")));
        }
        self.end_invitation_in(&mut tx, &inv, now).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("Support", "invitation", "revokeEngineer", 204)
                .resource(&inv.id, "")
                .in_project(&inv.project_id),
        )
        .await?;
        tx.commit().await
    }

    /// Ends the invitations past their time.
    pub(crate) async fn expire_invitations(&self) -> Result<(), Error> {
        let now = self.support_now();
        let mut tx = self.store().write().await?;
        for inv in repo::list_invitations(&mut tx).await? {
            if inv.ended_at.is_none() && inv.expires_at <= now {
                self.end_invitation_in(&mut tx, &inv, now).await?;
            }
        }
        tx.commit().await
    }

    /// Publishes a change notice (the provider), checked against its kind's notice period and,
    /// for urgent changes, the month's interruption budget of each service.
    pub async fn publish_notice(&self, ctx: &Ctx, req: NoticeCreate) -> Result<Notice, Error> {
        authorize("support:provide", &ctx.principal, &Target::default())?;
        let Some((period, working)) = notice_period(&req.kind) else {
            return Err(Error::bad_request(format!(
                "Unknown notice kind {:?}: minor_release, major_release, incompatible_api, maintenance or urgent.",
                req.kind
            )));
        };
        if req.title.trim().is_empty() || req.services.is_empty() {
            return Err(Error::bad_request("A notice needs a title and the services it concerns."));
        }
        if req.interruption_minutes < 0 {
            return Err(Error::bad_request("The interruption is 0 minutes or more."));
        }
        let now = self.support_now();
        let now_at = Utc.timestamp_millis_opt(now).single().unwrap_or_default();
        let earliest = if working { calendar::add_working_time(now_at, period) } else { now_at + period };
        if req.starts_at < earliest.timestamp_millis() {
            return Err(Error::bad_request(format!(
                "A {} is announced at least {} ahead: it may start {} at the earliest.",
                req.kind.replace('_', " "),
                match req.kind.as_str() {
                    "major_release" => "10 working days".to_string(),
                    "incompatible_api" => "60 days".to_string(),
                    _ => "24 hours".to_string(),
                },
                earliest.format("%Y-%m-%dT%H:%M:%SZ")
            )));
        }
        let mut tx = self.store().write().await?;
        if req.kind == "urgent" {
            let start = Utc.timestamp_millis_opt(req.starts_at).single().unwrap_or_default();
            let (month, next) =
                (super::month_start(start, 0).timestamp_millis(), super::month_start(start, 1).timestamp_millis());
            for service in &req.services {
                let used: i64 = repo::list_notices(&mut tx)
                    .await?
                    .iter()
                    .filter(|n| n.kind == "urgent" && n.starts_at >= month && n.starts_at < next)
                    .filter(|n| serde_json::from_str::<Vec<String>>(&n.services).unwrap_or_default().contains(service))
                    .map(|n| n.interruption_minutes)
                    .sum();
                if used + req.interruption_minutes > URGENT_MINUTES_PER_MONTH {
                    return Err(Error::bad_request(format!(
                        "Urgent changes interrupt {service} at most {URGENT_MINUTES_PER_MONTH} minutes a month: \
                         {used} already announced this month."
                    )));
                }
            }
        }
        let n = Notice {
            id: uuid::Uuid::new_v4().to_string(),
            kind: req.kind,
            title: req.title,
            description: req.description,
            services: serde_json::to_string(&req.services)?,
            starts_at: req.starts_at,
            interruption_minutes: req.interruption_minutes,
            published_by: ctx.principal.user_id.clone(),
            published_at: now,
        };
        repo::insert_notice(&mut tx, &n).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("Support", "notice", "publishNotice", 201).resource(&n.id, &n.title))
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The change notices (every account sees them all).
    pub async fn list_notices(&self, ctx: &Ctx) -> Result<Vec<Notice>, Error> {
        if ctx.principal.is_anonymous() {
            return Err(Error::Unauthorized("Sign in to read the change notices.".into()));
        }
        let mut c = self.store().read().await?;
        repo::list_notices(&mut c).await
    }
}

/// Ends expired support invitations.
pub struct InvitationReconciler;

#[async_trait::async_trait]
impl Reconciler for InvitationReconciler {
    fn name(&self) -> &'static str {
        "support-invitations"
    }

    fn period(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }

    async fn reconcile(&self, control: &Arc<Control>) -> Result<(), Error> {
        control.expire_invitations().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_periods_per_kind() {
        assert_eq!(notice_period("minor_release"), Some((Duration::hours(24), false)));
        assert_eq!(notice_period("major_release"), Some((Duration::hours(100), true)), "10 working days");
        assert_eq!(notice_period("incompatible_api"), Some((Duration::days(60), false)));
        assert_eq!(notice_period("urgent"), Some((Duration::zero(), false)));
        assert_eq!(notice_period("whenever"), None);
    }
}
