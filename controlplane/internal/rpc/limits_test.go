package rpc_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
)

// amplified is a 3 KB entity whose aliases expand to ten million flow
// mappings.
func amplified() string {
	var b strings.Builder
	b.WriteString("apiVersion: harness.io/v1\nkind: Component\ntype: service\nidentifier: boom\nspec: {lifecycle: production}\nmetadata:\n  l0: &l0 {v: x}\n")
	for l := 1; l <= 7; l++ {
		fmt.Fprintf(&b, "  l%d: &l%d {", l, l)
		for i := range 10 {
			fmt.Fprintf(&b, "k%d: *l%d, ", i, l-1)
		}
		b.WriteString("end: 1}\n")
	}
	return b.String()
}

func TestAmplifiedEntityIsRefusedAndReadsStayWorking(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h, _, _ := newFullHarness(t, db)
		ctx := h.mgmt()
		if _, err := h.catalog.CreateEntity(ctx, &catalogv1.CreateEntityRequest{Yaml: paymentsYAML}); err != nil {
			t.Fatal(err)
		}
		_, err := h.catalog.CreateEntity(ctx, &catalogv1.CreateEntityRequest{Yaml: amplified()})
		if desc := wantViolation(t, err, "yaml"); !strings.Contains(desc, "alias") {
			t.Fatalf("violation %q does not say why", desc)
		}
		_, err = h.catalog.UpdateEntity(ctx, &catalogv1.UpdateEntityRequest{Yaml: strings.Replace(amplified(), "boom", "payments", 1)})
		wantViolation(t, err, "yaml")
		// NUL by YAML escape, which PostgreSQL cannot store, and a name
		// no list could show.
		_, err = h.catalog.CreateEntity(ctx, &catalogv1.CreateEntityRequest{Yaml: strings.Replace(paymentsYAML, "name: payments-api", `name: "pay\0ments"`, 1)})
		wantViolation(t, err, "name")
		_, err = h.catalog.UpdateEntity(ctx, &catalogv1.UpdateEntityRequest{Yaml: strings.Replace(paymentsYAML, "name: payments-api", "name: "+strings.Repeat("n", 512<<10), 1)})
		wantViolation(t, err, "name")
		if _, err := h.catalog.GetEntity(ctx, &catalogv1.GetEntityRequest{Key: &catalogv1.EntityKey{Entity: "payments"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.catalog.GetEntityActivity(ctx, &catalogv1.GetEntityActivityRequest{Key: &catalogv1.EntityKey{Entity: "payments"}}); err != nil {
			t.Fatal(err)
		}
		list, err := h.catalog.ListEntities(ctx, &catalogv1.ListEntitiesRequest{})
		if err != nil || len(list.GetEntities()) != 1 {
			t.Fatalf("list: %v %v", list, err)
		}
	})
}

// TestUndecodableRequestIsInvalidArgumentAndLogged sends what no client
// library would: invalid UTF-8 in a string, and a truncated message.
func TestUndecodableRequestIsInvalidArgumentAndLogged(t *testing.T) {
	t.Parallel()
	h, _ := newDiscoveryHarness(t)
	req, err := proto.Marshal(&integrationv1.CreateIntegrationRequest{Integration: &integrationv1.Integration{Name: "ok",
		Correlation: &integrationv1.CorrelationRules{Rules: []*integrationv1.CorrelationRule{{IngestedPath: "name"}, {CatalogPath: utf8Marker}}}}})
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte(strings.Replace(string(req), utf8Marker, strings.Repeat("\xff", len(utf8Marker)), 1))
	const method = "/idp.integration.v1.IntegrationService/CreateIntegration"
	err = h.conn.Invoke(h.mgmt(), method, bad, new(rawMessage), grpc.ForceCodecV2(rawCodec{}))
	if desc := wantViolation(t, err, "integration.correlation.rules[1].catalog_path"); !strings.Contains(desc, "UTF-8") {
		t.Fatalf("violation %q does not say why", desc)
	}
	err = h.conn.Invoke(h.mgmt(), method, req[:len(req)-3], new(rawMessage), grpc.ForceCodecV2(rawCodec{}))
	wantStatus(t, err, codes.InvalidArgument, "")
	logs := h.logs.String()
	if !strings.Contains(logs, method) || !strings.Contains(logs, `"code":"InvalidArgument"`) || !strings.Contains(logs, "catalog_path") {
		t.Fatalf("the refused request was not logged with its method and field:\n%s", logs)
	}
}

// TestSearchTextIsBoundedAndWildcardsAreLiteral: the longest search text
// allowed, made of LIKE wildcards, is an ordinary search on both
// databases; one character more is refused naming the field.
func TestSearchTextIsBoundedAndWildcardsAreLiteral(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h, _, _ := newFullHarness(t, db)
		ctx := h.mgmt()
		h.createConnector("c", "acme")
		h.createIntegration("i", "c")
		wild := strings.Repeat(`%_\`, 200)[:200]
		if _, err := h.catalog.ListEntities(ctx, &catalogv1.ListEntitiesRequest{Search: wild}); err != nil {
			t.Fatalf("entities: %v", err)
		}
		if _, err := h.discovery.ListDiscovered(ctx, &integrationv1.ListDiscoveredRequest{Integration: "i", Search: wild}); err != nil {
			t.Fatalf("discovered: %v", err)
		}
		if _, err := h.discovery.ListImported(ctx, &integrationv1.ListImportedRequest{Integration: "i", Search: wild}); err != nil {
			t.Fatalf("imported: %v", err)
		}
		_, err := h.catalog.ListEntities(ctx, &catalogv1.ListEntitiesRequest{Search: wild + "x"})
		wantViolation(t, err, "search")
		_, err = h.catalog.ListEntities(ctx, &catalogv1.ListEntitiesRequest{Kind: "Componnet"})
		if desc := wantViolation(t, err, "kind"); !strings.Contains(desc, "Component") {
			t.Fatalf("kind violation %q does not list the kinds", desc)
		}
		if _, err := h.catalog.ListEntities(ctx, &catalogv1.ListEntitiesRequest{Kind: "component"}); err != nil {
			t.Fatalf("a kind in other case: %v", err)
		}
	})
}

func TestIntegrationKeepsItsWorkspace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	h.createConnector("acme-conn", "acme")
	h.createConnector("globex-conn", "globex")
	h.createIntegration("acme", "acme-conn")
	_, err := h.integrations.UpdateIntegration(h.mgmt(), &integrationv1.UpdateIntegrationRequest{Integration: "acme",
		Changes: &integrationv1.Integration{Connector: "globex-conn"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"connector"}}})
	if desc := wantViolation(t, err, "integration.connector"); !strings.Contains(desc, "globex") {
		t.Fatalf("violation %q does not name the other workspace", desc)
	}
	_, err = h.integrations.CreateIntegration(h.mgmt(), &integrationv1.CreateIntegrationRequest{Integration: &integrationv1.Integration{
		Name: "mixed", Connector: "globex-conn", Workspace: "acme"}})
	wantViolation(t, err, "integration.workspace")
}
