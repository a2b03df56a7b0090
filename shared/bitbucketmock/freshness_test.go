package bitbucketmock

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// What moves updated_on: a repository's moves with commit activity (pushes,
// merges) and with its settings (name, project); pull request activity
// (opening, editing, approving, commenting, declining) moves only the pull
// request's.
func TestWhatMovesUpdatedOn(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC))
	run := Start(t, Config{Seed: 12, Repos: 6, PRsPerRepo: 3, CommitsPerRepo: 5, Clock: clock.Now})
	slug := firstFull(t, run).Slug
	open, err := run.OpenPR(slug, PRSpec{Title: "subject"})
	if err != nil {
		t.Fatal(err)
	}
	title := "edited"
	for _, tc := range []struct {
		name      string
		op        func() error
		repoMoves bool
		prMoves   bool   // open's updated_on
		afterSlug string // the slug after the operation, when it changes
	}{
		{"push", func() error { _, err := run.PushCommits(slug, 2); return err }, true, false, ""},
		{"open a pull request", func() error { _, err := run.OpenPR(slug, PRSpec{Title: "other"}); return err }, false, false, ""},
		{"edit a pull request", func() error { _, err := run.UpdatePR(slug, open.ID, PREdit{Title: &title}); return err }, false, true, ""},
		{"approve", func() error { _, err := run.ApprovePR(slug, open.ID); return err }, false, true, ""},
		{"comment", func() error { _, err := run.CommentPR(slug, open.ID, "hm"); return err }, false, true, ""},
		{"decline another", func() error {
			pr, err := run.OpenPR(slug, PRSpec{Title: "to decline"})
			if err == nil {
				clock.Advance(time.Second)
				_, err = run.DeclinePR(slug, pr.ID)
			}
			return err
		}, false, false, ""},
		{"merge", func() error { _, err := run.MergePR(slug, open.ID); return err }, true, true, ""},
		{"move", func() error { _, err := run.MoveRepo(slug, run.Repos()[1].ProjectKey); return err }, true, false, ""},
		{"rename", func() error { _, err := run.RenameRepo(slug, "renamed-subject"); return err }, true, false, "renamed-subject"},
	} {
		before, err := run.Repo(slug)
		if err != nil {
			t.Fatal(err)
		}
		prBefore := prUpdated(t, run, slug, open.ID)
		clock.Advance(time.Hour)
		if err := tc.op(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.afterSlug != "" {
			slug = tc.afterSlug
		}
		after, err := run.Repo(slug)
		if err != nil {
			t.Fatal(err)
		}
		if moved := !after.UpdatedOn.Equal(before.UpdatedOn); moved != tc.repoMoves {
			t.Errorf("%s: repository updated_on moved %v, want %v", tc.name, moved, tc.repoMoves)
		}
		if tc.repoMoves && !after.UpdatedOn.Equal(clock.Now()) {
			t.Errorf("%s: repository updated_on %v, want the clock's %v", tc.name, after.UpdatedOn, clock.Now())
		}
		api := getJSON(t, run, "/repositories/acme/"+slug)["updated_on"]
		if api != stamp(after.UpdatedOn) {
			t.Errorf("%s: the API says %v, the control API %v", tc.name, api, after.UpdatedOn)
		}
		if moved := !prUpdated(t, run, slug, open.ID).Equal(prBefore); moved != tc.prMoves {
			t.Errorf("%s: pull request updated_on moved %v, want %v", tc.name, moved, tc.prMoves)
		}
	}
}

func prUpdated(t *testing.T, run *Running, slug string, id int) time.Time {
	t.Helper()
	s := getJSON(t, run, fmt.Sprintf("/repositories/acme/%s/pullrequests/%d", slug, id))["updated_on"].(string)
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// The safety net's watermark walks: q=updated_on with every comparison, on
// the exact boundary, quoted and unquoted, sorted ascending over several
// pages, on repositories and on pull requests.
func TestUpdatedOnWatermarks(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC))
	run := Start(t, Config{Seed: 13, Repos: 30, PRsPerRepo: 4, CommitsPerRepo: 3, Clock: clock.Now})
	var full []RepoInfo
	for _, r := range run.Repos() {
		if r.MainBranch != "" {
			full = append(full, r)
		}
	}
	// Three repositories change, an hour apart, in this order.
	changed := []string{full[4].Slug, full[0].Slug, full[9].Slug}
	var at []time.Time
	for _, slug := range changed {
		clock.Advance(time.Hour)
		if _, err := run.PushCommits(slug, 1); err != nil {
			t.Fatal(err)
		}
		at = append(at, clock.Now())
	}
	unquoted := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000000-07:00") }
	quoted := func(t time.Time) string { return `"` + t.Format(time.RFC3339) + `"` }
	all := run.Repos()
	older := func(tm time.Time, orEqual bool) []string {
		var out []RepoInfo
		for _, r := range all {
			if r.UpdatedOn.Before(tm) || (orEqual && r.UpdatedOn.Equal(tm)) {
				out = append(out, r)
			}
		}
		slices.SortStableFunc(out, func(a, b RepoInfo) int { return a.UpdatedOn.Compare(b.UpdatedOn) })
		var slugs []string
		for _, r := range out {
			slugs = append(slugs, r.Slug)
		}
		return slugs
	}
	for _, tc := range []struct {
		name, q string
		want    []string
	}{
		{"> first change, unquoted", "updated_on > " + unquoted(at[0]), changed[1:]},
		{">= first change, unquoted", "updated_on >= " + unquoted(at[0]), changed},
		{"> first change, quoted", "updated_on > " + quoted(at[0]), changed[1:]},
		{">= last change", "updated_on >= " + quoted(at[2]), changed[2:]},
		{"> last change", "updated_on > " + quoted(at[2]), nil},
		{"> the future", "updated_on > 2100-01-01", nil},
		{"between", "updated_on > " + quoted(at[0]) + " AND updated_on <= " + quoted(at[1]), changed[1:2]},
		{"< first change", "updated_on < " + unquoted(at[0]), older(at[0], false)},
		{"<= first change", "updated_on <= " + quoted(at[0]), older(at[0], true)},
		{"other zone", "updated_on >= " + at[1].In(time.FixedZone("", 2*3600)).Format(time.RFC3339), changed[1:]},
	} {
		var got []string
		for _, v := range walk(t, run, "/repositories/acme?pagelen=10&sort=updated_on&q="+url.QueryEscape(tc.q)) {
			got = append(got, v["slug"].(string))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("q=%s: %v, want %v", tc.q, got, tc.want)
		}
	}

	// Pull requests: activity on three, an hour apart, then a watermark walk
	// over every state, ascending, two a page.
	slug := full[2].Slug
	prs, err := run.PullRequests(slug)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := run.OpenPR(slug, PRSpec{Title: "new"})
	if err != nil {
		t.Fatal(err)
	}
	watermark := clock.Now()
	var wantIDs []float64
	for _, step := range []func() (PRInfo, error){
		func() (PRInfo, error) { clock.Advance(time.Hour); return run.CommentPR(slug, opened.ID, "first") },
		func() (PRInfo, error) { clock.Advance(time.Hour); return run.OpenPR(slug, PRSpec{Title: "newer"}) },
		func() (PRInfo, error) { clock.Advance(time.Hour); return run.ApprovePR(slug, opened.ID) },
	} {
		info, err := step()
		if err != nil {
			t.Fatal(err)
		}
		wantIDs = append(wantIDs, float64(info.ID))
	}
	// opened moved twice; it appears once, at its latest updated_on.
	wantIDs = wantIDs[1:]
	states := "&state=OPEN&state=MERGED&state=DECLINED&state=SUPERSEDED"
	base := "/repositories/acme/" + slug + "/pullrequests?pagelen=2&sort=updated_on" + states + "&q="
	var got []float64
	for _, v := range walk(t, run, base+url.QueryEscape("updated_on > "+quoted(watermark))) {
		got = append(got, v["id"].(float64))
	}
	if !slices.Equal(got, wantIDs) {
		t.Fatalf("pull requests since the watermark: %v, want %v", got, wantIDs)
	}
	var asc []string
	for _, v := range walk(t, run, base+url.QueryEscape("updated_on >= 2000-01-01")) {
		asc = append(asc, v["updated_on"].(string))
	}
	if len(asc) != len(prs)+2 || !slices.IsSorted(asc) {
		t.Fatalf("ascending walk over every pull request: %d of %d, sorted %v", len(asc), len(prs)+2, slices.IsSorted(asc))
	}
}

// /commits accepts q and sort and ignores both.
func TestCommitsIgnoreQuery(t *testing.T) {
	t.Parallel()
	run := readOnly(t)
	repo := firstFull(t, run)
	base := "/repositories/acme/" + repo.Slug + "/commits"
	want := get(t, run, base).body
	for _, query := range []string{
		"q=" + url.QueryEscape("date > 2100-01-01"),
		"q=" + url.QueryEscape("(((nonsense"),
		"sort=date",
		"sort=-nosuchfield",
	} {
		r := get(t, run, base+"?"+query)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", query, r.status, r.body)
		}
		a, b := decodeBody(t, r.body), decodeBody(t, want)
		if fmt.Sprint(hashes(a)) != fmt.Sprint(hashes(b)) {
			t.Fatalf("%s changed the commits listed", query)
		}
		if next, _ := a["next"].(string); next != "" && !strings.Contains(next, strings.SplitN(query, "=", 2)[0]+"=") {
			t.Fatalf("%s: next %s drops the parameter", query, next)
		}
	}
}

func hashes(doc map[string]any) []any {
	var out []any
	for _, v := range values(doc) {
		out = append(out, v["hash"])
	}
	return out
}
