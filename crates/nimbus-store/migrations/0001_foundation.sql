-- Foundation schema: region, identity, tokens, jobs, idempotency, audit, tags, quotas.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL. Instants are BIGINT milliseconds
-- since the Unix epoch; JSON documents are TEXT.

CREATE TABLE regions (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    parent_region_id TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE availability_zones (
    name TEXT PRIMARY KEY,
    region_id TEXT NOT NULL,
    available BIGINT NOT NULL
);

CREATE TABLE domains (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    parent_id TEXT,
    description TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);
CREATE INDEX projects_parent ON projects (parent_id);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    password_hash TEXT,
    enabled BIGINT NOT NULL,
    email TEXT,
    description TEXT NOT NULL DEFAULT '',
    default_project_id TEXT,
    extra TEXT NOT NULL DEFAULT '{}',
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    password_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE user_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- Global roles have domain_id '' (not NULL) so that (domain_id, name) stays unique.
CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{}',
    UNIQUE (domain_id, name)
);

CREATE TABLE role_assignments (
    actor_type TEXT NOT NULL,   -- 'user' | 'group'
    actor_id TEXT NOT NULL,
    target_type TEXT NOT NULL,  -- 'project' | 'domain'
    target_id TEXT NOT NULL,
    role_id TEXT NOT NULL,
    inherited BIGINT NOT NULL,
    PRIMARY KEY (actor_type, actor_id, target_type, target_id, role_id, inherited)
);
CREATE INDEX role_assignments_target ON role_assignments (target_id);
CREATE INDEX role_assignments_role ON role_assignments (role_id);

CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    project_id TEXT,
    cred_type TEXT NOT NULL,
    blob TEXT NOT NULL,
    access_key TEXT UNIQUE,
    secret TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX credentials_user ON credentials (user_id);

-- Only a hash of each token is stored: a stolen database yields no usable token.
CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    project_id TEXT,
    domain_id TEXT,
    methods TEXT NOT NULL,
    audit_id TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked BIGINT NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    parent_id TEXT,
    job_type TEXT NOT NULL,
    status TEXT NOT NULL,       -- INIT | RUNNING | SUCCESS | FAIL
    step BIGINT NOT NULL DEFAULT 0,
    params TEXT NOT NULL DEFAULT '{}',
    entities TEXT NOT NULL DEFAULT '{}',
    error_code TEXT,
    fail_reason TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    begin_time BIGINT NOT NULL,
    end_time BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_status ON jobs (status);
CREATE INDEX jobs_parent ON jobs (parent_id);

CREATE TABLE idempotency_keys (
    project_id TEXT NOT NULL,
    client_token TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,        -- 'pending' | 'done'
    status BIGINT,
    body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, client_token)
);

CREATE TABLE trackers (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    tracker_type TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE traces (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    user_id TEXT,
    user_name TEXT,
    domain_id TEXT,
    source_ip TEXT,
    service_type TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    resource_name TEXT,
    trace_name TEXT NOT NULL,
    trace_rating TEXT NOT NULL,
    trace_type TEXT NOT NULL,
    request_id TEXT,
    code TEXT,
    api_version TEXT,
    message TEXT,
    request TEXT,
    response TEXT,
    resource_url TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (project_id, seq)
);
CREATE INDEX traces_time ON traces (project_id, time_ms);

CREATE TABLE tags (
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (resource_type, resource_id, tag_key)
);
CREATE INDEX tags_project ON tags (project_id);

CREATE TABLE quota_limits (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);

CREATE TABLE quota_usage (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    in_use BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);

-- The head of each project's trace chain. Updating this row takes a row lock, which orders
-- concurrent appends on PostgreSQL without aborting either transaction.
CREATE TABLE trace_heads (
    project_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
