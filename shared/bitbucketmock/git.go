package bitbucketmock

import (
	"slices"
	"strings"
	"time"
)

// The git model: a linear main branch (generated commits, then pushed ones)
// and, for each open pull request, a source branch holding one commit on top
// of the main commit the pull request targets. Histories are lists of
// commitRef, oldest first.

type commitRef struct {
	k  int          // main-branch commit index, when pr is nil
	pr *pullRequest // the source-branch head of this pull request
}

func (s *Server) resolveRef(r *repo, ref commitRef) commit {
	if ref.pr != nil {
		return s.branchHead(r, ref.pr)
	}
	return s.mainCommit(r, ref.k)
}

func (s *Server) refDate(r *repo, ref commitRef) time.Time {
	if ref.pr != nil {
		return s.branchHead(r, ref.pr).date
	}
	return s.mainCommitDate(r, ref.k)
}

func mainHistory(upTo int) []commitRef {
	h := make([]commitRef, upTo)
	for k := range h {
		h[k].k = k
	}
	return h
}

// openPullRequests lists r's open pull requests by id.
func (s *Server) openPullRequests(r *repo) []*pullRequest {
	var open []*pullRequest
	for id := 1; id <= r.pullRequestCount(); id++ {
		if pr, _ := s.pullRequest(r, id); pr.state == "OPEN" {
			open = append(open, pr)
		}
	}
	return open
}

// allRefsHistory is what /commits without a revision lists: every commit
// reachable from any branch, by date, like "git log --all".
func (s *Server) allRefsHistory(r *repo) []commitRef {
	h := mainHistory(r.commitCount())
	for _, pr := range s.openPullRequests(r) {
		h = append(h, commitRef{pr: pr})
	}
	slices.SortStableFunc(h, func(a, b commitRef) int { return s.refDate(r, a).Compare(s.refDate(r, b)) })
	return h
}

// revisionHistory is the history of a branch name or a commit hash (at
// least 7 hex digits, as Bitbucket accepts abbreviated hashes).
func (s *Server) revisionHistory(r *repo, rev string) ([]commitRef, bool) {
	if r.mainbranch != "" && rev == r.mainbranch {
		return mainHistory(r.commitCount()), true
	}
	for _, pr := range s.openPullRequests(r) {
		if pr.sourceBranch == rev {
			return append(mainHistory(pr.destIndex+1), commitRef{pr: pr}), true
		}
	}
	ref, ok := s.findCommit(r, rev)
	if !ok {
		return nil, false
	}
	if ref.pr != nil {
		return append(mainHistory(ref.pr.destIndex+1), ref), true
	}
	return mainHistory(ref.k + 1), true
}

// findCommit resolves a full or abbreviated hash among r's commits.
func (s *Server) findCommit(r *repo, hash string) (commitRef, bool) {
	if len(hash) < 7 || len(hash) > 40 || strings.Trim(hash, "0123456789abcdef") != "" {
		return commitRef{}, false
	}
	for k := r.commitCount() - 1; k >= 0; k-- {
		if strings.HasPrefix(s.commitHash(r, k), hash) {
			return commitRef{k: k}, true
		}
	}
	for id := 1; id <= r.pullRequestCount(); id++ {
		pr, _ := s.pullRequest(r, id)
		if strings.HasPrefix(s.branchHead(r, pr).hash, hash) {
			return commitRef{pr: pr}, true
		}
	}
	return commitRef{}, false
}
