package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
)

// faultingCatalog answers GetEntity with the fault whose code number is
// the requested entity, so every code travels the real path: the rpc
// interceptor's table, then vanguard's Connect encoding.
type faultingCatalog struct {
	catalogv1.UnimplementedCatalogServiceServer
}

func (faultingCatalog) GetEntity(_ context.Context, req *catalogv1.GetEntityRequest) (*catalogv1.GetEntityResponse, error) {
	n, err := strconv.Atoi(req.GetKey().GetEntity())
	if err != nil {
		return nil, err
	}
	if fault.Code(n) == fault.Internal {
		return nil, errors.New("database password is hunter2") // not a fault: its text stays in the log
	}
	f := fault.New(fault.Code(n), "", "fault %d", n)
	if f.Code == fault.Invalid {
		f.Violations = []fault.Violation{{Field: "key.entity", Description: "must be something else"}}
	}
	return nil, f
}

// TestFaultCodesOverHTTP is the fault table as the HTTP API answers it,
// the table the README documents. Every code the fault package names
// must be in it.
func TestFaultCodesOverHTTP(t *testing.T) {
	t.Parallel()
	want := map[fault.Code]struct {
		status int
		code   string
		reason string
	}{
		fault.Internal:           {http.StatusInternalServerError, "internal", "INTERNAL"},
		fault.Invalid:            {http.StatusBadRequest, "invalid_argument", "INVALID_ARGUMENT"},
		fault.NotFound:           {http.StatusNotFound, "not_found", "NOT_FOUND"},
		fault.AlreadyExists:      {http.StatusConflict, "already_exists", "ALREADY_EXISTS"},
		fault.FailedPrecondition: {http.StatusBadRequest, "failed_precondition", "FAILED_PRECONDITION"},
		fault.PermissionDenied:   {http.StatusForbidden, "permission_denied", "PERMISSION_DENIED"},
		fault.Unauthenticated:    {http.StatusUnauthorized, "unauthenticated", "UNAUTHENTICATED"},
		fault.OutOfRange:         {http.StatusBadRequest, "out_of_range", "OUT_OF_RANGE"},
		fault.Unavailable:        {http.StatusServiceUnavailable, "unavailable", "UNAVAILABLE"},
	}
	h := newHarness(t, harnessOptions{catalog: faultingCatalog{}})
	for c := fault.Internal; c.String() != ""; c++ {
		t.Run(c.String(), func(t *testing.T) {
			w, ok := want[c]
			if !ok {
				t.Fatalf("fault code %q has no HTTP status in this table (and the README's)", c)
			}
			r := h.call(h.srv.Client(), "idp.catalog.v1.CatalogService/GetEntity",
				`{"key":{"entity":"`+strconv.Itoa(int(c))+`"}}`, bearer(h.admin))
			e := wantError(t, r, w.status, w.code, w.reason)
			if e.info.GetDomain() != "idp.catalog.v1" {
				t.Errorf("ErrorInfo domain %q", e.info.GetDomain())
			}
			if c == fault.Internal {
				if strings.Contains(e.Message, "hunter2") {
					t.Errorf("internal error text reached the client: %s", r.body)
				}
				return
			}
			if !strings.HasPrefix(e.Message, "fault "+strconv.Itoa(int(c))) {
				t.Errorf("message %q", e.Message)
			}
			if c == fault.Invalid {
				if v := e.bad.GetFieldViolations(); len(v) != 1 || v[0].GetField() != "key.entity" {
					t.Errorf("field violations %v", v)
				}
			}
		})
	}
}
