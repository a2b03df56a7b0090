package webhook

import (
	"testing"

	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
)

// FuzzDecide feeds Decide whatever a signed sender could post: it never
// panics, and what it accepts names a repository and, for pull request
// and push events, well-formed items.
func FuzzDecide(f *testing.F) {
	f.Add("pullrequest:fulfilled", pr("MERGED"))
	f.Add("repo:push", push(`{"new":{"type":"branch","name":"main"},"old":{"type":"branch","name":"main"},"truncated":true,"commits":[`+commit+`]}`))
	f.Add("repo:deleted", `{`+repoJSON+`}`)
	f.Add("repo:push", `{"repository":{"uuid":"{x}","full_name":"a/b"},"push":{"changes":[{"new":null,"old":null}]}}`)
	f.Fuzz(func(t *testing.T, event, body string) {
		if err := Verify("s", []byte(body), bitbucketmock.Signature("s", []byte(body))); err != nil {
			t.Fatalf("Verify refused its own signature: %v", err)
		}
		a, err := Decide(event, []byte(body))
		if err != nil || a.Kind == Ignore {
			return
		}
		if a.Repository.UUID == "" || a.Repository.Slug == "" {
			t.Fatalf("accepted %s without a repository: %+v", event, a)
		}
		if a.Kind == ApplyPullRequest && (a.PullRequest.ID <= 0 || a.PullRequest.UpdatedOn.IsZero()) {
			t.Fatalf("accepted a pull request without id or updated_on: %+v", a.PullRequest)
		}
		for _, c := range a.Changes {
			for _, cm := range c.Commits {
				if cm.Hash == "" {
					t.Fatalf("accepted a commit without hash: %+v", a)
				}
			}
		}
	})
}
