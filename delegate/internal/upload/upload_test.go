package upload_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/controlplane"
	"github.com/catalog-discovery/bitbucket/delegate/internal/fakecontrol"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/delegate/internal/upload"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/record"
	"google.golang.org/grpc/codes"
)

// leased registers with a fake control plane and takes one task.
func leased(t *testing.T) (*fakecontrol.Server, *controlplane.Client, *task.Task) {
	t.Helper()
	cp := fakecontrol.New(t, fakecontrol.Options{Token: "tok-upload-test", Account: "a"})
	c, err := controlplane.Dial(controlplane.DialConfig{Address: cp.Addr(), Account: "a", Token: "tok-upload-test", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	reg, err := c.Register(ctx, task.Registration{Name: "u", Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	cp.Enqueue(&pb.Task{Type: pb.TaskType_TASK_TYPE_SYNC, Sync: &pb.SyncTask{}})
	tk, err := c.AcquireTask(ctx, reg.DelegateID)
	if err != nil || tk == nil {
		t.Fatalf("acquire: %v %v", tk, err)
	}
	return cp, c, tk
}

func repo(i int) record.Record {
	return record.Record{Repository: &record.Repository{UUID: fmt.Sprintf("{%d}", i), Slug: "s", Name: "n"}}
}

func opts() upload.Options {
	return upload.Options{MaxRecords: 2, RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond}
}

func TestBatchesAreNumberedAcknowledgedAndResentHarmlessly(t *testing.T) {
	t.Parallel()
	cp, c, tk := leased(t)
	ctx := context.Background()
	cp.FailNext("UploadRecords", codes.Unavailable, codes.Unavailable)
	b := upload.New(c, tk.ID, tk.LeaseToken, tk.NextSequence, opts())
	defer b.Close()
	for i := range 7 {
		if err := b.Add(ctx, repo(i)); err != nil {
			t.Fatal(err)
		}
	}
	if b.Position() != 4 {
		t.Errorf("position %d, want 4 (7 records in batches of 2)", b.Position())
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if b.Acked() != 4 || b.Uploaded()["repository"] != 7 {
		t.Errorf("acked %d, uploaded %v", b.Acked(), b.Uploaded())
	}

	// A resend of everything (as after a reconnect that lost the acks) is
	// acknowledged as duplicates and applies nothing twice.
	again := upload.New(c, tk.ID, tk.LeaseToken, 1, opts())
	defer again.Close()
	for i := range 9 {
		if err := again.Add(ctx, repo(i)); err != nil {
			t.Fatal(err)
		}
		if i == 6 { // the same batches as the first time
			if err := again.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := again.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		if got := cp.Applied()[fmt.Sprintf("repository:{%d}", i)]; got != 1 {
			t.Errorf("record %d applied %d times, want once", i, got)
		}
	}
	if len(cp.Task(tk.ID).Batches) != 5 {
		t.Errorf("%d batches stored, want 5", len(cp.Task(tk.ID).Batches))
	}
}

func TestAGapOrALostLeaseStopsTheUpload(t *testing.T) {
	t.Parallel()
	cp, c, tk := leased(t)
	ctx := context.Background()

	gap := upload.New(c, tk.ID, tk.LeaseToken, 5, opts())
	defer gap.Close()
	_ = gap.Add(ctx, repo(1))
	if err := gap.Flush(ctx); err == nil || !strings.Contains(err.Error(), "expects batch 1") {
		t.Errorf("got %v, want a sequence gap naming the expected batch", err)
	}

	cp.LoseLease(tk.ID)
	lost := upload.New(c, tk.ID, tk.LeaseToken, 1, opts())
	defer lost.Close()
	_ = lost.Add(ctx, repo(1))
	if err := lost.Flush(ctx); !errors.Is(err, controlplane.ErrLeaseLost) {
		t.Errorf("got %v, want ErrLeaseLost", err)
	}
	if err := lost.Add(ctx, repo(2)); !errors.Is(err, controlplane.ErrLeaseLost) {
		t.Errorf("Add after the loss: %v, want ErrLeaseLost", err)
	}
}
