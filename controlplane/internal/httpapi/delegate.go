package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"

	delegatev1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/rpc"
)

// delegatePrefix is where the DelegateService is served on the HTTP face,
// for delegates whose path to the control plane does not pass HTTP/2
// (TLS-inspecting proxies that speak only HTTP/1.1): their
// --control-plane-http names this face and they add the prefix, e.g.
// POST /delegate/idp.delegate.v1.DelegateService/AcquireTask. It is a
// mount of its own, apart from /api/, so that an ingress can expose one
// without the other, and no console session ever reaches it.
const delegatePrefix = "/delegate/"

// maxDelegateAnswer bounds one answer to a delegate held in memory by the
// transcoder: a SYNC task carries every repository's cursor, several MiB
// for a large workspace, and delegates accept up to 64 MiB (the delegate's
// controlplane.MaxReceive), as over gRPC.
const maxDelegateAnswer = 64 << 20

// maxDelegateRequest bounds the body read before the call is transcoded;
// the gRPC server then applies its exact limit (rpc.MaxRecvMsgSize) to the
// message, as for a gRPC call. The slack covers framing.
const maxDelegateRequest = rpc.MaxRecvMsgSize + 64<<10

// delegateAPI serves the DelegateService over Connect and gRPC-Web
// (and gRPC) into the gRPC server: the delegate's token, the request
// rules, metrics and logs are those of a gRPC call.
type delegateAPI struct {
	transcoder http.Handler
}

func newDelegateAPI(g *grpc.Server, log zerolog.Logger) (*delegateAPI, error) {
	t, err := newTranscoder(g, []string{delegatev1.DelegateService_ServiceDesc.ServiceName}, maxDelegateAnswer, delegatePrefix, log)
	if err != nil {
		return nil, err
	}
	return &delegateAPI{transcoder: t}, nil
}

// ServeHTTP reads the request whole, within the limit, before the
// transcoder sees it: the transcoder may hold a message of up to
// maxDelegateAnswer, and a caller need not be authenticated to send one.
func (d *delegateAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDelegateRequest))
	if err != nil {
		code, msg := connect.CodeInvalidArgument, fmt.Errorf("reading the request: %w", err)
		if errors.As(err, new(*http.MaxBytesError)) {
			code, msg = connect.CodeResourceExhausted, fmt.Errorf("request larger than %d bytes", maxDelegateRequest)
		}
		_ = errorWriter.Write(w, r, connect.NewError(code, msg))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	// Delegates present their token; a browser's cookies mean nothing here.
	r.Header.Del("Cookie")
	connectUnary(r)
	d.transcoder.ServeHTTP(w, r)
}
