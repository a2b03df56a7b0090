package store

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitStatements(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"plain", "CREATE TABLE a (x INT);\nCREATE TABLE b (y INT);\n",
			[]string{"CREATE TABLE a (x INT);", "CREATE TABLE b (y INT);"}},
		{"last without semicolon", "SELECT 1;\nSELECT 2\n", []string{"SELECT 1;", "SELECT 2"}},
		{"one line, two statements", "SELECT 1; SELECT 2;", []string{"SELECT 1;", "SELECT 2;"}},
		{"semicolon in a string", "INSERT INTO t VALUES ('a;b');\nSELECT 1;",
			[]string{"INSERT INTO t VALUES ('a;b');", "SELECT 1;"}},
		{"doubled quote in a string", "INSERT INTO t VALUES ('it''s; fine');SELECT 1;",
			[]string{"INSERT INTO t VALUES ('it''s; fine');", "SELECT 1;"}},
		{"escape string", `SELECT E'\';' ; SELECT 2;`, []string{`SELECT E'\';' ;`, "SELECT 2;"}},
		{"backslash in a standard string", `SELECT 'a\'; SELECT 2;`, []string{`SELECT 'a\';`, "SELECT 2;"}},
		{"quoted identifiers", "SELECT \"a;\"\"b\", `c;d`, [e;f] FROM t; SELECT 2;",
			[]string{"SELECT \"a;\"\"b\", `c;d`, [e;f] FROM t;", "SELECT 2;"}},
		{"line comment", "SELECT 1; -- not; a statement\nSELECT 2;", []string{"SELECT 1;", "-- not; a statement\nSELECT 2;"}},
		{"block comment", "SELECT /* ; */ 1;", []string{"SELECT /* ; */ 1;"}},
		{"nested block comment", "SELECT /* a /* ; */ ; */ 1; SELECT 2;", []string{"SELECT /* a /* ; */ ; */ 1;", "SELECT 2;"}},
		{"comments only are dropped", "-- header\n/* nothing; here */\n\nSELECT 1;\n-- trailer;\n", []string{"-- header\n/* nothing; here */\n\nSELECT 1;"}},
		{"empty statements are dropped", ";;SELECT 1;;", []string{"SELECT 1;"}},
		{"dollar-quoted body", "CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  NEW.x := 1; RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\nSELECT 1;",
			[]string{"CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  NEW.x := 1; RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;", "SELECT 1;"}},
		{"tagged dollar body holding $$", "DO $body$ BEGIN PERFORM '$$;'; END $body$; SELECT 1;",
			[]string{"DO $body$ BEGIN PERFORM '$$;'; END $body$;", "SELECT 1;"}},
		{"parameters are not dollar quotes", "SELECT $1; SELECT $2;", []string{"SELECT $1;", "SELECT $2;"}},
		{"dollar inside an identifier", "SELECT a$b; SELECT 2;", []string{"SELECT a$b;", "SELECT 2;"}},
		{"sqlite trigger", "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  INSERT INTO log VALUES (1);\n  UPDATE a SET x = CASE WHEN x > 0 THEN 1 ELSE 0 END;\nEND;\nSELECT 1;",
			[]string{"CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  INSERT INTO log VALUES (1);\n  UPDATE a SET x = CASE WHEN x > 0 THEN 1 ELSE 0 END;\nEND;", "SELECT 1;"}},
		{"temp trigger with a CASE in WHEN", "CREATE TEMP TRIGGER IF NOT EXISTS t BEFORE DELETE ON a WHEN CASE WHEN 1 THEN 1 END BEGIN SELECT 1; END; SELECT 2;",
			[]string{"CREATE TEMP TRIGGER IF NOT EXISTS t BEFORE DELETE ON a WHEN CASE WHEN 1 THEN 1 END BEGIN SELECT 1; END;", "SELECT 2;"}},
		{"begin atomic", "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3;",
			[]string{"CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;", "SELECT 3;"}},
		{"a column named begin is no keyword", "CREATE TRIGGER t BEFORE UPDATE ON a FOR EACH ROW WHEN (NEW.begin > 0) EXECUTE FUNCTION f(); SELECT 1;",
			[]string{"CREATE TRIGGER t BEFORE UPDATE ON a FOR EACH ROW WHEN (NEW.begin > 0) EXECUTE FUNCTION f();", "SELECT 1;"}},
		{"a table named trigger has no body", "CREATE TABLE trigger (begin INT); SELECT 1;", []string{"CREATE TABLE trigger (begin INT);", "SELECT 1;"}},
		{"transaction keywords outside a body", "BEGIN; SELECT 1; END;", []string{"BEGIN;", "SELECT 1;", "END;"}},
	}
	for _, tc := range cases {
		got, err := splitStatements(tc.src)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestSplitStatementsUnterminated(t *testing.T) {
	t.Parallel()
	cases := []struct{ src, err string }{
		{"SELECT 1;\nSELECT 'open;", "line 2: unterminated string"},
		{"SELECT E'\\';", "line 1: unterminated string"},
		{"SELECT \"open;", "line 1: unterminated identifier"},
		{"SELECT 1;\n\n/* open /* */ ;", "line 3: unterminated comment"},
		{"CREATE FUNCTION f() AS $fn$ SELECT 1; $$;", "line 1: unterminated dollar-quoted body $fn$"},
	}
	for _, tc := range cases {
		if _, err := splitStatements(tc.src); err == nil || err.Error() != tc.err {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.err)
		}
	}
}

// TestMigrationsSplit: every migration splits, into statements that each
// end with their semicolon.
func TestMigrationsSplit(t *testing.T) {
	t.Parallel()
	all, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		stmts, err := splitStatements(m.sql)
		if err != nil {
			t.Fatalf("%04d_%s: %v", m.version, m.name, err)
		}
		if len(stmts) == 0 {
			t.Errorf("%04d_%s: no statements", m.version, m.name)
		}
		for _, s := range stmts {
			if !strings.HasSuffix(s, ";") {
				t.Errorf("%04d_%s: statement without its semicolon:\n%s", m.version, m.name, s)
			}
		}
	}
}
