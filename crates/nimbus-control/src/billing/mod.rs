//! Billing (seed 4.1, 5.1.2, 6.1.1, 6.1.3-6.1.5): metering turned into money.
//!
//! Usage events (`usage.rs`) become metered levels; the versioned price list (`prices.rs`)
//! prices them by the second (`rating.rs`); each customer account (a domain) gets a monthly
//! invoice with lines per region (`invoices.rs`): the month so far while it runs, with a
//! projection to its end, then an issued, frozen invoice once it is over. Reserved instances
//! (`reserved.rs`) replace the pay-per-use price of the instances they cover with a monthly
//! amount; budgets (`budgets.rs`) alert when the month's spending crosses their thresholds.
//!
//! The billing clock is the wall clock; tests may run it ahead (`billing_clock_offset_secs`)
//! so that a month they used is over and its invoice issued.

mod budgets;
mod invoices;
pub mod month;
pub mod prices;
pub mod rating;
mod reserved;
pub mod usage;

pub use budgets::BudgetCreate;
pub use invoices::{invoice_csv, InvoiceSummary};
pub use reserved::{ReservationCreate, ReservationView, CANCELLATION_FEE_PERCENT};

use crate::Control;
use month::Month;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::billing as repo;
use prices::{PriceList, DEFAULT_PRICE_LIST, INCREASE_NOTICE_MS};
use rating::{Rated, RatingInput, Reserved};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;

/// The loaded price list (swapped whole when it is reloaded).
pub struct Prices(std::sync::RwLock<Arc<PriceList>>);

impl Default for Prices {
    fn default() -> Self {
        Prices(std::sync::RwLock::new(Arc::new(PriceList::parse(DEFAULT_PRICE_LIST).expect("the shipped price list"))))
    }
}

/// An account's month, rated so far and projected to its end.
pub struct AccountMonth {
    pub domain_id: String,
    pub account_name: String,
    pub primary_region: String,
    pub rated: Rated,
    /// The month's total if what runs now keeps running (only for a month not over).
    pub projected_total: Option<Decimal>,
}

pub(crate) fn parse_amount(what: &str, s: &str) -> Result<Decimal, Error> {
    Decimal::from_str(s.trim())
        .map_err(|_| Error::bad_request(format!("Invalid {what} {s:?}: a decimal amount in EUR.")))
}

/// A decimal shown with cents.
pub fn money(d: Decimal) -> String {
    let mut d = rating::cents(d);
    d.rescale(2);
    d.to_string()
}

impl Control {
    /// The billing clock.
    pub fn billing_now(&self) -> i64 {
        now_ms() + self.config().billing_clock_offset_secs * 1000
    }

    /// The price list in force.
    pub fn prices(&self) -> Arc<PriceList> {
        self.prices.0.read().expect("price list lock").clone()
    }

    /// Loads the price list (the configured file, else the shipped one), announces the
    /// revisions not announced yet, and puts it in force. Called at start-up.
    pub async fn load_price_list(&self) -> Result<(), Error> {
        let text = match &self.config().price_list {
            Some(path) => {
                std::fs::read_to_string(path).map_err(|e| Error::bad_request(format!("price list {path}: {e}")))?
            }
            None => DEFAULT_PRICE_LIST.to_string(),
        };
        let mut list = PriceList::parse(&text)?;
        self.announce_revisions(&mut list).await?;
        *self.prices.0.write().expect("price list lock") = Arc::new(list);
        Ok(())
    }

    /// Publishes a change notice for each revision the region has not announced. On a new
    /// region, revisions already in force predate it and count as announced in time.
    async fn announce_revisions(&self, list: &mut PriceList) -> Result<(), Error> {
        let now = now_ms();
        let mut tx = self.store().write().await?;
        let known: HashMap<String, i64> = repo::price_announcements(&mut tx).await?.into_iter().collect();
        let fresh = known.is_empty();
        let previous = list.clone();
        for (i, r) in list.revisions.iter().enumerate() {
            if known.contains_key(&r.id) {
                continue;
            }
            if fresh && r.effective_from <= now {
                repo::insert_price_announcement(&mut tx, &r.id, None, r.effective_from - INCREASE_NOTICE_MS).await?;
                continue;
            }
            let region = &self.config().region;
            let mut changes = Vec::new();
            let mut services = std::collections::BTreeSet::new();
            for (scope, table) in &r.prices {
                for (key, price) in table {
                    let before = (i > 0)
                        .then(|| previous.price(if scope == "*" { region } else { scope }, key, r.effective_from - 1))
                        .flatten();
                    let what = match before {
                        Some(b) if *price > b => format!(
                            "{key} ({scope}): {b} -> {price} EUR, an increase: in force 30 days after this notice at \
                             the earliest"
                        ),
                        Some(b) => format!("{key} ({scope}): {b} -> {price} EUR"),
                        None => format!("{key} ({scope}): {price} EUR (new)"),
                    };
                    changes.push(what);
                    services.insert(key.split(':').next().unwrap_or_default().to_string());
                }
            }
            let notice = nimbus_store::support::Notice {
                id: uuid::Uuid::new_v4().to_string(),
                kind: "price_change".into(),
                title: format!("Price list revision {} from {}", r.id, r.month),
                description: changes.join("\n"),
                services: serde_json::to_string(&services)?,
                starts_at: r.effective_from,
                interruption_minutes: 0,
                published_by: String::new(),
                published_at: now,
            };
            nimbus_store::support::insert_notice(&mut tx, &notice).await?;
            repo::insert_price_announcement(&mut tx, &r.id, Some(&notice.id), now).await?;
        }
        list.announced = repo::price_announcements(&mut tx).await?.into_iter().collect();
        tx.commit().await
    }

    /// Rates an account's month until `as_of` (its end for a final invoice).
    pub async fn rate_account_month(&self, domain: &str, month: Month, as_of: i64) -> Result<AccountMonth, Error> {
        let prices = self.prices();
        let mut c = self.store().read().await?;
        let account_name = nimbus_store::identity::get_domain(&mut c, domain)
            .await?
            .map(|d| d.name)
            .unwrap_or_else(|| domain.to_string());
        let primary_region =
            repo::primary_region(&mut c, domain).await?.unwrap_or_else(|| self.config().region.clone());
        let projects: BTreeMap<String, String> =
            repo::account_projects(&mut c, domain).await?.into_iter().map(|p| (p.project_id, p.name)).collect();
        let events = repo::account_usage_events(&mut c, domain, month.end()).await?;
        let disks: HashMap<String, bool> = repo::flavor_local_disks(&mut c).await?.into_iter().collect();
        let mut metered = usage::meter_events(&events, &|f| disks.get(f).copied().unwrap_or(false));
        metered
            .extend(usage::meter_requests(&repo::account_requests(&mut c, domain, month.start(), month.end()).await?));
        let reservations: Vec<Reserved> =
            repo::list_reservations(&mut c, Some(domain)).await?.iter().map(reserved::for_rating).collect();
        let plan = self.subscription_at(&mut c, domain, month.start()).await?.plan.name;
        drop(c);
        let input = RatingInput {
            month,
            as_of,
            region: &self.config().region,
            primary_region: &primary_region,
            metered: &metered,
            reservations: &reservations,
            support_plan: Some(plan),
            project_names: &projects,
        };
        let rated = rating::rate(&prices, &input);
        let projected_total = (as_of < month.end()).then(|| {
            let whole = RatingInput { as_of: month.end(), ..input.clone() };
            rating::rate(&prices, &whole).total
        });
        Ok(AccountMonth { domain_id: domain.to_string(), account_name, primary_region, rated, projected_total })
    }

    /// The month-to-date spending of accounts (budgets), rated once per account.
    pub(crate) async fn month_to_date(&self, domain: &str) -> Result<Decimal, Error> {
        let now = self.billing_now();
        self.flush_request_meter().await?;
        Ok(self.rate_account_month(domain, Month::of(now), now).await?.rated.total)
    }
}

/// Issues the invoices of months that are over, checks budgets and delivers their alerts,
/// every `billing_interval_secs`.
#[derive(Default)]
pub struct BillingReconciler {
    last_pass: std::sync::atomic::AtomicI64,
}

#[async_trait::async_trait]
impl crate::reconcile::Reconciler for BillingReconciler {
    fn name(&self) -> &'static str {
        "billing"
    }

    fn period(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }

    async fn reconcile(&self, control: &Arc<Control>) -> Result<(), Error> {
        use std::sync::atomic::Ordering;
        let now = now_ms();
        let every = control.config().billing_interval_secs.max(1) as i64 * 1000;
        if now - self.last_pass.load(Ordering::Relaxed) < every {
            return Ok(());
        }
        self.last_pass.store(now, Ordering::Relaxed);
        control.issue_due_invoices().await?;
        control.check_budgets().await?;
        control.deliver_alerts().await
    }
}
