-- What the CODEOWNERS file of a repository's default branch says about the
-- repository as a whole, as the delegate last read it. owners is a JSON
-- array of owners as written; path is empty when the repository has none.
-- repository_updated_on is the repository's updated_on at the read: a
-- later push makes the row stale, and the next sync reads the file again.
CREATE TABLE code_owners (
    integration_id         TEXT NOT NULL,
    repository_uuid        TEXT NOT NULL,
    path                   TEXT NOT NULL,
    owners                 TEXT NOT NULL,
    covers_repository      BOOLEAN NOT NULL,
    line                   INTEGER NOT NULL,
    revision               TEXT NOT NULL,
    repository_updated_on  BIGINT,
    checked_at             BIGINT NOT NULL,
    PRIMARY KEY (integration_id, repository_uuid),
    FOREIGN KEY (integration_id, repository_uuid) REFERENCES repositories (integration_id, uuid) ON DELETE CASCADE
);

-- The integration's owner mapping as a JSON array of {"from", "to"} rules;
-- NULL means the defaults for its workspace.
ALTER TABLE integrations ADD COLUMN owner_mapping TEXT;

-- Requests spent reading CODEOWNERS files, within requests; _before keeps
-- those of earlier attempts, as for requests.
ALTER TABLE sync_runs ADD COLUMN code_owners_requests BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN code_owners_requests_before BIGINT NOT NULL DEFAULT 0;
