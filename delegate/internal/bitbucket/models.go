package bitbucket

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/bitbucketjson"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// Limits on what one item may carry: a record must fit comfortably in an
// upload batch, and a "description" of 50 MB is an attack or a bug, not data.
const (
	maxFieldBytes = 256 << 10
	maxItemBytes  = 1 << 20
)

// envelope is Bitbucket's paginated response. Only values and next are
// guaranteed; size is optional.
type envelope struct {
	Next   *string            `json:"next"`
	Size   *int64             `json:"size"`
	Values *[]json.RawMessage `json:"values"`
}

// decodeEnvelope parses a page. Any JSON problem is worth one more try
// (truncated transfers and proxy error pages produce them), oversized items
// are not.
func (s *Session) decodeEnvelope(body []byte) (next string, size int64, values []json.RawMessage, err error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return "", 0, nil, &DecodeError{Err: describeJSONError(err), Retryable: true}
	}
	if env.Values == nil {
		return "", 0, nil, &DecodeError{Err: errors.New(`no "values" array in the page`), Retryable: true}
	}
	for i, v := range *env.Values {
		if len(v) > maxItemBytes {
			return "", 0, nil, &DecodeError{Err: fmt.Errorf("values[%d] is %d bytes, over the %d limit", i, len(v), maxItemBytes)}
		}
	}
	if env.Next != nil && *env.Next != "" {
		if err := s.checkNext(*env.Next); err != nil {
			return "", 0, nil, &DecodeError{Err: err}
		}
		next = *env.Next
	}
	size = -1
	if env.Size != nil {
		size = *env.Size
	}
	return next, size, *env.Values, nil
}

// checkNext refuses a next link to another host: following it would send
// the token there.
func (s *Session) checkNext(next string) error {
	u, err := url.Parse(next)
	if err != nil {
		return fmt.Errorf("next link is not a URL")
	}
	if u.Scheme != s.base.Scheme || u.Host != s.base.Host {
		return fmt.Errorf("next link points to %s://%s, not to the API at %s://%s", u.Scheme, u.Host, s.base.Scheme, s.base.Host)
	}
	return nil
}

func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("malformed JSON at byte %d: %v", syn.Offset, err)
	case errors.As(err, &typ):
		return fmt.Errorf("unexpected shape: field %q is %s, want %s", typ.Field, typ.Value, typ.Type)
	default:
		return fmt.Errorf("malformed JSON: %v", err)
	}
}

func decodeItem(i int, raw json.RawMessage, into any) error {
	if err := json.Unmarshal(raw, into); err != nil {
		return &DecodeError{Err: fmt.Errorf("values[%d]: %w", i, describeJSONError(err)), Retryable: true}
	}
	return nil
}

func checkFields(i int, fields map[string]string) error {
	for name, v := range fields {
		if len(v) > maxFieldBytes {
			return &DecodeError{Err: fmt.Errorf("values[%d].%s is %d bytes, over the %d limit", i, name, len(v), maxFieldBytes)}
		}
	}
	return nil
}

func required(i int, fields map[string]string) error {
	for name, v := range fields {
		if v == "" {
			return &DecodeError{Err: fmt.Errorf("values[%d] has no %s", i, name), Retryable: true}
		}
	}
	return nil
}

type href struct {
	Href string `json:"href"`
}

type repositoryJSON struct {
	UUID      string `json:"uuid"`
	Slug      string `json:"slug"`
	Name      string `json:"name"`
	FullName  string `json:"full_name"`
	Workspace *struct {
		Slug string `json:"slug"`
	} `json:"workspace"`
	Project *struct {
		Key  string `json:"key"`
		Name string `json:"name"`
	} `json:"project"`
	Description string `json:"description"`
	IsPrivate   bool   `json:"is_private"`
	Language    string `json:"language"`
	MainBranch  *struct {
		Name string `json:"name"`
	} `json:"mainbranch"`
	Links struct {
		HTML  href `json:"html"`
		Clone []struct {
			Name string `json:"name"`
			Href string `json:"href"`
		} `json:"clone"`
	} `json:"links"`
	CreatedOn time.Time `json:"created_on"`
	UpdatedOn time.Time `json:"updated_on"`
	Size      int64     `json:"size"`
}

func (s *Session) decodeRepository(i int, raw json.RawMessage, workspace string) (record.Repository, error) {
	var j repositoryJSON
	if err := decodeItem(i, raw, &j); err != nil {
		return record.Repository{}, err
	}
	if err := required(i, map[string]string{"uuid": j.UUID, "slug": j.Slug, "name": j.Name}); err != nil {
		return record.Repository{}, err
	}
	if err := checkFields(i, map[string]string{"description": j.Description, "name": j.Name, "slug": j.Slug}); err != nil {
		return record.Repository{}, err
	}
	r := record.Repository{
		UUID: j.UUID, Slug: j.Slug, Name: j.Name, FullName: j.FullName, Workspace: workspace,
		Description: j.Description, IsPrivate: j.IsPrivate, Language: strings.ToLower(j.Language),
		HTMLURL: j.Links.HTML.Href, CreatedOn: j.CreatedOn, UpdatedOn: j.UpdatedOn, SizeBytes: j.Size,
		Raw: raw,
	}
	if j.Workspace != nil && j.Workspace.Slug != "" {
		r.Workspace = j.Workspace.Slug
	}
	if j.Project != nil {
		r.ProjectKey, r.ProjectName = j.Project.Key, j.Project.Name
	}
	if j.MainBranch != nil {
		r.MainBranch = j.MainBranch.Name
	}
	for _, c := range j.Links.Clone {
		switch c.Name {
		case "https":
			r.CloneHTTPSURL = withoutUser(c.Href)
		case "ssh":
			r.CloneSSHURL = c.Href
		}
	}
	return r, nil
}

// withoutUser drops the caller's user name Bitbucket embeds in https clone
// links: it describes who asked, not the repository.
func withoutUser(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	u.User = nil
	return u.String()
}

func decodePullRequest(i int, raw json.RawMessage, repoUUID string) (record.PullRequest, error) {
	var j bitbucketjson.PullRequest
	if err := decodeItem(i, raw, &j); err != nil {
		return record.PullRequest{}, err
	}
	if j.ID <= 0 {
		return record.PullRequest{}, &DecodeError{Err: fmt.Errorf("values[%d] has no positive id", i), Retryable: true}
	}
	if j.UpdatedOn.IsZero() {
		return record.PullRequest{}, &DecodeError{Err: fmt.Errorf("values[%d] has no updated_on", i), Retryable: true}
	}
	if err := checkFields(i, map[string]string{"title": j.Title}); err != nil {
		return record.PullRequest{}, err
	}
	pr := j.Record(repoUUID)
	return pr, nil
}

func decodeCommit(i int, raw json.RawMessage, repoUUID string) (record.Commit, error) {
	var j bitbucketjson.Commit
	if err := decodeItem(i, raw, &j); err != nil {
		return record.Commit{}, err
	}
	if err := required(i, map[string]string{"hash": j.Hash}); err != nil {
		return record.Commit{}, err
	}
	if err := checkFields(i, map[string]string{"message": j.Message, "hash": j.Hash}); err != nil {
		return record.Commit{}, err
	}
	c := j.Record(repoUUID)
	return c, nil
}
