-- Layer 3 of the virtual networks (VPC routers, seed 6.3.1; EIPs, 6.3.2): routers joining a
-- project's subnets and reaching the region's external network, floating IPs (EIPs) taken from
-- the external network with the bandwidth that shapes them. A router's interfaces and gateway,
-- and a floating IP's address, are ports (device_owner network:router_interface,
-- network:router_gateway, network:floatingip), so addresses stay allocated race-free by
-- port_fixed_ips.
CREATE TABLE routers (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    admin_state_up INTEGER NOT NULL,
    -- The external network its gateway is on (NULL: no gateway).
    gateway_network_id TEXT,
    -- Source NAT of the router's subnets to its gateway address.
    enable_snat INTEGER NOT NULL,
    -- JSON array of {"destination", "nexthop"} (Neutron's extra routes).
    routes TEXT NOT NULL DEFAULT '[]',
    -- A Huawei VPC's address range: its subnets must lie inside it (NULL: a Neutron router).
    cidr TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    revision_number BIGINT NOT NULL
);
CREATE INDEX routers_project ON routers (project_id);
-- A bandwidth caps the traffic of the EIPs it holds (share type PER: one EIP), in Mbit/s,
-- both ways.
CREATE TABLE bandwidths (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    size_mbit BIGINT NOT NULL,
    share_type TEXT NOT NULL,
    charge_mode TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX bandwidths_project ON bandwidths (project_id);
CREATE TABLE floating_ips (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    floating_network_id TEXT NOT NULL,
    floating_ip_address TEXT NOT NULL,
    -- The port on the external network holding the address.
    floating_port_id TEXT NOT NULL,
    -- The internal port it is bound to, its address there, and the router that carries it.
    port_id TEXT,
    fixed_ip_address TEXT,
    router_id TEXT,
    description TEXT NOT NULL DEFAULT '',
    bandwidth_id TEXT NOT NULL,
    -- The EIP type (Huawei's `5_bgp`).
    ip_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    revision_number BIGINT NOT NULL
);
CREATE INDEX floating_ips_project ON floating_ips (project_id);
CREATE INDEX floating_ips_port ON floating_ips (port_id);
CREATE UNIQUE INDEX floating_ips_address ON floating_ips (floating_network_id, floating_ip_address);
-- One floating IP per fixed address of a port (unbound ones hold NULLs, which never clash).
CREATE UNIQUE INDEX floating_ips_fixed ON floating_ips (port_id, fixed_ip_address);
