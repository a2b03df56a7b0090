package integration

import (
	"fmt"
	"slices"
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
)

// shape is what a path may reach in a Bitbucket repository's JSON: a
// scalar (no fields), an object with known fields, an object whose content
// is not pinned down (open), or a list of one shape.
type shape struct {
	fields map[string]*shape
	open   bool
	list   *shape
}

var (
	scalar = &shape{}
	open   = &shape{open: true}
	link   = &shape{fields: map[string]*shape{"href": scalar, "name": scalar}}
)

// repositoryShape is the Bitbucket Cloud repository object as the API
// returns it (GET /2.0/repositories/{workspace}/{repo_slug}); field mappings
// and correlation rules read it. Nested accounts and projects are open:
// their fields vary with the account type and API version.
var repositoryShape = &shape{fields: map[string]*shape{
	"type": scalar, "uuid": scalar, "full_name": scalar, "name": scalar, "slug": scalar, "description": scalar,
	"scm": scalar, "website": scalar, "is_private": scalar, "has_issues": scalar, "has_wiki": scalar, "fork_policy": scalar,
	"language": scalar, "created_on": scalar, "updated_on": scalar, "size": scalar,
	"mainbranch": {fields: map[string]*shape{"name": scalar, "type": scalar}},
	"owner":      open, "workspace": open, "project": open, "parent": open, "override_settings": open,
	"links": {fields: map[string]*shape{
		"self": link, "html": link, "avatar": link, "pullrequests": link, "commits": link, "forks": link, "watchers": link,
		"downloads": link, "hooks": link, "tags": link, "branches": link, "source": link,
		"clone": {list: link},
	}},
}}

// reach reports why path cannot reach anything in s, or "" when it can.
func (s *shape) reach(segs []string) string {
	for i := 0; i < len(segs); i++ {
		seg := segs[i]
		switch {
		case s.open:
			return ""
		case s.list != nil:
			if catalog.IsIndex(seg) {
				s = s.list
				continue
			}
			s, i = s.list, i-1 // the rest applies to each element
		case s.fields == nil:
			return fmt.Sprintf("%s holds a single value and has no field %q", strings.Join(segs[:i], "."), seg)
		default:
			next, ok := s.fields[seg]
			if !ok {
				where := "the repository"
				if i > 0 {
					where = strings.Join(segs[:i], ".")
				}
				return fmt.Sprintf("%s has no field %q; it has %s", where, seg, strings.Join(sortedKeys(s.fields), ", "))
			}
			s = next
		}
	}
	if s.fields != nil {
		return fmt.Sprintf("%s is an object: name a field inside it, e.g. %s.%s", strings.Join(segs, "."), strings.Join(segs, "."), sortedKeys(s.fields)[0])
	}
	return ""
}

func sortedKeys(m map[string]*shape) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkRepositoryPath checks a path into a repository's JSON (a field
// mapping's path): its syntax, and that it can reach a value there. It
// returns what is wrong, or "".
func checkRepositoryPath(p string) string {
	if p == "" {
		return "required"
	}
	path, err := catalog.ParsePath(p)
	if err != nil {
		return err.Error()
	}
	if why := repositoryShape.reach(path.Segments()); why != "" {
		return fmt.Sprintf("path %q can never match: %s", p, why)
	}
	return ""
}

// checkIngestedPath checks a correlation rule's ingested path, which
// reads the mapped properties (names) first and the repository's JSON
// after: it must start with a mapped name or reach a value in the JSON.
func checkIngestedPath(p string, names []string) string {
	if p == "" {
		return "required"
	}
	path, err := catalog.ParsePath(p)
	if err != nil {
		return err.Error()
	}
	segs := path.Segments()
	for _, n := range names {
		ns := strings.Split(n, ".")
		if len(segs) >= len(ns) && slices.Equal(segs[:len(ns)], ns) {
			return ""
		}
	}
	if why := repositoryShape.reach(segs); why != "" {
		return fmt.Sprintf("path %q can never match: it is not a mapped field (%s) and in the repository JSON %s", p, strings.Join(names, ", "), why)
	}
	return ""
}

// checkCatalogPath checks a correlation rule's catalog path.
func checkCatalogPath(p string) string {
	if p == "" {
		return "required"
	}
	if _, err := catalog.ParseCatalogPath(p); err != nil {
		return err.Error()
	}
	return ""
}
