-- Support engineers invited into a tenant with the customer's rights (seed 7.7.3), and the
-- provider's change notices (seed 7.7.5, 7.7.7).
CREATE TABLE support_invitations (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    -- The provider's engineer, and the role granted on the project for the visit.
    engineer_id TEXT NOT NULL,
    role_id TEXT NOT NULL,
    -- Whether the grant was made for the invitation (else it existed before and stays).
    granted INTEGER NOT NULL,
    invited_by TEXT NOT NULL,
    ticket_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX support_invitations_domain ON support_invitations (domain_id);
CREATE TABLE support_notices (
    id TEXT PRIMARY KEY,
    -- minor_release, major_release, incompatible_api, maintenance, urgent.
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    -- JSON array of the services concerned.
    services TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    -- The expected interruption of each service, in minutes (0: none).
    interruption_minutes BIGINT NOT NULL,
    published_by TEXT NOT NULL,
    published_at BIGINT NOT NULL
);
CREATE INDEX support_notices_start ON support_notices (starts_at);
