-- A repository whose automatic import failed for a transient reason (an
-- internal error, a deadlock). The auto-import watermark moves past every
-- repository a run considered; this row makes the following runs try the
-- repository again, attempts counting the failures so far, until it is
-- imported, fails for a permanent reason, or runs out of attempts.
CREATE TABLE auto_import_retries (
    integration_id   TEXT NOT NULL,
    repository_uuid  TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    last_failed_at   BIGINT NOT NULL,
    PRIMARY KEY (integration_id, repository_uuid),
    FOREIGN KEY (integration_id, repository_uuid) REFERENCES repositories (integration_id, uuid) ON DELETE CASCADE
);
