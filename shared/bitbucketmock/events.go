package bitbucketmock

import (
	"strconv"
	"time"
)

// Event payloads, in the shapes of Bitbucket's "Event payloads"
// documentation: every payload has the actor and the repository; pushes add
// push.changes, pull request events the full pull request, and some events
// an object of their own (approval, comment, changes).

// maxPushCommits is how many commits a push change lists, newest first;
// truncated says there were more.
const maxPushCommits = 5

// hookRepo is the repository as payloads carry it: no updated_on, no clone
// links, with its workspace and project.
func (s *Server) hookRepo(v view, r *repo) obj {
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
		{"scm", "git"},
		{"website", nil},
		{"owner", s.teamOwner(v)},
		{"workspace", s.renderWorkspace(v, false)},
		{"is_private", r.private},
		{"project", s.renderProject(v, r.project, false)},
		{"uuid", r.uuid},
		{"parent", nil},
	}
}

// actor is who the control API acts as for a repository: one of the
// workspace's people, the same for a repository every time.
func (s *Server) actor(r *repo) *person { return &s.people[r.idx%len(s.people)] }

func (s *Server) repoEvent(v view, r *repo, who *person) obj {
	return obj{{"repository", s.hookRepo(v, r)}, {"actor", s.renderUser(v, who)}}
}

// emitRepo sends a repository event with extra members after repository and
// actor.
func (s *Server) emitRepo(event string, r *repo, extra func(v view) obj) {
	s.emit(event, func(v view) obj {
		o := s.repoEvent(v, r, s.actor(r))
		if extra != nil {
			o = append(o, extra(v)...)
		}
		return o
	})
}

// change is the {"new", "old"} pair of a repo:updated payload.
func change(old, new any) obj { return obj{{"new", new}, {"old", old}} }

// emitPush sends the repo:push that moved r's main branch from old (nil
// when the push created the branch) to its head, adding the commits from
// index from on.
func (s *Server) emitPush(r *repo, from int, old *commit, forced bool) {
	s.emit("repo:push", func(v view) obj {
		head := r.commitCount() - 1
		full := r.fullName(s.ws.slug)
		api := v.api + "/repositories/" + full
		newHead := s.mainCommit(r, head)
		var oldRef any
		oldHash := ""
		if old != nil {
			oldHash = old.hash
			oldRef = s.renderBranch(v, r, r.mainbranch, *old)
		}
		commits := []any{}
		for k := head; k >= from && len(commits) < maxPushCommits; k-- {
			commits = append(commits, s.renderCommit(v, r, s.mainCommit(r, k), false))
		}
		compare := newHead.hash
		commitsLink := api + "/commits?include=" + newHead.hash
		if oldHash != "" {
			compare += ".." + oldHash
			commitsLink += "&exclude=" + oldHash
		}
		ch := obj{
			{"old", oldRef},
			{"new", s.renderBranch(v, r, r.mainbranch, newHead)},
			{"truncated", head-from+1 > maxPushCommits},
			{"created", old == nil},
			{"forced", forced},
			{"closed", false},
			{"links", obj{
				{"commits", link(commitsLink)},
				{"diff", link(api + "/diff/" + compare)},
				{"html", link(v.web + "/" + full + "/branches/compare/" + compare)},
			}},
			{"commits", commits},
		}
		o := s.repoEvent(v, r, s.actor(r))
		return append(o, member{"push", obj{{"changes", []any{ch}}}})
	})
}

// emitPR sends a pull request event; extra adds members after the pull
// request.
func (s *Server) emitPR(event string, r *repo, pr *pullRequest, who *person, extra func(v view) obj) {
	s.emit(event, func(v view) obj {
		o := s.repoEvent(v, r, who)
		o = append(o, member{"pullrequest", s.renderPR(v, r, pr)})
		if extra != nil {
			o = append(o, extra(v)...)
		}
		return o
	})
}

// renderComment renders a pull request comment as comment events carry it.
func (s *Server) renderComment(v view, r *repo, pr *pullRequest, id int, text string, who *person, at time.Time) obj {
	prSelf := v.api + "/repositories/" + r.fullName(s.ws.slug) + "/pullrequests/" + strconv.Itoa(pr.id)
	return obj{
		{"id", id},
		{"created_on", stamp(at)},
		{"updated_on", stamp(at)},
		{"content", rendered(text)},
		{"user", s.renderUser(v, who)},
		{"deleted", false},
		{"pending", false},
		{"type", "pullrequest_comment"},
		{"links", obj{
			{"self", link(prSelf + "/comments/" + strconv.Itoa(id))},
			{"html", link(v.web + "/" + r.fullName(s.ws.slug) + "/pull-requests/" + strconv.Itoa(pr.id) + "/_/diff#comment-" + strconv.Itoa(id))},
		}},
		{"pullrequest", obj{{"type", "pullrequest"}, {"id", pr.id}, {"title", pr.title},
			{"links", obj{{"self", link(prSelf)}, {"html", link(v.web + "/" + r.fullName(s.ws.slug) + "/pull-requests/" + strconv.Itoa(pr.id))}}}}},
	}
}
