-- Messages to a project's users about operations that failed after they were accepted
-- (Cinder's user messages): what was done, to which resource, and why it failed. Each is
-- kept at least until `guaranteed_until`.
CREATE TABLE user_messages (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    message_level TEXT NOT NULL,
    resource_type TEXT,
    resource_uuid TEXT,
    user_message TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    guaranteed_until BIGINT NOT NULL
);
CREATE INDEX user_messages_project ON user_messages (project_id, created_at);
