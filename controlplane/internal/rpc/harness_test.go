package rpc_test

import (
	"bytes"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"
	delegatev1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integrationsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/rpc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/logging"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is a real control plane on a loopback listener over a real
// SQLite file, with one bootstrapped account.
type harness struct {
	t  testing.TB
	db *store.DB
	// statements counts what the store sends to the database.
	statements *atomic.Int64
	clock      *clock.Fake
	leases     *dispatch.Service
	conn       *grpc.ClientConn
	logs       *syncBuffer
	account    string
	apiKey     string
	delegate   string // delegate token

	delegates    delegatev1.DelegateServiceClient
	connectors   integrationv1.ConnectorServiceClient
	integrations integrationv1.IntegrationServiceClient
	discovery    integrationv1.DiscoveryServiceClient
	catalog      catalogv1.CatalogServiceClient
	observed     chan tasks.SyncRun
}

// testLease answers a poll with nothing at once (a hold of zero on the fake
// clock); tests of waiting polls set a hold and move the clock.
var testLease = dispatch.Config{LeaseDuration: 2 * time.Minute, RenewInterval: 20 * time.Second, PollHold: 0,
	Recheck: time.Second, SweepInterval: time.Hour, MaxAttempts: 5, Limits: tasks.DefaultLimits}

type observer chan tasks.SyncRun

func (o observer) SyncFinished(_ context.Context, run tasks.SyncRun) error {
	select {
	case o <- run:
	default:
	}
	return nil
}

func newHarness(t testing.TB, cfg dispatch.Config) *harness {
	t.Helper()
	return newHarnessWith(t, cfg, nil)
}

// newHarnessWith is newHarness with the dispatch service's store wrapped by
// wrap, to inject races deterministically.
func newHarnessWith(t testing.TB, cfg dispatch.Config, wrap func(store.Store) store.Store) *harness {
	t.Helper()
	statements := &atomic.Int64{}
	h := &harness{t: t, db: storetest.SQLite(t, store.CountStatements(statements)), statements: statements,
		clock: clock.NewFake(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)), logs: &syncBuffer{}, account: "acme",
		observed: make(chan tasks.SyncRun, 16)}
	secrets := &logging.Secrets{}
	log, err := logging.New(h.logs, logging.Config{Level: "debug", Format: logging.FormatJSON}, secrets)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h.apiKey, h.delegate = h.bootstrap(h.account)
	var leaseStore store.Store = h.db
	if wrap != nil {
		leaseStore = wrap(h.db)
	}
	h.leases = dispatch.New(leaseStore, cfg, h.clock, log, observer(h.observed))
	authn := &auth.Authenticator{Store: h.db, Seen: func(tok string) { secrets.Add(tok) }}
	g, _ := rpc.NewServer(rpc.Deps{Store: h.db, Auth: authn, Tasks: h.leases, Manage: integrationsvc.New(h.db, h.leases, h.clock, log),
		Log: log})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(lis)
	t.Cleanup(func() { h.leases.Stop(); g.Stop() })
	h.conn, err = grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.conn.Close() })
	h.delegates = delegatev1.NewDelegateServiceClient(h.conn)
	h.connectors = integrationv1.NewConnectorServiceClient(h.conn)
	h.integrations = integrationv1.NewIntegrationServiceClient(h.conn)
	h.discovery = integrationv1.NewDiscoveryServiceClient(h.conn)
	h.catalog = catalogv1.NewCatalogServiceClient(h.conn)
	_ = ctx
	return h
}

// bootstrap creates an account with the flag on, an all-permission key
// and a delegate token.
func (h *harness) bootstrap(account string) (apiKey, delegateToken string) {
	h.t.Helper()
	ctx, now := context.Background(), h.clock.Now()
	if err := h.db.CreateAccount(ctx, auth.Account{ID: account, CreatedAt: now}, []auth.Flag{auth.FlagAutoDiscovery}); err != nil {
		h.t.Fatal(err)
	}
	return h.key(account, auth.AllPermissions...), h.delegateToken(account)
}

func (h *harness) key(account string, perms ...auth.Permission) string {
	h.t.Helper()
	tok := auth.NewToken(auth.APIKeyPrefix)
	if err := h.db.CreateAPIKey(context.Background(), auth.APIKey{ID: ids.New("key"), AccountID: account, Name: "test",
		Hash: auth.Hash(tok), Permissions: perms, CreatedAt: h.clock.Now()}); err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *harness) delegateToken(account string) string {
	h.t.Helper()
	tok := auth.NewToken(auth.DelegateTokenPrefix)
	if err := h.db.CreateDelegateToken(context.Background(), auth.DelegateToken{ID: ids.New("dt"), AccountID: account,
		Name: "d", Hash: auth.Hash(tok), CreatedAt: h.clock.Now()}); err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// mgmt is a context carrying the admin API key.
func (h *harness) mgmt() context.Context { return withKey(h.t.Context(), h.apiKey) }

func withKey(ctx context.Context, key string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
}

// as is a context carrying delegate credentials.
func as(ctx context.Context, account, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token, "x-account-id", account)
}

func (h *harness) dlg() context.Context { return as(h.t.Context(), h.account, h.delegate) }

// register registers a delegate of the harness account.
func (h *harness) register(name string, tags ...string) string {
	h.t.Helper()
	res, err := h.delegates.Register(h.dlg(), &delegatev1.RegisterRequest{Name: name, Tags: tags, Version: "test", Concurrency: 1})
	if err != nil {
		h.t.Fatal(err)
	}
	return res.GetDelegateId()
}

// pollWaiting returns once an AcquireTask is waiting: its hold timer and
// recheck ticker are on the clock.
func (h *harness) pollWaiting() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.clock.WaitForWaiters(ctx, 2); err != nil {
		h.t.Fatal("no AcquireTask is waiting:", err)
	}
}

func (h *harness) acquire(delegateID string) *delegatev1.Task {
	h.t.Helper()
	res, err := h.delegates.AcquireTask(h.dlg(), &delegatev1.AcquireTaskRequest{DelegateId: delegateID})
	if err != nil {
		h.t.Fatal(err)
	}
	return res.GetTask()
}

func (h *harness) createConnector(name, workspace string, selectors ...string) *integrationv1.Connector {
	h.t.Helper()
	res, err := h.connectors.CreateConnector(h.mgmt(), &integrationv1.CreateConnectorRequest{Connector: &integrationv1.Connector{
		Name: name, Url: "https://bitbucket.org/" + workspace, TokenRef: "env:BITBUCKET_TOKEN", DelegateSelectors: selectors}})
	if err != nil {
		h.t.Fatal(err)
	}
	return res.GetConnector()
}

func (h *harness) createIntegration(name, connector string) *integrationv1.CreateIntegrationResponse {
	h.t.Helper()
	res, err := h.integrations.CreateIntegration(h.mgmt(), &integrationv1.CreateIntegrationRequest{
		Integration: &integrationv1.Integration{Name: name, Connector: connector}})
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// wantStatus checks an error's code and ErrorInfo reason (empty: any).
func wantStatus(t *testing.T, err error, code codes.Code, reason string) (*errdetails.ErrorInfo, *errdetails.BadRequest) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("got %v, want code %v", err, code)
	}
	var info *errdetails.ErrorInfo
	var br *errdetails.BadRequest
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.BadRequest:
			br = d
		}
	}
	if code != codes.Unimplemented && info == nil {
		t.Fatalf("%v: no ErrorInfo", err)
	}
	if reason != "" && info.GetReason() != reason {
		t.Fatalf("reason %q, want %q (%v)", info.GetReason(), reason, err)
	}
	return info, br
}

// wantViolation checks that a BadRequest names field.
func wantViolation(t *testing.T, err error, field string) string {
	t.Helper()
	_, br := wantStatus(t, err, codes.InvalidArgument, "")
	for _, v := range br.GetFieldViolations() {
		if v.GetField() == field {
			return v.GetDescription()
		}
	}
	t.Fatalf("no violation for %s in %v", field, err)
	return ""
}
