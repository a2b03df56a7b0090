package agent_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/catalog-discovery/bitbucket/delegate/internal/agent"
	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	"github.com/catalog-discovery/bitbucket/delegate/internal/upload"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// held ends a script: the poll waits until the agent gives up.
const held = -1

// poll is one scripted AcquireTask: it stays open for open on the fake
// clock, then fails with err (or answers no task).
type poll struct {
	open time.Duration
	err  error
}

// pollCall is what the agent did: when it polled, for how long it asked
// the hold to be, and when the poll ended.
type pollCall struct {
	start, end time.Time
	hold       time.Duration
}

// scriptedControlPlane answers Register with reg (after failing it with
// registerErrs) and polls from its script, moving the fake clock as each
// poll stays open, so that the pauses the agent takes between polls are
// the gaps between one poll's end and the next one's start.
type scriptedControlPlane struct {
	heldControlPlane
	clk          *clock.Fake
	reg          task.Registered
	registerErrs []error
	script       []poll

	mu    sync.Mutex
	calls []pollCall
}

func (s *scriptedControlPlane) Register(context.Context, task.Registration) (task.Registered, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.registers++
	if s.registers <= len(s.registerErrs) {
		return task.Registered{}, s.registerErrs[s.registers-1]
	}
	return s.reg, nil
}

func (s *scriptedControlPlane) AcquireTask(ctx context.Context, _ string, hold time.Duration) (*task.Task, error) {
	s.mu.Lock()
	n := len(s.calls)
	s.calls = append(s.calls, pollCall{start: s.clk.Now(), hold: hold})
	s.mu.Unlock()
	if n >= len(s.script) || s.script[n].open == held {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	p := s.script[n]
	s.clk.Advance(p.open)
	s.mu.Lock()
	s.calls[n].end = s.clk.Now()
	s.mu.Unlock()
	return nil, p.err
}

// run runs an agent against cp until it has made polls polls (the last
// one held open), then shuts it down and returns its log lines and calls.
func (s *scriptedControlPlane) run(t *testing.T, cfg agent.Config, polls int) ([]map[string]any, []pollCall) {
	t.Helper()
	logs := &testenv.SyncWriter{}
	cfg.Registration = task.Registration{Name: "d", Concurrency: 1}
	cfg.Clock, cfg.Seed = s.clk, 7
	cfg.Log = zerolog.New(logs).Level(zerolog.DebugLevel)
	a := agent.New(s, func(*task.Task, *upload.Batcher, zerolog.Logger) agent.Work { return nil }, cfg)
	ctx, shutdown := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.calls)
		s.mu.Unlock()
		if n >= polls {
			break
		}
		select {
		case err := <-ran:
			t.Fatalf("Run returned %v after %d polls, want %d", err, n, polls)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d polls made, want %d", n, polls)
		}
		time.Sleep(time.Millisecond)
	}
	shutdown()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return logLines(t, logs.String()), s.calls
}

func logLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

func atLevels(lines []map[string]any, levels ...string) []string {
	var out []string
	for _, l := range lines {
		for _, lv := range levels {
			if l["level"] == lv {
				out = append(out, fmt.Sprint(l["message"], " ", l["error"]))
			}
		}
	}
	return out
}

func newScripted(script ...poll) *scriptedControlPlane {
	return &scriptedControlPlane{
		clk: clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		reg: task.Registered{DelegateID: "d-1", AccountID: "acme", RenewInterval: 20 * time.Second,
			PollHold: 50 * time.Second, KeepaliveMinTime: 20 * time.Second},
		script: script,
	}
}

// cutConnection is how gRPC reports a tunnel the proxy closed mid-call.
var cutConnection = status.Error(codes.Unavailable, "error reading from server: EOF")

// TestCutPollsAreRoutine: polls that fail after being open a while (a
// proxy closing idle tunnels) are polled again at once, quietly, however
// many come in a row; a shorter poll hold is suggested once, at info.
func TestCutPollsAreRoutine(t *testing.T) {
	t.Parallel()
	var script []poll
	for range 8 {
		script = append(script, poll{open: 15 * time.Second, err: cutConnection})
	}
	script = append(script, poll{open: 50 * time.Second}, poll{open: 15 * time.Second, err: cutConnection}, poll{open: held})
	cp := newScripted(script...)
	lines, calls := cp.run(t, agent.Config{}, len(script))

	if noisy := atLevels(lines, "warn", "error"); len(noisy) != 0 {
		t.Errorf("cut polls logged warnings or errors: %q", noisy)
	}
	for i := 1; i < len(calls); i++ {
		if gap := calls[i].start.Sub(calls[i-1].end); gap != 0 {
			t.Errorf("poll %d started %v after poll %d was cut, want at once", i+1, gap, i)
		}
	}
	var cuts, hints int
	for _, l := range lines {
		msg, _ := l["message"].(string)
		switch {
		case l["level"] == "debug" && strings.HasPrefix(msg, "long poll cut before the hold ended"):
			cuts++
		case l["level"] == "info" && strings.Contains(msg, "set --poll-hold below its idle timeout"):
			hints++
		}
	}
	if cuts != 9 || hints != 1 {
		t.Errorf("%d cuts logged at debug (want 9) and %d hints at info (want 1)", cuts, hints)
	}
}

// TestFastFailuresBackOffAndWarn: polls refused at once count as failures:
// growing, capped pauses on the clock and warnings turning into errors.
// Only consecutive fast failures count: a cut in between starts over.
func TestFastFailuresBackOffAndWarn(t *testing.T) {
	t.Parallel()
	refused := status.Error(codes.Unavailable, "connection refused")
	cp := newScripted(
		poll{err: refused}, poll{err: refused}, poll{err: refused}, poll{err: refused}, poll{err: refused},
		poll{open: 20 * time.Second, err: cutConnection}, // open a while: routine, and the count starts over
		poll{err: refused},
		poll{open: held},
	)
	lines, calls := cp.run(t, agent.Config{MaxBackoff: 30 * time.Second}, 8)

	// Pauses after the fast failures: about 1, 2, 4, 8, 16 s (each at least
	// half of that), none after the cut, then about 1 s again.
	wantMax := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 0, time.Second}
	for i, hi := range wantMax {
		gap := calls[i+1].start.Sub(calls[i].end)
		if gap < hi/2 || gap > hi {
			t.Errorf("pause after poll %d: %v, want within [%v, %v]", i+1, gap, hi/2, hi)
		}
	}
	warns, errs := atLevels(lines, "warn"), atLevels(lines, "error")
	if len(warns) != 4 || len(errs) != 2 {
		t.Errorf("%d warnings and %d errors, want 4 (the first three failures and the one after the cut) and 2 (the fourth and fifth in a row):\n%q\n%q",
			len(warns), len(errs), warns, errs)
	}
}

// TestPollHoldIsAskedForAndBounded: the agent asks for its configured hold
// on every poll and reports the hold in effect, the shorter of its own and
// the control plane's.
func TestPollHoldIsAskedForAndBounded(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		asked, server, want time.Duration
	}{
		{12 * time.Second, 50 * time.Second, 12 * time.Second},
		{0, 50 * time.Second, 50 * time.Second},
		{2 * time.Minute, 50 * time.Second, 50 * time.Second},
	} {
		cp := newScripted(poll{}, poll{open: held})
		cp.reg.PollHold = tt.server
		lines, calls := cp.run(t, agent.Config{PollHold: tt.asked, Keepalive: 30 * time.Second}, 2)
		for i, c := range calls {
			if c.hold != tt.asked {
				t.Errorf("asked %v: poll %d asked for %v", tt.asked, i+1, c.hold)
			}
		}
		var reg map[string]any
		for _, l := range lines {
			if l["message"] == "registered with the control plane" {
				reg = l
			}
		}
		if reg == nil || reg["poll_hold"] != tt.want.Seconds() || reg["keepalive"] != 30.0 {
			t.Errorf("asked %v of %v: registration logged %v, want poll_hold %v and keepalive 30", tt.asked, tt.server, reg, tt.want.Seconds())
		}
	}
}

// TestKeepaliveShorterThanPermittedStopsAtRegistration: pinging more often
// than the control plane permits would get the connection closed again and
// again, so the delegate stops and says which two settings disagree.
func TestKeepaliveShorterThanPermittedStopsAtRegistration(t *testing.T) {
	t.Parallel()
	cp := newScripted()
	a := agent.New(cp, func(*task.Task, *upload.Batcher, zerolog.Logger) agent.Work { return nil },
		agent.Config{Registration: task.Registration{Name: "d", Concurrency: 1}, Keepalive: 10 * time.Second, Clock: cp.clk})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "--keepalive 10s is shorter than the control plane permits (20s)") ||
		!strings.Contains(err.Error(), "--keepalive-min-time") {
		t.Errorf("Run: %v, want the two settings named", err)
	}
	if len(cp.calls) != 0 {
		t.Errorf("%d polls made after the check failed", len(cp.calls))
	}
}

// TestProxyRefusalIsLoggedOnce: while the proxy refuses the credentials,
// the one error says so; the retries (which the dialer answers without
// asking the proxy) are logged at debug only, until the control plane
// answers again.
func TestProxyRefusalIsLoggedOnce(t *testing.T) {
	t.Parallel()
	refusal := &proxy.AuthError{Proxy: "http://svc:[REDACTED]@proxy.corp:3128", Status: "407 Proxy Authentication Required",
		Target: "cp.example.com:443"}
	cp := newScripted(poll{}, poll{open: held})
	for range 6 {
		cp.registerErrs = append(cp.registerErrs, fmt.Errorf("%w", refusal))
	}
	lines, _ := cp.run(t, agent.Config{}, 2)
	errs, warns := atLevels(lines, "error"), atLevels(lines, "warn")
	if len(errs) != 1 || len(warns) != 0 {
		t.Fatalf("errors %q and warnings %q, want one error", errs, warns)
	}
	if !strings.Contains(errs[0], "proxy http://svc:[REDACTED]@proxy.corp:3128 refused the delegate's credentials for cp.example.com:443: 407 Proxy Authentication Required") {
		t.Errorf("error %q does not name the proxy and the status", errs[0])
	}
	var still, back int
	for _, l := range lines {
		switch l["message"] {
		case "the proxy still refuses the delegate's credentials":
			still++
		case "the control plane is reachable again":
			back++
		}
	}
	if still != 5 || back != 1 {
		t.Errorf("%d repeats at debug (want 5), %d recoveries (want 1)", still, back)
	}
}
