package agent

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"

	"github.com/catalog-discovery/bitbucket/delegate/internal/access"
	"github.com/catalog-discovery/bitbucket/delegate/internal/bitbucket"
	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	"github.com/catalog-discovery/bitbucket/delegate/internal/synctask"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/delegate/internal/upload"
	"github.com/catalog-discovery/bitbucket/shared/logging"
	"github.com/rs/zerolog"
)

// DefaultAPIBaseURL is Bitbucket Cloud's API, used when a task names none.
const DefaultAPIBaseURL = "https://api.bitbucket.org/2.0"

// Executor builds the work of SYNC and TEST_CONNECTION tasks.
type Executor struct {
	Bitbucket *bitbucket.Client
	Proxy     *proxy.Config
	// Access is what a task may make the delegate use; the zero value
	// allows nothing.
	Access access.Policy
	// Secrets receives every token resolved, so no log line shows it.
	Secrets  *logging.Secrets
	Getenv   func(string) (string, bool)
	ReadFile func(string) ([]byte, error)
	// Workers is the per-task repository concurrency.
	Workers int
}

// NewWork implements NewWork.
func (e *Executor) NewWork(t *task.Task, up *upload.Batcher, log zerolog.Logger) Work {
	switch t.Type {
	case task.TypeSync:
		return &syncWork{e: e, t: t, up: up, log: log}
	case task.TypeTestConnection:
		return &testConnectionWork{e: e, t: t, log: log}
	case task.TypeWebhook:
		return &webhookWork{e: e, t: t, log: log}
	default:
		return failedWork{err: fmt.Errorf("task type %d is not supported by this delegate version", t.Type)}
	}
}

// session checks what the task asks to use against the delegate's access
// policy, resolves the target's token and binds the Bitbucket client. The
// checks come first: a refused reference is never read.
func (e *Executor) session(target task.Target, log zerolog.Logger) (*bitbucket.Session, error) {
	raw := target.APIBaseURL
	if raw == "" {
		raw = DefaultAPIBaseURL
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("API base URL %q is not an http(s) URL", raw)
	}
	if err := e.Access.CheckAPIBaseURL(base); err != nil {
		return nil, err
	}
	if err := e.Access.CheckTokenRef(target.TokenRef); err != nil {
		return nil, err
	}
	cred, err := bitbucket.ResolveToken(target.TokenRef, e.Getenv, e.ReadFile)
	if err != nil {
		return nil, err
	}
	e.Secrets.Add(cred.Token())
	p, perr := e.Proxy.ForURL(base)
	ev := log.Info().Str("workspace", target.Workspace).Str("api", base.Redacted()).Str("credential", cred.Key).
		Str("proxy", logging.URL(p))
	if perr != nil {
		ev = ev.AnErr("proxy_error", perr)
	}
	ev.Msg("calling Bitbucket")
	return e.Bitbucket.Session(base, cred), nil
}

type failedWork struct{ err error }

func (w failedWork) Run(context.Context) Result {
	return Result{Outcome: task.OutcomeFailed, Err: w.err}
}
func (failedWork) Progress() task.Progress { return task.Progress{} }
func (failedWork) Checkpoint() []byte      { return nil }

type syncWork struct {
	e   *Executor
	t   *task.Task
	up  *upload.Batcher
	log zerolog.Logger
	run atomic.Pointer[synctask.Run]
}

func (w *syncWork) Run(ctx context.Context) Result {
	if w.t.Sync == nil {
		return Result{Outcome: task.OutcomeFailed, Err: errors.New("SYNC task without its sync payload")}
	}
	sess, err := w.e.session(w.t.Sync.Target, w.log)
	if err != nil {
		return Result{Outcome: task.OutcomeFailed, Err: err}
	}
	run := synctask.New(w.t, sess, w.up, w.e.Workers, w.log)
	w.run.Store(run)
	outcome, err := run.Execute(ctx)
	return Result{Outcome: outcome, Err: err, Webhook: run.Webhook()}
}

func (w *syncWork) Progress() task.Progress {
	if r := w.run.Load(); r != nil {
		return r.Progress()
	}
	return task.Progress{Phase: "starting"}
}

func (w *syncWork) Checkpoint() []byte {
	if r := w.run.Load(); r != nil {
		return r.Checkpoint()
	}
	return nil
}

type testConnectionWork struct {
	e        *Executor
	t        *task.Task
	log      zerolog.Logger
	requests atomic.Int64
}

func (w *testConnectionWork) Run(ctx context.Context) Result {
	if w.t.TestConnection == nil {
		return Result{Outcome: task.OutcomeFailed, Err: errors.New("TEST_CONNECTION task without its payload")}
	}
	target := w.t.TestConnection.Target
	sess, err := w.e.session(target, w.log)
	var re *bitbucket.ResolveError
	var ae *access.RefusedError
	switch {
	case errors.As(err, &re), errors.As(err, &ae):
		// The verdict is "this delegate cannot use the connector", not a
		// failure of the check.
		return Result{Outcome: task.OutcomeSucceeded, TestConnection: &task.TestConnectionResult{Message: err.Error()}}
	case err != nil:
		return Result{Outcome: task.OutcomeFailed, Err: err}
	}
	res, err := sess.CheckConnection(ctx, target.Workspace)
	w.requests.Store(sess.Requests())
	if err != nil {
		return Result{Outcome: task.OutcomeFailed, Err: fmt.Errorf("checking the connection: %w", err)}
	}
	return Result{Outcome: task.OutcomeSucceeded, TestConnection: &res}
}

func (w *testConnectionWork) Progress() task.Progress {
	return task.Progress{Phase: "test_connection", Requests: w.requests.Load()}
}

func (w *testConnectionWork) Checkpoint() []byte { return nil }

// webhookWork brings an integration's workspace webhook to the wanted
// settings (the control plane asks for this to deactivate it).
type webhookWork struct {
	e        *Executor
	t        *task.Task
	log      zerolog.Logger
	requests atomic.Int64
}

func (w *webhookWork) Run(ctx context.Context) Result {
	if w.t.Webhook == nil {
		return Result{Outcome: task.OutcomeFailed, Err: errors.New("WEBHOOK task without its payload")}
	}
	sess, err := w.e.session(w.t.Webhook.Target, w.log)
	if err != nil {
		return Result{Outcome: task.OutcomeFailed, Err: err}
	}
	res := sess.EnsureHook(ctx, w.t.Webhook.Target.Workspace, w.t.Webhook.Spec)
	w.requests.Store(sess.Requests())
	w.log.Info().Int("state", int(res.State)).Str("message", res.Message).Msg("workspace webhook brought to its settings")
	return Result{Outcome: task.OutcomeSucceeded, Webhook: &res}
}

func (w *webhookWork) Progress() task.Progress {
	return task.Progress{Phase: "webhook", Requests: w.requests.Load()}
}

func (w *webhookWork) Checkpoint() []byte { return nil }
