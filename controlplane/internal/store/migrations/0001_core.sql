-- Core schema: tenants and credentials, connectors and integrations, the
-- task queue with leases, sync runs, ingested repositories with their pull
-- requests, commits and cursors, and the event log.
--
-- Portable SQL for SQLite and PostgreSQL: times are BIGINT Unix
-- microseconds (UTC), booleans are BOOLEAN, lists are JSON text, and the
-- opaque task checkpoint is base64 text.

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);

CREATE TABLE feature_flags (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    flag        TEXT NOT NULL,
    enabled     BOOLEAN NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, flag)
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    permissions  TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE delegate_tokens (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE delegates (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    tags           TEXT NOT NULL,
    version        TEXT NOT NULL,
    hostname       TEXT NOT NULL,
    concurrency    INTEGER NOT NULL,
    registered_at  BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE connectors (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    url                 TEXT NOT NULL,
    username            TEXT NOT NULL,
    token_ref           TEXT NOT NULL,
    api_base_url        TEXT NOT NULL,
    delegate_selectors  TEXT NOT NULL,
    workspace           TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE integrations (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    connector_id     TEXT NOT NULL REFERENCES connectors (id),
    workspace        TEXT NOT NULL,
    behavior         TEXT NOT NULL,
    kind             TEXT NOT NULL,
    type             TEXT NOT NULL,
    correlation      TEXT NOT NULL,
    field_mappings   TEXT NOT NULL,
    secondary_kinds  TEXT NOT NULL,
    frequency        TEXT NOT NULL,
    start_date       BIGINT,
    auto_import      BOOLEAN NOT NULL,
    state            TEXT NOT NULL,
    next_sync_at     BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (account_id, name),
    UNIQUE (account_id, workspace)
);
CREATE INDEX integrations_due ON integrations (next_sync_at) WHERE state = 'ENABLED';

CREATE TABLE tasks (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    type              TEXT NOT NULL,
    integration_id    TEXT REFERENCES integrations (id) ON DELETE CASCADE,
    connector_id      TEXT REFERENCES connectors (id) ON DELETE CASCADE,
    run_id            TEXT,
    selectors         TEXT NOT NULL,
    state             TEXT NOT NULL,
    attempt           INTEGER NOT NULL,
    lease_token       TEXT NOT NULL,
    lease_expires_at  BIGINT,
    delegate_id       TEXT,
    checkpoint        TEXT NOT NULL,
    last_sequence     BIGINT NOT NULL,
    cancel_requested  BOOLEAN NOT NULL,
    outcome           TEXT NOT NULL,
    error             TEXT NOT NULL,
    result            TEXT NOT NULL,
    available_at      BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    finished_at       BIGINT
);
-- Acquire scans an account's queued tasks oldest first; the sweeper scans
-- leases by expiry and connection tests nobody took.
CREATE INDEX tasks_queue ON tasks (account_id, state, available_at);
CREATE INDEX tasks_leases ON tasks (lease_expires_at) WHERE state = 'LEASED';
CREATE INDEX tasks_waiting_tests ON tasks (available_at) WHERE state = 'QUEUED' AND type = 'TEST_CONNECTION';

CREATE TABLE sync_runs (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    integration_id      TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    task_id             TEXT NOT NULL,
    triggered_by        TEXT NOT NULL,
    status              TEXT NOT NULL,
    queued_at           BIGINT NOT NULL,
    started_at          BIGINT,
    finished_at         BIGINT,
    attempt             INTEGER NOT NULL,
    delegate            TEXT NOT NULL,
    error               TEXT NOT NULL,
    phase               TEXT NOT NULL,
    repositories        BIGINT NOT NULL,
    pull_requests       BIGINT NOT NULL,
    commits             BIGINT NOT NULL,
    requests            BIGINT NOT NULL,
    rate_limited        BIGINT NOT NULL,
    repositories_done   BIGINT NOT NULL,
    repositories_total  BIGINT NOT NULL
);
CREATE INDEX sync_runs_by_integration ON sync_runs (integration_id, queued_at);
-- Never two active syncs of one integration, even across replicas.
CREATE UNIQUE INDEX sync_runs_one_active ON sync_runs (integration_id) WHERE status IN ('QUEUED', 'RUNNING');

-- Repositories are keyed by the Bitbucket uuid within an integration: a
-- rename or a move updates the row. raw is the repository JSON as
-- Bitbucket returned it. last_seen_task_id marks the task that last sent
-- it, so a complete listing can mark the others deleted.
CREATE TABLE repositories (
    integration_id     TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    uuid               TEXT NOT NULL,
    account_id         TEXT NOT NULL,
    slug               TEXT NOT NULL,
    name               TEXT NOT NULL,
    full_name          TEXT NOT NULL,
    workspace          TEXT NOT NULL,
    project_key        TEXT NOT NULL,
    project_name       TEXT NOT NULL,
    description        TEXT NOT NULL,
    is_private         BOOLEAN NOT NULL,
    language           TEXT NOT NULL,
    main_branch        TEXT NOT NULL,
    html_url           TEXT NOT NULL,
    clone_https_url    TEXT NOT NULL,
    clone_ssh_url      TEXT NOT NULL,
    created_on         BIGINT,
    updated_on         BIGINT,
    size_bytes         BIGINT NOT NULL,
    raw                TEXT NOT NULL,
    first_seen_at      BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    last_seen_task_id  TEXT NOT NULL,
    deleted_at         BIGINT,
    PRIMARY KEY (integration_id, uuid)
);

CREATE TABLE pull_requests (
    integration_id      TEXT NOT NULL,
    repository_uuid     TEXT NOT NULL,
    number              BIGINT NOT NULL,
    title               TEXT NOT NULL,
    state               TEXT NOT NULL,
    draft               BOOLEAN NOT NULL,
    author              TEXT NOT NULL,
    author_uuid         TEXT NOT NULL,
    source_branch       TEXT NOT NULL,
    destination_branch  TEXT NOT NULL,
    created_on          BIGINT,
    updated_on          BIGINT,
    merge_commit        TEXT NOT NULL,
    closed_by           TEXT NOT NULL,
    comment_count       INTEGER NOT NULL,
    task_count          INTEGER NOT NULL,
    html_url            TEXT NOT NULL,
    PRIMARY KEY (integration_id, repository_uuid, number),
    FOREIGN KEY (integration_id, repository_uuid) REFERENCES repositories (integration_id, uuid) ON DELETE CASCADE
);
CREATE INDEX pull_requests_recent ON pull_requests (integration_id, repository_uuid, updated_on);

CREATE TABLE commits (
    integration_id   TEXT NOT NULL,
    repository_uuid  TEXT NOT NULL,
    hash             TEXT NOT NULL,
    committed_at     BIGINT,
    author_raw       TEXT NOT NULL,
    author_user      TEXT NOT NULL,
    message          TEXT NOT NULL,
    parents          TEXT NOT NULL,
    html_url         TEXT NOT NULL,
    PRIMARY KEY (integration_id, repository_uuid, hash),
    FOREIGN KEY (integration_id, repository_uuid) REFERENCES repositories (integration_id, uuid) ON DELETE CASCADE
);
CREATE INDEX commits_recent ON commits (integration_id, repository_uuid, committed_at);

CREATE TABLE repository_cursors (
    integration_id                 TEXT NOT NULL,
    repository_uuid                TEXT NOT NULL,
    commits_checked_at_updated_on  BIGINT,
    newest_commit_hash             TEXT NOT NULL,
    oldest_commit_hash             TEXT NOT NULL,
    commits_backfilled             BOOLEAN NOT NULL,
    newest_pr_updated_on           BIGINT,
    oldest_pr_updated_on           BIGINT,
    pull_requests_backfilled       BOOLEAN NOT NULL,
    updated_at                     BIGINT NOT NULL,
    PRIMARY KEY (integration_id, repository_uuid),
    FOREIGN KEY (integration_id, repository_uuid) REFERENCES repositories (integration_id, uuid) ON DELETE CASCADE
);

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    integration_id  TEXT NOT NULL,
    occurred_at     BIGINT NOT NULL,
    type            TEXT NOT NULL,
    message         TEXT NOT NULL,
    actor           TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    repository      TEXT NOT NULL,
    error           TEXT NOT NULL
);
CREATE INDEX events_by_integration ON events (integration_id, occurred_at, id);
