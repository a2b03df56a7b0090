package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
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
// policy, resolves the target's tokens and binds the Bitbucket client to
// them, for the task owner. The checks come first: a refused reference is
// never read. A token that is refused or does not resolve is reported in
// the pool and not used; when none is usable, the first reason is the
// error.
func (e *Executor) session(owner string, target task.Target, log zerolog.Logger) (*bitbucket.Session, error) {
	base, err := e.apiBase(target)
	if err != nil {
		return nil, err
	}
	if len(target.TokenRefs) == 0 {
		return nil, errors.New("the task names no token reference")
	}
	var toks []bitbucket.PoolToken
	var firstErr error
	for _, ref := range target.TokenRefs {
		cred, err := e.resolve(ref)
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			log.Error().Str("token_ref", safeRef(err, ref)).Err(err).Msg("token of the connector not usable on this delegate; the task goes on with the others")
			toks = append(toks, bitbucket.PoolToken{Ref: safeRef(err, ref), Unresolved: err.Error()})
			continue
		}
		toks = append(toks, bitbucket.PoolToken{Ref: ref, Credential: cred})
	}
	if !slices.ContainsFunc(toks, func(t bitbucket.PoolToken) bool { return t.Unresolved == "" }) {
		return nil, firstErr
	}
	keys := make([]string, 0, len(toks))
	for _, t := range toks {
		if t.Unresolved == "" {
			keys = append(keys, t.Credential.Key)
		}
	}
	p, perr := e.Proxy.ForURL(base)
	ev := log.Info().Str("workspace", target.Workspace).Str("api", logging.URL(base)).Strs("credentials", keys).
		Int("tokens", len(keys)).Str("proxy", logging.URL(p))
	if perr != nil {
		ev = ev.AnErr("proxy_error", perr)
	}
	ev.Msg("calling Bitbucket")
	return e.Bitbucket.PoolSession(base, e.Bitbucket.NewPool(owner, toks)), nil
}

// apiBase checks the target's API base URL against the access policy.
func (e *Executor) apiBase(target task.Target) (*url.URL, error) {
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
	return base, nil
}

// resolve checks a token reference against the access policy, then reads
// it; the secret is registered so that no log line shows it.
func (e *Executor) resolve(ref string) (bitbucket.Credential, error) {
	if err := e.Access.CheckTokenRef(ref); err != nil {
		return bitbucket.Credential{}, err
	}
	cred, err := bitbucket.ResolveToken(ref, e.Getenv, e.ReadFile)
	if err != nil {
		return bitbucket.Credential{}, err
	}
	e.Secrets.Add(cred.Token())
	return cred, nil
}

// safeRef is the reference as reports may show it: a malformed one is not
// echoed, since it is sometimes the token itself.
func safeRef(err error, ref string) string {
	if kind, name, ok := strings.Cut(ref, ":"); ok && name != "" && (kind == "env" || kind == "file") {
		return ref
	}
	return "(not shown)"
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
	sess, err := w.e.session(w.t.ID, w.t.Sync.Target, w.log)
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
	if _, err := w.e.apiBase(target); err != nil {
		if ae := (*access.RefusedError)(nil); errors.As(err, &ae) {
			return Result{Outcome: task.OutcomeSucceeded, TestConnection: &task.TestConnectionResult{Message: err.Error()}}
		}
		return Result{Outcome: task.OutcomeFailed, Err: err}
	}
	if len(target.TokenRefs) == 0 {
		return Result{Outcome: task.OutcomeFailed, Err: errors.New("the task names no token reference")}
	}
	// Each token is checked on its own: the verdict says which one works.
	var checks []task.TestConnectionResult
	for _, ref := range target.TokenRefs {
		one := target
		one.TokenRefs = []string{ref}
		res, err := w.checkOne(ctx, one)
		if err != nil {
			return Result{Outcome: task.OutcomeFailed, Err: err}
		}
		checks = append(checks, res)
	}
	res := combineChecks(checks)
	return Result{Outcome: task.OutcomeSucceeded, TestConnection: &res}
}

// checkOne checks a target of one token. Its verdict carries that token's
// TokenCheck.
func (w *testConnectionWork) checkOne(ctx context.Context, target task.Target) (task.TestConnectionResult, error) {
	ref := target.TokenRefs[0]
	sess, err := w.e.session(w.t.ID, target, w.log)
	var re *bitbucket.ResolveError
	var ae *access.RefusedError
	switch {
	case errors.As(err, &re), errors.As(err, &ae):
		// The verdict is "this delegate cannot use the token", not a
		// failure of the check.
		return task.TestConnectionResult{Message: err.Error(),
			Tokens: []task.TokenCheck{{Ref: safeRef(err, ref), Message: err.Error()}}}, nil
	case err != nil:
		return task.TestConnectionResult{}, err
	}
	res, err := sess.CheckConnection(ctx, target.Workspace)
	w.requests.Add(sess.Requests())
	if err != nil {
		return res, fmt.Errorf("checking the connection with %s: %w", ref, err)
	}
	u := sess.Tokens()[0]
	var scopes []string
	for _, sc := range strings.FieldsFunc(u.Scopes, func(r rune) bool { return r == ',' || r == ' ' }) {
		scopes = append(scopes, sc)
	}
	res.Tokens = []task.TokenCheck{{Ref: ref, Valid: res.TokenValid, MissingScopes: res.MissingScopes, Scopes: scopes,
		LimitPerHour: u.StatedLimit, Message: res.Message}}
	return res, nil
}

// combineChecks sums up the verdicts on each token: the connection works
// when every token does. With one token, its verdict is the connector's.
func combineChecks(checks []task.TestConnectionResult) task.TestConnectionResult {
	if len(checks) == 1 {
		return checks[0]
	}
	// The workspace is reachable when every token that works reaches it:
	// a token that does not work says nothing about the workspace.
	out := task.TestConnectionResult{OK: true, TokenValid: true}
	valid := 0
	var bad []string
	for _, c := range checks {
		out.Tokens = append(out.Tokens, c.Tokens...)
		out.OK = out.OK && c.OK
		out.TokenValid = out.TokenValid && c.TokenValid
		if c.TokenValid {
			out.WorkspaceReachable = (valid == 0 || out.WorkspaceReachable) && c.WorkspaceReachable
			valid++
		}
		for _, s := range c.MissingScopes {
			if !slices.Contains(out.MissingScopes, s) {
				out.MissingScopes = append(out.MissingScopes, s)
			}
		}
		if !c.OK {
			bad = append(bad, c.Tokens[0].Ref+": "+c.Message)
		}
	}
	if len(bad) == 0 {
		out.Message = fmt.Sprintf("connection OK with all %d tokens: each valid, workspace reachable, all scopes present", len(checks))
	} else {
		out.Message = fmt.Sprintf("%d of %d tokens fail: %s", len(bad), len(checks), strings.Join(bad, "; "))
	}
	return out
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
	sess, err := w.e.session(w.t.ID, w.t.Webhook.Target, w.log)
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
