-- Discovery and the catalog: catalog entities, the links imports make
-- between repositories and entities, the recommendations of repositories
-- not yet imported, and per-integration discovery bookkeeping.

-- A catalog entity. document is the entity as IDP 2.0 YAML, ingested
-- overlays included; the other columns repeat the fields lists, filters and
-- correlation read, so that those never parse YAML. scope is the catalog
-- scope key ("account", "account/<org>", "account/<org>/<project>").
CREATE TABLE entities (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    type            TEXT NOT NULL,
    identifier      TEXT NOT NULL,
    scope           TEXT NOT NULL,
    org             TEXT NOT NULL,
    project         TEXT NOT NULL,
    name            TEXT NOT NULL,
    owner           TEXT NOT NULL,
    lifecycle       TEXT NOT NULL,
    description     TEXT NOT NULL,
    tags            TEXT NOT NULL,
    document        TEXT NOT NULL,
    source_deleted  BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (account_id, kind, identifier, scope)
);
CREATE INDEX entities_by_identifier ON entities (account_id, identifier);

-- A repository linked to the entity it feeds. One link per repository and
-- one repository per entity within an integration (the entity's
-- metadata.integration slot). Deleting the entity or the repository
-- removes the link, which returns the repository to the Discovered list.
-- props_hash is the hash of the ingested properties last written, so a
-- sync rewrites only entities whose repository changed.
CREATE TABLE repository_links (
    integration_id   TEXT NOT NULL,
    repository_uuid  TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    entity_id        TEXT NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    action           TEXT NOT NULL,
    automatic        BOOLEAN NOT NULL,
    imported_at      BIGINT NOT NULL,
    props_hash       TEXT NOT NULL,
    PRIMARY KEY (integration_id, repository_uuid),
    UNIQUE (integration_id, entity_id),
    FOREIGN KEY (integration_id, repository_uuid) REFERENCES repositories (integration_id, uuid) ON DELETE CASCADE
);
CREATE INDEX repository_links_by_entity ON repository_links (entity_id);

-- The recommendation of a repository, as the last correlation run computed
-- it (stale rows of since-imported repositories are ignored), and whether
-- it was ever unlinked (it is then never imported automatically again).
-- candidates is JSON: [{"entity_id", "exact", "matched_value"}], best first.
CREATE TABLE recommendations (
    integration_id       TEXT NOT NULL,
    repository_uuid      TEXT NOT NULL,
    action               TEXT NOT NULL,
    suggested_entity_id  TEXT NOT NULL,
    candidates           TEXT NOT NULL,
    unlinked_at          BIGINT,
    computed_at          BIGINT NOT NULL,
    PRIMARY KEY (integration_id, repository_uuid),
    FOREIGN KEY (integration_id, repository_uuid) REFERENCES repositories (integration_id, uuid) ON DELETE CASCADE
);
CREATE INDEX recommendations_by_action ON recommendations (integration_id, action);

-- Discovery bookkeeping per integration. Every change that can alter a
-- recommendation (a catalog entity of the integration's kind, an import, an
-- unlink) bumps dirty_gen in its own transaction; a correlation run records
-- the generation it started from in computed_gen and the configuration it
-- used in config_hash. Recommendations are fresh when computed_gen equals
-- dirty_gen and config_hash matches the integration. auto_import_mark is
-- the first_seen_at up to which repositories were considered for
-- auto-import.
CREATE TABLE discovery_state (
    integration_id    TEXT PRIMARY KEY REFERENCES integrations (id) ON DELETE CASCADE,
    account_id        TEXT NOT NULL,
    dirty_gen         BIGINT NOT NULL,
    computed_gen      BIGINT NOT NULL,
    config_hash       TEXT NOT NULL,
    computed_at       BIGINT,
    auto_import_mark  BIGINT
);
