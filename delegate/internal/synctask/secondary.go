package synctask

import (
	"context"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/bitbucket"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// A repository's secondary kinds are fetched in two passes sharing the
// per-sync caps: first what is new (or the first-sync snapshot) for every
// repository, then the backfill of older history. A large backfill thus
// never takes the cap that another repository's new work needs.

// Pull request cursors hold an updated_on up to which every pull request
// is stored (Newest from above, Oldest from below). Pull requests can share
// an updated_on, so a cursor only moves past a value once every pull
// request with it is taken: when a cap cuts a run of equal values, the
// cursor stays at the value before, and the next sync takes the run again
// (duplicates are upserts). Queries include the cursor's value, and pull
// requests exactly at it are known stored and skipped, so a repository
// with nothing new uploads nothing.

// newPullRequests fetches a repository's pull requests for the first pass
// and moves its cursor after every page:
//   - first sync: the newest FirstSyncPerRepository, newest first;
//   - later: what is new, oldest first, from the cursor's Newest on.
//
// complete means no per-sync cap cut the walk: every pull request updated
// since the walk began is stored (a first sync's snapshot holds the newest
// ones, and any change moves a pull request to the top).
func (r *Run) newPullRequests(ctx context.Context, ws string, repo record.Repository, had bool, cur *record.Cursor) (complete bool, _ error) {
	since := r.spec.StartDate
	if !had || cur.NewestPullRequestUpdatedOn.IsZero() {
		exhausted, capped, err := r.pagePullRequests(ctx, prWalk{
			query: bitbucket.PullRequestQuery{Workspace: ws, Slug: repo.Slug, Since: since},
			repo:  repo.UUID, want: r.limits.FirstSyncPerRepository,
			first: func(newest time.Time) { cur.NewestPullRequestUpdatedOn = newest },
			moved: func(oldest time.Time) { cur.OldestPullRequestUpdatedOn = oldest },
		})
		if err != nil {
			return false, err
		}
		if cur.OldestPullRequestUpdatedOn.IsZero() {
			// The run of equal values at the top was cut: the top is all
			// the cursor can claim.
			cur.OldestPullRequestUpdatedOn = cur.NewestPullRequestUpdatedOn
		}
		cur.PullRequestsBackfilled = exhausted
		return !capped, nil
	}
	_, capped, err := r.pagePullRequests(ctx, prWalk{
		query: bitbucket.PullRequestQuery{Workspace: ws, Slug: repo.Slug, From: cur.NewestPullRequestUpdatedOn, Since: since, Ascending: true},
		repo:  repo.UUID, want: -1, stored: cur.NewestPullRequestUpdatedOn,
		moved: func(newest time.Time) { cur.NewestPullRequestUpdatedOn = newest },
	})
	return err == nil && !capped, err
}

// backfillPullRequests fetches, newest first, the pull requests below the
// oldest fetched, until the start date or the end.
func (r *Run) backfillPullRequests(ctx context.Context, ws string, repo record.Repository, cur *record.Cursor) error {
	if !r.pullRequestsNeedBackfill(*cur) {
		return nil
	}
	exhausted, _, err := r.pagePullRequests(ctx, prWalk{
		query: bitbucket.PullRequestQuery{Workspace: ws, Slug: repo.Slug, Until: cur.OldestPullRequestUpdatedOn, Since: r.spec.StartDate},
		repo:  repo.UUID, want: -1, stored: cur.OldestPullRequestUpdatedOn,
		moved: func(oldest time.Time) { cur.OldestPullRequestUpdatedOn = oldest },
	})
	if err != nil {
		return err
	}
	cur.PullRequestsBackfilled = exhausted
	return nil
}

func (r *Run) pullRequestsNeedBackfill(cur record.Cursor) bool {
	return r.spec.PullRequests && !cur.PullRequestsBackfilled && !cur.OldestPullRequestUpdatedOn.IsZero()
}

// prWalk is one pass over a pull request query.
type prWalk struct {
	query bitbucket.PullRequestQuery
	repo  string
	// want caps the pull requests taken (-1: no cap beyond the per-sync one).
	want int
	// stored is the cursor value the query starts at: pull requests with
	// exactly that updated_on are stored already.
	stored time.Time
	// first, if set, is called with the first updated_on taken.
	first func(time.Time)
	// moved is called, once the records are queued, with each new value
	// up to which every pull request of the walk is taken.
	moved func(time.Time)
}

// pagePullRequests walks w within the per-sync cap. exhausted means the
// query has nothing more; capped that the per-sync cap (not the walk's
// want) ended it early.
func (r *Run) pagePullRequests(ctx context.Context, w prWalk) (exhausted, capped bool, err error) {
	taken := 0
	var last time.Time // updated_on of the last pull request taken
	w.query.Want = r.prs.remaining()
	if w.want >= 0 {
		w.query.Want = min(w.query.Want, w.want)
	}
	u := r.session.PullRequestsURL(w.query)
	wanted := func() bool { return w.want >= 0 && taken >= w.want }
	for u != "" {
		if wanted() {
			return false, false, nil
		}
		if r.prs.remaining() == 0 {
			return false, true, nil
		}
		prs, next, err := r.session.PullRequests(ctx, u, w.repo)
		if err != nil {
			return false, false, err
		}
		fresh := prs[:0]
		for _, pr := range prs {
			if !pr.UpdatedOn.Equal(w.stored) {
				fresh = append(fresh, pr)
			}
		}
		n := len(fresh)
		if w.want >= 0 {
			n = min(n, w.want-taken)
		}
		n = r.prs.take(n)
		complete := last // every pull request up to it is taken
		for i := range fresh[:n] {
			if err := r.emit(ctx, record.Record{PullRequest: &fresh[i]}); err != nil {
				return false, false, err
			}
			if taken == 0 && i == 0 && w.first != nil {
				w.first(fresh[i].UpdatedOn)
			}
			if !last.IsZero() && !fresh[i].UpdatedOn.Equal(last) {
				complete = last
			}
			last = fresh[i].UpdatedOn
		}
		taken += n
		if n < len(fresh) {
			if !fresh[n].UpdatedOn.Equal(last) {
				complete = last
			}
			r.movePR(w, complete)
			return false, !wanted(), nil
		}
		if next == "" {
			r.movePR(w, last)
			return true, false, nil
		}
		r.movePR(w, complete)
		u = next
	}
	return true, false, nil
}

func (r *Run) movePR(w prWalk, to time.Time) {
	if !to.IsZero() {
		w.moved(to)
	}
}

// maxNewCommitSearch bounds the first pass's walk down to the newest
// commit fetched before. A force-push can remove that commit from the
// branch, and a burst of pushes can bury it deep; either way the walk must
// end, and what it did not reach becomes backfill.
const maxNewCommitSearch = 10 * bitbucket.CommitPageLen

// newCommits fetches a repository's main-branch commits for the first
// pass. Commits can only be listed newest first, so:
//   - first sync: the newest FirstSyncPerRepository;
//   - later, unless updated_on has not moved since the last check: new
//     commits down to the newest fetched before (stopAt). Reaching it just
//     moves the cursor's top. Otherwise (a cap or maxNewCommitSearch cut
//     the walk, or a force-push removed stopAt) the commits just fetched
//     become the cursor's range and everything below them the backfill:
//     progress is kept, at the price of fetching again, once, what was
//     stored below the gap.
func (r *Run) newCommits(ctx context.Context, ws string, repo record.Repository, had bool, cur *record.Cursor) error {
	if repo.MainBranch == "" {
		return nil // an empty repository has no commits
	}
	if !had || cur.NewestCommitHash == "" {
		want := r.limits.FirstSyncPerRepository
		end, err := r.pageCommits(ctx, commitWalk{
			url:  r.session.CommitsURL(ws, repo.Slug, repo.MainBranch, min(want, r.commits.remaining())),
			repo: repo.UUID, want: want,
			moved: func(cs []record.Commit) {
				if cur.NewestCommitHash == "" {
					cur.NewestCommitHash = cs[0].Hash
				}
				cur.OldestCommitHash = cs[len(cs)-1].Hash
			},
		})
		if err != nil {
			return err
		}
		if cur.NewestCommitHash != "" || end == walkHistoryEnd {
			cur.CommitsBackfilled = end == walkHistoryEnd
			cur.CommitsCheckedAtUpdatedOn = repo.UpdatedOn
		}
		return nil
	}
	if cur.CommitsCheckedAtUpdatedOn.Equal(repo.UpdatedOn) {
		return nil
	}
	var top, last string
	end, err := r.pageCommits(ctx, commitWalk{
		url:  r.session.CommitsURL(ws, repo.Slug, repo.MainBranch, min(bitbucket.CommitPageLen, r.commits.remaining())),
		repo: repo.UUID, want: maxNewCommitSearch, stopAt: cur.NewestCommitHash,
		moved: func(cs []record.Commit) {
			if top == "" {
				top = cs[0].Hash
			}
			last = cs[len(cs)-1].Hash
		},
	})
	if err != nil {
		return err
	}
	switch {
	case end == walkStopped:
		if top != "" {
			cur.NewestCommitHash = top
		}
	case top == "":
		if end == walkCapped {
			return nil // nothing taken: the next sync tries again
		}
		// stopAt is gone and nothing above the start date is left.
		cur.NewestCommitHash, cur.OldestCommitHash, cur.CommitsBackfilled = "", "", true
	default:
		cur.NewestCommitHash, cur.OldestCommitHash = top, last
		cur.CommitsBackfilled = end == walkHistoryEnd
	}
	cur.CommitsCheckedAtUpdatedOn = repo.UpdatedOn
	return nil
}

// backfillCommits fetches the commits below the oldest fetched, until the
// start date or the first commit.
func (r *Run) backfillCommits(ctx context.Context, ws string, repo record.Repository, cur *record.Cursor) error {
	if !r.commitsNeedBackfill(repo, *cur) {
		return nil
	}
	end, err := r.pageCommits(ctx, commitWalk{
		url:  r.session.CommitsURL(ws, repo.Slug, cur.OldestCommitHash, min(bitbucket.CommitPageLen, r.commits.remaining()+1)),
		repo: repo.UUID, want: -1, skip: cur.OldestCommitHash,
		moved: func(cs []record.Commit) { cur.OldestCommitHash = cs[len(cs)-1].Hash },
	})
	if err != nil {
		return err
	}
	cur.CommitsBackfilled = end == walkHistoryEnd
	return nil
}

func (r *Run) commitsNeedBackfill(repo record.Repository, cur record.Cursor) bool {
	return r.spec.Commits && repo.MainBranch != "" && !cur.CommitsBackfilled && cur.OldestCommitHash != ""
}

// commitWalk is one newest-first pass over a commit listing.
type commitWalk struct {
	url  string
	repo string
	// want caps the commits taken (-1: no cap beyond the per-sync one).
	want int
	// stopAt is a hash fetched before: the walk ends above it.
	stopAt string
	// skip is a hash fetched before that the listing starts with.
	skip string
	// moved is called with each page's commits once they are queued.
	moved func([]record.Commit)
}

// walkEnd says why a commit walk ended.
type walkEnd int

const (
	// walkHistoryEnd: nothing more is to be had there (the first commit,
	// or a whole page older than the start date).
	walkHistoryEnd walkEnd = iota
	// walkStopped: stopAt was reached.
	walkStopped
	// walkCapped: the per-sync cap or the walk's want cut it.
	walkCapped
)

// pageCommits walks w. Commits dated before the start date are skipped,
// not taken as the end: after a merge or a rebase an older-dated commit
// can sit above newer ones. A whole page of them is taken as the end.
func (r *Run) pageCommits(ctx context.Context, w commitWalk) (walkEnd, error) {
	taken := 0
	since := r.spec.StartDate
	u := w.url
	for u != "" {
		if r.commits.remaining() == 0 || w.want >= 0 && taken >= w.want {
			return walkCapped, nil
		}
		commits, next, err := r.session.Commits(ctx, u, w.repo)
		if err != nil {
			return walkCapped, err
		}
		stopped := false
		keep := commits[:0]
		listed, old := 0, 0
		for _, c := range commits {
			if c.Hash == w.skip {
				continue
			}
			if c.Hash == w.stopAt {
				stopped = true
				break
			}
			listed++
			if !since.IsZero() && c.Date.Before(since) {
				old++
				continue
			}
			keep = append(keep, c)
		}
		n := len(keep)
		if w.want >= 0 {
			n = min(n, w.want-taken)
		}
		n = r.commits.take(n)
		for i := range keep[:n] {
			if err := r.emit(ctx, record.Record{Commit: &keep[i]}); err != nil {
				return walkCapped, err
			}
		}
		if n > 0 {
			w.moved(keep[:n])
		}
		taken += n
		switch {
		case n < len(keep):
			return walkCapped, nil // a limit cut this page
		case stopped:
			return walkStopped, nil
		case listed > 0 && old == listed:
			return walkHistoryEnd, nil // a whole page before the start date
		case w.want >= 0 && taken >= w.want && next != "":
			return walkCapped, nil
		}
		u = next
	}
	return walkHistoryEnd, nil
}
