-- Cinder's QoS specs: named sets of limits, each associated with any number of volume types
-- (a type with at most one). The front-end limits of a type's specs throttle its volumes in
-- QEMU. The types' own `qos` column held the limits before: it is converted into specs at
-- start and left '{}'.
CREATE TABLE volume_qos_specs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- front-end (the hypervisor enforces them), back-end (for a storage back end), or both
    consumer TEXT NOT NULL,
    -- A JSON object of strings.
    specs TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
ALTER TABLE volume_types ADD COLUMN qos_specs_id TEXT;

-- The projects a private volume type is shared with.
CREATE TABLE volume_type_access (
    type_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    PRIMARY KEY (type_id, project_id)
);
