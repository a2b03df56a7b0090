-- The active tasks, counted by type and state for the server's metrics on
-- every scrape, without reading the finished tasks that accumulate.
CREATE INDEX tasks_active ON tasks (type, state) WHERE state <> 'DONE';
