package synctask_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
)

// syncBuffer is a log sink safe for the delegate's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRevokedTokenMidSyncIsSkippedAndReported: a connector with two
// tokens; Bitbucket revokes the first after the 40th request. The sync
// still delivers everything, with the second token, and reports the first
// as rejected in its progress (what the control plane shows on the run)
// and in the log.
func TestRevokedTokenMidSyncIsSkippedAndReported(t *testing.T) {
	t.Parallel()
	const second = "bbt-second-token-of-the-workspace"
	srv, err := bitbucketmock.New(bitbucketmock.Config{Seed: 41, Repos: 60, PRsPerRepo: 3, CommitsPerRepo: 4,
		Tokens: []bitbucketmock.Token{{Name: "first", Value: testenv.BitbucketToken}, {Name: "second", Value: second}}})
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	var revokedAt atomic.Int64
	api := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 40 {
			revoked := true
			if _, err := srv.ChangeToken("first", bitbucketmock.TokenChange{Revoked: &revoked}); err != nil {
				t.Error(err)
			}
			revokedAt.Store(40)
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)

	cp := startOneAttemptControl(t)
	var log syncBuffer
	testenv.Start(t, cp, testenv.Options{Budget: unlimited, Log: &log, Env: map[string]string{"BITBUCKET_SECOND": second}})
	tk := testenv.SyncTask(hs.URL+"/2.0", srv.Workspace(), nil, nil, time.Time{})
	tk.Sync.Target.TokenRefs = []string{"env:" + testenv.TokenEnv, "env:BITBUCKET_SECOND"}
	id, done := testenv.Run(t, cp, tk, 60*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("sync: %v %s", done.GetOutcome(), done.GetError())
	}
	if revokedAt.Load() == 0 {
		t.Fatal("the sync made fewer than 40 requests: the token was never revoked")
	}
	got := kinds(testenv.SyncedSince(cp, id))
	want := truth(t, &bitbucketmock.Running{Server: srv})
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %d records, want %d", k, got[k], v)
		}
	}

	toks := done.GetProgress().GetTokens()
	if len(toks) != 2 {
		t.Fatalf("progress tokens %v", toks)
	}
	first, sec := toks[0], toks[1]
	if first.GetTokenRef() != "env:"+testenv.TokenEnv || !first.GetRejected() || !strings.Contains(first.GetMessage(), "401") {
		t.Errorf("first token: %v", first)
	}
	if sec.GetTokenRef() != "env:BITBUCKET_SECOND" || sec.GetRejected() || sec.GetRequests() == 0 {
		t.Errorf("second token: %v", sec)
	}
	// Before the revocation both took requests (spread over the budgets).
	if first.GetRequests() < 10 || first.GetRequests() > 40 {
		t.Errorf("first token sent %d requests, want a share of the first 40 plus its one 401", first.GetRequests())
	}
	if first.GetRequests()+sec.GetRequests() != done.GetProgress().GetRequests() {
		t.Errorf("tokens sent %d + %d, progress says %d", first.GetRequests(), sec.GetRequests(), done.GetProgress().GetRequests())
	}
	logs := log.String()
	if !strings.Contains(logs, "Bitbucket rejected this token (401") || !strings.Contains(logs, `"token_ref":"env:`+testenv.TokenEnv+`"`) {
		t.Errorf("the log does not name the rejected token:\n%s", logs)
	}
	if strings.Contains(logs, testenv.BitbucketToken) || strings.Contains(logs, second) {
		t.Error("a token value reached the log")
	}
}
