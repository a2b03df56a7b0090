package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	delegatev1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/metrics"
)

// delegateToken creates a delegate token of account acme.
func (h *harness) delegateToken() string {
	h.t.Helper()
	tok := auth.NewToken(auth.DelegateTokenPrefix)
	if err := h.db.CreateDelegateToken(context.Background(), auth.DelegateToken{ID: ids.New("dtk"), AccountID: "acme", Name: "d",
		Hash: auth.Hash(tok), CreatedAt: h.clock.Now()}); err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// TestDelegateServiceOverHTTPMatchesGRPC calls every DelegateService
// method under /delegate/ over Connect (binary, as the delegate does) and
// over gRPC with the same credentials and the same empty request, and
// requires the same outcome: the gRPC server's authentication, request
// rules and faults apply to both. Each call is counted by the RPC metrics
// and logged once, whichever way it came.
func TestDelegateServiceOverHTTPMatchesGRPC(t *testing.T) {
	t.Parallel()
	var logs lockedLog
	h := newHarness(t, harnessOptions{metrics: true, log: &logs})
	token := h.delegateToken()
	creds := []struct {
		name, token, account string
		want                 codes.Code // of every method; OK: parity only
	}{
		{"no token", "", "", codes.Unauthenticated},
		{"unknown token", auth.DelegateTokenPrefix + "unknown", "acme", codes.Unauthenticated},
		{"another account", token, "other", codes.Unauthenticated},
		{"valid token", token, "acme", codes.OK},
	}
	desc, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(delegatev1.DelegateService_ServiceDesc.ServiceName))
	if err != nil {
		t.Fatal(err)
	}
	sd := desc.(protoreflect.ServiceDescriptor)
	for i := range sd.Methods().Len() {
		md := sd.Methods().Get(i)
		full := delegatev1.DelegateService_ServiceDesc.ServiceName + "/" + string(md.Name())
		for _, c := range creds {
			t.Run(full+"/"+c.name, func(t *testing.T) {
				headers := []string{"Content-Type: application/proto", "Connect-Protocol-Version: 1"}
				ctx := t.Context()
				if c.token != "" {
					headers = append(headers, bearer(c.token), "X-Account-Id: "+c.account)
					ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token, "x-account-id", c.account)
				}
				httpRes := h.do(h.srv.Client(), http.MethodPost, "/delegate/"+full, "", headers...)
				grpcErr := h.conn.Invoke(ctx, "/"+full, dynamicpb.NewMessage(md.Input()), dynamicpb.NewMessage(md.Output()))
				st := status.Convert(grpcErr)
				if st.Code() == codes.OK {
					t.Fatalf("an empty %s was accepted over gRPC", md.Name())
				}
				if c.want != codes.OK && st.Code() != c.want {
					t.Errorf("gRPC: %v, want %v", grpcErr, c.want)
				}
				if c.want == codes.OK && st.Code() != codes.InvalidArgument {
					t.Errorf("gRPC: %v, want the request rules to refuse an empty request", grpcErr)
				}
				e := wantError(t, httpRes, httpStatus(st.Code()), connectCodes[st.Code()], reasonOf(st))
				if e.Message != st.Message() {
					t.Errorf("HTTP message %q, gRPC message %q", e.Message, st.Message())
				}
				if st.Code() == codes.InvalidArgument {
					if v := e.bad.GetFieldViolations(); len(v) == 0 {
						t.Errorf("HTTP: no field violations in %s", httpRes.body)
					}
				}
			})
		}
	}
	// Two calls per method and credentials, one each way, all counted.
	for i := range sd.Methods().Len() {
		name := string(sd.Methods().Get(i).Name())
		for _, code := range []codes.Code{codes.Unauthenticated, codes.InvalidArgument} {
			want := 2.0 * 3
			if code == codes.InvalidArgument {
				want = 2
			}
			got := rpcCount(t, h, delegatev1.DelegateService_ServiceDesc.ServiceName, name, code.String())
			if got != want {
				t.Errorf("%s %s: %v calls counted, want %v", name, code, got, want)
			}
		}
		if n := strings.Count(logs.String(), `"method":"/idp.delegate.v1.DelegateService/`+name+`","code":"InvalidArgument"`); n != 2 {
			t.Errorf("%s: %d log lines of the refused request, want 2 (one per transport):\n%s", name, n, logs.String())
		}
	}
}

// TestDelegateLongPollOutlastsReadTimeout: a poll over HTTP/1.1 is held
// for its full hold even when that is longer than the server's
// ReadTimeout (serve sets one minute; the poll hold may be five).
func TestDelegateLongPollOutlastsReadTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	token := h.delegateToken()
	const readTimeout = 300 * time.Millisecond
	srv := httptest.NewUnstartedServer(h.handler)
	srv.Config.ReadTimeout = readTimeout
	srv.Start()
	defer srv.Close()

	withToken := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			req.Header().Set("X-Account-Id", "acme")
			return next(ctx, req)
		}
	}))
	base := srv.URL + "/delegate"
	register := connect.NewClient[delegatev1.RegisterRequest, delegatev1.RegisterResponse](srv.Client(),
		base+delegatev1.DelegateService_Register_FullMethodName, withToken)
	acquire := connect.NewClient[delegatev1.AcquireTaskRequest, delegatev1.AcquireTaskResponse](srv.Client(),
		base+delegatev1.DelegateService_AcquireTask_FullMethodName, withToken)
	reg, err := register.CallUnary(t.Context(), connect.NewRequest(&delegatev1.RegisterRequest{Name: "d", Concurrency: 1, Version: "1", Hostname: "h"}))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var pollErr error
	var task *delegatev1.Task
	wg.Go(func() {
		res, err := acquire.CallUnary(t.Context(), connect.NewRequest(&delegatev1.AcquireTaskRequest{DelegateId: reg.Msg.GetDelegateId(), PollHoldSeconds: 5}))
		pollErr = err
		if err == nil {
			task = res.Msg.GetTask()
		}
	})
	// Past the read timeout on the wall clock, then past the hold on the
	// control plane's clock.
	time.Sleep(4 * readTimeout)
	h.clock.Advance(6 * time.Second)
	wg.Wait()
	if pollErr != nil || task != nil {
		t.Fatalf("the held poll ended with %v, task %v; want an empty answer after the hold", pollErr, task)
	}
}

// TestDelegateRequestSizeLimit: a body over the limit is refused before
// it is read whole, as gRPC refuses it.
func TestDelegateRequestSizeLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	big := bytes.Repeat([]byte("a"), 9<<20)
	r := h.do(h.srv.Client(), http.MethodPost, "/delegate/idp.delegate.v1.DelegateService/UploadRecords", string(big),
		"Content-Type: application/proto", bearer(h.delegateToken()), "X-Account-Id: acme")
	wantError(t, r, http.StatusTooManyRequests, "resource_exhausted", "")
}

// rpcCount reads the RPC counter of one service, method and code.
func rpcCount(t *testing.T, h *harness, service, method, code string) float64 {
	t.Helper()
	families, err := h.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != metrics.Namespace+"_rpc_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["service"] == service && labels["method"] == method && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// BenchmarkDelegateCall times one DelegateService call (Register: a
// delegate registering again, one database write) over gRPC and over
// HTTP/1.1 with the Connect protocol through the /delegate/ mount, on
// loopback with connections reused: what the HTTP/1.1 transport costs
// per call.
func BenchmarkDelegateCall(b *testing.B) {
	h := newHarness(b, harnessOptions{})
	token := h.delegateToken()
	req := &delegatev1.RegisterRequest{Name: "bench", Concurrency: 1, Version: "1", Hostname: "h"}
	b.Run("transport=grpc", func(b *testing.B) {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token, "x-account-id", "acme")
		c := delegatev1.NewDelegateServiceClient(h.conn)
		for b.Loop() {
			if _, err := c.Register(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("transport=http1", func(b *testing.B) {
		c := connect.NewClient[delegatev1.RegisterRequest, delegatev1.RegisterResponse](h.srv.Client(),
			h.srv.URL+"/delegate"+delegatev1.DelegateService_Register_FullMethodName)
		for b.Loop() {
			r := connect.NewRequest(req)
			r.Header().Set("Authorization", "Bearer "+token)
			r.Header().Set("X-Account-Id", "acme")
			if _, err := c.CallUnary(context.Background(), r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
