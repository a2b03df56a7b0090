package sweep

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func repos(n int, confirmed time.Time) []Repository {
	out := make([]Repository, n)
	for i := range out {
		out[i] = Repository{UUID: fmt.Sprintf("{r%02d}", i), ConfirmedAt: confirmed, UpdatedOn: t0.Add(-30 * 24 * time.Hour)}
	}
	return out
}

func TestDecide(t *testing.T) {
	t.Parallel()
	s := DefaultSettings // 24h with a webhook, 6h without, full daily, 15m overlap
	steady := Facts{Now: t0, Interval: 3 * time.Hour, PullRequests: true,
		LastFullListing: t0.Add(-12 * time.Hour), ListedAsOf: t0.Add(-3 * time.Hour)}
	with := func(f Facts, change func(*Facts)) Facts { change(&f); return f }
	hot := repos(4, t0.Add(-time.Hour))
	hot[2].OpenPullRequests = true
	hot[3].UpdatedOn = t0.Add(-2 * time.Hour)
	mixed := repos(8, t0.Add(-time.Hour))
	mixed[5].ConfirmedAt = t0.Add(-6 * time.Hour) // due without a webhook
	mixed[6].ConfirmedAt = t0.Add(-5 * time.Hour)
	mixed[7].ConfirmedAt = time.Time{} // never
	for _, tc := range []struct {
		name  string
		f     Facts
		mode  Mode
		since time.Time
		all   bool
		prs   []string
	}{
		{"first sync: full, everything", with(steady, func(f *Facts) {
			f.Everything, f.LastFullListing, f.ListedAsOf, f.Repositories = true, time.Time{}, time.Time{}, nil
		}), Full, time.Time{}, true, nil},
		{"manual sync: full, everything, whatever the schedule", with(steady, func(f *Facts) { f.Everything = true }), Full, time.Time{}, true, nil},
		{"never listed: full", with(steady, func(f *Facts) { f.ListedAsOf = time.Time{} }), Full, time.Time{}, false, nil},
		{"no full listing yet: full", with(steady, func(f *Facts) { f.LastFullListing = time.Time{} }), Full, time.Time{}, false, nil},
		{"full listing a day old: full", with(steady, func(f *Facts) { f.LastFullListing = t0.Add(-24 * time.Hour) }), Full, time.Time{}, false, nil},
		{"full listing just under a day old: watermark", with(steady, func(f *Facts) { f.LastFullListing = t0.Add(-24*time.Hour + time.Second) }),
			Watermark, t0.Add(-3*time.Hour - 15*time.Minute), false, nil},
		{"repositories only: no pull requests", with(steady, func(f *Facts) { f.PullRequests, f.Repositories = false, mixed }),
			Watermark, t0.Add(-3*time.Hour - 15*time.Minute), false, nil},
		{"nothing due: the fair share, oldest first", with(steady, func(f *Facts) { f.Repositories = repos(8, t0.Add(-time.Hour)) }),
			// 8 repositories, 3h of a 6h window each: 4 a run.
			Watermark, t0.Add(-3*time.Hour - 15*time.Minute), false, []string{"{r00}", "{r01}", "{r02}", "{r03}"}},
		{"with a webhook the window is a day: a share of 1", with(steady, func(f *Facts) {
			f.Webhook, f.Repositories = true, repos(8, t0.Add(-time.Hour))
		}), Watermark, t0.Add(-3*time.Hour - 15*time.Minute), false, []string{"{r00}"}},
		{"never confirmed, then due, then the most urgent fill the share", with(steady, func(f *Facts) { f.Repositories = mixed }),
			Watermark, t0.Add(-3*time.Hour - 15*time.Minute), false, []string{"{r07}", "{r05}", "{r06}", "{r00}"}},
		{"every due repository, beyond the share", with(steady, func(f *Facts) { f.Repositories = repos(8, t0.Add(-7*time.Hour)) }),
			Watermark, t0.Add(-3*time.Hour - 15*time.Minute), false, []string{"{r00}", "{r01}", "{r02}", "{r03}", "{r04}", "{r05}", "{r06}", "{r07}"}},
		{"open pull requests and recent pushes: half the window, so first", with(steady, func(f *Facts) { f.Repositories = hot }),
			// demand: 2 cold at 3h/6h, 2 hot at 3h/3h (capped at 1) = 3.
			Watermark, t0.Add(-3*time.Hour - 15*time.Minute), false, []string{"{r02}", "{r03}", "{r00}"}},
		{"interval longer than the window: everything each run", with(steady, func(f *Facts) {
			f.Interval, f.Repositories = 24*time.Hour, repos(3, t0.Add(-time.Hour))
		}), Watermark, t0.Add(-3*time.Hour - 15*time.Minute), false, []string{"{r00}", "{r01}", "{r02}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(s, tc.f)
			if p.Mode != tc.mode || !p.Since.Equal(tc.since) || p.AllPullRequests != tc.all || !slices.Equal(p.PullRequests, tc.prs) || !p.AsOf.Equal(t0) {
				t.Errorf("Decide = %+v\nwant mode %s since %v all %v pull requests %v as of %v", p, tc.mode, tc.since, tc.all, tc.prs, t0)
			}
		})
	}
}

// Over a window of runs the share rotates through every repository: none
// waits longer than its window, and each run does about the same work.
func TestShareSpreadsOverTheWindow(t *testing.T) {
	t.Parallel()
	s := DefaultSettings
	rs := repos(100, t0)
	for i := range 20 {
		rs[i].OpenPullRequests = true
	}
	now := t0
	var perRun []int
	for run := range 16 { // two days at 3h
		now = now.Add(3 * time.Hour)
		p := Decide(s, Facts{Now: now, Interval: 3 * time.Hour, Webhook: true, PullRequests: true,
			LastFullListing: now.Add(-time.Hour), ListedAsOf: now.Add(-3 * time.Hour), Repositories: rs})
		swept := map[string]bool{}
		for _, u := range p.PullRequests {
			swept[u] = true
		}
		for i := range rs {
			if swept[rs[i].UUID] {
				rs[i].ConfirmedAt = now
			}
			w := 24 * time.Hour
			if rs[i].OpenPullRequests {
				w = 12 * time.Hour
			}
			if now.Sub(rs[i].ConfirmedAt) > w {
				t.Fatalf("run %d: %s last confirmed %v ago, window %v", run, rs[i].UUID, now.Sub(rs[i].ConfirmedAt), w)
			}
		}
		perRun = append(perRun, len(p.PullRequests))
	}
	// Demand per run: 80 cold at 3/24 + 20 hot at 3/12 = 15.
	for i, n := range perRun[8:] {
		if n < 15 || n > 20 {
			t.Errorf("run %d of the second day swept %d repositories, want about 15 (all runs: %v)", i+8, n, perRun)
		}
	}
}

func TestSettingsCheck(t *testing.T) {
	t.Parallel()
	if v := DefaultSettings.Check(); len(v) != 0 {
		t.Fatalf("defaults: %v", v)
	}
	for _, tc := range []struct {
		change func(*Settings)
		field  string
		rule   string
	}{
		{func(s *Settings) { s.Window = 10 * time.Minute }, "pull_request_sweep_window", "out of range"},
		{func(s *Settings) { s.Window = 36 * time.Hour }, "", ""},
		{func(s *Settings) { s.WindowWithoutWebhook = 6*time.Hour + time.Second }, "pull_request_sweep_window_without_webhook", "whole minutes"},
		{func(s *Settings) { s.WindowWithoutWebhook = 48 * time.Hour }, "pull_request_sweep_window_without_webhook", "longer than pull_request_sweep_window"},
		{func(s *Settings) { s.FullListingInterval = 0 }, "full_listing_interval", "out of range"},
		{func(s *Settings) { s.Overlap = -time.Minute }, "watermark_overlap", "whole minutes from 0"},
		{func(s *Settings) { s.Overlap = 0 }, "", ""},
	} {
		s := DefaultSettings
		tc.change(&s)
		v := s.Check()
		switch {
		case tc.field == "" && len(v) != 0:
			t.Errorf("%+v: %v, want none", s, v)
		case tc.field != "" && (len(v) != 1 || v[0].Field != tc.field || !strings.Contains(v[0].Rule, tc.rule)):
			t.Errorf("%+v: %v, want one on %s saying %q", s, v, tc.field, tc.rule)
		}
	}
}
