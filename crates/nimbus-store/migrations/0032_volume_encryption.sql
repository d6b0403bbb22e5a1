-- Encrypted volumes (Cinder's encryption types, EVS encryption). A volume type with a row
-- here makes LUKS volumes; the cipher is AES-XTS with key_size bits of key (256: AES-128,
-- 512: AES-256).
CREATE TABLE volume_type_encryption (
    type_id TEXT PRIMARY KEY,
    encryption_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    cipher TEXT,
    key_size BIGINT,
    control_location TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
);
-- The keys of encrypted volumes and of their backups: a LUKS passphrase wrapped by the
-- region's volume key. Each volume and each backup has its own row (a clone or a backup
-- gets a copy); deleting the volume or backup deletes its row, destroying the key.
CREATE TABLE volume_keys (
    id TEXT PRIMARY KEY,
    wrapped TEXT NOT NULL,
    aes_bits BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
ALTER TABLE volumes ADD COLUMN encryption_key_id TEXT;
ALTER TABLE backups ADD COLUMN encryption_key_id TEXT;
