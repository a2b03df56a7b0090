package correlate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
)

// bruteForce is the specification of Match written the slow way: every
// target, every rule, every pair of values.
func bruteForce(rules []Rule, f Filter, ts []Target, in Ingested) []Candidate {
	var out []Candidate
	for _, t := range ts {
		if !f.admits(t) {
			continue
		}
		cand := Candidate{TargetID: t.ID, Identifier: t.Identifier, Exact: true}
		ok := true
		for _, r := range rules {
			matched, whole, best := false, false, ""
			for _, cv := range t.Lookup(catalog.MustParsePath(r.CatalogPath)) {
				if cv == "" {
					continue // an empty catalog value matches nothing
				}
				for _, iv := range in.Values(catalog.MustParsePath(r.IngestedPath)) {
					var hit bool
					if r.Op == Equals {
						hit = iv == cv
					} else {
						hit = strings.Contains(strings.ToLower(iv), strings.ToLower(cv))
					}
					if !hit {
						continue
					}
					w := iv == cv
					if !matched || w && !whole || w == whole && len(cv) > len(best) {
						whole, best = w, cv
					}
					matched = true
				}
			}
			if !matched {
				ok = false
				break
			}
			cand.Exact = cand.Exact && whole
			cand.MatchLen += len(best)
			if cand.MatchedValue != "" {
				cand.MatchedValue += ", "
			}
			cand.MatchedValue += best
		}
		if ok {
			out = append(out, cand)
		}
	}
	rank(out)
	return out
}

// TestMatchAgainstBruteForce runs random rule sets over random catalogs in
// which some values are shared by many entities, so that every way Match
// picks its driving rule is exercised.
func TestMatchAgainstBruteForce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	words := []string{"pay", "payments", "api", "core", "Ledger", "web", "PAY", "svc", "a", ""}
	word := func() string { return words[rng.IntN(len(words))] }
	name := func() string {
		parts := make([]string, 1+rng.IntN(3))
		for i := range parts {
			parts[i] = word()
		}
		return strings.Join(parts, "-")
	}
	type doc map[string][]string
	ruleChoices := []Rule{
		{IngestedPath: "name", CatalogPath: "name", Op: Equals},
		{IngestedPath: "name", CatalogPath: "name", Op: Contains},
		{IngestedPath: "name", CatalogPath: "metadata.tags", Op: Contains},
		{IngestedPath: "project", CatalogPath: "spec.system", Op: Equals},   // low cardinality
		{IngestedPath: "project", CatalogPath: "spec.system", Op: Contains}, // low cardinality
		{IngestedPath: "topics", CatalogPath: "metadata.tags", Op: Equals},
	}
	matched := 0
	for round := range 30 {
		var ts []Target
		for i := range 400 {
			d := doc{
				"name":          {name()},
				"spec.system":   {[]string{"PAY", "OPS"}[rng.IntN(2)]},
				"metadata.tags": {word(), word()},
			}
			typ := "service"
			if i%10 == 0 {
				typ = "library"
			}
			ts = append(ts, Target{
				ID: fmt.Sprintf("t%03d", i), Identifier: fmt.Sprintf("e%d", rng.IntN(300)),
				Kind: "Component", Type: typ,
				Lookup: func(path catalog.Path) []string { return d[path.String()] },
			})
		}
		var rules []Rule
		for _, i := range rng.Perm(len(ruleChoices))[:1+rng.IntN(3)] {
			rules = append(rules, ruleChoices[i])
		}
		ix, err := NewIndex(rules, services, ts)
		if err != nil {
			t.Fatal(err)
		}
		for range 30 {
			in := Ingested{Props: map[string]any{
				"name":    name(),
				"project": []string{"PAY", "OPS", "pay"}[rng.IntN(3)],
				"topics":  []any{word(), word()},
			}}
			want := bruteForce(rules, services, ts, in)
			matched += len(want)
			if diff := cmp.Diff(want, ix.Match(in)); diff != "" {
				t.Fatalf("round %d, rules %v, repo %v (-brute force +Match):\n%s", round, rules, in.Props, diff)
			}
		}
	}
	if matched < 10000 {
		t.Errorf("only %d matches in all rounds: the data no longer exercises Match", matched)
	}
	t.Logf("%d candidates compared", matched)
}
