package discoverysvc

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/shared/repofilter"
)

// Source is the key of Bitbucket's overlay under
// metadata.integration_properties. There is one per entity, so an entity
// is linked by one integration at most: a merge into an entity another
// integration feeds fails with ENTITY_LINKED.
const Source = "BitbucketCloud"

// Derived property names: visibility is what users filter on, and
// Bitbucket only sends is_private; deleted flags a repository that left
// the workspace.
const (
	propVisibility = "visibility"
	propDeleted    = "deleted"
	propIsPrivate  = "is_private"
)

// decodeRaw reads a repository's raw JSON; a repository whose JSON does
// not parse (it always does, coming from the store) has no raw fields.
func decodeRaw(raw string) map[string]any {
	var m map[string]any
	if raw == "" || json.Unmarshal([]byte(raw), &m) != nil {
		return map[string]any{}
	}
	return m
}

// Limits of one mapped value, as placed in the entity: a value past any
// of them is left out. With at most 64 field mappings (the contract's
// limit), the ingested section then stays within what an entity document
// holds next to the user's own part (see catalog.MaxSubmittedSize), so
// an entity that receives it can always be stored and read back.
const (
	maxPropertySize  = 4 << 10 // bytes of its JSON encoding
	maxPropertyNodes = 100     // values, a list or object counting as one more
	maxPropertyDepth = 16      // nesting, the dots of its name included
)

// Props maps a repository's raw JSON onto the ingested properties of its
// entity: each field mapping copies the value at its path (a catalog.Path;
// typed: strings,
// numbers, booleans, lists and objects as Bitbucket sent them) to its
// name, where dots nest ("project.key" lands at project → key). A path
// that finds nothing, or a value past the limits above, leaves the name
// out. visibility ("private" or "public") is derived from is_private
// unless a mapping names it.
func Props(fields []integration.FieldMapping, raw map[string]any) map[string]any {
	props := map[string]any{}
	mapped := map[string]bool{}
	for _, f := range fields {
		mapped[f.Name] = true
		path, err := catalog.ParsePath(f.Path)
		if err != nil {
			continue // refused when the integration was saved
		}
		v, ok := path.Value(raw)
		if !ok || !withinLimits(v, strings.Count(f.Name, ".")+1) {
			continue
		}
		setPath(props, f.Name, v)
	}
	if !mapped[propVisibility] {
		if private, ok := raw[propIsPrivate].(bool); ok {
			props[propVisibility] = map[bool]string{true: "private", false: "public"}[private]
		}
	}
	return props
}

// withinLimits reports whether a value placed under a name of nameDepth
// segments stays within the limits of one property.
func withinLimits(v any, nameDepth int) bool {
	nodes := 0
	var fits func(v any, depth int) bool
	fits = func(v any, depth int) bool {
		if nodes++; nodes > maxPropertyNodes || depth > maxPropertyDepth {
			return false
		}
		switch t := v.(type) {
		case map[string]any:
			for _, c := range t {
				if !fits(c, depth+1) {
					return false
				}
			}
		case []any:
			for _, c := range t {
				if !fits(c, depth+1) {
					return false
				}
			}
		}
		return true
	}
	if !fits(v, nameDepth) {
		return false
	}
	b, err := json.Marshal(v)
	return err == nil && len(b) <= maxPropertySize
}

func setPath(m map[string]any, name string, v any) {
	parts := strings.Split(name, ".")
	for _, p := range parts[:len(parts)-1] {
		child, ok := m[p].(map[string]any)
		if !ok {
			child = map[string]any{}
			m[p] = child
		}
		m = child
	}
	m[parts[len(parts)-1]] = v
}

// propsHash fingerprints ingested properties, so that a sync rewrites only
// entities whose repository changed. encoding/json sorts map keys, so
// equal properties hash equally.
func propsHash(props map[string]any) string {
	b, _ := json.Marshal(props) // values come from decoded JSON
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// configHash fingerprints what recommendations depend on in an
// integration's configuration: a change of any of it recomputes them.
func configHash(in integration.Integration) string {
	b, _ := json.Marshal(struct {
		Behavior    integration.Behavior
		Kind, Type  string
		Correlation []integration.CorrelationRule
		Fields      []integration.FieldMapping
		Filter      repofilter.Filter
	}{in.Behavior, in.Kind, in.Type, in.Correlation, in.Fields, in.Filter})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
