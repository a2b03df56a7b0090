package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/rpc"
)

// connectCodes are the Connect protocol's names of the gRPC codes.
var connectCodes = map[codes.Code]string{
	codes.Canceled: "canceled", codes.Unknown: "unknown", codes.InvalidArgument: "invalid_argument",
	codes.DeadlineExceeded: "deadline_exceeded", codes.NotFound: "not_found", codes.AlreadyExists: "already_exists",
	codes.PermissionDenied: "permission_denied", codes.ResourceExhausted: "resource_exhausted",
	codes.FailedPrecondition: "failed_precondition", codes.Aborted: "aborted", codes.OutOfRange: "out_of_range",
	codes.Unimplemented: "unimplemented", codes.Internal: "internal", codes.Unavailable: "unavailable",
	codes.DataLoss: "data_loss", codes.Unauthenticated: "unauthenticated",
}

// managementServices walks the services registered on the gRPC server and
// returns the product's own ones except the DelegateService: the set the
// HTTP API must serve. A service added to the server but not mounted
// fails TestEveryManagementServiceIsMounted.
func managementServices(h *harness) []string {
	var names []string
	for name := range h.grpc.GetServiceInfo() {
		if strings.HasPrefix(name, "idp.") && !strings.HasPrefix(name, "idp.delegate.") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func TestEveryManagementServiceIsMounted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	mounted := slices.Sorted(slices.Values(rpc.ManagementServices))
	if got := managementServices(h); !slices.Equal(got, mounted) {
		t.Fatalf("management services on the gRPC server %v; the HTTP API mounts %v", got, mounted)
	}
	// The delegate's service, health and reflection are not on the console's address.
	for name := range h.grpc.GetServiceInfo() {
		if slices.Contains(mounted, name) {
			continue
		}
		for _, m := range h.grpc.GetServiceInfo()[name].Methods {
			r := h.call(h.srv.Client(), name+"/"+m.Name, "{}", bearer(h.admin))
			wantError(t, r, http.StatusNotFound, "not_found", "NO_SUCH_METHOD")
		}
	}
}

// TestHTTPMatchesGRPC calls every method of every management service over
// Connect JSON and over gRPC with the same credentials and the same empty
// request, and requires the same outcome: code, ErrorInfo reason and
// message. Besides parity it pins the outcomes every method shares: no
// key, a key without the permission, and the feature flag off.
func TestHTTPMatchesGRPC(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.account("flagoff", false)
	creds := []struct {
		name string
		key  string
		// want is the outcome every method of the service must have;
		// empty: only parity is checked.
		want func(service string) (code codes.Code, reason string)
	}{
		{"no key", "", func(string) (codes.Code, string) { return codes.Unauthenticated, auth.ReasonInvalidAPIKey }},
		{"unknown key", "idp_ak_unknown", func(string) (codes.Code, string) { return codes.Unauthenticated, auth.ReasonInvalidAPIKey }},
		{"no permission", h.key("acme"), func(string) (codes.Code, string) { return codes.PermissionDenied, auth.ReasonPermissionMissing }},
		{"flag off", h.key("flagoff", auth.AllPermissions...), func(svc string) (codes.Code, string) {
			if strings.HasPrefix(svc, "idp.integration.") {
				return codes.FailedPrecondition, auth.ReasonFeatureFlagDisabled
			}
			return codes.OK, ""
		}},
		{"admin", h.admin, nil},
	}
	methods := 0
	for _, svc := range managementServices(h) {
		desc, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
		if err != nil {
			t.Fatal(err)
		}
		sd := desc.(protoreflect.ServiceDescriptor)
		for i := range sd.Methods().Len() {
			md := sd.Methods().Get(i)
			full := svc + "/" + string(md.Name())
			methods++
			for _, c := range creds {
				t.Run(full+"/"+c.name, func(t *testing.T) {
					var headers []string
					ctx := t.Context()
					if c.key != "" {
						headers = append(headers, bearer(c.key))
						ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.key)
					}
					httpRes := h.call(h.srv.Client(), full, "{}", headers...)
					grpcErr := h.conn.Invoke(ctx, "/"+full, dynamicpb.NewMessage(md.Input()), dynamicpb.NewMessage(md.Output()))
					st := status.Convert(grpcErr)
					if st.Code() == codes.OK {
						if httpRes.status != http.StatusOK {
							t.Fatalf("gRPC OK, HTTP %d: %s", httpRes.status, httpRes.body)
						}
					} else {
						e := wantError(t, httpRes, httpStatus(st.Code()), connectCodes[st.Code()], reasonOf(st))
						if e.Message != st.Message() {
							t.Errorf("HTTP message %q, gRPC message %q", e.Message, st.Message())
						}
					}
					if c.want == nil {
						if reason := reasonOf(st); reason == auth.ReasonInvalidAPIKey || reason == auth.ReasonPermissionMissing || reason == auth.ReasonFeatureFlagDisabled {
							t.Errorf("admin refused: %v", grpcErr)
						}
						return
					}
					if code, reason := c.want(svc); code != codes.OK && (st.Code() != code || reasonOf(st) != reason) {
						t.Errorf("got %v, want %v %s", grpcErr, code, reason)
					}
				})
			}
		}
	}
	if methods < 20 {
		t.Fatalf("walked %d methods; the services have more", methods)
	}
}

// httpStatus is the Connect protocol's HTTP status of a code.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.Canceled:
		return 499
	}
	return http.StatusInternalServerError
}

func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(interface{ GetReason() string }); ok {
			return info.GetReason()
		}
	}
	return ""
}

// TestJSONCalls is what the README shows with curl: a call that creates,
// one that reads, the error of a bad field, and bodies that are not the
// request at all.
func TestJSONCalls(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	c := h.srv.Client()
	create := "idp.integration.v1.ConnectorService/CreateConnector"

	e := wantError(t, h.call(c, create, `{"connector":{"name":"bb","url":"http://example.com/acme","tokenRef":"env:BITBUCKET_TOKEN"}}`, bearer(h.admin)),
		http.StatusBadRequest, "invalid_argument", "")
	if v := e.bad.GetFieldViolations(); len(v) == 0 || v[0].GetField() != "connector.url" {
		t.Errorf("violations %v, want connector.url", v)
	}

	var created struct {
		Connector struct {
			ID, Name, Workspace string
			TokenRef            string `json:"tokenRef"`
		}
	}
	jsonBody(t, h.call(c, create, `{"connector":{"name":"bb","url":"https://bitbucket.org/acme","tokenRef":"env:BITBUCKET_TOKEN"}}`, bearer(h.admin)), &created)
	if created.Connector.ID == "" || created.Connector.Workspace != "acme" || created.Connector.TokenRef != "env:BITBUCKET_TOKEN" {
		t.Errorf("created %+v", created)
	}
	var list struct {
		Connectors []struct{ Name string }
	}
	jsonBody(t, h.call(c, "idp.integration.v1.ConnectorService/ListConnectors", `{}`, bearer(h.admin)), &list)
	if len(list.Connectors) != 1 || list.Connectors[0].Name != "bb" {
		t.Errorf("listed %+v", list)
	}
	// The binary Connect encoding works too (an empty message is zero bytes).
	r := h.do(c, http.MethodPost, "/api/idp.integration.v1.ConnectorService/ListConnectors", "", "Content-Type: application/proto", bearer(h.admin))
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/proto" {
		t.Errorf("proto call: HTTP %d %s %q", r.status, r.header.Get("Content-Type"), r.body)
	}

	// Bodies that are not the request are the client's error, never internal.
	for _, body := range []string{`not json`, `{"connector":"x"}`, `[]`, `{"pageSize":"many"}`} {
		r := h.call(c, "idp.integration.v1.ConnectorService/ListConnectors", body, bearer(h.admin))
		if r.status != http.StatusBadRequest {
			t.Errorf("body %q: HTTP %d, want 400: %s", body, r.status, r.body)
		}
	}
	if r := h.do(c, http.MethodGet, "/api/"+create, "", bearer(h.admin)); r.status < 400 || r.status >= 500 {
		t.Errorf("GET of a method: HTTP %d: %s", r.status, r.body)
	}
}

// TestOtherProtocolsAndLimits: gRPC-Web reaches the same services with the
// same answers, and a request over the gRPC size limit is refused like
// gRPC refuses it (resource_exhausted) before anything decodes it.
func TestOtherProtocolsAndLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	c := h.srv.Client()
	const list = "/api/idp.integration.v1.ConnectorService/ListConnectors"
	emptyFrame := "\x00\x00\x00\x00\x00" // a gRPC-Web message frame holding an empty message

	r := h.do(c, http.MethodPost, list, emptyFrame, "Content-Type: application/grpc-web+proto")
	if r.status != http.StatusOK || r.header.Get("Grpc-Status") != "16" || !strings.Contains(r.header.Get("Grpc-Message"), "API key") {
		t.Errorf("gRPC-Web without a key: HTTP %d, grpc-status %q %q", r.status, r.header.Get("Grpc-Status"), r.header.Get("Grpc-Message"))
	}
	r = h.do(c, http.MethodPost, list, emptyFrame, "Content-Type: application/grpc-web+proto", bearer(h.admin))
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "Grpc-Status: 0") {
		t.Errorf("gRPC-Web with a key: HTTP %d %q", r.status, r.body)
	}

	big := `{"search":"` + strings.Repeat("a", rpc.MaxRecvMsgSize) + `"}`
	e := wantError(t, h.call(c, "idp.integration.v1.DiscoveryService/ListDiscovered", big, bearer(h.admin)),
		http.StatusTooManyRequests, "resource_exhausted", "")
	if !strings.Contains(e.Message, "8388608") {
		t.Errorf("message %q does not state the limit", e.Message)
	}
}
