-- A port made for a server by the compute API goes with the server; a port the user made
-- and handed to a server is only unbound when the server goes.
ALTER TABLE ports ADD COLUMN delete_with_device INTEGER NOT NULL DEFAULT 0;
