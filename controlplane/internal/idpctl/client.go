package idpctl

import (
	"context"
	"crypto/tls"
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
	"github.com/catalog-discovery/bitbucket/shared/buildinfo"
	"github.com/catalog-discovery/bitbucket/shared/cli"
	"github.com/catalog-discovery/bitbucket/shared/tlstrust"
)

// clients are the management services, all over one connection.
type clients struct {
	connectors   integrationv1.ConnectorServiceClient
	integrations integrationv1.IntegrationServiceClient
	discovery    integrationv1.DiscoveryServiceClient
	catalog      catalogv1.CatalogServiceClient
}

// client connects on first use, so commands that fail on their flags, and
// --help, never touch the network.
func (a *app) client() (*clients, error) {
	if a.clients != nil {
		return a.clients, nil
	}
	target, useTLS, err := a.endpoint()
	if err != nil {
		return nil, err
	}
	// Every management call needs a key; without one the call could only
	// come back Unauthenticated, so say so before dialling.
	if strings.TrimSpace(a.apiKey) == "" {
		return nil, cli.Usagef("no API key given: pass --api-key KEY or set IDP_API_KEY")
	}
	transport := insecure.NewCredentials()
	if useTLS {
		// InsecureSkipVerify only with --insecure, whose help says what it costs.
		roots, err := tlstrust.Roots(a.caFile)
		if err != nil {
			return nil, cli.Usagef("--ca-file: %v", err)
		}
		transport = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, InsecureSkipVerify: a.insecure})
	} else if a.apiKey != "" && !isLoopback(hostOf(target)) {
		a.hint("Warning: sending the API key to %s without TLS (--tls=false).", target)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithUserAgent("idpctl/" + buildinfo.Get().Version),
	}
	if a.apiKey != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(a.apiKey)))
	}
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, cli.Usagef("--server %q: %v", a.server, err)
	}
	a.conn = conn
	a.clients = &clients{
		connectors:   integrationv1.NewConnectorServiceClient(conn),
		integrations: integrationv1.NewIntegrationServiceClient(conn),
		discovery:    integrationv1.NewDiscoveryServiceClient(conn),
		catalog:      catalogv1.NewCatalogServiceClient(conn),
	}
	return a.clients, nil
}

// endpoint turns --server into a gRPC target and decides on TLS: an
// explicit --tls wins, then an https:// or http:// prefix, then --ca-file
// or --insecure (both mean TLS), and last the host: plaintext on this
// machine, where a development control plane listens without TLS, and TLS
// everywhere else, where an API key must not travel in the clear.
func (a *app) endpoint() (target string, useTLS bool, err error) {
	s := strings.TrimSpace(a.server)
	scheme := ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, s = strings.ToLower(s[:i]), s[i+3:]
	}
	s = strings.TrimSuffix(s, "/")
	host, port, splitErr := net.SplitHostPort(s)
	if splitErr != nil {
		// No port: the control plane's default port.
		host, port = strings.Trim(s, "[]"), "7443"
	}
	if host == "" || strings.ContainsAny(host, "/ ") || (scheme != "" && scheme != "https" && scheme != "http") {
		return "", false, cli.Usagef("--server %q is not an address; want HOST:PORT, e.g. %s", a.server, DefaultServer)
	}
	target = net.JoinHostPort(host, port)
	wantsTLS := a.caFile != "" || a.insecure
	switch {
	case a.tlsSet:
		if !a.tls && wantsTLS {
			return "", false, cli.Usagef("--tls=false contradicts --ca-file and --insecure, which need TLS")
		}
		return target, a.tls, nil
	case scheme != "":
		return target, scheme == "https", nil
	case wantsTLS:
		return target, true, nil
	}
	return target, !isLoopback(host), nil
}

func hostOf(target string) string {
	host, _, _ := net.SplitHostPort(target)
	return host
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// bearer sends the API key with every call.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity is false so that a key can reach a control
// plane on this machine over plaintext; endpoint decides when that is.
func (bearer) RequireTransportSecurity() bool { return false }

// call makes one RPC under --request-timeout.
func call[Req, Resp any](ctx context.Context, a *app, rpc func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) (Resp, error) {
	ctx, cancel := context.WithTimeout(ctx, a.requestTimeout)
	defer cancel()
	return rpc(ctx, req)
}

// serverLabel names the control plane in messages.
func (a *app) serverLabel() string {
	if target, _, err := a.endpoint(); err == nil {
		return target
	}
	return a.server
}
