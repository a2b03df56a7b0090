// Package backstage maps catalog entities to and from Backstage's
// catalog-info.yaml (apiVersion backstage.io/v1alpha1), so that a team
// moving between portals keeps its data. Both directions are pure and say
// what does not map instead of dropping it: every such field or entity is
// an Issue.
//
// The mapping, field by field:
//
//	IDP 2.0                                Backstage
//	kind (Component, API, Resource,        kind (the same names; Workflow, Environment,
//	  System, Group, User)                   Hierarchy and aiasset have no counterpart)
//	identifier                             metadata.name (must also be a valid Backstage name)
//	name (when not the identifier)         metadata.title
//	type, owner, spec.lifecycle            spec.type, spec.owner, spec.lifecycle
//	spec.* (system, dependsOn, ...)        spec.* as is
//	metadata.description, tags             metadata.description, tags (Backstage tag syntax)
//	metadata.annotations, links, labels,   the same keys of metadata
//	  and other metadata keys
//	orgIdentifier, projectIdentifier       annotations harness.io/org-identifier and
//	                                         harness.io/project-identifier
//	the linked Bitbucket repository        annotations bitbucket.com/project-slug
//	  (ingested full_name, url,              (WORKSPACE/SLUG, read by the Bitbucket pull
//	  default_branch)                        request plugin), bitbucket.org/repo-url (Backstage's
//	                                         Bitbucket Cloud module) and backstage.io/source-location
//	                                         (url:REPO/src/BRANCH/)
//
// metadata.integration and metadata.integration_properties are the
// integrations' own data: they are not exported (an import links the
// repository again). backstage.io/managed-by-location and
// managed-by-origin-location are set by Backstage when it reads a file, so
// an export does not write them and an import reports and leaves them.
package backstage

import (
	"regexp"
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
)

// APIVersion is the apiVersion of the documents written and read.
const APIVersion = "backstage.io/v1alpha1"

// Annotations this mapping writes or reads.
const (
	AnnotationProjectSlug    = "bitbucket.com/project-slug"
	AnnotationRepoURL        = "bitbucket.org/repo-url"
	AnnotationSourceLocation = "backstage.io/source-location"
	AnnotationOrg            = "harness.io/org-identifier"
	AnnotationProject        = "harness.io/project-identifier"
	annotationManagedBy      = "backstage.io/managed-by-location"
	annotationManagedOrigin  = "backstage.io/managed-by-origin-location"
)

// Issue is something that did not map: where, and why.
type Issue struct {
	// Entity is "Kind/identifier" on export, or the document's number (from
	// 1) and its name on import, e.g. "document 2 (payments-api)".
	Entity string
	// Field is the field concerned, as a path of the source document; empty
	// when the whole entity is concerned.
	Field string
	// Problem says what happened to it.
	Problem string
	// Skipped is true when the whole entity was left out.
	Skipped bool
}

// kinds are the kinds both catalogs have, by their common spelling.
var kinds = map[string]bool{"Component": true, "API": true, "Resource": true, "System": true, "Group": true, "User": true}

// namePattern is Backstage's rule for metadata.name: 1 to 63 characters,
// letters and digits separated by single -, _ or .
var namePattern = regexp.MustCompile(`^[A-Za-z0-9]([-_.]?[A-Za-z0-9])*$`)

// validName reports whether s is a valid Backstage entity name.
func validName(s string) bool { return len(s) <= 63 && namePattern.MatchString(s) }

// tagPattern is Backstage's rule for a tag.
var tagPattern = regexp.MustCompile(`^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$`)

func validTag(s string) bool { return len(s) <= 63 && tagPattern.MatchString(s) }

// ref names an entity in issues.
func ref(e *catalog.Entity) string { return e.Kind + "/" + e.Identifier }

// cloneMap copies m one level deep, enough for the maps the mapping
// changes (metadata and annotations); values are shared.
func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}
