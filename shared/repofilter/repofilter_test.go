package repofilter

import (
	"reflect"
	"testing"
	"time"
)

func TestEvaluate(t *testing.T) {
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	repo := Repository{ProjectKey: "PAY", Slug: "payments-api", Name: "Payments API", IsPrivate: true, UpdatedOn: jan.AddDate(0, 3, 0)}
	with := func(change func(*Repository)) Repository { r := repo; change(&r); return r }
	for _, tc := range []struct {
		name   string
		f      Filter
		r      Repository
		reason string // empty: included
	}{
		{"zero filter keeps everything", Filter{}, repo, ""},
		{"included project", Filter{IncludeProjects: []string{"OPS", "PAY"}}, repo, ""},
		{"project key compared upper-case", Filter{IncludeProjects: []string{"PAY"}}, with(func(r *Repository) { r.ProjectKey = "pay" }), ""},
		{"project not included", Filter{IncludeProjects: []string{"OPS"}}, repo, "project PAY is not among the included projects (OPS)"},
		{"no project, includes set", Filter{IncludeProjects: []string{"OPS"}}, with(func(r *Repository) { r.ProjectKey = "" }),
			"project (none) is not among the included projects (OPS)"},
		{"project excluded", Filter{ExcludeProjects: []string{"PAY"}}, repo, "project PAY is excluded"},
		{"include glob on slug", Filter{IncludeNames: []string{"payments-*"}}, repo, ""},
		{"include glob on name, case ignored", Filter{IncludeNames: []string{"payments ap?"}}, repo, ""},
		{"include glob misses", Filter{IncludeNames: []string{"web-*", "*-ui"}}, repo,
			`neither slug payments-api nor name "Payments API" matches an included name (web-*, *-ui)`},
		{"exclude glob", Filter{ExcludeNames: []string{"*-sandbox", "*-API"}}, repo, "matches the excluded name *-API"},
		{"exclude wins over include", Filter{IncludeNames: []string{"pay*"}, ExcludeNames: []string{"*api"}}, repo, "matches the excluded name *api"},
		{"character class", Filter{ExcludeNames: []string{"[p-q]*"}}, repo, "matches the excluded name [p-q]*"},
		{"private only keeps private", Filter{Visibility: PrivateOnly}, repo, ""},
		{"public only leaves private out", Filter{Visibility: PublicOnly}, repo, "private repository; the filter keeps public ones only"},
		{"private only leaves public out", Filter{Visibility: PrivateOnly}, with(func(r *Repository) { r.IsPrivate = false }),
			"public repository; the filter keeps private ones only"},
		{"forks included by default", Filter{}, with(func(r *Repository) { r.IsFork = true }), ""},
		{"forks excluded", Filter{Forks: ExcludeForks}, with(func(r *Repository) { r.IsFork = true }), "fork; the filter leaves forks out"},
		{"non-fork kept when forks excluded", Filter{Forks: ExcludeForks}, repo, ""},
		{"forks only", Filter{Forks: OnlyForks}, repo, "not a fork; the filter keeps forks only"},
		{"updated since kept", Filter{UpdatedSince: jan}, repo, ""},
		{"updated exactly at the date kept", Filter{UpdatedSince: jan}, with(func(r *Repository) { r.UpdatedOn = jan }), ""},
		{"inactive left out", Filter{UpdatedSince: jan}, with(func(r *Repository) { r.UpdatedOn = jan.Add(-time.Hour) }),
			"not updated since 2026-01-01 (last update 2025-12-31)"},
		{"unknown update time kept", Filter{UpdatedSince: jan}, with(func(r *Repository) { r.UpdatedOn = time.Time{} }), ""},
		{"first failing part named", Filter{ExcludeProjects: []string{"PAY"}, Visibility: PublicOnly}, repo, "project PAY is excluded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.f.Evaluate(tc.r)
			want := Verdict{Included: tc.reason == "", Reason: tc.reason}
			if got != want {
				t.Fatalf("Evaluate = %+v, want %+v", got, want)
			}
		})
	}
}

func TestQuery(t *testing.T) {
	since := time.Date(2026, 2, 3, 4, 5, 6, 0, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		name string
		f    Filter
		want string
	}{
		{"nothing", Filter{}, ""},
		{"names and forks stay on the client", Filter{IncludeNames: []string{"a*"}, ExcludeNames: []string{"b"}, Forks: ExcludeForks}, ""},
		{"one project", Filter{IncludeProjects: []string{"PAY"}}, `project.key IN ("PAY")`},
		{"everything", Filter{IncludeProjects: []string{"A", "B"}, ExcludeProjects: []string{"C"}, Visibility: PublicOnly, UpdatedSince: since},
			`project.key IN ("A", "B") AND project.key NOT IN ("C") AND is_private = false AND updated_on >= 2026-02-03T03:05:06+00:00`},
		{"private", Filter{Visibility: PrivateOnly}, `is_private = true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Query(); got != tc.want {
				t.Fatalf("Query = %q, want %q", got, tc.want)
			}
		})
	}
}

// A repository the server part leaves out is left out by the whole filter:
// what Bitbucket does not list, the client would not have kept.
func TestServerIsWeaker(t *testing.T) {
	f := Filter{IncludeProjects: []string{"A"}, ExcludeNames: []string{"x*"}, Forks: OnlyForks, Visibility: PrivateOnly}
	for _, r := range []Repository{{ProjectKey: "B", IsPrivate: true, IsFork: true}, {ProjectKey: "A", IsPrivate: false, IsFork: true}} {
		if f.Server().Evaluate(r).Included || f.Evaluate(r).Included {
			t.Fatalf("%+v: server part and whole filter disagree", r)
		}
	}
	if got := f.Server(); len(got.ExcludeNames) > 0 || got.Forks != IncludeForks {
		t.Fatalf("Server kept client-side parts: %+v", got)
	}
}

func TestNormalize(t *testing.T) {
	got, probs := Filter{IncludeProjects: []string{" pay", "OPS", "PAY"}, IncludeNames: []string{"b*", " a* "}}.Normalize()
	want := Filter{IncludeProjects: []string{"OPS", "PAY"}, IncludeNames: []string{"a*", "b*"}}
	if len(probs) > 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("Normalize = %+v, %v; want %+v", got, probs, want)
	}
	_, probs = Filter{
		IncludeProjects: []string{"PAY", "has space"},
		ExcludeProjects: []string{"PAY"},
		ExcludeNames:    []string{"[a-", "a/b", ""},
		Visibility:      "secret",
		Forks:           "maybe",
	}.Normalize()
	wantProbs := []Problem{
		{"exclude_names[0]", `"[a-" is not a name pattern: use *, ? and [a-z] over a slug or name, no /, at most 200 characters`},
		{"exclude_names[1]", `"a/b" is not a name pattern: use *, ? and [a-z] over a slug or name, no /, at most 200 characters`},
		{"exclude_names[2]", `"" is not a name pattern: use *, ? and [a-z] over a slug or name, no /, at most 200 characters`},
		{"exclude_projects", "project PAY is both included and excluded"},
		{"forks", `unknown fork policy "maybe": want exclude, only or empty to include them`},
		{"include_projects[1]", `"has space" is not a Bitbucket project key (letters, digits and _, starting with a letter)`},
		{"visibility", `unknown visibility "secret": want private, public or empty for both`},
	}
	if !reflect.DeepEqual(probs, wantProbs) {
		t.Fatalf("problems:\n got %q\nwant %q", probs, wantProbs)
	}
}

func TestFromJSON(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want Repository
	}{
		{`{"slug":"a","name":"A","is_private":true,"updated_on":"2026-01-02T03:04:05.123456+00:00","project":{"key":"P"},"parent":null}`,
			Repository{ProjectKey: "P", Slug: "a", Name: "A", IsPrivate: true, UpdatedOn: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)}},
		{`{"slug":"f","parent":{"full_name":"ws/a"}}`, Repository{Slug: "f", IsFork: true}},
		{`{"slug":"g"}`, Repository{Slug: "g"}},
	} {
		got, err := FromJSON([]byte(tc.raw))
		if err != nil {
			t.Fatal(err)
		}
		if !got.UpdatedOn.Equal(tc.want.UpdatedOn) {
			t.Fatalf("%s: updated_on %v, want %v", tc.raw, got.UpdatedOn, tc.want.UpdatedOn)
		}
		got.UpdatedOn = tc.want.UpdatedOn
		if got != tc.want {
			t.Fatalf("%s: %+v, want %+v", tc.raw, got, tc.want)
		}
	}
	if _, err := FromJSON([]byte(`[`)); err == nil {
		t.Fatal("bad JSON accepted")
	}
}
