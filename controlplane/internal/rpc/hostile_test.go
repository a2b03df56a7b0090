package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
	rulesv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/rules/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
)

// hostileCase is one request with one hostile value in one field.
type hostileCase struct {
	field string // path of the hostile field, as violations name it
	what  string // which hostile value
	wire  []byte // the encoded request
	// cleaned is set for fields the contract cleans instead of refusing
	// (the text of delegate records): any answer but a server error.
	cleaned bool
}

// utf8Marker stands for invalid UTF-8 until the request is encoded; the
// encoder of protobuf-go refuses to write invalid UTF-8 itself.
const utf8Marker = "\u2603INVALID-UTF8\u2603"

// junkToken decodes as base64 but is no list's token: it passes the
// declared shape of a page token and must be refused by the list itself.
const junkToken = "bm90LWEtdG9rZW4"

// TestHostileInputEveryRPC walks every RPC of every product service the
// server registers, and for every field of its request (found by
// reflection) sends hostile values: NUL, invalid UTF-8 on the wire, 1 MiB
// strings and bytes, unknown enum numbers, timestamps outside years 1 to
// 9999, negative numbers, too many items, page tokens no list returned.
// Each must be INVALID_ARGUMENT with a field violation naming that field;
// the server must stay healthy and the stored state must not change.
func TestHostileInputEveryRPC(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h, _, g := newFullHarness(t, db)
		refs := hostileFixture(t, h)
		health := healthgrpc.NewHealthClient(h.conn)
		before, err := db.Dump(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		names := make([]string, 0)
		for name := range g.GetServiceInfo() {
			if strings.HasPrefix(name, "idp.") {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		if len(names) != 5 {
			t.Fatalf("services %v, want the five product services", names)
		}
		total := 0
		for _, name := range names {
			d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
			if err != nil {
				t.Fatal(err)
			}
			sd := d.(protoreflect.ServiceDescriptor)
			for i := range sd.Methods().Len() {
				md := sd.Methods().Get(i)
				method := "/" + name + "/" + string(md.Name())
				ctx := h.mgmt()
				if strings.HasPrefix(name, "idp.delegate.") {
					ctx = h.dlg()
				}
				for _, c := range hostileCases(t, md.Input(), refs) {
					total++
					err := h.conn.Invoke(ctx, method, c.wire, new(rawMessage), grpc.ForceCodecV2(rawCodec{}))
					checkHostile(t, method, c, err)
					if res, err := health.Check(context.Background(), &healthgrpc.HealthCheckRequest{}); err != nil ||
						res.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
						t.Fatalf("%s %s %s: server not healthy after it: %v %v", method, c.field, c.what, res, err)
					}
				}
				after, err := db.Dump(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(before, after); diff != "" {
					t.Fatalf("%s: hostile requests changed the stored state (-before +after):\n%s", method, diff)
				}
			}
		}
		t.Logf("%d hostile requests", total)
		if !strings.Contains(h.logs.String(), `"code":"InvalidArgument"`) {
			t.Error("no refused request was logged")
		}
	})
}

func checkHostile(t *testing.T, method string, c hostileCase, err error) {
	t.Helper()
	st, _ := status.FromError(err)
	if c.cleaned {
		if st.Code() == codes.Internal || st.Code() == codes.Unknown {
			t.Errorf("%s %s %s: %v", method, c.field, c.what, err)
		}
		return
	}
	if st.Code() != codes.InvalidArgument {
		t.Errorf("%s %s %s: got %v, want InvalidArgument", method, c.field, c.what, err)
		return
	}
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
				if v.GetField() == c.field && v.GetDescription() == "" {
					t.Errorf("%s %s %s: violation without a description", method, c.field, c.what)
				}
			}
		}
	}
	for _, f := range fields {
		if f == c.field {
			return
		}
	}
	t.Errorf("%s %s %s: violations name %v, not the field (%v)", method, c.field, c.what, fields, err)
}

// hostileFixture stores one of everything a request can name, so that
// requests reach the rules that need state (page tokens of real lists),
// and returns the references by field name.
func hostileFixture(t *testing.T, h *harness) map[string]string {
	t.Helper()
	h.createConnector("hostile-conn", "acme")
	h.createIntegration("hostile-int", "hostile-conn")
	if _, err := h.catalog.CreateEntity(h.mgmt(), &catalogv1.CreateEntityRequest{Yaml: paymentsYAML}); err != nil {
		t.Fatal(err)
	}
	// The Discovered list computes its recommendations on first read;
	// read it once so that later reads store nothing.
	if _, err := h.discovery.ListDiscovered(h.mgmt(), &integrationv1.ListDiscoveredRequest{Integration: "hostile-int"}); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"connector":   "hostile-conn",
		"integration": "hostile-int",
		"entity":      "payments",
		"delegate_id": h.register("hostile-delegate"),
	}
}

// hostileCases builds the hostile requests of one request type: for every
// field reachable from it, a request holding the references of refs and
// one hostile value in that field.
func hostileCases(t *testing.T, md protoreflect.MessageDescriptor, refs map[string]string) []hostileCase {
	t.Helper()
	var out []hostileCase
	var walk func(path []protoreflect.FieldDescriptor, md protoreflect.MessageDescriptor)
	walk = func(path []protoreflect.FieldDescriptor, md protoreflect.MessageDescriptor) {
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			p := append(append([]protoreflect.FieldDescriptor{}, path...), fd)
			for _, hv := range hostileValues(fd) {
				msg := baseRequest(p[0].ContainingMessage(), refs)
				field := setAt(msg, p, hv.value, hv.items)
				b, err := proto.MarshalOptions{}.Marshal(msg)
				if err != nil {
					t.Fatalf("%s: %v", field, err)
				}
				b = bytes.ReplaceAll(b, []byte(utf8Marker), bytes.Repeat([]byte{0xff}, len(utf8Marker)))
				out = append(out, hostileCase{field: field, what: hv.what, wire: b, cleaned: cleanedField(p, hv.items == 0)})
			}
			if fd.Kind() == protoreflect.MessageKind && !wellKnown(fd.Message()) && len(path) < 4 {
				walk(p, fd.Message())
			}
		}
	}
	walk(nil, md)
	return out
}

// cleanedField reports whether the innermost field of p (an element of
// it, for a list) is one the contract cleans rather than refuses: a
// delegate record's field without declared rules, documented in
// ingest.Normalize and docs/limits.md.
func cleanedField(p []protoreflect.FieldDescriptor, element bool) bool {
	last := p[len(p)-1]
	if element && last.IsList() {
		rules, _ := proto.GetExtension(last.Options(), validate.E_Field).(*validate.FieldRules)
		if items := rules.GetRepeated().GetItems(); items.GetType() != nil || len(items.GetCel()) > 0 {
			return false
		}
	} else if declaresRules(last) {
		return false
	}
	for _, fd := range p {
		if fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() == "idp.delegate.v1.Record" {
			return true
		}
	}
	return false
}

func declaresRules(fd protoreflect.FieldDescriptor) bool {
	rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	return rules != nil && (rules.GetType() != nil || rules.GetRequired() || len(rules.GetCel()) > 0)
}

// wellKnown types are leaves of the walk: their hostile values are set
// whole (timestamps, field masks) or bounded by the domain (Struct).
func wellKnown(md protoreflect.MessageDescriptor) bool {
	return strings.HasPrefix(string(md.FullName()), "google.protobuf.")
}

type hostileValue struct {
	what  string
	value protoreflect.Value // for one element, or the field
	items int                // >0: a list of this many copies of value
}

func hostileValues(fd protoreflect.FieldDescriptor) []hostileValue {
	var out []hostileValue
	mib := strings.Repeat("x", 1<<20)
	switch fd.Kind() {
	case protoreflect.StringKind:
		out = append(out,
			hostileValue{what: "NUL", value: protoreflect.ValueOfString("a\x00b")},
			hostileValue{what: "invalid UTF-8", value: protoreflect.ValueOfString(utf8Marker)},
			hostileValue{what: "1 MiB", value: protoreflect.ValueOfString(mib)})
		if fd.Name() == "page_token" {
			out = append(out, hostileValue{what: "junk token", value: protoreflect.ValueOfString(junkToken)})
		}
	case protoreflect.BytesKind:
		out = append(out, hostileValue{what: "1 MiB", value: protoreflect.ValueOfBytes([]byte(mib))})
	case protoreflect.EnumKind:
		out = append(out, hostileValue{what: "unknown enum number", value: protoreflect.ValueOfEnum(99)})
	case protoreflect.Int32Kind:
		out = append(out, hostileValue{what: "negative", value: protoreflect.ValueOfInt32(-1)})
	case protoreflect.Int64Kind:
		out = append(out, hostileValue{what: "negative", value: protoreflect.ValueOfInt64(-1)})
	case protoreflect.MessageKind:
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp":
			out = append(out,
				hostileValue{what: "before year 1", value: timestampValue(fd.Message(), -62135596800-86400)},
				hostileValue{what: "after year 9999", value: timestampValue(fd.Message(), 253402300800+86400)})
		case "google.protobuf.FieldMask":
			m := dynamicpb.NewMessage(fd.Message())
			l := m.Mutable(fd.Message().Fields().ByName("paths")).List()
			l.Append(protoreflect.ValueOfString("no_such_field"))
			out = append(out, hostileValue{what: "unknown path", value: protoreflect.ValueOfMessage(m)})
		}
	}
	if fd.IsList() {
		if !declaresRules(fd) {
			return out
		}
		item := protoreflect.ValueOfString("x")
		switch fd.Kind() {
		case protoreflect.MessageKind:
			item = protoreflect.Value{} // empty messages
		case protoreflect.EnumKind:
			item = protoreflect.ValueOfEnum(1)
		}
		out = append(out, hostileValue{what: "10001 items", value: item, items: 10001})
	}
	return out
}

func timestampValue(md protoreflect.MessageDescriptor, seconds int64) protoreflect.Value {
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("seconds"), protoreflect.ValueOfInt64(seconds))
	return protoreflect.ValueOfMessage(m)
}

// baseRequest is a request of type md naming the fixture: string fields
// called like a reference hold it, at the top level and in EntityKey.
func baseRequest(md protoreflect.MessageDescriptor, refs map[string]string) *dynamicpb.Message {
	m := dynamicpb.NewMessage(md)
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		if ref, ok := refs[string(fd.Name())]; ok && fd.Kind() == protoreflect.StringKind && !fd.IsList() {
			m.Set(fd, protoreflect.ValueOfString(ref))
		}
		if fd.Kind() == protoreflect.MessageKind && fd.Message().Name() == "EntityKey" {
			m.Set(fd, protoreflect.ValueOfMessage(baseRequest(fd.Message(), refs)))
		}
		// An enum that must be set (not_in [0]) gets its first value, so
		// the cases reach the other fields.
		if fd.Kind() == protoreflect.EnumKind && !fd.IsList() && slices.Contains(fieldRules(fd).GetEnum().GetNotIn(), 0) {
			m.Set(fd, protoreflect.ValueOfEnum(fd.Enum().Values().Get(1).Number()))
		}
	}
	return m
}

// fieldRules returns the protovalidate rules declared on fd.
func fieldRules(fd protoreflect.FieldDescriptor) *validate.FieldRules {
	r, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	return r
}

// setAt sets the field at path p of m to v (the first list element, or
// items copies of it) and returns the path as violations name it.
func setAt(m protoreflect.Message, p []protoreflect.FieldDescriptor, v protoreflect.Value, items int) string {
	var name strings.Builder
	for i, fd := range p {
		if i > 0 {
			name.WriteByte('.')
		}
		name.WriteString(string(fd.Name()))
		last := i == len(p)-1
		switch {
		case last && fd.IsList():
			l := m.Mutable(fd).List()
			n := max(items, 1)
			for range n {
				if fd.Kind() == protoreflect.MessageKind && !v.IsValid() {
					l.Append(l.NewElement())
				} else {
					l.Append(v)
				}
			}
			if items == 0 {
				name.WriteString("[0]")
			}
		case last:
			m.Set(fd, v)
		case fd.IsList():
			l := m.Mutable(fd).List()
			e := l.NewElement()
			l.Append(e)
			m = e.Message()
			name.WriteString("[0]")
		default:
			m = m.Mutable(fd).Message()
		}
	}
	return name.String()
}

// rawMessage is a request or response as its encoded bytes.
type rawMessage []byte

// rawCodec sends encoded bytes as they are, so that a test can put on the
// wire what no protobuf encoder would write.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	switch x := v.(type) {
	case []byte:
		return mem.BufferSlice{mem.SliceBuffer(x)}, nil
	case *rawMessage:
		return mem.BufferSlice{mem.SliceBuffer(*x)}, nil
	}
	return nil, fmt.Errorf("rawCodec cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*rawMessage)) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// TestLineRulesBoundTheirFields holds every field to the premise of the
// single_line and text rules: they scan values of up to 4096 characters,
// so a field using them must allow no more (see proto/idp/rules/v1).
func TestLineRulesBoundTheirFields(t *testing.T) {
	t.Parallel()
	checked := 0
	var check func(md protoreflect.MessageDescriptor)
	check = func(md protoreflect.MessageDescriptor) {
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
			s := rules.GetString()
			if items := rules.GetRepeated().GetItems(); items != nil {
				s = items.GetString()
			}
			if s == nil || !(proto.GetExtension(s, rulesv1.E_SingleLine).(bool) || proto.GetExtension(s, rulesv1.E_Text).(bool)) {
				continue
			}
			checked++
			if !s.HasMaxLen() || s.GetMaxLen() > 4096 {
				t.Errorf("%s: a line rule with max_len %d; at most 4096 are scanned", fd.FullName(), s.GetMaxLen())
			}
		}
		for i := range md.Messages().Len() {
			check(md.Messages().Get(i))
		}
	}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if strings.HasPrefix(string(fd.Package()), "idp.") {
			for i := range fd.Messages().Len() {
				check(fd.Messages().Get(i))
			}
		}
		return true
	})
	if checked < 50 {
		t.Fatalf("only %d fields use a line rule: the walk missed the contract", checked)
	}
}

// TestPageSizeRuleIsTheStoresCap holds the one page maximum in its two
// homes together: every list's page_size declares the contract's
// page_size rule, and that rule accepts exactly 0 to store.MaxPageSize,
// the most the store returns in one page.
func TestPageSizeRuleIsTheStoresCap(t *testing.T) {
	t.Parallel()
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	pageSizeBroken := func(md protoreflect.MessageDescriptor, size int32) bool {
		m := dynamicpb.NewMessage(md)
		m.Set(md.Fields().ByName("page_size"), protoreflect.ValueOfInt32(size))
		var ve *protovalidate.ValidationError
		if err := v.Validate(m); !errors.As(err, &ve) {
			return false
		}
		for _, x := range ve.Violations {
			if protovalidate.FieldPathString(x.Proto.GetField()) == "page_size" {
				return true
			}
		}
		return false
	}
	lists := 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "idp.") {
			return true
		}
		for i := range fd.Messages().Len() {
			md := fd.Messages().Get(i)
			f := md.Fields().ByName("page_size")
			if f == nil {
				continue
			}
			lists++
			rules, _ := proto.GetExtension(f.Options(), validate.E_Field).(*validate.FieldRules)
			if !proto.GetExtension(rules.GetInt32(), rulesv1.E_PageSize).(bool) {
				t.Errorf("%s: page_size does not declare idp.rules.v1.page_size", md.FullName())
			}
			for _, size := range []int32{0, 1, store.MaxPageSize} {
				if pageSizeBroken(md, size) {
					t.Errorf("%s: page_size %d refused; the store serves up to %d", md.FullName(), size, store.MaxPageSize)
				}
			}
			for _, size := range []int32{-1, store.MaxPageSize + 1} {
				if !pageSizeBroken(md, size) {
					t.Errorf("%s: page_size %d accepted; the store serves at most %d", md.FullName(), size, store.MaxPageSize)
				}
			}
		}
		return true
	})
	if lists < 7 {
		t.Fatalf("only %d lists have a page_size: the walk missed the contract", lists)
	}
}
