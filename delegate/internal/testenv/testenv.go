// Package testenv wires the delegate's real parts (agent, uploader, sync,
// Bitbucket client, gRPC client) to the mock Bitbucket and the fake control
// plane, over real sockets, for tests and benchmarks. Waiting and backoff
// are scaled down so that fault and rate-limit tests run in seconds.
package testenv

import (
	"context"
	"io"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/access"
	"github.com/catalog-discovery/bitbucket/delegate/internal/agent"
	"github.com/catalog-discovery/bitbucket/delegate/internal/bitbucket"
	"github.com/catalog-discovery/bitbucket/delegate/internal/controlplane"
	"github.com/catalog-discovery/bitbucket/delegate/internal/fakecontrol"
	"github.com/catalog-discovery/bitbucket/delegate/internal/metrics"
	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/delegate/internal/upload"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/logging"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Credentials the environment uses.
const (
	DelegateToken  = "dlg-0123456789-secret-delegate-token"
	Account        = "acct-1"
	BitbucketToken = "bbt-9876543210-secret-bitbucket-token"
	TokenEnv       = "BITBUCKET_TEST_TOKEN"
)

// Options tune an in-process delegate.
type Options struct {
	Budget bitbucket.BudgetLimit // zero: 1000/h learned from headers
	// Clock drives the request budgets; nil: the wall clock.
	Clock       clock.Clock
	Concurrency int
	Workers     int
	Grace       time.Duration
	// Log receives the delegate's log lines (JSON, debug); nil discards.
	Log io.Writer
	// Upload overrides batch sizes.
	Upload upload.Options
	// Access overrides what tasks may use; nil: the default token
	// references and the loopback mock on any port.
	Access *access.Policy
	// Env adds variables to the delegate's environment (more tokens).
	Env map[string]string
}

// LoopbackAccess is the default policy with the mock's loopback host, on
// any port, allowed over http.
func LoopbackAccess() access.Policy {
	p := access.Default()
	p.Hosts = []access.Host{{Name: "127.0.0.1", Port: "*"}}
	p.PlainHTTP = true
	return p
}

// Delegate is a running in-process delegate.
type Delegate struct {
	Metrics *metrics.Metrics
	Budgets *bitbucket.Budgets
	Secrets *logging.Secrets
	cancel  context.CancelFunc
	done    chan struct{}
	err     error
}

// Start runs a delegate against the fake control plane until the test ends
// or Stop is called.
func Start(t testing.TB, cp *fakecontrol.Server, o Options) *Delegate {
	t.Helper()
	if o.Concurrency == 0 {
		o.Concurrency = 2
	}
	if o.Grace == 0 {
		o.Grace = 3 * time.Second
	}
	w := o.Log
	if w == nil {
		w = io.Discard
	}
	secrets := &logging.Secrets{}
	secrets.Add(DelegateToken)
	for _, v := range o.Env {
		secrets.Add(v)
	}
	// Not logging.New: it sets zerolog's global time format on every call,
	// which races with loggers of tests running in parallel.
	log := zerolog.New(secrets.Writer(w)).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	px, err := proxy.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	client, err := controlplane.Dial(controlplane.DialConfig{
		Address: cp.Addr(), Account: Account, Token: DelegateToken, Plaintext: true, Dial: px.DialContext,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	budget, override := bitbucket.DefaultBudget, false
	if o.Budget.Requests > 0 {
		budget, override = o.Budget, true
	}
	clk := o.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	budgets := bitbucket.NewBudgets(clk, budget, override)
	retry := FastRetry(log)
	bb := bitbucket.New(bitbucket.Options{
		Proxy: px.ForRequest, Budgets: budgets,
		Retry: retry, AttemptTimeout: 5 * time.Second, Log: log, Metrics: m,
	})
	policy := LoopbackAccess()
	if o.Access != nil {
		policy = *o.Access
	}
	exec := &agent.Executor{
		Bitbucket: bb, Proxy: px, Secrets: secrets, Workers: o.Workers, Access: policy,
		// The environment of a real delegate: its own token is there too.
		Getenv: func(k string) (string, bool) {
			switch k {
			case TokenEnv:
				return BitbucketToken, true
			case "IDP_DELEGATE_TOKEN":
				return DelegateToken, true
			}
			v, ok := o.Env[k]
			return v, ok
		},
		ReadFile: func(string) ([]byte, error) { return nil, io.ErrUnexpectedEOF },
	}
	up := o.Upload
	up.RetryBase, up.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	a := agent.New(client, exec.NewWork, agent.Config{
		Registration:  task.Registration{Name: "test-delegate", Version: "test", Concurrency: o.Concurrency},
		ShutdownGrace: o.Grace, MaxBackoff: 200 * time.Millisecond, Upload: up,
		Seed: 1, Log: log, Metrics: m, Secrets: secrets,
	})
	ctx, cancel := context.WithCancel(context.Background())
	d := &Delegate{Metrics: m, Budgets: budgets, Secrets: secrets, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		d.err = a.Run(ctx)
		client.Close()
	}()
	t.Cleanup(func() { d.Stop() })
	return d
}

// Stop shuts the delegate down as SIGTERM would and returns Run's error.
func (d *Delegate) Stop() error {
	d.cancel()
	<-d.done
	return d.err
}

// Nop is a logger that discards everything.
func Nop() zerolog.Logger { return zerolog.Nop() }

// FastRetry is the production retry policy with waits scaled down.
func FastRetry(log zerolog.Logger) *bitbucket.RetryPolicy {
	p := bitbucket.NewRetryPolicy(log, 7)
	p.Base, p.RateLimitBase, p.Max = 5*time.Millisecond, 50*time.Millisecond, 300*time.Millisecond
	p.Attempts = 10
	return p
}

// SyncTask builds a SYNC task for the mock at apiURL.
func SyncTask(apiURL, workspace string, limits *pb.SyncLimits, cursors []*pb.RepositoryCursor, start time.Time) *pb.Task {
	s := &pb.SyncTask{
		IntegrationId: "int-1",
		Target:        &pb.BitbucketTarget{Workspace: workspace, ApiBaseUrl: apiURL, TokenRef: "env:" + TokenEnv},
		SecondaryKinds: []pb.SecondaryKind{
			pb.SecondaryKind_SECONDARY_KIND_PULL_REQUESTS, pb.SecondaryKind_SECONDARY_KIND_COMMITS,
		},
		Limits:  limits,
		Cursors: cursors,
	}
	if !start.IsZero() {
		s.StartDate = timestamppb.New(start)
	}
	return &pb.Task{Type: pb.TaskType_TASK_TYPE_SYNC, Sync: s}
}

// WithHost replaces the host of a URL (to reach a loopback server through
// a name that resolves to it).
func WithHost(raw, host string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Host = host + ":" + u.Port()
	return u.String()
}

// Run enqueues a task and waits for its final completion.
func Run(t testing.TB, cp *fakecontrol.Server, tk *pb.Task, timeout time.Duration) (string, *pb.CompleteTaskRequest) {
	t.Helper()
	id := cp.Enqueue(tk)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done, err := cp.WaitDone(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return id, done
}

// SyncedSince returns the records a task's batches carried, by identity.
func SyncedSince(cp *fakecontrol.Server, id string) map[string]*pb.Record {
	out := map[string]*pb.Record{}
	for _, b := range cp.Task(id).Batches {
		for _, r := range b {
			out[fakecontrol.Identity(r)] = r
		}
	}
	return out
}

// SyncWriter is a goroutine-safe buffer for capturing logs.
type SyncWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (w *SyncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// String returns everything written.
func (w *SyncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
