package bitbucketmock

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

func TestSourceServesGeneratedCodeOwners(t *testing.T) {
	run := Start(t, Config{Seed: 7, Repos: 200, PRsPerRepo: 1, CommitsPerRepo: 3})
	places := map[string]int{}
	for _, info := range run.Repos() {
		p, text, err := run.CodeOwners(info.Slug)
		if err != nil {
			t.Fatal(err)
		}
		places[p]++
		for _, probe := range []string{".bitbucket/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"} {
			rev := info.MainBranch
			if rev == "" {
				rev = "main"
			}
			r := get(t, run, "/repositories/acme/"+info.Slug+"/src/"+rev+"/"+probe)
			switch {
			case probe == p:
				if r.status != http.StatusOK || string(r.body) != text || r.header.Get("ETag") == "" {
					t.Fatalf("%s %s: status %d body %q, want 200 %q with an ETag", info.Slug, probe, r.status, r.body, text)
				}
			case r.status != http.StatusNotFound:
				t.Fatalf("%s %s: status %d, want 404", info.Slug, probe, r.status)
			}
		}
		if p == "" {
			continue
		}
		if info.MainBranch == "" {
			t.Fatalf("%s is empty and has a CODEOWNERS file", info.Slug)
		}
		team := CodeOwnersTeam("acme", run.projectName(info.ProjectKey))
		if !strings.Contains(text, "\n* "+team+" ") {
			t.Fatalf("%s: catch-all rule does not name %s:\n%s", info.Slug, team, text)
		}
	}
	// Most repositories have one, spread over the three places, and some none.
	for _, p := range []string{".bitbucket/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ""} {
		if places[p] == 0 {
			t.Errorf("no repository has its CODEOWNERS at %q: %v", p, places)
		}
	}
	if c := run.Counters(); c.ByEndpoint["src"] == 0 {
		t.Fatalf("src requests not counted: %v", c.ByEndpoint)
	}
}

func TestSourceAtCommitHashAndUnknownRevision(t *testing.T) {
	run := Start(t, Config{Seed: 3, Repos: 1, CommitsPerRepo: 2})
	info := run.Repos()[0]
	if _, err := run.SetFile(info.Slug, "CODEOWNERS", "* @acme/x\n"); err != nil {
		t.Fatal(err)
	}
	commits := values(getJSON(t, run, "/repositories/acme/"+info.Slug+"/commits/"+info.MainBranch))
	hash := commits[0]["hash"].(string)
	if r := get(t, run, "/repositories/acme/"+info.Slug+"/src/"+hash[:12]+"/CODEOWNERS"); r.status != 200 || string(r.body) != "* @acme/x\n" {
		t.Fatalf("at %s: %d %q", hash[:12], r.status, r.body)
	}
	r := get(t, run, "/repositories/acme/"+info.Slug+"/src/no-such-branch/CODEOWNERS")
	if r.status != http.StatusNotFound || !strings.Contains(errorMessage(t, r), "no-such-branch") {
		t.Fatalf("unknown revision: %d %s", r.status, r.body)
	}
	if r := request(t, run, "/repositories/acme/"+info.Slug+"/src/"+info.MainBranch+"/CODEOWNERS", ""); r.status != http.StatusForbidden {
		t.Fatalf("anonymous read of a private repository: %d", r.status)
	}
}

func TestSetAndRemoveFileThroughControlAPI(t *testing.T) {
	run := Start(t, Config{Seed: 11, Repos: 1, CommitsPerRepo: 2})
	info := run.Repos()[0]
	put := func(method, body string) int {
		req, _ := http.NewRequest(method, run.ControlURL+"/repos/"+info.Slug+"/files/.bitbucket/CODEOWNERS", bytes.NewBufferString(body))
		resp, err := run.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := put(http.MethodPut, "* @acme/payments\n"); st != http.StatusOK {
		t.Fatalf("PUT: %d", st)
	}
	after, _ := run.Repo(info.Slug)
	if !after.UpdatedOn.After(info.UpdatedOn) || after.Commits != info.Commits+1 {
		t.Fatalf("setting a file is not a push: %+v then %+v", info, after)
	}
	p, text, _ := run.CodeOwners(info.Slug)
	if p != ".bitbucket/CODEOWNERS" || text != "* @acme/payments\n" {
		t.Fatalf("CodeOwners = %q %q", p, text)
	}
	if st := put(http.MethodDelete, ""); st != http.StatusOK {
		t.Fatalf("DELETE: %d", st)
	}
	if r := get(t, run, "/repositories/acme/"+info.Slug+"/src/"+info.MainBranch+"/.bitbucket/CODEOWNERS"); r.status != http.StatusNotFound {
		t.Fatalf("removed file still served: %d", r.status)
	}
	if _, err := run.SetFile(info.Slug, "/", "y"); err == nil {
		t.Fatal("an empty path was accepted")
	}
}

func (s *Server) projectName(key string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.projectByKey[key].name
}
