package bitbucketmock

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a webhook endpoint on a real socket. It checks the signature
// of every delivery itself (when it knows a secret) and answers with the
// status answer gives for the n-th request (from 1); 0 means hang until the
// sender gives up.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret string
	answer func(n int) int

	mu  sync.Mutex
	got []delivered
}

type delivered struct {
	header http.Header
	body   map[string]any
}

func newReceiver(t testing.TB, secret string, answer func(n int) int) *receiver {
	rc := &receiver{t: t, secret: secret, answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("receiver: reading the body: %v", err)
		return
	}
	sig := r.Header.Get("X-Hub-Signature")
	if rc.secret != "" {
		m := hmac.New(sha256.New, []byte(rc.secret))
		m.Write(raw)
		want := "sha256=" + hex.EncodeToString(m.Sum(nil))
		if !hmac.Equal([]byte(sig), []byte(want)) {
			rc.t.Errorf("receiver: %s: bad signature %q", r.Header.Get("X-Event-Key"), sig)
		}
	} else if sig != "" {
		rc.t.Errorf("receiver: a hook without a secret signed its delivery: %q", sig)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		rc.t.Errorf("receiver: payload is not JSON: %v", err)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, delivered{header: r.Header.Clone(), body: body})
	n := len(rc.got)
	rc.mu.Unlock()
	status := http.StatusOK
	if rc.answer != nil {
		status = rc.answer(n)
	}
	if status == 0 {
		<-r.Context().Done() // no answer: the sender times out
		return
	}
	w.WriteHeader(status)
}

func (rc *receiver) deliveries() []delivered {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// events counts the deliveries received by event key.
func (rc *receiver) events() map[string]int {
	out := map[string]int{}
	for _, d := range rc.deliveries() {
		out[d.header.Get("X-Event-Key")]++
	}
	return out
}

func (rc *receiver) of(event string) []map[string]any {
	var out []map[string]any
	for _, d := range rc.deliveries() {
		if d.header.Get("X-Event-Key") == event {
			out = append(out, d.body)
		}
	}
	return out
}

// sleeps records retry waits instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) bool {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err() == nil
}

func (s *sleeps) waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.d)
}

func flush(t testing.TB, run *Running) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := run.FlushDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
}

func hookBody(url, secret string, active bool, events ...string) string {
	b, _ := json.Marshal(map[string]any{"url": url, "secret": secret, "active": active, "events": events})
	return string(b)
}

// obj walks a decoded payload by keys.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

var catalogEvents = []string{"repo:created", "repo:updated", "repo:deleted", "repo:push",
	"pullrequest:created", "pullrequest:updated", "pullrequest:approved", "pullrequest:comment_created",
	"pullrequest:fulfilled", "pullrequest:rejected"}

func TestDeliveriesOnEveryMutation(t *testing.T) {
	t.Parallel()
	schemas := loadSchemas(t)
	clock := newFakeClock(time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC))
	var waits sleeps
	run := Start(t, Config{Seed: 5, Repos: 3, PRsPerRepo: 2, CommitsPerRepo: 4, Clock: clock.Now,
		Tokens: []Token{hookToken}, Deliveries: DeliveryConfig{Sleep: waits.sleep}})
	signed := newReceiver(t, "topsecret", nil)
	unsigned := newReceiver(t, "", nil)
	inactive := newReceiver(t, "", nil)
	hookA := createHook(t, run, hookBody(signed.srv.URL+"/a", "topsecret", true, catalogEvents...))
	createHook(t, run, hookBody(unsigned.srv.URL+"/b", "", true, "repo:push"))
	createHook(t, run, hookBody(inactive.srv.URL+"/c", "", false, catalogEvents...))

	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	added, err := run.AddRepo(RepoSpec{Name: "hooked", Commits: 2})
	must(added, err)
	clock.Advance(time.Minute)
	must(run.PushCommits("hooked", 3))
	pr, err := run.OpenPR("hooked", PRSpec{Title: "Add hooks"})
	must(pr, err)
	title := "Add webhooks"
	must(run.UpdatePR("hooked", pr.ID, PREdit{Title: &title}))
	must(run.ApprovePR("hooked", pr.ID))
	must(run.CommentPR("hooked", pr.ID, "Looks good ✓"))
	must(run.MergePR("hooked", pr.ID))
	pr2, err := run.OpenPR("hooked", PRSpec{Title: "Abandon"})
	must(pr2, err)
	must(run.DeclinePR("hooked", pr2.ID))
	must(run.RenameRepo("hooked", "Hooked Service"))
	must(run.MoveRepo("hooked-service", "PLAT"))
	if err := run.DeleteRepo("hooked-service"); err != nil {
		t.Fatal(err)
	}
	flush(t, run)

	want := map[string]int{"repo:created": 1, "repo:push": 3, "pullrequest:created": 2, "pullrequest:updated": 1,
		"pullrequest:approved": 1, "pullrequest:comment_created": 1, "pullrequest:fulfilled": 1,
		"pullrequest:rejected": 1, "repo:updated": 2, "repo:deleted": 1}
	if got := signed.events(); !maps.Equal(got, want) {
		t.Fatalf("signed hook got %v, want %v", got, want)
	}
	if got := unsigned.events(); !maps.Equal(got, map[string]int{"repo:push": 3}) {
		t.Fatalf("push-only hook got %v", got)
	}
	if got := inactive.deliveries(); len(got) != 0 {
		t.Fatalf("an inactive hook got %d deliveries", len(got))
	}

	requestIDs := map[string]bool{}
	for _, d := range append(signed.deliveries(), unsigned.deliveries()...) {
		h := d.header
		if h.Get("User-Agent") != "Bitbucket-Webhooks/2.0" || h.Get("Content-Type") != "application/json" ||
			h.Get("X-Attempt-Number") != "1" || h.Get("X-Request-UUID") == "" {
			t.Fatalf("headers %v", h)
		}
		if requestIDs[h.Get("X-Request-UUID")] {
			t.Fatalf("X-Request-UUID %s used twice", h.Get("X-Request-UUID"))
		}
		requestIDs[h.Get("X-Request-UUID")] = true
		if dig(d.body, "repository", "uuid") != added.UUID || dig(d.body, "actor", "type") != "user" {
			t.Fatalf("%s: repository or actor: %v", h.Get("X-Event-Key"), d.body)
		}
		if _, ok := d.body["repository"].(map[string]any)["updated_on"]; ok {
			t.Fatal("payload repositories carry no updated_on")
		}
		for _, e := range schemas.validate("repository", d.body["repository"]) {
			t.Errorf("%s repository: %s", h.Get("X-Event-Key"), e)
		}
		for _, e := range schemas.validate("account", d.body["actor"]) {
			t.Errorf("%s actor: %s", h.Get("X-Event-Key"), e)
		}
		if p, ok := d.body["pullrequest"]; ok {
			for _, e := range schemas.validate("pullrequest", p) {
				t.Errorf("%s pullrequest: %s", h.Get("X-Event-Key"), e)
			}
		}
	}
	if got := signed.deliveries()[0].header.Get("X-Hook-UUID"); "{"+got+"}" != hookA["uuid"] {
		t.Fatalf("X-Hook-UUID %s for hook %s", got, hookA["uuid"])
	}

	if p := signed.of("pullrequest:updated")[0]; dig(p, "pullrequest", "title") != "Add webhooks" {
		t.Fatalf("pullrequest:updated: %v", dig(p, "pullrequest", "title"))
	}
	approved := signed.of("pullrequest:approved")[0]
	if dig(approved, "approval", "user", "type") != "user" || dig(approved, "approval", "date") == nil {
		t.Fatalf("approval: %v", approved["approval"])
	}
	comment := signed.of("pullrequest:comment_created")[0]
	if dig(comment, "comment", "content", "raw") != "Looks good ✓" || dig(comment, "pullrequest", "comment_count") != 1.0 {
		t.Fatalf("comment: %v", comment["comment"])
	}
	merged := signed.of("pullrequest:fulfilled")[0]
	if dig(merged, "pullrequest", "state") != "MERGED" || dig(merged, "pullrequest", "merge_commit", "hash") == nil {
		t.Fatalf("fulfilled: %v", merged["pullrequest"])
	}
	if dig(signed.of("pullrequest:rejected")[0], "pullrequest", "state") != "DECLINED" {
		t.Fatal("rejected is not DECLINED")
	}
	var renamed, moved map[string]any
	for _, p := range signed.of("repo:updated") {
		if dig(p, "changes", "name") != nil {
			renamed = p
		} else {
			moved = p
		}
	}
	if dig(renamed, "changes", "name", "old") != "hooked" || dig(renamed, "changes", "name", "new") != "Hooked Service" ||
		dig(renamed, "changes", "full_name", "new") != "acme/hooked-service" {
		t.Fatalf("rename changes: %v", dig(renamed, "changes"))
	}
	if dig(moved, "changes", "project", "new", "key") != "PLAT" {
		t.Fatalf("move changes: %v", dig(moved, "changes"))
	}

	c := run.Counters().Deliveries
	total := len(signed.deliveries()) + len(unsigned.deliveries())
	if c.Attempts != total || c.Successes != total || c.Failures != 0 || c.Dropped != 0 || c.ByEvent["repo:push"] != 6 {
		t.Fatalf("counters %+v, %d received", c, total)
	}
	if len(waits.waits()) != 0 {
		t.Fatalf("no retry was needed, yet it waited %v", waits.waits())
	}
}

func TestDeliveryRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		answers   []int // per attempt; 0 hangs
		attempts  int
		succeeded bool
	}{
		{"500 then success", []int{500, 502, 200}, 3, true},
		{"5xx three times", []int{500, 503, 500, 200}, 3, false},
		{"timeout then success", []int{0, 204}, 2, true},
		{"400 is final", []int{400, 200}, 1, false},
		{"404 is final", []int{404, 200}, 1, false},
		{"a redirect is not followed", []int{302, 200}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var waits sleeps
			run := Start(t, Config{Seed: 6, Repos: 1, CommitsPerRepo: 2, Tokens: []Token{hookToken},
				Deliveries: DeliveryConfig{Timeout: 200 * time.Millisecond, RetryDelay: 7 * time.Second, Sleep: waits.sleep}})
			rc := newReceiver(t, "k", func(n int) int { return tc.answers[min(n, len(tc.answers))-1] })
			createHook(t, run, hookBody(rc.srv.URL, "k", true, "repo:push"))
			if _, err := run.PushCommits(run.Repos()[0].Slug, 1); err != nil {
				t.Fatal(err)
			}
			flush(t, run)
			got := rc.deliveries()
			if len(got) != tc.attempts {
				t.Fatalf("%d attempts, want %d", len(got), tc.attempts)
			}
			for i, d := range got {
				if n := d.header.Get("X-Attempt-Number"); n != strconv.Itoa(i+1) {
					t.Fatalf("attempt %d has X-Attempt-Number %s", i+1, n)
				}
				if d.header.Get("X-Request-UUID") != got[0].header.Get("X-Request-UUID") {
					t.Fatal("a retry changed X-Request-UUID")
				}
			}
			if w := waits.waits(); len(w) != tc.attempts-1 || slices.ContainsFunc(w, func(d time.Duration) bool { return d != 7*time.Second }) {
				t.Fatalf("waits %v before %d attempts", w, tc.attempts)
			}
			c := run.Counters().Deliveries
			if c.Attempts != tc.attempts || (c.Successes == 1) != tc.succeeded || c.Successes+c.Failures != 1 {
				t.Fatalf("counters %+v", c)
			}
		})
	}
	t.Run("nobody listening", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		run := Start(t, Config{Seed: 6, Repos: 1, CommitsPerRepo: 2, Tokens: []Token{hookToken},
			Deliveries: DeliveryConfig{Sleep: (&sleeps{}).sleep}})
		createHook(t, run, hookBody("http://"+addr+"/gone", "", true, "repo:push"))
		if _, err := run.PushCommits(run.Repos()[0].Slug, 1); err != nil {
			t.Fatal(err)
		}
		flush(t, run)
		if c := run.Counters().Deliveries; c.Attempts != 3 || c.Failures != 1 {
			t.Fatalf("counters %+v", c)
		}
	})
}

func TestPushPayloads(t *testing.T) {
	t.Parallel()
	schemas := loadSchemas(t)
	run := Start(t, Config{Seed: 8, Repos: 1, CommitsPerRepo: 3, Tokens: []Token{hookToken, {Value: testToken}},
		Deliveries: DeliveryConfig{Sleep: (&sleeps{}).sleep}})
	rc := newReceiver(t, "", nil)
	createHook(t, run, hookBody(rc.srv.URL, "", true, "repo:push"))
	slug := run.Repos()[0].Slug
	history := func(slug string) []map[string]any {
		return walk(t, run, "/repositories/acme/"+slug+"/commits?pagelen=100")
	}
	for _, tc := range []struct {
		name      string
		push      func() (RepoInfo, error)
		slug      string
		commits   int
		truncated bool
		created   bool
	}{
		{"seven commits", func() (RepoInfo, error) { return run.PushCommits(slug, 7) }, slug, 5, true, false},
		{"five commits", func() (RepoInfo, error) { return run.PushCommits(slug, 5) }, slug, 5, false, false},
		{"one commit", func() (RepoInfo, error) { return run.PushCommits(slug, 1) }, slug, 1, false, false},
		{"new repository", func() (RepoInfo, error) { return run.AddRepo(RepoSpec{Name: "fresh", Commits: 6}) }, "fresh", 5, true, true},
	} {
		before := len(rc.deliveries())
		var prevHead string
		if !tc.created {
			prevHead = history(tc.slug)[0]["hash"].(string)
		}
		if _, err := tc.push(); err != nil {
			t.Fatal(err)
		}
		flush(t, run)
		got := rc.deliveries()
		if len(got) != before+1 {
			t.Fatalf("%s: %d deliveries", tc.name, len(got)-before)
		}
		changes := dig(got[before].body, "push", "changes").([]any)
		ch := changes[0].(map[string]any)
		commits := ch["commits"].([]any)
		log := history(tc.slug)
		if len(changes) != 1 || len(commits) != tc.commits || ch["truncated"] != tc.truncated || ch["created"] != tc.created ||
			ch["forced"] != false || ch["closed"] != false {
			t.Fatalf("%s: change %v with %d commits", tc.name, ch, len(commits))
		}
		for i, c := range commits { // newest first, as the history lists them
			if dig(c, "hash") != log[i]["hash"] {
				t.Fatalf("%s: commit %d is %v, want %v", tc.name, i, dig(c, "hash"), log[i]["hash"])
			}
			for _, e := range schemas.validate("commit", c) {
				t.Errorf("%s: commit %d: %s", tc.name, i, e)
			}
		}
		if dig(ch, "new", "target", "hash") != log[0]["hash"] || dig(ch, "new", "name") != "main" && dig(ch, "new", "name") != "master" {
			t.Fatalf("%s: new %v", tc.name, ch["new"])
		}
		for _, e := range schemas.validate("branch", ch["new"]) {
			t.Errorf("%s: new: %s", tc.name, e)
		}
		if tc.created {
			if ch["old"] != nil {
				t.Fatalf("%s: old %v on a created branch", tc.name, ch["old"])
			}
		} else if dig(ch, "old", "target", "hash") != prevHead {
			t.Fatalf("%s: old head %v, want %s", tc.name, dig(ch, "old", "target", "hash"), prevHead)
		}
	}
}

func TestForcePush(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	run := Start(t, Config{Seed: 9, Repos: 1, CommitsPerRepo: 3, Clock: clock.Now, Tokens: []Token{hookToken, {Value: testToken}},
		Deliveries: DeliveryConfig{Sleep: (&sleeps{}).sleep}})
	rc := newReceiver(t, "", nil)
	createHook(t, run, hookBody(rc.srv.URL, "", true, "repo:push"))
	slug := run.Repos()[0].Slug
	if _, err := run.PushCommits(slug, 4); err != nil {
		t.Fatal(err)
	}
	log := func() []any {
		return hashes(map[string]any{"values": anySlice(walk(t, run, "/repositories/acme/"+slug+"/commits?pagelen=100"))})
	}
	before := log()
	clock.Advance(time.Hour)
	info, err := run.ForcePush(slug, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	after := log()
	if len(after) != len(before)+1 || !slices.Equal(after[3:], before[2:]) || slices.Contains(after[:3], before[0]) || slices.Contains(after[:3], before[1]) {
		t.Fatalf("history after dropping 2 and pushing 3:\n%v\nbefore:\n%v", after, before)
	}
	if !info.UpdatedOn.Equal(clock.Now()) {
		t.Fatalf("a force push leaves updated_on at %v", info.UpdatedOn)
	}
	for _, gone := range before[:2] {
		if r := get(t, run, "/repositories/acme/"+slug+"/commit/"+gone.(string)); r.status != 404 {
			t.Fatalf("dropped commit %s: %d", gone, r.status)
		}
	}
	flush(t, run)
	var forced []map[string]any // deliveries arrive in any order
	for _, d := range rc.deliveries() {
		if ch := dig(d.body, "push", "changes").([]any)[0].(map[string]any); ch["forced"] == true {
			forced = append(forced, ch)
		}
	}
	if len(forced) != 1 {
		t.Fatalf("%d forced pushes delivered, want 1", len(forced))
	}
	ch := forced[0]
	commits := ch["commits"].([]any)
	if ch["created"] != false || ch["truncated"] != false || len(commits) != 3 || dig(ch, "old", "target", "hash") != before[0] ||
		dig(ch, "new", "target", "hash") != after[0] || dig(commits[2], "hash") != after[2] {
		t.Fatalf("forced push change: created %v, truncated %v, %d commits, old %v, new %v",
			ch["created"], ch["truncated"], len(commits), dig(ch, "old", "target", "hash"), dig(ch, "new", "target", "hash"))
	}
	for _, tc := range []struct{ drop, count int }{{0, 1}, {6, 1}, {1, -1}} {
		if _, err := run.ForcePush(slug, tc.drop, tc.count); !errors.Is(err, ErrInvalid) {
			t.Fatalf("drop %d push %d: %v", tc.drop, tc.count, err)
		}
	}
	var e map[string]string
	if s := control(t, run, "POST", "/repos/"+slug+"/force-push", `{"drop": 99, "count": 1}`, &e); s != 400 || !strings.Contains(e["error"], "can be dropped") {
		t.Fatalf("control: %d %v", s, e)
	}
}

func anySlice(ms []map[string]any) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

func TestDropSwitch(t *testing.T) {
	t.Parallel()
	// received pushes n times to a fresh server with the drop rate and
	// returns the head hashes that reached the receiver.
	received := func(t *testing.T, seed int64, drop float64, n int) (map[string]bool, DeliveryCounters) {
		run := Start(t, Config{Seed: seed, Repos: 1, CommitsPerRepo: 2, Tokens: []Token{hookToken},
			Deliveries: DeliveryConfig{Drop: drop, Sleep: (&sleeps{}).sleep}})
		rc := newReceiver(t, "", nil)
		createHook(t, run, hookBody(rc.srv.URL, "", true, "repo:push"))
		for range n {
			if _, err := run.PushCommits(run.Repos()[0].Slug, 1); err != nil {
				t.Fatal(err)
			}
		}
		flush(t, run)
		heads := map[string]bool{}
		for _, d := range rc.deliveries() {
			heads[dig(d.body, "push", "changes").([]any)[0].(map[string]any)["new"].(map[string]any)["target"].(map[string]any)["hash"].(string)] = true
		}
		return heads, run.Counters().Deliveries
	}
	t.Run("all", func(t *testing.T) {
		t.Parallel()
		heads, c := received(t, 3, 1, 10)
		if len(heads) != 0 || c.Dropped != 10 || c.Attempts != 0 || c.ByEvent["repo:push"] != 10 {
			t.Fatalf("%d received, counters %+v", len(heads), c)
		}
	})
	t.Run("a fraction, the same for a seed", func(t *testing.T) {
		t.Parallel()
		first, c := received(t, 11, 0.5, 40)
		if c.Dropped+len(first) != 40 || c.Dropped < 8 || c.Dropped > 32 || c.Successes != len(first) {
			t.Fatalf("%d received, counters %+v", len(first), c)
		}
		again, _ := received(t, 11, 0.5, 40)
		if !maps.Equal(first, again) {
			t.Fatal("the same seed dropped other deliveries")
		}
	})
}

func TestDeliveryControlAPI(t *testing.T) {
	t.Parallel()
	run := Start(t, Config{Seed: 2, Repos: 1, CommitsPerRepo: 2, Tokens: []Token{hookToken},
		Deliveries: DeliveryConfig{Sleep: (&sleeps{}).sleep}})
	rc := newReceiver(t, "", nil)
	createHook(t, run, hookBody(rc.srv.URL, "", true, "repo:push", "pullrequest:approved", "pullrequest:comment_created", "pullrequest:updated"))
	var settings deliveriesWire
	if s := control(t, run, "GET", "/deliveries", "", &settings); s != 200 || settings.Timeout != "10s" || settings.RetryDelay != "1s" || settings.Drop != 0 {
		t.Fatalf("defaults: %d %+v", s, settings)
	}
	if s := control(t, run, "PUT", "/deliveries", `{"drop": 1, "timeout": "3s"}`, &settings); s != 200 || settings.Drop != 1 || settings.Timeout != "3s" {
		t.Fatalf("set: %d %+v", s, settings)
	}
	for _, body := range []string{`{"drop": 1.5}`, `{"drop": -1}`, `{"timeout": "soon"}`, `{"retry_delay": "-1s"}`, `{"dorp": 1}`} {
		var e map[string]string
		if s := control(t, run, "PUT", "/deliveries", body, &e); s != 400 || e["error"] == "" {
			t.Fatalf("PUT %s: %d %v", body, s, e)
		}
	}
	slug := run.Repos()[0].Slug
	var info RepoInfo
	control(t, run, "POST", "/repos/"+slug+"/commits", `{"count": 1}`, &info)
	var flushed DeliveryCounters
	if s := control(t, run, "POST", "/deliveries/flush", "", &flushed); s != 200 || flushed.Dropped != 1 {
		t.Fatalf("flush: %d %+v", s, flushed)
	}
	control(t, run, "PUT", "/deliveries", `{"drop": 0}`, nil)

	var pr PRInfo
	if s := control(t, run, "POST", "/repos/"+slug+"/pullrequests", `{"title": "t"}`, &pr); s != 200 {
		t.Fatalf("open: %d", s)
	}
	for _, tc := range []struct {
		path, body string
		status     int
	}{
		{fmt.Sprintf("/repos/%s/pullrequests/%d/update", slug, pr.ID), `{"description": "now with text"}`, 200},
		{fmt.Sprintf("/repos/%s/pullrequests/%d/approve", slug, pr.ID), ``, 200},
		{fmt.Sprintf("/repos/%s/pullrequests/%d/comments", slug, pr.ID), `{"text": "nice"}`, 200},
		{fmt.Sprintf("/repos/%s/pullrequests/%d/comments", slug, pr.ID), `{"text": ""}`, 400},
		{fmt.Sprintf("/repos/%s/pullrequests/%d/update", slug, pr.ID), `{"title": ""}`, 400},
		{fmt.Sprintf("/repos/%s/pullrequests/999/approve", slug), ``, 404},
	} {
		var out map[string]any
		if s := control(t, run, "POST", tc.path, tc.body, &out); s != tc.status {
			t.Fatalf("POST %s %s: %d %v", tc.path, tc.body, s, out)
		}
	}
	var c Counters
	control(t, run, "POST", "/deliveries/flush", `{"timeout": "5s"}`, nil)
	if s := control(t, run, "GET", "/counters", "", &c); s != 200 || c.Deliveries.Successes != 3 || c.Deliveries.Dropped != 1 {
		t.Fatalf("counters: %+v", c.Deliveries)
	}
	var hooks []HookInfo
	if control(t, run, "GET", "/hooks", "", &hooks); len(hooks) != 1 || hooks[0].URL != rc.srv.URL {
		t.Fatalf("hooks: %+v", hooks)
	}
	var reset Counters
	control(t, run, "POST", "/counters/reset", "", &reset)
	if reset.Deliveries.Successes != 0 || len(reset.Deliveries.ByEvent) != 0 {
		t.Fatalf("after reset: %+v", reset.Deliveries)
	}
}

func TestTransfers(t *testing.T) {
	t.Parallel()
	run := Start(t, Config{Seed: 10, Repos: 2, CommitsPerRepo: 2, Tokens: []Token{hookToken, {Value: testToken}},
		Deliveries: DeliveryConfig{Sleep: (&sleeps{}).sleep}})
	rc := newReceiver(t, "", nil)
	createHook(t, run, hookBody(rc.srv.URL, "", true, "repo:created", "repo:deleted", "repo:transfer", "repo:push"))

	var in RepoInfo
	if s := control(t, run, "POST", "/repos/transfer-in", `{"from": "globex", "name": "moved-in", "commits": 3}`, &in); s != 200 || in.Commits != 3 {
		t.Fatalf("transfer in: %d %+v", s, in)
	}
	if got := getJSON(t, run, "/repositories/acme/moved-in"); got["uuid"] != in.UUID {
		t.Fatalf("the transferred repository is not served: %v", got["uuid"])
	}
	out := run.Repos()[0]
	if s := control(t, run, "POST", "/repos/"+out.Slug+"/transfer", `{"to": "initech"}`, nil); s != 200 {
		t.Fatalf("transfer out: %d", s)
	}
	if r := get(t, run, "/repositories/acme/"+out.Slug); r.status != 404 {
		t.Fatalf("a repository transferred out: %d", r.status)
	}
	for _, body := range []string{`{"from": "acme", "name": "x"}`, `{"from": "Not A Slug", "name": "x"}`} {
		if s := control(t, run, "POST", "/repos/transfer-in", body, nil); s != 400 {
			t.Fatalf("transfer in %s: %d", body, s)
		}
	}
	if s := control(t, run, "POST", "/repos/"+run.Repos()[0].Slug+"/transfer", `{"to": "acme"}`, nil); s != 400 {
		t.Fatalf("transfer to the same workspace: %d", s)
	}
	flush(t, run)
	if got := rc.events(); !maps.Equal(got, map[string]int{"repo:transfer": 1}) {
		t.Fatalf("deliveries %v: a transfer in is one repo:transfer, a transfer out none", got)
	}
	p := rc.of("repo:transfer")[0]
	if dig(p, "previous_owner", "username") != "globex" || dig(p, "previous_owner", "type") != "team" ||
		dig(p, "repository", "full_name") != "acme/moved-in" {
		t.Fatalf("repo:transfer payload: previous_owner %v, repository %v", p["previous_owner"], dig(p, "repository", "full_name"))
	}
}
