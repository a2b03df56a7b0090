package backstage

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
)

// Document is one Backstage entity as written: apiVersion, kind, metadata
// and spec in Backstage's order.
type Document struct {
	APIVersion string         `yaml:"apiVersion"`
	Kind       string         `yaml:"kind"`
	Metadata   map[string]any `yaml:"metadata"`
	Spec       map[string]any `yaml:"spec,omitempty"`
}

// Export maps one entity to a Backstage document. ok is false when the
// entity cannot be exported at all (its kind has no counterpart, or its
// identifier is not a valid Backstage name); the issues say why, and what
// of an exported entity was left out.
func Export(e *catalog.Entity) (Document, []Issue, bool) {
	var issues []Issue
	add := func(field, format string, args ...any) {
		issues = append(issues, Issue{Entity: ref(e), Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if !kinds[e.Kind] {
		return Document{}, []Issue{{Entity: ref(e), Skipped: true, Problem: fmt.Sprintf("kind %s has no Backstage counterpart; not exported", e.Kind)}}, false
	}
	if !validName(e.Identifier) {
		return Document{}, []Issue{{Entity: ref(e), Field: "identifier", Skipped: true,
			Problem: "not a valid Backstage name (1 to 63 letters and digits separated by single -, _ or .); not exported"}}, false
	}
	meta := cloneMap(e.Metadata)
	meta["name"] = e.Identifier
	if e.Name != "" && e.Name != e.Identifier {
		meta["title"] = e.Name
	}
	if e.Description != "" {
		meta["description"] = e.Description
	}
	var tags []any
	for _, t := range e.Tags {
		if validTag(t) {
			tags = append(tags, t)
		} else {
			add("metadata.tags", "tag %q is not a valid Backstage tag (lower-case letters, digits, : + # joined by -); left out", t)
		}
	}
	if len(tags) > 0 {
		meta["tags"] = tags
	}
	annotations := map[string]any{}
	if a, ok := meta["annotations"].(map[string]any); ok {
		annotations = cloneMap(a)
	} else if meta["annotations"] != nil {
		add("metadata.annotations", "not a mapping; left out")
	}
	if e.Org != "" {
		annotations[AnnotationOrg] = e.Org
	}
	if e.Project != "" {
		annotations[AnnotationProject] = e.Project
	}
	for k, v := range repositoryAnnotations(e) {
		if old, taken := annotations[k]; taken && old != v {
			add("metadata.annotations."+k, "kept as written (%v); the linked repository says %v", old, v)
			continue
		}
		annotations[k] = v
	}
	delete(meta, "annotations")
	if len(annotations) > 0 {
		meta["annotations"] = annotations
	}
	if len(e.Integrations) > 0 {
		add("metadata.integration", "links of integrations are not exported; an import links the repository again")
	}
	if len(e.IngestedProperties) > 0 {
		add("metadata.integration_properties", "properties ingested by integrations are not exported (the Bitbucket annotations carry the repository)")
	}
	for _, k := range sortedKeys(e.Extra) {
		add(k, "top-level field with no Backstage counterpart; left out")
	}

	spec := cloneMap(e.Spec)
	for _, k := range []string{"type", "owner"} {
		if _, clash := spec[k]; clash {
			add("spec."+k, "left out: the entity's %s is written there", k)
		}
	}
	if e.Type != "" {
		spec["type"] = e.Type
	}
	if e.Owner != "" {
		spec["owner"] = e.Owner
	}
	if e.Lifecycle != "" {
		spec["lifecycle"] = e.Lifecycle
	}
	if e.Kind == catalog.KindComponent && e.Owner == "" {
		add("owner", "empty; Backstage requires spec.owner of a Component")
	}
	return Document{APIVersion: APIVersion, Kind: e.Kind, Metadata: meta, Spec: spec}, issues, true
}

// repositoryAnnotations derives the Bitbucket annotations from what an
// integration ingested into the entity (full_name, url, default_branch).
func repositoryAnnotations(e *catalog.Entity) map[string]string {
	props := e.IngestedProperties["BitbucketCloud"]
	if props == nil {
		return nil
	}
	out := map[string]string{}
	if full := str(props["full_name"]); strings.Count(full, "/") == 1 {
		out[AnnotationProjectSlug] = full
	}
	if u := strings.TrimSuffix(str(props["url"]), "/"); strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		out[AnnotationRepoURL] = u
		if branch := str(props["default_branch"]); branch != "" {
			out[AnnotationSourceLocation] = "url:" + u + "/src/" + branch + "/"
		}
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Render writes documents as one YAML stream, separated by ---, as a
// catalog-info.yaml holds several entities.
func Render(docs []Document) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("render %s/%v: %w", d.Kind, d.Metadata["name"], err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
