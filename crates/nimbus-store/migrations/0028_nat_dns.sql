-- NAT gateways (seed 6.3.11) of a VPC's router with their SNAT rules (a subnet or range goes
-- out as EIPs) and DNAT rules (an EIP's port, or all of it, reaches a private address), and
-- DNS (seed 6.3.9): public zones served to the outside, private zones served inside the VPCs
-- they are associated with, and their record sets.
CREATE TABLE nat_gateways (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- "1" to "4": the size (SNAT connections) sold.
    spec TEXT NOT NULL,
    router_id TEXT NOT NULL,
    internal_network_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One public NAT gateway per VPC.
CREATE UNIQUE INDEX nat_gateways_router ON nat_gateways (router_id);
CREATE TABLE snat_rules (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    nat_gateway_id TEXT NOT NULL,
    -- The subnet (its network's id) or the range that goes out (one of the two).
    network_id TEXT,
    cidr TEXT,
    -- Comma-separated EIP ids (the addresses it leaves as).
    floating_ip_ids TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX snat_rules_gateway ON snat_rules (nat_gateway_id);
CREATE TABLE dnat_rules (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    nat_gateway_id TEXT NOT NULL,
    floating_ip_id TEXT NOT NULL,
    -- tcp, udp or any (the whole address).
    protocol TEXT NOT NULL,
    -- A single port each, or ranges of one length ("80-90").
    internal_port TEXT NOT NULL,
    external_port TEXT NOT NULL,
    -- The server port (its first address) or a private address (one of the two).
    port_id TEXT,
    private_ip TEXT,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX dnat_rules_gateway ON dnat_rules (nat_gateway_id);
-- An EIP's port is forwarded once per protocol.
CREATE UNIQUE INDEX dnat_rules_external ON dnat_rules (floating_ip_id, protocol, external_port);
CREATE TABLE dns_zones (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    -- Lower case, with the trailing dot.
    name TEXT NOT NULL,
    -- public or private.
    zone_type TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    ttl BIGINT NOT NULL,
    serial BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX dns_zones_project ON dns_zones (project_id);
-- The VPCs (routers) a private zone is served in.
CREATE TABLE dns_zone_routers (
    zone_id TEXT NOT NULL,
    router_id TEXT NOT NULL,
    PRIMARY KEY (zone_id, router_id)
);
CREATE TABLE dns_recordsets (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    zone_id TEXT NOT NULL,
    -- Lower case FQDN with the trailing dot.
    name TEXT NOT NULL,
    rtype TEXT NOT NULL,
    ttl BIGINT NOT NULL,
    -- JSON array of the records' values.
    records TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- ENABLE or DISABLE.
    status TEXT NOT NULL,
    -- Made with the zone (its SOA and NS): it cannot be deleted.
    is_default INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX dns_recordsets_zone ON dns_recordsets (zone_id);
CREATE UNIQUE INDEX dns_recordsets_name_type ON dns_recordsets (zone_id, name, rtype);
