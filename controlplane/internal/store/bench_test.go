package store_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// Shape of the benchmarked sync: a large workspace's first sync, capped
// at 5,000 pull requests and 5,000 commits, uploaded in batches of the
// size delegates send.
const (
	benchRepos     = 20000
	benchPRs       = 5000
	benchCommits   = 5000
	benchBatchSize = 500
)

// rawRepository is a repository object of realistic size (~1.3 KB), as
// Bitbucket returns it with the fields the delegate asks for.
func rawRepository(i int) string {
	return fmt.Sprintf(`{"type":"repository","uuid":"%s","full_name":"acme/service-%d","name":"service-%d","slug":"service-%d",`+
		`"description":"%s","is_private":true,"language":"go","size":123456,"created_on":"2021-03-04T05:06:07.000000+00:00",`+
		`"updated_on":"2026-11-20T10:11:12.000000+00:00","mainbranch":{"name":"main","type":"branch"},"fork_policy":"no_public_forks",`+
		`"project":{"key":"PAY","name":"Payments","uuid":"{7a1c0d4e-0000-4000-8000-000000000001}","type":"project"},`+
		`"links":{"html":{"href":"https://bitbucket.org/acme/service-%d"},"clone":[{"name":"https","href":"https://bitbucket.org/acme/service-%d.git"},`+
		`{"name":"ssh","href":"git@bitbucket.org:acme/service-%d.git"}],"avatar":{"href":"https://bytebucket.org/ravatar/%%7B%s%%7D?ts=go"}},`+
		`"owner":{"display_name":"Acme","type":"team","uuid":"{0f0e0d0c-0000-4000-8000-000000000002}","username":"acme"}}`,
		repoUUID(i), i, i, i, strings.Repeat("Handles a part of the payment flow. ", 6), i, i, i, repoUUID(i))
}

// syncRecords builds the records of one sync, in upload order:
// repositories, then pull requests and commits with their cursors, then
// the end of the listing.
func syncRecords() []record.Record {
	out := make([]record.Record, 0, benchRepos+benchPRs+benchCommits+1)
	for i := range benchRepos {
		r := repo(i)
		r.Raw = json.RawMessage(rawRepository(i))
		r.Description = "Handles a part of the payment flow."
		out = append(out, record.Record{Repository: r})
	}
	for i := range benchPRs {
		out = append(out, record.Record{PullRequest: &record.PullRequest{RepositoryUUID: repoUUID(i % 100), ID: int64(i + 1),
			Title: "Improve retry handling in the payment client", State: "MERGED", Author: "Dana", SourceBranch: "feature/x",
			DestinationBranch: "main", CreatedOn: t0, UpdatedOn: t0.Add(time.Duration(i) * time.Minute), MergeCommit: "0123456789ab",
			HTMLURL: "https://bitbucket.org/acme/x/pull-requests/1"}})
	}
	for i := range benchCommits {
		out = append(out, record.Record{Commit: &record.Commit{RepositoryUUID: repoUUID(i % 100), Hash: hash(i), Date: t0,
			AuthorRaw: "Dana <dana@acme.example>", Message: "Fix flaky test in the ledger", Parents: []string{hash(i + 1)},
			HTMLURL: "https://bitbucket.org/acme/x/commits/abc"}})
	}
	for i := range 100 {
		out = append(out, record.Record{Cursor: &record.Cursor{RepositoryUUID: repoUUID(i), NewestCommitHash: hash(i), NewestPullRequestUpdatedOn: t0}})
	}
	return append(out, record.Record{ListingComplete: &record.ListingComplete{RepositoryCount: benchRepos}})
}

// BenchmarkIngestSync applies one whole sync (20,000 repositories, 5,000
// pull requests, 5,000 commits) through ApplyBatch, batch by batch, each
// batch one durable transaction, and reports records per second: with the
// delegate's progress on every batch, as delegates send it, and without.
func BenchmarkIngestSync(b *testing.B) {
	records := syncRecords()
	for _, d := range []struct {
		name string
		open func(testing.TB, ...store.Option) *store.DB
	}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}} {
		for _, withProgress := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/progress=%t", d.name, withProgress), func(b *testing.B) {
				benchIngestSync(b, d.open, records, withProgress)
			})
		}
	}
}

func benchIngestSync(b *testing.B, open func(testing.TB, ...store.Option) *store.DB, records []record.Record, withProgress bool) {
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := open(b)
		f := newFixture(b, db, "acme")
		task, ok, err := db.AcquireTask(f.ctx, store.AcquireRequest{AccountID: f.acct, DelegateID: "d", Now: t0, LeaseFor: time.Hour})
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		b.StartTimer()
		start := time.Now()
		seq := int64(0)
		for from := 0; from < len(records); from += benchBatchSize {
			seq++
			var p *tasks.Progress
			if withProgress {
				p = &tasks.Progress{Phase: "repositories", Requests: seq * 5, RateLimited: seq / 10, RepositoriesTotal: benchRepos}
			}
			if _, err := db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: f.acct, TaskID: task.ID, LeaseToken: task.LeaseToken,
				Sequence: seq, Records: records[from:min(from+benchBatchSize, len(records))], Progress: p, Now: t0}); err != nil {
				b.Fatal(err)
			}
		}
		elapsed += time.Since(start)
		b.StopTimer()
		run, _ := db.GetSyncRun(f.ctx, f.acct, task.RunID)
		if run.Progress.Repositories != benchRepos || run.Progress.PullRequests != benchPRs || run.Progress.Commits != benchCommits {
			b.Fatalf("counts %+v", run.Progress)
		}
		if withProgress && run.Progress.Requests != seq*5 {
			b.Fatalf("requests %d, want the last batch's %d", run.Progress.Requests, seq*5)
		}
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(records)*b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/sync")
}
