-- Object storage requests and bytes served, per project, bucket, hour and operation, for
-- billing (stored bytes are usage events written with each change).
CREATE TABLE obs_requests (
    project_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    hour BIGINT NOT NULL,
    operation TEXT NOT NULL,
    requests BIGINT NOT NULL,
    bytes_out BIGINT NOT NULL,
    PRIMARY KEY (project_id, bucket, hour, operation)
);
