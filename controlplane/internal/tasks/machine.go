package tasks

import (
	"fmt"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
)

// ReasonLeaseLost is the reason of a call whose lease token is not the
// task's current one.
const ReasonLeaseLost = "LEASE_LOST"

// ErrLeaseLost is the fault of a stale lease token; match with errors.Is.
var ErrLeaseLost = fault.New(fault.FailedPrecondition, ReasonLeaseLost,
	"the lease is not held: it expired and was taken over, the task ended, or the token is wrong; stop work on this task")

// ReasonSequenceGap is the reason of a record batch that skips ahead.
const ReasonSequenceGap = "SEQUENCE_GAP"

// MaxCheckpoint is the largest checkpoint a delegate may store.
const MaxCheckpoint = 64 << 10

// TestConnectionTTL is how long a connection test waits for a delegate.
// A user waits for its verdict, so an old test is failed rather than run
// by a delegate that appears much later.
const TestConnectionTTL = 10 * time.Minute

// CancelledBySuspend is the error of a task ended because its integration
// was suspended.
const CancelledBySuspend = "cancelled: the integration was suspended"

// EventKind is what happens to a task.
type EventKind int

// Events of a task's life.
const (
	// Acquire: a delegate leases the queued task.
	Acquire EventKind = iota + 1
	// Renew: the lease holder extends its lease.
	Renew
	// Complete: the lease holder reports an outcome (Released hands the
	// task back unfinished).
	Complete
	// Return: a lease was granted but never reached its delegate.
	Return
	// Expire: the sweeper looks at the task at Now.
	Expire
	// Suspend: the task's integration was suspended.
	Suspend
	// Reclaim: the delegate holding the lease registered again (it
	// restarted), so the process that held it is gone; the task is queued
	// again at once, ahead of tasks queued after it, instead of waiting for
	// the lease to expire.
	Reclaim
)

// Event is one thing that happens to a task, with what the rule needs.
type Event struct {
	Kind EventKind
	Now  time.Time
	// Token is the caller's lease token (Renew, Complete, Return), or the
	// new lease's token (Acquire).
	Token string
	// LeaseFor is how long a lease lasts from Now (Acquire, Renew).
	LeaseFor time.Duration
	// DelegateID is the delegate taking the lease (Acquire), or the one
	// that registered again (Reclaim).
	DelegateID string
	// Outcome and Error are the delegate's report (Complete).
	Outcome Outcome
	Error   string
	// Checkpoint is the delegate's resume point (Renew, Complete); empty
	// keeps the stored one.
	Checkpoint []byte
	// MaxAttempts is how many leases a task gets before it fails (Expire,
	// Reclaim).
	MaxAttempts int
}

// Change says what a transition does, so the store knows what to write.
type Change int

// Changes, one per kind of write.
const (
	// ChangeNone: nothing to write.
	ChangeNone Change = iota
	// ChangeLeased: the task is leased (attempt, token, expiry, delegate).
	ChangeLeased
	// ChangeRenewed: the lease expiry (and checkpoint) move.
	ChangeRenewed
	// ChangeRequeued: the task is queued again with its checkpoint and its
	// attempt counted; the lease is dropped.
	ChangeRequeued
	// ChangeReturned: the task is queued again and the attempt does not count.
	ChangeReturned
	// ChangeFinished: the task is done with an outcome.
	ChangeFinished
	// ChangeCancelRequested: the lease holder is asked to stop.
	ChangeCancelRequested
	// ChangeRepeated: a completion already applied was sent again.
	ChangeRepeated
)

// Transition is what an event does to a task: the task as it is after the
// change, and the status its sync run takes ("" when unchanged).
type Transition struct {
	Change Change
	Task   Task
	Run    RunStatus
}

// Next applies an event to a task and returns the transition, or the fault
// that refuses the event: Invalid for a bad outcome or checkpoint,
// FailedPrecondition (LEASE_LOST) for a token that does not hold the
// lease. It neither reads nor writes anything.
func Next(t Task, e Event) (Transition, error) {
	switch e.Kind {
	case Acquire:
		if t.State != Queued {
			return Transition{}, fault.New(fault.FailedPrecondition, "TASK_NOT_QUEUED", "task %s is %s, not queued", t.ID, t.State)
		}
		t.State, t.Attempt, t.LeaseToken, t.LeaseExpiresAt, t.DelegateID = Leased, t.Attempt+1, e.Token, e.Now.Add(e.LeaseFor), e.DelegateID
		return Transition{Change: ChangeLeased, Task: t, Run: RunRunning}, nil
	case Renew:
		if err := checkCheckpoint(e.Checkpoint); err != nil {
			return Transition{}, err
		}
		if !t.HeldBy(e.Token) {
			return Transition{}, ErrLeaseLost
		}
		t.LeaseExpiresAt = e.Now.Add(e.LeaseFor)
		if len(e.Checkpoint) > 0 {
			t.Checkpoint = e.Checkpoint
		}
		return Transition{Change: ChangeRenewed, Task: t}, nil
	case Complete:
		return complete(t, e)
	case Return:
		if !t.HeldBy(e.Token) {
			return Transition{}, ErrLeaseLost
		}
		t.State, t.Attempt, t.LeaseToken, t.LeaseExpiresAt, t.DelegateID = Queued, t.Attempt-1, "", time.Time{}, ""
		return Transition{Change: ChangeReturned, Task: t, Run: RunQueued}, nil
	case Expire:
		return expire(t, e)
	case Reclaim:
		return reclaim(t, e), nil
	case Suspend:
		switch {
		case t.State == Queued:
			return finish(t, Cancelled, CancelledBySuspend, e.Now), nil
		case t.State == Leased && !t.CancelRequested:
			t.CancelRequested = true
			return Transition{Change: ChangeCancelRequested, Task: t}, nil
		}
		return Transition{Change: ChangeNone, Task: t}, nil
	}
	return Transition{}, fmt.Errorf("tasks: unknown event %d", e.Kind)
}

// Batch decides what record batch seq of a lease-holding upload is: the
// next one, to apply; or a replay of one acknowledged already (replay, to
// acknowledge again without applying). Errors: FailedPrecondition
// (LEASE_LOST) when token does not hold the lease of a sync; OutOfRange
// (SEQUENCE_GAP, metadata expectedSequence) for a batch that skips ahead;
// Invalid for a sequence below 1.
func (t Task) Batch(token string, seq int64) (replay bool, err error) {
	if err := ValidSequence(seq); err != nil {
		return false, err
	}
	if !t.HeldBy(token) || t.Type != Sync {
		return false, ErrLeaseLost
	}
	switch next := t.NextSequence(); {
	case seq < next:
		return true, nil
	case seq > next:
		return false, fault.New(fault.OutOfRange, ReasonSequenceGap, "batch %d skips ahead: the next batch of this task is %d", seq, next).
			With("expectedSequence", fmt.Sprint(next))
	}
	return false, nil
}

// ValidSequence refuses a record batch number below 1.
func ValidSequence(seq int64) error {
	if seq < 1 {
		return fault.InvalidField("sequence", "must be 1 or more")
	}
	return nil
}

// ValidOutcome reports whether a delegate may complete a task with o.
func ValidOutcome(o Outcome) error {
	switch o {
	case Succeeded, Partial, Failed, Cancelled, Released:
		return nil
	}
	return fault.InvalidField("outcome", "required: SUCCEEDED, PARTIAL, FAILED, CANCELLED or RELEASED")
}

func checkCheckpoint(cp []byte) error {
	if len(cp) > MaxCheckpoint {
		return fault.InvalidField("checkpoint", "at most %d bytes, got %d", MaxCheckpoint, len(cp))
	}
	return nil
}

// HeldBy reports whether token is the current lease of a leased task. An
// expired lease nobody has taken over yet is still held: the delegate may
// renew it late.
func (t Task) HeldBy(token string) bool {
	return t.State == Leased && token != "" && t.LeaseToken == token
}

func complete(t Task, e Event) (Transition, error) {
	if err := ValidOutcome(e.Outcome); err != nil {
		return Transition{}, err
	}
	if err := checkCheckpoint(e.Checkpoint); err != nil {
		return Transition{}, err
	}
	if !t.HeldBy(e.Token) {
		// A retry of a completion (or release) that went through.
		if e.Token != "" && t.LeaseToken == e.Token && t.State != Leased {
			return Transition{Change: ChangeRepeated, Task: t}, nil
		}
		return Transition{}, ErrLeaseLost
	}
	outcome, msg := e.Outcome, e.Error
	if t.CancelRequested && (outcome == Released || outcome == Cancelled) {
		// Queued again, a released task would run although it was asked to
		// stop. Either way the user is told why it stopped, not the
		// delegate's "cancellation requested".
		outcome, msg = Cancelled, CancelledBySuspend
	}
	if outcome != Released {
		return finish(t, outcome, msg, e.Now), nil
	}
	if len(e.Checkpoint) > 0 {
		t.Checkpoint = e.Checkpoint
	}
	// The token stays, so a repeated release is recognised.
	t.State, t.LeaseExpiresAt, t.DelegateID, t.AvailableAt = Queued, time.Time{}, "", e.Now
	return Transition{Change: ChangeRequeued, Task: t, Run: RunQueued}, nil
}

func expire(t Task, e Event) (Transition, error) {
	switch {
	case t.State == Queued && t.Type == TestConnection && !t.AvailableAt.After(e.Now.Add(-TestConnectionTTL)):
		msg := fmt.Sprintf("no delegate took the test within %v: check that a delegate of the account is running and has the connector's selectors", TestConnectionTTL)
		return finish(t, Failed, msg, e.Now), nil
	case t.State != Leased || t.LeaseExpiresAt.After(e.Now):
		return Transition{Change: ChangeNone, Task: t}, nil
	case t.CancelRequested:
		return dropToken(finish(t, Cancelled, CancelledBySuspend, e.Now)), nil
	case t.Attempt >= e.MaxAttempts:
		msg := fmt.Sprintf("the delegate stopped renewing the lease %d times; giving up", t.Attempt)
		return dropToken(finish(t, Failed, msg, e.Now)), nil
	}
	t.State, t.LeaseToken, t.LeaseExpiresAt, t.DelegateID, t.AvailableAt = Queued, "", time.Time{}, "", e.Now
	return Transition{Change: ChangeRequeued, Task: t, Run: RunQueued}, nil
}

// reclaim takes a lease back from a delegate that registered again. Like
// an expiry, the attempt counts (a task that kills its delegate must not
// run forever) and the token is dropped, so the old process can no longer
// renew, upload or complete; unlike an expiry it does not wait for the
// lease to run out, and the task keeps its place in the queue, so the new
// registration's first poll takes it back with its checkpoint.
func reclaim(t Task, e Event) Transition {
	switch {
	case t.State != Leased || e.DelegateID == "" || t.DelegateID != e.DelegateID:
		return Transition{Change: ChangeNone, Task: t}
	case t.CancelRequested:
		return dropToken(finish(t, Cancelled, CancelledBySuspend, e.Now))
	case t.Attempt >= e.MaxAttempts:
		msg := fmt.Sprintf("the delegate stopped during the task %d times; giving up", t.Attempt)
		return dropToken(finish(t, Failed, msg, e.Now))
	}
	t.State, t.LeaseToken, t.LeaseExpiresAt, t.DelegateID = Queued, "", time.Time{}, ""
	return Transition{Change: ChangeRequeued, Task: t, Run: RunQueued}
}

// dropToken clears the token of a lease that expired, so the lost
// delegate's token does not pass as a repeated completion.
func dropToken(tr Transition) Transition {
	tr.Task.LeaseToken = ""
	return tr
}

func finish(t Task, o Outcome, msg string, now time.Time) Transition {
	t.State, t.Outcome, t.Error, t.LeaseExpiresAt, t.FinishedAt = Done, o, msg, time.Time{}, now
	tr := Transition{Change: ChangeFinished, Task: t}
	if t.RunID != "" {
		tr.Run = RunStatusOf(o)
	}
	return tr
}
