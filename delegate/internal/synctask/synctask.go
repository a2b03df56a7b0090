// Package synctask runs a SYNC task: it lists a workspace's repositories
// and streams them to the uploader page by page, and meanwhile fetches the
// enabled secondary kinds (pull requests, main-branch commits) of each
// repository with bounded concurrency, all under the credential's one
// request budget. Per-repository cursors from the task make later syncs
// fetch only what is new and backfill what a cap cut off: what is new for
// every repository first, the backfill in a second pass. A checkpoint
// lets another attempt resume where this one stopped.
//
// The task's sweep plan (shared/sweep) says how to list (every repository,
// or those updated since a watermark) and whose pull requests to confirm:
// those it names, listed or not, and any listed repository that moved
// since its pull requests were last checked or was never synced. Memory stays flat:
// nothing holds more than a few pages, and the second pass's backlog (a
// few identifiers per repository) no more entries than the caps left.
package synctask

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/catalog-discovery/bitbucket/delegate/internal/bitbucket"
	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/delegate/internal/upload"
	"github.com/catalog-discovery/bitbucket/shared/record"
	"github.com/catalog-discovery/bitbucket/shared/repofilter"
	"github.com/catalog-discovery/bitbucket/shared/sweep"
	"github.com/rs/zerolog"
)

var errUnknownVersion = errors.New("checkpoint of an unknown version")

// Sink receives the records; *upload.Batcher implements it.
type Sink interface {
	Add(ctx context.Context, r record.Record) error
	// Position is the batch holding the last record added.
	Position() int64
	// Acked is the last batch the control plane stored.
	Acked() int64
	Flush(ctx context.Context) error
}

// DefaultWorkers is how many repositories have their secondary kinds
// fetched at once. More would not go faster: the budget is per credential.
const DefaultWorkers = 4

// Run is one attempt of a sync task.
type Run struct {
	spec    *task.Sync
	limits  task.Limits
	session *bitbucket.Session
	sink    Sink
	workers int
	log     zerolog.Logger

	resume  checkpoint
	track   *tracker
	prs     quota
	commits quota
	// codeOwnersQuota caps the CODEOWNERS locations probed; codeOwnersRequests
	// counts the requests they cost, retries included.
	codeOwnersQuota    quota
	codeOwnersRequests atomic.Int64
	// sweep holds the repositories the plan names for a pull request
	// sweep; seen those listed in this attempt.
	sweep map[string]bool
	seen  map[string]bool

	listed, done, total atomic.Int64
	phase               atomic.Value

	hook atomic.Pointer[task.WebhookResult]

	mu       sync.Mutex
	failures []string
	failed   int
	// backlog holds the repositories whose backfill waits for the second
	// pass; it never grows beyond what the caps left could serve.
	backlog []job
}

// New prepares an attempt of t. An unreadable checkpoint is logged and
// ignored: starting over is always correct, only slower.
func New(t *task.Task, session *bitbucket.Session, sink Sink, workers int, log zerolog.Logger) *Run {
	if workers <= 0 {
		workers = DefaultWorkers
	}
	cp, err := decodeCheckpoint(t.Checkpoint)
	if err != nil {
		log.Warn().Err(err).Msg("ignoring the checkpoint of the previous attempt; starting over")
		cp = checkpoint{}
	}
	limits := t.Sync.Limits.WithDefaults()
	r := &Run{
		spec: t.Sync, limits: limits, session: session, sink: sink, workers: workers, log: log,
		resume: cp, track: newTracker(cp),
		prs:             quota{limit: int64(limits.MaxPullRequestsPerSync)},
		commits:         quota{limit: int64(limits.MaxCommitsPerSync)},
		codeOwnersQuota: quota{limit: int64(limits.MaxCodeOwnersRequestsPerSync)},
		sweep:           map[string]bool{},
		seen:            map[string]bool{},
	}
	if p := t.Sync.Plan; p != nil {
		for _, u := range p.PullRequests {
			r.sweep[u] = true
		}
	}
	r.prs.used.Store(cp.PullRequests)
	r.commits.used.Store(cp.Commits)
	// Repositories before the resume key are listed and done already, so
	// the counters of a resumed attempt go on from the earlier attempts'.
	r.listed.Store(cp.Listed)
	r.done.Store(cp.Listed)
	r.phase.Store("repositories")
	return r
}

// Progress reports counters for lease renewals and completion.
func (r *Run) Progress() task.Progress {
	phase := r.phase.Load().(string)
	if until := r.session.BudgetStalledUntil(); !until.IsZero() {
		// Short enough for the contract's 64 characters after any phase.
		phase += ", request budget waits until " + until.UTC().Format("15:04:05Z")
	}
	return task.Progress{
		Phase:              phase,
		Repositories:       r.listed.Load(),
		PullRequests:       r.prs.used.Load(),
		Commits:            r.commits.used.Load(),
		Requests:           r.session.Requests(),
		RateLimited:        r.session.RateLimited(),
		RepositoriesDone:   r.done.Load(),
		RepositoriesTotal:  r.total.Load(),
		Tokens:             tokenUsage(r.session.Tokens()),
		CodeOwnersRequests: r.codeOwnersRequests.Load(),
	}
}

func tokenUsage(us []bitbucket.TokenUsage) []task.TokenUsage {
	out := make([]task.TokenUsage, len(us))
	for i, u := range us {
		out[i] = task.TokenUsage{Ref: u.Ref, Rejected: u.Rejected, LimitPerHour: u.LimitPerHour, Requests: u.Requests, RateLimited: u.RateLimited}
	}
	return out
}

// Checkpoint returns the resume state covering acknowledged work only.
func (r *Run) Checkpoint() []byte {
	return r.track.snapshot(r.sink.Acked(), r.prs.used.Load(), r.commits.used.Load()).encode()
}

// Execute runs the sync and says how it ended. A context error means the
// caller stopped it (lease lost, cancellation, shutdown).
func (r *Run) Execute(ctx context.Context) (task.Outcome, error) {
	ws := r.spec.Target.Workspace
	if spec := r.spec.Webhook; spec != nil {
		r.phase.Store("webhook")
		res := r.session.EnsureHook(ctx, ws, *spec)
		r.hook.Store(&res)
		r.log.Info().Int("state", int(res.State)).Str("message", res.Message).Msg("workspace webhook checked")
	}
	if len(r.spec.Repositories) > 0 {
		return r.targeted(ctx, ws)
	}
	if r.resume.Complete {
		return r.finish(ctx, r.resume.Listed, !r.resume.Unverified, nil)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	secondaries := r.spec.PullRequests || r.spec.Commits || len(r.spec.CodeOwners) > 0
	jobs := make(chan job, r.workers)
	var wg sync.WaitGroup
	for range r.workers {
		wg.Go(func() {
			for j := range jobs {
				if err := r.repository(ctx, ws, j); err != nil {
					cancel(err)
				}
			}
		})
	}
	verified, listErr := r.list(ctx, ws, secondaries, jobs)
	if listErr == nil && r.spec.Plan != nil && r.spec.PullRequests && !(verified && !r.watermark()) {
		r.sweepUnlisted(ctx, ws, jobs)
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return task.OutcomeFailed, err
	}
	if err := r.backfill(ctx, ws); err != nil {
		return task.OutcomeFailed, err
	}
	if listErr != nil {
		return r.finish(ctx, 0, false, listErr)
	}
	return r.finish(ctx, r.listed.Load(), verified, nil)
}

// Webhook is the report on the workspace webhook, once checked; nil when
// the task carried none.
func (r *Run) Webhook() *task.WebhookResult { return r.hook.Load() }

// targeted refreshes the task's repositories only: each one's metadata,
// then its pull requests and commits above its cursor, as the first pass
// of a full sync does. Nothing is listed, so nothing is marked complete
// (or deleted); a repository that is gone (404) is skipped.
func (r *Run) targeted(ctx context.Context, ws string) (task.Outcome, error) {
	r.phase.Store("targeted")
	r.total.Store(int64(len(r.spec.Repositories)))
	for _, slug := range r.spec.Repositories {
		repo, err := r.session.Repository(ctx, ws, slug)
		var se *bitbucket.StatusError
		switch {
		case errors.As(err, &se) && se.Code == http.StatusNotFound:
			r.log.Info().Str("repository", slug).Msg("repository not found (deleted or moved); skipped")
			r.done.Add(1)
			continue
		case err != nil && fatal(err):
			return task.OutcomeFailed, err
		case err != nil:
			r.mu.Lock()
			r.failed++
			r.failures = append(r.failures, slug+": "+err.Error())
			r.mu.Unlock()
			r.done.Add(1)
			continue
		}
		if err := r.emit(ctx, record.Record{Repository: &repo}); err != nil {
			return task.OutcomeFailed, err
		}
		r.listed.Add(1)
		old, had := r.spec.Cursors[repo.UUID]
		old.RepositoryUUID = repo.UUID
		cur := old
		var errs []error
		if r.spec.PullRequests {
			if _, err := r.newPullRequests(ctx, ws, repo, had, &cur); err != nil {
				errs = append(errs, fmt.Errorf("pull requests: %w", err))
			}
		}
		if r.spec.Commits {
			if err := r.newCommits(ctx, ws, repo, had, &cur); err != nil {
				errs = append(errs, fmt.Errorf("commits: %w", err))
			}
		}
		if _, err := r.settle(ctx, repo, old, cur, errs); err != nil {
			return task.OutcomeFailed, err
		}
		r.done.Add(1)
	}
	return r.finish(ctx, 0, false, nil)
}

// backfill runs the second pass over the backlog, with the caps the first
// pass left.
func (r *Run) backfill(ctx context.Context, ws string) error {
	r.mu.Lock()
	backlog := r.backlog
	r.backlog = nil
	r.mu.Unlock()
	if len(backlog) == 0 {
		return nil
	}
	r.phase.Store("backfill")
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range r.workers {
		wg.Go(func() {
			for j := range jobs {
				if err := r.backfillRepository(ctx, ws, j); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for _, j := range backlog {
		if r.prs.remaining() == 0 && r.commits.remaining() == 0 {
			break
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	return context.Cause(ctx)
}

// finish sends the end marker after a complete and verified listing, waits
// for every acknowledgement and picks the outcome.
func (r *Run) finish(ctx context.Context, count int64, verified bool, listErr error) (task.Outcome, error) {
	r.phase.Store("finishing")
	if listErr == nil && verified {
		if err := r.sink.Add(ctx, record.Record{ListingComplete: &record.ListingComplete{RepositoryCount: count, ListedWith: r.listedWith()}}); err != nil {
			return task.OutcomeFailed, err
		}
	}
	if err := r.sink.Flush(ctx); err != nil {
		return task.OutcomeFailed, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case listErr != nil && r.listed.Load() == 0:
		return task.OutcomeFailed, fmt.Errorf("listing repositories: %w", listErr)
	case listErr != nil:
		return task.OutcomePartial, fmt.Errorf("listing repositories stopped after %d: %w", r.listed.Load(), listErr)
	case r.failed > 0:
		return task.OutcomePartial, fmt.Errorf("%d repositories incomplete: %s", r.failed, strings.Join(r.failures, "; "))
	}
	return task.OutcomeSucceeded, nil
}

// listedWith is the filter Bitbucket applied to the listing (every attempt
// lists with the same one), nil when none.
func (r *Run) listedWith() *repofilter.Filter {
	if r.spec.Filter.Query() == "" {
		return nil
	}
	server := r.spec.Filter.Server()
	return &server
}

type job struct {
	repo record.Repository
	page *trackedPage // nil for a repository the listing did not hold
	// unlisted: swept by the plan without being listed, so its
	// updated_on and main branch are unknown.
	unlisted bool
	// cur is the cursor after the first pass, and pullRequests whether
	// the first pass fetched them (backlog jobs only).
	cur          record.Cursor
	pullRequests bool
}

// list streams the repository pages and hands each repository to the
// workers; the bounded jobs channel keeps the listing from running ahead.
// verified says the listing can be trusted to hold every repository (see
// verify).
func (r *Run) list(ctx context.Context, ws string, secondaries bool, jobs chan<- job) (verified bool, _ error) {
	filter := r.spec.Filter
	query := filter.Query()
	u := r.session.RepositoriesURL(ws, query, r.resume.After)
	if r.watermark() {
		since := r.spec.Plan.Since
		if r.resume.After.After(since) {
			since = r.resume.After
		}
		u = r.session.UpdatedRepositoriesURL(ws, query, since)
	}
	first, last := int64(-1), int64(-1)
	for u != "" {
		page, err := r.session.Repositories(ctx, u, ws)
		if err != nil {
			return false, err
		}
		if first < 0 {
			first = page.Size
			if page.Size >= 0 {
				r.total.Store(r.resume.Listed + page.Size)
				r.track.expect(r.resume.Listed + page.Size)
			}
		}
		last = page.Size
		// A repository listed twice (its updated_on moved during the walk)
		// is handled once.
		fresh := page.Repositories[:0]
		for _, repo := range page.Repositories {
			if !r.seen[repo.UUID] {
				r.seen[repo.UUID] = true
				fresh = append(fresh, repo)
			}
		}
		page.Repositories = fresh
		keys := make([]repoKey, len(page.Repositories))
		for i := range page.Repositories {
			repo := &page.Repositories[i]
			keys[i] = repoKey{uuid: repo.UUID, created: repo.CreatedOn}
			if r.watermark() {
				keys[i].created = repo.UpdatedOn // the resume key is the sort key
			}
			if err := r.sink.Add(ctx, record.Record{Repository: repo}); err != nil {
				return false, err
			}
		}
		tp := r.track.addPage(keys, r.sink.Position())
		r.listed.Add(int64(len(keys)))
		for _, repo := range page.Repositories {
			// A repository the filter leaves out is not discovered: its
			// record goes up (so it is not taken as deleted, and an imported
			// one is flagged), its pull requests and commits are not fetched.
			if !secondaries || r.track.wasDone(repo.UUID) || !filter.Evaluate(repo.FilterFacts()).Included ||
				!r.spec.PullRequests && !r.spec.Commits && !r.wantsCodeOwners(repo) {
				r.track.repoDone(tp, repo.UUID, r.sink.Position())
				r.done.Add(1)
				continue
			}
			select {
			case jobs <- job{repo: repo, page: tp}:
			case <-ctx.Done():
				return false, context.Cause(ctx)
			}
		}
		u = page.Next
	}
	verified = r.verify(first, last)
	r.track.listingFinished(verified)

	r.phase.Store("secondary")
	return verified, nil
}

// watermark reports whether the plan lists only what was updated.
func (r *Run) watermark() bool { return r.spec.Plan != nil && r.spec.Plan.Mode == sweep.Watermark }

// sweepUnlisted hands the workers the repositories the plan sweeps that
// the listing did not hold (a watermark listing holds only what moved).
// After a verified full listing there are none alive.
func (r *Run) sweepUnlisted(ctx context.Context, ws string, jobs chan<- job) {
	var extra []string
	for _, u := range r.spec.Plan.PullRequests {
		if !r.seen[u] {
			extra = append(extra, u)
		}
	}
	if len(extra) == 0 {
		return
	}
	r.phase.Store("pull request sweep")
	r.total.Add(int64(len(extra)))
	for _, u := range extra {
		// Bitbucket accepts a repository's braced uuid in place of its slug.
		j := job{repo: record.Repository{UUID: u, Slug: u, FullName: ws + "/" + u}, unlisted: true}
		select {
		case jobs <- j:
		case <-ctx.Done():
			return
		}
	}
}

// wantPullRequests says whether a repository's pull requests are fetched
// this run: without a plan, always; else when the plan sweeps it, or
// sweeps everything, or when it is new or moved since they were checked.
func (r *Run) wantPullRequests(j job, had bool, cur record.Cursor) bool {
	p := r.spec.Plan
	if !r.spec.PullRequests {
		return false
	}
	if p == nil || p.AllPullRequests || r.sweep[j.repo.UUID] || !had {
		return true
	}
	return !j.unlisted && !j.repo.UpdatedOn.Equal(cur.PullRequestsCheckedAtUpdatedOn)
}

// verify reports whether the listing holds every repository. Its pages
// follow page-number links, so a repository deleted meanwhile on an
// earlier page shifts the rest and one is skipped; the listing-complete
// marker would then have the control plane delete a live repository. So
// the count Bitbucket reported when the listing began (in this attempt or
// the first one), the count on its last page and the count received must
// agree. A repository created meanwhile also makes them differ; that costs
// only the marker of one sync.
func (r *Run) verify(firstSize, lastSize int64) bool {
	if firstSize < 0 || lastSize < 0 {
		r.log.Info().Msg("Bitbucket did not report the repository count; not marking the listing complete, so no repository is taken as deleted this sync")
		return false
	}
	expected := r.track.expect(r.resume.Listed + firstSize)
	atEnd := r.resume.Listed + lastSize
	received := r.listed.Load()
	if expected != atEnd || received != atEnd {
		r.log.Info().Int64("count_at_start", expected).Int64("count_at_end", atEnd).Int64("received", received).
			Msg("the workspace's repositories changed during the listing; not marking it complete, so no repository is taken as deleted this sync")
		return false
	}
	return true
}

// repository runs the first pass of one repository's secondary kinds (what
// is new, or the first-sync snapshot), sends its new cursor after the
// records it covers and queues its backfill for the second pass. A failure
// of this repository is recorded and the sync goes on; the returned error
// is fatal to the sync.
func (r *Run) repository(ctx context.Context, ws string, j job) error {
	old, had := r.spec.Cursors[j.repo.UUID]
	old.RepositoryUUID = j.repo.UUID
	cur := old
	var errs []error
	if r.wantsCodeOwners(j.repo) {
		if err := r.codeOwners(ctx, ws, j.repo); err != nil {
			errs = append(errs, err)
		}
	}
	sweptPRs := r.wantPullRequests(j, had, old)
	if sweptPRs {
		complete, err := r.newPullRequests(ctx, ws, j.repo, had, &cur)
		if err != nil {
			errs = append(errs, fmt.Errorf("pull requests: %w", err))
		} else if complete && r.spec.Plan != nil {
			cur.PullRequestsConfirmedAt = r.spec.Plan.AsOf
			if !j.unlisted {
				cur.PullRequestsCheckedAtUpdatedOn = j.repo.UpdatedOn
			}
		}
	}
	if r.spec.Commits {
		if err := r.newCommits(ctx, ws, j.repo, had, &cur); err != nil {
			errs = append(errs, fmt.Errorf("commits: %w", err))
		}
	}
	ok, err := r.settle(ctx, j.repo, old, cur, errs)
	if err != nil {
		return err
	}
	if j.page != nil {
		r.track.repoDone(j.page, j.repo.UUID, r.sink.Position())
	}
	r.done.Add(1)
	// A first sync takes the snapshot only; the backfill starts with the
	// next one. Pull requests are backfilled only in a run that swept them.
	if ok && had && (sweptPRs && r.pullRequestsNeedBackfill(cur) || r.commitsNeedBackfill(j.repo, cur)) {
		r.queueBackfill(j.repo, cur, sweptPRs)
	}
	return nil
}

// queueBackfill keeps what the second pass needs of a repository, unless
// the caps left could not serve one more repository anyway.
func (r *Run) queueBackfill(repo record.Repository, cur record.Cursor, pullRequests bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.backlog) >= r.prs.remaining()+r.commits.remaining() {
		return
	}
	r.backlog = append(r.backlog, job{repo: record.Repository{
		UUID: repo.UUID, Slug: repo.Slug, FullName: repo.FullName, MainBranch: repo.MainBranch, UpdatedOn: repo.UpdatedOn,
	}, cur: cur, pullRequests: pullRequests})
}

// backfillRepository runs the second pass of one repository.
func (r *Run) backfillRepository(ctx context.Context, ws string, j job) error {
	cur := j.cur
	var errs []error
	if j.pullRequests {
		if err := r.backfillPullRequests(ctx, ws, j.repo, &cur); err != nil {
			errs = append(errs, fmt.Errorf("pull requests: %w", err))
		}
	}
	if err := r.backfillCommits(ctx, ws, j.repo, &cur); err != nil {
		errs = append(errs, fmt.Errorf("commits: %w", err))
	}
	_, err := r.settle(ctx, j.repo, j.cur, cur, errs)
	return err
}

// settle ends a pass over one repository: it sends the cursor if it moved
// and records a failure. ok is false when the repository failed or is gone.
func (r *Run) settle(ctx context.Context, repo record.Repository, old, cur record.Cursor, errs []error) (ok bool, _ error) {
	if ctx.Err() != nil {
		return false, context.Cause(ctx)
	}
	for _, err := range errs {
		if fatal(err) {
			return false, err
		}
	}
	gone := gone(errs)
	if gone {
		r.log.Info().Str("repository", repo.FullName).Msg("repository disappeared during the sync (404); skipped")
		errs = nil
	}
	if cur != old {
		if err := r.emit(ctx, record.Record{Cursor: &cur}); err != nil {
			return false, err
		}
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		r.log.Warn().Err(err).Str("repository", repo.FullName).Msg("repository incomplete")
		r.mu.Lock()
		r.failed++
		if len(r.failures) < 3 {
			r.failures = append(r.failures, repo.FullName+": "+err.Error())
		}
		r.mu.Unlock()
		return false, nil
	}
	return !gone, nil
}

// uploadError wraps a failure to hand a record to the uploader: the lease
// is lost or the control plane refused the data, so the sync must stop.
type uploadError struct{ err error }

func (e *uploadError) Error() string { return e.err.Error() }
func (e *uploadError) Unwrap() error { return e.err }

// emit hands a record to the uploader. A record too large to upload is
// its repository's failure (the sync ends partial, naming it), not the
// sync's.
func (r *Run) emit(ctx context.Context, rec record.Record) error {
	err := r.sink.Add(ctx, rec)
	var tooLarge *upload.RecordTooLargeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return err
	default:
		return &uploadError{err: err}
	}
}

// fatal errors end the whole sync: the upload failed, the token stopped
// working, or the proxy refused the delegate's credentials. Anything else (a 5xx or connection error after retries, a bad
// page) is this repository's problem only.
func fatal(err error) bool {
	var ue *uploadError
	var se *bitbucket.StatusError
	var refused *proxy.AuthError
	return errors.As(err, &ue) || errors.As(err, &se) && se.Code == http.StatusUnauthorized || errors.As(err, &refused)
}

func gone(errs []error) bool {
	if len(errs) == 0 {
		return false
	}
	for _, err := range errs {
		var se *bitbucket.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusNotFound {
			return false
		}
	}
	return true
}

// quota is a per-sync cap shared by every worker.
type quota struct {
	limit int64
	used  atomic.Int64
}

// take grants up to n items and returns how many.
func (q *quota) take(n int) int {
	for {
		used := q.used.Load()
		grant := min(int64(n), q.limit-used)
		if grant <= 0 {
			return 0
		}
		if q.used.CompareAndSwap(used, used+grant) {
			return int(grant)
		}
	}
}

func (q *quota) remaining() int { return int(max(q.limit-q.used.Load(), 0)) }
