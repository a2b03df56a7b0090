-- Run counters stay true when a sync resumes: a record a run already
-- stored is counted once however often a resumed attempt sends it again
-- (last_seen_task_id, as on repositories), and the Bitbucket requests of
-- earlier attempts are kept when the next attempt reports its own from 0.
ALTER TABLE pull_requests ADD COLUMN last_seen_task_id TEXT NOT NULL DEFAULT '';
ALTER TABLE commits ADD COLUMN last_seen_task_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sync_runs ADD COLUMN requests_before BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN rate_limited_before BIGINT NOT NULL DEFAULT 0;

-- Work that follows a finished sync run (recommendations, auto-import,
-- entity refresh), written in the run's final transaction and carried
-- out after it, also after a restart. A replica claims one by taking its
-- lease (claimed_until); a failed one waits until available_at to retry.
CREATE TABLE follow_ups (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    integration_id  TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    run_status      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    available_at    BIGINT NOT NULL,
    claimed_until   BIGINT,
    attempts        INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    UNIQUE (run_id)
);
CREATE INDEX follow_ups_due ON follow_ups (available_at);
