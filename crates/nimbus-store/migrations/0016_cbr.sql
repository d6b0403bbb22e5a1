-- Cloud Backup and Recovery: vaults hold disks and their backups, policies schedule
-- backups and keep a bounded number, checkpoints are one "back up now" of a vault.
CREATE TABLE cbr_vaults (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    -- disk | server
    object_type TEXT NOT NULL,
    consistent_level TEXT NOT NULL,
    size_gb BIGINT NOT NULL,
    auto_expand BIGINT NOT NULL DEFAULT 0,
    threshold BIGINT NOT NULL DEFAULT 80,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
);
CREATE INDEX cbr_vaults_project ON cbr_vaults (project_id, created_at);

-- A resource is protected by one vault at most.
CREATE TABLE cbr_vault_resources (
    resource_id TEXT PRIMARY KEY,
    vault_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    added_at BIGINT NOT NULL
);
CREATE INDEX cbr_vault_resources_vault ON cbr_vault_resources (vault_id, added_at);

CREATE TABLE cbr_policies (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    operation_type TEXT NOT NULL,
    -- The retention and other definitions as sent (JSON object).
    operation_definition TEXT NOT NULL,
    -- The RRULE patterns (JSON array of strings).
    patterns TEXT NOT NULL,
    start_window_minutes BIGINT,
    -- The last scheduled time the scheduler acted on.
    last_run_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- A vault has at most one backup policy.
CREATE TABLE cbr_vault_policies (
    vault_id TEXT PRIMARY KEY,
    policy_id TEXT NOT NULL
);

CREATE TABLE cbr_checkpoints (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    vault_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    auto_trigger BIGINT NOT NULL,
    policy_id TEXT,
    -- Resources skipped, with why (JSON array).
    skipped TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL
);

ALTER TABLE backups ADD COLUMN vault_id TEXT;
ALTER TABLE backups ADD COLUMN checkpoint_id TEXT;
ALTER TABLE backups ADD COLUMN auto_trigger BIGINT NOT NULL DEFAULT 0;
