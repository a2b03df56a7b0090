package backstage

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
)

// Imported is one entity read from a Backstage document.
type Imported struct {
	// Source names the document, e.g. "document 2 (payments-api)".
	Source string
	Entity *catalog.Entity
}

// MaxDocuments bounds the documents of one import.
const MaxDocuments = 1000

// backstage-only fields that an import leaves out, with why.
var serverMetadata = map[string]string{
	"uid": "set by Backstage", "etag": "set by Backstage", "generation": "set by Backstage", "resourceVersion": "set by Backstage",
}

// Import reads a YAML stream of Backstage documents and maps each to an
// entity, checked as any entity is. A document that cannot be mapped is
// left out with an issue saying why; the issues also name what of an
// imported entity was left out or changed. An error means the stream
// itself is unreadable, or holds something else than mappings.
func Import(data []byte) ([]Imported, []Issue, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []Imported
	var issues []Issue
	for n := 1; ; n++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("document %d: %w", n, err)
		}
		if n > MaxDocuments {
			return nil, nil, fmt.Errorf("more than %d documents; split the file", MaxDocuments)
		}
		var doc map[string]any
		if err := node.Decode(&doc); err != nil || doc == nil {
			return nil, nil, fmt.Errorf("document %d is not a mapping: not a Backstage entity file", n)
		}
		imp, found := importDocument(n, doc)
		issues = append(issues, found...)
		if imp.Entity != nil {
			out = append(out, imp)
		}
	}
	return out, issues, nil
}

func importDocument(n int, doc map[string]any) (Imported, []Issue) {
	meta, _ := doc["metadata"].(map[string]any)
	name := str(meta["name"])
	src := fmt.Sprintf("document %d", n)
	if name != "" {
		src += " (" + name + ")"
	}
	var issues []Issue
	add := func(field, format string, args ...any) {
		issues = append(issues, Issue{Entity: src, Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	skip := func(field, format string, args ...any) (Imported, []Issue) {
		return Imported{}, append(issues, Issue{Entity: src, Field: field, Skipped: true, Problem: fmt.Sprintf(format, args...)})
	}
	if v := str(doc["apiVersion"]); v != APIVersion && v != "backstage.io/v1beta1" {
		return skip("apiVersion", "%q is not a Backstage entity (want %s); left out", v, APIVersion)
	}
	kind, ok := catalog.CanonicalKind(str(doc["kind"]))
	if !ok || !kinds[kind] {
		return skip("kind", "kind %q has no counterpart in the catalog; left out", str(doc["kind"]))
	}
	if meta == nil || name == "" {
		return skip("metadata.name", "required; left out")
	}
	identifier := name
	if !catalog.ValidIdentifier(identifier) {
		identifier = catalog.IdentifierFromSlug(name)
		add("metadata.name", "%q is not a catalog identifier; imported as %s", name, identifier)
	}
	out := map[string]any{"apiVersion": catalog.APIVersion, "kind": kind, "identifier": identifier}
	newMeta := map[string]any{}
	for _, k := range sortedKeys(meta) {
		v := meta[k]
		switch k {
		case "name":
		case "title":
			out["name"] = v
		case "namespace":
			if ns := str(v); ns != "" && ns != "default" {
				add("metadata.namespace", "namespace %q has no counterpart; the entity is imported at account scope", ns)
			}
		case "annotations":
			a, ok := v.(map[string]any)
			if !ok {
				add("metadata.annotations", "not a mapping; left out")
				continue
			}
			a = cloneMap(a)
			for _, k := range []string{annotationManagedBy, annotationManagedOrigin} {
				if _, ok := a[k]; ok {
					add("metadata.annotations."+k, "set by Backstage when it reads a file; left out")
					delete(a, k)
				}
			}
			if org := str(a[AnnotationOrg]); org != "" {
				out["orgIdentifier"] = org
				delete(a, AnnotationOrg)
			}
			if project := str(a[AnnotationProject]); project != "" {
				out["projectIdentifier"] = project
				delete(a, AnnotationProject)
			}
			if len(a) > 0 {
				newMeta["annotations"] = a
			}
		default:
			if why, ok := serverMetadata[k]; ok {
				add("metadata."+k, "%s; left out", why)
				continue
			}
			newMeta[k] = v
		}
	}
	if len(newMeta) > 0 {
		out["metadata"] = newMeta
	}
	if spec, ok := doc["spec"].(map[string]any); ok {
		spec = cloneMap(spec)
		for _, k := range []string{"type", "owner"} {
			if v, ok := spec[k]; ok {
				out[k] = v
				delete(spec, k)
			}
		}
		if len(spec) > 0 {
			out["spec"] = spec
		}
	} else if doc["spec"] != nil {
		add("spec", "not a mapping; left out")
	}
	for _, k := range sortedKeys(doc) {
		switch k {
		case "apiVersion", "kind", "metadata", "spec":
		default:
			add(k, "no counterpart in the catalog; left out")
		}
	}
	text, err := yaml.Marshal(out)
	if err != nil {
		return skip("", "cannot be rendered: %v", err)
	}
	e, err := catalog.Parse(text)
	if err != nil {
		return skip("", "not a valid entity once mapped: %v", err)
	}
	return Imported{Source: src, Entity: e}, issues
}
