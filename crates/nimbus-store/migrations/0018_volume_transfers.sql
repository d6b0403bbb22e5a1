-- Volume transfers (Cinder os-volume-transfer / volume-transfers): a project offers one of
-- its volumes; whoever presents the transfer's id and key takes it into their project.
-- The key is kept only as an argon2id hash.
CREATE TABLE volume_transfers (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    volume_id TEXT NOT NULL,
    name TEXT,
    key_hash TEXT NOT NULL,
    -- The volume's snapshots stay behind (3.55) instead of moving with it.
    no_snapshots INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX volume_transfers_project ON volume_transfers (project_id, created_at);
CREATE UNIQUE INDEX volume_transfers_volume ON volume_transfers (volume_id);
