-- System-scoped tokens (Keystone `"scope": {"system": {"all": true}}`): the operators'
-- cloud-wide scope. System role assignments use target_type 'system', target_id 'all'.
ALTER TABLE tokens ADD COLUMN system_scope BIGINT NOT NULL DEFAULT 0;
