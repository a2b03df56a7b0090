package controlplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/tlstrust"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// grpcClient is the DelegateService over gRPC (HTTP/2) to --control-plane.
type grpcClient struct {
	pb.DelegateServiceClient
	conn *grpc.ClientConn
}

func (g *grpcClient) Close() error { return g.conn.Close() }

// dialGRPC creates the gRPC client; a proxy's refusal of a dial is kept in
// refused, since gRPC reports it only as text.
func dialGRPC(c DialConfig, refused *atomic.Pointer[proxy.AuthError]) (*grpcClient, error) {
	var tc credentials.TransportCredentials
	if c.Plaintext {
		tc = insecure.NewCredentials()
	} else {
		pool, err := tlstrust.Roots(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		tc = credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	}
	ka := keepalive.ClientParameters{Time: c.Keepalive, Timeout: 10 * time.Second, PermitWithoutStream: true}
	if c.Keepalive <= 0 {
		ka = keepalive.ClientParameters{} // gRPC's default: no pings
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(tc),
		grpc.WithPerRPCCredentials(bearer{token: c.Token, account: c.Account, requireTLS: !c.Plaintext}),
		// Pings keep idle proxy tunnels open and notice dead ones; the
		// control plane permits them down to its --keepalive-min-time,
		// even without a stream.
		grpc.WithKeepaliveParams(ka),
		grpc.WithUserAgent(c.UserAgent),
		// A SYNC task carries every repository's cursor: about 3.4 MB at
		// 20,000 repositories, close to grpc's 4 MiB default. 64 MiB leaves
		// room for workspaces many times that size.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxReceive)),
	}
	if c.Dial != nil {
		opts = append(opts, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			conn, err := c.Dial(ctx, addr)
			var r *proxy.AuthError
			switch {
			case errors.As(err, &r):
				refused.Store(r)
			case err == nil:
				refused.Store(nil)
			}
			return conn, err
		}))
	}
	// passthrough: the dialer gets the host name as given, so the proxy
	// resolves it (corporate networks often cannot).
	conn, err := grpc.NewClient("passthrough:///"+c.Address, opts...)
	if err != nil {
		return nil, err
	}
	return &grpcClient{DelegateServiceClient: pb.NewDelegateServiceClient(conn), conn: conn}, nil
}

type bearer struct {
	token, account string
	requireTLS     bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token, "x-account-id": b.account}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.requireTLS }
