package idpctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
)

func TestIntegrationCreateFromFlags(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.mustRun(0, "integration", "create", "--name", "Bitbucket PreQA", "--connector", "bb-preqa",
		"--behavior", "register", "--kind", "Component", "--type", "library",
		"--correlate", "name=name", "--correlate", "project.key=metadata.tags:contains",
		"--field", "name=name", "--field", "default_branch=mainbranch.name",
		"--secondary-kinds", "pull-requests", "--frequency", "1h", "--start-date", "2025-01-01", "--auto-import")

	want := &integrationv1.CreateIntegrationRequest{Integration: &integrationv1.Integration{
		Name:      "Bitbucket PreQA",
		Connector: "bb-preqa",
		Behavior:  integrationv1.Behavior_BEHAVIOR_REGISTER,
		Kind:      "Component",
		Type:      "library",
		Correlation: &integrationv1.CorrelationRules{Rules: []*integrationv1.CorrelationRule{
			{IngestedPath: "name", CatalogPath: "name", Operator: equals},
			{IngestedPath: "project.key", CatalogPath: "metadata.tags", Operator: contains},
		}},
		FieldMappings: &integrationv1.FieldMappings{Mappings: []*integrationv1.FieldMapping{
			{Name: "name", Path: "name"}, {Name: "default_branch", Path: "mainbranch.name"},
		}},
		SecondaryKinds:  &integrationv1.SecondaryKinds{Kinds: []integrationv1.SecondaryKind{integrationv1.SecondaryKind_SECONDARY_KIND_PULL_REQUESTS}},
		UpdateFrequency: integrationv1.UpdateFrequency_UPDATE_FREQUENCY_1_HOUR,
		StartDate:       timestamppb.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)),
		AutoImport:      true,
	}}
	if diff := cmp.Diff(want, h.fake.requests("CreateIntegration")[0], protocmp.Transform()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if want := "Integration \"Bitbucket PreQA\" created and enabled for workspace acme (id i-1).\nFirst sync queued: run r-1.\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	if want := "Follow the sync: idpctl sync 'Bitbucket PreQA' --wait\nThen: idpctl discovered list 'Bitbucket PreQA'\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
}

func TestIntegrationCreateDefaultsLeaveSettingsUnset(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustRun(0, "integration", "create", "--name", "acme", "--connector", "bb")
	want := &integrationv1.CreateIntegrationRequest{Integration: &integrationv1.Integration{Name: "acme", Connector: "bb"}}
	if diff := cmp.Diff(want, h.fake.requests("CreateIntegration")[0], protocmp.Transform()); diff != "" {
		t.Errorf("absent settings must stay absent so the server applies its defaults (-want +got):\n%s", diff)
	}
}

const integrationFile = `name: From File
connector: bb-preqa
behavior: merge
kind: API
correlate:
  - name=name
field:
  - language
secondary-kinds: pull-requests, commits
frequency: 6h
start-date: 2025-01-01
auto-import: true
`

func TestIntegrationCreateFromFileWithOverrides(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	file := filepath.Join(t.TempDir(), "integration.yaml")
	if err := os.WriteFile(file, []byte(integrationFile), 0o600); err != nil {
		t.Fatal(err)
	}
	h.mustRun(0, "integration", "create", "-f", file, "--name", "Overridden", "--correlate-identifier", "--auto-import=false")
	want := &integrationv1.CreateIntegrationRequest{Integration: &integrationv1.Integration{
		Name:          "Overridden",
		Connector:     "bb-preqa",
		Behavior:      integrationv1.Behavior_BEHAVIOR_MERGE,
		Kind:          "API",
		Correlation:   &integrationv1.CorrelationRules{}, // --correlate-identifier replaced the file's rules
		FieldMappings: &integrationv1.FieldMappings{Mappings: []*integrationv1.FieldMapping{{Name: "language", Path: "language"}}},
		SecondaryKinds: &integrationv1.SecondaryKinds{Kinds: []integrationv1.SecondaryKind{
			integrationv1.SecondaryKind_SECONDARY_KIND_PULL_REQUESTS, integrationv1.SecondaryKind_SECONDARY_KIND_COMMITS,
		}},
		UpdateFrequency: integrationv1.UpdateFrequency_UPDATE_FREQUENCY_6_HOURS,
		StartDate:       timestamppb.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)),
	}}
	got := h.fake.requests("CreateIntegration")[0]
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	// "correlation present with no rules" must reach the wire as present.
	if got.(*integrationv1.CreateIntegrationRequest).GetIntegration().GetCorrelation() == nil {
		t.Error("--correlate-identifier sent no correlation message")
	}
}

func TestIntegrationFileErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		file, body string
		err        string
	}{
		{"typo.yaml", "name: x\nconnector: y\nfrequence: 1h\n",
			"unmarshal errors:\n  line 3: field frequence is not a setting (the keys are " + specKeys + ")"},
		{"both.yaml", "name: x\nconnector: y\ncorrelate: [name=name]\ncorrelate-identifier: true\n",
			"give correlate or correlate-identifier, not both"},
		{"badrule.yaml", "name: x\nconnector: y\ncorrelate: [name]\n",
			`invalid correlate in ` + filepath.Join(dir, "badrule.yaml") + `: rule "name" has no '='; want INGESTED_PATH=CATALOG_PATH[:equals|contains], e.g. name=name or project.key=metadata.tags:contains`},
		{"noname.yaml", "connector: y\n", "--name is required (or name: in the -f file)"},
	}
	for _, tc := range cases {
		p := write(tc.file, tc.body)
		r := h.mustRun(2, "integration", "create", "-f", p)
		want := "Error: " + tc.err + "\n"
		if !strings.HasPrefix(tc.err, "invalid") && !strings.HasPrefix(tc.err, "--name") {
			want = "Error: " + p + ": " + tc.err + "\n"
		}
		want += "Run 'idpctl integration create --help' for usage.\n"
		if r.stderr != want {
			t.Errorf("%s: stderr = %q\nwant %q", tc.file, r.stderr, want)
		}
	}
	r := h.mustRun(2, "integration", "create", "-f", filepath.Join(dir, "missing.yaml"))
	if !strings.HasPrefix(r.stderr, "Error: -f: open ") {
		t.Errorf("missing file: stderr = %q", r.stderr)
	}
}

func TestIntegrationEditSendsOnlyWhatWasGiven(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.integrations = []*integrationv1.Integration{testIntegration()}
	cases := []struct {
		args []string
		mask []string
	}{
		{[]string{"--name", "Acme Cloud"}, []string{"name"}},
		{[]string{"--frequency", "12h", "--auto-import=false"}, []string{"update_frequency", "auto_import"}},
		{[]string{"--behavior", "merge", "--type", ""}, []string{"behavior", "type"}},
		{[]string{"--correlate", "slug=identifier:contains", "--field", "language"}, []string{"correlation", "field_mappings"}},
		{[]string{"--start-date", "none", "--connector", "bb-2"}, []string{"connector", "start_date"}},
		{[]string{"--secondary-kinds", "commits"}, []string{"secondary_kinds"}},
	}
	for i, tc := range cases {
		h.mustRun(0, append([]string{"integration", "edit", "i-1"}, tc.args...)...)
		req := h.fake.requests("UpdateIntegration")[i].(*integrationv1.UpdateIntegrationRequest)
		if diff := cmp.Diff(tc.mask, req.GetUpdateMask().GetPaths()); diff != "" {
			t.Errorf("%v: update_mask (-want +got):\n%s", tc.args, diff)
		}
		if req.GetIntegration() != "i-1" {
			t.Errorf("%v: integration = %q", tc.args, req.GetIntegration())
		}
	}
	// The fake applied the masks as the server would.
	got := h.fake.integrations[0]
	if got.GetName() != "Acme Cloud" || got.GetType() != "" || got.GetStartDate() != nil || got.GetConnector() != "bb-2" ||
		got.GetBehavior() != integrationv1.Behavior_BEHAVIOR_MERGE || len(got.GetCorrelation().GetRules()) != 1 {
		t.Errorf("after edits: %v", got)
	}

	r := h.mustRun(2, "integration", "edit", "acme")
	if !strings.HasPrefix(r.stderr, "Error: nothing to change: give the settings to change as flags") {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func TestIntegrationEditFromFileUsesTheFileKeys(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.integrations = []*integrationv1.Integration{testIntegration()}
	h.stdin = "frequency: 30m\ncorrelate: []\n"
	r := h.mustRun(0, "integration", "edit", "acme", "-f", "-", "--kind", "Resource")
	req := h.fake.requests("UpdateIntegration")[0].(*integrationv1.UpdateIntegrationRequest)
	if diff := cmp.Diff([]string{"kind", "correlation", "update_frequency"}, req.GetUpdateMask().GetPaths()); diff != "" {
		t.Errorf("update_mask (-want +got):\n%s", diff)
	}
	if req.GetChanges().GetCorrelation() == nil || len(req.GetChanges().GetCorrelation().GetRules()) != 0 {
		t.Errorf("correlate: [] must send present, empty rules; got %v", req.GetChanges().GetCorrelation())
	}
	if r.stdout != "Integration \"acme\" updated: kind, correlation, update_frequency.\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
	if !strings.HasPrefix(r.stderr, "Recommendations of repositories not yet imported are recomputed") {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func testIntegration() *integrationv1.Integration {
	return &integrationv1.Integration{
		Id: "i-1", Name: "acme", Connector: "c-1", ConnectorName: "bb-preqa", Workspace: "acme",
		Behavior: integrationv1.Behavior_BEHAVIOR_REGISTER_AND_MERGE, Kind: "Component", Type: "service",
		Correlation: &integrationv1.CorrelationRules{Rules: []*integrationv1.CorrelationRule{
			{IngestedPath: "name", CatalogPath: "name", Operator: equals},
			{IngestedPath: "project.key", CatalogPath: "metadata.tags", Operator: contains},
		}},
		FieldMappings: &integrationv1.FieldMappings{Mappings: []*integrationv1.FieldMapping{
			{Name: "name", Path: "name"}, {Name: "default_branch", Path: "mainbranch.name"},
		}},
		SecondaryKinds: &integrationv1.SecondaryKinds{Kinds: []integrationv1.SecondaryKind{
			integrationv1.SecondaryKind_SECONDARY_KIND_PULL_REQUESTS, integrationv1.SecondaryKind_SECONDARY_KIND_COMMITS,
		}},
		UpdateFrequency: integrationv1.UpdateFrequency_UPDATE_FREQUENCY_3_HOURS,
		StartDate:       timestamppb.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)),
		State:           integrationv1.IntegrationState_INTEGRATION_STATE_ENABLED,
		CreatedAt:       ago(48 * time.Hour),
		UpdatedAt:       ago(2 * time.Hour),
		NextSyncAt:      timestamppb.New(testNow.Add(2*time.Hour + 30*time.Minute)),
		LastRun: &integrationv1.SyncRun{
			Id: "r-7", Status: integrationv1.SyncStatus_SYNC_STATUS_SUCCESS, Repositories: 120, PullRequests: 340, Commits: 560,
			QueuedAt: ago(32 * time.Minute), StartedAt: ago(31 * time.Minute), FinishedAt: ago(30 * time.Minute),
		},
		PullRequestSweepWindow:               durationpb.New(24 * time.Hour),
		PullRequestSweepWindowWithoutWebhook: durationpb.New(6 * time.Hour),
		FullListingInterval:                  durationpb.New(24 * time.Hour),
		WatermarkOverlap:                     durationpb.New(15 * time.Minute),
		Freshness: &integrationv1.Freshness{PullRequestWindow: durationpb.New(6 * time.Hour), Repositories: 120,
			PullRequestsOldestConfirmedAt: ago(5 * time.Hour), PullRequestsOverdue: 3,
			LastFullListingAt: ago(20 * time.Hour), ListedAsOf: ago(31 * time.Minute)},
	}
}

func TestIntegrationGetAndList(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	suspended := &integrationv1.Integration{Id: "i-2", Name: "Labs Workspace", Workspace: "labs", Behavior: integrationv1.Behavior_BEHAVIOR_MERGE,
		UpdateFrequency: integrationv1.UpdateFrequency_UPDATE_FREQUENCY_1_DAY, State: integrationv1.IntegrationState_INTEGRATION_STATE_SUSPENDED, AutoImport: true}
	h.fake.integrations = []*integrationv1.Integration{testIntegration(), suspended}
	golden(t, "integration-get", h.mustRun(0, "integration", "get", "acme").stdout)
	golden(t, "integration-get-yaml", h.mustRun(0, "integration", "get", "acme", "-o", "yaml").stdout)
	golden(t, "integration-list", h.mustRun(0, "integrations", "ls").stdout)
}

func TestIntegrationSuspendResume(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.integrations = []*integrationv1.Integration{testIntegration()}
	r := h.mustRun(0, "integration", "suspend", "acme")
	if r.stdout != "Integration \"acme\" suspended: no discovery and no sync updates; imported entities stay as they are.\n" ||
		r.stderr != "Resume it with: idpctl integration resume acme\n" {
		t.Errorf("suspend: stdout = %q, stderr = %q", r.stdout, r.stderr)
	}
	r = h.mustRun(0, "integration", "resume", "acme", "-o", "json")
	if !strings.Contains(r.stdout, `"state": "INTEGRATION_STATE_ENABLED"`) {
		t.Errorf("resume -o json: %s", r.stdout)
	}
	if len(h.fake.requests("SuspendIntegration")) != 1 || len(h.fake.requests("ResumeIntegration")) != 1 {
		t.Errorf("calls: %v", h.fake.allCalls())
	}
}
