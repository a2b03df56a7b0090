package rpc

import (
	"errors"
	"fmt"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
)

// requestRules checks every request against the rules declared on its
// fields in the .proto files (protovalidate annotations): sizes, ranges,
// enum values, control characters. They are the contract's limits, so
// they are checked here, once, before any handler runs; handlers and the
// domain keep only the rules that need state or meaning.
type requestRules struct {
	v protovalidate.Validator
}

func newRequestRules() (*requestRules, error) {
	v, err := protovalidate.New()
	if err != nil {
		return nil, fmt.Errorf("request rules: %w", err)
	}
	return &requestRules{v: v}, nil
}

// check returns an Invalid fault with one violation per broken rule,
// naming the field (e.g. "connector.delegate_selectors[2]") and the rule
// (e.g. "string.max_len"). Messages that are not protobuf pass.
func (r *requestRules) check(req any) error {
	m, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	err := r.v.Validate(m)
	if err == nil {
		return nil
	}
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		// A rule that does not compile or evaluate is the server's fault.
		return fmt.Errorf("checking %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	var v fault.Violations
	for _, x := range ve.Violations {
		field := protovalidate.FieldPathString(x.Proto.GetField())
		if field == "" {
			field = string(m.ProtoReflect().Descriptor().Name())
		}
		v.Add(field, "%s (rule %s)", x.Proto.GetMessage(), x.Proto.GetRuleId())
	}
	return v.Err("", "invalid request")
}
