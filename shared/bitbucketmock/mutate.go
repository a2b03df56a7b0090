package bitbucketmock

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Errors of the control operations, mapped to HTTP statuses by the control
// API (404, 400, 409 and, for a flush that times out, 504).
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid")
	ErrConflict = errors.New("conflict")
	ErrTimeout  = errors.New("timed out")
)

// RepoSpec describes a repository to add.
type RepoSpec struct {
	// Name is the display name; Slug defaults to the name slugified.
	Name string `json:"name"`
	Slug string `json:"slug,omitempty"`
	// ProjectKey defaults to the first project.
	ProjectKey  string `json:"project_key,omitempty"`
	Description string `json:"description,omitempty"`
	// Public repositories are visible to anonymous callers.
	Public bool `json:"public,omitempty"`
	// Commits pushed at creation; 0 leaves the repository empty.
	Commits int `json:"commits,omitempty"`
}

// RepoInfo summarises a repository for test assertions.
type RepoInfo struct {
	UUID         string    `json:"uuid"`
	Slug         string    `json:"slug"`
	Name         string    `json:"name"`
	FullName     string    `json:"full_name"`
	ProjectKey   string    `json:"project_key"`
	Private      bool      `json:"private"`
	MainBranch   string    `json:"mainbranch"` // "" while empty
	Commits      int       `json:"commits"`
	PullRequests int       `json:"pull_requests"` // all states
	CreatedOn    time.Time `json:"created_on"`
	UpdatedOn    time.Time `json:"updated_on"`
}

// PRSpec describes a pull request to open.
type PRSpec struct {
	Title        string `json:"title"`
	Description  string `json:"description,omitempty"`
	SourceBranch string `json:"source_branch,omitempty"` // default feature/pr-<id>
	Draft        bool   `json:"draft,omitempty"`
}

// PRInfo summarises a pull request for test assertions.
type PRInfo struct {
	ID           int       `json:"id"`
	Title        string    `json:"title"`
	State        string    `json:"state"`
	SourceBranch string    `json:"source_branch"`
	Draft        bool      `json:"draft"`
	CreatedOn    time.Time `json:"created_on"`
	UpdatedOn    time.Time `json:"updated_on"`
}

func (s *Server) repoInfo(r *repo) RepoInfo {
	return RepoInfo{UUID: r.uuid, Slug: r.slug, Name: r.name, FullName: r.fullName(s.ws.slug),
		ProjectKey: r.project.key, Private: r.private, MainBranch: r.mainbranch, Commits: r.commitCount(),
		PullRequests: r.pullRequestCount(), CreatedOn: r.created, UpdatedOn: r.updated}
}

func prInfo(pr *pullRequest) PRInfo {
	return PRInfo{ID: pr.id, Title: pr.title, State: pr.state, SourceBranch: pr.sourceBranch, Draft: pr.draft,
		CreatedOn: pr.created, UpdatedOn: pr.updated}
}

// Repos lists the live repositories in the API's default order.
func (s *Server) Repos() []RepoInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]RepoInfo, 0, len(s.repos))
	for _, r := range s.repos {
		if !r.deleted {
			out = append(out, s.repoInfo(r))
		}
	}
	return out
}

// Repo describes the live repository with slug or braced UUID ref.
func (s *Server) Repo(ref string) (RepoInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, err := s.mustRepo(ref)
	if err != nil {
		return RepoInfo{}, err
	}
	return s.repoInfo(r), nil
}

// PullRequests lists every pull request of a repository, all states, by id.
func (s *Server) PullRequests(ref string) ([]PRInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, err := s.mustRepo(ref)
	if err != nil {
		return nil, err
	}
	out := make([]PRInfo, 0, r.pullRequestCount())
	for id := 1; id <= r.pullRequestCount(); id++ {
		pr, _ := s.pullRequest(r, id)
		out = append(out, prInfo(pr))
	}
	return out, nil
}

func (s *Server) mustRepo(ref string) (*repo, error) {
	r := s.lookupRepo(ref)
	if r == nil {
		return nil, fmt.Errorf("repository %q: %w", ref, ErrNotFound)
	}
	return r, nil
}

func (s *Server) now() time.Time { return s.cfg.Clock().UTC() }

var projectKeyRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

// AddProject adds a project to the workspace.
func (s *Server) AddProject(key, name string) error {
	if !projectKeyRe.MatchString(key) {
		return fmt.Errorf("%w: project key %q: want upper-case letters, digits and '_'", ErrInvalid, key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.projectByKey[key] != nil {
		return fmt.Errorf("%w: project %s exists", ErrConflict, key)
	}
	if name == "" {
		name = key
	}
	now := s.now()
	g := newRNG(uint64(s.cfg.Seed), kindProject, uint64(len(s.projects)))
	s.addProject(&project{key: key, name: name, uuid: g.uuid(), created: now, updated: now})
	s.version++
	return nil
}

// AddRepo creates a repository, as of the injected clock.
func (s *Server) AddRepo(spec RepoSpec) (RepoInfo, error) {
	return s.addRepo(spec, func(r *repo) {
		s.emitRepo("repo:created", r, nil)
		if r.commitCount() > 0 {
			s.emitPush(r, 0, nil, false)
		}
	})
}

// TransferIn brings a repository over from another workspace, as of the
// injected clock: it appears with its commits, and hooks get a
// repo:transfer naming the workspace it came from.
func (s *Server) TransferIn(spec RepoSpec, from string) (RepoInfo, error) {
	if !slugRe.MatchString(from) || from == s.ws.slug {
		return RepoInfo{}, fmt.Errorf("%w: the workspace a repository is transferred from must be another workspace slug, not %q", ErrInvalid, from)
	}
	return s.addRepo(spec, func(r *repo) {
		s.emitRepo("repo:transfer", r, func(v view) obj {
			g := newRNG(uint64(s.cfg.Seed), kindWorkspace, hashString(from))
			return obj{{"previous_owner", obj{
				{"display_name", titleCase(from)},
				{"links", obj{{"self", link(v.api + "/workspaces/" + from)}, {"html", link(v.web + "/" + from + "/")}}},
				{"type", "team"},
				{"uuid", g.uuid()},
				{"username", from},
			}}}
		})
	})
}

// TransferOut hands a repository over to another workspace: the API then
// answers 404 for it, as for a deleted one, but this workspace's hooks get
// no event, since the repository now belongs to the other workspace.
func (s *Server) TransferOut(ref, to string) error {
	if !slugRe.MatchString(to) || to == s.ws.slug {
		return fmt.Errorf("%w: a repository is transferred to another workspace slug, not %q", ErrInvalid, to)
	}
	_, err := s.mutateRepo(ref, func(r *repo, _ time.Time) error {
		r.deleted = true
		delete(s.bySlug, r.slug)
		delete(s.byUUID, r.uuid)
		return nil
	})
	return err
}

// addRepo creates a repository and its commits, then has announce send its
// events.
func (s *Server) addRepo(spec RepoSpec, announce func(*repo)) (RepoInfo, error) {
	if spec.Name == "" && spec.Slug == "" {
		return RepoInfo{}, fmt.Errorf("%w: a repository needs a name", ErrInvalid)
	}
	if spec.Name == "" {
		spec.Name = spec.Slug
	}
	if spec.Slug == "" {
		spec.Slug = slugify(spec.Name)
	}
	if !slugRe.MatchString(spec.Slug) {
		return RepoInfo{}, fmt.Errorf("%w: slug %q: want lower-case letters, digits, '-', '_' or '.'", ErrInvalid, spec.Slug)
	}
	if spec.Commits < 0 || spec.Commits > maxPush {
		return RepoInfo{}, fmt.Errorf("%w: commits %d: want 0 to %d", ErrInvalid, spec.Commits, maxPush)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bySlug[spec.Slug] != nil {
		return RepoInfo{}, fmt.Errorf("%w: repository %s exists", ErrConflict, spec.Slug)
	}
	p := s.projects[0]
	if spec.ProjectKey != "" {
		if p = s.projectByKey[spec.ProjectKey]; p == nil {
			return RepoInfo{}, fmt.Errorf("project %q: %w", spec.ProjectKey, ErrNotFound)
		}
	}
	now := s.now()
	idx := len(s.repos)
	g := newRNG(uint64(s.cfg.Seed), kindRepo, uint64(idx))
	r := &repo{idx: idx, uuid: g.uuid(), slug: spec.Slug, name: spec.Name, description: spec.Description,
		project: p, private: !spec.Public, forkPolicy: "no_public_forks", created: now, updated: now,
		lastGenerated: now, nextPR: 1}
	s.index(r)
	s.push(r, spec.Commits, now)
	announce(r)
	s.version++
	return s.repoInfo(r), nil
}

// push appends n commits dated now to r's main branch.
func (s *Server) push(r *repo, n int, now time.Time) {
	if n == 0 {
		return
	}
	if r.mainbranch == "" {
		r.mainbranch = "main"
	}
	for range n {
		r.pushed = append(r.pushed, pushedCommit{date: now, gen: r.forced})
	}
	r.updated = now
}

// mutateRepo runs f on a live repository under the write lock.
func (s *Server) mutateRepo(ref string, f func(r *repo, now time.Time) error) (RepoInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.mustRepo(ref)
	if err != nil {
		return RepoInfo{}, err
	}
	if err := f(r, s.now()); err != nil {
		return RepoInfo{}, err
	}
	s.version++
	return s.repoInfo(r), nil
}

// RenameRepo renames a repository; its slug follows the new name, so the
// old slug stops resolving, while the UUID stays.
func (s *Server) RenameRepo(ref, name string) (RepoInfo, error) {
	slug := slugify(name)
	return s.mutateRepo(ref, func(r *repo, now time.Time) error {
		if name == "" {
			return fmt.Errorf("%w: the new name is empty", ErrInvalid)
		}
		if other := s.bySlug[slug]; other != nil && other != r {
			return fmt.Errorf("%w: repository %s exists", ErrConflict, slug)
		}
		oldName, oldFull := r.name, r.fullName(s.ws.slug)
		delete(s.bySlug, r.slug)
		r.name, r.slug, r.updated = name, slug, now
		s.bySlug[slug] = r
		s.emitRepo("repo:updated", r, func(view) obj {
			return obj{{"changes", obj{{"name", change(oldName, r.name)}, {"full_name", change(oldFull, r.fullName(s.ws.slug))}}}}
		})
		return nil
	})
}

// MoveRepo moves a repository to another project.
func (s *Server) MoveRepo(ref, projectKey string) (RepoInfo, error) {
	return s.mutateRepo(ref, func(r *repo, now time.Time) error {
		p := s.projectByKey[projectKey]
		if p == nil {
			return fmt.Errorf("project %q: %w", projectKey, ErrNotFound)
		}
		old := r.project
		r.project, r.updated = p, now
		s.emitRepo("repo:updated", r, func(v view) obj {
			return obj{{"changes", obj{{"project", change(s.renderProject(v, old, false), s.renderProject(v, p, false))}}}}
		})
		return nil
	})
}

// DeleteRepo deletes a repository; the API then answers 404 for it.
func (s *Server) DeleteRepo(ref string) error {
	_, err := s.mutateRepo(ref, func(r *repo, _ time.Time) error {
		r.deleted = true
		delete(s.bySlug, r.slug)
		delete(s.byUUID, r.uuid)
		s.emitRepo("repo:deleted", r, nil)
		return nil
	})
	return err
}

// head is r's main-branch head, nil while r is empty.
func (s *Server) head(r *repo) *commit {
	if r.commitCount() == 0 {
		return nil
	}
	c := s.mainCommit(r, r.commitCount()-1)
	return &c
}

// ForcePush rewrites the main branch: it drops its newest drop commits and
// pushes count new ones in their place, as "git push --force" does. Only
// commits pushed through the control API can be dropped, and none that a
// pull request targets or merged through, and at least one commit stays. It
// moves the repository's updated_on.
func (s *Server) ForcePush(ref string, drop, count int) (RepoInfo, error) {
	if drop < 1 || count < 0 || count > maxPush {
		return RepoInfo{}, fmt.Errorf("%w: force push: drop at least 1 commit and push 0 to %d, not drop %d and push %d", ErrInvalid, maxPush, drop, count)
	}
	return s.mutateRepo(ref, func(r *repo, now time.Time) error {
		floor := max(r.baseCommits, 1) // the oldest droppable index
		for _, pr := range r.prs {
			floor = max(floor, pr.destIndex+1, pr.mergeIndex+1)
		}
		if r.commitCount()-drop < floor {
			return fmt.Errorf("%w: force push: only %d commits of %s can be dropped", ErrInvalid, max(r.commitCount()-floor, 0), r.slug)
		}
		old := s.head(r)
		r.pushed = r.pushed[:len(r.pushed)-drop]
		r.forced++
		from := r.commitCount()
		for range count {
			r.pushed = append(r.pushed, pushedCommit{date: now, gen: r.forced})
		}
		r.updated = now
		s.emitPush(r, from, old, true)
		return nil
	})
}

// maxPush bounds one push, so a typo in a control request cannot eat memory.
const maxPush = 100_000

// PushCommits pushes n commits to the main branch, dated by the injected
// clock, which moves the repository's updated_on.
func (s *Server) PushCommits(ref string, n int) (RepoInfo, error) {
	if n < 1 || n > maxPush {
		return RepoInfo{}, fmt.Errorf("%w: push between 1 and %d commits, not %d", ErrInvalid, maxPush, n)
	}
	return s.mutateRepo(ref, func(r *repo, now time.Time) error {
		from := r.commitCount()
		old := s.head(r)
		s.push(r, n, now)
		s.emitPush(r, from, old, false)
		return nil
	})
}

// OpenPR opens a pull request from a new branch into the main branch.
func (s *Server) OpenPR(ref string, spec PRSpec) (PRInfo, error) {
	var info PRInfo
	_, err := s.mutateRepo(ref, func(r *repo, now time.Time) error {
		if r.mainbranch == "" {
			return fmt.Errorf("%w: repository %s is empty", ErrInvalid, r.slug)
		}
		id := r.nextPR
		g := newRNG(uint64(s.cfg.Seed), kindPR, uint64(r.idx), uint64(id))
		pr := &pullRequest{id: id, title: spec.Title, description: spec.Description, state: "OPEN",
			author: s.people[g.intn(len(s.people))], created: now, updated: now, sourceBranch: spec.SourceBranch,
			destIndex: r.commitCount() - 1, mergeIndex: -1, draft: spec.Draft}
		if pr.title == "" {
			pr.title = fmt.Sprintf("Pull request %d", id)
		}
		if pr.sourceBranch == "" {
			pr.sourceBranch = fmt.Sprintf("feature/pr-%d", id)
		}
		if r.prs == nil {
			r.prs = map[int]*pullRequest{}
		}
		r.prs[id] = pr
		r.nextPR++
		s.emitPR("pullrequest:created", r, pr, &pr.author, nil)
		info = prInfo(pr)
		return nil
	})
	return info, err
}

// closePR moves an open pull request to state.
func (s *Server) closePR(ref string, id int, state string) (PRInfo, error) {
	var info PRInfo
	_, err := s.mutateRepo(ref, func(r *repo, now time.Time) error {
		pr, ok := s.pullRequest(r, id)
		if !ok {
			return fmt.Errorf("pull request %d: %w", id, ErrNotFound)
		}
		if pr.state != "OPEN" {
			return fmt.Errorf("%w: pull request %d is %s", ErrConflict, id, pr.state)
		}
		pr.state, pr.updated = state, now
		closer := s.people[id%len(s.people)]
		pr.closedBy = &closer
		if r.prs == nil {
			r.prs = map[int]*pullRequest{}
		}
		r.prs[id] = pr
		if state == "MERGED" {
			// Merging pushes a merge commit to the main branch.
			from := r.commitCount()
			old := s.head(r)
			s.push(r, 1, now)
			pr.mergeIndex = r.commitCount() - 1
			pr.closeSource = true
			s.emitPR("pullrequest:fulfilled", r, pr, &closer, nil)
			s.emitPush(r, from, old, false)
		} else {
			s.emitPR("pullrequest:rejected", r, pr, &closer, nil)
		}
		info = prInfo(pr)
		return nil
	})
	return info, err
}

// MergePR merges an open pull request, pushing a merge commit.
func (s *Server) MergePR(ref string, id int) (PRInfo, error) { return s.closePR(ref, id, "MERGED") }

// DeclinePR declines an open pull request.
func (s *Server) DeclinePR(ref string, id int) (PRInfo, error) { return s.closePR(ref, id, "DECLINED") }

// mutatePR runs f on an open pull request under the write lock and stores
// the result.
func (s *Server) mutatePR(ref string, id int, f func(r *repo, pr *pullRequest, now time.Time) error) (PRInfo, error) {
	var info PRInfo
	_, err := s.mutateRepo(ref, func(r *repo, now time.Time) error {
		pr, ok := s.pullRequest(r, id)
		if !ok {
			return fmt.Errorf("pull request %d: %w", id, ErrNotFound)
		}
		if pr.state != "OPEN" {
			return fmt.Errorf("%w: pull request %d is %s", ErrConflict, id, pr.state)
		}
		if err := f(r, pr, now); err != nil {
			return err
		}
		if r.prs == nil {
			r.prs = map[int]*pullRequest{}
		}
		r.prs[id] = pr
		info = prInfo(pr)
		return nil
	})
	return info, err
}

// PREdit changes an open pull request; nil fields stay as they are.
type PREdit struct {
	Title       *string `json:"title,omitempty"`
	Description *string `json:"description,omitempty"`
}

// UpdatePR edits an open pull request's title or description. It moves the
// pull request's updated_on, not the repository's.
func (s *Server) UpdatePR(ref string, id int, edit PREdit) (PRInfo, error) {
	if edit.Title != nil && *edit.Title == "" {
		return PRInfo{}, fmt.Errorf("%w: the title is empty", ErrInvalid)
	}
	return s.mutatePR(ref, id, func(r *repo, pr *pullRequest, now time.Time) error {
		if edit.Title != nil {
			pr.title = *edit.Title
		}
		if edit.Description != nil {
			pr.description = *edit.Description
		}
		pr.updated = now
		s.emitPR("pullrequest:updated", r, pr, &pr.author, nil)
		return nil
	})
}

// ApprovePR records an approval by the first reviewer who has not approved
// yet, or else by a new reviewer. It moves the pull request's updated_on,
// not the repository's.
func (s *Server) ApprovePR(ref string, id int) (PRInfo, error) {
	return s.mutatePR(ref, id, func(r *repo, pr *pullRequest, now time.Time) error {
		pr.reviewers, pr.approved = slices.Clone(pr.reviewers), slices.Clone(pr.approved)
		i := slices.Index(pr.approved, false)
		if i < 0 {
			for _, p := range s.people {
				if p.uuid != pr.author.uuid && !slices.ContainsFunc(pr.reviewers, func(q person) bool { return q.uuid == p.uuid }) {
					pr.reviewers, pr.approved = append(pr.reviewers, p), append(pr.approved, false)
					i = len(pr.reviewers) - 1
					break
				}
			}
		}
		if i < 0 {
			return fmt.Errorf("%w: pull request %d is approved by everyone", ErrConflict, id)
		}
		pr.approved[i], pr.updated = true, now
		approver := pr.reviewers[i]
		s.emitPR("pullrequest:approved", r, pr, &approver, func(v view) obj {
			return obj{{"approval", obj{{"date", stamp(now)}, {"user", s.renderUser(v, &approver)}}}}
		})
		return nil
	})
}

// CommentPR adds a comment to an open pull request. It moves the pull
// request's updated_on to the comment's time, not the repository's.
func (s *Server) CommentPR(ref string, id int, text string) (PRInfo, error) {
	if text == "" {
		return PRInfo{}, fmt.Errorf("%w: the comment is empty", ErrInvalid)
	}
	return s.mutatePR(ref, id, func(r *repo, pr *pullRequest, now time.Time) error {
		s.comments++
		g := newRNG(uint64(s.cfg.Seed), kindComment)
		commentID := int(g.next()%100_000_000) + s.comments
		who := s.people[(id+pr.commentCount)%len(s.people)]
		pr.commentCount++
		pr.updated = now
		s.emitPR("pullrequest:comment_created", r, pr, &who, func(v view) obj {
			return obj{{"comment", s.renderComment(v, r, pr, commentID, text, &who, now)}}
		})
		return nil
	})
}
