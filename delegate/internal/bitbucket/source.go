package bitbucket

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

type counterKey struct{}

// CountingRequests returns a context under which every request made,
// retries included, also adds one to n: how a caller tells what one kind
// of work cost while other work shares the session.
func CountingRequests(ctx context.Context, n *atomic.Int64) context.Context {
	return context.WithValue(ctx, counterKey{}, n)
}

func countRequest(ctx context.Context) {
	if n, _ := ctx.Value(counterKey{}).(*atomic.Int64); n != nil {
		n.Add(1)
	}
}

// FileURL is the raw content of path at revision (a branch name or a
// commit hash) in a repository.
func (s *Session) FileURL(workspace, slug, revision, path string) string {
	segments := append([]string{"repositories", workspace, slug, "src", revision}, strings.Split(path, "/")...)
	return s.endpoint(url.Values{}, segments...)
}

// File fetches the raw content of path at revision, up to maxBytes (the
// rest is cut). found is false when the file, the revision or the
// repository does not exist (404).
func (s *Session) File(ctx context.Context, workspace, slug, revision, path string, maxBytes int) (content string, found bool, _ error) {
	err := s.get(ctx, s.FileURL(workspace, slug, revision, path), func(_ http.Header, body []byte) error {
		if len(body) > maxBytes {
			body = body[:maxBytes]
		}
		content = string(body)
		return nil
	})
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return content, true, nil
}
