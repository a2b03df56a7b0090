package controlplane_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/controlplane"
	"github.com/catalog-discovery/bitbucket/delegate/internal/fakecontrol"
	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
)

// TestHTTP1CarriesTheProtocol: over HTTP/1.1 the calls, their large
// answers and the errors the delegate acts on are what they are over gRPC.
func TestHTTP1CarriesTheProtocol(t *testing.T) {
	t.Parallel()
	cp := fakecontrol.New(t, fakecontrol.Options{Token: token, Account: account, HTTP: true, LeaseDuration: time.Minute})
	dial := func(tok string) *controlplane.Client {
		c, err := controlplane.Dial(controlplane.DialConfig{Mode: controlplane.ModeHTTP1, HTTPURL: cp.HTTPURL(), Account: account, Token: tok,
			Plaintext: true, UserAgent: "idp-delegate/test"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := dial(token)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A SYNC task over 4 MiB, as over gRPC.
	const n = 30000
	cursors := make([]*pb.RepositoryCursor, n)
	for i := range cursors {
		cursors[i] = &pb.RepositoryCursor{RepositoryUuid: fmt.Sprintf("{00000000-0000-4000-8000-%012d}", i), NewestCommitHash: fmt.Sprintf("%040x", i)}
	}
	id := cp.Enqueue(&pb.Task{Type: pb.TaskType_TASK_TYPE_SYNC, Sync: &pb.SyncTask{IntegrationId: "int-1", Cursors: cursors}})
	reg, err := c.Register(ctx, task.Registration{Name: "d", Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if reg.DelegateID == "" || reg.RenewInterval != time.Second {
		t.Errorf("registered %+v", reg)
	}
	got, err := c.AcquireTask(ctx, reg.DelegateID, 0)
	if err != nil || got == nil || len(got.Sync.Cursors) != n {
		t.Fatalf("acquired %v, %v; want the SYNC task with %d cursors", got, err, n)
	}
	// An empty poll answers nil after the hold.
	if none, err := c.AcquireTask(ctx, reg.DelegateID, 0); none != nil || err != nil {
		t.Errorf("empty poll: %v, %v", none, err)
	}
	if _, err := c.RenewLease(ctx, got.ID, got.LeaseToken, task.Progress{}, []byte("cp")); err != nil {
		t.Fatal(err)
	}
	// Semantic errors come from the ErrorInfo reasons, as over gRPC.
	if _, err := c.RenewLease(ctx, got.ID, "another-lease", task.Progress{}, nil); !errors.Is(err, controlplane.ErrLeaseLost) {
		t.Errorf("renewing with a stale lease: %v, want ErrLeaseLost", err)
	}
	if _, err := c.AcquireTask(ctx, "delegate-unknown", 0); !errors.Is(err, controlplane.ErrNotRegistered) {
		t.Errorf("polling as an unknown delegate: %v, want ErrNotRegistered", err)
	}
	if _, err := dial("wrong-token").Register(ctx, task.Registration{Name: "d", Concurrency: 1}); !errors.Is(err, controlplane.ErrRejected) {
		t.Errorf("a wrong token: %v, want ErrRejected", err)
	}
	cp.FailNext("RenewLease", codes.Unavailable)
	if _, err := c.RenewLease(ctx, got.ID, got.LeaseToken, task.Progress{}, nil); !controlplane.Transient(err) {
		t.Errorf("an unavailable control plane: %v, want a transient error", err)
	}
	if err := c.CompleteTask(ctx, task.Completion{TaskID: got.ID, LeaseToken: got.LeaseToken, Outcome: task.OutcomeSucceeded}); err != nil {
		t.Fatal(err)
	}
	if done := cp.Task(id); !done.Done {
		t.Errorf("task not done: %+v", done)
	}
}

// TestHTTP1AnswersFromSomethingElse: an error page of a proxy or a wrong
// address is a transient failure naming the status and who answered,
// never the control plane refusing the delegate.
func TestHTTP1AnswersFromSomethingElse(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") == "application/proto" && strings.HasSuffix(r.URL.Path, "/Register") {
			http.Error(w, "Access Denied by policy", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Server", "squid/5.7")
		w.WriteHeader(http.StatusGatewayTimeout)
		_, _ = w.Write([]byte("<html><head><title>ERROR: The requested URL\n could not be retrieved</title></head><body>long</body></html>"))
	}))
	defer srv.Close()
	c, err := controlplane.Dial(controlplane.DialConfig{Mode: controlplane.ModeHTTP1, HTTPURL: srv.URL, Account: account, Token: token, Plaintext: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Register(context.Background(), task.Registration{Name: "d", Concurrency: 1})
	if errors.Is(err, controlplane.ErrRejected) || !controlplane.Transient(err) ||
		!strings.Contains(err.Error(), "HTTP 403 Forbidden for "+strings.TrimPrefix(srv.URL, "http://")+" is not the control plane's answer (text/plain \"Access Denied by policy\")") {
		t.Errorf("got %v (transient %v)", err, controlplane.Transient(err))
	}
	_, err = c.AcquireTask(context.Background(), "d", 0)
	if !controlplane.Transient(err) || !strings.Contains(err.Error(),
		`HTTP 504 Gateway Timeout for `+strings.TrimPrefix(srv.URL, "http://")+` by "squid/5.7" is not the control plane's answer (text/html "ERROR: The requested URL could not be retrieved")`) {
		t.Errorf("got %v (transient %v)", err, controlplane.Transient(err))
	}
}

// TestHTTP1ProxyRefusal: a 407 on the HTTP/1.1 transport is the same
// refusal as on gRPC, found with errors.As, transient, and the proxy is
// not asked again at once.
func TestHTTP1ProxyRefusal(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var asked atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			asked.Add(1)
			go func() {
				defer conn.Close()
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
					_, _ = conn.Write([]byte("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\n\r\n"))
				}
			}()
		}
	}()
	px, err := proxy.FromEnv(func(k string) string {
		if k == "HTTPS_PROXY" {
			return "http://svc:wr0ng@" + ln.Addr().String()
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := controlplane.Dial(controlplane.DialConfig{Mode: controlplane.ModeHTTP1, HTTPURL: "https://cp.example.test:7480",
		Account: account, Token: token, Dial: px.DialContext})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = c.Register(ctx, task.Registration{Name: "d", Concurrency: 1})
		cancel()
		var refused *proxy.AuthError
		if !errors.As(err, &refused) || !controlplane.Transient(err) || !strings.HasPrefix(err.Error(),
			"proxy http://svc:[REDACTED]@"+ln.Addr().String()+" refused the delegate's credentials for cp.example.test:7480: 407 Proxy Authentication Required") {
			t.Fatalf("got %v (transient %v), want the proxy's refusal", err, controlplane.Transient(err))
		}
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the proxy was asked %d times, want once", n)
	}
}

// TestAutoFallsBackOnceWhenHTTP2CannotPass: the gRPC address answers TLS
// without HTTP/2 (as a TLS-inspecting proxy does); auto makes the call
// again over HTTP/1.1, says why once, and stays there.
func TestAutoFallsBackOnceWhenHTTP2CannotPass(t *testing.T) {
	t.Parallel()
	cert, certPEM, err := bitbucketmock.SelfSignedCert("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}}
	cp := fakecontrol.New(t, fakecontrol.Options{Token: token, Account: account, HTTP: true, TLS: tlsConf})
	// Where gRPC goes, a TLS server that agrees to no application
	// protocol, as squid's TLS inspection does.
	var grpcTries atomic.Int64
	h1, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer h1.Close()
	go func() {
		for {
			conn, err := h1.Accept()
			if err != nil {
				return
			}
			grpcTries.Add(1)
			_ = conn.(*tls.Conn).Handshake()
			conn.Close()
		}
	}()

	var logs syncBuffer
	c, err := controlplane.Dial(controlplane.DialConfig{Mode: controlplane.ModeAuto, Address: h1.Addr().String(), HTTPURL: cp.HTTPURL(),
		Account: account, Token: token, CAFile: caFile, Log: zerolog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg, err := c.Register(ctx, task.Registration{Name: "d", Concurrency: 1})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	for range 3 {
		if _, err := c.AcquireTask(ctx, reg.DelegateID, 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := cp.Calls("Register") + cp.Calls("AcquireTask"); n != 4 {
		t.Errorf("the control plane answered %d calls, want 4", n)
	}
	if n := grpcTries.Load(); n != 1 {
		t.Errorf("gRPC connected %d times, want once before falling back", n)
	}
	out := logs.String()
	if n := strings.Count(out, "using HTTP/1.1 (Connect)"); n != 1 {
		t.Errorf("%d fallback messages, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "does not speak HTTP/2: it answered the TLS handshake for the control plane without agreeing to HTTP/2") ||
		!strings.Contains(out, cp.HTTPURL()) {
		t.Errorf("the fallback message does not say why and where to:\n%s", out)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
