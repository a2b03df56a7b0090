package metrics

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// UnaryInterceptor counts every unary call by service, method and status
// code and times it. Chained first, it sees the status the client gets,
// authentication failures included. Services and methods are those the
// server registered (grpc-go answers unknown ones before interceptors
// run), so the labels stay a fixed set.
func (m *Metrics) UnaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	service, method := splitMethod(info.FullMethod)
	m.rpcs.WithLabelValues(service, method, status.Code(err).String()).Inc()
	m.rpcDuration.WithLabelValues(service, method).Observe(time.Since(start).Seconds())
	return resp, err
}

// splitMethod splits "/pkg.Service/Method".
func splitMethod(full string) (service, method string) {
	service, method, _ = strings.Cut(strings.TrimPrefix(full, "/"), "/")
	return service, method
}

// InitRPCs creates the series of every unary method g serves, at zero, so
// that rates and ratios exist before the first call of each.
func (m *Metrics) InitRPCs(g *grpc.Server) {
	for service, info := range g.GetServiceInfo() {
		for _, method := range info.Methods {
			if method.IsClientStream || method.IsServerStream {
				continue
			}
			m.rpcs.WithLabelValues(service, method.Name, codes.OK.String())
			m.rpcDuration.WithLabelValues(service, method.Name)
		}
	}
}
