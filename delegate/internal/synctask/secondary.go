package synctask

import (
	"context"

	"github.com/catalog-discovery/bitbucket/delegate/internal/bitbucket"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// A repository's secondary kinds are fetched in two passes sharing the
// per-sync caps: first what is new (or the first-sync snapshot) for every
// repository, then the backfill of older history. A large backfill thus
// never takes the cap that another repository's new work needs.

// newPullRequests fetches a repository's pull requests for the first pass
// and moves its cursor after every page, so that the cursor always covers
// one contiguous range of updated_on, whatever cuts the fetch short:
//   - first sync: the newest FirstSyncPerRepository, newest first;
//   - later: what is new, oldest first (above the newest fetched).
func (r *Run) newPullRequests(ctx context.Context, ws string, repo record.Repository, had bool, cur *record.Cursor) error {
	since := r.spec.StartDate
	if !had || cur.NewestPullRequestUpdatedOn.IsZero() {
		want := r.limits.FirstSyncPerRepository
		first := true
		exhausted, err := r.pagePullRequests(ctx, bitbucket.PullRequestQuery{Workspace: ws, Slug: repo.Slug, Since: since}, repo.UUID, want,
			func(prs []record.PullRequest) {
				if first {
					cur.NewestPullRequestUpdatedOn = prs[0].UpdatedOn
					first = false
				}
				cur.OldestPullRequestUpdatedOn = prs[len(prs)-1].UpdatedOn
			})
		if err != nil {
			return err
		}
		cur.PullRequestsBackfilled = exhausted
		return nil
	}
	_, err := r.pagePullRequests(ctx, bitbucket.PullRequestQuery{Workspace: ws, Slug: repo.Slug, After: cur.NewestPullRequestUpdatedOn, Since: since, Ascending: true}, repo.UUID, -1,
		func(prs []record.PullRequest) { cur.NewestPullRequestUpdatedOn = prs[len(prs)-1].UpdatedOn })
	return err
}

// backfillPullRequests fetches, newest first, the pull requests below the
// oldest fetched, until the start date or the end.
func (r *Run) backfillPullRequests(ctx context.Context, ws string, repo record.Repository, cur *record.Cursor) error {
	if cur.PullRequestsBackfilled || cur.OldestPullRequestUpdatedOn.IsZero() {
		return nil
	}
	exhausted, err := r.pagePullRequests(ctx, bitbucket.PullRequestQuery{Workspace: ws, Slug: repo.Slug, Before: cur.OldestPullRequestUpdatedOn, Since: r.spec.StartDate}, repo.UUID, -1,
		func(prs []record.PullRequest) { cur.OldestPullRequestUpdatedOn = prs[len(prs)-1].UpdatedOn })
	if err != nil {
		return err
	}
	cur.PullRequestsBackfilled = exhausted
	return nil
}

func (r *Run) pullRequestsNeedBackfill(cur record.Cursor) bool {
	return r.spec.PullRequests && !cur.PullRequestsBackfilled && !cur.OldestPullRequestUpdatedOn.IsZero()
}

// pagePullRequests pages through a query, taking at most want items (-1:
// no limit) within the per-sync cap, and calls moved after each page's
// records are queued. exhausted means the query has nothing more.
func (r *Run) pagePullRequests(ctx context.Context, q bitbucket.PullRequestQuery, repoUUID string, want int, moved func([]record.PullRequest)) (exhausted bool, err error) {
	taken := 0
	q.Want = r.prs.remaining()
	if want >= 0 {
		q.Want = min(q.Want, want)
	}
	u := r.session.PullRequestsURL(q)
	for u != "" {
		if r.prs.remaining() == 0 || (want >= 0 && taken >= want) {
			return false, nil
		}
		prs, next, err := r.session.PullRequests(ctx, u, repoUUID)
		if err != nil {
			return false, err
		}
		n := len(prs)
		if want >= 0 {
			n = min(n, want-taken)
		}
		n = r.prs.take(n)
		for i := range prs[:n] {
			if err := r.emit(ctx, record.Record{PullRequest: &prs[i]}); err != nil {
				return false, err
			}
		}
		if n > 0 {
			moved(prs[:n])
		}
		taken += n
		if n < len(prs) {
			return false, nil
		}
		u = next
	}
	return true, nil
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
