-- Images (Glance v2 / IMS): the catalogue row; the bytes live under DATA/images/<id>.
CREATE TABLE images (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL,
    status TEXT NOT NULL,          -- queued | saving | active | killed | deleted
    visibility TEXT NOT NULL,      -- public | private | shared | community
    protected BIGINT NOT NULL,
    disk_format TEXT,
    container_format TEXT,
    min_disk BIGINT NOT NULL DEFAULT 0,
    min_ram BIGINT NOT NULL DEFAULT 0,
    size BIGINT,
    virtual_size BIGINT,
    checksum TEXT,
    os_hash_algo TEXT,
    os_hash_value TEXT,
    properties TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX images_owner ON images (owner);

CREATE TABLE image_members (
    image_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    status TEXT NOT NULL,          -- pending | accepted | rejected
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (image_id, member_id)
);
CREATE INDEX image_members_member ON image_members (member_id);
