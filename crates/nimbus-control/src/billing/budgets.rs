//! Budgets: a monthly amount per account with alert thresholds (percentages of it). The
//! billing reconciler rates each account's month so far; every threshold crossed records one
//! alert for the month, shown in the customer space and, when the budget names a URL, POSTed
//! there as JSON. An alert is recorded before it is sent and retried until the URL accepts
//! it (a 2xx), so a restart loses none and sends none twice once accepted.

use super::month::Month;
use super::{money, parse_amount};
use crate::audit::AuditEvent;
use crate::authz::account_of;
use crate::{Control, Ctx};
use nimbus_core::time::iso_time;
use nimbus_core::Error;
use nimbus_store::billing::{self as repo, Budget, BudgetAlert};
use rust_decimal::Decimal;
use std::collections::HashMap;

/// Delivery attempts before an alert is left undelivered (it stays in the customer space).
const MAX_ATTEMPTS: i64 = 20;

/// What a budget is.
#[derive(Debug, Clone, Default)]
pub struct BudgetCreate {
    pub name: String,
    pub amount: String,
    pub thresholds: Vec<i64>,
    pub notify_url: Option<String>,
}

fn thresholds(b: &Budget) -> Vec<i64> {
    serde_json::from_str(&b.thresholds).unwrap_or_default()
}

impl Control {
    /// Creates a budget for the account.
    pub async fn create_budget(&self, ctx: &Ctx, asked: Option<&str>, req: BudgetCreate) -> Result<Budget, Error> {
        let domain = account_of(&ctx.principal, asked, "billing", true)?;
        let name = req.name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(Error::bad_request("A budget's name is 1 to 64 characters."));
        }
        let amount = parse_amount("budget amount", &req.amount)?;
        if amount <= Decimal::ZERO {
            return Err(Error::bad_request("A budget's amount is above zero."));
        }
        let mut ts = req.thresholds.clone();
        if ts.is_empty() {
            ts = vec![50, 80, 100];
        }
        ts.sort_unstable();
        ts.dedup();
        if ts.len() > 10 || ts.iter().any(|t| !(1..=1000).contains(t)) {
            return Err(Error::bad_request(
                "Alert thresholds are up to 10 percentages of the budget, each from 1 to 1000.",
            ));
        }
        if let Some(u) = &req.notify_url {
            let ok = url_ok(u);
            if !ok {
                return Err(Error::bad_request(format!("Invalid notify_url {u:?}: an http or https URL.")));
            }
        }
        let b = Budget {
            id: uuid::Uuid::new_v4().to_string(),
            domain_id: domain,
            name: name.to_string(),
            amount: money(amount),
            thresholds: serde_json::to_string(&ts)?,
            notify_url: req.notify_url.filter(|u| !u.is_empty()),
            created_by: ctx.principal.user_id.clone(),
            created_at: self.billing_now(),
        };
        let mut tx = self.store().write().await?;
        if repo::list_budgets(&mut tx, Some(&b.domain_id)).await?.iter().any(|x| x.name == b.name) {
            return Err(Error::Conflict(format!("The account already has a budget named {:?}.", b.name)));
        }
        repo::insert_budget(&mut tx, &b).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("BSS", "budget", "createBudget", 201).resource(&b.id, &b.name))
            .await?;
        tx.commit().await?;
        Ok(b)
    }

    pub async fn list_budgets(&self, ctx: &Ctx, asked: Option<&str>) -> Result<Vec<Budget>, Error> {
        let domain = account_of(&ctx.principal, asked, "billing", false)?;
        let mut c = self.store().read().await?;
        repo::list_budgets(&mut c, Some(&domain)).await
    }

    pub async fn delete_budget(&self, ctx: &Ctx, asked: Option<&str>, id: &str) -> Result<(), Error> {
        let domain = account_of(&ctx.principal, asked, "billing", true)?;
        let mut tx = self.store().write().await?;
        let b = repo::list_budgets(&mut tx, Some(&domain))
            .await?
            .into_iter()
            .find(|b| b.id == id)
            .ok_or_else(|| Error::not_found("budget", id))?;
        repo::delete_budget(&mut tx, &b.id).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("BSS", "budget", "deleteBudget", 204).resource(&b.id, &b.name))
            .await?;
        tx.commit().await
    }

    /// The account's budget alerts, newest first.
    pub async fn list_budget_alerts(&self, ctx: &Ctx, asked: Option<&str>) -> Result<Vec<BudgetAlert>, Error> {
        let domain = account_of(&ctx.principal, asked, "billing", false)?;
        let mut c = self.store().read().await?;
        repo::list_alerts(&mut c, Some(&domain)).await
    }

    /// Records the alerts of thresholds the month's spending has crossed.
    pub(crate) async fn check_budgets(&self) -> Result<usize, Error> {
        let budgets = {
            let mut c = self.store().read().await?;
            repo::list_budgets(&mut c, None).await?
        };
        let month = Month::of(self.billing_now()).to_string();
        let mut spent: HashMap<String, Decimal> = HashMap::new();
        let mut new = 0;
        for b in budgets {
            let total = match spent.get(&b.domain_id) {
                Some(t) => *t,
                None => {
                    let t = self.month_to_date(&b.domain_id).await?;
                    spent.insert(b.domain_id.clone(), t);
                    t
                }
            };
            let amount = parse_amount("budget amount", &b.amount)?;
            for t in thresholds(&b) {
                if total * Decimal::from(100) < amount * Decimal::from(t) {
                    continue;
                }
                let a = BudgetAlert {
                    id: uuid::Uuid::new_v4().to_string(),
                    budget_id: b.id.clone(),
                    domain_id: b.domain_id.clone(),
                    month: month.clone(),
                    threshold: t,
                    spent: money(total),
                    at: self.billing_now(),
                    delivered: b.notify_url.is_none(),
                    attempts: 0,
                    last_error: None,
                };
                let mut tx = self.store().write().await?;
                if repo::insert_alert(&mut tx, &a).await? {
                    let ctx = Ctx::region_actor("nimbus-billing", "BILLING");
                    self.audit(
                        &mut tx,
                        &ctx,
                        AuditEvent::new("BSS", "budget", "budgetAlert", 201).resource(&b.id, &format!("{t}%")),
                    )
                    .await?;
                    new += 1;
                }
                tx.commit().await?;
            }
        }
        Ok(new)
    }

    /// POSTs the alerts not yet delivered to their budget's URL.
    pub(crate) async fn deliver_alerts(&self) -> Result<(), Error> {
        let (alerts, budgets) = {
            let mut c = self.store().read().await?;
            let budgets: HashMap<String, Budget> =
                repo::list_budgets(&mut c, None).await?.into_iter().map(|b| (b.id.clone(), b)).collect();
            (repo::list_alerts(&mut c, None).await?, budgets)
        };
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| Error::Internal(format!("http client: {e}")))?;
        for a in alerts.into_iter().filter(|a| !a.delivered && a.attempts < MAX_ATTEMPTS) {
            let Some(b) = budgets.get(&a.budget_id) else { continue };
            let Some(url) = &b.notify_url else { continue };
            let body = serde_json::json!({
                "type": "budget_alert", "alert_id": a.id, "budget_id": b.id, "budget_name": b.name,
                "domain_id": a.domain_id, "month": a.month, "threshold_percent": a.threshold,
                "budget_amount": b.amount, "spent": a.spent, "currency": self.prices().currency,
                "at": iso_time(a.at),
            });
            let outcome = match client.post(url).json(&body).send().await {
                Ok(r) if r.status().is_success() => None,
                Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
                Err(e) => Some(e.to_string()),
            };
            let mut tx = self.store().write().await?;
            repo::alert_attempted(&mut tx, &a.id, outcome.as_deref()).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

fn url_ok(u: &str) -> bool {
    reqwest::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some())
}
