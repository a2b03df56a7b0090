package controlplane_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/controlplane"
	"github.com/catalog-discovery/bitbucket/delegate/internal/fakecontrol"
	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const (
	token   = "dlg-test-token"
	account = "acct-1"
)

func TestSyncTaskWithTensOfThousandsOfCursorsIsReceived(t *testing.T) {
	t.Parallel()
	cp := fakecontrol.New(t, fakecontrol.Options{Token: token, Account: account})
	at := timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	const n = 30000
	cursors := make([]*pb.RepositoryCursor, n)
	for i := range cursors {
		cursors[i] = &pb.RepositoryCursor{
			RepositoryUuid:            fmt.Sprintf("{00000000-0000-4000-8000-%012d}", i),
			CommitsCheckedAtUpdatedOn: at, NewestCommitHash: fmt.Sprintf("%040x", i), OldestCommitHash: fmt.Sprintf("%040x", i+n),
			NewestPullRequestUpdatedOn: at, OldestPullRequestUpdatedOn: at,
		}
	}
	tk := &pb.Task{Type: pb.TaskType_TASK_TYPE_SYNC, Sync: &pb.SyncTask{IntegrationId: "int-1", Cursors: cursors}}
	if size := proto.Size(tk); size <= 4<<20 {
		t.Fatalf("task is %d bytes; the test needs one over grpc's 4 MiB default", size)
	}
	cp.Enqueue(tk)

	c, err := controlplane.Dial(controlplane.DialConfig{Address: cp.Addr(), Account: account, Token: token, Plaintext: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg, err := c.Register(ctx, task.Registration{Name: "d", Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.AcquireTask(ctx, reg.DelegateID, 0)
	if err != nil {
		t.Fatalf("acquiring a large task: %v", err)
	}
	if got == nil || got.Sync == nil {
		t.Fatalf("got %+v, want the SYNC task", got)
	}
	if len(got.Sync.Cursors) != n {
		t.Errorf("got %d cursors, want %d", len(got.Sync.Cursors), n)
	}
}

// TestProxyRefusalReachesTheCaller: gRPC reports a failed dial only as
// text; the client hands the caller the proxy's refusal itself, still a
// transient failure, with the refusal's message alone.
func TestProxyRefusalReachesTheCaller(t *testing.T) {
	t.Parallel()
	refusal := &proxy.AuthError{Proxy: "http://svc:[REDACTED]@proxy.corp:3128", Status: "407 Proxy Authentication Required",
		Target: "cp.example.com:443"}
	var dials atomic.Int64
	c, err := controlplane.Dial(controlplane.DialConfig{Address: "cp.example.com:443", Account: account, Token: token, Plaintext: true,
		Dial: func(context.Context, string) (net.Conn, error) { dials.Add(1); return nil, refusal }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Register(ctx, task.Registration{Name: "d", Concurrency: 1})
	var got *proxy.AuthError
	if !errors.As(err, &got) || got != refusal || err.Error() != refusal.Error() || !controlplane.Transient(err) {
		t.Errorf("got %v (transient %v), want the refusal itself, transient", err, controlplane.Transient(err))
	}
	if dials.Load() == 0 {
		t.Error("the dialer was never called")
	}
}
