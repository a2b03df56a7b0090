package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalogsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/discoverysvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/hooksvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/httpapi"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integrationsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/metrics"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/rpc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// testConsole stands in for the built console.
var testConsole = fstest.MapFS{
	"index.html":              {Data: []byte("<!doctype html><title>console</title>")},
	"favicon.svg":             {Data: []byte("<svg/>")},
	"assets/index-3f2a9c.js":  {Data: []byte("console.log(1)")},
	"assets/index-3f2a9c.css": {Data: []byte("body{}")},
}

// harness is a control plane as serve wires it, on a real SQLite file:
// the gRPC server on a loopback listener and the HTTP face on another.
type harness struct {
	t     testing.TB
	db    *store.DB
	clock *clock.Fake
	// discovery is the service behind DiscoveryService, for seeding.
	discovery *discoverysvc.Service
	// hooks receives webhook deliveries under /hooks/bitbucket/.
	hooks *hooksvc.Service
	grpc  *grpc.Server
	conn  *grpc.ClientConn
	srv   *httptest.Server
	// admin holds every permission on an account with the flag on.
	admin string
	// handler is the HTTP face h.srv serves.
	handler http.Handler
	metrics *metrics.Metrics
}

type harnessOptions struct {
	tls     bool
	catalog catalogv1.CatalogServiceServer // replaces the real one
	db      *store.DB                      // nil: a fresh SQLite file
	log     io.Writer                      // nil: no logs
	metrics bool                           // count RPCs as serve does with --metrics-listen
	// hookBurst bounds the deliveries one source may send at once (the
	// fake clock refills nothing); 0: the default.
	hookBurst int
}

func newHarness(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, db: o.db, clock: clock.NewFake(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))}
	if h.db == nil {
		h.db = storetest.SQLite(t)
	}
	log := zerolog.Nop()
	if o.log != nil {
		log = zerolog.New(o.log)
	}
	clk := h.clock
	disc := discoverysvc.New(h.db, clk, log)
	h.discovery = disc
	entities := catalogsvc.New(h.db, clk)
	leases := dispatch.New(h.db, dispatch.DefaultConfig, clk, log, disc)
	t.Cleanup(leases.Stop)
	authn := &auth.Authenticator{Store: h.db}
	mgr := integrationsvc.New(h.db, leases, clk, log)
	var catalog catalogv1.CatalogServiceServer = rpc.NewCatalogServer(entities)
	if o.catalog != nil {
		catalog = o.catalog
	}
	if o.metrics {
		h.metrics = metrics.New()
	}
	g, _ := rpc.NewServer(rpc.Deps{Store: h.db, Auth: authn, Tasks: leases, Manage: mgr, Log: log,
		Discovery: rpc.NewDiscoveryServer(disc, mgr), Previewer: disc, Catalog: catalog, Metrics: h.metrics})
	h.grpc = g
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	h.conn, err = grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.conn.Close() })

	h.hooks = hooksvc.New(h.db, leases, clk, log)
	handler, err := httpapi.New(httpapi.Config{GRPC: g, Services: rpc.ManagementServices, Auth: authn, Sessions: h.db,
		Console: testConsole, TLS: o.tls, SessionIdle: 30 * time.Minute, SessionMax: 12 * time.Hour, Clock: clk, Log: log,
		Hooks: h.hooks, HookBurst: o.hookBurst})
	if err != nil {
		t.Fatal(err)
	}
	h.handler = handler
	if o.tls {
		h.srv = httptest.NewTLSServer(handler)
	} else {
		h.srv = httptest.NewServer(handler)
	}
	t.Cleanup(h.srv.Close)

	h.account("acme", true)
	h.admin = h.key("acme", auth.AllPermissions...)
	return h
}

func (h *harness) account(id string, flagOn bool) {
	h.t.Helper()
	var flags []auth.Flag
	if flagOn {
		flags = []auth.Flag{auth.FlagAutoDiscovery}
	}
	if err := h.db.CreateAccount(context.Background(), auth.Account{ID: id, CreatedAt: h.clock.Now()}, flags); err != nil {
		h.t.Fatal(err)
	}
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

// client is a browser-like HTTP client: it keeps cookies.
func (h *harness) client() *http.Client {
	h.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	c := *h.srv.Client() // a copy: the server's client is shared
	c.Jar = jar
	return &c
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the given headers ("Name: value") and body.
func (h *harness) do(c *http.Client, method, path, body string, headers ...string) response {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ": ")
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// call is a Connect JSON call of /api/<service>/<method>, as curl makes it.
func (h *harness) call(c *http.Client, method, body string, headers ...string) response {
	h.t.Helper()
	return h.do(c, http.MethodPost, "/api/"+method, body, append([]string{"Content-Type: application/json"}, headers...)...)
}

func bearer(key string) string { return "Authorization: Bearer " + key }

// connectError is the Connect protocol's JSON error.
type connectError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"details"`
	info *errdetails.ErrorInfo
	bad  *errdetails.BadRequest
}

// decodeError parses a Connect error body and its ErrorInfo and
// BadRequest details.
func decodeError(t testing.TB, r response) connectError {
	t.Helper()
	var e connectError
	if err := json.Unmarshal(r.body, &e); err != nil || e.Code == "" {
		t.Fatalf("HTTP %d: not a Connect error: %s (%v)", r.status, r.body, err)
	}
	for _, d := range e.Details {
		raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(d.Value, "="))
		if err != nil {
			t.Fatalf("detail %s: %v", d.Type, err)
		}
		var m proto.Message
		switch d.Type {
		case "google.rpc.ErrorInfo":
			e.info = &errdetails.ErrorInfo{}
			m = e.info
		case "google.rpc.BadRequest":
			e.bad = &errdetails.BadRequest{}
			m = e.bad
		default:
			continue
		}
		if err := proto.Unmarshal(raw, m); err != nil {
			t.Fatalf("detail %s: %v", d.Type, err)
		}
	}
	return e
}

// wantError checks an HTTP error answer: status, Connect code and
// ErrorInfo reason (empty: any).
func wantError(t testing.TB, r response, status int, code, reason string) connectError {
	t.Helper()
	if r.status != status {
		t.Fatalf("HTTP %d, want %d: %s", r.status, status, r.body)
	}
	e := decodeError(t, r)
	if e.Code != code {
		t.Fatalf("code %q, want %q: %s", e.Code, code, r.body)
	}
	if reason != "" && e.info.GetReason() != reason {
		t.Fatalf("reason %q, want %q: %s", e.info.GetReason(), reason, r.body)
	}
	return e
}

func jsonBody(t testing.TB, r response, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", r.status, r.body)
	}
	if err := json.NewDecoder(bytes.NewReader(r.body)).Decode(v); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
}
