package controlplane

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/tlstrust"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

// connectClient is the DelegateService over HTTP/1.1 with the Connect
// protocol: one POST of a binary protobuf per call, answered by a plain
// body or a JSON error. It passes any proxy that passes HTTPS, including
// TLS-inspecting ones that speak only HTTP/1.1, which gRPC cannot. It
// answers in gRPC statuses so that one translation serves both transports.
type connectClient struct {
	transport *http.Transport

	register *connect.Client[pb.RegisterRequest, pb.RegisterResponse]
	acquire  *connect.Client[pb.AcquireTaskRequest, pb.AcquireTaskResponse]
	renew    *connect.Client[pb.RenewLeaseRequest, pb.RenewLeaseResponse]
	upload   *connect.Client[pb.UploadRecordsRequest, pb.UploadRecordsResponse]
	complete *connect.Client[pb.CompleteTaskRequest, pb.CompleteTaskResponse]
}

var _ pb.DelegateServiceClient = (*connectClient)(nil)

func newConnect(c DialConfig) (*connectClient, error) {
	base, err := url.Parse(c.HTTPURL)
	if err != nil {
		return nil, fmt.Errorf("control plane HTTP URL: %w", err)
	}
	tr := &http.Transport{
		// The proxy decision is the dialer's (proxy.Config.DialContext),
		// as for gRPC: the same NO_PROXY, the same CONNECT tunnel, the
		// same hold-back after a 407.
		Proxy: nil,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			if c.Dial != nil {
				return c.Dial(ctx, addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
		// HTTP/1.1 only, whatever the server offers: this transport exists
		// for the paths where HTTP/2 does not pass.
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		TLSHandshakeTimeout: 15 * time.Second,
		MaxIdleConnsPerHost: 16,
		// Idle connections are dropped before a proxy's usual idle timeout
		// would cut them under a call.
		IdleConnTimeout: 10 * time.Second,
	}
	if base.Scheme == "https" {
		pool, err := tlstrust.Roots(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	}
	hc := &http.Client{Transport: foreignAnswers{tr}}
	root := strings.TrimSuffix(base.String(), "/") + DelegatePath
	headers := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			h := req.Header()
			h.Set("Authorization", "Bearer "+c.Token)
			h.Set("X-Account-Id", c.Account)
			h.Set("User-Agent", c.UserAgent)
			return next(ctx, req)
		}
	})
	opts := []connect.ClientOption{connect.WithInterceptors(headers), connect.WithReadMaxBytes(MaxReceive)}
	return &connectClient{
		transport: tr,
		register:  connect.NewClient[pb.RegisterRequest, pb.RegisterResponse](hc, root+pb.DelegateService_Register_FullMethodName, opts...),
		acquire:   connect.NewClient[pb.AcquireTaskRequest, pb.AcquireTaskResponse](hc, root+pb.DelegateService_AcquireTask_FullMethodName, opts...),
		renew:     connect.NewClient[pb.RenewLeaseRequest, pb.RenewLeaseResponse](hc, root+pb.DelegateService_RenewLease_FullMethodName, opts...),
		upload:    connect.NewClient[pb.UploadRecordsRequest, pb.UploadRecordsResponse](hc, root+pb.DelegateService_UploadRecords_FullMethodName, opts...),
		complete:  connect.NewClient[pb.CompleteTaskRequest, pb.CompleteTaskResponse](hc, root+pb.DelegateService_CompleteTask_FullMethodName, opts...),
	}, nil
}

func (c *connectClient) Close() error {
	c.transport.CloseIdleConnections()
	return nil
}

// unary makes one call and returns its answer, or its failure as a gRPC
// status.
func unary[Req, Res any](ctx context.Context, c *connect.Client[Req, Res], req *Req) (*Res, error) {
	res, err := c.CallUnary(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, statusOf(err)
	}
	return res.Msg, nil
}

func (c *connectClient) Register(ctx context.Context, req *pb.RegisterRequest, _ ...grpc.CallOption) (*pb.RegisterResponse, error) {
	return unary(ctx, c.register, req)
}

func (c *connectClient) AcquireTask(ctx context.Context, req *pb.AcquireTaskRequest, _ ...grpc.CallOption) (*pb.AcquireTaskResponse, error) {
	return unary(ctx, c.acquire, req)
}

func (c *connectClient) RenewLease(ctx context.Context, req *pb.RenewLeaseRequest, _ ...grpc.CallOption) (*pb.RenewLeaseResponse, error) {
	return unary(ctx, c.renew, req)
}

func (c *connectClient) UploadRecords(ctx context.Context, req *pb.UploadRecordsRequest, _ ...grpc.CallOption) (*pb.UploadRecordsResponse, error) {
	return unary(ctx, c.upload, req)
}

func (c *connectClient) CompleteTask(ctx context.Context, req *pb.CompleteTaskRequest, _ ...grpc.CallOption) (*pb.CompleteTaskResponse, error) {
	return unary(ctx, c.complete, req)
}

// statusOf turns a Connect error into the gRPC status the control plane
// would have sent over gRPC: the same code, message and details (the
// ErrorInfo reasons the delegate acts on). A proxy's refusal of the
// credentials stays findable with errors.As, as over gRPC.
func statusOf(err error) error {
	var refused *proxy.AuthError
	if errors.As(err, &refused) {
		return &proxyRefusedError{refusal: refused, status: status.Error(codes.Unavailable, refused.Error())}
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return status.Error(codes.Unknown, err.Error())
	}
	s := &spb.Status{Code: int32(ce.Code()), Message: ce.Message()}
	for _, d := range ce.Details() {
		s.Details = append(s.Details, &anypb.Any{TypeUrl: "type.googleapis.com/" + d.Type(), Value: d.Bytes()})
	}
	return status.ErrorProto(s)
}

// foreignAnswers fails a call whose error answer did not come from the
// control plane: a proxy's or load balancer's own page rather than a
// Connect error (JSON). Connect would read a meaning into its HTTP status
// (a proxy's 403 is not the control plane refusing the delegate, which
// would stop it); as a transport failure it is retried, and the message
// says who answered.
type foreignAnswers struct{ next http.RoundTripper }

func (f foreignAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := f.next.RoundTrip(r)
	if err != nil || res.StatusCode == http.StatusOK {
		return res, err
	}
	ct := res.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if mt == "application/json" {
		return res, nil
	}
	head, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	res.Body.Close()
	what := strings.TrimSpace(string(head))
	if mt == "text/html" {
		what = htmlTitle(what)
	}
	if len(what) > 200 {
		what = what[:200] + "…"
	}
	by := ""
	if server := res.Header.Get("Server"); server != "" {
		by = fmt.Sprintf(" by %q", server)
	}
	return nil, fmt.Errorf("HTTP %s for %s%s is not the control plane's answer (%s %q): a proxy or load balancer answered, or --control-plane-http does not name the control plane's HTTP address",
		res.Status, r.URL.Host, by, cmp.Or(mt, "no Content-Type"), what)
}

var titleTag = regexp.MustCompile(`(?is)<title>(.*?)</title>`)

// htmlTitle is the title of an HTML error page, what a person would read
// first.
func htmlTitle(page string) string {
	if m := titleTag.FindStringSubmatch(page); m != nil {
		return strings.Join(strings.Fields(m[1]), " ")
	}
	return ""
}
