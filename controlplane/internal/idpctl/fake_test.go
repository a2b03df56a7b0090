package idpctl

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
)

// fakeServer implements the management services in memory, records every
// request with its authorization header, and returns queued errors. It runs
// behind a real gRPC server on a loopback port, so idpctl's requests make
// the whole round trip.
type fakeServer struct {
	integrationv1.UnimplementedConnectorServiceServer
	integrationv1.UnimplementedIntegrationServiceServer
	integrationv1.UnimplementedDiscoveryServiceServer
	catalogv1.UnimplementedCatalogServiceServer

	mu    sync.Mutex
	calls []fakeCall
	errs  map[string][]error // per method: returned by the next calls, in order

	pageSize      int // page size when a request gives none; 0 means everything
	connectors    []*integrationv1.Connector
	integrations  []*integrationv1.Integration
	testResult    *integrationv1.ConnectorTest
	blockTest     bool // TestConnector waits for the caller's deadline
	runs          []*integrationv1.SyncRun
	syncJoined    bool
	runScript     []*integrationv1.SyncRun // GetSyncRun answers in turn; the last repeats
	events        []*integrationv1.Event
	discovered    []*integrationv1.DiscoveredRepository
	imported      []*integrationv1.ImportedRepository
	importResults map[string]*integrationv1.ImportResult // by repository; absent: ok, registered
	entities      []*catalogv1.Entity
	activity      *catalogv1.GetEntityActivityResponse
}

type fakeCall struct {
	method string
	req    proto.Message
	auth   string
}

func (f *fakeServer) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := path.Base(info.FullMethod)
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{method: method, req: proto.Clone(req.(proto.Message)), auth: strings.Join(md.Get("authorization"), ",")})
	if q := f.errs[method]; len(q) > 0 {
		f.errs[method] = q[1:]
		f.mu.Unlock()
		return nil, q[0]
	}
	f.mu.Unlock()
	return handler(ctx, req)
}

// failNext makes the next call of method fail with err.
func (f *fakeServer) failNext(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.errs == nil {
		f.errs = map[string][]error{}
	}
	f.errs[method] = append(f.errs[method], err)
}

// requests returns the recorded requests of one method.
func (f *fakeServer) requests(method string) []proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []proto.Message
	for _, c := range f.calls {
		if c.method == method {
			out = append(out, c.req)
		}
	}
	return out
}

func (f *fakeServer) allCalls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// pageOf cuts items into pages whose tokens are start offsets.
func pageOf[T any](f *fakeServer, items []T, size int32, token string) ([]T, string) {
	n := int(size)
	if n == 0 {
		n = f.pageSize
	}
	start, _ := strconv.Atoi(token)
	if n == 0 || start+n >= len(items) {
		return items[min(start, len(items)):], ""
	}
	return items[start : start+n], strconv.Itoa(start + n)
}

func notFound(what, name string) error {
	return status.Errorf(codes.NotFound, "%s %q not found", what, name)
}

// ConnectorService.

func (f *fakeServer) CreateConnector(_ context.Context, req *integrationv1.CreateConnectorRequest) (*integrationv1.CreateConnectorResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := proto.Clone(req.GetConnector()).(*integrationv1.Connector)
	c.Id = "c-" + strconv.Itoa(len(f.connectors)+1)
	c.Workspace = path.Base(c.GetUrl())
	c.CreatedAt = timestamppb.New(testNow.Add(-time.Minute))
	f.connectors = append(f.connectors, c)
	return &integrationv1.CreateConnectorResponse{Connector: c}, nil
}

func (f *fakeServer) GetConnector(_ context.Context, req *integrationv1.GetConnectorRequest) (*integrationv1.GetConnectorResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.connectors {
		if c.GetId() == req.GetConnector() || c.GetName() == req.GetConnector() {
			return &integrationv1.GetConnectorResponse{Connector: c}, nil
		}
	}
	return nil, notFound("connector", req.GetConnector())
}

func (f *fakeServer) ListConnectors(_ context.Context, req *integrationv1.ListConnectorsRequest) (*integrationv1.ListConnectorsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	items, next := pageOf(f, f.connectors, req.GetPageSize(), req.GetPageToken())
	return &integrationv1.ListConnectorsResponse{Connectors: items, NextPageToken: next, Total: int64(len(f.connectors))}, nil
}

func (f *fakeServer) DeleteConnector(context.Context, *integrationv1.DeleteConnectorRequest) (*integrationv1.DeleteConnectorResponse, error) {
	return &integrationv1.DeleteConnectorResponse{}, nil
}

func (f *fakeServer) TestConnector(ctx context.Context, req *integrationv1.TestConnectorRequest) (*integrationv1.TestConnectorResponse, error) {
	if f.blockTest {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return &integrationv1.TestConnectorResponse{Test: f.testResult}, nil
}

func (f *fakeServer) GetConnectorTest(context.Context, *integrationv1.GetConnectorTestRequest) (*integrationv1.GetConnectorTestResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &integrationv1.GetConnectorTestResponse{Test: f.testResult}, nil
}

// IntegrationService.

func (f *fakeServer) CreateIntegration(_ context.Context, req *integrationv1.CreateIntegrationRequest) (*integrationv1.CreateIntegrationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := proto.Clone(req.GetIntegration()).(*integrationv1.Integration)
	in.Id = "i-" + strconv.Itoa(len(f.integrations)+1)
	if in.Workspace == "" {
		in.Workspace = "acme"
	}
	in.State = integrationv1.IntegrationState_INTEGRATION_STATE_ENABLED
	f.integrations = append(f.integrations, in)
	return &integrationv1.CreateIntegrationResponse{
		Integration: in,
		FirstRun:    &integrationv1.SyncRun{Id: "r-1", IntegrationId: in.Id, Status: integrationv1.SyncStatus_SYNC_STATUS_QUEUED},
	}, nil
}

func (f *fakeServer) findIntegration(name string) (*integrationv1.Integration, error) {
	for _, in := range f.integrations {
		if in.GetId() == name || in.GetName() == name {
			return in, nil
		}
	}
	return nil, notFound("integration", name)
}

func (f *fakeServer) GetIntegration(_ context.Context, req *integrationv1.GetIntegrationRequest) (*integrationv1.GetIntegrationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.findIntegration(req.GetIntegration())
	return &integrationv1.GetIntegrationResponse{Integration: in}, err
}

func (f *fakeServer) ListIntegrations(_ context.Context, req *integrationv1.ListIntegrationsRequest) (*integrationv1.ListIntegrationsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	items, next := pageOf(f, f.integrations, req.GetPageSize(), req.GetPageToken())
	return &integrationv1.ListIntegrationsResponse{Integrations: items, NextPageToken: next, Total: int64(len(f.integrations))}, nil
}

// UpdateIntegration copies the masked fields, as the real server does.
func (f *fakeServer) UpdateIntegration(_ context.Context, req *integrationv1.UpdateIntegrationRequest) (*integrationv1.UpdateIntegrationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.findIntegration(req.GetIntegration())
	if err != nil {
		return nil, err
	}
	src, dst := req.GetChanges().ProtoReflect(), in.ProtoReflect()
	for _, p := range req.GetUpdateMask().GetPaths() {
		fd := dst.Descriptor().Fields().ByName(protoreflect.Name(p))
		if fd == nil {
			return nil, status.Errorf(codes.InvalidArgument, "unknown field %q", p)
		}
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
	}
	return &integrationv1.UpdateIntegrationResponse{Integration: in}, nil
}

func (f *fakeServer) SuspendIntegration(_ context.Context, req *integrationv1.SuspendIntegrationRequest) (*integrationv1.SuspendIntegrationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.findIntegration(req.GetIntegration())
	if err != nil {
		return nil, err
	}
	in.State = integrationv1.IntegrationState_INTEGRATION_STATE_SUSPENDED
	return &integrationv1.SuspendIntegrationResponse{Integration: in}, nil
}

func (f *fakeServer) ResumeIntegration(_ context.Context, req *integrationv1.ResumeIntegrationRequest) (*integrationv1.ResumeIntegrationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.findIntegration(req.GetIntegration())
	if err != nil {
		return nil, err
	}
	in.State = integrationv1.IntegrationState_INTEGRATION_STATE_ENABLED
	return &integrationv1.ResumeIntegrationResponse{Integration: in}, nil
}

func (f *fakeServer) SyncIntegration(context.Context, *integrationv1.SyncIntegrationRequest) (*integrationv1.SyncIntegrationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &integrationv1.SyncIntegrationResponse{Run: f.runScript[0], Joined: f.syncJoined}, nil
}

// GetSyncRun advances the scripted run by one step per call.
func (f *fakeServer) GetSyncRun(context.Context, *integrationv1.GetSyncRunRequest) (*integrationv1.GetSyncRunResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.runScript) > 1 {
		f.runScript = f.runScript[1:]
	}
	return &integrationv1.GetSyncRunResponse{Run: f.runScript[0]}, nil
}

func (f *fakeServer) ListSyncRuns(_ context.Context, req *integrationv1.ListSyncRunsRequest) (*integrationv1.ListSyncRunsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	items, next := pageOf(f, f.runs, req.GetPageSize(), req.GetPageToken())
	return &integrationv1.ListSyncRunsResponse{Runs: items, NextPageToken: next, Total: int64(len(f.runs))}, nil
}

func (f *fakeServer) ListEvents(_ context.Context, req *integrationv1.ListEventsRequest) (*integrationv1.ListEventsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	items, next := pageOf(f, f.events, req.GetPageSize(), req.GetPageToken())
	return &integrationv1.ListEventsResponse{Events: items, NextPageToken: next}, nil
}

// DiscoveryService.

func (f *fakeServer) ListDiscovered(_ context.Context, req *integrationv1.ListDiscoveredRequest) (*integrationv1.ListDiscoveredResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	items, next := pageOf(f, f.discovered, req.GetPageSize(), req.GetPageToken())
	return &integrationv1.ListDiscoveredResponse{Repositories: items, NextPageToken: next, Total: int64(len(f.discovered))}, nil
}

func (f *fakeServer) ImportRepositories(_ context.Context, req *integrationv1.ImportRepositoriesRequest) (*integrationv1.ImportRepositoriesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := []string{}
	for _, it := range req.GetItems() {
		names = append(names, it.GetRepository())
	}
	if req.GetAll() {
		for _, d := range f.discovered {
			names = append(names, d.GetFullName())
		}
	}
	resp := &integrationv1.ImportRepositoriesResponse{}
	for _, n := range names {
		r, ok := f.importResults[n]
		if !ok {
			r = &integrationv1.ImportResult{Repository: n, Ok: true, Action: integrationv1.ImportAction_IMPORT_ACTION_REGISTER,
				Entity: &integrationv1.EntityRef{Id: "e-" + n, Identifier: strings.ReplaceAll(path.Base(n), "-", "_")}}
		}
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}

func (f *fakeServer) SetAutoImport(_ context.Context, req *integrationv1.SetAutoImportRequest) (*integrationv1.SetAutoImportResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.findIntegration(req.GetIntegration())
	if err != nil {
		return nil, err
	}
	in.AutoImport = req.GetEnabled()
	return &integrationv1.SetAutoImportResponse{Integration: in}, nil
}

func (f *fakeServer) ListImported(_ context.Context, req *integrationv1.ListImportedRequest) (*integrationv1.ListImportedResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	items, next := pageOf(f, f.imported, req.GetPageSize(), req.GetPageToken())
	return &integrationv1.ListImportedResponse{Repositories: items, NextPageToken: next, Total: int64(len(f.imported))}, nil
}

func (f *fakeServer) UnlinkRepository(context.Context, *integrationv1.UnlinkRepositoryRequest) (*integrationv1.UnlinkRepositoryResponse, error) {
	return &integrationv1.UnlinkRepositoryResponse{}, nil
}

// CatalogService.

func (f *fakeServer) CreateEntity(_ context.Context, req *catalogv1.CreateEntityRequest) (*catalogv1.CreateEntityResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := &catalogv1.Entity{Id: "e-1", Kind: "Component", Identifier: "payments_service", Yaml: req.GetYaml()}
	f.entities = append(f.entities, e)
	return &catalogv1.CreateEntityResponse{Entity: e}, nil
}

func (f *fakeServer) UpdateEntity(_ context.Context, req *catalogv1.UpdateEntityRequest) (*catalogv1.UpdateEntityResponse, error) {
	return &catalogv1.UpdateEntityResponse{Entity: &catalogv1.Entity{Id: "e-1", Kind: "Component", Identifier: "payments_service", Yaml: req.GetYaml()}}, nil
}

func (f *fakeServer) GetEntity(_ context.Context, req *catalogv1.GetEntityRequest) (*catalogv1.GetEntityResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.entities {
		if e.GetId() == req.GetKey().GetEntity() || e.GetIdentifier() == req.GetKey().GetEntity() {
			return &catalogv1.GetEntityResponse{Entity: e}, nil
		}
	}
	return nil, notFound("entity", req.GetKey().GetEntity())
}

func (f *fakeServer) ListEntities(_ context.Context, req *catalogv1.ListEntitiesRequest) (*catalogv1.ListEntitiesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	items, next := pageOf(f, f.entities, req.GetPageSize(), req.GetPageToken())
	return &catalogv1.ListEntitiesResponse{Entities: items, NextPageToken: next, Total: int64(len(f.entities))}, nil
}

func (f *fakeServer) DeleteEntity(context.Context, *catalogv1.DeleteEntityRequest) (*catalogv1.DeleteEntityResponse, error) {
	return &catalogv1.DeleteEntityResponse{}, nil
}

func (f *fakeServer) GetEntityActivity(context.Context, *catalogv1.GetEntityActivityRequest) (*catalogv1.GetEntityActivityResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.activity, nil
}

// testNow is the harness's clock: tables show ages relative to it.
var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(testNow.Add(-d)) }

// harness runs idpctl against a fake server.
type harness struct {
	t       *testing.T
	fake    *fakeServer
	env     map[string]string
	stdin   string
	columns int // stderr is a terminal this wide; 0: not a terminal
	now     func() time.Time
}

func newHarness(t *testing.T, opts ...grpc.ServerOption) *harness {
	t.Helper()
	f := &fakeServer{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(append(opts, grpc.UnaryInterceptor(f.intercept))...)
	integrationv1.RegisterConnectorServiceServer(s, f)
	integrationv1.RegisterIntegrationServiceServer(s, f)
	integrationv1.RegisterDiscoveryServiceServer(s, f)
	catalogv1.RegisterCatalogServiceServer(s, f)
	go func() { _ = s.Serve(lis) }() // returns when Stop closes the listener
	t.Cleanup(s.Stop)
	return &harness{
		t:    t,
		fake: f,
		env:  map[string]string{"IDP_SERVER": lis.Addr().String(), "IDP_API_KEY": "test-key"},
		now:  func() time.Time { return testNow },
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func (h *harness) run(args ...string) result {
	h.t.Helper()
	var out, errOut bytes.Buffer
	a := newApp(&out, &errOut, func(k string) string { return h.env[k] })
	a.now = h.now
	a.loc = time.UTC
	a.pollInterval = time.Millisecond
	a.terminalWidth = func(io.Writer) int { return h.columns }
	a.stdin = strings.NewReader(h.stdin)
	code := a.run(context.Background(), args)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// mustRun runs idpctl and fails the test unless it exits with want.
func (h *harness) mustRun(want int, args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != want {
		h.t.Fatalf("idpctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/NAME.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", file, diff)
	}
}
