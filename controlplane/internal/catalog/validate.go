package catalog

import (
	"slices"
	"strings"
)

// lineFunc finds the YAML line of a field, given its path of keys and list
// indexes; 0 when there is no YAML to point into.
type lineFunc func(path ...any) int

func noLine(...any) int { return 0 }

// envelopeFields are the top-level fields IDP 2.0 defines, in the order YAML
// renders them.
var envelopeFields = []string{
	"apiVersion", "kind", "type", "identifier", "name", "owner",
	"orgIdentifier", "projectIdentifier", "spec", "metadata",
}

// Validate checks the entity against the IDP 2.0 rules. Parse runs the same
// checks; Validate is for entities built or changed in code.
func (e *Entity) Validate() error {
	var p problems
	e.check(&p, noLine)
	return p.err()
}

func (e *Entity) check(p *problems, line lineFunc) {
	switch canon, ok := CanonicalKind(e.Kind); {
	case e.Kind == "":
		p.add("kind", line("kind"), "required; one of %s", strings.Join(kinds, ", "))
	case !ok || canon != e.Kind:
		p.add("kind", line("kind"), "unknown kind %q; want one of %s", e.Kind, strings.Join(kinds, ", "))
	}
	if e.Type == "" && KindNeedsType(e.Kind) {
		p.add("type", line("type"), "required for kind %s", e.Kind)
	}
	switch {
	case e.Identifier == "":
		p.add("identifier", line("identifier"), "required")
	case !ValidIdentifier(e.Identifier):
		p.add("identifier", line("identifier"), "%q %s", e.Identifier, identifierRule)
	}
	if e.Name == "" && e.Identifier != "" {
		p.add("name", line("name"), "required")
	}
	if e.Org != "" && !ValidIdentifier(e.Org) {
		p.add("orgIdentifier", line("orgIdentifier"), "%q %s", e.Org, identifierRule)
	}
	if e.Project != "" {
		switch {
		case e.Org == "":
			p.add("projectIdentifier", line("projectIdentifier"), "needs orgIdentifier: a project lives in an org")
		case !ValidIdentifier(e.Project):
			p.add("projectIdentifier", line("projectIdentifier"), "%q %s", e.Project, identifierRule)
		}
	}
	if e.Lifecycle == "" && e.Kind == KindComponent {
		p.add("spec.lifecycle", line("spec", "lifecycle"), "required for kind Component")
	}
	for i, t := range e.Tags {
		if t == "" {
			p.add(fieldName("metadata", "tags", i), line("metadata", "tags", i), "must not be empty")
		}
	}
	for k := range e.Extra {
		if slices.Contains(envelopeFields, k) {
			p.add(k, line(k), "is an IDP field and cannot be kept as an extra field")
		}
	}
	if _, ok := e.Spec["lifecycle"]; ok {
		p.add("spec.lifecycle", line("spec", "lifecycle"), "is held by Entity.Lifecycle, not Spec")
	}
	for _, k := range []string{"description", "tags", "integration", "integration_properties"} {
		if _, ok := e.Metadata[k]; ok {
			p.add(fieldName("metadata", k), line("metadata", k), "is held by its own Entity field, not Metadata")
		}
	}
	for k, l := range e.Integrations {
		checkLink(p, k, l, line)
	}
	for source := range e.IngestedProperties {
		if err := checkKey(source); err != nil {
			path := []any{"metadata", "integration_properties", source}
			p.add(fieldName(path...), line(path...), "source name %v", err)
		}
	}
}
