package tasks

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func queued() Task {
	return Task{ID: "task_1", Type: Sync, RunID: "run_1", State: Queued, Checkpoint: []byte("cp0"), AvailableAt: t0}
}

func leased() Task {
	t := queued()
	t.State, t.Attempt, t.LeaseToken, t.LeaseExpiresAt, t.DelegateID = Leased, 1, "lt_a", t0.Add(time.Minute), "dlg_1"
	return t
}

func with(t Task, change func(*Task)) Task {
	change(&t)
	return t
}

func TestNext(t *testing.T) {
	done := func(t Task, o Outcome, msg string, at time.Time) Task {
		t.State, t.Outcome, t.Error, t.LeaseExpiresAt, t.FinishedAt = Done, o, msg, time.Time{}, at
		return t
	}
	later := t0.Add(30 * time.Second)
	tests := []struct {
		name string
		task Task
		ev   Event
		want Transition
		err  string // reason or field of the refusal
	}{
		{"acquire leases and counts the attempt", queued(), Event{Kind: Acquire, Now: t0, Token: "lt_a", LeaseFor: time.Minute, DelegateID: "dlg_1"},
			Transition{Change: ChangeLeased, Task: leased(), Run: RunRunning}, ""},
		{"acquire of a leased task is refused", leased(), Event{Kind: Acquire, Now: t0, Token: "lt_b"}, Transition{}, "TASK_NOT_QUEUED"},

		{"renew moves the expiry and keeps the checkpoint", leased(), Event{Kind: Renew, Now: later, Token: "lt_a", LeaseFor: time.Minute},
			Transition{Change: ChangeRenewed, Task: with(leased(), func(t *Task) { t.LeaseExpiresAt = later.Add(time.Minute) })}, ""},
		{"renew stores a new checkpoint", leased(), Event{Kind: Renew, Now: later, Token: "lt_a", LeaseFor: time.Minute, Checkpoint: []byte("cp1")},
			Transition{Change: ChangeRenewed, Task: with(leased(), func(t *Task) { t.LeaseExpiresAt, t.Checkpoint = later.Add(time.Minute), []byte("cp1") })}, ""},
		{"renew of an expired lease nobody took is allowed", leased(), Event{Kind: Renew, Now: t0.Add(time.Hour), Token: "lt_a", LeaseFor: time.Minute},
			Transition{Change: ChangeRenewed, Task: with(leased(), func(t *Task) { t.LeaseExpiresAt = t0.Add(time.Hour + time.Minute) })}, ""},
		{"renew with another token", leased(), Event{Kind: Renew, Now: later, Token: "lt_b"}, Transition{}, ReasonLeaseLost},
		{"renew of a queued task", queued(), Event{Kind: Renew, Now: later, Token: "lt_a"}, Transition{}, ReasonLeaseLost},
		{"renew with an oversized checkpoint", leased(), Event{Kind: Renew, Token: "lt_a", Checkpoint: make([]byte, MaxCheckpoint+1)}, Transition{}, "checkpoint"},

		{"complete succeeded ends the task and its run", leased(), Event{Kind: Complete, Now: later, Token: "lt_a", Outcome: Succeeded},
			Transition{Change: ChangeFinished, Task: done(leased(), Succeeded, "", later), Run: RunSuccess}, ""},
		{"complete partial", leased(), Event{Kind: Complete, Now: later, Token: "lt_a", Outcome: Partial, Error: "3 repositories failed"},
			Transition{Change: ChangeFinished, Task: done(leased(), Partial, "3 repositories failed", later), Run: RunPartial}, ""},
		{"complete failed", leased(), Event{Kind: Complete, Now: later, Token: "lt_a", Outcome: Failed, Error: "401"},
			Transition{Change: ChangeFinished, Task: done(leased(), Failed, "401", later), Run: RunFailed}, ""},
		{"complete cancelled", leased(), Event{Kind: Complete, Now: later, Token: "lt_a", Outcome: Cancelled, Error: "stopped"},
			Transition{Change: ChangeFinished, Task: done(leased(), Cancelled, "stopped", later), Run: RunCancelled}, ""},
		{"a connection test has no run", with(leased(), func(t *Task) { t.Type, t.RunID = TestConnection, "" }),
			Event{Kind: Complete, Now: later, Token: "lt_a", Outcome: Succeeded},
			Transition{Change: ChangeFinished, Task: done(with(leased(), func(t *Task) { t.Type, t.RunID = TestConnection, "" }), Succeeded, "", later)}, ""},
		{"release queues again with the new checkpoint, keeping the attempt", leased(),
			Event{Kind: Complete, Now: later, Token: "lt_a", Outcome: Released, Checkpoint: []byte("cp2")},
			Transition{Change: ChangeRequeued, Run: RunQueued, Task: with(leased(), func(t *Task) {
				t.State, t.LeaseExpiresAt, t.DelegateID, t.AvailableAt, t.Checkpoint = Queued, time.Time{}, "", later, []byte("cp2")
			})}, ""},
		{"release without a checkpoint keeps the stored one", leased(), Event{Kind: Complete, Now: later, Token: "lt_a", Outcome: Released},
			Transition{Change: ChangeRequeued, Run: RunQueued, Task: with(leased(), func(t *Task) {
				t.State, t.LeaseExpiresAt, t.DelegateID, t.AvailableAt = Queued, time.Time{}, "", later
			})}, ""},
		{"release of a task asked to stop cancels it", with(leased(), func(t *Task) { t.CancelRequested = true }),
			Event{Kind: Complete, Now: later, Token: "lt_a", Outcome: Released},
			Transition{Change: ChangeFinished, Run: RunCancelled, Task: done(with(leased(), func(t *Task) { t.CancelRequested = true }), Cancelled, CancelledBySuspend, later)}, ""},
		{"cancelled after a cancel request tells the user why", with(leased(), func(t *Task) { t.CancelRequested = true }),
			Event{Kind: Complete, Now: later, Token: "lt_a", Outcome: Cancelled, Error: "cancellation requested"},
			Transition{Change: ChangeFinished, Run: RunCancelled, Task: done(with(leased(), func(t *Task) { t.CancelRequested = true }), Cancelled, CancelledBySuspend, later)}, ""},
		{"success after a cancel request stands", with(leased(), func(t *Task) { t.CancelRequested = true }),
			Event{Kind: Complete, Now: later, Token: "lt_a", Outcome: Succeeded},
			Transition{Change: ChangeFinished, Run: RunSuccess, Task: done(with(leased(), func(t *Task) { t.CancelRequested = true }), Succeeded, "", later)}, ""},
		{"a repeated completion changes nothing", done(leased(), Succeeded, "", t0), Event{Kind: Complete, Now: later, Token: "lt_a", Outcome: Succeeded},
			Transition{Change: ChangeRepeated, Task: done(leased(), Succeeded, "", t0)}, ""},
		{"a repeated release changes nothing", with(leased(), func(t *Task) { t.State = Queued }),
			Event{Kind: Complete, Now: later, Token: "lt_a", Outcome: Released},
			Transition{Change: ChangeRepeated, Task: with(leased(), func(t *Task) { t.State = Queued })}, ""},
		{"complete with another token", leased(), Event{Kind: Complete, Token: "lt_b", Outcome: Succeeded}, Transition{}, ReasonLeaseLost},
		{"complete of an expired task whose token was dropped", done(with(leased(), func(t *Task) { t.LeaseToken = "" }), Failed, "gave up", t0),
			Event{Kind: Complete, Token: "lt_a", Outcome: Succeeded}, Transition{}, ReasonLeaseLost},
		{"complete without an outcome", leased(), Event{Kind: Complete, Token: "lt_a"}, Transition{}, "outcome"},
		{"complete with an unknown outcome", leased(), Event{Kind: Complete, Token: "lt_a", Outcome: "DONE"}, Transition{}, "outcome"},
		{"complete with an oversized checkpoint", leased(), Event{Kind: Complete, Token: "lt_a", Outcome: Released, Checkpoint: make([]byte, MaxCheckpoint+1)}, Transition{}, "checkpoint"},

		{"return undoes the attempt", leased(), Event{Kind: Return, Token: "lt_a"},
			Transition{Change: ChangeReturned, Run: RunQueued, Task: with(queued(), func(t *Task) { t.Attempt = 0 })}, ""},
		{"return of a lease taken over", leased(), Event{Kind: Return, Token: "lt_b"}, Transition{}, ReasonLeaseLost},

		{"expire before the lease ends leaves it", leased(), Event{Kind: Expire, Now: later, MaxAttempts: 5}, Transition{Change: ChangeNone, Task: leased()}, ""},
		{"expire queues again, dropping the lease", leased(), Event{Kind: Expire, Now: t0.Add(time.Minute), MaxAttempts: 5},
			Transition{Change: ChangeRequeued, Run: RunQueued, Task: with(leased(), func(t *Task) {
				t.State, t.LeaseToken, t.LeaseExpiresAt, t.DelegateID, t.AvailableAt = Queued, "", time.Time{}, "", t0.Add(time.Minute)
			})}, ""},
		{"expire at the last attempt fails the task", with(leased(), func(t *Task) { t.Attempt = 5 }), Event{Kind: Expire, Now: t0.Add(time.Minute), MaxAttempts: 5},
			Transition{Change: ChangeFinished, Run: RunFailed, Task: with(done(with(leased(), func(t *Task) { t.Attempt = 5 }), Failed,
				"the delegate stopped renewing the lease 5 times; giving up", t0.Add(time.Minute)), func(t *Task) { t.LeaseToken = "" })}, ""},
		{"expire of a task asked to stop cancels it", with(leased(), func(t *Task) { t.CancelRequested = true }), Event{Kind: Expire, Now: t0.Add(time.Minute), MaxAttempts: 5},
			Transition{Change: ChangeFinished, Run: RunCancelled, Task: with(done(with(leased(), func(t *Task) { t.CancelRequested = true }), Cancelled,
				CancelledBySuspend, t0.Add(time.Minute)), func(t *Task) { t.LeaseToken = "" })}, ""},
		{"a queued sync never expires", queued(), Event{Kind: Expire, Now: t0.Add(24 * time.Hour), MaxAttempts: 5}, Transition{Change: ChangeNone, Task: queued()}, ""},
		{"a connection test waits its time to live", with(queued(), func(t *Task) { t.Type, t.RunID = TestConnection, "" }),
			Event{Kind: Expire, Now: t0.Add(TestConnectionTTL - time.Second), MaxAttempts: 5},
			Transition{Change: ChangeNone, Task: with(queued(), func(t *Task) { t.Type, t.RunID = TestConnection, "" })}, ""},
		{"a connection test nobody took fails after its time to live", with(queued(), func(t *Task) { t.Type, t.RunID = TestConnection, "" }),
			Event{Kind: Expire, Now: t0.Add(TestConnectionTTL), MaxAttempts: 5},
			Transition{Change: ChangeFinished, Task: done(with(queued(), func(t *Task) { t.Type, t.RunID = TestConnection, "" }), Failed,
				"no delegate took the test within 10m0s: check that a delegate of the account is running and has the connector's selectors", t0.Add(TestConnectionTTL))}, ""},

		{"reclaim by the holder queues again at once, keeping its place and checkpoint", leased(), Event{Kind: Reclaim, Now: later, DelegateID: "dlg_1", MaxAttempts: 5},
			Transition{Change: ChangeRequeued, Run: RunQueued, Task: with(leased(), func(t *Task) {
				t.State, t.LeaseToken, t.LeaseExpiresAt, t.DelegateID = Queued, "", time.Time{}, ""
			})}, ""},
		{"reclaim of an expired lease nobody took", leased(), Event{Kind: Reclaim, Now: t0.Add(time.Hour), DelegateID: "dlg_1", MaxAttempts: 5},
			Transition{Change: ChangeRequeued, Run: RunQueued, Task: with(leased(), func(t *Task) {
				t.State, t.LeaseToken, t.LeaseExpiresAt, t.DelegateID = Queued, "", time.Time{}, ""
			})}, ""},
		{"reclaim by another delegate leaves the lease", leased(), Event{Kind: Reclaim, Now: later, DelegateID: "dlg_2", MaxAttempts: 5},
			Transition{Change: ChangeNone, Task: leased()}, ""},
		{"reclaim without a delegate leaves the lease", leased(), Event{Kind: Reclaim, Now: later, MaxAttempts: 5},
			Transition{Change: ChangeNone, Task: leased()}, ""},
		{"reclaim leaves a queued task", queued(), Event{Kind: Reclaim, Now: later, DelegateID: "dlg_1", MaxAttempts: 5},
			Transition{Change: ChangeNone, Task: queued()}, ""},
		{"reclaim leaves a done task", done(leased(), Succeeded, "", t0), Event{Kind: Reclaim, Now: later, DelegateID: "dlg_1", MaxAttempts: 5},
			Transition{Change: ChangeNone, Task: done(leased(), Succeeded, "", t0)}, ""},
		{"reclaim at the last attempt fails the task", with(leased(), func(t *Task) { t.Attempt = 5 }), Event{Kind: Reclaim, Now: later, DelegateID: "dlg_1", MaxAttempts: 5},
			Transition{Change: ChangeFinished, Run: RunFailed, Task: with(done(with(leased(), func(t *Task) { t.Attempt = 5 }), Failed,
				"the delegate stopped during the task 5 times; giving up", later), func(t *Task) { t.LeaseToken = "" })}, ""},
		{"reclaim of a task asked to stop cancels it", with(leased(), func(t *Task) { t.CancelRequested = true }), Event{Kind: Reclaim, Now: later, DelegateID: "dlg_1", MaxAttempts: 5},
			Transition{Change: ChangeFinished, Run: RunCancelled, Task: with(done(with(leased(), func(t *Task) { t.CancelRequested = true }), Cancelled,
				CancelledBySuspend, later), func(t *Task) { t.LeaseToken = "" })}, ""},

		{"suspend cancels a queued task", queued(), Event{Kind: Suspend, Now: later},
			Transition{Change: ChangeFinished, Run: RunCancelled, Task: done(queued(), Cancelled, CancelledBySuspend, later)}, ""},
		{"suspend asks a leased task to stop", leased(), Event{Kind: Suspend, Now: later},
			Transition{Change: ChangeCancelRequested, Task: with(leased(), func(t *Task) { t.CancelRequested = true })}, ""},
		{"suspend twice asks once", with(leased(), func(t *Task) { t.CancelRequested = true }), Event{Kind: Suspend, Now: later},
			Transition{Change: ChangeNone, Task: with(leased(), func(t *Task) { t.CancelRequested = true })}, ""},
		{"suspend leaves a done task", done(leased(), Succeeded, "", t0), Event{Kind: Suspend, Now: later},
			Transition{Change: ChangeNone, Task: done(leased(), Succeeded, "", t0)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Next(tt.task, tt.ev)
			if tt.err != "" {
				var f *fault.Error
				if !errors.As(err, &f) || (f.Reason != tt.err && (len(f.Violations) == 0 || f.Violations[0].Field != tt.err)) {
					t.Fatalf("err = %v, want a refusal naming %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("transition (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReclaimFences follows a delegate that restarts mid-task: after the
// reclaim and the new registration's lease, every call with the old
// process's token is refused, and the new lease carries the checkpoint.
func TestReclaimFences(t *testing.T) {
	later := t0.Add(10 * time.Second)
	tr, err := Next(leased(), Event{Kind: Renew, Now: later, Token: "lt_a", LeaseFor: time.Minute, Checkpoint: []byte("cp1")})
	if err != nil {
		t.Fatal(err)
	}
	tr, err = Next(tr.Task, Event{Kind: Reclaim, Now: later, DelegateID: "dlg_1", MaxAttempts: 5})
	if err != nil || tr.Change != ChangeRequeued {
		t.Fatalf("reclaim = %v, %v", tr.Change, err)
	}
	tr, err = Next(tr.Task, Event{Kind: Acquire, Now: later, Token: "lt_b", LeaseFor: time.Minute, DelegateID: "dlg_1"})
	if err != nil {
		t.Fatal(err)
	}
	task := tr.Task
	if task.LeaseToken != "lt_b" || string(task.Checkpoint) != "cp1" || task.Attempt != 2 {
		t.Fatalf("new lease = token %q checkpoint %q attempt %d, want lt_b, cp1, 2", task.LeaseToken, task.Checkpoint, task.Attempt)
	}
	for _, e := range []Event{
		{Kind: Renew, Now: later, Token: "lt_a", LeaseFor: time.Minute},
		{Kind: Complete, Now: later, Token: "lt_a", Outcome: Succeeded},
		{Kind: Complete, Now: later, Token: "lt_a", Outcome: Released},
		{Kind: Return, Token: "lt_a"},
	} {
		if _, err := Next(task, e); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("event %d with the old token: err = %v, want LEASE_LOST", e.Kind, err)
		}
	}
	if _, err := task.Batch("lt_a", 1); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("upload with the old token: err = %v, want LEASE_LOST", err)
	}
	if _, err := Next(task, Event{Kind: Renew, Now: later, Token: "lt_b", LeaseFor: time.Minute}); err != nil {
		t.Errorf("renew with the new token: %v", err)
	}
}

func TestNextUnknownEvent(t *testing.T) {
	if _, err := Next(queued(), Event{}); err == nil || !strings.Contains(err.Error(), "unknown event") {
		t.Fatalf("err = %v", err)
	}
}

func TestValidOutcome(t *testing.T) {
	for _, o := range []Outcome{Succeeded, Partial, Failed, Cancelled, Released} {
		if err := ValidOutcome(o); err != nil {
			t.Errorf("%s: %v", o, err)
		}
	}
	for _, o := range []Outcome{"", "DONE", "succeeded"} {
		if err := ValidOutcome(o); fault.CodeOf(err) != fault.Invalid {
			t.Errorf("%q: %v, want invalid", o, err)
		}
	}
}

func TestBatch(t *testing.T) {
	held := with(leased(), func(t *Task) { t.LastSequence = 3 })
	test := with(held, func(t *Task) { t.Type, t.RunID = TestConnection, "" })
	tests := []struct {
		name   string
		task   Task
		token  string
		seq    int64
		replay bool
		err    string // reason or field
	}{
		{"the next batch", held, "lt_a", 4, false, ""},
		{"a replay", held, "lt_a", 3, true, ""},
		{"an old replay", held, "lt_a", 1, true, ""},
		{"a gap", held, "lt_a", 6, false, ReasonSequenceGap},
		{"another token", held, "lt_b", 4, false, ReasonLeaseLost},
		{"a task not leased", with(held, func(t *Task) { t.State = Queued }), "lt_a", 4, false, ReasonLeaseLost},
		{"a connection test takes no records", test, "lt_a", 4, false, ReasonLeaseLost},
		{"sequence zero", held, "lt_a", 0, false, "sequence"},
		{"a negative sequence", held, "lt_a", -1, false, "sequence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			replay, err := tt.task.Batch(tt.token, tt.seq)
			if tt.err == "" {
				if err != nil || replay != tt.replay {
					t.Fatalf("replay %v, %v; want %v", replay, err, tt.replay)
				}
				return
			}
			f := fault.As(err)
			if f == nil || (f.Reason != tt.err && (len(f.Violations) == 0 || f.Violations[0].Field != tt.err)) {
				t.Fatalf("err = %v, want a refusal naming %s", err, tt.err)
			}
			if tt.err == ReasonSequenceGap && f.Metadata["expectedSequence"] != "4" {
				t.Errorf("metadata %v", f.Metadata)
			}
		})
	}
}
