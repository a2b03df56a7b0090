package idpctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"
)

const paymentsYAML = `apiVersion: harness.io/v1
kind: Component
type: service
identifier: payments_service
name: Payments Service
owner: group:payments
spec:
  lifecycle: production
metadata:
  integration:
    account:
      i-1:
        repository:
          entity_uuid: '{2}'
          entity_action: MERGE
          imported_at: "2025-03-01T11:40:00Z"
  integration_properties:
    BitbucketCloud:
      name: payments-service-api
      default_branch: main`

func testEntity() *catalogv1.Entity {
	return &catalogv1.Entity{
		Id: "e-7", Kind: "Component", Type: "service", Identifier: "payments_service", Name: "Payments Service", Owner: "group:payments",
		Scope: "account", Lifecycle: "production", Description: "Takes the money", Tags: []string{"payments", "tier-1"},
		Yaml: paymentsYAML, CreatedAt: ago(30 * 24 * time.Hour), UpdatedAt: ago(20 * time.Minute), LinkedIntegrations: []string{"i-1"},
	}
}

func TestEntityCreateAndUpdateSendTheFile(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	file := filepath.Join(t.TempDir(), "payments.yaml")
	if err := os.WriteFile(file, []byte(paymentsYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.mustRun(0, "entity", "create", "-f", file)
	if r.stdout != "Entity Component/payments_service created (id e-1).\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
	if diff := cmp.Diff(&catalogv1.CreateEntityRequest{Yaml: paymentsYAML}, h.fake.requests("CreateEntity")[0], protocmp.Transform()); diff != "" {
		t.Errorf("create (-want +got):\n%s", diff)
	}
	h.stdin = "kind: Component\n"
	if r := h.mustRun(0, "entity", "update", "-f", "-"); r.stdout != "Entity Component/payments_service updated (id e-1).\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
	if got := h.fake.requests("UpdateEntity")[0].(*catalogv1.UpdateEntityRequest).GetYaml(); got != "kind: Component\n" {
		t.Errorf("update sent %q", got)
	}
	if r := h.mustRun(2, "entity", "create"); !strings.HasPrefix(r.stderr, "Error: --filename is required\n") {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func TestEntityGet(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.entities = []*catalogv1.Entity{testEntity()}
	r := h.mustRun(0, "entity", "get", "payments_service")
	golden(t, "entity-get", r.stdout)
	if r.stderr != "Full YAML: idpctl entity get payments_service -o yaml\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
	// -o yaml is the entity's own YAML, not the API message.
	if r := h.mustRun(0, "entity", "get", "payments_service", "-o", "yaml"); r.stdout != paymentsYAML+"\n" {
		t.Errorf("-o yaml = %q", r.stdout)
	}
	if r := h.mustRun(0, "entity", "get", "e-7", "-o", "json"); !strings.Contains(r.stdout, `"yaml": "apiVersion: harness.io/v1\n`) {
		t.Errorf("-o json = %s", r.stdout)
	}
	h.mustRun(0, "entity", "get", "payments_service", "--kind", "Component", "--scope", "account")
	want := &catalogv1.GetEntityRequest{Key: &catalogv1.EntityKey{Entity: "payments_service", Kind: "Component", Scope: "account"}}
	if diff := cmp.Diff(want, h.fake.requests("GetEntity")[3], protocmp.Transform()); diff != "" {
		t.Errorf("key (-want +got):\n%s", diff)
	}
}

func TestEntityListActivityDelete(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	deleted := &catalogv1.Entity{Id: "e-9", Kind: "API", Type: "openapi", Identifier: "billing", Name: "Billing API", Owner: "unknown",
		Scope: "org/finance", UpdatedAt: ago(3 * time.Hour), LinkedIntegrations: []string{"i-1"}, SourceDeleted: true}
	h.fake.entities = []*catalogv1.Entity{testEntity(), deleted}
	golden(t, "entity-list", h.mustRun(0, "entity", "list").stdout)

	h.fake.activity = &catalogv1.GetEntityActivityResponse{
		Entity: testEntity(), OpenPullRequests: 3, MergedPullRequests: 40, DeclinedPullRequests: 2, Commits: 250,
		RecentPullRequests: []*catalogv1.PullRequestSummary{
			{Repository: "acme/payments-service-api", Id: 42, Title: "Retry card captures", State: "OPEN", Author: "Ann", UpdatedOn: ago(2 * time.Hour)},
			{Repository: "acme/payments-service-api", Id: 41, Title: "Bump Go to 1.26", State: "MERGED", Author: "Bo", UpdatedOn: ago(26 * time.Hour)},
		},
		RecentCommits: []*catalogv1.CommitSummary{
			{Repository: "acme/payments-service-api", Hash: "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", Author: "Ann", Date: ago(3 * time.Hour), Summary: "Retry card captures"},
		},
	}
	golden(t, "entity-activity", h.mustRun(0, "entity", "activity", "payments_service", "--limit", "5").stdout)
	if got := h.fake.requests("GetEntityActivity")[0].(*catalogv1.GetEntityActivityRequest).GetLimit(); got != 5 {
		t.Errorf("limit = %d", got)
	}
	h.fake.activity = &catalogv1.GetEntityActivityResponse{Entity: testEntity()}
	if r := h.mustRun(0, "entity", "activity", "payments_service"); strings.Count(r.stdout, "None synced yet.") != 2 {
		t.Errorf("empty activity:\n%s", r.stdout)
	}

	if r := h.mustRun(0, "entity", "delete", "billing", "--kind", "API"); r.stdout != "Entity billing deleted.\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
	want := &catalogv1.DeleteEntityRequest{Key: &catalogv1.EntityKey{Entity: "billing", Kind: "API"}}
	if diff := cmp.Diff(want, h.fake.requests("DeleteEntity")[0], protocmp.Transform()); diff != "" {
		t.Errorf("delete (-want +got):\n%s", diff)
	}
}
