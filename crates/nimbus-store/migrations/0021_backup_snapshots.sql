-- A backup made from one of the volume's snapshots (Cinder's snapshot_id) reads that
-- snapshot instead of a point in time of its own.
ALTER TABLE backups ADD COLUMN snapshot_id TEXT;
