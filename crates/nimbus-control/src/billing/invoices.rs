//! Monthly invoices (seed 5.1.2): per customer account, lines grouped per region, fees tied
//! to no region on the account's primary region. The current month is an open invoice, the
//! month so far with a projection to its end; a month that is over gets an issued invoice,
//! stored once and never recomputed (a later price list or a deleted resource does not
//! change it). Exported as JSON or CSV.

use super::month::Month;
use super::{money, AccountMonth};
use crate::audit::AuditEvent;
use crate::authz::account_of;
use crate::{Control, Ctx};
use nimbus_core::time::iso_time;
use nimbus_core::Error;
use nimbus_store::billing::{self as repo, Invoice};
use serde_json::{json, Value};

/// An invoice in a list.
#[derive(Debug, Clone)]
pub struct InvoiceSummary {
    pub id: String,
    pub month: String,
    pub status: &'static str,
    pub total: String,
    pub currency: String,
    pub issued_at: Option<i64>,
}

fn invoice_id(domain: &str, month: Month) -> String {
    format!("INV-{month}-{}", domain.chars().take(8).collect::<String>())
}

/// The invoice document (what the API returns and an issued invoice stores).
fn document(am: &AccountMonth, currency: &str, status: &str, issued_at: Option<i64>) -> Value {
    let r = &am.rated;
    let regions: Vec<Value> = r
        .subtotals
        .iter()
        .map(|(region, subtotal)| {
            let lines: Vec<Value> = r
                .lines
                .iter()
                .filter(|l| &l.region == region)
                .map(|l| {
                    json!({
                        "project_id": l.project_id, "project_name": l.project_name, "service": l.service,
                        "resource_id": l.resource_id, "resource_name": l.resource_name, "item": l.key,
                        "charge_mode": l.charge_mode.as_str(), "quantity": l.quantity.normalize().to_string(),
                        "unit": l.unit, "unit_price": l.unit_price.map(|p| p.normalize().to_string()),
                        "amount": money(l.amount), "billable_seconds": l.seconds,
                        "reservation_id": l.reservation_id,
                    })
                })
                .collect();
            json!({"region": region, "subtotal": money(*subtotal), "lines": lines})
        })
        .collect();
    json!({
        "id": invoice_id(&am.domain_id, r.month),
        "domain_id": am.domain_id,
        "account_name": am.account_name,
        "month": r.month.to_string(),
        "status": status,
        "currency": currency,
        "period_start": iso_time(r.month.start()),
        "period_end": iso_time(r.month.end()),
        "as_of": iso_time(r.as_of),
        "issued_at": issued_at.map(iso_time),
        "primary_region": am.primary_region,
        "regions": regions,
        "total": money(r.total),
        "projected_total": am.projected_total.map(money),
    })
}

/// An invoice as CSV: one row per line.
pub fn invoice_csv(doc: &Value) -> String {
    fn field(v: &Value) -> String {
        let s = match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    }
    let columns = [
        "project_id",
        "project_name",
        "service",
        "resource_id",
        "resource_name",
        "item",
        "charge_mode",
        "quantity",
        "unit",
        "unit_price",
        "amount",
        "billable_seconds",
        "reservation_id",
    ];
    let mut out = format!("invoice,month,currency,region,{}\n", columns.join(","));
    for region in doc["regions"].as_array().into_iter().flatten() {
        for line in region["lines"].as_array().into_iter().flatten() {
            let mut row =
                vec![field(&doc["id"]), field(&doc["month"]), field(&doc["currency"]), field(&region["region"])];
            row.extend(columns.iter().map(|c| field(&line[*c])));
            out.push_str(&row.join(","));
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "{},{},{},,,,,,,TOTAL,,,,{},,\n",
        field(&doc["id"]),
        field(&doc["month"]),
        field(&doc["currency"]),
        field(&doc["total"])
    ));
    out
}

impl Control {
    /// The month a request names (`YYYY-MM`), the current one by default.
    pub fn billing_month(&self, month: Option<&str>) -> Result<Month, Error> {
        let current = Month::of(self.billing_now());
        let m = match month.filter(|m| !m.is_empty()) {
            None => current,
            Some(s) => Month::parse(s)
                .ok_or_else(|| Error::bad_request(format!("Invalid month {s:?}: a calendar month, YYYY-MM.")))?,
        };
        if m > current {
            return Err(Error::bad_request(format!("Month {m} has not started: invoices cover months from the past.")));
        }
        Ok(m)
    }

    /// An account's invoice for a month: issued if the month is over (issued now if the
    /// reconciler has not yet), the month so far otherwise.
    pub async fn invoice(&self, ctx: &Ctx, asked: Option<&str>, month: Option<&str>) -> Result<Value, Error> {
        let domain = account_of(&ctx.principal, asked, "billing", false)?;
        let m = self.billing_month(month)?;
        self.account_invoice(&domain, m).await
    }

    /// The invoice of an account's month (no rights checked).
    pub(crate) async fn account_invoice(&self, domain: &str, m: Month) -> Result<Value, Error> {
        let now = self.billing_now();
        if m.end() <= now {
            return self.issue_invoice(domain, m).await;
        }
        self.flush_request_meter().await?;
        let am = self.rate_account_month(domain, m, now).await?;
        Ok(document(&am, &self.prices().currency, "open", None))
    }

    /// Issues a month's invoice once (later calls return the stored one).
    pub(crate) async fn issue_invoice(&self, domain: &str, m: Month) -> Result<Value, Error> {
        {
            let mut c = self.store().read().await?;
            if let Some(i) = repo::get_invoice(&mut c, domain, &m.to_string()).await? {
                return Ok(serde_json::from_str(&i.body)?);
            }
        }
        self.flush_request_meter().await?;
        let am = self.rate_account_month(domain, m, m.end()).await?;
        let now = self.billing_now();
        let doc = document(&am, &self.prices().currency, "issued", Some(now));
        let inv = Invoice {
            id: doc["id"].as_str().unwrap_or_default().to_string(),
            domain_id: domain.to_string(),
            month: m.to_string(),
            total: money(am.rated.total),
            currency: self.prices().currency.clone(),
            body: doc.to_string(),
            issued_at: now,
        };
        let mut tx = self.store().write().await?;
        if !repo::insert_invoice(&mut tx, &inv).await? {
            // Issued meanwhile by another pass: that one stands.
            let i = repo::get_invoice(&mut tx, domain, &inv.month)
                .await?
                .ok_or_else(|| Error::not_found("invoice", &inv.id))?;
            return Ok(serde_json::from_str(&i.body)?);
        }
        let ctx = Ctx::region_actor("nimbus-billing", "BILLING");
        self.audit(&mut tx, &ctx, AuditEvent::new("BSS", "invoice", "issueInvoice", 201).resource(&inv.id, &inv.month))
            .await?;
        tx.commit().await?;
        Ok(doc)
    }

    /// Issues every invoice of a month that is over, for every account with something billable.
    pub(crate) async fn issue_due_invoices(&self) -> Result<usize, Error> {
        let current = Month::of(self.billing_now());
        let accounts = {
            let mut c = self.store().read().await?;
            repo::billable_accounts(&mut c, current.start()).await?
        };
        let mut issued = 0;
        for domain in accounts {
            let (first, done) = {
                let mut c = self.store().read().await?;
                let first = repo::account_first_activity(&mut c, &domain).await?;
                let done: std::collections::BTreeSet<String> =
                    repo::list_invoices(&mut c, &domain).await?.into_iter().map(|i| i.month).collect();
                (first, done)
            };
            let Some(first) = first else { continue };
            let mut m = Month::of(first);
            while m < current {
                if !done.contains(&m.to_string()) {
                    self.issue_invoice(&domain, m).await?;
                    issued += 1;
                }
                m = m.plus(1);
            }
        }
        Ok(issued)
    }

    /// An account's invoices: the open month first, then the issued ones, newest first.
    pub async fn list_invoices(&self, ctx: &Ctx, asked: Option<&str>) -> Result<Vec<InvoiceSummary>, Error> {
        let domain = account_of(&ctx.principal, asked, "billing", false)?;
        let now = self.billing_now();
        let current = Month::of(now);
        let open = self.account_invoice(&domain, current).await?;
        let mut out = vec![InvoiceSummary {
            id: open["id"].as_str().unwrap_or_default().to_string(),
            month: current.to_string(),
            status: "open",
            total: open["total"].as_str().unwrap_or_default().to_string(),
            currency: self.prices().currency.clone(),
            issued_at: None,
        }];
        let mut c = self.store().read().await?;
        for i in repo::list_invoices(&mut c, &domain).await? {
            out.push(InvoiceSummary {
                id: i.id,
                month: i.month,
                status: "issued",
                total: i.total,
                currency: i.currency,
                issued_at: Some(i.issued_at),
            });
        }
        Ok(out)
    }

    /// An account's billing settings: its primary region.
    pub async fn billing_account(&self, ctx: &Ctx, asked: Option<&str>) -> Result<(String, String), Error> {
        let domain = account_of(&ctx.principal, asked, "billing", false)?;
        let mut c = self.store().read().await?;
        let region = repo::primary_region(&mut c, &domain).await?.unwrap_or_else(|| self.config().region.clone());
        Ok((domain, region))
    }

    /// Sets the region that bears an account's fees tied to no region.
    pub async fn set_primary_region(
        &self,
        ctx: &Ctx,
        asked: Option<&str>,
        region: &str,
    ) -> Result<(String, String), Error> {
        let domain = account_of(&ctx.principal, asked, "billing", true)?;
        let mut tx = self.store().write().await?;
        let regions = nimbus_store::region::list_regions(&mut tx).await?;
        if !regions.iter().any(|r| r.id == region) {
            return Err(Error::bad_request(format!(
                "Unknown region {region:?}: the primary region is one of {}.",
                regions.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        repo::set_primary_region(&mut tx, &domain, region, self.billing_now()).await?;
        self.audit(&mut tx, ctx, AuditEvent::new("BSS", "account", "setPrimaryRegion", 200).resource(&domain, region))
            .await?;
        tx.commit().await?;
        Ok((domain, region.to_string()))
    }
}
