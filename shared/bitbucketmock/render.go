package bitbucketmock

import (
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// view holds what a payload depends on besides the data: the API base URL
// the caller used (so self and next links lead back to this server) and the
// caller's user name for clone links.
type view struct {
	api, web  string
	cloneUser string
}

// webBase is where html, avatar and clone links point; clients never call it.
const webBase = "https://bitbucket.org"

func (s *Server) viewFor(r *http.Request, cred *credential) view {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	v := view{api: scheme + "://" + r.Host + "/2.0", web: webBase}
	if cred != nil {
		v.cloneUser = cred.cloneUser
	}
	return v
}

func link(href string) obj { return obj{{"href", href}} }

func esc(s string) string { return url.PathEscape(s) }

func (s *Server) teamOwner(v view) obj {
	ws := &s.ws
	return obj{
		{"display_name", ws.name},
		{"links", obj{
			{"self", link(v.api + "/workspaces/" + esc(ws.uuid))},
			{"avatar", link(v.web + "/account/" + ws.slug + "/avatar/")},
			{"html", link(v.web + "/" + esc(ws.uuid) + "/")},
		}},
		{"type", "team"},
		{"uuid", ws.uuid},
		{"username", ws.slug},
	}
}

func (s *Server) renderWorkspace(v view, full bool) obj {
	ws := &s.ws
	self := v.api + "/workspaces/" + ws.slug
	o := obj{{"type", "workspace"}, {"uuid", ws.uuid}, {"name", ws.name}, {"slug", ws.slug}}
	links := obj{
		{"avatar", link(v.web + "/workspaces/" + ws.slug + "/avatar/")},
		{"html", link(v.web + "/" + ws.slug + "/")},
		{"self", link(self)},
	}
	if !full {
		return append(o, member{"links", links})
	}
	links = append(links,
		member{"members", link(self + "/members")}, member{"owners", link(self + "/members?q=permission%3D%22owner%22")},
		member{"projects", link(self + "/projects")}, member{"repositories", link(v.api + "/repositories/" + ws.slug)},
		member{"snippets", link(v.api + "/snippets/" + ws.slug)})
	return append(o, member{"links", links}, member{"is_private", true}, member{"is_privacy_enforced", false},
		member{"forking_mode", "allow_forks"}, member{"created_on", stamp(ws.created)}, member{"updated_on", stamp(ws.created)})
}

func (s *Server) renderProject(v view, p *project, full bool) obj {
	self := v.api + "/workspaces/" + s.ws.slug + "/projects/" + esc(p.key)
	o := obj{{"type", "project"}, {"key", p.key}, {"uuid", p.uuid}, {"name", p.name}, {"links", obj{
		{"self", link(self)},
		{"html", link(v.web + "/" + s.ws.slug + "/workspace/projects/" + esc(p.key))},
		{"avatar", link(v.web + "/" + s.ws.slug + "/workspace/projects/" + esc(p.key) + "/avatar/32")},
	}}}
	if !full {
		return o
	}
	return append(o, member{"owner", s.teamOwner(v)}, member{"workspace", s.renderWorkspace(v, false)},
		member{"description", p.description}, member{"is_private", true}, member{"created_on", stamp(p.created)},
		member{"updated_on", stamp(p.updated)}, member{"has_publicly_visible_repos", false})
}

// renderRepo renders a repository in full, as /repositories lists it.
func (s *Server) renderRepo(v view, r *repo) obj {
	full := r.fullName(s.ws.slug)
	self := v.api + "/repositories/" + full
	cloneHost := "bitbucket.org"
	if v.cloneUser != "" {
		cloneHost = url.PathEscape(v.cloneUser) + "@" + cloneHost
	}
	var mainbranch any
	if r.mainbranch != "" {
		mainbranch = obj{{"name", r.mainbranch}, {"type", "branch"}}
	}
	return obj{
		{"type", "repository"},
		{"full_name", full},
		{"links", obj{
			{"self", link(self)},
			{"html", link(v.web + "/" + full)},
			{"avatar", link("https://bytebucket.org/ravatar/" + esc(r.uuid) + "?ts=default")},
			{"pullrequests", link(self + "/pullrequests")},
			{"commits", link(self + "/commits")},
			{"forks", link(self + "/forks")},
			{"watchers", link(self + "/watchers")},
			{"branches", link(self + "/refs/branches")},
			{"tags", link(self + "/refs/tags")},
			{"downloads", link(self + "/downloads")},
			{"source", link(self + "/src")},
			{"clone", []any{
				obj{{"name", "https"}, {"href", "https://" + cloneHost + "/" + full + ".git"}},
				obj{{"name", "ssh"}, {"href", "git@bitbucket.org:" + full + ".git"}},
			}},
			{"hooks", link(self + "/hooks")},
		}},
		{"name", r.name},
		{"slug", r.slug},
		{"description", r.description},
		{"scm", "git"},
		{"website", nil},
		{"owner", s.teamOwner(v)},
		{"workspace", s.renderWorkspace(v, false)},
		{"is_private", r.private},
		{"project", s.renderProject(v, r.project, false)},
		{"fork_policy", r.forkPolicy},
		{"created_on", stamp(r.created)},
		{"updated_on", stamp(r.updated)},
		{"size", r.size},
		{"language", r.language},
		{"uuid", r.uuid},
		{"mainbranch", mainbranch},
		{"override_settings", obj{{"default_merge_strategy", false}, {"branching_model", false}}},
		{"parent", nil},
		{"enforced_signed_commits", nil},
		{"has_issues", r.hasIssues},
		{"has_wiki", r.hasWiki},
	}
}

// condensedRepo is the form a repository takes inside another object.
func (s *Server) condensedRepo(v view, r *repo) obj {
	full := r.fullName(s.ws.slug)
	return obj{
		{"type", "repository"},
		{"full_name", full},
		{"links", obj{
			{"self", link(v.api + "/repositories/" + full)},
			{"html", link(v.web + "/" + full)},
			{"avatar", link("https://bytebucket.org/ravatar/" + esc(r.uuid) + "?ts=default")},
		}},
		{"name", r.name},
		{"uuid", r.uuid},
	}
}

func (s *Server) renderUser(v view, p *person) obj {
	return obj{
		{"display_name", p.displayName},
		{"links", obj{
			{"self", link(v.api + "/users/" + esc(p.uuid))},
			{"avatar", link("https://secure.gravatar.com/avatar/" + p.nickname + "?d=identicon")},
			{"html", link(v.web + "/" + esc(p.uuid) + "/")},
		}},
		{"type", "user"},
		{"uuid", p.uuid},
		{"account_id", p.accountID},
		{"nickname", p.nickname},
	}
}

// rendered is a text in Bitbucket's raw/markup/html triple.
func rendered(raw string) obj {
	h := ""
	if raw != "" {
		h = "<p>" + strings.ReplaceAll(html.EscapeString(raw), "\n", "<br>") + "</p>"
	}
	return obj{{"type", "rendered"}, {"raw", raw}, {"markup", "markdown"}, {"html", h}}
}

// shortCommit is how pull requests refer to commits: 12-character hashes.
func (s *Server) shortCommit(v view, r *repo, hash string) obj {
	self := v.api + "/repositories/" + r.fullName(s.ws.slug)
	return obj{{"hash", hash[:12]}, {"links", obj{
		{"self", link(self + "/commit/" + hash[:12])},
		{"html", link(v.web + "/" + r.fullName(s.ws.slug) + "/commits/" + hash[:12])},
	}}, {"type", "commit"}}
}

// renderPR renders a pull request in full, reviewers and participants
// included; list responses drop those two (see prListHidden).
func (s *Server) renderPR(v view, r *repo, pr *pullRequest) obj {
	full := r.fullName(s.ws.slug)
	self := v.api + "/repositories/" + full + "/pullrequests/" + strconv.Itoa(pr.id)
	var mergeCommit, closedBy any
	if pr.mergeIndex >= 0 {
		mergeCommit = s.shortCommit(v, r, s.commitHash(r, pr.mergeIndex))
	}
	if pr.closedBy != nil {
		closedBy = s.renderUser(v, pr.closedBy)
	}
	reviewers := make([]any, len(pr.reviewers))
	participants := make([]any, len(pr.reviewers))
	for i := range pr.reviewers {
		reviewers[i] = s.renderUser(v, &pr.reviewers[i])
		var state any
		if pr.approved[i] {
			state = "approved"
		}
		participants[i] = obj{{"type", "participant"}, {"user", reviewers[i]}, {"role", "REVIEWER"},
			{"approved", pr.approved[i]}, {"state", state}, {"participated_on", stamp(pr.updated)}}
	}
	head := s.branchHead(r, pr)
	return obj{
		{"comment_count", pr.commentCount},
		{"task_count", pr.taskCount},
		{"type", "pullrequest"},
		{"id", pr.id},
		{"title", pr.title},
		{"description", pr.description},
		{"state", pr.state},
		{"draft", pr.draft},
		{"merge_commit", mergeCommit},
		{"close_source_branch", pr.closeSource},
		{"closed_by", closedBy},
		{"author", s.renderUser(v, &pr.author)},
		{"reason", ""},
		{"created_on", stamp(pr.created)},
		{"updated_on", stamp(pr.updated)},
		{"destination", obj{
			{"branch", obj{{"name", r.mainbranch}}},
			{"commit", s.shortCommit(v, r, s.commitHash(r, pr.destIndex))},
			{"repository", s.condensedRepo(v, r)},
		}},
		{"source", obj{
			{"branch", obj{{"name", pr.sourceBranch}}},
			{"commit", s.shortCommit(v, r, head.hash)},
			{"repository", s.condensedRepo(v, r)},
		}},
		{"links", obj{
			{"self", link(self)},
			{"html", link(v.web + "/" + full + "/pull-requests/" + strconv.Itoa(pr.id))},
			{"commits", link(self + "/commits")},
			{"approve", link(self + "/approve")},
			{"request-changes", link(self + "/request-changes")},
			{"diff", link(v.api + "/repositories/" + full + "/diff/" + head.hash[:12] + ".." + s.commitHash(r, pr.destIndex)[:12])},
			{"diffstat", link(v.api + "/repositories/" + full + "/diffstat/" + head.hash[:12] + ".." + s.commitHash(r, pr.destIndex)[:12])},
			{"comments", link(self + "/comments")},
			{"activity", link(self + "/activity")},
			{"merge", link(self + "/merge")},
			{"decline", link(self + "/decline")},
			{"statuses", link(self + "/statuses")},
		}},
		{"summary", rendered(pr.description)},
		{"reviewers", reviewers},
		{"participants", participants},
	}
}

// prListHidden are left out of pull requests in lists unless asked for with
// fields=+values.reviewers ("it would impact performance too much").
var prListHidden = []string{"reviewers", "participants"}

// renderCommit renders a commit with full 40-character hashes.
func (s *Server) renderCommit(v view, r *repo, c commit, single bool) obj {
	full := r.fullName(s.ws.slug)
	self := v.api + "/repositories/" + full + "/commit/" + c.hash
	author := obj{{"type", "author"}, {"raw", c.rawAuthor}}
	if c.user != nil {
		author = append(author, member{"user", s.renderUser(v, c.user)})
	}
	parents := []any{}
	if c.parent != "" {
		parents = append(parents, obj{{"hash", c.parent}, {"links", obj{
			{"self", link(v.api + "/repositories/" + full + "/commit/" + c.parent)},
			{"html", link(v.web + "/" + full + "/commits/" + c.parent)},
		}}, {"type", "commit"}})
	}
	o := obj{
		{"type", "commit"},
		{"hash", c.hash},
		{"date", commitStamp(c.date)},
		{"author", author},
		{"message", c.message},
		{"summary", rendered(c.message)},
		{"links", obj{
			{"self", link(self)},
			{"html", link(v.web + "/" + full + "/commits/" + c.hash)},
			{"diff", link(v.api + "/repositories/" + full + "/diff/" + c.hash)},
			{"approve", link(self + "/approve")},
			{"comments", link(self + "/comments")},
			{"statuses", link(self + "/statuses")},
			{"patch", link(v.api + "/repositories/" + full + "/patch/" + c.hash)},
		}},
		{"parents", parents},
		{"repository", s.condensedRepo(v, r)},
	}
	if single {
		o = append(o, member{"participants", []any{}})
	}
	return o
}

func (s *Server) refLinks(v view, r *repo, kind, name, hash string) obj {
	full := r.fullName(s.ws.slug)
	return obj{
		{"self", link(v.api + "/repositories/" + full + "/refs/" + kind + "/" + esc(name))},
		{"commits", link(v.api + "/repositories/" + full + "/commits/" + esc(name))},
		{"html", link(v.web + "/" + full + "/src/" + hash)},
	}
}

func (s *Server) renderBranch(v view, r *repo, name string, head commit) obj {
	return obj{
		{"name", name},
		{"target", s.renderCommit(v, r, head, false)},
		{"links", s.refLinks(v, r, "branches", name, head.hash)},
		{"type", "branch"},
		{"merge_strategies", []any{"merge_commit", "squash", "fast_forward"}},
		{"default_merge_strategy", "merge_commit"},
	}
}

func (s *Server) renderTag(v view, r *repo, name string, c commit) obj {
	tagger := obj{{"type", "author"}, {"raw", c.rawAuthor}}
	if c.user != nil {
		tagger = append(tagger, member{"user", s.renderUser(v, c.user)})
	}
	return obj{
		{"name", name},
		{"target", s.renderCommit(v, r, c, false)},
		{"links", s.refLinks(v, r, "tags", name, c.hash)},
		{"type", "tag"},
		{"message", "Release " + name + "\n"},
		{"date", commitStamp(c.date)},
		{"tagger", tagger},
	}
}

// renderTokenUser is the user an access token acts as: Bitbucket shows the
// token's name wherever a user would appear.
func (s *Server) renderTokenUser(v view, t *Token) obj {
	g := newRNG(uint64(s.cfg.Seed), kindPerson, hashString(t.Name))
	id := g.uuid()
	return obj{
		{"display_name", t.Name},
		{"links", obj{
			{"self", link(v.api + "/users/" + esc(id))},
			{"avatar", link("https://secure.gravatar.com/avatar/" + esc(t.Name) + "?d=identicon")},
			{"html", link(v.web + "/" + esc(id) + "/")},
		}},
		{"type", "user"},
		{"uuid", id},
		{"account_id", "557058:" + strings.Trim(id, "{}")},
		{"nickname", t.Name},
		{"created_on", stamp(s.ws.created)},
		{"account_status", "active"},
		{"has_2fa_enabled", false},
		{"is_staff", false},
	}
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}
