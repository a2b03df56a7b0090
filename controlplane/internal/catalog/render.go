package catalog

import (
	"bytes"
	"fmt"
	"math"

	"go.yaml.in/yaml/v3"

	"github.com/catalog-discovery/bitbucket/shared/number"
)

// document is the rendered shape: struct fields give the IDP order at the
// top level, and the YAML encoder sorts the keys of every map below it, so
// the same entity always renders to the same bytes.
type document struct {
	APIVersion string         `yaml:"apiVersion"`
	Kind       string         `yaml:"kind"`
	Type       string         `yaml:"type,omitempty"`
	Identifier string         `yaml:"identifier"`
	Name       string         `yaml:"name"`
	Owner      string         `yaml:"owner,omitempty"`
	Org        string         `yaml:"orgIdentifier,omitempty"`
	Project    string         `yaml:"projectIdentifier,omitempty"`
	Spec       map[string]any `yaml:"spec,omitempty"`
	Metadata   map[string]any `yaml:"metadata,omitempty"`
	Extra      map[string]any `yaml:",inline"`
}

// YAML renders the entity as IDP 2.0 YAML, with the ingested overlays in
// place under metadata.integration and metadata.integration_properties.
// Comments and the user's key order are not kept; every value is.
func (e *Entity) YAML() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	doc := document{
		APIVersion: APIVersion,
		Kind:       e.Kind,
		Type:       e.Type,
		Identifier: e.Identifier,
		Name:       e.Name,
		Owner:      e.Owner,
		Org:        e.Org,
		Project:    e.Project,
		Spec:       plainNumbers(e.specTree()),
		Metadata:   plainNumbers(e.metadataTree()),
		Extra:      plainNumbers(e.Extra),
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("render entity %s: %w", e.Identifier, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render entity %s: %w", e.Identifier, err)
	}
	return buf.Bytes(), nil
}

// specTree is spec as shown: the user's spec with lifecycle in place. It
// shares the user's values; callers must not change it.
func (e *Entity) specTree() map[string]any {
	if e.Lifecycle == "" {
		return e.Spec
	}
	spec := make(map[string]any, len(e.Spec)+1)
	for k, v := range e.Spec {
		spec[k] = v
	}
	spec["lifecycle"] = e.Lifecycle
	return spec
}

// metadataTree is metadata as shown, with the typed fields and the ingested
// overlays in place. It shares the entity's values; callers must not change
// it.
func (e *Entity) metadataTree() map[string]any {
	meta := make(map[string]any, len(e.Metadata)+4)
	for k, v := range e.Metadata {
		meta[k] = v
	}
	if e.Description != "" {
		meta["description"] = e.Description
	}
	if len(e.Tags) > 0 {
		tags := make([]any, len(e.Tags))
		for i, t := range e.Tags {
			tags[i] = t
		}
		meta["tags"] = tags
	}
	if len(e.Integrations) > 0 {
		meta["integration"] = e.integrationTree()
	}
	if len(e.IngestedProperties) > 0 {
		props := make(map[string]any, len(e.IngestedProperties))
		for source, m := range e.IngestedProperties {
			props[source] = m
		}
		meta["integration_properties"] = props
	}
	if len(meta) == 0 {
		return nil
	}
	return meta
}

// integrationTree nests the links as metadata.integration shows them.
func (e *Entity) integrationTree() map[string]any {
	tree := make(map[string]any)
	for k, l := range e.Integrations {
		ids, _ := tree[k.Scope].(map[string]any)
		if ids == nil {
			ids = make(map[string]any)
			tree[k.Scope] = ids
		}
		records, _ := ids[k.IntegrationID].(map[string]any)
		if records == nil {
			records = make(map[string]any)
			ids[k.IntegrationID] = records
		}
		records[k.Record] = map[string]any{
			"entity_uuid":   l.EntityUUID,
			"entity_action": string(l.Action),
			"imported_at":   l.ImportedAt.UTC(),
		}
	}
	return tree
}

// plainNumbers returns a copy of tree in which every float64 renders in
// plain decimal (29236454, not the encoder's 2.9236454e+07). JSON gives
// every number as a float64, so each ingested size or count would
// otherwise read in scientific notation.
func plainNumbers(tree map[string]any) map[string]any {
	if tree == nil {
		return nil
	}
	out := make(map[string]any, len(tree))
	for k, v := range tree {
		out[k] = plainValue(v)
	}
	return out
}

func plainValue(v any) any {
	switch t := v.(type) {
	case float64:
		return plainFloat(t)
	case map[string]any:
		return plainNumbers(t)
	case map[string]map[string]any:
		out := make(map[string]any, len(t))
		for k, m := range t {
			out[k] = plainNumbers(m)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, item := range t {
			out[i] = plainValue(item)
		}
		return out
	}
	return v
}

// plainFloat is a float64 that renders in plain decimal: an integer when
// it has no fraction, so that it reads back as the same number.
type plainFloat float64

func (f plainFloat) MarshalYAML() (any, error) {
	// The tag is the one YAML resolves the text to, so that the encoder
	// writes no explicit tag: integers within int64, floats otherwise.
	tag := "!!float"
	if v := float64(f); number.Integral(v) && math.Abs(v) < math.MaxInt64 {
		tag = "!!int"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: number.Format(float64(f))}, nil
}
