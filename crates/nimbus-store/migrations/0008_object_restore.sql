-- Restores of COLD objects: NULL (archived), 'ongoing', or 'restored' until the expiry.
ALTER TABLE objects ADD COLUMN restore_state TEXT;
ALTER TABLE objects ADD COLUMN restore_expires_at BIGINT;
