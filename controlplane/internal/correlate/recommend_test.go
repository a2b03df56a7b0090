package correlate

import (
	"errors"
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/google/go-cmp/cmp"
)

func TestRecommend(t *testing.T) {
	t.Parallel()
	best, other := c("payments", true, "payments"), c("payments_old", false, "payments")
	ranked := []Candidate{best, other}
	tests := []struct {
		name       string
		behavior   Behavior
		candidates []Candidate
		want       Recommendation
	}{
		{"register and merge, match", BehaviorRegisterAndMerge, ranked, Recommendation{Action: catalog.ActionMerge, Suggested: best}},
		{"register and merge, no match", BehaviorRegisterAndMerge, nil, Recommendation{Action: catalog.ActionRegister}},
		{"register only, match", BehaviorRegister, ranked, Recommendation{Action: catalog.ActionRegister}},
		{"register only, no match", BehaviorRegister, nil, Recommendation{Action: catalog.ActionRegister}},
		{"merge only, match", BehaviorMerge, ranked, Recommendation{Action: catalog.ActionMerge, Suggested: best}},
		{"merge only, no match", BehaviorMerge, nil, Recommendation{}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, Recommend(tc.behavior, tc.candidates)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestNewFilterIgnoresTypeUnderMerge(t *testing.T) {
	t.Parallel()
	for b, want := range map[Behavior]Filter{
		BehaviorRegisterAndMerge: {Kind: "Component", Type: "service"},
		BehaviorRegister:         {Kind: "Component", Type: "service"},
		BehaviorMerge:            {Kind: "Component"},
	} {
		if got := NewFilter(b, "Component", "service"); got != want {
			t.Errorf("NewFilter(%v) = %+v, want %+v", b, got, want)
		}
	}
}

func TestParseBehavior(t *testing.T) {
	t.Parallel()
	for _, b := range []Behavior{BehaviorRegisterAndMerge, BehaviorRegister, BehaviorMerge} {
		got, err := ParseBehavior(b.String())
		if err != nil || got != b {
			t.Errorf("ParseBehavior(%q) = %v, %v", b.String(), got, err)
		}
	}
	if got, err := ParseBehavior(" MERGE "); err != nil || got != BehaviorMerge {
		t.Errorf("ParseBehavior(MERGE) = %v, %v", got, err)
	}
	if _, err := ParseBehavior("upsert"); err == nil {
		t.Error("ParseBehavior(upsert) succeeded")
	}
}

func TestParseOperator(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]Operator{"equals": Equals, "EQUALS": Equals, "eq": Equals, "Contains": Contains} {
		got, err := ParseOperator(s)
		if err != nil || got != want {
			t.Errorf("ParseOperator(%q) = %v, %v", s, got, err)
		}
	}
	for _, o := range []Operator{Equals, Contains} {
		if got, _ := ParseOperator(o.String()); got != o {
			t.Errorf("ParseOperator(%v.String()) = %v", o, got)
		}
	}
	if _, err := ParseOperator("matches"); err == nil {
		t.Error("ParseOperator(matches) succeeded")
	}
}

func TestRuleValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule  Rule
		field string // "" when valid
	}{
		{Rule{IngestedPath: "name", CatalogPath: "name", Op: Equals}, ""},
		{Rule{IngestedPath: "links.html.href", CatalogPath: "metadata.annotations.bitbucket.org/repo-slug", Op: Contains}, ""},
		{Rule{IngestedPath: "name..x", CatalogPath: "name", Op: Equals}, "ingestedPath"},
		{Rule{IngestedPath: "name", CatalogPath: "spec", Op: Equals}, "catalogPath"},
		{Rule{IngestedPath: "name", CatalogPath: "name", Op: Operator(9)}, "operator"},
	}
	for _, tc := range tests {
		err := tc.rule.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.rule, err)
			}
			continue
		}
		var re *RuleError
		if !errors.As(err, &re) || re.Field != tc.field {
			t.Errorf("%+v: error %v, want one about %s", tc.rule, err, tc.field)
		}
	}
}
