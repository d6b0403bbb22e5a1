-- Object storage (OBS): buckets and the current version of each object. Object data lives
-- under DATA/objects/<bucket id>/<data id>, written to a temporary file, synced and renamed
-- before its row commits, so a row never points at partial data.
CREATE TABLE buckets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    region TEXT NOT NULL,
    storage_class TEXT NOT NULL DEFAULT 'STANDARD',
    created_at BIGINT NOT NULL
);
CREATE INDEX buckets_project ON buckets (project_id);

CREATE TABLE objects (
    bucket_id TEXT NOT NULL,
    object_key TEXT NOT NULL,
    -- The key's UTF-8 bytes in lower-case hex: S3 lists in byte order, which a text column
    -- only gives under the C collation (SQLite's default, not PostgreSQL's).
    key_hex TEXT NOT NULL,
    data_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    storage_class TEXT NOT NULL DEFAULT 'STANDARD',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (bucket_id, object_key)
);
CREATE INDEX objects_order ON objects (bucket_id, key_hex);

-- Multipart uploads in progress and their parts (each part's bytes are a data file of the
-- bucket until the upload completes or is aborted).
CREATE TABLE multipart_uploads (
    id TEXT PRIMARY KEY,
    bucket_id TEXT NOT NULL,
    object_key TEXT NOT NULL,
    content_type TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    storage_class TEXT NOT NULL DEFAULT 'STANDARD',
    created_at BIGINT NOT NULL
);
CREATE INDEX multipart_uploads_bucket ON multipart_uploads (bucket_id, object_key);

CREATE TABLE multipart_parts (
    upload_id TEXT NOT NULL,
    part_number BIGINT NOT NULL,
    data_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
