package bitbucketmock

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"
)

// The repository tree the mock serves under /src holds CODEOWNERS files
// only: generated for most non-empty repositories, set or removed through
// SetFile and RemoveFile. Every revision of a repository has the same
// files (a simplification: nothing reads history through /src).

// Where generated CODEOWNERS files are put: out of 100 non-empty
// repositories, about 45 keep it in .bitbucket/ (Bitbucket's own place), 20
// at the root (the Code Owners app's place), 5 in docs/, and 30 have none.
var codeOwnersPlaces = []struct {
	path    string
	percent int
}{{".bitbucket/CODEOWNERS", 45}, {"CODEOWNERS", 20}, {"docs/CODEOWNERS", 5}}

// CodeOwnersTeam is the workspace group a generated CODEOWNERS file names as
// the owner of a repository as a whole: the slug of its project's name.
func CodeOwnersTeam(workspace, projectName string) string {
	return "@" + workspace + "/" + slugify(projectName)
}

// generatedCodeOwners is the generated CODEOWNERS of r: its path and text,
// or "" when it has none. The catch-all rule names the project's team;
// more specific rules after it name others, as real files do.
func (s *Server) generatedCodeOwners(r *repo) (string, string) {
	if r.mainbranch == "" {
		return "", ""
	}
	g := newRNG(uint64(s.cfg.Seed), kindCodeOwners, uint64(r.idx))
	roll := g.intn(100)
	for _, p := range codeOwnersPlaces {
		if roll < p.percent {
			a, b := s.people[g.intn(len(s.people))], s.people[g.intn(len(s.people))]
			text := fmt.Sprintf("# Code owners of %s\n* %s @%s\ndocs/ %s/tech-writers\n*.sql @%s # schema reviews\n",
				r.name, CodeOwnersTeam(s.ws.slug, r.project.name), a.nickname, "@"+s.ws.slug, b.nickname)
			return p.path, text
		}
		roll -= p.percent
	}
	return "", ""
}

// file returns the content of path in r's tree.
func (s *Server) file(r *repo, p string) (string, bool) {
	if f, ok := r.files[p]; ok {
		if f == nil {
			return "", false
		}
		return *f, true
	}
	if gp, text := s.generatedCodeOwners(r); gp != "" && gp == p {
		return text, true
	}
	return "", false
}

// getSource serves GET /src/{commit}/{path}: the raw file at a branch name
// or commit hash, as Bitbucket does (no JSON envelope, an ETag from the
// content, Content-Disposition attachment). Directory listings and
// ?format=meta are not served.
func (s *Server) getSource(c *call) reply {
	r, bad := c.repo()
	if bad != nil {
		return *bad
	}
	rev, p := c.r.PathValue("commit"), path.Clean("/" + c.r.PathValue("path"))[1:]
	if r.mainbranch == "" {
		return errorReply(http.StatusNotFound, "Repository is empty")
	}
	if _, ok := s.revisionHistory(r, rev); !ok {
		return errorReply(http.StatusNotFound, fmt.Sprintf("Commit not found: %s", rev))
	}
	if c.r.URL.Query().Get("format") != "" {
		return errorReply(http.StatusBadRequest, "the mock serves raw file content only")
	}
	text, ok := s.file(r, p)
	if !ok {
		return errorReply(http.StatusNotFound, fmt.Sprintf("No such file or directory: %s", p))
	}
	sum := sha256.Sum256([]byte(text))
	h := http.Header{}
	h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	h.Set("Content-Disposition", "attachment; filename=\""+path.Base(p)+"\"")
	return reply{status: http.StatusOK, contentType: "application/octet-stream", body: []byte(text), header: h}
}

// CodeOwners returns the path and content of a repository's CODEOWNERS file
// among the usual places, "" when it has none.
func (s *Server) CodeOwners(ref string) (string, string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, err := s.mustRepo(ref)
	if err != nil {
		return "", "", err
	}
	for _, p := range codeOwnersPlaces {
		if text, ok := s.file(r, p.path); ok {
			return p.path, text, nil
		}
	}
	return "", "", nil
}

const maxFileBytes = 1 << 20

// SetFile commits content at path p on the main branch (one pushed commit,
// so updated_on moves as for any push).
func (s *Server) SetFile(ref, p, content string) (RepoInfo, error) {
	return s.changeFile(ref, p, &content)
}

// RemoveFile commits the removal of path p (generated or set).
func (s *Server) RemoveFile(ref, p string) (RepoInfo, error) { return s.changeFile(ref, p, nil) }

func (s *Server) changeFile(ref, p string, content *string) (RepoInfo, error) {
	clean := path.Clean("/" + p)[1:]
	if clean == "" || clean == "." || strings.HasPrefix(clean, "..") {
		return RepoInfo{}, fmt.Errorf("%w: file path %q", ErrInvalid, p)
	}
	if content != nil && len(*content) > maxFileBytes {
		return RepoInfo{}, fmt.Errorf("%w: file larger than %d bytes", ErrInvalid, maxFileBytes)
	}
	return s.mutateRepo(ref, func(r *repo, now time.Time) error {
		if r.files == nil {
			r.files = map[string]*string{}
		}
		r.files[clean] = content
		from := r.commitCount()
		old := s.head(r)
		s.push(r, 1, now)
		s.emitPush(r, from, old, false)
		return nil
	})
}
