-- Volume snapshots (Cinder / EVS): point-in-time states of a volume, kept inside the
-- volume's QCOW2 file as internal snapshots named snap-<id>.
CREATE TABLE volume_snapshots (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    volume_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    -- The volume's size when the snapshot was taken, in GB.
    size_gb BIGINT NOT NULL,
    -- creating | available | deleting | error | error_deleting
    status TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT,
    version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX volume_snapshots_project ON volume_snapshots (project_id, created_at);
CREATE INDEX volume_snapshots_volume ON volume_snapshots (volume_id, created_at);
