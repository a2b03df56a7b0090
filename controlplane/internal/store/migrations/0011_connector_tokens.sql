-- Several access tokens per connector: token_refs holds every reference as
-- a JSON list, in order ('[]' for connectors stored before, which have
-- token_ref alone). token_ref stays the first of them.
ALTER TABLE connectors ADD COLUMN token_refs TEXT NOT NULL DEFAULT '[]';

-- How each token fared in a sync run, as the delegate last reported: a
-- JSON list of {token_ref, rejected, message, limit_per_hour, requests,
-- rate_limited}, so that a rejected token shows on the run and on the
-- integration's last run.
ALTER TABLE sync_runs ADD COLUMN tokens TEXT NOT NULL DEFAULT '[]';
