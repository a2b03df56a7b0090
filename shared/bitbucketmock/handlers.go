package bitbucketmock

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// API endpoint handlers. They run under s.mu.RLock (see serveAPI).

// listCache keeps the filtered and sorted repository order per (q, sort,
// caller kind), so paging through 20,000 repositories with a filter costs one
// pass, not one per page. Any mutation clears it.
type listCache struct {
	mu      sync.Mutex
	version uint64
	entries map[listKey][]int
	builds  int // passes over the repositories, so tests can count them
}

type listKey struct {
	q, sort   string
	anonymous bool
}

// maxCachedLists bounds the cache; when full it starts over.
const maxCachedLists = 64

func (lc *listCache) get(version uint64, k listKey, build func() []int) []int {
	lc.mu.Lock()
	if lc.version != version {
		lc.version, lc.entries = version, map[listKey][]int{}
	}
	idx, ok := lc.entries[k]
	lc.mu.Unlock()
	if ok {
		return idx
	}
	idx = build() // outside the lock: concurrent first requests may both build
	lc.mu.Lock()
	lc.builds++
	if lc.version == version {
		if len(lc.entries) >= maxCachedLists {
			lc.entries = map[listKey][]int{}
		}
		lc.entries[k] = idx
	}
	lc.mu.Unlock()
	return idx
}

// queryParams parses q and sort, checking their fields against sample (any
// item of the collection; nil when it is empty).
func (c *call) queryParams(sample obj) (query, *sortSpec, *reply) {
	params := c.r.URL.Query()
	var q query
	var sort *sortSpec
	bad := func(msg string) (query, *sortSpec, *reply) {
		rep := errorReply(http.StatusBadRequest, msg)
		return nil, nil, &rep
	}
	if s := params.Get("q"); s != "" {
		parsed, err := parseQuery(s)
		if err != nil {
			return bad("Invalid query: " + err.Error())
		}
		for _, p := range queryPaths(parsed) {
			if !knownField(sample, p) {
				return bad(fmt.Sprintf("Invalid query: unknown field '%s'", strings.Join(p, ".")))
			}
		}
		q = parsed
	}
	if s := params.Get("sort"); s != "" {
		parsed, err := parseSort(s)
		if err != nil {
			return bad(err.Error())
		}
		if !knownField(sample, parsed.path) {
			return bad(fmt.Sprintf("Invalid sort field '%s'", strings.Join(parsed.path, ".")))
		}
		sort = &parsed
	}
	return q, sort, nil
}

func queryPaths(q query) [][]string {
	switch q := q.(type) {
	case andQuery:
		return append(queryPaths(q.l), queryPaths(q.r)...)
	case orQuery:
		return append(queryPaths(q.l), queryPaths(q.r)...)
	case cmpQuery:
		return [][]string{q.path}
	}
	return nil
}

// knownField checks the first segment of a field path; deeper segments may
// traverse objects that are null in the sample.
func knownField(sample obj, path []string) bool {
	if sample == nil {
		return true
	}
	_, ok := sample.get(path[0])
	return ok
}

func (c *call) denyAnonymous() reply { return errorReply(c.ep.anonStatus, msgAccessDenied) }

// workspaceOK checks the {workspace} path segment: the slug or the braced
// UUID, and for repository URLs also "{}".
func (c *call) workspaceOK(allowEmpty bool) *reply {
	w := c.r.PathValue("workspace")
	if strings.EqualFold(w, c.s.ws.slug) || strings.EqualFold(w, c.s.ws.uuid) || (allowEmpty && w == "{}") {
		return nil
	}
	rep := errorReply(http.StatusNotFound, fmt.Sprintf("No workspace with identifier '%s'.", w))
	return &rep
}

// repo resolves {workspace}/{repo}: a slug or a braced UUID.
func (c *call) repo() (*repo, *reply) {
	ref := c.r.PathValue("repo")
	isUUID := strings.HasPrefix(ref, "{")
	if bad := c.workspaceOK(isUUID); bad != nil {
		return nil, bad
	}
	r := c.s.lookupRepo(ref)
	if r == nil {
		rep := errorReply(http.StatusNotFound, fmt.Sprintf("Repository %s/%s not found", c.r.PathValue("workspace"), ref))
		return nil, &rep
	}
	if c.cred == nil && r.private {
		rep := c.denyAnonymous()
		return nil, &rep
	}
	return r, nil
}

// lookupRepo finds a live repository by slug or braced UUID.
func (s *Server) lookupRepo(ref string) *repo {
	ref = strings.ToLower(ref)
	r := s.bySlug[ref]
	if r == nil {
		r = s.byUUID[ref]
	}
	if r == nil || r.deleted {
		return nil
	}
	return r
}

// filterView renders trees for q and sort, which need no caller details.
var filterView = view{web: webBase}

var repoRoles = []string{"admin", "contributor", "member", "owner"}

func (s *Server) listRepositories(c *call) reply {
	if bad := c.workspaceOK(false); bad != nil {
		return *bad
	}
	if role := c.r.URL.Query().Get("role"); role != "" && !slices.Contains(repoRoles, role) {
		return errorReply(http.StatusBadRequest, fmt.Sprintf("Invalid role '%s'; use one of %s", role, strings.Join(repoRoles, ", ")))
	}
	pg, bad := c.pageParams(defaultPagelen, maxPagelen, true)
	if bad != nil {
		return *bad
	}
	var sample obj
	if len(s.repos) > 0 {
		sample = s.renderRepo(filterView, s.repos[0])
	}
	q, sort, bad := c.queryParams(sample)
	if bad != nil {
		return *bad
	}
	params := c.r.URL.Query()
	key := listKey{q: params.Get("q"), sort: params.Get("sort"), anonymous: c.cred == nil}
	// A token sees every repository of the workspace, so role narrows
	// nothing; anonymous callers see public repositories only.
	idx := s.cache.get(s.version, key, func() []int {
		live := make([]int, 0, len(s.repos))
		for i, r := range s.repos {
			if !r.deleted && (c.cred != nil || !r.private) {
				live = append(live, i)
			}
		}
		return filterSort(live, func(i int) obj { return s.renderRepo(filterView, s.repos[i]) }, q, sort, false)
	})
	return c.listReply(len(idx), func(i int) obj { return s.renderRepo(c.view, s.repos[idx[i]]) }, pg, nil)
}

func (s *Server) getRepository(c *call) reply {
	r, bad := c.repo()
	if bad != nil {
		return *bad
	}
	t := s.renderRepo(c.view, r)
	return c.respond(t, t)
}

var prStates = []string{"OPEN", "MERGED", "DECLINED", "SUPERSEDED"}

func (s *Server) listPullRequests(c *call) reply {
	r, bad := c.repo()
	if bad != nil {
		return *bad
	}
	pg, bad := c.pageParams(defaultPagelen, maxPullRequestPagelen, true)
	if bad != nil {
		return *bad
	}
	// Only open pull requests unless state says otherwise; state repeats.
	states := []string{"OPEN"}
	if given := c.r.URL.Query()["state"]; len(given) > 0 {
		states = states[:0]
		for _, st := range given {
			st = strings.ToUpper(st)
			if !slices.Contains(prStates, st) {
				return errorReply(http.StatusBadRequest, fmt.Sprintf("Invalid state '%s'; use one of %s", st, strings.Join(prStates, ", ")))
			}
			states = append(states, st)
		}
	}
	// Newest first by default.
	var prs []*pullRequest
	for id := r.pullRequestCount(); id >= 1; id-- {
		if pr, _ := s.pullRequest(r, id); slices.Contains(states, pr.state) {
			prs = append(prs, pr)
		}
	}
	tree := func(i int) obj { return s.renderPR(c.view, r, prs[i]) }
	var sample obj
	if len(prs) > 0 && (c.r.URL.Query().Has("q") || c.r.URL.Query().Has("sort")) {
		sample = tree(0)
	}
	q, sort, bad := c.queryParams(sample)
	if bad != nil {
		return *bad
	}
	idx := filterSort(seq(len(prs)), tree, q, sort, false)
	return c.listReply(len(idx), func(i int) obj { return tree(idx[i]) }, pg, prListHidden)
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func (c *call) pullRequest(r *repo) (*pullRequest, *reply) {
	id, err := strconv.Atoi(c.r.PathValue("id"))
	pr, ok := c.s.pullRequest(r, id)
	if err != nil || !ok {
		rep := errorReply(http.StatusNotFound, fmt.Sprintf("Pull request %s not found", c.r.PathValue("id")))
		return nil, &rep
	}
	return pr, nil
}

func (s *Server) getPullRequest(c *call) reply {
	r, bad := c.repo()
	if bad != nil {
		return *bad
	}
	pr, bad := c.pullRequest(r)
	if bad != nil {
		return *bad
	}
	t := s.renderPR(c.view, r, pr)
	return c.respond(t, t)
}

// listPullRequestCommits lists what the source branch adds: its head.
func (s *Server) listPullRequestCommits(c *call) reply {
	r, bad := c.repo()
	if bad != nil {
		return *bad
	}
	pr, bad := c.pullRequest(r)
	if bad != nil {
		return *bad
	}
	head := s.branchHead(r, pr)
	return c.iterReply(1, func(int) obj { return s.renderCommit(c.view, r, head, false) }, defaultPagelen)
}

func (s *Server) listCommits(c *call) reply {
	r, bad := c.repo()
	if bad != nil {
		return *bad
	}
	var history []commitRef
	if rev := c.r.PathValue("revision"); rev != "" {
		var ok bool
		if history, ok = s.revisionHistory(r, rev); !ok {
			return errorReply(http.StatusNotFound, fmt.Sprintf("Commit not found: %s", rev))
		}
	} else {
		history = s.allRefsHistory(r)
	}
	return c.iterReply(len(history), func(pos int) obj {
		return s.renderCommit(c.view, r, s.resolveRef(r, history[pos]), false)
	}, defaultCommitPagelen)
}

func (s *Server) getCommit(c *call) reply {
	r, bad := c.repo()
	if bad != nil {
		return *bad
	}
	ref, ok := s.findCommit(r, c.r.PathValue("commit"))
	if !ok {
		return errorReply(http.StatusNotFound, fmt.Sprintf("Commit not found: %s", c.r.PathValue("commit")))
	}
	t := s.renderCommit(c.view, r, s.resolveRef(r, ref), true)
	return c.respond(t, t)
}

func (s *Server) listBranches(c *call) reply {
	r, bad := c.repo()
	if bad != nil {
		return *bad
	}
	var trees []obj
	if r.mainbranch != "" {
		trees = append(trees, s.renderBranch(c.view, r, r.mainbranch, s.mainCommit(r, r.commitCount()-1)))
	}
	for _, pr := range s.openPullRequests(r) {
		trees = append(trees, s.renderBranch(c.view, r, pr.sourceBranch, s.branchHead(r, pr)))
	}
	slices.SortStableFunc(trees, func(a, b obj) int { return compareValues(a[0].val, b[0].val) })
	return c.treeList(trees, true)
}

func (s *Server) listTags(c *call) reply {
	r, bad := c.repo()
	if bad != nil {
		return *bad
	}
	var trees []obj
	for k := tagEvery - 1; k < r.baseCommits; k += tagEvery {
		trees = append(trees, s.renderTag(c.view, r, tagName(k), s.mainCommit(r, k)))
	}
	// "git tag --list" order: lexical, so v1.10.0 sorts before v1.2.0.
	slices.SortStableFunc(trees, func(a, b obj) int { return compareValues(a[0].val, b[0].val) })
	return c.treeList(trees, true)
}

// treeList answers a list of rendered objects, paged, filtered by q= and
// sorted by sort=. With nameNatural (branches and tags), sort=name is
// natural: v9 before v10.
func (c *call) treeList(trees []obj, nameNatural bool) reply {
	pg, bad := c.pageParams(defaultPagelen, maxPagelen, true)
	if bad != nil {
		return *bad
	}
	var sample obj
	if len(trees) > 0 {
		sample = trees[0]
	}
	q, sort, bad := c.queryParams(sample)
	if bad != nil {
		return *bad
	}
	natural := nameNatural && sort != nil && len(sort.path) == 1 && sort.path[0] == "name"
	idx := filterSort(seq(len(trees)), func(i int) obj { return trees[i] }, q, sort, natural)
	return c.listReply(len(idx), func(i int) obj { return trees[idx[i]] }, pg, nil)
}

func (s *Server) getWorkspace(c *call) reply {
	if bad := c.workspaceOK(false); bad != nil {
		return *bad
	}
	if c.cred == nil {
		return c.denyAnonymous()
	}
	t := s.renderWorkspace(c.view, true)
	return c.respond(t, t)
}

func (s *Server) listProjects(c *call) reply {
	if bad := c.workspaceOK(false); bad != nil {
		return *bad
	}
	if c.cred == nil {
		return c.denyAnonymous()
	}
	trees := make([]obj, len(s.projects))
	for i, p := range s.projects {
		trees[i] = s.renderProject(c.view, p, true)
	}
	return c.treeList(trees, false)
}

func (s *Server) getProject(c *call) reply {
	if bad := c.workspaceOK(false); bad != nil {
		return *bad
	}
	if c.cred == nil {
		return c.denyAnonymous()
	}
	p := s.projectByKey[strings.ToUpper(c.r.PathValue("key"))]
	if p == nil {
		return errorReply(http.StatusNotFound, fmt.Sprintf("Project %s not found", c.r.PathValue("key")))
	}
	t := s.renderProject(c.view, p, true)
	return c.respond(t, t)
}

func (s *Server) getUser(c *call) reply {
	if c.cred == nil {
		return c.denyAnonymous()
	}
	t := s.renderTokenUser(c.view, c.cred.token)
	return c.respond(t, t)
}
