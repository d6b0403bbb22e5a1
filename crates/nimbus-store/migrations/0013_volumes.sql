-- Block storage (EVS / Cinder): volume types with their QoS limits, volumes, and the
-- attachments of volumes to servers. A volume's data is DATA/volumes/<id>.qcow2.
CREATE TABLE volume_types (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    is_public BIGINT NOT NULL,
    -- Extra specs (Cinder's key/value pairs), a JSON object of strings.
    extra_specs TEXT NOT NULL DEFAULT '{}',
    -- QoS enforced by QEMU throttling: {"total_iops_sec": n, "total_bytes_sec": n}.
    qos TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

CREATE TABLE volumes (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    size_gb BIGINT NOT NULL,
    type_id TEXT NOT NULL,
    availability_zone TEXT NOT NULL,
    -- creating | available | reserved | attaching | in-use | detaching | extending | deleting |
    -- error | error_deleting | error_extending | backing-up | restoring-backup | reverting
    status TEXT NOT NULL,
    bootable BIGINT NOT NULL DEFAULT 0,
    multiattach BIGINT NOT NULL DEFAULT 0,
    image_id TEXT,
    snapshot_id TEXT,
    source_volid TEXT,
    backup_id TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT,
    -- Bumped by every update: writers update only the version they read.
    version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX volumes_project ON volumes (project_id, created_at);

CREATE TABLE volume_attachments (
    id TEXT PRIMARY KEY,
    volume_id TEXT NOT NULL,
    server_id TEXT NOT NULL,
    device TEXT NOT NULL,
    -- attaching | attached | detaching
    status TEXT NOT NULL,
    attached_at BIGINT
);
CREATE INDEX volume_attachments_volume ON volume_attachments (volume_id);
CREATE INDEX volume_attachments_server ON volume_attachments (server_id);
