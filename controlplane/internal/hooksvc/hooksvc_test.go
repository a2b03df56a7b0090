package hooksvc_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/hooksvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

const commitJSON = `{"hash":"%040d","date":"2026-12-01T09:00:00+00:00","message":"m","author":{"raw":"A <a@x>"},"parents":[]}`

func push(truncated bool, commits int) string {
	list := ""
	for i := range commits {
		if i > 0 {
			list += ","
		}
		list += fmt.Sprintf(commitJSON, i+1)
	}
	return fmt.Sprintf(`{"repository":{"uuid":"{00000000-0000-4000-8000-000000000001}","full_name":"acme/svc"},"push":{"changes":[{"new":{"type":"branch","name":"main"},
		"old":{"type":"branch","name":"main"},"truncated":%t,"commits":[%s]}]}}`, truncated, list)
}

// Each kind of delivery has its effect: commits stored, refreshes queued
// (coalesced) for what a payload does not describe, deletions marked.
func TestDeliveriesApplied(t *testing.T) {
	db := storetest.SQLite(t)
	id := setup(t, db)
	ctx := context.Background()
	// The repository's main branch is "main".
	if _, err := db.EnsureWebhookSecret(ctx, id, "s"); err != nil {
		t.Fatal(err)
	}
	svc := hooksvc.New(db, dispatch.New(db, dispatch.DefaultConfig, clock.Real{}, zerolog.Nop(), nil), clock.Real{}, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel))
	n := 0
	send := func(event, body string) {
		t.Helper()
		n++
		if _, err := svc.Receive(ctx, hooksvc.Delivery{IntegrationID: id, Event: event, RequestUUID: fmt.Sprint("req-", n),
			Signature: bitbucketmock.Signature("s", []byte(body)), Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
		for svc.Drain(ctx) > 0 {
		}
	}
	refreshes := func() []tasks.SyncRun {
		t.Helper()
		runs, _, err := db.ListSyncRuns(ctx, "acme", id, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		var out []tasks.SyncRun
		for _, r := range runs {
			if len(r.Targeted) > 0 {
				out = append(out, r)
			}
		}
		return out
	}

	send("repo:push", push(false, 2))
	commits, err := db.ListCommits(ctx, id, "{00000000-0000-4000-8000-000000000001}")
	if err != nil || len(commits) != 2 {
		t.Fatalf("commits after a complete push: %d %v; want 2", len(commits), err)
	}
	if r := refreshes(); len(r) != 0 {
		t.Fatalf("a complete push queued %+v", r)
	}
	send("repo:push", push(true, 5))
	r := refreshes()
	if len(r) != 1 || !slices.Equal(r[0].Targeted, []string{"svc"}) || r[0].Trigger != tasks.Webhook {
		t.Fatalf("after a truncated push: %+v; want one WEBHOOK refresh of svc", r)
	}
	send("repo:updated", `{"repository":{"uuid":"{00000000-0000-4000-8000-000000000001}","full_name":"acme/svc"}}`)
	send("repo:created", `{"repository":{"uuid":"{00000000-0000-4000-8000-000000000098}","full_name":"acme/new-one"}}`)
	send("pullrequest:created", `{"repository":{"uuid":"{00000000-0000-4000-8000-000000000099}","full_name":"acme/unknown"},"pullrequest":{"id":1,"updated_on":"2026-12-01T09:00:00Z"}}`)
	r = refreshes()
	if len(r) != 1 || !slices.Equal(r[0].Targeted, []string{"new-one", "svc", "unknown"}) {
		t.Fatalf("refreshes: %+v; want one, coalesced over svc, new-one and unknown", r)
	}
	send("repo:deleted", `{"repository":{"uuid":"{00000000-0000-4000-8000-000000000001}","full_name":"acme/svc"}}`)
	repo, err := db.GetRepository(ctx, id, "{00000000-0000-4000-8000-000000000001}")
	if err != nil || repo.DeletedAt.IsZero() {
		t.Fatalf("after repo:deleted: %+v %v; want it marked deleted", repo, err)
	}
}
