package synctask

import (
	"context"

	"github.com/catalog-discovery/bitbucket/delegate/internal/bitbucket"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// pullRequests fetches a repository's pull requests and moves its cursor
// after every page, so that the cursor always covers one contiguous range
// of updated_on, whatever cuts the fetch short:
//   - first sync: the newest FirstSyncPerRepository, newest first;
//   - later: what is new, oldest first (above the newest fetched), then the
//     backfill, newest first (below the oldest fetched), until the start
//     date or the end.
func (r *Run) pullRequests(ctx context.Context, ws string, repo record.Repository, had bool, cur *record.Cursor) error {
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
	if err != nil || cur.PullRequestsBackfilled {
		return err
	}
	exhausted, err := r.pagePullRequests(ctx, bitbucket.PullRequestQuery{Workspace: ws, Slug: repo.Slug, Before: cur.OldestPullRequestUpdatedOn, Since: since}, repo.UUID, -1,
		func(prs []record.PullRequest) { cur.OldestPullRequestUpdatedOn = prs[len(prs)-1].UpdatedOn })
	if err != nil {
		return err
	}
	cur.PullRequestsBackfilled = exhausted
	return nil
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

// commitsOf fetches a repository's main-branch commits. Commits can only
// be listed newest first, so:
//   - first sync: the newest FirstSyncPerRepository;
//   - later, unless updated_on has not moved since the last check: new
//     commits down to the newest fetched (the cursor's top moves only once
//     that is reached, so a cap never leaves a hole);
//   - then the backfill below the oldest fetched, until the start date or
//     the first commit.
func (r *Run) commitsOf(ctx context.Context, ws string, repo record.Repository, had bool, cur *record.Cursor) error {
	if repo.MainBranch == "" {
		return nil // an empty repository has no commits
	}
	if !had || cur.NewestCommitHash == "" {
		want := r.limits.FirstSyncPerRepository
		exhausted, err := r.pageCommits(ctx, commitWalk{
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
		if cur.NewestCommitHash != "" || exhausted {
			cur.CommitsBackfilled = exhausted
			cur.CommitsCheckedAtUpdatedOn = repo.UpdatedOn
		}
		return nil
	}
	if !cur.CommitsCheckedAtUpdatedOn.Equal(repo.UpdatedOn) {
		var top string
		exhausted, err := r.pageCommits(ctx, commitWalk{
			url:  r.session.CommitsURL(ws, repo.Slug, repo.MainBranch, min(bitbucket.CommitPageLen, r.commits.remaining())),
			repo: repo.UUID, want: -1, stopAt: cur.NewestCommitHash,
			moved: func(cs []record.Commit) {
				if top == "" {
					top = cs[0].Hash
				}
			},
		})
		if err != nil {
			return err
		}
		if exhausted {
			if top != "" {
				cur.NewestCommitHash = top
			}
			cur.CommitsCheckedAtUpdatedOn = repo.UpdatedOn
		}
	}
	if cur.CommitsBackfilled || cur.OldestCommitHash == "" {
		return nil
	}
	exhausted, err := r.pageCommits(ctx, commitWalk{
		url:  r.session.CommitsURL(ws, repo.Slug, cur.OldestCommitHash, min(bitbucket.CommitPageLen, r.commits.remaining()+1)),
		repo: repo.UUID, want: -1, skip: cur.OldestCommitHash,
		moved: func(cs []record.Commit) { cur.OldestCommitHash = cs[len(cs)-1].Hash },
	})
	if err != nil {
		return err
	}
	cur.CommitsBackfilled = exhausted
	return nil
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

// pageCommits walks w. exhausted means nothing more is to be had there:
// the end of history, the start date or stopAt was reached; it is false
// when a limit cut the walk.
func (r *Run) pageCommits(ctx context.Context, w commitWalk) (exhausted bool, err error) {
	taken := 0
	since := r.spec.StartDate
	u := w.url
	for u != "" {
		if r.commits.remaining() == 0 {
			return false, nil
		}
		commits, next, err := r.session.Commits(ctx, u, w.repo)
		if err != nil {
			return false, err
		}
		end := false
		keep := commits[:0]
		for _, c := range commits {
			if c.Hash == w.skip {
				continue
			}
			if c.Hash == w.stopAt || (!since.IsZero() && c.Date.Before(since)) {
				end = true
				break
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
				return false, err
			}
		}
		if n > 0 {
			w.moved(keep[:n])
		}
		taken += n
		switch {
		case n < len(keep):
			return false, nil // a limit cut this page
		case end:
			return true, nil
		case w.want >= 0 && taken >= w.want:
			return next == "", nil
		}
		u = next
	}
	return true, nil
}
