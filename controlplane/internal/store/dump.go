package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Dump returns every row of every table as text, tables by name and rows
// sorted: a snapshot of all stored state, to show that a refused request
// changed nothing.
func (db *DB) Dump(ctx context.Context) (map[string][]string, error) {
	list := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if db.dialect.name() == "postgres" {
		list = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	tables, err := queryAll(ctx, db, list, nil, func(s scanner) (string, error) {
		var name string
		return name, s.Scan(&name)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(tables))
	for _, table := range tables {
		rows, err := db.sql.QueryContext(ctx, `SELECT * FROM `+table)
		if err != nil {
			return nil, fmt.Errorf("dump %s: %w", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return nil, err
		}
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, err
			}
			var b strings.Builder
			for i, v := range vals {
				if b2, ok := v.([]byte); ok {
					v = string(b2)
				}
				fmt.Fprintf(&b, "%s=%v;", cols[i], v)
			}
			lines = append(lines, b.String())
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
		slices.Sort(lines)
		out[table] = lines
	}
	return out, nil
}
