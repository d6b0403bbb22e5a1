-- CTS data trackers (object-level events of one bucket): the bucket and the events
-- (a comma list of READ, WRITE). Each bucket row carries the union of its enabled data
-- trackers' events, so serving an object knows without another query whether to trace it.
ALTER TABLE trackers ADD COLUMN data_bucket TEXT;
ALTER TABLE trackers ADD COLUMN data_events TEXT;
ALTER TABLE buckets ADD COLUMN data_events TEXT;
