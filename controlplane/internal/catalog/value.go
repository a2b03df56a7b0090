package catalog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/number"
)

// normalize deep-copies a JSON- or YAML-like value into the few types an
// entity holds: map[string]any, []any, string, bool, int, int64, uint64,
// float64, time.Time and nil. Keys that YAML decoded as numbers or booleans
// become their string form, because catalog paths address keys as text. A
// value of any other type is an error, never a panic later when rendering.
func normalize(v any) (any, error) {
	switch t := v.(type) {
	case nil, string, bool, int, int64, uint64, float64, time.Time:
		return t, nil
	case int32:
		return int(t), nil
	case uint32:
		return uint64(t), nil
	case uint:
		return uint64(t), nil
	case float32:
		return float64(t), nil
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i, nil
		}
		f, err := t.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %q: %w", t, err)
		}
		return f, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, child := range t {
			c, err := normalize(child)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = c
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, child := range t {
			key, ok := scalarString(k)
			if !ok {
				return nil, fmt.Errorf("key %v: keys must be scalars", k)
			}
			if _, dup := out[key]; dup {
				return nil, fmt.Errorf("key %q appears twice once keys are read as text", key)
			}
			c, err := normalize(child)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			out[key] = c
		}
		return out, nil
	case map[string]string:
		out := make(map[string]any, len(t))
		for k, s := range t {
			out[k] = s
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, child := range t {
			c, err := normalize(child)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = c
		}
		return out, nil
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value of type %T", v)
}

// scalarString is the text form in which scalars are compared and addressed:
// strings as they are, numbers in their shortest exact decimal form (so the
// YAML 42, the JSON 42 and the JSON 42.0 all read "42"), booleans as
// true/false, times in RFC 3339. Nil, maps and lists are not scalars.
func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case uint64:
		return strconv.FormatUint(t, 10), true
	case float64:
		return number.Format(t), true
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return strconv.FormatInt(i, 10), true
		}
		if f, err := t.Float64(); err == nil {
			return scalarString(f)
		}
		return t.String(), true
	case time.Time:
		return t.Format(time.RFC3339Nano), true
	}
	return "", false
}
