package rpc

import (
	"cmp"
	"context"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"
	delegatev1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/discoverysvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integrationsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/metrics"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
)

// Deps are what the gRPC services are built from.
type Deps struct {
	Store  store.Store
	Auth   *auth.Authenticator
	Tasks  *dispatch.Service
	Manage *integrationsvc.Service
	Log    zerolog.Logger
	// KeepaliveMinTime is the shortest interval between client pings
	// permitted; zero means DefaultKeepaliveMinTime.
	KeepaliveMinTime time.Duration
	// Discovery and Catalog are served when set; until then they answer
	// Unimplemented (after authentication).
	Discovery integrationv1.DiscoveryServiceServer
	Catalog   catalogv1.CatalogServiceServer
	// Previewer, when set, previews what an integration update would do
	// to the Discovered list (UpdateIntegration with validate_only).
	Previewer Previewer
	// Metrics, when set, counts and times every call.
	Metrics *metrics.Metrics
}

// Previewer previews a configuration change (discoverysvc.Service).
type Previewer interface {
	Preview(ctx context.Context, before, after integration.Integration) (discoverysvc.Preview, error)
}

// Server holds the state shared by the services.
type Server struct {
	Deps
	auth   *auth.Authenticator
	log    zerolog.Logger
	rules  *requestRules
	codec  *requestCodec
	Health *health.Server
}

// DefaultKeepaliveMinTime is the default keepalive enforcement, matched to
// the delegate, which pings every 30 s by default (its --keepalive) to keep
// proxies from dropping idle connections: pings up to every 20 s are
// allowed, also between calls. A client that pings more often gets a GOAWAY
// with ENHANCE_YOUR_CALM and its connection closed, so delegates pinging
// more often than this need a lower --keepalive-min-time here first;
// Register tells delegates the value so that they can refuse to start with
// a setting that would be cut.
const DefaultKeepaliveMinTime = 20 * time.Second

func (s *Server) keepaliveMinTime() time.Duration {
	return cmp.Or(s.KeepaliveMinTime, DefaultKeepaliveMinTime)
}

// MaxRecvMsgSize bounds one request: a record batch is kept under 4 MiB by
// delegates; the margin covers encoding overhead. Sending keeps grpc's
// default (no practical limit): a SYNC task carries every repository
// cursor, several MiB for a large workspace, and the delegate raises its
// receive limit to match.
const MaxRecvMsgSize = 8 << 20

// ManagementServices are the services people call with an API key
// (idpctl, curl, the console). The DelegateService is for delegates only.
var ManagementServices = []string{
	integrationv1.ConnectorService_ServiceDesc.ServiceName,
	integrationv1.IntegrationService_ServiceDesc.ServiceName,
	integrationv1.DiscoveryService_ServiceDesc.ServiceName,
	catalogv1.CatalogService_ServiceDesc.ServiceName,
}

// NewServer builds the gRPC server with every service, health and
// reflection registered. Extra options (TLS credentials) are appended.
func NewServer(d Deps, opts ...grpc.ServerOption) (*grpc.Server, *Server) {
	rules, err := newRequestRules()
	if err != nil {
		// The rules are compiled into the binary: failing here is a build
		// defect, never a runtime condition.
		panic(err)
	}
	s := &Server{Deps: d, auth: d.Auth, log: d.Log, rules: rules, codec: newRequestCodec(), Health: health.NewServer()}
	// Metrics come first so that they count every call, refused ones too;
	// s.unary then authenticates and checks the request's declared rules.
	var unary []grpc.UnaryServerInterceptor
	if d.Metrics != nil {
		unary = append(unary, d.Metrics.UnaryInterceptor)
	}
	base := []grpc.ServerOption{
		grpc.ForceServerCodecV2(s.codec),
		grpc.ChainUnaryInterceptor(append(unary, s.unary)...),
		grpc.ChainStreamInterceptor(s.stream),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: s.keepaliveMinTime(), PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 2 * time.Minute, Timeout: 20 * time.Second}),
		grpc.MaxRecvMsgSize(MaxRecvMsgSize),
	}
	g := grpc.NewServer(append(base, opts...)...)
	delegatev1.RegisterDelegateServiceServer(g, &delegateServer{s: s})
	integrationv1.RegisterConnectorServiceServer(g, &connectorServer{s: s})
	integrationv1.RegisterIntegrationServiceServer(g, &integrationServer{s: s})
	discovery := d.Discovery
	if discovery == nil {
		discovery = integrationv1.UnimplementedDiscoveryServiceServer{}
	}
	integrationv1.RegisterDiscoveryServiceServer(g, discovery)
	catalog := d.Catalog
	if catalog == nil {
		catalog = catalogv1.UnimplementedCatalogServiceServer{}
	}
	catalogv1.RegisterCatalogServiceServer(g, catalog)
	healthgrpc.RegisterHealthServer(g, s.Health)
	reflection.Register(g)
	if d.Metrics != nil {
		d.Metrics.InitRPCs(g)
	}
	return g, s
}
