-- Billing (seed 4.1, 5.1.2, 6.1.1, 6.1.3-6.1.5): the account each project bills to, kept
-- after the project is deleted so its usage is still invoiced; accounts' primary regions;
-- issued invoices; budgets and their alerts; reserved instances; price revisions announced.
CREATE TABLE project_accounts (
    project_id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL,
    name TEXT NOT NULL
);
CREATE INDEX project_accounts_domain ON project_accounts (domain_id);
INSERT INTO project_accounts (project_id, domain_id, name) SELECT id, domain_id, name FROM projects;

CREATE TABLE billing_accounts (
    domain_id TEXT PRIMARY KEY,
    -- The region that bears the fees tied to no region (support plans).
    primary_region TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- An issued monthly invoice: frozen once issued. Amounts are decimal strings (EUR).
CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL,
    -- YYYY-MM, a calendar month of Paris time.
    month TEXT NOT NULL,
    total TEXT NOT NULL,
    currency TEXT NOT NULL,
    -- The whole invoice as JSON (lines per region).
    body TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    UNIQUE (domain_id, month)
);

CREATE TABLE budgets (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The monthly amount (EUR) and the alert thresholds, JSON percentages of it.
    amount TEXT NOT NULL,
    thresholds TEXT NOT NULL,
    -- Where alerts are POSTed (JSON), if anywhere.
    notify_url TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

-- One alert per budget, month and threshold crossed; delivered once the notification was
-- accepted by its URL (retried until then).
CREATE TABLE budget_alerts (
    id TEXT PRIMARY KEY,
    budget_id TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    month TEXT NOT NULL,
    threshold BIGINT NOT NULL,
    spent TEXT NOT NULL,
    at BIGINT NOT NULL,
    delivered INTEGER NOT NULL,
    attempts BIGINT NOT NULL,
    last_error TEXT,
    UNIQUE (budget_id, month, threshold)
);
CREATE INDEX budget_alerts_domain ON budget_alerts (domain_id, at);

CREATE TABLE reserved_instances (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL,
    region TEXT NOT NULL,
    flavor TEXT NOT NULL,
    term_years BIGINT NOT NULL,
    -- no_upfront | partial_upfront
    payment TEXT NOT NULL,
    flexible INTEGER NOT NULL,
    -- Frozen at subscription (decimal strings, EUR).
    monthly_amount TEXT NOT NULL,
    upfront_amount TEXT NOT NULL,
    subscribed_at BIGINT NOT NULL,
    -- The first instant of the month after the subscription; the end of the term.
    effective_from BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    cancelled_at BIGINT,
    cancellation_fee TEXT,
    -- JSON list of flexible modifications: {at, effective_from, from_flavor, to_flavor, monthly_amount}.
    modifications TEXT NOT NULL,
    subscribed_by TEXT NOT NULL
);
CREATE INDEX reserved_instances_domain ON reserved_instances (domain_id);

-- Price revisions the region has announced (a change notice), and when: increases apply
-- 30 days after the announcement at the earliest.
CREATE TABLE price_announcements (
    revision TEXT PRIMARY KEY,
    notice_id TEXT,
    announced_at BIGINT NOT NULL
);
