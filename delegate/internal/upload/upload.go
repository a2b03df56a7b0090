// Package upload streams a task's records to the control plane in numbered,
// acknowledged batches. Batches close by count or by bytes (well under
// gRPC's 4 MiB message limit); a bounded number wait for acknowledgement,
// which is the backpressure that keeps memory flat however large the
// workspace. Batches go out one at a time in sequence order, because the
// control plane applies them in order and would reject a batch that
// overtook its predecessor as a gap. An unacknowledged batch is resent
// after any transient failure; the control plane's per-sequence
// idempotence makes the resend harmless. A batch the control plane keeps
// failing on is given up after RetryFor, which fails the task: a batch
// that can never be stored must not keep the run going forever.
package upload

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/controlplane"
	"github.com/catalog-discovery/bitbucket/delegate/internal/metrics"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/shared/backoff"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/record"
	"github.com/rs/zerolog"
)

// Sender delivers one batch, with the task's progress when p is not nil;
// *controlplane.Client implements it.
type Sender interface {
	UploadRecords(ctx context.Context, taskID, lease string, seq int64, recs []controlplane.EncodedRecord, p *task.Progress) (duplicate bool, err error)
}

// Options tune a Batcher.
type Options struct {
	MaxRecords  int // per batch; default 500
	MaxBytes    int // per batch; default 1 MiB
	MaxInFlight int // closed batches awaiting acknowledgement; default 4
	// RetryBase and RetryMax bound the pause before a resend.
	RetryBase, RetryMax time.Duration
	// RetryFor bounds how long one batch is resent after transient
	// failures before the upload gives up. Default 5 min.
	RetryFor time.Duration
	// CallTimeout bounds one UploadRecords call. Default 30 s.
	CallTimeout time.Duration
	Clock       clock.Clock
	Seed        uint64
	Log         zerolog.Logger
	Metrics     *metrics.Metrics
}

func (o *Options) defaults() {
	if o.MaxRecords <= 0 {
		o.MaxRecords = 500
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 20
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 4
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 250 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 10 * time.Second
	}
	if o.RetryFor <= 0 {
		o.RetryFor = 5 * time.Minute
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
}

type batch struct {
	seq      int64
	records  []controlplane.EncodedRecord
	kinds    map[string]int64
	progress *task.Progress // when the batch was closed; resends carry the same
}

// Batcher uploads the records of one task attempt.
type Batcher struct {
	sender      Sender
	taskID      string
	lease       string
	opts        Options
	jitter      *backoff.Source
	stopSending context.CancelFunc
	sendingDone chan struct{}

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every state change
	open      *batch
	openBytes int
	nextSeq   int64
	queue     []*batch
	acked     int64
	uploaded  map[string]int64
	err       error
	progress  func() task.Progress
}

// New starts a Batcher whose first batch is firstSeq (Task.NextSequence).
// Close it when done.
func New(sender Sender, taskID, lease string, firstSeq int64, opts Options) *Batcher {
	opts.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	b := &Batcher{
		sender: sender, taskID: taskID, lease: lease, opts: opts,
		jitter:      backoff.New(opts.Seed ^ uint64(firstSeq)),
		stopSending: cancel, sendingDone: make(chan struct{}),
		changed: make(chan struct{}), nextSeq: firstSeq, acked: firstSeq - 1,
		uploaded: map[string]int64{},
	}
	go b.send(ctx)
	return b
}

// ReportProgress makes every batch carry the task's progress (read by
// progress when the batch is closed), so the run's counters on the control
// plane move with the records instead of only at lease renewals.
func (b *Batcher) ReportProgress(progress func() task.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.progress = progress
}

func (b *Batcher) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// RecordTooLargeError says one record is larger than a batch may be: no
// batch could carry it, so it is refused before anything is sent. The
// upload goes on.
type RecordTooLargeError struct {
	Record   string
	Size     int
	MaxBytes int
}

func (e *RecordTooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes encoded, more than the %d a record batch may carry; it is not uploaded", e.Record, e.Size, e.MaxBytes)
}

// BatchError says the control plane refused a batch, or did not store it
// within RetryFor of transient failures.
type BatchError struct {
	Sequence int64
	Records  int
	Kinds    map[string]int64
	Tried    time.Duration
	Err      error
}

func (e *BatchError) Error() string {
	kinds := make([]string, 0, len(e.Kinds))
	for k, n := range e.Kinds {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	slices.Sort(kinds)
	what := fmt.Sprintf("record batch %d (%d records: %s)", e.Sequence, e.Records, strings.Join(kinds, ", "))
	if e.Tried == 0 {
		return fmt.Sprintf("the control plane refused %s: %v", what, e.Err)
	}
	return fmt.Sprintf("the control plane did not store %s after resending it for %s: %v", what, e.Tried.Round(time.Second), e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// Add queues a record. It blocks while MaxInFlight batches await their
// acknowledgement, and returns the upload's terminal error (for example
// the lease was lost) once there is one, or a *RecordTooLargeError for a
// record no batch can carry.
func (b *Batcher) Add(ctx context.Context, r record.Record) error {
	enc, err := controlplane.Encode(r)
	if err != nil {
		return err
	}
	if enc.Size() > b.opts.MaxBytes {
		return &RecordTooLargeError{Record: describe(r), Size: enc.Size(), MaxBytes: b.opts.MaxBytes}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	if b.open != nil && (len(b.open.records) >= b.opts.MaxRecords || b.openBytes+enc.Size() > b.opts.MaxBytes) {
		if err := b.closeOpenLocked(ctx); err != nil {
			return err
		}
	}
	if b.open == nil {
		b.open = &batch{seq: b.nextSeq, kinds: map[string]int64{}}
		b.nextSeq++
	}
	b.open.records = append(b.open.records, enc)
	b.open.kinds[enc.Kind()]++
	b.openBytes += enc.Size()
	return nil
}

// closeOpenLocked moves the open batch to the send queue, waiting for room.
func (b *Batcher) closeOpenLocked(ctx context.Context) error {
	for len(b.queue) >= b.opts.MaxInFlight && b.err == nil {
		if err := b.waitLocked(ctx); err != nil {
			return err
		}
	}
	if b.err != nil {
		return b.err
	}
	if b.progress != nil {
		p := b.progress()
		b.open.progress = &p
	}
	b.queue = append(b.queue, b.open)
	b.open, b.openBytes = nil, 0
	b.notifyLocked()
	return nil
}

// waitLocked waits for the next state change with b.mu released.
func (b *Batcher) waitLocked(ctx context.Context) error {
	ch := b.changed
	b.mu.Unlock()
	defer b.mu.Lock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Position is the sequence number of the batch holding the last record
// added: once Acked reaches it, everything added so far is stored.
func (b *Batcher) Position() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open != nil {
		return b.open.seq
	}
	return b.nextSeq - 1
}

// Acked is the highest sequence the control plane has acknowledged.
func (b *Batcher) Acked() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.acked
}

// Uploaded counts acknowledged records by kind.
func (b *Batcher) Uploaded() map[string]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]int64, len(b.uploaded))
	for k, v := range b.uploaded {
		out[k] = v
	}
	return out
}

// Flush sends the open batch and waits until every batch is acknowledged.
func (b *Batcher) Flush(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open != nil && b.err == nil {
		if err := b.closeOpenLocked(ctx); err != nil {
			return err
		}
	}
	for len(b.queue) > 0 && b.err == nil {
		if err := b.waitLocked(ctx); err != nil {
			return err
		}
	}
	return b.err
}

// Close stops sending; unsent batches are dropped (a later attempt
// re-creates them from the checkpoint).
func (b *Batcher) Close() {
	b.stopSending()
	<-b.sendingDone
}

func (b *Batcher) send(ctx context.Context) {
	defer close(b.sendingDone)
	for {
		b.mu.Lock()
		for len(b.queue) == 0 && b.err == nil {
			ch := b.changed
			b.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				b.fail(ctx.Err())
				return
			}
			b.mu.Lock()
		}
		if b.err != nil {
			b.mu.Unlock()
			return
		}
		next := b.queue[0]
		b.mu.Unlock()
		if err := b.deliver(ctx, next); err != nil {
			b.fail(err)
			return
		}
	}
}

func (b *Batcher) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = err
	}
	b.notifyLocked()
}

// describe names a record for a message.
func describe(r record.Record) string {
	switch {
	case r.Repository != nil:
		return fmt.Sprintf("repository %s %s", r.Repository.FullName, r.Repository.UUID)
	case r.PullRequest != nil:
		return fmt.Sprintf("pull request %d of repository %s", r.PullRequest.ID, r.PullRequest.RepositoryUUID)
	case r.Commit != nil:
		return fmt.Sprintf("commit %s of repository %s", r.Commit.Hash, r.Commit.RepositoryUUID)
	case r.Cursor != nil:
		return "cursor of repository " + r.Cursor.RepositoryUUID
	default:
		return "the " + r.Kind() + " record"
	}
}

// deliver sends one batch until it is acknowledged or a failure is final.
func (b *Batcher) deliver(ctx context.Context, bt *batch) error {
	start := b.opts.Clock.Now()
	var failing time.Time // since when the transient failures last
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, b.opts.CallTimeout)
		dup, err := b.sender.UploadRecords(cctx, b.taskID, b.lease, bt.seq, bt.records, bt.progress)
		cancel()
		var gap *controlplane.SequenceGapError
		switch {
		case err == nil:
			if dup {
				b.opts.Log.Debug().Str("task_id", b.taskID).Int64("sequence", bt.seq).Msg("batch was already stored; resend acknowledged as duplicate")
			}
			b.ack(bt.seq, start)
			return nil
		case errors.As(err, &gap) && gap.Expected > bt.seq:
			// Our earlier send was applied but its answer was lost.
			b.ack(gap.Expected-1, start)
			return nil
		case errors.As(err, &gap):
			return fmt.Errorf("control plane expects batch %d but the oldest unacknowledged batch is %d: %w", gap.Expected, bt.seq, err)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, controlplane.ErrLeaseLost), errors.Is(err, controlplane.ErrRejected):
			return err
		case !controlplane.Transient(err):
			return &BatchError{Sequence: bt.seq, Records: len(bt.records), Kinds: bt.kinds, Err: err}
		}
		now := b.opts.Clock.Now()
		if failing.IsZero() {
			failing = now
		}
		if tried := now.Sub(failing); tried >= b.opts.RetryFor {
			return &BatchError{Sequence: bt.seq, Records: len(bt.records), Kinds: bt.kinds, Tried: tried, Err: err}
		}
		wait := b.jitter.Delay(b.opts.RetryBase, b.opts.RetryMax, attempt)
		ev := b.opts.Log.Debug()
		if attempt == 2 {
			ev = b.opts.Log.Warn()
		}
		ev.Err(err).Str("task_id", b.taskID).Int64("sequence", bt.seq).Dur("retry_in", wait).Msg("record batch not acknowledged; will resend")
		if err := b.opts.Clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// ack marks every queued batch up to seq as stored.
func (b *Batcher) ack(seq int64, start time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.queue) > 0 && b.queue[0].seq <= seq {
		for k, n := range b.queue[0].kinds {
			b.uploaded[k] += n
			if b.opts.Metrics != nil {
				b.opts.Metrics.Records.WithLabelValues(k).Add(float64(n))
			}
		}
		b.queue = b.queue[1:]
	}
	if seq > b.acked {
		b.acked = seq
	}
	if b.opts.Metrics != nil {
		b.opts.Metrics.UploadLatency.Observe(b.opts.Clock.Now().Sub(start).Seconds())
	}
	b.notifyLocked()
}
