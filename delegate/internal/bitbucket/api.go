package bitbucket

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/record"
)

// Page sizes: the largest each endpoint accepts (pull requests reject more
// than 50 with a 400).
const (
	RepositoryPageLen  = 100
	PullRequestPageLen = 50
	CommitPageLen      = 100
	minPageLen         = 10
)

// fields trim each listing to what the records use. Repositories keep
// everything a field mapping is likely to read (the raw object is stored),
// minus the links and owner blocks that make up most of the payload.
var (
	repositoryFields = strings.Join([]string{
		"next", "size",
		"values.type", "values.uuid", "values.slug", "values.name", "values.full_name", "values.description",
		"values.is_private", "values.language", "values.created_on", "values.updated_on", "values.size",
		"values.mainbranch.name", "values.project.key", "values.project.name", "values.project.uuid",
		"values.workspace.slug", "values.links.html.href", "values.links.clone",
		"values.scm", "values.website", "values.fork_policy", "values.has_issues", "values.has_wiki",
		"values.parent.full_name",
	}, ",")
	pullRequestFields = strings.Join([]string{
		"next",
		"values.id", "values.title", "values.state", "values.draft", "values.author.display_name", "values.author.uuid",
		"values.source.branch.name", "values.destination.branch.name", "values.created_on", "values.updated_on",
		"values.merge_commit.hash", "values.closed_by.display_name", "values.comment_count", "values.task_count",
		"values.links.html.href",
	}, ",")
	commitFields = strings.Join([]string{
		"next",
		"values.hash", "values.date", "values.author.raw", "values.author.user.display_name", "values.message",
		"values.parents.hash", "values.links.html.href",
	}, ",")
)

// PullRequestStates are the states a sync fetches.
var PullRequestStates = []string{"OPEN", "MERGED", "DECLINED"}

func (s *Session) endpoint(q url.Values, segments ...string) string {
	u := *s.base
	p := strings.TrimSuffix(u.Path, "/")
	raw := strings.TrimSuffix(u.EscapedPath(), "/")
	for _, seg := range segments {
		p += "/" + seg
		raw += "/" + url.PathEscape(seg)
	}
	u.Path, u.RawPath = p, raw
	u.RawQuery = q.Encode()
	return u.String()
}

func pageLen(want, maxLen int) string {
	return strconv.Itoa(min(max(want, minPageLen), maxLen))
}

// RepositoriesURL is the first page of a workspace's repository listing,
// oldest first, from repositories created at or after from (zero: all).
// Oldest first puts new repositories on the last pages and lets a resumed
// listing continue by key (created_on >= from) instead of by page number.
// query, when not empty, is a BBQL expression Bitbucket filters the
// listing with (a repository filter's Query).
func (s *Session) RepositoriesURL(workspace, query string, from time.Time) string {
	v := url.Values{
		"pagelen": {strconv.Itoa(RepositoryPageLen)},
		"sort":    {"created_on"},
		"fields":  {repositoryFields},
	}
	var q []string
	if query != "" {
		q = append(q, "("+query+")")
	}
	if !from.IsZero() {
		q = append(q, "created_on >= "+bbqlTime(from))
	}
	if len(q) > 0 {
		v.Set("q", strings.Join(q, " AND "))
	}
	return s.endpoint(v, "repositories", workspace)
}

// UpdatedRepositoriesURL is the first page of the repositories updated at
// or after since, oldest update first. Ascending order on a field that
// changes during the walk can only move a repository towards the end, so
// a row is at worst listed twice (callers dedupe by uuid) or, when one
// moved from an earlier page, skipped: the count check catches that.
// A filter's query (BBQL) narrows it further, as for RepositoriesURL.
func (s *Session) UpdatedRepositoriesURL(workspace, query string, since time.Time) string {
	q := "updated_on >= " + bbqlTime(since)
	if query != "" {
		q = "(" + query + ") AND " + q
	}
	return s.endpoint(url.Values{
		"pagelen": {strconv.Itoa(RepositoryPageLen)},
		"sort":    {"updated_on"},
		"fields":  {repositoryFields},
		"q":       {q},
	}, "repositories", workspace)
}

// RepositoryPage is one page of a repository listing.
type RepositoryPage struct {
	Next         string
	Size         int64 // -1 when Bitbucket did not say
	Repositories []record.Repository
}

// Repositories fetches one page of the listing at u.
func (s *Session) Repositories(ctx context.Context, u, workspace string) (RepositoryPage, error) {
	var page RepositoryPage
	err := s.get(ctx, u, func(_ http.Header, body []byte) error {
		next, size, values, err := s.decodeEnvelope(body)
		if err != nil {
			return err
		}
		page = RepositoryPage{Next: next, Size: size, Repositories: make([]record.Repository, 0, len(values))}
		for i, v := range values {
			r, err := s.decodeRepository(i, v, workspace)
			if err != nil {
				return err
			}
			page.Repositories = append(page.Repositories, r)
		}
		return nil
	})
	return page, err
}

// PullRequestQuery selects pull requests of one repository.
type PullRequestQuery struct {
	Workspace, Slug string
	// From and Until bound updated_on inclusively, and so does Since (the
	// start date). Zero values do not bound. The bounds are inclusive
	// because pull requests can share an updated_on: a cursor at that
	// value must not skip the ones a cap left out.
	From, Until, Since time.Time
	// Ascending sorts oldest first, for fetching what is new above a cursor
	// without leaving holes when a cap cuts the listing.
	Ascending bool
	Want      int
}

// bbqlTime renders a BBQL datetime (unquoted ISO 8601, microseconds kept so
// that > and < against a stored updated_on are exact).
func bbqlTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000-07:00")
}

// PullRequestsURL is the first page of a pull request query.
func (s *Session) PullRequestsURL(q PullRequestQuery) string {
	var conds []string
	if !q.From.IsZero() {
		conds = append(conds, "updated_on >= "+bbqlTime(q.From))
	}
	if !q.Until.IsZero() {
		conds = append(conds, "updated_on <= "+bbqlTime(q.Until))
	}
	if !q.Since.IsZero() {
		conds = append(conds, "updated_on >= "+bbqlTime(q.Since))
	}
	sort := "-updated_on"
	if q.Ascending {
		sort = "updated_on"
	}
	v := url.Values{
		"state":   PullRequestStates,
		"sort":    {sort},
		"pagelen": {pageLen(q.Want, PullRequestPageLen)},
		"fields":  {pullRequestFields},
	}
	if len(conds) > 0 {
		v.Set("q", strings.Join(conds, " AND "))
	}
	return s.endpoint(v, "repositories", q.Workspace, q.Slug, "pullrequests")
}

// PullRequests fetches one page of pull requests at u.
func (s *Session) PullRequests(ctx context.Context, u, repoUUID string) ([]record.PullRequest, string, error) {
	var out []record.PullRequest
	var next string
	err := s.get(ctx, u, func(_ http.Header, body []byte) error {
		n, _, values, err := s.decodeEnvelope(body)
		if err != nil {
			return err
		}
		out, next = make([]record.PullRequest, 0, len(values)), n
		for i, v := range values {
			pr, err := decodePullRequest(i, v, repoUUID)
			if err != nil {
				return err
			}
			out = append(out, pr)
		}
		return nil
	})
	return out, next, err
}

// CommitsURL lists revision (a branch or a hash) and its ancestors, newest
// first.
func (s *Session) CommitsURL(workspace, slug, revision string, want int) string {
	return s.endpoint(url.Values{
		"pagelen": {pageLen(want, CommitPageLen)},
		"fields":  {commitFields},
	}, "repositories", workspace, slug, "commits", revision)
}

// Commits fetches one page of commits at u.
func (s *Session) Commits(ctx context.Context, u, repoUUID string) ([]record.Commit, string, error) {
	var out []record.Commit
	var next string
	err := s.get(ctx, u, func(_ http.Header, body []byte) error {
		n, _, values, err := s.decodeEnvelope(body)
		if err != nil {
			return err
		}
		out, next = make([]record.Commit, 0, len(values)), n
		for i, v := range values {
			c, err := decodeCommit(i, v, repoUUID)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	return out, next, err
}

// probe fetches u for its status and granted scopes only.
func (s *Session) probe(ctx context.Context, u string) (firstSlug string, scopes string, err error) {
	err = s.get(ctx, u, func(h http.Header, body []byte) error {
		scopes = h.Get("X-OAuth-Scopes")
		var env struct {
			Values []struct {
				Slug string `json:"slug"`
			} `json:"values"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return &DecodeError{Err: describeJSONError(err), Retryable: true}
		}
		if len(env.Values) > 0 {
			firstSlug = env.Values[0].Slug
		}
		return nil
	})
	return firstSlug, scopes, err
}
