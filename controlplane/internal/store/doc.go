// Package store persists everything the control plane owns, behind one
// interface (Store) with one SQL implementation (DB) that runs on SQLite
// (modernc.org/sqlite, the embedded default) and on PostgreSQL (pgx).
//
// Dialect differences live in dialect.go only: placeholders, locking
// (FOR UPDATE SKIP LOCKED on PostgreSQL; a single writer connection with
// BEGIN IMMEDIATE on SQLite) and the recognition of unique violations.
// Everything else is portable SQL: times are BIGINT Unix microseconds,
// lists are JSON text.
//
// Writes that belong together run in one transaction (see DB.tx): a crash
// never leaves half an integration, half a queued sync or half a record
// batch. The store decides nothing of its own: where a decision depends on
// rows read under lock (a task's lease, the links of an entity), it calls
// the pure rule (tasks.Next, imports.Check) inside the transaction and
// saves what the rule decided.
//
// Migrations are the files migrations/NNNN_name.sql, applied in order at
// Open and recorded in schema_migrations. To change the schema add the next
// number (e.g. migrations/0002_discovery.sql); never edit an applied file.
package store
