package synctask

import (
	"net/url"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/delegate/internal/bitbucket"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// TestResumedAttemptCountsEarlierWork: the repositories before a
// checkpoint's resume key are listed and done already, so a resumed
// attempt's progress starts from them, not from 0 (which would report
// fewer repositories done than the run's total at its end).
func TestResumedAttemptCountsEarlierWork(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	client := bitbucket.New(bitbucket.Options{Retry: bitbucket.NewRetryPolicy(zerolog.Nop(), 1),
		Budgets: bitbucket.NewBudgets(clk, bitbucket.BudgetLimit{Requests: 1000, Window: time.Hour}, false)})
	session := client.Session(&url.URL{Scheme: "https", Host: "api.bitbucket.org", Path: "/2.0"}, bitbucket.NewCredential("t"))
	cp := checkpoint{Version: checkpointVersion, After: clk.Now(), Listed: 30, PullRequests: 7, Commits: 9, Expected: 60}
	r := New(&task.Task{Sync: &task.Sync{PullRequests: true, Commits: true}, Checkpoint: cp.encode()}, session, nil, 1, zerolog.Nop())
	p := r.Progress()
	if p.Repositories != 30 || p.RepositoriesDone != 30 || p.PullRequests != 7 || p.Commits != 9 {
		t.Errorf("progress of a resumed attempt: %+v; want 30 listed and done, 7 pull requests, 9 commits", p)
	}
}
