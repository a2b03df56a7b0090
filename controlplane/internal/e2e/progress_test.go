package e2e

import (
	"strconv"
	"testing"
	"time"
)

// TestRunCountersMoveBeforeTheFirstRenewal watches a running sync with
// `idpctl runs` while Bitbucket answers slowly: its Bitbucket requests
// show while it runs, well before the delegate's first lease renewal
// (every 30 s here), because every record batch carries them.
func TestRunCountersMoveBeforeTheFirstRenewal(t *testing.T) {
	const renewEvery = 30 * time.Second
	s := startStackWith(t, []string{"--latency", "60ms"}, []string{"--renew-interval", "30s", "--lease-duration", "2m"})
	c := s.cli
	c.ok("connector", "create", "--name", "bb", "--workspace", workspace, "--token-ref", "env:BITBUCKET_TOKEN", "--api-url", s.mockURL)
	c.ok("integration", "create", "--name", integration, "--connector", "bb")

	deadline := time.Now().Add(2 * time.Minute)
	type look struct {
		at  time.Time
		run map[string]any
	}
	var seen []look // the running run as each look found it
	for time.Now().Before(deadline) {
		var runs map[string]any
		c.json(&runs, "runs", integration)
		list := items(t, runs)
		if len(list) == 0 {
			t.Fatal("no run after create")
		}
		run := list[0]
		if st := run["status"]; st != "SYNC_STATUS_QUEUED" && st != "SYNC_STATUS_RUNNING" {
			break
		}
		if run["status"] == "SYNC_STATUS_RUNNING" {
			seen = append(seen, look{time.Now(), run})
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, l := range seen {
		started, err := time.Parse(time.RFC3339Nano, asString(l.run["started_at"]))
		if err != nil {
			t.Fatalf("started_at %v: %v", l.run["started_at"], err)
		}
		requests, _ := strconv.Atoi(asString(l.run["requests"]))
		if requests > 0 && l.at.Sub(started) < renewEvery {
			return // a batch brought them, not a renewal
		}
	}
	if len(seen) == 0 {
		t.Fatal("no look found the sync running")
	}
	last := seen[len(seen)-1].run
	t.Fatalf("no look at the running sync (%d looks) showed Bitbucket requests before its first renewal; the last: "+
		"repositories %v, pull requests %v, requests %v", len(seen), last["repositories"], last["pull_requests"], last["requests"])
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}
