package upload_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/controlplane"
	"github.com/catalog-discovery/bitbucket/delegate/internal/fakecontrol"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/delegate/internal/upload"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/record"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// leased registers with a fake control plane and takes one task.
func leased(t *testing.T) (*fakecontrol.Server, *controlplane.Client, *task.Task) {
	t.Helper()
	cp := fakecontrol.New(t, fakecontrol.Options{Token: "tok-upload-test", Account: "a"})
	c, err := controlplane.Dial(controlplane.DialConfig{Address: cp.Addr(), Account: "a", Token: "tok-upload-test", Plaintext: true})
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
	tk, err := c.AcquireTask(ctx, reg.DelegateID, 0)
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

// failingSender fails every call with one status.
type failingSender struct {
	err   error
	calls atomic.Int64
}

func (s *failingSender) UploadRecords(context.Context, string, string, int64, []controlplane.EncodedRecord, *task.Progress) (bool, error) {
	s.calls.Add(1)
	return false, s.err
}

// A batch the control plane fails on every time (a poison batch) is given
// up after RetryFor, naming the batch and the server's error, instead of
// keeping the task running forever.
func TestABatchThatAlwaysFailsIsGivenUp(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := &failingSender{err: status.Error(codes.Internal, "cannot store record 3: constraint violated")}
	o := opts()
	o.Clock, o.RetryBase, o.RetryMax, o.RetryFor = clk, time.Second, 30*time.Second, 3*time.Minute
	b := upload.New(s, "t1", "l1", 7, o)
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = b.Add(ctx, repo(1))
	err := b.Flush(ctx)
	want := "the control plane did not store record batch 7 (1 records: 1 repository) after resending it for 3m"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "constraint violated") {
		t.Fatalf("got %v, want an error containing %q and the server's message", err, want)
	}
	if slept := clk.Slept(); slept < 3*time.Minute || slept > 4*time.Minute {
		t.Errorf("gave up after %v of backoff, want about 3m", slept)
	}
	if n := s.calls.Load(); n < 5 {
		t.Errorf("only %d attempts; the batch should be resent with backoff first", n)
	}
}

// ResourceExhausted means the message is larger than gRPC accepts; the same
// batch will be again, so it is not resent.
func TestResourceExhaustedIsFinal(t *testing.T) {
	t.Parallel()
	s := &failingSender{err: status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5000000 vs. 4194304)")}
	b := upload.New(s, "t1", "l1", 1, opts())
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = b.Add(ctx, repo(1))
	err := b.Flush(ctx)
	if err == nil || !strings.Contains(err.Error(), "the control plane refused record batch 1") || !strings.Contains(err.Error(), "larger than max") {
		t.Errorf("got %v", err)
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

// A record larger than a batch may be is refused before anything is sent,
// naming it; the records around it are uploaded.
func TestARecordTooLargeForABatchIsRefusedAlone(t *testing.T) {
	t.Parallel()
	cp, c, tk := leased(t)
	ctx := context.Background()
	o := opts()
	o.MaxBytes = 64 << 10
	b := upload.New(c, tk.ID, tk.LeaseToken, tk.NextSequence, o)
	defer b.Close()
	huge := record.Record{Commit: &record.Commit{RepositoryUUID: "{r}", Hash: "abc123", Message: strings.Repeat("x", 100<<10)}}
	if err := b.Add(ctx, repo(1)); err != nil {
		t.Fatal(err)
	}
	var tooLarge *upload.RecordTooLargeError
	err := b.Add(ctx, huge)
	if !errors.As(err, &tooLarge) || !strings.Contains(err.Error(), "commit abc123 of repository {r}") {
		t.Fatalf("got %v, want a RecordTooLargeError naming the commit", err)
	}
	if err := b.Add(ctx, repo(2)); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := cp.Count()["repository"]; n != 2 {
		t.Errorf("%d repositories stored, want the 2 around the refused commit", n)
	}
}
