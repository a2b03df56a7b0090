package controlplane_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/controlplane"
	"github.com/catalog-discovery/bitbucket/delegate/internal/fakecontrol"
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
	got, err := c.AcquireTask(ctx, reg.DelegateID)
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
