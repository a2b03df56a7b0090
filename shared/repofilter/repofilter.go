// Package repofilter is the one evaluator of an integration's repository
// filter: which repositories of a workspace the integration discovers.
// The control plane evaluates it over the repositories it stores (the
// Discovered list, imports, auto-import); the delegate asks Bitbucket to
// apply the part it can (Query) and evaluates the rest before it fetches a
// repository's pull requests and commits. Both call the same functions, so
// the two sides never disagree about a repository.
package repofilter

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Visibility keeps private or public repositories only.
type Visibility string

// Visibilities.
const (
	AnyVisibility Visibility = ""
	PrivateOnly   Visibility = "private"
	PublicOnly    Visibility = "public"
)

// Forks says what becomes of repositories that are forks of another.
type Forks string

// Fork policies.
const (
	IncludeForks Forks = ""        // forks are discovered like any repository (the default)
	ExcludeForks Forks = "exclude" // forks are left out
	OnlyForks    Forks = "only"    // only forks are discovered
)

// Filter selects the repositories an integration discovers. The zero
// Filter keeps every repository. A repository is kept when it passes every
// part that is set.
type Filter struct {
	// IncludeProjects keeps only repositories of these project keys; empty
	// keeps every project.
	IncludeProjects []string `json:"include_projects,omitempty"`
	// ExcludeProjects leaves out repositories of these project keys.
	ExcludeProjects []string `json:"exclude_projects,omitempty"`
	// IncludeNames keeps only repositories whose slug or name matches one of
	// these globs (*, ?, [a-z]; case ignored); empty keeps every name.
	IncludeNames []string `json:"include_names,omitempty"`
	// ExcludeNames leaves out repositories whose slug or name matches one
	// of these globs.
	ExcludeNames []string   `json:"exclude_names,omitempty"`
	Visibility   Visibility `json:"visibility,omitempty"`
	Forks        Forks      `json:"forks,omitempty"`
	// UpdatedSince leaves out repositories not updated (no push, no change
	// of their settings) since then; zero keeps them all.
	UpdatedSince time.Time `json:"updated_since,omitzero"`
}

// Repository is what the filter reads of a repository.
type Repository struct {
	ProjectKey string
	Slug       string
	Name       string
	IsPrivate  bool
	IsFork     bool
	UpdatedOn  time.Time // zero when unknown: kept by UpdatedSince
}

// Verdict is the outcome of a filter for one repository.
type Verdict struct {
	Included bool
	// Reason says which part of the filter leaves the repository out,
	// e.g. `project LEGACY is excluded`; empty when included.
	Reason string
}

// IsZero reports whether the filter keeps every repository.
func (f Filter) IsZero() bool {
	return len(f.IncludeProjects) == 0 && len(f.ExcludeProjects) == 0 && len(f.IncludeNames) == 0 &&
		len(f.ExcludeNames) == 0 && f.Visibility == AnyVisibility && f.Forks == IncludeForks && f.UpdatedSince.IsZero()
}

// Evaluate decides whether r is discovered. The checks run in a fixed order
// (projects, names, visibility, forks, activity), so the reason is stable.
func (f Filter) Evaluate(r Repository) Verdict {
	key := strings.ToUpper(r.ProjectKey)
	switch {
	case len(f.IncludeProjects) > 0 && !slices.Contains(f.IncludeProjects, key):
		return out("project %s is not among the included projects (%s)", orNone(key), strings.Join(f.IncludeProjects, ", "))
	case slices.Contains(f.ExcludeProjects, key):
		return out("project %s is excluded", key)
	}
	if len(f.IncludeNames) > 0 {
		if _, ok := matchAny(f.IncludeNames, r); !ok {
			return out("neither slug %s nor name %q matches an included name (%s)", r.Slug, r.Name, strings.Join(f.IncludeNames, ", "))
		}
	}
	if g, ok := matchAny(f.ExcludeNames, r); ok {
		return out("matches the excluded name %s", g)
	}
	switch {
	case f.Visibility == PrivateOnly && !r.IsPrivate:
		return out("public repository; the filter keeps private ones only")
	case f.Visibility == PublicOnly && r.IsPrivate:
		return out("private repository; the filter keeps public ones only")
	case f.Forks == ExcludeForks && r.IsFork:
		return out("fork; the filter leaves forks out")
	case f.Forks == OnlyForks && !r.IsFork:
		return out("not a fork; the filter keeps forks only")
	case !f.UpdatedSince.IsZero() && !r.UpdatedOn.IsZero() && r.UpdatedOn.Before(f.UpdatedSince):
		return out("not updated since %s (last update %s)", f.UpdatedSince.UTC().Format(time.DateOnly), r.UpdatedOn.UTC().Format(time.DateOnly))
	}
	return Verdict{Included: true}
}

func out(format string, args ...any) Verdict {
	return Verdict{Reason: fmt.Sprintf(format, args...)}
}

func orNone(key string) string {
	if key == "" {
		return "(none)"
	}
	return key
}

// matchAny returns the first glob matching the slug or the name, ignoring case.
func matchAny(globs []string, r Repository) (string, bool) {
	slug, name := strings.ToLower(r.Slug), strings.ToLower(r.Name)
	for _, g := range globs {
		lg := strings.ToLower(g)
		if ok, _ := path.Match(lg, slug); ok {
			return g, true
		}
		if ok, _ := path.Match(lg, name); ok {
			return g, true
		}
	}
	return "", false
}

// Server is the part of f that Bitbucket evaluates itself in a repository
// listing's q parameter: projects, visibility and activity. Repositories
// it leaves out are never listed, so they cost no request at all.
func (f Filter) Server() Filter {
	return Filter{IncludeProjects: f.IncludeProjects, ExcludeProjects: f.ExcludeProjects, Visibility: f.Visibility,
		UpdatedSince: f.UpdatedSince}
}

// Query is the BBQL expression of f.Server() for the q parameter of
// GET /repositories/{workspace}; empty when nothing is left to Bitbucket.
func (f Filter) Query() string {
	var parts []string
	if len(f.IncludeProjects) > 0 {
		parts = append(parts, "project.key IN "+bbqlList(f.IncludeProjects))
	}
	if len(f.ExcludeProjects) > 0 {
		parts = append(parts, "project.key NOT IN "+bbqlList(f.ExcludeProjects))
	}
	switch f.Visibility {
	case PrivateOnly:
		parts = append(parts, "is_private = true")
	case PublicOnly:
		parts = append(parts, "is_private = false")
	}
	if !f.UpdatedSince.IsZero() {
		parts = append(parts, "updated_on >= "+f.UpdatedSince.UTC().Format("2006-01-02T15:04:05-07:00"))
	}
	return strings.Join(parts, " AND ")
}

// bbqlList renders ("A", "B"); project keys hold no quotes (Normalize).
func bbqlList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = `"` + k + `"`
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// Problem is one invalid part of a filter; Field is relative to the
// filter, e.g. "include_projects[1]".
type Problem struct {
	Field   string
	Message string
}

var projectKeyPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,127}$`)

// MaxEntries bounds each list of a filter.
const MaxEntries = 100

// Normalize returns f with project keys upper-cased (Bitbucket keys are),
// names trimmed, duplicates dropped and lists sorted, so that two equal
// filters compare equal, and the problems found; f is usable only when
// there are none.
func (f Filter) Normalize() (Filter, []Problem) {
	var probs []Problem
	add := func(field, format string, args ...any) {
		probs = append(probs, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	keys := func(field string, in []string) []string {
		var outKeys []string
		for i, k := range in {
			k = strings.ToUpper(strings.TrimSpace(k))
			if !projectKeyPattern.MatchString(k) {
				add(fmt.Sprintf("%s[%d]", field, i), "%q is not a Bitbucket project key (letters, digits and _, starting with a letter)", in[i])
				continue
			}
			outKeys = append(outKeys, k)
		}
		return sortedUnique(outKeys)
	}
	globs := func(field string, in []string) []string {
		var outGlobs []string
		for i, g := range in {
			g = strings.TrimSpace(g)
			if _, err := path.Match(g, ""); err != nil || g == "" || strings.Contains(g, "/") || len(g) > 200 {
				add(fmt.Sprintf("%s[%d]", field, i), "%q is not a name pattern: use *, ? and [a-z] over a slug or name, no /, at most 200 characters", in[i])
				continue
			}
			outGlobs = append(outGlobs, g)
		}
		return sortedUnique(outGlobs)
	}
	n := Filter{
		IncludeProjects: keys("include_projects", f.IncludeProjects),
		ExcludeProjects: keys("exclude_projects", f.ExcludeProjects),
		IncludeNames:    globs("include_names", f.IncludeNames),
		ExcludeNames:    globs("exclude_names", f.ExcludeNames),
		Visibility:      f.Visibility,
		Forks:           f.Forks,
		UpdatedSince:    f.UpdatedSince.UTC(),
	}
	for field, l := range map[string][]string{"include_projects": f.IncludeProjects, "exclude_projects": f.ExcludeProjects,
		"include_names": f.IncludeNames, "exclude_names": f.ExcludeNames} {
		if len(l) > MaxEntries {
			add(field, "at most %d entries", MaxEntries)
		}
	}
	for _, k := range n.IncludeProjects {
		if slices.Contains(n.ExcludeProjects, k) {
			add("exclude_projects", "project %s is both included and excluded", k)
		}
	}
	switch n.Visibility {
	case AnyVisibility, PrivateOnly, PublicOnly:
	default:
		add("visibility", "unknown visibility %q: want private, public or empty for both", f.Visibility)
	}
	switch n.Forks {
	case IncludeForks, ExcludeForks, OnlyForks:
	default:
		add("forks", "unknown fork policy %q: want exclude, only or empty to include them", f.Forks)
	}
	slices.SortFunc(probs, func(a, b Problem) int { return strings.Compare(a.Field, b.Field) })
	return n, probs
}

func sortedUnique(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// rawRepository is the part of a Bitbucket repository object the filter reads.
type rawRepository struct {
	Slug      string          `json:"slug"`
	Name      string          `json:"name"`
	IsPrivate bool            `json:"is_private"`
	UpdatedOn time.Time       `json:"updated_on"`
	Parent    json.RawMessage `json:"parent"`
	Project   struct {
		Key string `json:"key"`
	} `json:"project"`
}

// FromJSON reads what the filter needs from a repository object as
// Bitbucket returns it: a fork is a repository with a parent.
func FromJSON(raw []byte) (Repository, error) {
	var r rawRepository
	if err := json.Unmarshal(raw, &r); err != nil {
		return Repository{}, fmt.Errorf("repository JSON: %w", err)
	}
	parent := strings.TrimSpace(string(r.Parent))
	return Repository{ProjectKey: r.Project.Key, Slug: r.Slug, Name: r.Name, IsPrivate: r.IsPrivate,
		IsFork: parent != "" && parent != "null", UpdatedOn: r.UpdatedOn}, nil
}
