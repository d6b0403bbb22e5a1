//! `nimbus billing` and `nimbus ri`: the price list, invoices (table, JSON or CSV), budgets
//! and their alerts, and reserved instances, through the customer space's billing API.

use super::client::Client;
use super::output::{Format, Out};
use clap::Subcommand;
use serde_json::{json, Value};

/// `?domain_id=` for operators acting on a customer's account.
fn account(domain: &Option<String>) -> String {
    domain.as_ref().map(|d| format!("?domain_id={d}")).unwrap_or_default()
}

fn with(query: &str, more: &str) -> String {
    if query.is_empty() {
        format!("?{more}")
    } else {
        format!("{query}&{more}")
    }
}

#[derive(Debug, Subcommand)]
pub enum BillingCmd {
    /// The prices in force in this region.
    Prices,
    /// The account's billing settings, or set its primary region.
    Account {
        #[arg(long)]
        primary_region: Option<String>,
        /// A customer account (operators).
        #[arg(long)]
        domain: Option<String>,
    },
    /// The account's invoices.
    Invoices {
        #[arg(long)]
        domain: Option<String>,
    },
    /// A month's invoice (YYYY-MM; this month's so far by default).
    Invoice {
        month: Option<String>,
        /// Print it as CSV.
        #[arg(long)]
        csv: bool,
        #[arg(long)]
        domain: Option<String>,
    },
    /// Budgets.
    #[command(subcommand)]
    Budget(BudgetCmd),
    /// The budget alerts sent.
    Alerts {
        #[arg(long)]
        domain: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BudgetCmd {
    List {
        #[arg(long)]
        domain: Option<String>,
    },
    /// A monthly budget with alert thresholds (percentages; 50, 80, 100 by default).
    Create {
        name: String,
        #[arg(long)]
        amount: String,
        #[arg(long = "threshold")]
        thresholds: Vec<i64>,
        /// Where alerts are POSTed.
        #[arg(long)]
        notify_url: Option<String>,
        #[arg(long)]
        domain: Option<String>,
    },
    Delete {
        id: String,
        #[arg(long)]
        domain: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RiCmd {
    List {
        #[arg(long)]
        domain: Option<String>,
    },
    Show {
        id: String,
    },
    /// Reserves a flavor for 1, 2, 3 or 5 years from the first day of next month.
    Subscribe {
        #[arg(long)]
        flavor: String,
        #[arg(long)]
        years: i64,
        /// Pay half the term at once, the rest monthly.
        #[arg(long)]
        partial_upfront: bool,
        /// May move to another flavor of its family during the term.
        #[arg(long)]
        flexible: bool,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        domain: Option<String>,
    },
    /// Moves a flexible reservation to another flavor of its family from next month.
    Modify {
        id: String,
        #[arg(long)]
        flavor: String,
    },
    /// Cancels a reservation (a fee of 12% of what is still due for the term).
    Cancel {
        id: String,
    },
}

const RI_FIELDS: &[&str] = &[
    "id",
    "status",
    "flavor",
    "current_flavor",
    "region",
    "term_years",
    "payment",
    "flexible",
    "monthly_amount",
    "current_monthly_amount",
    "upfront_amount",
    "effective_from",
    "ends_at",
    "cancelled_at",
    "cancellation_fee",
];

pub async fn run(c: &Client, out: &Out, cmd: BillingCmd) -> anyhow::Result<()> {
    match cmd {
        BillingCmd::Prices => {
            let v = c.get("/v1/billing/prices").await?;
            out.list(&v["prices"]["in_force"], &[("Item", "item"), ("Price (EUR)", "price"), ("Unit", "unit")]);
        }
        BillingCmd::Account { primary_region, domain } => {
            let path = format!("/v1/billing/account{}", account(&domain));
            let v = match primary_region {
                Some(r) => c.call("PUT", &path, Some(json!({"primary_region": r}))).await?,
                None => c.get(&path).await?,
            };
            out.object(&v["account"], &[]);
        }
        BillingCmd::Invoices { domain } => {
            let v = c.get(&format!("/v1/billing/invoices{}", account(&domain))).await?;
            out.list(
                &v["invoices"],
                &[("Month", "month"), ("Status", "status"), ("Total", "total"), ("Currency", "currency"), ("Id", "id")],
            );
        }
        BillingCmd::Invoice { month, csv, domain } => {
            let path = format!("/v1/billing/invoices/{}", month.as_deref().unwrap_or("current"));
            if csv {
                print!(
                    "{}",
                    c.call_text("GET", &format!("{path}{}", with(&account(&domain), "format=csv")), None).await?
                );
                return Ok(());
            }
            let v = c.get(&format!("{path}{}", account(&domain))).await?;
            let inv = &v["invoice"];
            if out.format == Format::Json {
                out.object(inv, &[]);
                return Ok(());
            }
            out.object(
                inv,
                &["id", "month", "status", "as_of", "primary_region", "total", "projected_total", "currency"],
            );
            for region in inv["regions"].as_array().into_iter().flatten() {
                println!(
                    "Region {} (subtotal {} {})",
                    region["region"].as_str().unwrap_or_default(),
                    region["subtotal"].as_str().unwrap_or_default(),
                    inv["currency"].as_str().unwrap_or_default()
                );
                out.list(
                    &region["lines"],
                    &[
                        ("Project", "project_name"),
                        ("Service", "service"),
                        ("Resource", "resource_name"),
                        ("Item", "item"),
                        ("Mode", "charge_mode"),
                        ("Quantity", "quantity"),
                        ("Unit", "unit"),
                        ("Amount", "amount"),
                    ],
                );
            }
        }
        BillingCmd::Budget(b) => match b {
            BudgetCmd::List { domain } => {
                let v = c.get(&format!("/v1/billing/budgets{}", account(&domain))).await?;
                out.list(
                    &v["budgets"],
                    &[
                        ("Id", "id"),
                        ("Name", "name"),
                        ("Amount", "amount"),
                        ("Thresholds", "thresholds"),
                        ("Notify URL", "notify_url"),
                    ],
                );
            }
            BudgetCmd::Create { name, amount, thresholds, notify_url, domain } => {
                let body = json!({"name": name, "amount": amount, "thresholds": thresholds, "notify_url": notify_url});
                let v = c.post(&format!("/v1/billing/budgets{}", account(&domain)), body).await?;
                out.object(&v["budget"], &[]);
            }
            BudgetCmd::Delete { id, domain } => {
                c.call("DELETE", &format!("/v1/billing/budgets/{id}{}", account(&domain)), None).await?;
            }
        },
        BillingCmd::Alerts { domain } => {
            let v = c.get(&format!("/v1/billing/budget-alerts{}", account(&domain))).await?;
            out.list(
                &v["alerts"],
                &[
                    ("Month", "month"),
                    ("Threshold %", "threshold_percent"),
                    ("Spent", "spent"),
                    ("At", "at"),
                    ("Delivered", "delivered"),
                ],
            );
        }
    }
    Ok(())
}

pub async fn run_ri(c: &Client, out: &Out, cmd: RiCmd) -> anyhow::Result<()> {
    let base = "/v1/billing/reserved-instances";
    let one = |v: Value| out.object(&v["reserved_instance"], RI_FIELDS);
    match cmd {
        RiCmd::List { domain } => {
            let v = c.get(&format!("{base}{}", account(&domain))).await?;
            out.list(
                &v["reserved_instances"],
                &[
                    ("Id", "id"),
                    ("Status", "status"),
                    ("Flavor", "current_flavor"),
                    ("Years", "term_years"),
                    ("Payment", "payment"),
                    ("Monthly", "current_monthly_amount"),
                    ("From", "effective_from"),
                    ("Until", "ends_at"),
                ],
            );
        }
        RiCmd::Show { id } => one(c.get(&format!("{base}/{id}")).await?),
        RiCmd::Subscribe { flavor, years, partial_upfront, flexible, region, domain } => {
            let body = json!({"flavor": flavor, "term_years": years, "flexible": flexible, "region": region,
                "payment": if partial_upfront { "partial_upfront" } else { "no_upfront" }});
            one(c.post(&format!("{base}{}", account(&domain)), body).await?);
        }
        RiCmd::Modify { id, flavor } => one(c.post(&format!("{base}/{id}/modify"), json!({"flavor": flavor})).await?),
        RiCmd::Cancel { id } => one(c.post(&format!("{base}/{id}/cancel"), json!({})).await?),
    }
    Ok(())
}
