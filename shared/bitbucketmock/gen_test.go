package bitbucketmock

import (
	"bytes"
	"runtime"
	"strconv"
	"testing"
	"time"
)

func TestGenerationIsDeterministic(t *testing.T) {
	t.Parallel()
	cfg := Config{Seed: 77, Repos: 25, PRsPerRepo: 4, CommitsPerRepo: 6}
	a, b := Start(t, cfg), Start(t, cfg)
	cfg.Seed = 78
	c := Start(t, cfg)
	for _, path := range []string{
		"/repositories/acme?pagelen=100&fields=-values.links,-values.owner.links,-values.workspace.links,-values.project.links",
		"/workspaces/acme/projects?fields=values.uuid,values.name",
	} {
		pa, pb, pc := get(t, a, path).body, get(t, b, path).body, get(t, c, path).body
		if !bytes.Equal(pa, pb) {
			t.Fatalf("%s: same seed, different data", path)
		}
		if bytes.Equal(pa, pc) {
			t.Fatalf("%s: different seeds, same data", path)
		}
	}
	if a.BaseTime() != b.BaseTime() || a.BaseTime().After(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("base time %v / %v", a.BaseTime(), b.BaseTime())
	}
	repo := firstFull(t, a)
	for _, sub := range []string{"/pullrequests?state=MERGED&state=OPEN&state=DECLINED&state=SUPERSEDED", "/commits", "/refs/branches"} {
		path := "/repositories/acme/" + repo.Slug + sub
		body := func(run *Running) []byte { return bytes.ReplaceAll(get(t, run, path).body, []byte(run.URL), nil) }
		if !bytes.Equal(body(a), body(b)) {
			t.Fatalf("%s differs between runs", sub)
		}
	}
}

// TestScale checks the memory promise: 20,000 repositories with 25 pull
// requests and 25 commits each (a million objects) stay within tens of
// megabytes, and serving a page does not walk them all.
func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 20,000 repositories")
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := New(Config{Seed: 1, Repos: 20_000, PRsPerRepo: 25, CommitsPerRepo: 25})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("20,000 repositories: %.1f MB of heap", float64(heap)/(1<<20))
	if heap > 40<<20 {
		t.Fatalf("generation holds %d MB, want under 40", heap>>20)
	}
	run, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	doc := getJSON(t, run, "/repositories/acme?pagelen=100&page=200")
	if doc["size"] != 20_000.0 || len(values(doc)) != 100 {
		t.Fatalf("last page: size %v, %d values", doc["size"], len(values(doc)))
	}
	repos := s.Repos()
	last := repos[len(repos)-1]
	if last.PullRequests != 25 && last.PullRequests != 0 {
		t.Fatalf("last repository has %d pull requests", last.PullRequests)
	}
	start := time.Now()
	getJSON(t, run, "/repositories/acme/"+last.Slug+"/pullrequests?state=OPEN&state=MERGED&pagelen=50")
	getJSON(t, run, "/repositories/acme/"+last.Slug+"/commits?pagelen=100")
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("a repository's pull requests and commits took %v", took)
	}
	// A filtered, sorted listing costs one pass, then pages come from the cache.
	passes := func() int {
		s.cache.mu.Lock()
		defer s.cache.mu.Unlock()
		return s.cache.builds
	}
	passesBefore := passes()
	q := "/repositories/acme?pagelen=100&sort=-updated_on&q=" + "updated_on%3E2025-01-01"
	for page := 1; page <= 6; page++ {
		getJSON(t, run, q+"&page="+strconv.Itoa(page))
	}
	if passes := passes() - passesBefore; passes != 1 {
		t.Fatalf("6 pages of one filtered, sorted listing made %d passes over the repositories, want 1", passes)
	}
}

func TestSlugify(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"payments-service": "payments-service", "Café Renamed": "cafe-renamed", "Straße  42": "strasse-42",
		"日本語": "repo", "--Hello, World!--": "hello-world", "v1.2_beta": "v1.2_beta",
	} {
		if got := slugify(in); got != want {
			t.Fatalf("slugify(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCompareNatural(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"v9", "v10", -1}, {"v10", "v9", 1}, {"v1.2.0", "v1.10.0", -1}, {"a", "a", 0},
		{"v01", "v1", 0}, {"release", "release-1", -1}, {"b", "a", 1},
	} {
		if got := compareNatural(tc.a, tc.b); (got > 0) != (tc.want > 0) || (got < 0) != (tc.want < 0) {
			t.Fatalf("compareNatural(%q, %q) = %d, want sign of %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestEncodeJSON(t *testing.T) {
	t.Parallel()
	got := string(encodeJSON(nil, obj{{"s", "a\"b\\c\n\x01é\xff"}, {"n", -3}, {"b", true}, {"z", nil}, {"l", []any{obj{}, "x"}}}))
	want := `{"s": "a\"b\\c\n\u0001é` + "\uFFFD" + `", "n": -3, "b": true, "z": null, "l": [{}, "x"]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
