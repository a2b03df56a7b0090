package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ingest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// TestUploadHoldsRecordsToTheirLimits: what Bitbucket sent is cleaned on
// the way in rather than refused (refusing would refuse the batch on
// every retry): text is cut on a character boundary, raw JSON past its
// size or depth is dropped, a commit keeps its first parents.
func TestUploadHoldsRecordsToTheirLimits(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
		if err := db.CreateAccount(ctx, auth.Account{ID: "acme", CreatedAt: now}, nil); err != nil {
			t.Fatal(err)
		}
		conn := integration.Connector{ID: ids.New("con"), AccountID: "acme", Name: "bb", URL: "https://bitbucket.org/acme",
			Username: "x-token-auth", TokenRef: "env:BB_TOKEN", APIBaseURL: integration.DefaultAPIBaseURL, Workspace: "acme", CreatedAt: now}
		if err := db.CreateConnector(ctx, conn); err != nil {
			t.Fatal(err)
		}
		in, err := integration.New(integration.Draft{Name: "main"}, conn, now)
		if err != nil {
			t.Fatal(err)
		}
		in.ID = ids.New("int")
		if _, err := db.CreateIntegration(ctx, in, store.SyncRequest{AccountID: "acme", Trigger: tasks.Manual, Actor: "test", Now: now}); err != nil {
			t.Fatal(err)
		}
		s := dispatch.New(db, dispatch.DefaultConfig, clock.NewFake(now), zerolog.Nop(), nil)
		t.Cleanup(s.Stop)
		d, err := s.Register(ctx, "acme", dispatch.Registration{Name: "d1"})
		if err != nil {
			t.Fatal(err)
		}
		a, ok, err := s.Acquire(ctx, "acme", d.ID, time.Second)
		if err != nil || !ok || a.Sync == nil {
			t.Fatalf("acquire: %+v, %v, %v", a.Task, ok, err)
		}

		uuid := func(i int) string { return fmt.Sprintf("{00000000-0000-0000-0000-%012d}", i) }
		hash := func(i int) string { return fmt.Sprintf("%040x", i) }
		repo := func(i int) *record.Repository {
			return &record.Repository{UUID: uuid(i), Slug: fmt.Sprintf("repo-%d", i), Name: fmt.Sprintf("Repo %d", i),
				FullName: fmt.Sprintf("acme/repo-%d", i), Workspace: "acme", MainBranch: "main", UpdatedOn: now}
		}
		huge := strings.Repeat("é", 1<<19) // 1 MiB of two-byte characters
		parents := make([]string, 100)
		for i := range parents {
			parents[i] = hash(100 + i)
		}
		big, deep := repo(0), repo(1)
		big.Name, big.Description = huge, huge
		big.Raw = json.RawMessage(`{"pad":"` + strings.Repeat("x", ingest.MaxRawSize) + `"}`)
		deep.Raw = json.RawMessage(strings.Repeat("[", ingest.MaxRawDepth+1) + strings.Repeat("]", ingest.MaxRawDepth+1))
		records := []record.Record{{Repository: big}, {Repository: deep},
			{Commit: &record.Commit{RepositoryUUID: uuid(0), Hash: hash(1), Message: huge, AuthorRaw: huge, Parents: parents, Date: now}},
		}
		if _, err := s.Upload(ctx, "acme", a.Task.ID, a.Task.LeaseToken, 1, records, nil); err != nil {
			t.Fatalf("batch past the limits: %v", err)
		}

		got, err := db.GetRepository(ctx, in.ID, uuid(0))
		if err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]struct {
			value string
			limit int
		}{"name": {got.Name, ingest.MaxText}, "description": {got.Description, ingest.MaxLongText}} {
			if len(c.value) > c.limit || len(c.value) < c.limit-1 || !utf8.ValidString(c.value) {
				t.Errorf("%s: %d bytes (limit %d), valid UTF-8 %v", name, len(c.value), c.limit, utf8.ValidString(c.value))
			}
		}
		dropped := func(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "{}" }
		if !dropped(got.Raw) {
			t.Errorf("raw JSON past MaxRawSize kept: %d bytes", len(got.Raw))
		}
		if got, _ := db.GetRepository(ctx, in.ID, uuid(1)); !dropped(got.Raw) {
			t.Errorf("raw JSON past MaxRawDepth kept: %s", got.Raw)
		}
		commits, _ := db.ListCommits(ctx, in.ID, uuid(0))
		if len(commits) != 1 || len(commits[0].Message) > ingest.MaxLongText || len(commits[0].AuthorRaw) > ingest.MaxText ||
			len(commits[0].Parents) != ingest.MaxParents {
			t.Fatalf("commit not held to the limits: %d commits", len(commits))
		}
	})
}
