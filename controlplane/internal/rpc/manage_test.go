package rpc_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	delegatev1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
)

func TestCreateConnectorRejectsSSHAndOtherUsers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	tests := []struct {
		name  string
		c     *integrationv1.Connector
		field string
		says  string
	}{
		{"ssh url", &integrationv1.Connector{Name: "a", Url: "git@bitbucket.org:acme/repo.git", TokenRef: "env:T"}, "connector.url", "use the HTTPS URL"},
		{"username", &integrationv1.Connector{Name: "a", Url: "https://bitbucket.org/acme", Username: "bob", TokenRef: "env:T"}, "connector.username", "x-token-auth"},
		{"token value", &integrationv1.Connector{Name: "a", Url: "https://bitbucket.org/acme", TokenRef: "s3cr3t-token"}, "connector.token_ref", "reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.connectors.CreateConnector(h.mgmt(), &integrationv1.CreateConnectorRequest{Connector: tt.c})
			if d := wantViolation(t, err, tt.field); !strings.Contains(d, tt.says) {
				t.Fatalf("%s: %q does not say %q", tt.field, d, tt.says)
			}
			if strings.Contains(err.Error(), "s3cr3t-token") {
				t.Fatal("error echoes the token value")
			}
		})
	}
	c := h.createConnector("bb", "acme")
	if c.GetUsername() != "x-token-auth" || c.GetWorkspace() != "acme" || c.GetApiBaseUrl() != integration.DefaultAPIBaseURL {
		t.Fatalf("defaults: %v", c)
	}
	_, err := h.connectors.CreateConnector(h.mgmt(), &integrationv1.CreateConnectorRequest{Connector: &integrationv1.Connector{
		Name: "bb", Url: "https://bitbucket.org/acme", TokenRef: "env:T"}})
	wantStatus(t, err, codes.AlreadyExists, store.ReasonConnectorNameTaken)
	h.createIntegration("main", "bb")
	_, err = h.connectors.DeleteConnector(h.mgmt(), &integrationv1.DeleteConnectorRequest{Connector: "bb"})
	wantStatus(t, err, codes.FailedPrecondition, store.ReasonConnectorInUse)
}

func TestCreateIntegrationRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	h.createConnector("bb", "acme")
	created := h.createIntegration("main", "bb")
	in := created.GetIntegration()
	if in.GetState() != integrationv1.IntegrationState_INTEGRATION_STATE_ENABLED || created.GetFirstRun().GetStatus() != integrationv1.SyncStatus_SYNC_STATUS_QUEUED ||
		in.GetKind() != "Component" || in.GetType() != "service" || in.GetBehavior() != integrationv1.Behavior_BEHAVIOR_REGISTER_AND_MERGE ||
		in.GetUpdateFrequency() != integrationv1.UpdateFrequency_UPDATE_FREQUENCY_3_HOURS || len(in.GetSecondaryKinds().GetKinds()) != 2 {
		t.Fatalf("created: %v", created)
	}
	create := func(i *integrationv1.Integration) error {
		_, err := h.integrations.CreateIntegration(h.mgmt(), &integrationv1.CreateIntegrationRequest{Integration: i})
		return err
	}
	err := create(&integrationv1.Integration{Name: "second", Connector: "bb"})
	wantStatus(t, err, codes.AlreadyExists, store.ReasonWorkspaceIntegrated)
	h.createConnector("other", "globex")
	err = create(&integrationv1.Integration{Name: "main", Connector: "other"})
	wantStatus(t, err, codes.AlreadyExists, store.ReasonNameTaken)
	err = create(&integrationv1.Integration{Name: "m", Connector: "other", Behavior: integrationv1.Behavior_BEHAVIOR_MERGE, Type: "service"})
	if d := wantViolation(t, err, "integration.type"); !strings.Contains(d, "MERGE") {
		t.Fatalf("type with merge: %q", d)
	}
	err = create(&integrationv1.Integration{Name: "f", Connector: "other", UpdateFrequency: integrationv1.UpdateFrequency(42)})
	wantViolation(t, err, "integration.update_frequency")
	err = create(&integrationv1.Integration{Name: "c", Connector: "other", Correlation: &integrationv1.CorrelationRules{
		Rules: []*integrationv1.CorrelationRule{{IngestedPath: "name", CatalogPath: "metadata..x"}}}})
	wantViolation(t, err, "integration.correlation.rules[0].catalog_path")
	err = create(&integrationv1.Integration{Name: "n", Connector: "nope"})
	wantStatus(t, err, codes.NotFound, "")

	// Merge with a configurable kind and no type is fine.
	res, err := h.integrations.CreateIntegration(h.mgmt(), &integrationv1.CreateIntegrationRequest{Integration: &integrationv1.Integration{
		Name: "merge", Connector: "other", Behavior: integrationv1.Behavior_BEHAVIOR_MERGE, Kind: "API"}})
	if err != nil || res.GetIntegration().GetType() != "" || res.GetIntegration().GetKind() != "API" {
		t.Fatalf("merge: %v, %v", res, err)
	}
}

func TestUpdateIntegrationLocksSecondaryKinds(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	h.createConnector("bb", "acme")
	h.createConnector("bb2", "acme")
	h.createIntegration("main", "bb")
	update := func(changes *integrationv1.Integration, paths ...string) (*integrationv1.UpdateIntegrationResponse, error) {
		return h.integrations.UpdateIntegration(h.mgmt(), &integrationv1.UpdateIntegrationRequest{Integration: "main", Changes: changes,
			UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
	}
	_, err := update(&integrationv1.Integration{SecondaryKinds: &integrationv1.SecondaryKinds{
		Kinds: []integrationv1.SecondaryKind{integrationv1.SecondaryKind_SECONDARY_KIND_COMMITS}}}, "secondary_kinds")
	wantStatus(t, err, codes.FailedPrecondition, integration.ReasonSecondaryKindsLocked)

	res, err := update(&integrationv1.Integration{Name: "renamed", Connector: "bb2", Correlation: &integrationv1.CorrelationRules{
		Rules: []*integrationv1.CorrelationRule{{IngestedPath: "slug", CatalogPath: "identifier", Operator: integrationv1.Operator_OPERATOR_CONTAINS}}},
		FieldMappings: &integrationv1.FieldMappings{Mappings: []*integrationv1.FieldMapping{{Name: "lang", Path: "language"}}}},
		"name", "connector", "correlation", "field_mappings")
	if err != nil {
		t.Fatal(err)
	}
	got := res.GetIntegration()
	if got.GetName() != "renamed" || got.GetCorrelation().GetRules()[0].GetOperator() != integrationv1.Operator_OPERATOR_CONTAINS ||
		len(got.GetFieldMappings().GetMappings()) != 1 || got.GetLastRun() == nil {
		t.Fatalf("updated: %v", got)
	}
	_, err = h.integrations.UpdateIntegration(h.mgmt(), &integrationv1.UpdateIntegrationRequest{Integration: "renamed",
		Changes: &integrationv1.Integration{Workspace: "elsewhere"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"workspace"}}})
	wantViolation(t, err, "integration.workspace")
	ev, _ := h.integrations.ListEvents(h.mgmt(), &integrationv1.ListEventsRequest{Integration: "renamed"})
	if len(ev.GetEvents()) != 2 || ev.GetEvents()[0].GetType() != integrationv1.EventType_EVENT_TYPE_CONFIG_CHANGED ||
		!strings.HasPrefix(ev.GetEvents()[0].GetActor(), "key:") {
		t.Fatalf("events: %v", ev)
	}
}

func TestSyncNowJoinsActiveRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	h.createConnector("bb", "acme")
	created := h.createIntegration("main", "bb")
	res, err := h.integrations.SyncIntegration(h.mgmt(), &integrationv1.SyncIntegrationRequest{Integration: "main"})
	if err != nil || !res.GetJoined() || res.GetRun().GetId() != created.GetFirstRun().GetId() {
		t.Fatalf("sync now: %v, %v", res, err)
	}
	runs, err := h.integrations.ListSyncRuns(h.mgmt(), &integrationv1.ListSyncRunsRequest{Integration: "main"})
	if err != nil || len(runs.GetRuns()) != 1 {
		t.Fatalf("runs: %v, %v", runs, err)
	}
}

func TestTestConnectorReportsDelegateVerdict(t *testing.T) {
	t.Parallel()
	cfg := testLease
	cfg.PollHold = time.Minute // the poll waits for the test to be queued
	h := newHarness(t, cfg)
	id := h.register("d1")
	h.createConnector("bb", "acme")
	go func() {
		task := h.acquire(id)
		if task.GetType() != delegatev1.TaskType_TASK_TYPE_TEST_CONNECTION || task.GetTestConnection().GetTarget().GetWorkspace() != "acme" {
			t.Errorf("task %v", task)
			return
		}
		_, err := h.delegates.CompleteTask(h.dlg(), &delegatev1.CompleteTaskRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken(),
			Outcome: delegatev1.Outcome_OUTCOME_SUCCEEDED, TestConnection: &delegatev1.TestConnectionResult{TokenValid: true,
				WorkspaceReachable: true, MissingScopes: []string{"Pull requests: Read"}, Message: "token lacks Pull requests: Read"}})
		if err != nil {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithTimeout(h.mgmt(), 10*time.Second)
	defer cancel()
	res, err := h.connectors.TestConnector(ctx, &integrationv1.TestConnectorRequest{Connector: "bb", Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	test := res.GetTest()
	if test.GetStatus() != integrationv1.ConnectorTestStatus_CONNECTOR_TEST_STATUS_FAILED || !test.GetTokenValid() ||
		len(test.GetMissingScopes()) != 1 || test.GetFinishedAt() == nil {
		t.Fatalf("verdict: %v", test)
	}
	again, err := h.connectors.GetConnectorTest(h.mgmt(), &integrationv1.GetConnectorTestRequest{Id: test.GetId()})
	if err != nil || again.GetTest().GetMessage() != "token lacks Pull requests: Read" {
		t.Fatalf("get test: %v, %v", again, err)
	}
	// Without wait the pending test comes back at once.
	res, err = h.connectors.TestConnector(h.mgmt(), &integrationv1.TestConnectorRequest{Connector: "bb"})
	if err != nil || res.GetTest().GetStatus() != integrationv1.ConnectorTestStatus_CONNECTOR_TEST_STATUS_PENDING {
		t.Fatalf("pending: %v, %v", res, err)
	}
}

// TestRunsRecordTheirTrigger drives every path that queues a sync through
// the API and checks the trigger each run carries (the schedule's is
// checked in package schedule).
func TestRunsRecordTheirTrigger(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	id := h.register("d1")
	conn := h.createConnector("bb", "acme")
	created := h.createIntegration("main", conn.GetId())
	if got := created.GetFirstRun().GetTrigger(); got != integrationv1.SyncTrigger_SYNC_TRIGGER_CREATED {
		t.Fatalf("first run trigger %v, want CREATED", got)
	}
	finish := func() {
		t.Helper()
		task := h.acquire(id)
		if _, err := h.delegates.CompleteTask(h.dlg(), &delegatev1.CompleteTaskRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken(),
			Outcome: delegatev1.Outcome_OUTCOME_SUCCEEDED}); err != nil {
			t.Fatal(err)
		}
	}
	finish()
	if _, err := h.integrations.SyncIntegration(h.mgmt(), &integrationv1.SyncIntegrationRequest{Integration: "main"}); err != nil {
		t.Fatal(err)
	}
	finish()
	if _, err := h.integrations.SuspendIntegration(h.mgmt(), &integrationv1.SuspendIntegrationRequest{Integration: "main"}); err != nil {
		t.Fatal(err)
	}
	resumed, err := h.integrations.ResumeIntegration(h.mgmt(), &integrationv1.ResumeIntegrationRequest{Integration: "main"})
	if err != nil || resumed.GetIntegration().GetLastRun().GetTrigger() != integrationv1.SyncTrigger_SYNC_TRIGGER_RESUMED {
		t.Fatalf("resume: %v, %v", resumed, err)
	}
	runs, err := h.integrations.ListSyncRuns(h.mgmt(), &integrationv1.ListSyncRunsRequest{Integration: "main"})
	if err != nil {
		t.Fatal(err)
	}
	var got []integrationv1.SyncTrigger
	for _, r := range runs.GetRuns() {
		got = append(got, r.GetTrigger())
	}
	want := []integrationv1.SyncTrigger{integrationv1.SyncTrigger_SYNC_TRIGGER_RESUMED, integrationv1.SyncTrigger_SYNC_TRIGGER_MANUAL,
		integrationv1.SyncTrigger_SYNC_TRIGGER_CREATED}
	if !slices.Equal(got, want) {
		t.Fatalf("triggers newest first: %v, want %v", got, want)
	}
}
