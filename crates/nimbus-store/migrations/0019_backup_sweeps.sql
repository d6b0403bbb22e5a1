-- Unused backup chunks are found by mark and sweep when a backup is deleted (the chunks of
-- every remaining backup's manifest are live), not by a use count per chunk: counting
-- touched every chunk of a volume at each backup, so an incremental backup of a few changed
-- blocks cost as much index work as a full one.
ALTER TABLE backup_chunks DROP COLUMN refs;

-- One row per project with backups: the lock that orders its backup operations' slot
-- decisions and sweeps (a sweep never runs while a backup is being made: that backup may
-- rely on chunks no finished backup uses yet), and whether a sweep was put off for that.
CREATE TABLE backup_sweeps (
    project_id TEXT PRIMARY KEY,
    pending BIGINT NOT NULL DEFAULT 0
);
