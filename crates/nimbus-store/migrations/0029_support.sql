-- Support (seed 7): each customer account's (domain's) plan subscriptions, its named
-- contacts, and its tickets with their timeline.
CREATE TABLE support_subscriptions (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL,
    plan TEXT NOT NULL,
    -- The first instant the plan applies (the first day of a calendar month, Paris time).
    effective_from BIGINT NOT NULL,
    -- Until when only upgrades are taken (the plan's minimum).
    minimum_until BIGINT NOT NULL,
    requested_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX support_subscriptions_domain ON support_subscriptions (domain_id, effective_from);
CREATE TABLE support_contacts (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL,
    -- The user who acts as this contact (only contacts open tickets).
    user_id TEXT NOT NULL,
    last_name TEXT NOT NULL,
    first_name TEXT NOT NULL,
    position TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    -- When the contact can be reached, e.g. "Mon-Fri 08:00-18:00".
    availability TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX support_contacts_user ON support_contacts (domain_id, user_id);
CREATE TABLE support_tickets (
    id TEXT PRIMARY KEY,
    -- A short number for people (unique in the region).
    number BIGINT NOT NULL UNIQUE,
    domain_id TEXT NOT NULL,
    -- The tenant concerned.
    project_id TEXT NOT NULL,
    opened_by TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    -- The plan in force when the ticket was opened (its objectives apply).
    plan TEXT NOT NULL,
    -- request, incident, problem or information.
    category TEXT NOT NULL,
    -- For a catalogue request: account_creation, account_deletion, quota_change.
    request_type TEXT,
    -- JSON of what the request asks (e.g. the quota and its new limit).
    request_payload TEXT NOT NULL DEFAULT '{}',
    -- critical, major or minor, as the customer perceives it.
    perceived_criticality TEXT NOT NULL,
    -- 1 to 4, set by the provider (derived from the perceived criticality until then).
    priority BIGINT NOT NULL,
    priority_set_by_provider INTEGER NOT NULL,
    -- new, in_progress, on_hold, resolved, closed.
    status TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- JSON object of the reporting model's fields (reporter, user, service, component, API...).
    report TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    responded_at BIGINT,
    resolved_at BIGINT,
    closed_at BIGINT,
    closed_reason TEXT,
    -- Time spent on hold (paused clocks), in milliseconds, and since when it is on hold.
    held_ms BIGINT NOT NULL DEFAULT 0,
    held_since BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX support_tickets_domain ON support_tickets (domain_id, opened_at);
CREATE TABLE support_ticket_events (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    -- The user who acted (empty for the platform itself).
    actor TEXT NOT NULL,
    -- customer or provider (or platform).
    side TEXT NOT NULL,
    -- opened, comment, status, priority, attachment.
    kind TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX support_ticket_events_ticket ON support_ticket_events (ticket_id, at);
