package controlplane

import (
	"context"
	"sync"
	"sync/atomic"

	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
)

// autoClient makes calls over gRPC until one fails in a way that shows
// HTTP/2 cannot reach the control plane (Next), then makes that call
// again, and every later one, over HTTP/1.1. It says so once.
type autoClient struct {
	grpc  *grpcClient
	http1 *connectClient
	mode  Mode
	via   string
	url   string
	log   zerolog.Logger

	fellBack atomic.Bool
	once     sync.Once
}

var _ pb.DelegateServiceClient = (*autoClient)(nil)

type method[Req, Res any] func(context.Context, *Req, ...grpc.CallOption) (*Res, error)

func call[Req, Res any](a *autoClient, ctx context.Context, req *Req, overGRPC, overHTTP method[Req, Res]) (*Res, error) {
	if a.fellBack.Load() {
		return overHTTP(ctx, req)
	}
	res, err := overGRPC(ctx, req)
	if err == nil {
		return res, nil
	}
	if Next(a.mode, true, GRPC, err) == HTTP1 {
		a.fallBack(err)
	}
	// A call that failed while another one moved to HTTP/1.1 failed on a
	// connection that never carried a call either: make it again there.
	if a.fellBack.Load() {
		return overHTTP(ctx, req)
	}
	return nil, err
}

// fallBack moves to HTTP/1.1 for good, logs why once, and closes the gRPC
// connection so that its reconnects stop dialling through the proxy.
func (a *autoClient) fallBack(err error) {
	a.once.Do(func() {
		a.fellBack.Store(true)
		a.log.Info().Str("reason", Blocked(err, a.via)).Str("grpc_error", err.Error()).Str("transport", string(HTTP1)).
			Str("control_plane_http", a.url).
			Msg("gRPC cannot reach the control plane: " + Blocked(err, a.via) + "; using HTTP/1.1 (Connect) to " + a.url + " from now on")
		_ = a.grpc.Close()
	})
}

func (a *autoClient) Close() error {
	if !a.fellBack.Load() {
		_ = a.grpc.Close()
	}
	return a.http1.Close()
}

func (a *autoClient) Register(ctx context.Context, req *pb.RegisterRequest, _ ...grpc.CallOption) (*pb.RegisterResponse, error) {
	return call(a, ctx, req, a.grpc.Register, a.http1.Register)
}

func (a *autoClient) AcquireTask(ctx context.Context, req *pb.AcquireTaskRequest, _ ...grpc.CallOption) (*pb.AcquireTaskResponse, error) {
	return call(a, ctx, req, a.grpc.AcquireTask, a.http1.AcquireTask)
}

func (a *autoClient) RenewLease(ctx context.Context, req *pb.RenewLeaseRequest, _ ...grpc.CallOption) (*pb.RenewLeaseResponse, error) {
	return call(a, ctx, req, a.grpc.RenewLease, a.http1.RenewLease)
}

func (a *autoClient) UploadRecords(ctx context.Context, req *pb.UploadRecordsRequest, _ ...grpc.CallOption) (*pb.UploadRecordsResponse, error) {
	return call(a, ctx, req, a.grpc.UploadRecords, a.http1.UploadRecords)
}

func (a *autoClient) CompleteTask(ctx context.Context, req *pb.CompleteTaskRequest, _ ...grpc.CallOption) (*pb.CompleteTaskResponse, error) {
	return call(a, ctx, req, a.grpc.CompleteTask, a.http1.CompleteTask)
}
