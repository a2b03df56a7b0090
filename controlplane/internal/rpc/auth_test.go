package rpc_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"
	delegatev1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
)

func TestManagementAuth(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	viewer := h.key(h.account, auth.CatalogView)
	list := func(ctx context.Context) error {
		_, err := h.integrations.ListIntegrations(ctx, &integrationv1.ListIntegrationsRequest{})
		return err
	}
	tests := []struct {
		name   string
		ctx    context.Context
		code   codes.Code
		reason string
	}{
		{"no credentials", t.Context(), codes.Unauthenticated, auth.ReasonInvalidAPIKey},
		{"unknown key", withKey(t.Context(), "idp_ak_nope"), codes.Unauthenticated, auth.ReasonInvalidAPIKey},
		{"delegate token as key", withKey(t.Context(), h.delegate), codes.Unauthenticated, auth.ReasonInvalidAPIKey},
		{"missing permission", withKey(t.Context(), viewer), codes.PermissionDenied, auth.ReasonPermissionMissing},
		{"admin", h.mgmt(), codes.OK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := list(tt.ctx)
			if tt.code == codes.OK {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			info, _ := wantStatus(t, err, tt.code, tt.reason)
			if tt.code == codes.PermissionDenied {
				if info.GetMetadata()["permission"] != "IDP_INTEGRATION_EDIT" || info.GetMetadata()["resourceType"] != "IDP_INTEGRATION" {
					t.Errorf("metadata %v", info.GetMetadata())
				}
				if !strings.Contains(err.Error(), "IDP_INTEGRATION_EDIT") {
					t.Errorf("message does not name the permission: %v", err)
				}
			}
		})
	}

	// Catalog rights are separate: view may read but not write.
	_, err := h.catalog.CreateEntity(withKey(t.Context(), viewer), &catalogv1.CreateEntityRequest{})
	info, _ := wantStatus(t, err, codes.PermissionDenied, auth.ReasonPermissionMissing)
	if info.GetMetadata()["permission"] != "IDP_CATALOG_EDIT" {
		t.Errorf("catalog write needs %v", info.GetMetadata())
	}
	_, err = h.catalog.ListEntities(withKey(t.Context(), viewer), &catalogv1.ListEntitiesRequest{})
	wantStatus(t, err, codes.Unimplemented, "")
	// Discovery is gated like every integration operation.
	_, err = h.discovery.ListDiscovered(withKey(t.Context(), viewer), &integrationv1.ListDiscoveredRequest{})
	wantStatus(t, err, codes.PermissionDenied, auth.ReasonPermissionMissing)

	// Health needs no credentials.
	hc, err := healthgrpc.NewHealthClient(h.conn).Check(t.Context(), &healthgrpc.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", hc, err)
	}
}

func TestFeatureFlagOffGatesEveryIntegrationOperation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	if err := h.db.SetFeatureFlag(t.Context(), h.account, auth.FlagAutoDiscovery, false, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"CreateConnector": func() error {
			_, err := h.connectors.CreateConnector(h.mgmt(), &integrationv1.CreateConnectorRequest{})
			return err
		},
		"ListIntegrations": func() error {
			_, err := h.integrations.ListIntegrations(h.mgmt(), &integrationv1.ListIntegrationsRequest{})
			return err
		},
		"SyncIntegration": func() error {
			_, err := h.integrations.SyncIntegration(h.mgmt(), &integrationv1.SyncIntegrationRequest{Integration: "x"})
			return err
		},
		"ListDiscovered": func() error {
			_, err := h.discovery.ListDiscovered(h.mgmt(), &integrationv1.ListDiscoveredRequest{})
			return err
		},
	}
	for name, call := range calls {
		info, _ := wantStatus(t, call(), codes.FailedPrecondition, auth.ReasonFeatureFlagDisabled)
		if info.GetMetadata()["flag"] != string(auth.FlagAutoDiscovery) {
			t.Errorf("%s: metadata %v", name, info.GetMetadata())
		}
	}
	// The catalog is not gated by the flag.
	_, err := h.catalog.ListEntities(h.mgmt(), &catalogv1.ListEntitiesRequest{})
	wantStatus(t, err, codes.Unimplemented, "")
}

func TestDelegateAuth(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	_, otherToken := h.bootstrap("globex")
	req := &delegatev1.RegisterRequest{Name: "d1"}
	for name, ctx := range map[string]context.Context{
		"no credentials":             t.Context(),
		"no account":                 as(t.Context(), "", h.delegate),
		"unknown token":              as(t.Context(), h.account, "idp_dt_nope"),
		"another account's token":    as(t.Context(), h.account, otherToken),
		"token claims wrong account": as(t.Context(), "globex", h.delegate),
		"api key as delegate token":  as(t.Context(), h.account, h.apiKey),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.delegates.Register(ctx, req)
			wantStatus(t, err, codes.Unauthenticated, auth.ReasonInvalidDelegateToken)
		})
	}
	res, err := h.delegates.Register(h.dlg(), req)
	if err != nil || res.GetAccountId() != h.account || res.GetDelegateId() == "" || res.GetRenewIntervalSeconds() != 20 {
		t.Fatalf("register: %v, %v", res, err)
	}
}

func TestLogsNeverHoldCredentials(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	id := h.register("d1")
	conn := h.createConnector("bb", "acme")
	h.createIntegration("main", conn.GetId())
	task := h.acquire(id)
	if _, err := h.delegates.RenewLease(h.dlg(), &delegatev1.RenewLeaseRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken()}); err != nil {
		t.Fatal(err)
	}
	logs := h.logs.String()
	for _, secret := range []string{h.apiKey, h.delegate} {
		if strings.Contains(logs, secret) {
			t.Fatalf("log holds a credential:\n%s", logs)
		}
	}
	if !strings.Contains(logs, `"method":"/idp.delegate.v1.DelegateService/RenewLease"`) || !strings.Contains(logs, `"task leased"`) {
		t.Fatalf("expected an RPC line and a lifecycle line:\n%s", logs)
	}
}
