//! Support plans (seed 7.3.1 and its support plans table): for each plan, how tickets reach
//! the provider, the hours they are processed in, the response time objectives per priority,
//! the fault repair objectives for incidents on the platform's APIs, and how many named
//! contacts the customer may designate.
//!
//! Where the seed is silent or inconsistent the choice made here is written beside it:
//! - Platinum has no column in the seed's table: it is Premium with a response objective for
//!   P4 questions (which the seed reserves to "Platinum") and unlimited contacts.
//! - "1 working day" is 10 working hours (09:00-19:00).
//! - Premium's P4 objective "24 hours / 5 working days" is read as 24 hours, counted 24/7.
//! - Subscriptions: paid plans last at least 6 months; during that time only upgrades are
//!   taken, each restarting the 6 months; every change takes effect on the first day of the
//!   next calendar month. Basic is the free default with no minimum.

use super::calendar::{Hours, HOURS_PER_WORKING_DAY};
use chrono::Duration;

/// A ticket priority, P1 (critical) to P4 (question, no incident).
pub type Priority = u8;

/// An objective: an amount of time counted in some hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Objective {
    pub minutes: i64,
    pub hours: Hours,
}

impl Objective {
    const fn working(minutes: i64) -> Self {
        Objective { minutes, hours: Hours::Working }
    }

    const fn all_day(minutes: i64) -> Self {
        Objective { minutes, hours: Hours::AllDay }
    }

    /// The amount as a duration.
    pub fn duration(&self) -> Duration {
        Duration::minutes(self.minutes)
    }
}

const WORKING_DAY: i64 = HOURS_PER_WORKING_DAY * 60;

/// One support plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The plan's name as the API spells it.
    pub name: &'static str,
    pub title: &'static str,
    /// Upgrades go to a higher rank.
    pub rank: u8,
    /// Email reporting (besides tickets in the customer space).
    pub email: bool,
    /// Phone reporting of critical and major incidents (after a ticket).
    pub phone: bool,
    /// Level 2 and 3 support located in the EU.
    pub europe: bool,
    /// Response time objectives for P1..P4 (`None`: no commitment).
    pub response: [Option<Objective>; 4],
    /// Fault repair objectives for incidents on the platform's APIs, P1..P4.
    pub repair: [Option<Objective>; 4],
    /// Named contacts the customer may designate (`None`: unlimited).
    pub contacts: Option<usize>,
    /// The minimum subscription, in months.
    pub minimum_months: u32,
}

const FOUR_HOURS: Option<Objective> = Some(Objective::all_day(240));

/// The plans, from the lowest to the highest.
pub const PLANS: &[Plan] = &[
    Plan {
        name: "basic",
        title: "Basic",
        rank: 0,
        email: false,
        phone: false,
        europe: false,
        response: [None, None, None, None],
        repair: [None, None, None, None],
        contacts: Some(0),
        minimum_months: 0,
    },
    Plan {
        name: "standard",
        title: "Standard",
        rank: 1,
        email: false,
        phone: false,
        europe: false,
        response: [
            Some(Objective::working(12 * 60)),
            Some(Objective::working(WORKING_DAY)),
            Some(Objective::working(WORKING_DAY)),
            None,
        ],
        repair: [None, None, None, None],
        contacts: Some(2),
        minimum_months: 6,
    },
    Plan {
        name: "business",
        title: "Business",
        rank: 2,
        email: false,
        phone: true,
        europe: false,
        response: [
            Some(Objective::all_day(60)),
            Some(Objective::all_day(120)),
            Some(Objective::working(WORKING_DAY)),
            None,
        ],
        repair: [FOUR_HOURS, FOUR_HOURS, None, None],
        contacts: Some(5),
        minimum_months: 6,
    },
    Plan {
        name: "business_europe",
        title: "Business Europe",
        rank: 3,
        email: true,
        phone: true,
        europe: true,
        response: [
            Some(Objective::all_day(60)),
            Some(Objective::all_day(120)),
            Some(Objective::working(12 * 60)),
            None,
        ],
        repair: [FOUR_HOURS, FOUR_HOURS, None, None],
        contacts: Some(5),
        minimum_months: 6,
    },
    Plan {
        name: "premium",
        title: "Premium",
        rank: 4,
        email: true,
        phone: true,
        europe: false,
        response: [
            Some(Objective::all_day(15)),
            Some(Objective::all_day(60)),
            Some(Objective::all_day(8 * 60)),
            Some(Objective::all_day(24 * 60)),
        ],
        repair: [FOUR_HOURS, FOUR_HOURS, None, None],
        contacts: None,
        minimum_months: 6,
    },
    Plan {
        name: "platinum",
        title: "Platinum",
        rank: 5,
        email: true,
        phone: true,
        europe: false,
        response: [
            Some(Objective::all_day(15)),
            Some(Objective::all_day(60)),
            Some(Objective::all_day(8 * 60)),
            Some(Objective::all_day(24 * 60)),
        ],
        repair: [FOUR_HOURS, FOUR_HOURS, None, None],
        contacts: None,
        minimum_months: 6,
    },
];

/// The free plan every account starts on.
pub const DEFAULT_PLAN: &str = "basic";

/// A plan by name.
pub fn plan(name: &str) -> Option<&'static Plan> {
    PLANS.iter().find(|p| p.name == name)
}

impl Plan {
    /// The response objective of a priority.
    pub fn response_objective(&self, priority: Priority) -> Option<Objective> {
        self.response.get(usize::from(priority).checked_sub(1)?).copied().flatten()
    }

    /// The fault repair objective of a priority (incidents on the platform's APIs only).
    pub fn repair_objective(&self, priority: Priority) -> Option<Objective> {
        self.repair.get(usize::from(priority).checked_sub(1)?).copied().flatten()
    }
}

/// The services whose API incidents carry the fault repair objective (seed 7.7.3.3).
pub const REPAIR_SERVICES: &[&str] = &["ecs", "ims", "evs", "vpc", "iam", "obs", "cce", "mrs", "rds"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_as_the_seed_states_it() {
        let standard = plan("standard").unwrap();
        assert_eq!(standard.response_objective(1), Some(Objective::working(720)));
        assert_eq!(standard.response_objective(2), Some(Objective::working(600)), "1 working day");
        assert_eq!(standard.response_objective(4), None);
        assert_eq!(standard.repair_objective(1), None);
        let business = plan("business").unwrap();
        assert_eq!(business.response_objective(1), Some(Objective::all_day(60)));
        assert_eq!(business.response_objective(3), Some(Objective::working(600)), "P3 in working hours");
        assert_eq!(business.repair_objective(2), Some(Objective::all_day(240)));
        assert_eq!(plan("premium").unwrap().response_objective(1), Some(Objective::all_day(15)));
        assert_eq!(plan("business_europe").unwrap().response_objective(3), Some(Objective::working(720)));
        assert_eq!((business.contacts, plan("premium").unwrap().contacts), (Some(5), None));
        assert_eq!(plan("basic").unwrap().response_objective(1), None);
        assert!(plan("gold").is_none());
        let ranks: Vec<u8> = PLANS.iter().map(|p| p.rank).collect();
        assert!(ranks.windows(2).all(|w| w[0] < w[1]));
    }
}
