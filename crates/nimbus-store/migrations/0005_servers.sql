-- Servers (Nova / ECS): the desired and observed state of each guest, server groups, and the
-- usage events metering reads. A server row is removed when its delete job has destroyed the
-- guest; its usage events stay.
CREATE TABLE servers (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    hostname TEXT NOT NULL,
    -- The flavor as it was when the server got it (flavors may change or go away later).
    flavor_id TEXT NOT NULL,
    flavor TEXT NOT NULL,
    -- The previous flavor while a resize waits for confirm or revert.
    old_flavor TEXT,
    vcpus BIGINT NOT NULL,
    ram_mb BIGINT NOT NULL,
    disk_gb BIGINT NOT NULL,
    image_id TEXT NOT NULL,
    key_name TEXT,
    key_data TEXT,
    user_data TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    availability_zone TEXT NOT NULL,
    host TEXT,
    status TEXT NOT NULL,           -- BUILD | ACTIVE | SHUTOFF | REBOOT | HARD_REBOOT | RESIZE | VERIFY_RESIZE | REVERT_RESIZE | REBUILD | ERROR | DELETED
    vm_state TEXT NOT NULL,         -- building | active | stopped | resized | error | deleted
    task_state TEXT,                -- scheduling | spawning | powering-off | ... while a job runs
    power_state BIGINT NOT NULL,    -- 0 no state, 1 running, 4 shutdown
    fault_code BIGINT,
    fault_message TEXT,
    fault_at BIGINT,
    mac TEXT NOT NULL,
    server_group_id TEXT,
    reservation_id TEXT NOT NULL,
    launch_index BIGINT NOT NULL,
    config_drive BIGINT NOT NULL,
    locked BIGINT NOT NULL DEFAULT 0,
    launched_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- Bumped by every update: writers update only the version they read.
    version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX servers_project ON servers (project_id, created_at);
CREATE INDEX servers_host ON servers (host);

CREATE TABLE server_groups (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    policy TEXT NOT NULL,           -- affinity | anti-affinity | soft-affinity | soft-anti-affinity
    rules TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX server_groups_project ON server_groups (project_id);

-- What metering prices: one row per billable change of a resource.
CREATE TABLE usage_events (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,    -- ecs
    resource_id TEXT NOT NULL,
    event TEXT NOT NULL,            -- created | started | stopped | resized | deleted
    flavor TEXT,
    detail TEXT NOT NULL DEFAULT '{}',
    at BIGINT NOT NULL
);
CREATE INDEX usage_events_project ON usage_events (project_id, at);
