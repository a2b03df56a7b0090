-- The Discovered and Imported lists order repositories by name as people
-- read them (sortkey.Of: letters first, case and accents only break
-- ties), not by the bytes of the UTF-8, which put every accented name
-- after every ASCII one. The key is lowercase hexadecimal, compared byte
-- by byte alike on SQLite and PostgreSQL; the store fills it for the
-- rows already there when this migration runs, and on every upsert.
ALTER TABLE repositories ADD COLUMN sort_key TEXT NOT NULL DEFAULT '';

CREATE INDEX repositories_by_sort_key ON repositories (integration_id, sort_key, uuid);

DROP INDEX repositories_by_name;
