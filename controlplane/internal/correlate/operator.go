package correlate

import (
	"fmt"
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
)

// Operator says how a rule compares an ingested value with a catalog value.
type Operator int

const (
	// Equals holds when the values are identical, byte for byte (case
	// matters, as in the reference).
	Equals Operator = iota + 1
	// Contains holds when the ingested value contains the catalog value,
	// ignoring case: repository payments-service-api matches entity
	// payments-service. The direction is the reference's: the repository
	// name usually carries a suffix or prefix the catalog name lacks.
	Contains
)

// ParseOperator reads an operator as configurations spell it: "equals"
// (or the reference's "eq") and "contains", in any case.
func ParseOperator(s string) (Operator, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "equals", "eq":
		return Equals, nil
	case "contains":
		return Contains, nil
	}
	return 0, fmt.Errorf("unknown correlation operator %q: want equals or contains", s)
}

func (o Operator) String() string {
	switch o {
	case Equals:
		return "equals"
	case Contains:
		return "contains"
	}
	return fmt.Sprintf("Operator(%d)", int(o))
}

// Rule is one correlation rule: the value at IngestedPath of a discovered
// repository, compared by Op with the value at CatalogPath of a catalog
// entity. When a path yields several values (a list), the rule holds when
// any ingested value and any catalog value satisfy Op.
type Rule struct {
	IngestedPath string // e.g. name, project.key, links.html.href (see Ingested)
	CatalogPath  string // e.g. name, metadata.annotations.bitbucket.org/repo-slug
	Op           Operator
}

// DefaultRules is the correlation an integration starts with: the
// repository's name equals the entity's name.
func DefaultRules() []Rule {
	return []Rule{{IngestedPath: "name", CatalogPath: "name", Op: Equals}}
}

// RuleError says which part of a rule is wrong, so that the API can name the
// field.
type RuleError struct {
	Field string // "ingestedPath", "catalogPath" or "operator"
	Err   error
}

func (e *RuleError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *RuleError) Unwrap() error { return e.Err }

// parse checks a rule's syntax and returns its parsed paths. Whether the
// ingested path can match the repository data is the integration's check
// (integration.Validate); here only the syntax is checked.
func (r Rule) parse() (ingested, cat catalog.Path, err error) {
	if ingested, err = catalog.ParsePath(r.IngestedPath); err != nil {
		return ingested, cat, &RuleError{Field: "ingestedPath", Err: err}
	}
	if cat, err = catalog.ParseCatalogPath(r.CatalogPath); err != nil {
		return ingested, cat, &RuleError{Field: "catalogPath", Err: err}
	}
	if r.Op != Equals && r.Op != Contains {
		return ingested, cat, &RuleError{Field: "operator", Err: fmt.Errorf("unknown operator %v: want equals or contains", r.Op)}
	}
	return ingested, cat, nil
}

// Validate checks a rule's syntax.
func (r Rule) Validate() error {
	_, _, err := r.parse()
	return err
}
