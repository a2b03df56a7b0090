-- Budgeted sweeps. An integration's sweep windows (seconds), and what its
-- syncs established: listed_as_of, the plan time of the last complete
-- listing (the next watermark listing starts there, less the overlap),
-- and last_full_listing_at, that of the last complete full listing
-- (microseconds).
ALTER TABLE integrations ADD COLUMN pr_sweep_window BIGINT NOT NULL DEFAULT 86400;
ALTER TABLE integrations ADD COLUMN pr_sweep_window_without_webhook BIGINT NOT NULL DEFAULT 21600;
ALTER TABLE integrations ADD COLUMN full_listing_interval BIGINT NOT NULL DEFAULT 86400;
ALTER TABLE integrations ADD COLUMN watermark_overlap BIGINT NOT NULL DEFAULT 900;
ALTER TABLE integrations ADD COLUMN listed_as_of BIGINT;
ALTER TABLE integrations ADD COLUMN last_full_listing_at BIGINT;

-- A sync task's plan (JSON of sweep.Plan), decided at its first lease and
-- kept for its later attempts; empty until then.
ALTER TABLE tasks ADD COLUMN sweep_plan TEXT NOT NULL DEFAULT '';

-- When a repository's pull requests were last confirmed complete, and its
-- updated_on then.
ALTER TABLE repository_cursors ADD COLUMN pr_confirmed_at BIGINT;
ALTER TABLE repository_cursors ADD COLUMN pr_checked_at_updated_on BIGINT;
CREATE INDEX repository_cursors_confirmed ON repository_cursors (integration_id, pr_confirmed_at);
