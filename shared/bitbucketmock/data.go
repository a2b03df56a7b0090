package bitbucketmock

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The data model. Repository and project metadata is generated up front (a
// few hundred bytes a repository); pull requests and commits are derived on
// demand from (seed, repository index, number) and only the ones changed
// through the control API are stored.

type workspace struct {
	slug, uuid, name string
	created          time.Time
}

type project struct {
	key, uuid, name, description string
	created, updated             time.Time
}

type repo struct {
	idx                                  int // stable identity: seeds everything derived
	uuid, slug, name, description        string
	language, forkPolicy, mainbranch     string // mainbranch is "" while the repository is empty
	project                              *project
	created, updated                     time.Time
	lastGenerated                        time.Time // date of the newest generated commit
	private, hasIssues, hasWiki, deleted bool
	size                                 int
	baseCommits                          int            // generated commits on the main branch
	pushed                               []pushedCommit // commits pushed since, oldest first
	forced                               int            // force pushes so far
	basePRs                              int            // generated pull requests, ids 1..basePRs
	nextPR                               int
	prs                                  map[int]*pullRequest // pull requests opened or changed since
	files                                map[string]*string   // files set (or removed, nil) through the control API
}

func (r *repo) fullName(ws string) string { return ws + "/" + r.slug }

func (r *repo) commitCount() int { return r.baseCommits + len(r.pushed) }

// pushedCommit is a commit pushed through the control API. gen is the number
// of force pushes before it, so a commit rewritten at the same position gets
// another hash.
type pushedCommit struct {
	date time.Time
	gen  int
}

type pullRequest struct {
	id                        int
	title, description, state string
	author                    person
	created, updated          time.Time
	sourceBranch              string
	destIndex                 int // main commit the pull request targets
	mergeIndex                int // main commit that merged it, -1 if none
	closedBy                  *person
	reviewers                 []person
	approved                  []bool
	draft, closeSource        bool
	commentCount, taskCount   int
}

// commit is one commit of a repository, on the main branch or at the head
// of a pull request's source branch (see commitRef).
type commit struct {
	hash, message, rawAuthor string
	user                     *person // nil when the author matches no Bitbucket user
	date                     time.Time
	parent                   string // "" for the root commit
}

// generate builds the workspace, projects and repository metadata.
func (s *Server) generate() {
	c := s.cfg
	seed := uint64(c.Seed)
	wr := newRNG(seed, kindWorkspace, 1)
	s.ws = workspace{slug: c.Workspace, uuid: wr.uuid(), name: titleCase(c.Workspace),
		created: s.base.Add(-5*365*24*time.Hour - wr.seconds(86400*365))}
	for i := range c.Projects {
		g := newRNG(seed, kindProject, uint64(i))
		p := &project{key: projectKeys[i%len(projectKeys)], name: projectName[i%len(projectName)], uuid: g.uuid()}
		if i >= len(projectKeys) {
			p.key = fmt.Sprintf("%s%d", p.key, i/len(projectKeys))
			p.name = fmt.Sprintf("%s %d", p.name, i/len(projectKeys))
		}
		p.description = "Repositories of the " + p.name + " team."
		p.created = s.ws.created.Add(g.seconds(86400 * 365))
		p.updated = p.created.Add(g.seconds(86400 * 365))
		s.addProject(p)
	}
	s.repos = make([]*repo, 0, c.Repos)
	s.bySlug = make(map[string]*repo, c.Repos)
	s.byUUID = make(map[string]*repo, c.Repos)
	for i := range c.Repos {
		s.index(s.genRepo(i))
	}
}

func (s *Server) addProject(p *project) {
	s.projects = append(s.projects, p)
	s.projectByKey[p.key] = p
}

func (s *Server) index(r *repo) {
	s.repos = append(s.repos, r)
	s.bySlug[r.slug] = r
	s.byUUID[r.uuid] = r
}

func (s *Server) genRepo(i int) *repo {
	c := s.cfg
	g := newRNG(uint64(c.Seed), kindRepo, uint64(i))
	r := &repo{idx: i, uuid: g.uuid(), project: s.projects[g.intn(len(s.projects))], private: true,
		language: g.pick(languages), forkPolicy: g.pick(forkPolicy), hasIssues: g.chance(0.3),
		hasWiki: g.chance(0.2), size: 20_000 + g.intn(50_000_000)}
	noun, suffix := g.pick(repoNouns), g.pick(repoSuffixes)
	if g.chance(1.0 / 8) {
		w := unicodeWords[g.intn(len(unicodeWords))]
		r.name, r.slug = w[0]+" "+suffix, w[1]+"-"+suffix
		r.description = fmt.Sprintf(g.pick(unicodeDescriptions), w[0])
	} else {
		r.name = noun + "-" + suffix
		r.slug = r.name
		r.description = g.pick(descriptions)
		if strings.Contains(r.description, "%s") {
			r.description = fmt.Sprintf(r.description, noun)
		}
	}
	// Names read like real ones while they are free; later ones get a number.
	if _, taken := s.bySlug[r.slug]; taken {
		r.name = fmt.Sprintf("%s-%d", r.name, i)
		r.slug = fmt.Sprintf("%s-%d", r.slug, i)
	}
	empty := g.chance(1.0 / 20)
	// Last activity is spread over the 400 days before the base time, so an
	// incremental sync with an updated_on watermark has something to skip.
	r.lastGenerated = s.base.Add(-time.Duration(1+g.intn(400*24))*time.Hour - g.seconds(3600))
	r.created = r.lastGenerated.Add(-time.Duration(30+g.intn(1000))*24*time.Hour - g.seconds(86400))
	r.created = r.created.Add(time.Duration(g.intn(1_000_000)) * time.Microsecond)
	if empty {
		r.updated = r.created.Add(time.Duration(1+g.intn(600_000_000)) * time.Microsecond)
		r.nextPR = 1
		return r
	}
	r.mainbranch = "main"
	if g.chance(0.3) {
		r.mainbranch = "master"
	}
	r.baseCommits = c.CommitsPerRepo
	r.basePRs = c.PRsPerRepo
	r.nextPR = r.basePRs + 1
	r.updated = r.lastGenerated.Add(time.Duration(1+g.intn(2_000_000)) * time.Microsecond)
	if r.baseCommits == 0 {
		r.mainbranch = ""
		r.basePRs, r.nextPR = 0, 1
	}
	return r
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// firstCommitDate is the date of a repository's oldest generated commit.
func (r *repo) firstCommitDate() time.Time { return r.created.Truncate(time.Second).Add(time.Hour) }

// commitStep is the spacing of generated commits.
func (r *repo) commitStep() time.Duration {
	if r.baseCommits < 2 {
		return 0
	}
	return r.lastGenerated.Sub(r.firstCommitDate()) / time.Duration(r.baseCommits-1)
}

// indexAt is the newest generated main commit at or before t.
func (r *repo) indexAt(t time.Time) int {
	step := r.commitStep()
	if step <= 0 {
		return 0
	}
	k := int(t.Sub(r.firstCommitDate()) / step)
	return min(max(k, 0), r.baseCommits-1)
}

// commitRNG seeds main commit k of r.
func (s *Server) commitRNG(r *repo, k int) rng {
	if k >= r.baseCommits {
		if gen := r.pushed[k-r.baseCommits].gen; gen > 0 {
			return newRNG(uint64(s.cfg.Seed), kindCommit, uint64(r.idx), uint64(k), 2, uint64(gen))
		}
	}
	return newRNG(uint64(s.cfg.Seed), kindCommit, uint64(r.idx), uint64(k))
}

func (s *Server) commitHash(r *repo, k int) string {
	g := s.commitRNG(r, k)
	return g.hash()
}

// mainCommit is commit k (0 = oldest) of r's main branch.
func (s *Server) mainCommit(r *repo, k int) commit {
	g := s.commitRNG(r, k)
	c := commit{hash: g.hash(), date: s.mainCommitDate(r, k)}
	c.message = commitMessages[g.intn(len(commitMessages))]
	if strings.Contains(c.message, "%s") {
		c.message = fmt.Sprintf(c.message, r.slug)
	}
	if k >= r.baseCommits {
		c.message = "Pushed change " + strconv.Itoa(k-r.baseCommits+1)
	}
	s.setAuthor(&c, &g)
	if k > 0 {
		c.parent = s.commitHash(r, k-1)
	}
	return c
}

// mainCommitDate is the date of main commit k: generated commits are spread
// evenly (with jitter) from the repository's creation to its last activity;
// pushed ones have the date they were pushed.
func (s *Server) mainCommitDate(r *repo, k int) time.Time {
	if k >= r.baseCommits {
		return r.pushed[k-r.baseCommits].date
	}
	if k == r.baseCommits-1 {
		return r.lastGenerated
	}
	step := r.commitStep()
	d := r.firstCommitDate().Add(step * time.Duration(k))
	if step > 3*time.Second {
		g := newRNG(uint64(s.cfg.Seed), kindCommit, uint64(r.idx), uint64(k), 1)
		d = d.Add(g.seconds(int(step / time.Second / 3)))
	}
	return d
}

// setAuthor picks a commit author; one in six matches no Bitbucket user, so
// its author has raw but no user, as real commits from bots do.
func (s *Server) setAuthor(c *commit, g *rng) {
	if g.chance(1.0 / 6) {
		c.rawAuthor = g.pick(botAuthors)
		return
	}
	p := &s.people[g.intn(len(s.people))]
	c.user = p
	c.rawAuthor = fmt.Sprintf("%s <%s@example.com>", p.displayName, p.nickname)
}

// branchHead is the single commit a pull request's source branch adds on top
// of the commit it targets.
func (s *Server) branchHead(r *repo, pr *pullRequest) commit {
	g := newRNG(uint64(s.cfg.Seed), kindBranchCommit, uint64(r.idx), uint64(pr.id))
	c := commit{hash: g.hash(), message: pr.title, date: pr.created.Add(-5 * time.Minute).Truncate(time.Second)}
	c.user = &pr.author
	c.rawAuthor = fmt.Sprintf("%s <%s@example.com>", pr.author.displayName, pr.author.nickname)
	c.parent = s.commitHash(r, pr.destIndex)
	return c
}

// pullRequest returns pull request id of r as it is now.
func (s *Server) pullRequest(r *repo, id int) (*pullRequest, bool) {
	if pr, ok := r.prs[id]; ok {
		return pr, true
	}
	if id < 1 || id > r.basePRs {
		return nil, false
	}
	return s.genPR(r, id), true
}

func (s *Server) genPR(r *repo, id int) *pullRequest {
	g := newRNG(uint64(s.cfg.Seed), kindPR, uint64(r.idx), uint64(id))
	noun := g.pick(repoNouns)
	pr := &pullRequest{id: id, title: fmt.Sprintf(g.pick(prTitles), noun), mergeIndex: -1,
		author: s.people[g.intn(len(s.people))], commentCount: g.intn(12), taskCount: g.intn(3)}
	pr.description = "Changes " + noun + ".\n\n* tests added\n* docs updated"
	pr.sourceBranch = fmt.Sprintf("feature/%s-%d", noun, id)
	span := r.lastGenerated.Sub(r.firstCommitDate())
	pr.created = r.firstCommitDate().Add(time.Duration(g.next()%uint64(span/time.Second+1))*time.Second +
		time.Duration(g.intn(1_000_000))*time.Microsecond)
	pr.updated = pr.created.Add(g.seconds(30*86400) + time.Duration(g.intn(1_000_000))*time.Microsecond)
	if pr.updated.After(s.base) {
		pr.updated = s.base.Add(-time.Duration(g.intn(1_000_000)) * time.Microsecond)
	}
	pr.destIndex = r.indexAt(pr.created)
	switch p := g.intn(100); {
	case p < 35:
		pr.state = "OPEN"
		pr.draft = g.chance(0.1)
	case p < 75:
		pr.state = "MERGED"
		pr.mergeIndex = r.indexAt(pr.updated)
		pr.closeSource = true
	case p < 95:
		pr.state = "DECLINED"
	default:
		pr.state = "SUPERSEDED"
	}
	if pr.state != "OPEN" {
		closer := s.people[g.intn(len(s.people))]
		pr.closedBy = &closer
	}
	for range g.intn(4) {
		p := s.people[g.intn(len(s.people))]
		if p.uuid == pr.author.uuid || slices.ContainsFunc(pr.reviewers, func(q person) bool { return q.uuid == p.uuid }) {
			continue
		}
		pr.reviewers = append(pr.reviewers, p)
		pr.approved = append(pr.approved, pr.state == "MERGED" || g.chance(0.4))
	}
	return pr
}

// pullRequestCount is the number of pull requests ever opened on r.
func (r *repo) pullRequestCount() int { return r.nextPR - 1 }

// tagEvery: every tenth generated commit is tagged as a release.
const tagEvery = 10

func tagName(k int) string { return fmt.Sprintf("v1.%d.0", (k+1)/tagEvery) }
