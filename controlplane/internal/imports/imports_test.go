package imports

import (
	"errors"
	"strings"
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/correlate"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
)

var (
	payments = correlate.Candidate{TargetID: "ent_pay", Identifier: "payments", Exact: true}
	billing  = correlate.Candidate{TargetID: "ent_bill", Identifier: "billing"}
	fedPay   = map[string]catalog.Feed{"ent_pay": {IntegrationID: "int_other", IntegrationName: "other", Repository: "acme/payments-old"}}
	fedBoth  = map[string]catalog.Feed{"ent_pay": fedPay["ent_pay"], "ent_bill": {IntegrationID: "int_other", IntegrationName: "other", Repository: "acme/billing"}}
)

func TestRecommend(t *testing.T) {
	tests := []struct {
		name          string
		b             correlate.Behavior
		cands         []correlate.Candidate
		feeds         map[string]catalog.Feed
		action        catalog.Action
		suggested     string
		noteHas       []string
		noteAbsent    bool
		registerTaken string
	}{
		{"merge into the best free match", correlate.BehaviorRegisterAndMerge, []correlate.Candidate{payments, billing}, nil,
			catalog.ActionMerge, "ent_pay", nil, true, ""},
		{"no match registers", correlate.BehaviorRegisterAndMerge, nil, nil, catalog.ActionRegister, "", nil, true, ""},
		{"register behaviour ignores matches", correlate.BehaviorRegister, []correlate.Candidate{payments}, fedPay, catalog.ActionRegister, "", nil, true, ""},
		{"best match fed elsewhere: the next one, and why", correlate.BehaviorRegisterAndMerge, []correlate.Candidate{payments, billing}, fedPay,
			catalog.ActionMerge, "ent_bill", []string{"payments", "acme/payments-old", "other", "suggesting billing instead"}, false, ""},
		{"a lower match fed elsewhere changes nothing", correlate.BehaviorRegisterAndMerge, []correlate.Candidate{billing, payments}, fedPay,
			catalog.ActionMerge, "ent_bill", nil, true, ""},
		{"every match fed elsewhere: register, and why", correlate.BehaviorRegisterAndMerge, []correlate.Candidate{payments, billing}, fedBoth,
			catalog.ActionRegister, "", []string{"payments", "acme/payments-old", "Register creates a new entity", "unlink that repository in other"}, false, ""},
		{"merge behaviour, every match fed elsewhere: nothing, and why", correlate.BehaviorMerge, []correlate.Candidate{payments}, fedPay,
			"", "", []string{"payments", "does not register", "unlink that repository in other"}, false, ""},
		{"merge behaviour, no match: nothing, and what to do", correlate.BehaviorMerge, nil, nil,
			"", "", []string{"no catalog entity matches", "merge into an entity you choose"}, false, ""},
		{"merge behaviour, free match", correlate.BehaviorMerge, []correlate.Candidate{payments}, nil, catalog.ActionMerge, "ent_pay", nil, true, ""},
		{"every match fed elsewhere and the identifier taken: nothing, and why", correlate.BehaviorRegisterAndMerge, []correlate.Candidate{payments}, fedPay,
			"", "", []string{"payments", "acme/payments-old", "identifier payments", "exists already", "unlink that repository in other"}, false, "payments"},
		{"no match and the identifier taken: nothing, and why", correlate.BehaviorRegisterAndMerge, nil, nil,
			"", "", []string{"no catalog entity matches", "identifier orders", "merge into it by naming it"}, false, "orders"},
		{"register behaviour and the identifier taken: nothing, and why", correlate.BehaviorRegister, nil, nil,
			"", "", []string{"identifier orders", "REGISTER does not merge"}, false, "orders"},
		{"a free match stands although the identifier is taken", correlate.BehaviorRegisterAndMerge, []correlate.Candidate{payments}, nil,
			catalog.ActionMerge, "ent_pay", nil, true, "payments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Recommend(tt.b, tt.cands, tt.feeds, tt.registerTaken)
			if got.Action != tt.action || got.Suggested.TargetID != tt.suggested {
				t.Fatalf("got %s into %q, want %s into %q", got.Action, got.Suggested.TargetID, tt.action, tt.suggested)
			}
			if _, fed := tt.feeds[got.Suggested.TargetID]; fed {
				t.Fatalf("recommended a merge into %s, which another integration feeds", got.Suggested.TargetID)
			}
			if tt.noteAbsent && got.Note != "" {
				t.Fatalf("note %q, want none", got.Note)
			}
			for _, s := range tt.noteHas {
				if !strings.Contains(got.Note, s) {
					t.Errorf("note %q does not say %q", got.Note, s)
				}
			}
		})
	}
}

func reasonOf(err error) string {
	if f := fault.As(err); f != nil {
		return f.Reason
	}
	return ""
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name   string
		r      Request
		want   Plan
		reason string
		code   fault.Code
	}{
		{"the recommendation", Request{Behavior: integration.RegisterAndMerge, Recommended: catalog.ActionMerge, Suggested: "ent_pay"},
			Plan{Action: catalog.ActionMerge, Target: "ent_pay"}, "", 0},
		{"a target means merge", Request{Behavior: integration.RegisterAndMerge, Recommended: catalog.ActionRegister, Target: "billing"},
			Plan{Action: catalog.ActionMerge, Target: "billing"}, "", 0},
		{"an asked action wins", Request{Behavior: integration.RegisterAndMerge, Action: catalog.ActionRegister, Recommended: catalog.ActionMerge, Suggested: "ent_pay"},
			Plan{Action: catalog.ActionRegister}, "", 0},
		{"register with a type", Request{Behavior: integration.Register, Action: catalog.ActionRegister, Type: "library"}, Plan{Action: catalog.ActionRegister}, "", 0},
		{"nothing recommended", Request{Behavior: integration.Merge}, Plan{}, ReasonNoMatch, fault.FailedPrecondition},
		{"nothing recommended, with the reason", Request{Behavior: integration.RegisterAndMerge, Note: "an entity with identifier x exists"}, Plan{}, ReasonNoMatch, fault.FailedPrecondition},
		{"merge without a suggestion", Request{Behavior: integration.Merge, Action: catalog.ActionMerge}, Plan{Action: catalog.ActionMerge}, ReasonNoMatch, fault.FailedPrecondition},
		{"register under merge", Request{Behavior: integration.Merge, Action: catalog.ActionRegister}, Plan{Action: catalog.ActionRegister}, ReasonActionNotAllowed, fault.FailedPrecondition},
		{"merge under register", Request{Behavior: integration.Register, Target: "x"}, Plan{Action: catalog.ActionMerge}, ReasonActionNotAllowed, fault.FailedPrecondition},
		{"type with merge", Request{Behavior: integration.RegisterAndMerge, Action: catalog.ActionMerge, Target: "x", Type: "service"}, Plan{Action: catalog.ActionMerge}, ReasonInvalidType, fault.Invalid},
		{"owner with merge", Request{Behavior: integration.RegisterAndMerge, Action: catalog.ActionMerge, Target: "x", Owner: "group:x"}, Plan{Action: catalog.ActionMerge}, ReasonInvalidOwner, fault.Invalid},
		{"register with an owner", Request{Behavior: integration.RegisterAndMerge, Action: catalog.ActionRegister, Owner: "group:x"}, Plan{Action: catalog.ActionRegister}, "", 0},
		{"bad type", Request{Behavior: integration.RegisterAndMerge, Action: catalog.ActionRegister, Type: "no spaces"}, Plan{Action: catalog.ActionRegister}, ReasonInvalidType, fault.Invalid},
		{"unknown action", Request{Behavior: integration.RegisterAndMerge, Action: "ADOPT"}, Plan{Action: "ADOPT"}, "", fault.Invalid},
		{"ignored", Request{Behavior: integration.RegisterAndMerge, Recommended: catalog.ActionRegister, Ignored: true}, Plan{}, ReasonIgnored, fault.FailedPrecondition},
		{"ignored, even with an action", Request{Behavior: integration.RegisterAndMerge, Action: catalog.ActionMerge, Target: "x", Ignored: true}, Plan{}, ReasonIgnored, fault.FailedPrecondition},
		{"left out by the filter", Request{Behavior: integration.RegisterAndMerge, Recommended: catalog.ActionRegister, Excluded: "project OLD is excluded"}, Plan{}, ReasonExcludedByFilter, fault.FailedPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decide(tt.r)
			if got != tt.want {
				t.Errorf("plan %+v, want %+v", got, tt.want)
			}
			if tt.code == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if fault.CodeOf(err) != tt.code || reasonOf(err) != tt.reason {
				t.Fatalf("err = %v, want %v %s", err, tt.code, tt.reason)
			}
		})
	}
}

func TestNotice(t *testing.T) {
	merge := Plan{Action: catalog.ActionMerge, Target: "ent_bill"}
	register := Plan{Action: catalog.ActionRegister}
	note := "the best match, payments, already feeds from repository acme/payments-old of integration other: Register creates a new entity instead"
	tests := []struct {
		name string
		r    Request
		p    Plan
		want []string // empty: no notice
	}{
		{"as seen", Request{SeenAction: catalog.ActionMerge, SeenTarget: "billing"}, merge, nil},
		{"as seen, target by id", Request{SeenAction: catalog.ActionMerge, SeenTarget: "ent_bill"}, merge, nil},
		{"the caller did not say", Request{}, register, nil},
		{"the user chose the action", Request{Action: catalog.ActionRegister, SeenAction: catalog.ActionMerge}, register, nil},
		{"the user chose the target", Request{Target: "billing", SeenAction: catalog.ActionRegister}, merge, nil},
		{"merge became register", Request{SeenAction: catalog.ActionMerge, SeenTarget: "payments", Note: note}, register,
			[]string{"registered as svc", "from MERGE into payments", note}},
		{"register became merge", Request{SeenAction: catalog.ActionRegister}, merge,
			[]string{"merged into billing", "from REGISTER", "the catalog changed"}},
		{"another target", Request{SeenAction: catalog.ActionMerge, SeenTarget: "payments"}, merge, []string{"merged into billing", "MERGE into payments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "billing"
			if tt.p.Action == catalog.ActionRegister {
				target = "svc"
			}
			got := Notice(tt.r, tt.p, "ent_bill", target)
			if len(tt.want) == 0 && got != "" {
				t.Fatalf("notice %q, want none", got)
			}
			for _, s := range tt.want {
				if !strings.Contains(got, s) {
					t.Errorf("notice %q does not say %q", got, s)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	other := &catalog.Feed{IntegrationID: "int_other", IntegrationName: "other", Repository: "acme/old"}
	same := &catalog.Feed{IntegrationID: "int_1", IntegrationName: "main", Repository: "acme/sibling"}
	tests := []struct {
		name     string
		f        Facts
		repeated bool
		reason   string
		says     string
	}{
		{"register a new repository", Facts{IntegrationID: "int_1", Action: catalog.ActionRegister}, false, "", ""},
		{"merge into a free entity", Facts{IntegrationID: "int_1", Action: catalog.ActionMerge, TargetID: "ent_1"}, false, "", ""},
		{"merge again into the same entity", Facts{IntegrationID: "int_1", Action: catalog.ActionMerge, TargetID: "ent_1", Linked: "ent_1"}, true, "", ""},
		{"merge a repository linked elsewhere", Facts{IntegrationID: "int_1", Repository: "acme/r", Action: catalog.ActionMerge, TargetID: "ent_2", Linked: "ent_1"},
			false, ReasonAlreadyImported, "unlink it first"},
		{"register a linked repository", Facts{IntegrationID: "int_1", Repository: "acme/r", Action: catalog.ActionRegister, Linked: "ent_1"},
			false, ReasonAlreadyImported, "cannot be registered again"},
		{"merge into an entity this integration feeds", Facts{IntegrationID: "int_1", Action: catalog.ActionMerge, TargetID: "ent_1", TargetIdentifier: "pay", TargetFeed: same},
			false, ReasonEntityLinked, "acme/sibling of this integration"},
		{"merge into an entity another integration feeds", Facts{IntegrationID: "int_1", Action: catalog.ActionMerge, TargetID: "ent_1", TargetIdentifier: "pay", TargetFeed: other},
			false, ReasonEntityLinked, "unlink the repository in other first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repeated, err := Check(tt.f)
			if repeated != tt.repeated {
				t.Errorf("repeated = %v", repeated)
			}
			if tt.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if reasonOf(err) != tt.reason || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err = %v, want %s saying %q", err, tt.reason, tt.says)
			}
		})
	}
}

func TestSlotTakenAndNotImported(t *testing.T) {
	if err := SlotTaken(errors.New("x")); reasonOf(err) != ReasonEntityLinked {
		t.Errorf("SlotTaken: %v", err)
	}
	if err := NotImported("acme/r"); reasonOf(err) != ReasonNotImported || !strings.Contains(err.Error(), "acme/r") {
		t.Errorf("NotImported: %v", err)
	}
}

func TestCheckIgnore(t *testing.T) {
	if err := CheckIgnore("acme/a", false); err != nil {
		t.Fatalf("discovered repository: %v", err)
	}
	err := CheckIgnore("acme/a", true)
	if fault.CodeOf(err) != fault.FailedPrecondition || reasonOf(err) != ReasonAlreadyImported || !strings.Contains(err.Error(), "unlink it first") {
		t.Fatalf("imported repository: %v", err)
	}
}
