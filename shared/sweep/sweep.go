// Package sweep decides the plan of a scheduled sync: how the workspace's
// repositories are listed (a full listing, or only those updated since a
// watermark) and which repositories have their pull requests confirmed.
//
// Bitbucket moves a repository's updated_on on commit activity only; pull
// request activity (comments, approvals, title edits, declines) leaves it
// alone, and there is no workspace-wide pull request query. So a cheap
// listing of what moved catches pushes and merges, and pull requests need a
// sweep of one request per repository. Instead of sweeping every repository
// at every sync, each run sweeps its share so that every repository is
// confirmed once per window, the longest-unconfirmed first and those with
// open pull requests or recent pushes twice as often. Without a working
// webhook the window is shorter.
//
// The control plane decides the plan with Decide when a sync task is
// leased; the delegate carries it out. Both sides share this package, so
// the plan's vocabulary is defined once.
package sweep

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Mode is how a run lists the workspace's repositories.
type Mode string

// Listing modes.
const (
	// Full lists every repository, oldest first by created_on: the only way
	// to learn that a repository was deleted or transferred away.
	Full Mode = "FULL"
	// Watermark lists the repositories whose updated_on is at or after
	// Plan.Since, ascending by updated_on.
	Watermark Mode = "WATERMARK"
)

// Settings are an integration's sweep windows.
type Settings struct {
	// Window is how long a repository's pull requests may go unconfirmed
	// while a webhook delivers changes.
	Window time.Duration
	// WindowWithoutWebhook is that window while no webhook works.
	WindowWithoutWebhook time.Duration
	// FullListingInterval is how often the whole workspace is listed.
	FullListingInterval time.Duration
	// Overlap is subtracted from the watermark of a listing, for clock
	// differences between Bitbucket and the control plane and for changes
	// Bitbucket records late.
	Overlap time.Duration
}

// DefaultSettings are what an integration gets unless told otherwise.
var DefaultSettings = Settings{
	Window:               24 * time.Hour,
	WindowWithoutWebhook: 6 * time.Hour,
	FullListingInterval:  24 * time.Hour,
	Overlap:              15 * time.Minute,
}

// Bounds of the settings.
const (
	MinWindow     = 30 * time.Minute
	MaxWindow     = 30 * 24 * time.Hour
	MinFullEvery  = time.Hour
	MaxFullEvery  = 30 * 24 * time.Hour
	MaxOverlap    = 24 * time.Hour
	minResolution = time.Minute
)

// Violation is one bad setting: the field named as the API names it.
type Violation struct {
	Field, Rule string
}

// Check lists the settings that break a rule.
func (s Settings) Check() []Violation {
	var out []Violation
	window := func(field string, d, lo, hi time.Duration) {
		switch {
		case d < lo || d > hi:
			out = append(out, Violation{field, fmt.Sprintf("%v is out of range: from %v to %v", d, lo, hi)})
		case d%minResolution != 0:
			out = append(out, Violation{field, fmt.Sprintf("%v: whole minutes only", d)})
		}
	}
	window("pull_request_sweep_window", s.Window, MinWindow, MaxWindow)
	window("pull_request_sweep_window_without_webhook", s.WindowWithoutWebhook, MinWindow, MaxWindow)
	window("full_listing_interval", s.FullListingInterval, MinFullEvery, MaxFullEvery)
	if s.Overlap < 0 || s.Overlap > MaxOverlap || s.Overlap%minResolution != 0 {
		out = append(out, Violation{"watermark_overlap", fmt.Sprintf("%v: whole minutes from 0 to %v", s.Overlap, MaxOverlap)})
	}
	if len(out) == 0 && s.WindowWithoutWebhook > s.Window {
		out = append(out, Violation{"pull_request_sweep_window_without_webhook",
			fmt.Sprintf("%v is longer than pull_request_sweep_window (%v): without a webhook, sweeps are the only source and must come at least as often", s.WindowWithoutWebhook, s.Window)})
	}
	return out
}

// WindowFor is the window that applies with or without a working webhook.
func (s Settings) WindowFor(webhook bool) time.Duration {
	if webhook {
		return s.Window
	}
	return s.WindowWithoutWebhook
}

// OverdueBefore is the confirmation time before which a repository's pull
// requests are overdue: older than the window plus one interval between
// scheduled runs (the run that will confirm them may be that far away).
func (s Settings) OverdueBefore(webhook bool, interval time.Duration, now time.Time) time.Time {
	return now.Add(-s.WindowFor(webhook) - interval)
}

// Repository is what the plan needs to know of one live repository.
type Repository struct {
	UUID string
	// ConfirmedAt is when its pull requests were last confirmed complete;
	// zero when never.
	ConfirmedAt time.Time
	// OpenPullRequests: at least one of its stored pull requests is open.
	OpenPullRequests bool
	// UpdatedOn is the repository's updated_on as last listed: it moves on
	// pushes.
	UpdatedOn time.Time
}

// Facts are what the plan is decided from.
type Facts struct {
	Now time.Time
	// Interval is the time between the integration's scheduled runs.
	Interval time.Duration
	// Webhook: a webhook delivers the workspace's changes.
	Webhook bool
	// Everything asks for a run that lists and confirms everything: the
	// first sync, a catch-up after a suspension, a user's sync now.
	Everything bool
	// PullRequests: the integration syncs pull requests.
	PullRequests bool
	// LastFullListing is the plan time of the last complete full listing,
	// zero when none.
	LastFullListing time.Time
	// ListedAsOf is the plan time of the last complete listing of either
	// mode, zero when none: every repository updated before it was listed.
	ListedAsOf time.Time
	// Repositories are the integration's live repositories.
	Repositories []Repository
}

// Plan is what one run does.
type Plan struct {
	// AsOf is when the plan was made: the confirmations this run records,
	// and the watermark its complete listing establishes.
	AsOf time.Time `json:"as_of"`
	Mode Mode      `json:"mode"`
	// Since bounds a watermark listing: updated_on at or after it.
	Since time.Time `json:"since,omitzero"`
	// AllPullRequests: every repository listed has its pull requests
	// fetched.
	AllPullRequests bool `json:"all_pull_requests,omitempty"`
	// PullRequests are the repositories (uuids) whose pull requests this
	// run confirms, most urgent first. Besides them, a repository whose
	// updated_on moved since its pull requests were last checked, and one
	// never synced, has them fetched when it is listed.
	PullRequests []string `json:"pull_requests,omitempty"`
}

// hotFactor is how much more often a repository with open pull requests
// or a push within the window is swept.
const hotFactor = 2

// Decide plans a run.
func Decide(s Settings, f Facts) Plan {
	p := Plan{AsOf: f.Now, Mode: Watermark}
	if f.Everything || f.ListedAsOf.IsZero() || f.LastFullListing.IsZero() ||
		f.Now.Sub(f.LastFullListing) >= s.FullListingInterval {
		p.Mode = Full
	} else {
		p.Since = f.ListedAsOf.Add(-s.Overlap)
	}
	if !f.PullRequests {
		return p
	}
	if f.Everything {
		p.AllPullRequests = true
		return p
	}
	p.PullRequests = share(s.WindowFor(f.Webhook), f)
	return p
}

// share picks the repositories whose pull requests a run confirms. Each
// has an urgency, the time since its confirmation over its own window (a
// hot repository's is shorter); one at 1 or more is due. A run takes every
// due repository, and fills up to its fair share (what keeps every
// repository within its window at one run per interval) with the most
// urgent of the others, so that the work spreads evenly over the window
// instead of coming due all at once.
func share(window time.Duration, f Facts) []string {
	type candidate struct {
		uuid    string
		urgency float64
	}
	cs := make([]candidate, 0, len(f.Repositories))
	demand := 0.0
	interval := max(f.Interval, time.Minute)
	for _, r := range f.Repositories {
		w := window
		if r.OpenPullRequests || (!r.UpdatedOn.IsZero() && f.Now.Sub(r.UpdatedOn) < window) {
			w /= hotFactor
		}
		demand += min(float64(interval)/float64(w), 1)
		u := math.Inf(1)
		if !r.ConfirmedAt.IsZero() {
			u = float64(f.Now.Sub(r.ConfirmedAt)) / float64(w)
		}
		cs = append(cs, candidate{r.UUID, u})
	}
	slices.SortFunc(cs, func(a, b candidate) int {
		if c := cmp.Compare(b.urgency, a.urgency); c != 0 {
			return c
		}
		return cmp.Compare(a.uuid, b.uuid)
	})
	quota := int(math.Ceil(demand - 1e-9))
	var out []string
	for _, c := range cs {
		if c.urgency < 1 && len(out) >= quota {
			break
		}
		out = append(out, c.uuid)
	}
	return out
}
