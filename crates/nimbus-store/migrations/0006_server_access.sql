-- Nova's user-set access addresses and disk config of a server.
ALTER TABLE servers ADD COLUMN access_ipv4 TEXT NOT NULL DEFAULT '';
ALTER TABLE servers ADD COLUMN access_ipv6 TEXT NOT NULL DEFAULT '';
ALTER TABLE servers ADD COLUMN disk_config TEXT NOT NULL DEFAULT 'MANUAL';
