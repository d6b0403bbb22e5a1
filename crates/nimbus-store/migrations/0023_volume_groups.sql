-- Cinder's generic volume groups: group types (admin-made, with specs), groups of volumes of
-- chosen volume types, and group snapshots (one snapshot of every volume of a group, taken
-- together). A volume belongs to at most one group; a snapshot taken as part of a group
-- snapshot names it.
CREATE TABLE volume_group_types (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    is_public INTEGER NOT NULL,
    -- A JSON object of strings.
    group_specs TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE TABLE volume_groups (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    group_type_id TEXT NOT NULL,
    -- A JSON array of volume type ids.
    volume_types TEXT NOT NULL,
    availability_zone TEXT NOT NULL,
    status TEXT NOT NULL,
    -- What a group made from a source copied.
    group_snapshot_id TEXT,
    source_group_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
);
CREATE INDEX volume_groups_project ON volume_groups (project_id, created_at);
CREATE TABLE volume_group_snapshots (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    group_type_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
);
CREATE INDEX volume_group_snapshots_group ON volume_group_snapshots (group_id);
ALTER TABLE volumes ADD COLUMN group_id TEXT;
ALTER TABLE volume_snapshots ADD COLUMN group_snapshot_id TEXT;
