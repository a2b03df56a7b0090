package synctask_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
)

// beforeListingPage serves the mock through a proxy that calls hook before
// forwarding listing page n (1-based).
func beforeListingPage(t *testing.T, m *bitbucketmock.Running, hook func(n int)) string {
	t.Helper()
	target, err := url.Parse(m.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	var pages atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/repositories/"+m.Workspace()) {
			hook(int(pages.Add(1)))
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + target.Path
}

// A repository deleted between two listing pages shifts the page-number
// links, so a live repository is skipped; the listing must then not be
// marked complete, or the control plane would delete the skipped one.
func TestRepositoryDeletedDuringTheListingDoesNotMarkItComplete(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Seed: 36, Repos: 250})
	first := m.Repos()[0].Slug // on page 1, oldest first
	api := beforeListingPage(t, m, func(n int) {
		if n == 2 {
			if err := m.DeleteRepo(first); err != nil {
				t.Error(err)
			}
		}
	})
	cp := startControl(t)
	logs := &testenv.SyncWriter{}
	testenv.Start(t, cp, testenv.Options{Log: logs})
	id, done := testenv.Run(t, cp, testenv.SyncTask(api, m.Workspace(), nil, nil, time.Time{}), 30*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("sync: %v %s", done.GetOutcome(), done.GetError())
	}
	got := kinds(testenv.SyncedSince(cp, id))
	if got["listing_complete"] != 0 {
		t.Errorf("listing marked complete though a live repository was skipped (%d repository records sent)", got["repository"])
	}
	if !strings.Contains(logs.String(), "changed during the listing; not marking it complete") {
		t.Error("no log line says why the listing was not marked complete")
	}

	// The next sync lists a workspace that holds still, and marks it.
	id, _ = testenv.Run(t, cp, testenv.SyncTask(api, m.Workspace(), nil, cp.Cursors(), time.Time{}), 30*time.Second)
	if got := kinds(testenv.SyncedSince(cp, id)); got["listing_complete"] != 1 || got["repository"] != 249 {
		t.Errorf("the next sync uploaded %v, want 249 repositories and the marker", got)
	}
}
