-- Volume backups (VBS / Cinder backups): each backup's manifest and chunk packs live in a
-- system bucket of object storage; this is their catalogue and the chunk index.
CREATE TABLE backups (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    volume_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    -- The volume's size when backed up, in GB.
    size_gb BIGINT NOT NULL,
    -- creating | available | deleting | restoring | error | error_deleting | error_restoring
    status TEXT NOT NULL,
    fail_reason TEXT,
    -- The backup this one is incremental to (NULL: a full backup).
    parent_id TEXT,
    availability_zone TEXT NOT NULL,
    -- The system bucket and the manifest's key in it.
    container TEXT NOT NULL,
    -- Chunks the manifest uses, and the bytes this backup stored anew / read.
    object_count BIGINT NOT NULL DEFAULT 0,
    stored_bytes BIGINT NOT NULL DEFAULT 0,
    read_bytes BIGINT NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{}',
    -- An operation (create, delete, restore) waiting for one of the project's slots since
    -- this time, and whether it holds one.
    queued_at BIGINT,
    holds_slot BIGINT NOT NULL DEFAULT 0,
    data_timestamp BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT,
    version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX backups_project ON backups (project_id, created_at);
CREATE INDEX backups_volume ON backups (volume_id, created_at);

-- The chunks of a project's backups: where each is stored and how many backups use it.
CREATE TABLE backup_chunks (
    project_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    pack TEXT NOT NULL,
    pack_offset BIGINT NOT NULL,
    stored_len BIGINT NOT NULL,
    len BIGINT NOT NULL,
    refs BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, hash)
);
CREATE INDEX backup_chunks_pack ON backup_chunks (project_id, pack);
