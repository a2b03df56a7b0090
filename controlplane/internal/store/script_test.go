package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
)

// Procedural scripts, split and run as a migration would be, on each
// database: a body with statements of its own stays one statement, and a
// ? in a string is not taken for a placeholder (were they numbered, the
// check's second ? would not read as the insert's first). The last
// statement fails unless the trigger logged both rows with their text
// intact.
var proceduralScripts = map[string]string{
	"sqlite": `
CREATE TABLE split_a (x INTEGER, note TEXT);
CREATE TABLE split_log (msg TEXT);
-- a trigger body with statements of its own
CREATE TRIGGER split_a_log AFTER INSERT ON split_a BEGIN
  INSERT INTO split_log VALUES ('inserted; ' || NEW.note);
  INSERT INTO split_log VALUES (CASE WHEN NEW.x > 0 THEN 'positive' ELSE 'not positive' END);
END;
` + proceduralCheck,
	"postgres": `
CREATE TABLE split_a (x INTEGER, note TEXT);
CREATE TABLE split_log (msg TEXT);
/* a function body with statements of its own; ; */
CREATE FUNCTION split_a_log() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  INSERT INTO split_log VALUES ('inserted; ' || NEW.note);
  INSERT INTO split_log VALUES (CASE WHEN NEW.x > 0 THEN 'positive' ELSE 'not positive' END);
  RETURN NEW;
END;
$body$;
CREATE TRIGGER split_a_log AFTER INSERT ON split_a FOR EACH ROW EXECUTE FUNCTION split_a_log();
` + proceduralCheck,
}

const proceduralCheck = `
INSERT INTO split_a VALUES (1, 'why? a ''quoted''; note');
CREATE TABLE split_check (ok INTEGER CHECK (ok = 1));
INSERT INTO split_check SELECT CASE WHEN COUNT(*) = 2 THEN 1 ELSE 0 END FROM split_log
  WHERE msg <> 'no? such message' AND msg IN ('inserted; why? a ''quoted''; note', 'positive');
`

func TestProceduralScriptsRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		script := proceduralScripts[store.DialectName(db)]
		if err := store.RunScript(ctx, db, script); err != nil {
			t.Fatal(err)
		}
		// One transaction: a failing statement leaves nothing behind.
		err := store.RunScript(ctx, db, "CREATE TABLE split_gone (x INTEGER);\nINSERT INTO split_gone VALUES ('not a number', 2);")
		if err == nil || !strings.Contains(err.Error(), "in statement:\nINSERT INTO split_gone") {
			t.Fatalf("a failing script: %v", err)
		}
		if err := store.RunScript(ctx, db, "CREATE TABLE split_gone (x INTEGER);"); err != nil {
			t.Errorf("the failed script's table survived its rollback: %v", err)
		}
	})
}
