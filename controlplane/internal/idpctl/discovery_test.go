package idpctl

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
)

const (
	register = integrationv1.ImportAction_IMPORT_ACTION_REGISTER
	merge    = integrationv1.ImportAction_IMPORT_ACTION_MERGE
)

func testDiscovered() []*integrationv1.DiscoveredRepository {
	payments := &integrationv1.EntityRef{Id: "e-7", Kind: "Component", Identifier: "payments_service", Name: "Payments", Scope: "account"}
	return []*integrationv1.DiscoveredRepository{
		{RepositoryUuid: "{1}", Name: "billing-api", Slug: "billing-api", FullName: "acme/billing-api", RecommendedAction: register,
			Kind: "Component", Type: "service", DetectedAt: ago(10 * time.Minute),
			Owner: &integrationv1.OwnerSuggestion{Owner: "group:billing", From: "@acme/billing", Path: ".bitbucket/CODEOWNERS", CodeOwners: []string{"@acme/billing", "@alice"}}},
		{RepositoryUuid: "{2}", Name: "payments-service-api", Slug: "payments-service-api", FullName: "acme/payments-service-api", RecommendedAction: merge,
			SuggestedEntity: payments, Kind: "Component", Type: "service", DetectedAt: ago(3 * time.Hour),
			Candidates: []*integrationv1.MatchCandidate{
				{Entity: payments, MatchedValue: "payments-service"},
				{Entity: &integrationv1.EntityRef{Id: "e-8", Identifier: "payments"}, MatchedValue: "payments"},
			}},
		{RepositoryUuid: "{3}", Name: "old-tool", Slug: "old-tool", FullName: "acme/old-tool", RecommendedAction: register,
			Kind: "Component", Type: "service", DetectedAt: ago(72 * time.Hour), Unlinked: true, Deleted: true,
			Owner: &integrationv1.OwnerSuggestion{Note: "the default branch has no CODEOWNERS file"}},
	}
}

func TestDiscoveredList(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.discovered = testDiscovered()
	golden(t, "discovered-list", h.mustRun(0, "discovered", "list", "acme").stdout)
	golden(t, "discovered-list-yaml", h.mustRun(0, "discovered", "list", "acme", "-o", "yaml", "--page-size", "1").stdout)

	h.mustRun(0, "discovered", "list", "acme", "--action", "merge", "--search", "pay", "--unlinked")
	want := &integrationv1.ListDiscoveredRequest{Integration: "acme", Search: "pay", RecommendedAction: merge, UnlinkedOnly: true}
	if diff := cmp.Diff(want, h.fake.requests("ListDiscovered")[2], protocmp.Transform()); diff != "" {
		t.Errorf("filters (-want +got):\n%s", diff)
	}
	r := h.mustRun(2, "discovered", "list", "acme", "--action", "link")
	if !strings.HasPrefix(r.stderr, `Error: invalid --action: "link" is not an action; want register or merge`) {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func TestDiscoveredListPages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.discovered = testDiscovered()
	h.fake.pageSize = 2
	r := h.mustRun(0, "discovered", "list", "acme")
	if strings.Count(r.stdout, "\n") != 3 || r.stderr != "Showing 2 of 3. All of them: add --all-pages. Next page:\n  idpctl discovered list acme --page-token 2\n" {
		t.Errorf("stdout = %q, stderr = %q", r.stdout, r.stderr)
	}
	r = h.mustRun(0, "discovered", "list", "acme", "--all-pages", "-o", "json")
	if strings.Count(r.stdout, `"repository_uuid"`) != 3 || !strings.Contains(r.stdout, "\"next_page_token\": \"\",\n  \"total\": 3\n}") {
		t.Errorf("--all-pages -o json: %s", r.stdout)
	}
	tokens := []string{}
	for _, req := range h.fake.requests("ListDiscovered")[1:] {
		tokens = append(tokens, req.(*integrationv1.ListDiscoveredRequest).GetPageToken())
	}
	if diff := cmp.Diff([]string{"", "2"}, tokens); diff != "" {
		t.Errorf("page tokens (-want +got):\n%s", diff)
	}
}

func TestDiscoveredListEmptyHint(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.mustRun(0, "discovered", "list", "acme")
	want := "No discovered repositories. Run `idpctl sync acme --wait` to discover, or see `idpctl imported list acme` for those already imported.\n"
	if r.stdout != "" || r.stderr != want {
		t.Errorf("stdout = %q, stderr = %q", r.stdout, r.stderr)
	}
}

func TestImportBuildsItemsAndReportsEachResult(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.importResults = map[string]*integrationv1.ImportResult{
		"payments-service-api": {Repository: "payments-service-api", Ok: true, Action: merge,
			Entity: &integrationv1.EntityRef{Id: "e-7", Identifier: "payments_service"}},
		"billing-api": {Repository: "billing-api", Ok: false, Action: register, Reason: "IDENTIFIER_TAKEN",
			Message: "entity billing_api exists; import with --action merge"},
	}
	r := h.mustRun(1, "import", "acme", "payments-service-api", "billing-api", "new-tool")
	golden(t, "import-results", r.stdout)
	if r.stderr != "Error: 1 of 3 imports failed; see the reasons above\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
	want := &integrationv1.ImportRepositoriesRequest{Integration: "acme", Items: []*integrationv1.ImportItem{
		{Repository: "payments-service-api"}, {Repository: "billing-api"}, {Repository: "new-tool"},
	}}
	if diff := cmp.Diff(want, h.fake.requests("ImportRepositories")[0], protocmp.Transform()); diff != "" {
		t.Errorf("without --action each item takes its recommendation (-want +got):\n%s", diff)
	}

	h.mustRun(0, "import", "acme", "payments-service-api", "--action", "merge", "--target", "payments")
	h.mustRun(0, "import", "acme", "new-tool", "--action", "register", "--type", "library")
	wantItems := []*integrationv1.ImportItem{
		{Repository: "payments-service-api", Action: merge, TargetEntity: "payments"},
		{Repository: "new-tool", Action: register, Type: "library"},
	}
	for i, w := range wantItems {
		got := h.fake.requests("ImportRepositories")[i+1].(*integrationv1.ImportRepositoriesRequest).GetItems()[0]
		if diff := cmp.Diff(w, got, protocmp.Transform()); diff != "" {
			t.Errorf("item (-want +got):\n%s", diff)
		}
	}
}

func TestImportAll(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.discovered = testDiscovered()
	r := h.mustRun(0, "import", "acme", "--all", "-o", "json")
	if !h.fake.requests("ImportRepositories")[0].(*integrationv1.ImportRepositoriesRequest).GetAll() {
		t.Error("--all not sent")
	}
	if strings.Count(r.stdout, `"ok": true`) != 3 || !strings.HasPrefix(r.stdout, "{\n  \"results\": [") {
		t.Errorf("stdout = %s", r.stdout)
	}
	if r.stderr != "Imported 3. See them with: idpctl imported list acme\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
	h.fake.discovered = nil
	if r := h.mustRun(0, "import", "acme", "--all"); r.stderr != "Nothing to import: the Discovered list is empty.\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func TestImportUsageErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cases := map[string][]string{
		"Error: name the repositories to import, or give --all":                                                                 {"import", "acme"},
		"Error: give repository names or --all, not both":                                                                       {"import", "acme", "x", "--all"},
		"Error: --all imports with the recommended actions; --action, --type, --target and --owner apply to named repositories": {"import", "acme", "--all", "--action", "merge"},
		"Error: --owner applies to register; a merged entity keeps its own owner":                                               {"import", "acme", "x", "--action", "merge", "--owner", "group:x"},
		"Error: --type applies to register; a merged entity keeps its own type":                                                 {"import", "acme", "x", "--action", "merge", "--type", "lib"},
		"Error: --target applies to merge; register creates a new entity":                                                       {"import", "acme", "x", "--action", "register", "--target", "e"},
		"Error: expected INTEGRATION, got no arguments":                                                                         {"import"},
	}
	for want, args := range cases {
		r := h.mustRun(2, args...)
		if first := strings.SplitN(r.stderr, "\n", 2)[0]; first != want {
			t.Errorf("%v: stderr = %q, want %q", args, first, want)
		}
	}
	if len(h.fake.allCalls()) != 0 {
		t.Error("usage errors reached the server")
	}
}

func TestAutoImport(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.integrations = []*integrationv1.Integration{testIntegration()}
	r := h.mustRun(0, "auto-import", "acme", "on")
	if r.stdout != "Auto-import is on for \"acme\": repositories discovered from now on are imported with their recommended action.\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
	h.mustRun(0, "auto-import", "acme", "off")
	reqs := h.fake.requests("SetAutoImport")
	if !reqs[0].(*integrationv1.SetAutoImportRequest).GetEnabled() || reqs[1].(*integrationv1.SetAutoImportRequest).GetEnabled() {
		t.Errorf("requests = %v", reqs)
	}
	r = h.mustRun(2, "auto-import", "acme", "sometimes")
	if !strings.HasPrefix(r.stderr, `Error: "sometimes" is neither on nor off; want on or off`) {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func TestImportedListUnlinkAndEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.imported = []*integrationv1.ImportedRepository{
		{RepositoryUuid: "{2}", Name: "payments-service-api", FullName: "acme/payments-service-api", Status: integrationv1.ImportStatus_IMPORT_STATUS_MERGED,
			Entity:     &integrationv1.EntityRef{Id: "e-7", Kind: "Component", Type: "service", Identifier: "payments_service", Scope: "account"},
			ImportedAt: ago(20 * time.Minute)},
		{RepositoryUuid: "{1}", Name: "billing-api", FullName: "acme/billing-api", Status: integrationv1.ImportStatus_IMPORT_STATUS_REGISTERED,
			Entity:     &integrationv1.EntityRef{Id: "e-9", Kind: "Component", Type: "service", Identifier: "billing_api", Scope: "org/finance"},
			ImportedAt: ago(5 * time.Minute), Automatic: true},
	}
	golden(t, "imported-list", h.mustRun(0, "imported", "list", "acme").stdout)

	r := h.mustRun(0, "unlink", "acme", "billing-api")
	if r.stdout != "Unlinked billing-api: its catalog entity keeps its data and no longer syncs.\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
	want := &integrationv1.UnlinkRepositoryRequest{Integration: "acme", Repository: "billing-api"}
	if diff := cmp.Diff(want, h.fake.requests("UnlinkRepository")[0], protocmp.Transform()); diff != "" {
		t.Errorf("unlink (-want +got):\n%s", diff)
	}

	h.fake.events = []*integrationv1.Event{
		{Id: "ev-4", Time: ago(time.Minute), Type: integrationv1.EventType_EVENT_TYPE_UNLINKED, Actor: "ops-key", Repository: "acme/billing-api", Message: "unlinked billing-api"},
		{Id: "ev-3", Time: ago(5 * time.Minute), Type: integrationv1.EventType_EVENT_TYPE_IMPORT_FAILED, Actor: "ops-key", Repository: "acme/old-tool",
			Message: "import of old-tool failed", Error: "IDENTIFIER_TAKEN: entity old_tool exists"},
		{Id: "ev-2", Time: ago(30 * time.Minute), Type: integrationv1.EventType_EVENT_TYPE_SYNC, Actor: "scheduler", RunId: "r-7",
			Message: "sync SUCCESS: 120 repositories, 340 pull requests, 560 commits, 57 requests, 0 rate limited"},
		{Id: "ev-1", Time: ago(48 * time.Hour), Type: integrationv1.EventType_EVENT_TYPE_CONFIG_CHANGED, Actor: "ops-key", Message: "created"},
	}
	golden(t, "events", h.mustRun(0, "events", "acme").stdout)
}

func TestDiscoveredGet(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.discovered = testDiscovered()
	out := h.mustRun(0, "discovered", "get", "acme", "acme/billing-api").stdout
	for _, want := range []string{"Suggested owner:   group:billing (from @acme/billing)", "CODEOWNERS:        .bitbucket/CODEOWNERS: * @acme/billing @alice"} {
		if !strings.Contains(out, want) {
			t.Errorf("get billing-api: no %q in\n%s", want, out)
		}
	}
	if out := h.mustRun(0, "discovered", "get", "acme", "{3}").stdout; !strings.Contains(out, "none: the default branch has no CODEOWNERS file") {
		t.Errorf("get by uuid:\n%s", out)
	}
	if out := h.mustRun(0, "discovered", "get", "acme", "payments-service-api").stdout; !strings.Contains(out, "Suggested owner:   - (CODEOWNERS not read yet") {
		t.Errorf("get payments-service-api:\n%s", out)
	}
	if r := h.mustRun(1, "discovered", "get", "acme", "nope"); !strings.Contains(r.stderr, `no discovered repository "nope"`) {
		t.Errorf("unknown: %q", r.stderr)
	}
}
