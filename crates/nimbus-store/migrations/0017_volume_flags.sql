-- Cinder's per-volume flags set by actions, kept as its admin metadata (a JSON object of
-- strings): `readonly` (os-update_readonly_flag, honoured by QEMU when the volume is plugged
-- in); and the image metadata a volume carries (os-set_image_metadata; filled from the image
-- when a volume is made from one).
ALTER TABLE volumes ADD COLUMN admin_metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE volumes ADD COLUMN image_metadata TEXT NOT NULL DEFAULT '{}';
-- A snapshot's progress as the hypervisor reported it (os-update_snapshot_status); none:
-- derived from its status.
ALTER TABLE volume_snapshots ADD COLUMN progress TEXT;
-- Volumes made from an image before this kept only the image's id.
UPDATE volumes SET image_metadata = '{"image_id":"' || image_id || '"}' WHERE image_id IS NOT NULL;
-- The metadata of the backed-up volume when the backup was made; a restore gives it back
-- to the volume restored to, as Cinder does.
ALTER TABLE backups ADD COLUMN volume_metadata TEXT NOT NULL DEFAULT '{}';
-- Whether deleting the server also deletes the volume (a boot volume made with it, Nova's
-- delete_on_termination).
ALTER TABLE volume_attachments ADD COLUMN delete_on_termination INTEGER NOT NULL DEFAULT 0;
-- The server a backup was made with (a CBR server checkpoint: all its disks at one instant).
ALTER TABLE backups ADD COLUMN server_id TEXT;
