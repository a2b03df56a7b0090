package bitbucket

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/rs/zerolog"
)

// inProcess serves requests with a handler in the same process: no
// sockets, so a simulated clock covers the whole exchange.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// backfillRepos is the workspace of the backfill benchmark.
const backfillRepos = 20000

// BenchmarkFirstBackfillTokens reports how long the first full sync of a
// 20,000-repository workspace takes with 1, 2 and 4 access tokens of
// 1,000 requests an hour each, on a simulated clock, against the least
// time that budget allows.
//
// The requests are those of a first sync with the default 50-per-repository
// snapshot, made through the delegate's real client: the token pool picks a
// token per request, each token's rolling-hour budget (seeded at 1,000/h,
// learnt from X-RateLimit-Limit, paced on X-RateLimit-NearLimit) holds it
// back, the retry policy handles any 429. The server is the mock Bitbucket
// with a rolling hour of 1,000 requests per token, on the same clock. The
// requests go one after another: Bitbucket answers in well under a second,
// so with a budget of 1,000/h the sync's time is the budget's, not the
// network's or the workers'.
func BenchmarkFirstBackfillTokens(b *testing.B) {
	for _, tokens := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("tokens=%d", tokens), func(b *testing.B) {
			for b.Loop() {
				requests, took, rateLimited := simulateBackfill(b, tokens)
				minimum := time.Duration(float64(requests) / float64(1000*tokens) * float64(time.Hour))
				b.ReportMetric(float64(requests), "requests")
				b.ReportMetric(took.Hours(), "hours")
				b.ReportMetric(minimum.Hours(), "minimum-hours")
				b.ReportMetric(took.Hours()/minimum.Hours(), "ratio")
				b.ReportMetric(float64(rateLimited), "429s")
			}
		})
	}
}

// simulateBackfill runs the first sync's requests with n tokens and
// returns how many requests it made, the simulated time it took and the
// 429s it got.
func simulateBackfill(b *testing.B, n int) (int64, time.Duration, int) {
	b.Helper()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var mockTokens []bitbucketmock.Token
	var pool []PoolToken
	for i := range n {
		v := fmt.Sprintf("bench-token-%d", i+1)
		mockTokens = append(mockTokens, bitbucketmock.Token{Value: v})
		cr := NewCredential(v)
		cr.Ref = fmt.Sprintf("env:BITBUCKET_TOKEN_%d", i+1)
		pool = append(pool, PoolToken{Ref: cr.Ref, Credential: cr})
	}
	srv, err := bitbucketmock.New(bitbucketmock.Config{Seed: 51, Repos: backfillRepos, PRsPerRepo: 2, CommitsPerRepo: 2,
		Tokens: mockTokens, RateLimit: bitbucketmock.Rate{N: 1000, Per: time.Hour}, Clock: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	c := New(Options{Budgets: NewBudgets(clk, DefaultBudget, false), Retry: NewRetryPolicy(zerolog.Nop(), 1),
		Transport: inProcess{srv.Handler()}})
	base, _ := url.Parse("http://bitbucket.invalid/2.0")
	s := c.PoolSession(base, c.NewPool("backfill", pool))
	ctx := context.Background()
	start := clk.Now()
	ws := srv.Workspace()
	for u := s.RepositoriesURL(ws, "", time.Time{}); u != ""; {
		page, err := s.Repositories(ctx, u, ws)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range page.Repositories {
			if _, _, err := s.PullRequests(ctx, s.PullRequestsURL(PullRequestQuery{Workspace: ws, Slug: r.Slug, Want: 50}), r.UUID); err != nil {
				b.Fatal(err)
			}
			if r.MainBranch == "" {
				continue
			}
			if _, _, err := s.Commits(ctx, s.CommitsURL(ws, r.Slug, r.MainBranch, 50), r.UUID); err != nil {
				b.Fatal(err)
			}
		}
		u = page.Next
	}
	return s.Requests(), clk.Now().Sub(start), srv.Counters().RateLimited
}
