package fakecontrol

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// httpPath is where the control plane's HTTP face serves the
// DelegateService.
const httpPath = "/delegate"

// startHTTP serves the same service over HTTP/1.1 with the Connect
// protocol, as the control plane's HTTP face does: headers become the
// call's metadata and gRPC statuses become Connect errors with their
// details.
func (s *Server) startHTTP() error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	svc := &service{s: s}
	mux := http.NewServeMux()
	handle(mux, pb.DelegateService_Register_FullMethodName, svc.Register)
	handle(mux, pb.DelegateService_AcquireTask_FullMethodName, svc.AcquireTask)
	handle(mux, pb.DelegateService_RenewLease_FullMethodName, svc.RenewLease)
	handle(mux, pb.DelegateService_UploadRecords_FullMethodName, svc.UploadRecords)
	handle(mux, pb.DelegateService_CompleteTask_FullMethodName, svc.CompleteTask)
	srv := &http.Server{Handler: mux}
	scheme := "http"
	if s.opts.TLS != nil {
		cfg := s.opts.TLS.Clone()
		cfg.NextProtos = []string{"http/1.1"}
		srv.TLSConfig = cfg
		scheme = "https"
	}
	s.mu.Lock()
	s.httpSrv, s.httpURL = srv, scheme+"://"+lis.Addr().String()
	s.mu.Unlock()
	go func() {
		if s.opts.TLS != nil {
			_ = srv.ServeTLS(lis, "", "")
			return
		}
		_ = srv.Serve(lis)
	}()
	return nil
}

// HTTPURL is the base URL of the HTTP/1.1 face (Options.HTTP), for
// --control-plane-http.
func (s *Server) HTTPURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.httpURL
}

func handle[Req, Res any](mux *http.ServeMux, procedure string, fn func(context.Context, *Req) (*Res, error)) {
	mux.Handle(httpPath+procedure, connect.NewUnaryHandler(procedure, func(ctx context.Context, r *connect.Request[Req]) (*connect.Response[Res], error) {
		md := metadata.MD{}
		for k, v := range r.Header() {
			md[strings.ToLower(k)] = v
		}
		res, err := fn(metadata.NewIncomingContext(ctx, md), r.Msg)
		if err != nil {
			return nil, connectError(err)
		}
		return connect.NewResponse(res), nil
	}))
}

func connectError(err error) error {
	st := status.Convert(err)
	ce := connect.NewError(connect.Code(st.Code()), errors.New(st.Message()))
	for _, d := range st.Proto().GetDetails() {
		if detail, err := connect.NewErrorDetail(d); err == nil {
			ce.AddDetail(detail)
		}
	}
	return ce
}
