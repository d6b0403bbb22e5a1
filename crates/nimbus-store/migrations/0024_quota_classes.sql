-- Limits of quota classes (Cinder's and Nova's `os-quota-class-sets`): the `default` class
-- changes the defaults of every project at run time, over the configured ones. Projects'
-- own limits (`quota_limits`) still come first.
CREATE TABLE quota_class_limits (
    class_name TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (class_name, resource)
);
