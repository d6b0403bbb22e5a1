-- The content headers an object was written with and is served with (Cache-Control,
-- Content-Disposition, Content-Encoding, Content-Language, Expires), a JSON object keyed by
-- lower-case header name.
ALTER TABLE objects ADD COLUMN headers TEXT NOT NULL DEFAULT '{}';
ALTER TABLE object_versions ADD COLUMN headers TEXT NOT NULL DEFAULT '{}';
ALTER TABLE multipart_uploads ADD COLUMN headers TEXT NOT NULL DEFAULT '{}';
