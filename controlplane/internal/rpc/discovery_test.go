package rpc_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"
	delegatev1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
	"github.com/catalog-discovery/bitbucket/shared/record"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalogsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/discoverysvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/imports"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integrationsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/rpc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/logging"
)

// newDiscoveryHarness is a control plane on a loopback listener serving
// the discovery and catalog services, with discovery as the sync observer.
func newDiscoveryHarness(t *testing.T) (*harness, *discoverysvc.Service) {
	t.Helper()
	statements := &atomic.Int64{}
	h, disc, _ := newFullHarness(t, storetest.SQLite(t, store.CountStatements(statements)))
	h.statements = statements
	return h, disc
}

// newFullHarness is newDiscoveryHarness on db, also returning the server.
func newFullHarness(t *testing.T, db *store.DB) (*harness, *discoverysvc.Service, *grpc.Server) {
	t.Helper()
	h := &harness{t: t, db: db, clock: clock.NewFake(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)), logs: &syncBuffer{}, account: "acme"}
	log, err := logging.New(h.logs, logging.Config{Level: "debug", Format: logging.FormatJSON}, &logging.Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	h.apiKey, h.delegate = h.bootstrap(h.account)
	disc := discoverysvc.New(h.db, h.clock, log)
	entities := catalogsvc.New(h.db, h.clock)
	h.leases = dispatch.New(h.db, testLease, h.clock, log, disc)
	mgr := integrationsvc.New(h.db, h.leases, h.clock, log)
	g, _ := rpc.NewServer(rpc.Deps{Store: h.db, Auth: &auth.Authenticator{Store: h.db}, Tasks: h.leases, Manage: mgr, Log: log,
		Discovery: rpc.NewDiscoveryServer(disc, mgr), Previewer: disc, Catalog: rpc.NewCatalogServer(entities)})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(lis)
	t.Cleanup(func() { h.leases.Stop(); g.Stop() })
	if h.conn, err = grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.conn.Close() })
	h.delegates = delegatev1.NewDelegateServiceClient(h.conn)
	h.connectors = integrationv1.NewConnectorServiceClient(h.conn)
	h.integrations = integrationv1.NewIntegrationServiceClient(h.conn)
	h.discovery = integrationv1.NewDiscoveryServiceClient(h.conn)
	h.catalog = catalogv1.NewCatalogServiceClient(h.conn)
	return h, disc, g
}

// syncRepos completes the integration's queued sync with repos through the
// dispatch service, which reports the run to discovery.
func (h *harness) syncRepos(integrationID string, repos ...*record.Repository) {
	h.t.Helper()
	ctx := context.Background()
	task, ok, err := h.db.AcquireTask(ctx, store.AcquireRequest{AccountID: h.account, DelegateID: "d1", Delegate: "d1", Now: h.clock.Now(), LeaseFor: time.Minute})
	if err != nil || !ok || task.IntegrationID != integrationID {
		h.t.Fatalf("acquire: %v %v", ok, err)
	}
	records := []record.Record{}
	for _, r := range repos {
		records = append(records, record.Record{Repository: r})
	}
	if _, err := h.db.ApplyBatch(ctx, store.BatchRequest{AccountID: h.account, TaskID: task.ID, LeaseToken: task.LeaseToken, Sequence: 1,
		Records: append(records, record.Record{ListingComplete: &record.ListingComplete{RepositoryCount: int64(len(repos))}}), Now: h.clock.Now()}); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.leases.Complete(ctx, store.CompleteRequest{AccountID: h.account, TaskID: task.ID, LeaseToken: task.LeaseToken,
		Outcome: tasks.Succeeded}); err != nil {
		h.t.Fatal(err)
	}
}

func bbRepo(n int, slug string) *record.Repository {
	uuid := "{00000000-0000-0000-0000-00000000000" + string(rune('0'+n)) + "}"
	return &record.Repository{UUID: uuid, Slug: slug, Name: slug, FullName: "acme/" + slug, Workspace: "acme",
		Raw: json.RawMessage(`{"uuid":"` + uuid + `","name":"` + slug + `","is_private":true,"mainbranch":{"name":"main"},"links":{"html":{"href":"https://bitbucket.org/acme/` + slug + `"}}}`)}
}

const paymentsYAML = "apiVersion: harness.io/v1\nkind: Component\ntype: service\nidentifier: payments\nname: payments-api\nowner: group:pay\nspec:\n  lifecycle: production\n"

func TestCatalogServiceOverGRPC(t *testing.T) {
	t.Parallel()
	h, _ := newDiscoveryHarness(t)
	ctx := h.mgmt()

	_, err := h.catalog.CreateEntity(ctx, &catalogv1.CreateEntityRequest{Yaml: "apiVersion: harness.io/v1\nkind: Component\ntype: service\nidentifier: bad-id\nspec:\n  owner: x\n"})
	if desc := wantViolation(t, err, "identifier"); !strings.Contains(desc, "line 4") {
		t.Fatalf("identifier violation without its line: %s", desc)
	}
	if desc := wantViolation(t, err, "spec.lifecycle"); !strings.Contains(desc, "line 5") {
		t.Fatalf("lifecycle violation without its line: %s", desc)
	}
	created, err := h.catalog.CreateEntity(ctx, &catalogv1.CreateEntityRequest{Yaml: paymentsYAML})
	if err != nil {
		t.Fatal(err)
	}
	if e := created.GetEntity(); e.GetScope() != "account" || e.GetLifecycle() != "production" || e.GetCreatedAt() == nil || !strings.Contains(e.GetYaml(), "identifier: payments") {
		t.Fatalf("created: %v", e)
	}
	_, err = h.catalog.CreateEntity(ctx, &catalogv1.CreateEntityRequest{Yaml: paymentsYAML})
	wantStatus(t, err, codes.AlreadyExists, store.ReasonIdentifierTaken)
	// The same identifier under another kind: reads must say which.
	if _, err := h.catalog.CreateEntity(ctx, &catalogv1.CreateEntityRequest{Yaml: "apiVersion: harness.io/v1\nkind: API\ntype: openapi\nidentifier: payments\n"}); err != nil {
		t.Fatal(err)
	}
	_, err = h.catalog.GetEntity(ctx, &catalogv1.GetEntityRequest{Key: &catalogv1.EntityKey{Entity: "payments"}})
	wantStatus(t, err, codes.FailedPrecondition, store.ReasonAmbiguousIdentifier)
	got, err := h.catalog.GetEntity(ctx, &catalogv1.GetEntityRequest{Key: &catalogv1.EntityKey{Entity: "payments", Kind: "component", Scope: "account"}})
	if err != nil || got.GetEntity().GetId() != created.GetEntity().GetId() {
		t.Fatalf("get with kind: %v, %v", got, err)
	}
	list, err := h.catalog.ListEntities(ctx, &catalogv1.ListEntitiesRequest{Kind: "Component", Search: "PAYMENTS", PageSize: 1})
	if err != nil || list.GetTotal() != 1 || len(list.GetEntities()) != 1 || list.GetEntities()[0].GetYaml() != "" {
		t.Fatalf("list: %v, %v", list, err)
	}
	page1, err := h.catalog.ListEntities(ctx, &catalogv1.ListEntitiesRequest{PageSize: 1})
	if err != nil || page1.GetTotal() != 2 || page1.GetNextPageToken() == "" {
		t.Fatalf("page 1: %v, %v", page1, err)
	}
	page2, err := h.catalog.ListEntities(ctx, &catalogv1.ListEntitiesRequest{PageSize: 1, PageToken: page1.GetNextPageToken()})
	if err != nil || len(page2.GetEntities()) != 1 || page2.GetNextPageToken() != "" || page2.GetEntities()[0].GetKind() == page1.GetEntities()[0].GetKind() {
		t.Fatalf("page 2: %v, %v", page2, err)
	}
	_, err = h.catalog.UpdateEntity(ctx, &catalogv1.UpdateEntityRequest{Yaml: strings.Replace(paymentsYAML, "identifier: payments", "identifier: nobody", 1)})
	wantStatus(t, err, codes.NotFound, "")

	viewer := withKey(t.Context(), h.key(h.account, auth.CatalogView))
	if _, err := h.catalog.GetEntity(viewer, &catalogv1.GetEntityRequest{Key: &catalogv1.EntityKey{Entity: created.GetEntity().GetId()}}); err != nil {
		t.Fatalf("a viewer reads: %v", err)
	}
	_, err = h.catalog.DeleteEntity(viewer, &catalogv1.DeleteEntityRequest{Key: &catalogv1.EntityKey{Entity: created.GetEntity().GetId()}})
	wantStatus(t, err, codes.PermissionDenied, auth.ReasonPermissionMissing)
	if _, err := h.catalog.DeleteEntity(ctx, &catalogv1.DeleteEntityRequest{Key: &catalogv1.EntityKey{Entity: created.GetEntity().GetId()}}); err != nil {
		t.Fatal(err)
	}
	_, err = h.catalog.GetEntity(ctx, &catalogv1.GetEntityRequest{Key: &catalogv1.EntityKey{Entity: created.GetEntity().GetId()}})
	wantStatus(t, err, codes.NotFound, "")
}

func TestDiscoveryJourneyOverGRPC(t *testing.T) {
	t.Parallel()
	h, _ := newDiscoveryHarness(t)
	ctx := h.mgmt()
	if _, err := h.catalog.CreateEntity(ctx, &catalogv1.CreateEntityRequest{Yaml: paymentsYAML}); err != nil {
		t.Fatal(err)
	}
	conn := h.createConnector("bb", "acme")
	in := h.createIntegration("main", conn.GetId()).GetIntegration()
	h.syncRepos(in.GetId(), bbRepo(1, "payments-api"), bbRepo(2, "orders"), bbRepo(3, "payments"))

	disc, err := h.discovery.ListDiscovered(ctx, &integrationv1.ListDiscoveredRequest{Integration: "main"})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Name, Suggested string
		Action          integrationv1.ImportAction
		Note            bool
	}
	var rows []row
	for _, r := range disc.GetRepositories() {
		rows = append(rows, row{r.GetName(), r.GetSuggestedEntity().GetIdentifier(), r.GetRecommendedAction(), r.GetRecommendationNote() != ""})
		if r.GetDetectedAt() == nil || r.GetKind() != "Component" || r.GetType() != "service" {
			t.Errorf("row %v", r)
		}
	}
	// Register cannot create payments, whose identifier is taken: nothing is
	// recommended, and the note says why.
	want := []row{{"orders", "", integrationv1.ImportAction_IMPORT_ACTION_REGISTER, false},
		{"payments", "", integrationv1.ImportAction_IMPORT_ACTION_UNSPECIFIED, true},
		{"payments-api", "payments", integrationv1.ImportAction_IMPORT_ACTION_MERGE, false}}
	if diff := cmp.Diff(want, rows); diff != "" || disc.GetTotal() != 3 {
		t.Fatalf("discovered (-want +got):\n%s", diff)
	}
	merges, err := h.discovery.ListDiscovered(ctx, &integrationv1.ListDiscoveredRequest{Integration: "main", Search: "PAY",
		RecommendedAction: integrationv1.ImportAction_IMPORT_ACTION_MERGE})
	if err != nil || merges.GetTotal() != 1 {
		t.Fatalf("filtered: %v, %v", merges, err)
	}

	res, err := h.discovery.ImportRepositories(ctx, &integrationv1.ImportRepositoriesRequest{Integration: "main", Items: []*integrationv1.ImportItem{
		{Repository: "payments-api"}, {Repository: "orders"}, {Repository: "payments", Action: integrationv1.ImportAction_IMPORT_ACTION_REGISTER}}})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, r := range res.GetResults() {
		reasons = append(reasons, r.GetReason())
	}
	if diff := cmp.Diff([]string{"", "", store.ReasonIdentifierTaken}, reasons); diff != "" {
		t.Fatalf("import reasons (-want +got):\n%s", diff)
	}
	_, err = h.discovery.ImportRepositories(ctx, &integrationv1.ImportRepositoriesRequest{Integration: "main"})
	wantStatus(t, err, codes.InvalidArgument, "")

	imp, err := h.discovery.ListImported(ctx, &integrationv1.ListImportedRequest{Integration: "main"})
	if err != nil || imp.GetTotal() != 2 {
		t.Fatalf("imported: %v, %v", imp, err)
	}
	if r := imp.GetRepositories()[1]; r.GetName() != "payments-api" || r.GetStatus() != integrationv1.ImportStatus_IMPORT_STATUS_MERGED ||
		r.GetEntity().GetIdentifier() != "payments" || r.GetEntity().GetScope() != "account" || r.GetImportedAt() == nil {
		t.Fatalf("merged row: %v", r)
	}
	ent, err := h.catalog.GetEntity(ctx, &catalogv1.GetEntityRequest{Key: &catalogv1.EntityKey{Entity: "payments"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"integration_properties:", "BitbucketCloud:", "url: https://bitbucket.org/acme/payments-api",
		"default_branch: main", "visibility: private", "entity_action: MERGE", "entity_uuid: '{00000000-0000-0000-0000-000000000001}'", "imported_at:"} {
		if !strings.Contains(ent.GetEntity().GetYaml(), s) {
			t.Errorf("entity YAML lacks %q:\n%s", s, ent.GetEntity().GetYaml())
		}
	}
	if diff := cmp.Diff([]string{in.GetId()}, ent.GetEntity().GetLinkedIntegrations()); diff != "" {
		t.Errorf("linked integrations (-want +got):\n%s", diff)
	}

	if _, err := h.discovery.UnlinkRepository(ctx, &integrationv1.UnlinkRepositoryRequest{Integration: "main", Repository: "acme/payments-api"}); err != nil {
		t.Fatal(err)
	}
	_, err = h.discovery.UnlinkRepository(ctx, &integrationv1.UnlinkRepositoryRequest{Integration: "main", Repository: "acme/payments-api"})
	wantStatus(t, err, codes.FailedPrecondition, imports.ReasonNotImported)
	unlinked, err := h.discovery.ListDiscovered(ctx, &integrationv1.ListDiscoveredRequest{Integration: "main", UnlinkedOnly: true})
	if err != nil || len(unlinked.GetRepositories()) != 1 || !unlinked.GetRepositories()[0].GetUnlinked() {
		t.Fatalf("unlinked: %v, %v", unlinked, err)
	}

	auto, err := h.discovery.SetAutoImport(ctx, &integrationv1.SetAutoImportRequest{Integration: "main", Enabled: true})
	if err != nil || !auto.GetIntegration().GetAutoImport() {
		t.Fatalf("auto-import: %v, %v", auto, err)
	}
	events, err := h.integrations.ListEvents(ctx, &integrationv1.ListEventsRequest{Integration: "main"})
	if err != nil {
		t.Fatal(err)
	}
	var types []integrationv1.EventType
	for _, e := range events.GetEvents() {
		types = append(types, e.GetType())
	}
	wantTypes := []integrationv1.EventType{integrationv1.EventType_EVENT_TYPE_CONFIG_CHANGED, integrationv1.EventType_EVENT_TYPE_UNLINKED,
		integrationv1.EventType_EVENT_TYPE_IMPORT_FAILED, integrationv1.EventType_EVENT_TYPE_IMPORTED, integrationv1.EventType_EVENT_TYPE_IMPORTED,
		integrationv1.EventType_EVENT_TYPE_SYNC, integrationv1.EventType_EVENT_TYPE_CONFIG_CHANGED}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Fatalf("events, newest first (-want +got):\n%s", diff)
	}
	if e := events.GetEvents()[2]; e.GetError() != store.ReasonIdentifierTaken || e.GetRepository() != "acme/payments" {
		t.Fatalf("failure event: %v", e)
	}
}
