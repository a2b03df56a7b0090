package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A mistyped --db creates a new database; serve and admin say where, so an
// operator notices.
func TestServeAndAdminNameTheDatabase(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "typo", "idp.db")
	srv := startServer(t, "sqlite://"+path)
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.done:
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit")
	}
	logs := srv.logs.String()
	if !strings.Contains(logs, `"location":"`+path+`"`) {
		t.Errorf("serve does not log the database path %s:\n%s", path, logs)
	}
	if !strings.Contains(logs, `"level":"warn"`) || !strings.Contains(logs, "created a new, empty database at "+path) {
		t.Errorf("serve does not warn about the new database:\n%s", logs)
	}

	// The database exists now: named, but not called new.
	_, errOut, code := runCLI(t, "admin", "feature-flag", "set", "--db", "sqlite://"+path, "--account", "acme", "--enabled=true")
	if code != 1 || !strings.Contains(errOut, "database: sqlite "+path+"\n") || strings.Contains(errOut, "created a new") {
		t.Errorf("admin on an existing database (exit %d):\n%s", code, errOut)
	}
	other := filepath.Join(t.TempDir(), "idp.db")
	_, errOut, _ = runCLI(t, "admin", "feature-flag", "set", "--db", "sqlite://"+other, "--account", "acme", "--enabled=true")
	if !strings.Contains(errOut, "warning: created a new, empty database at "+other) {
		t.Errorf("admin on a new database:\n%s", errOut)
	}
}
