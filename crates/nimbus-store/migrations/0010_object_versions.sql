-- Bucket settings: versioning (NULL: never enabled, 'Enabled', 'Suspended'), and the
-- bucket's configuration documents, each NULL until set: policy (S3 JSON), canned ACL,
-- CORS rules, tags, lifecycle rules and default encryption (JSON written by the control
-- plane), and the storage quota in bytes (0: none).
ALTER TABLE buckets ADD COLUMN versioning TEXT;
ALTER TABLE buckets ADD COLUMN policy TEXT;
ALTER TABLE buckets ADD COLUMN acl TEXT NOT NULL DEFAULT 'private';
ALTER TABLE buckets ADD COLUMN cors TEXT;
ALTER TABLE buckets ADD COLUMN tagging TEXT;
ALTER TABLE buckets ADD COLUMN lifecycle TEXT;
ALTER TABLE buckets ADD COLUMN encryption TEXT;
ALTER TABLE buckets ADD COLUMN quota_bytes BIGINT NOT NULL DEFAULT 0;

-- Every object row gets its version id ('null' in buckets that were never versioned), its
-- tags (a JSON array of [key, value]), its canned ACL, and its encryption (NULL: stored in
-- clear; else 'AES256:' and the object's data key wrapped by the region key).
ALTER TABLE objects ADD COLUMN version_id TEXT NOT NULL DEFAULT 'null';
ALTER TABLE objects ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE objects ADD COLUMN acl TEXT NOT NULL DEFAULT 'private';
ALTER TABLE objects ADD COLUMN sse TEXT;
ALTER TABLE multipart_uploads ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE multipart_uploads ADD COLUMN acl TEXT NOT NULL DEFAULT 'private';
ALTER TABLE multipart_uploads ADD COLUMN sse TEXT;

-- Non-current versions and delete markers of versioned buckets (`objects` keeps the current
-- version of each key). `seq` orders a key's versions, newest highest.
CREATE TABLE object_versions (
    bucket_id TEXT NOT NULL,
    object_key TEXT NOT NULL,
    key_hex TEXT NOT NULL,
    version_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    delete_marker BIGINT NOT NULL,
    data_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    storage_class TEXT NOT NULL DEFAULT 'STANDARD',
    created_at BIGINT NOT NULL,
    restore_state TEXT,
    restore_expires_at BIGINT,
    tags TEXT NOT NULL DEFAULT '[]',
    acl TEXT NOT NULL DEFAULT 'private',
    sse TEXT,
    PRIMARY KEY (bucket_id, object_key, version_id)
);
CREATE INDEX object_versions_order ON object_versions (bucket_id, key_hex, seq);
