-- Console sign-in sessions. The browser holds the session id in an
-- HttpOnly cookie; only its SHA-256 is stored, so a copy of this table
-- opens no session. A session acts as the API key it was opened with
-- (by reference: the key is never stored) and ends with it.
CREATE TABLE console_sessions (
    id_hash       TEXT PRIMARY KEY,
    api_key_id    TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);

CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at);

-- The Discovered and Imported lists page repositories by (name, uuid); the
-- console asks for one page of an integration with tens of thousands of
-- repositories at a time, which without this index sorts them all.
CREATE INDEX repositories_by_name ON repositories (integration_id, name, uuid);
