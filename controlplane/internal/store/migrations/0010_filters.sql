-- Repository filters and ignored repositories.
--
-- integrations.filter is the integration's repository filter as JSON
-- (shared/repofilter.Filter); '{}' keeps every repository.
ALTER TABLE integrations ADD COLUMN filter TEXT NOT NULL DEFAULT '{}';

-- Why the integration's filter leaves a repository out; '' when it is
-- kept. Written with the repository on every sync, and for every
-- repository of the integration when its filter changes, so lists never
-- evaluate the filter themselves.
ALTER TABLE repositories ADD COLUMN excluded_reason TEXT NOT NULL DEFAULT '';

-- A discovered repository a user ignored: never recommended nor imported
-- automatically again, whatever later syncs bring, until un-ignored.
-- Keyed by the Bitbucket uuid, so a rename or a move keeps it ignored.
CREATE TABLE ignored_repositories (
    integration_id   TEXT NOT NULL,
    repository_uuid  TEXT NOT NULL,
    ignored_at       BIGINT NOT NULL,
    ignored_by       TEXT NOT NULL,
    PRIMARY KEY (integration_id, repository_uuid),
    FOREIGN KEY (integration_id, repository_uuid) REFERENCES repositories (integration_id, uuid) ON DELETE CASCADE
);
