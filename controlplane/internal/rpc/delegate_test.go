package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	delegatev1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

func uuid(i int) string { return "{00000000-0000-0000-0000-" + pad(i) + "}" }

func pad(i int) string {
	s := strconv.Itoa(i)
	for len(s) < 12 {
		s = "0" + s
	}
	return s
}

func repoRecord(i int) *delegatev1.Record {
	raw, _ := structpb.NewStruct(map[string]any{"uuid": uuid(i), "mainbranch": map[string]any{"name": "main"}})
	return &delegatev1.Record{Kind: &delegatev1.Record_Repository{Repository: &delegatev1.Repository{
		Uuid: uuid(i), Slug: "repo-" + strconv.Itoa(i), Name: "Repo " + strconv.Itoa(i), FullName: "acme/repo-" + strconv.Itoa(i), Raw: raw}}}
}

func TestAcquireWakesAtOnceWhenWorkIsQueued(t *testing.T) {
	t.Parallel()
	cfg := testLease
	cfg.PollHold, cfg.Recheck = 20*time.Second, 10*time.Second
	h := newHarness(t, cfg)
	id := h.register("d1")
	conn := h.createConnector("bb", "acme")

	got := make(chan *delegatev1.Task, 1)
	go func() {
		res, err := h.delegates.AcquireTask(h.dlg(), &delegatev1.AcquireTaskRequest{DelegateId: id})
		if err != nil {
			t.Error(err)
		}
		got <- res.GetTask()
	}()
	h.pollWaiting()
	created := h.createIntegration("main", conn.GetId())
	select {
	case task := <-got:
		sync := task.GetSync()
		if task.GetId() != created.GetFirstRun().GetId() && sync.GetIntegrationId() != created.GetIntegration().GetId() {
			t.Fatalf("task %v", task)
		}
		if task.GetType() != delegatev1.TaskType_TASK_TYPE_SYNC || task.GetAttempt() != 1 || task.GetNextSequence() != 1 ||
			sync.GetTarget().GetWorkspace() != "acme" || sync.GetTarget().GetTokenRef() != "env:BITBUCKET_TOKEN" ||
			len(sync.GetSecondaryKinds()) != 2 || sync.GetLimits().GetMaxPullRequestsPerSync() != 5000 {
			t.Fatalf("task %v", task)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("AcquireTask was not woken by the queued sync")
	}
}

func TestAcquireReturnsEmptyAfterHold(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	id := h.register("d1")
	if task := h.acquire(id); task != nil {
		t.Fatalf("got %v, want no task", task)
	}
	_, err := h.delegates.AcquireTask(h.dlg(), &delegatev1.AcquireTaskRequest{DelegateId: "dlg_unknown"})
	wantStatus(t, err, codes.NotFound, dispatch.ReasonDelegateNotRegistered)
}

// TestAcquireHoldsAsLongAsTheDelegateAsksWithinTheServersHold: a delegate
// behind a proxy that cuts idle tunnels asks for a shorter hold; the
// server's --poll-hold stays the maximum, and zero means the server's.
func TestAcquireHoldsAsLongAsTheDelegateAsksWithinTheServersHold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		server, requested, want time.Duration
	}{
		{time.Hour, 5 * time.Second, 5 * time.Second},
		{10 * time.Second, 300 * time.Second, 10 * time.Second},
		{10 * time.Second, 0, 10 * time.Second},
	}
	for _, tt := range tests {
		cfg := testLease
		cfg.PollHold, cfg.Recheck = tt.server, 24*time.Hour
		h := newHarness(t, cfg)
		id := h.register("d1")
		answered := make(chan error, 1)
		go func() {
			res, err := h.delegates.AcquireTask(h.dlg(), &delegatev1.AcquireTaskRequest{DelegateId: id,
				PollHoldSeconds: int32(tt.requested / time.Second)})
			if err == nil && res.GetTask() != nil {
				err = fmt.Errorf("got task %v, want none", res.GetTask())
			}
			answered <- err
		}()
		h.pollWaiting()
		h.clock.Advance(tt.want - time.Second)
		if n := h.clock.Waiters(); n != 2 {
			t.Fatalf("server %v, requested %v: %d timers left a second before the hold of %v ended, want the hold and the recheck",
				tt.server, tt.requested, n, tt.want)
		}
		h.clock.Advance(time.Second)
		select {
		case err := <-answered:
			if err != nil {
				t.Errorf("server %v, requested %v: %v", tt.server, tt.requested, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("server %v, requested %v: no answer after a hold of %v", tt.server, tt.requested, tt.want)
		}
	}

	h := newHarness(t, testLease)
	id := h.register("d1")
	for _, hold := range []int32{-1, 301} {
		_, err := h.delegates.AcquireTask(h.dlg(), &delegatev1.AcquireTaskRequest{DelegateId: id, PollHoldSeconds: hold})
		_, br := wantStatus(t, err, codes.InvalidArgument, "")
		if v := br.GetFieldViolations(); len(v) != 1 || v[0].GetField() != "poll_hold_seconds" {
			t.Errorf("poll hold %d: violations %v, want one naming poll_hold_seconds", hold, v)
		}
	}
	res, err := h.delegates.Register(h.dlg(), &delegatev1.RegisterRequest{Name: "d1", Concurrency: 1})
	if err != nil || res.GetKeepaliveMinTimeSeconds() != 20 {
		t.Errorf("Register: %v, keepalive_min_time_seconds %d; want 20 (the default enforcement)", err, res.GetKeepaliveMinTimeSeconds())
	}
}

func TestSelectorsRouteTasks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	plain := h.register("plain")
	eu := h.register("eu", "eu", "linux")
	conn := h.createConnector("bb", "acme", "eu")
	h.createIntegration("main", conn.GetId())
	if task := h.acquire(plain); task != nil {
		t.Fatalf("a delegate without the selector got %v", task)
	}
	if task := h.acquire(eu); task == nil {
		t.Fatal("the delegate with the selector got nothing")
	}
}

func TestLeaseExpiryTakeoverWithCheckpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	a, b := h.register("a"), h.register("b")
	conn := h.createConnector("bb", "acme")
	created := h.createIntegration("main", conn.GetId())
	first := h.acquire(a)

	up, err := h.delegates.UploadRecords(h.dlg(), &delegatev1.UploadRecordsRequest{TaskId: first.GetId(), LeaseToken: first.GetLeaseToken(),
		Sequence: 1, Records: []*delegatev1.Record{repoRecord(1), repoRecord(2)}})
	if err != nil || up.GetAcknowledgedSequence() != 1 || up.GetDuplicate() {
		t.Fatalf("upload: %v, %v", up, err)
	}
	h.clock.Advance(30 * time.Second)
	renew, err := h.delegates.RenewLease(h.dlg(), &delegatev1.RenewLeaseRequest{TaskId: first.GetId(), LeaseToken: first.GetLeaseToken(),
		Checkpoint: []byte(`{"next":"page-3"}`), Progress: &delegatev1.Progress{Phase: "repositories", Requests: 3}})
	if err != nil || !renew.GetLeaseExpiresAt().AsTime().Equal(h.clock.Now().Add(2*time.Minute)) {
		t.Fatalf("renew: %v, %v", renew, err)
	}
	// Delegate a vanishes; its lease runs out.
	h.clock.Advance(2*time.Minute + time.Second)
	second := h.acquire(b)
	if second.GetId() != first.GetId() || second.GetAttempt() != 2 || string(second.GetCheckpoint()) != `{"next":"page-3"}` ||
		second.GetNextSequence() != 2 || second.GetLeaseToken() == first.GetLeaseToken() {
		t.Fatalf("takeover: %v", second)
	}
	// a's token is stale everywhere.
	_, err = h.delegates.RenewLease(h.dlg(), &delegatev1.RenewLeaseRequest{TaskId: first.GetId(), LeaseToken: first.GetLeaseToken()})
	wantStatus(t, err, codes.FailedPrecondition, tasks.ReasonLeaseLost)
	_, err = h.delegates.UploadRecords(h.dlg(), &delegatev1.UploadRecordsRequest{TaskId: first.GetId(), LeaseToken: first.GetLeaseToken(), Sequence: 2})
	wantStatus(t, err, codes.FailedPrecondition, tasks.ReasonLeaseLost)
	_, err = h.delegates.CompleteTask(h.dlg(), &delegatev1.CompleteTaskRequest{TaskId: first.GetId(), LeaseToken: first.GetLeaseToken(),
		Outcome: delegatev1.Outcome_OUTCOME_SUCCEEDED})
	wantStatus(t, err, codes.FailedPrecondition, tasks.ReasonLeaseLost)

	run, err := h.integrations.GetSyncRun(h.mgmt(), &integrationv1.GetSyncRunRequest{Id: created.GetFirstRun().GetId()})
	if err != nil || run.GetRun().GetAttempt() != 2 || run.GetRun().GetRepositories() != 2 || run.GetRun().GetDelegate() != "b" ||
		run.GetRun().GetStatus() != integrationv1.SyncStatus_SYNC_STATUS_RUNNING {
		t.Fatalf("run after takeover: %v, %v", run, err)
	}
}

func TestUploadReplayGapAndInvalidRecords(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	id := h.register("d1")
	conn := h.createConnector("bb", "acme")
	created := h.createIntegration("main", conn.GetId())
	task := h.acquire(id)
	upload := func(seq int64, records ...*delegatev1.Record) (*delegatev1.UploadRecordsResponse, error) {
		return h.delegates.UploadRecords(h.dlg(), &delegatev1.UploadRecordsRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken(),
			Sequence: seq, Records: records})
	}
	batch := []*delegatev1.Record{repoRecord(1), repoRecord(2), {Kind: &delegatev1.Record_PullRequest{PullRequest: &delegatev1.PullRequest{
		RepositoryUuid: uuid(1), Id: 7, Title: "Add x", State: "OPEN"}}}}
	for i, wantDup := range []bool{false, true, true} {
		res, err := upload(1, batch...)
		if err != nil || res.GetDuplicate() != wantDup || res.GetAcknowledgedSequence() != 1 {
			t.Fatalf("upload %d: %v, %v", i, res, err)
		}
	}
	_, err := upload(5, repoRecord(3))
	info, _ := wantStatus(t, err, codes.OutOfRange, tasks.ReasonSequenceGap)
	if info.GetMetadata()["expectedSequence"] != "2" {
		t.Fatalf("metadata %v", info.GetMetadata())
	}
	_, err = upload(2, repoRecord(3), &delegatev1.Record{})
	desc := wantViolation(t, err, "records[1].kind")
	if desc == "" {
		t.Fatal("no description")
	}
	bad := repoRecord(4)
	bad.GetRepository().Uuid = "not-a-uuid"
	_, err = upload(2, bad)
	wantViolation(t, err, "records[0].repository.uuid")

	run, _ := h.integrations.GetSyncRun(h.mgmt(), &integrationv1.GetSyncRunRequest{Id: created.GetFirstRun().GetId()})
	if run.GetRun().GetRepositories() != 2 || run.GetRun().GetPullRequests() != 1 {
		t.Fatalf("replays were counted: %v", run.GetRun())
	}
	repos, _, _ := h.db.ListRepositories(t.Context(), created.GetIntegration().GetId(), store.Page{})
	if len(repos) != 2 || len(repos[0].Raw) == 0 || string(repos[0].Raw) == "{}" {
		t.Fatalf("repositories: %+v", repos)
	}
}

func TestCompleteIsIdempotentAndNotifiesObserver(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	id := h.register("d1")
	conn := h.createConnector("bb", "acme")
	created := h.createIntegration("main", conn.GetId())
	task := h.acquire(id)
	req := &delegatev1.CompleteTaskRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken(), Outcome: delegatev1.Outcome_OUTCOME_SUCCEEDED,
		Progress: &delegatev1.Progress{Requests: 40, RateLimited: 2}}
	for range 3 {
		if _, err := h.delegates.CompleteTask(h.dlg(), req); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case run := <-h.observed:
		if run.ID != created.GetFirstRun().GetId() || run.Status != tasks.RunSuccess || run.Progress.Requests != 40 {
			t.Fatalf("observed %+v", run)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("observer not called")
	}
	select {
	case run := <-h.observed:
		t.Fatalf("observer called again for a repeated completion: %+v", run)
	default:
	}
	ev, err := h.integrations.ListEvents(h.mgmt(), &integrationv1.ListEventsRequest{Integration: "main"})
	if err != nil || len(ev.GetEvents()) != 2 || ev.GetEvents()[0].GetType() != integrationv1.EventType_EVENT_TYPE_SYNC {
		t.Fatalf("events: %v, %v", ev, err)
	}
	_, err = h.delegates.CompleteTask(h.dlg(), &delegatev1.CompleteTaskRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken()})
	wantViolation(t, err, "outcome")
}

func TestReleaseRequeuesAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	a, b := h.register("a"), h.register("b")
	conn := h.createConnector("bb", "acme")
	h.createIntegration("main", conn.GetId())
	first := h.acquire(a)
	if _, err := h.delegates.CompleteTask(h.dlg(), &delegatev1.CompleteTaskRequest{TaskId: first.GetId(), LeaseToken: first.GetLeaseToken(),
		Outcome: delegatev1.Outcome_OUTCOME_RELEASED, Checkpoint: []byte("cp")}); err != nil {
		t.Fatal(err)
	}
	second := h.acquire(b)
	if second.GetId() != first.GetId() || second.GetAttempt() != 2 || string(second.GetCheckpoint()) != "cp" {
		t.Fatalf("after release: %v", second)
	}
}

func TestSuspendCancelsRunningSync(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	id := h.register("d1")
	conn := h.createConnector("bb", "acme")
	h.createIntegration("main", conn.GetId())
	task := h.acquire(id)
	sus, err := h.integrations.SuspendIntegration(h.mgmt(), &integrationv1.SuspendIntegrationRequest{Integration: "main"})
	if err != nil || sus.GetIntegration().GetState() != integrationv1.IntegrationState_INTEGRATION_STATE_SUSPENDED || sus.GetIntegration().GetNextSyncAt() != nil {
		t.Fatalf("suspend: %v, %v", sus, err)
	}
	renew, err := h.delegates.RenewLease(h.dlg(), &delegatev1.RenewLeaseRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken()})
	if err != nil || !renew.GetCancelRequested() {
		t.Fatalf("renew: %v, %v", renew, err)
	}
	if _, err := h.delegates.CompleteTask(h.dlg(), &delegatev1.CompleteTaskRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken(),
		Outcome: delegatev1.Outcome_OUTCOME_CANCELLED}); err != nil {
		t.Fatal(err)
	}
	_, err = h.integrations.SyncIntegration(h.mgmt(), &integrationv1.SyncIntegrationRequest{Integration: "main"})
	wantStatus(t, err, codes.FailedPrecondition, store.ReasonIntegrationSuspended)
	res, err := h.integrations.ResumeIntegration(h.mgmt(), &integrationv1.ResumeIntegrationRequest{Integration: "main"})
	if err != nil || res.GetIntegration().GetLastRun().GetStatus() != integrationv1.SyncStatus_SYNC_STATUS_QUEUED || res.GetIntegration().GetNextSyncAt() == nil {
		t.Fatalf("resume: %v, %v", res, err)
	}
}

func TestDelegatesSeeOnlyTheirAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	_, globexToken := h.bootstrap("globex")
	globex := as(t.Context(), "globex", globexToken)
	reg, err := h.delegates.Register(globex, &delegatev1.RegisterRequest{Name: "g1"})
	if err != nil {
		t.Fatal(err)
	}
	h.createConnector("bb", "acme")
	h.createIntegration("main", "bb")
	res, err := h.delegates.AcquireTask(globex, &delegatev1.AcquireTaskRequest{DelegateId: reg.GetDelegateId()})
	if err != nil || res.GetTask() != nil {
		t.Fatalf("globex delegate got %v, %v", res, err)
	}
	// An acme delegate id is unknown to globex.
	acme := h.register("a1")
	_, err = h.delegates.AcquireTask(globex, &delegatev1.AcquireTaskRequest{DelegateId: acme})
	wantStatus(t, err, codes.NotFound, dispatch.ReasonDelegateNotRegistered)
	task := h.acquire(acme)
	_, err = h.delegates.UploadRecords(globex, &delegatev1.UploadRecordsRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken(),
		Sequence: 1, Records: []*delegatev1.Record{repoRecord(1)}})
	wantStatus(t, err, codes.FailedPrecondition, tasks.ReasonLeaseLost)
}

func TestSweeperHandsExpiredTaskToWaitingDelegate(t *testing.T) {
	t.Parallel()
	cfg := testLease
	// The hold outlasts the lease, so moving the clock past the lease does
	// not end the waiting poll; only the sweep's wake-up can answer it.
	cfg.PollHold, cfg.Recheck = time.Hour, time.Hour
	h := newHarness(t, cfg)
	a, b := h.register("a"), h.register("b")
	h.createConnector("bb", "acme")
	h.createIntegration("main", "bb")
	first := h.acquire(a)
	got := make(chan *delegatev1.Task, 1)
	go func() {
		res, err := h.delegates.AcquireTask(h.dlg(), &delegatev1.AcquireTaskRequest{DelegateId: b})
		if err != nil {
			t.Error(err)
		}
		got <- res.GetTask()
	}()
	h.pollWaiting()
	h.clock.Advance(testLease.LeaseDuration)
	if err := h.leases.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case task := <-got:
		if task.GetId() != first.GetId() || task.GetAttempt() != 2 {
			t.Fatalf("got %v", task)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting delegate was not woken by the sweep")
	}
}

// leaseThenWait leases the first task for real, then holds the answer
// until the caller's context ends: the delegate cancels its poll just as
// a task is leased for it.
type leaseThenWait struct {
	store.Store
	once   sync.Once
	leased chan struct{}
}

func (s *leaseThenWait) AcquireTask(ctx context.Context, r store.AcquireRequest) (tasks.Task, bool, error) {
	t, ok, err := s.Store.AcquireTask(ctx, r)
	if ok && err == nil {
		s.once.Do(func() {
			close(s.leased)
			<-ctx.Done()
		})
	}
	return t, ok, err
}

func TestTaskLeasedForACancelledPollIsHandedBackAtOnce(t *testing.T) {
	t.Parallel()
	race := &leaseThenWait{leased: make(chan struct{})}
	h := newHarnessWith(t, testLease, func(db store.Store) store.Store { race.Store = db; return race })
	id := h.register("d1")
	first := h.createIntegration("main", h.createConnector("bb", "acme").GetId()).GetFirstRun()
	run, err := h.db.GetSyncRun(t.Context(), h.account, first.GetId())
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(h.dlg())
	polled := make(chan error, 1)
	go func() {
		_, err := h.delegates.AcquireTask(ctx, &delegatev1.AcquireTaskRequest{DelegateId: id})
		polled <- err
	}()
	<-race.leased
	cancel()
	if err := <-polled; status.Code(err) != codes.Canceled {
		t.Fatalf("cancelled poll: %v", err)
	}
	// The server notices the cancellation just after the client does.
	deadline := time.Now().Add(5 * time.Second)
	for {
		tk, err := h.db.GetTask(t.Context(), h.account, run.TaskID)
		if err != nil {
			t.Fatal(err)
		}
		if tk.State == tasks.Queued {
			if tk.Attempt != 0 {
				t.Fatalf("handed back with attempt %d, want 0: the undelivered lease must not count", tk.Attempt)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task still %s after the poll was cancelled; it would wait out its lease", tk.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(h.logs.String(), "handed back without counting the attempt") {
		t.Error("no log line says the task was handed back")
	}
	// The next poll gets it as its first attempt, well before any expiry.
	got := h.acquire(id)
	if got.GetId() != run.TaskID || got.GetAttempt() != 1 {
		t.Fatalf("next poll got %v, want the task as attempt 1", got)
	}
}

// failCursorsOnce fails the first ListCursors, as a database hiccup while
// the SYNC payload of a just-leased task is built.
type failCursorsOnce struct {
	store.Store
	failed atomic.Bool
}

func (s *failCursorsOnce) ListCursors(ctx context.Context, integrationID string, slugs ...string) ([]record.Cursor, error) {
	if s.failed.CompareAndSwap(false, true) {
		return nil, errors.New("connection reset by peer")
	}
	return s.Store.ListCursors(ctx, integrationID, slugs...)
}

func TestTaskWhoseAssignmentFailsIsHandedBackAtOnce(t *testing.T) {
	t.Parallel()
	flaky := &failCursorsOnce{}
	h := newHarnessWith(t, testLease, func(db store.Store) store.Store { flaky.Store = db; return flaky })
	id := h.register("d1")
	first := h.createIntegration("main", h.createConnector("bb", "acme").GetId()).GetFirstRun()
	run, err := h.db.GetSyncRun(t.Context(), h.account, first.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.delegates.AcquireTask(h.dlg(), &delegatev1.AcquireTaskRequest{DelegateId: id}); err == nil {
		t.Fatal("poll succeeded although its payload could not be built")
	}
	tk, err := h.db.GetTask(t.Context(), h.account, run.TaskID)
	if err != nil || tk.State != tasks.Queued || tk.Attempt != 0 {
		t.Fatalf("task after the failed assignment: %s attempt %d, %v; want it queued with no attempt counted", tk.State, tk.Attempt, err)
	}
	got := h.acquire(id)
	if got.GetId() != run.TaskID || got.GetAttempt() != 1 {
		t.Fatalf("next poll got %v, want the task as attempt 1", got)
	}
}

func TestRegisterNamesBadFields(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	for _, tc := range []struct {
		req   *delegatev1.RegisterRequest
		field string
	}{
		{&delegatev1.RegisterRequest{Name: "  "}, "name"},
		{&delegatev1.RegisterRequest{Name: strings.Repeat("n", 129)}, "name"},
		{&delegatev1.RegisterRequest{Name: "d", Tags: []string{"eu", "Not A Tag"}}, "tags[1]"},
		{&delegatev1.RegisterRequest{Name: "d", Tags: []string{strings.Repeat("t", 65)}}, "tags[0]"},
	} {
		_, err := h.delegates.Register(h.dlg(), tc.req)
		if desc := wantViolation(t, err, tc.field); desc == "" {
			t.Errorf("%s: no description", tc.field)
		}
	}
	// Tags are sorted and deduplicated; concurrency defaults to 1.
	res, err := h.delegates.Register(h.dlg(), &delegatev1.RegisterRequest{Name: " d1 ", Tags: []string{"linux", "eu", "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := h.db.GetDelegate(t.Context(), h.account, res.GetDelegateId())
	if err != nil || d.Name != "d1" || strings.Join(d.Tags, ",") != "eu,linux" || d.Concurrency != 1 {
		t.Fatalf("registered %+v, %v", d, err)
	}
}

// A batch's progress shows on the run at once, not only at the next lease
// renewal; a batch without progress leaves what is stored.
func TestUploadedProgressShowsOnTheRunAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	id := h.register("d1")
	conn := h.createConnector("bb", "acme")
	created := h.createIntegration("main", conn.GetId())
	task := h.acquire(id)
	upload := func(seq int64, p *delegatev1.Progress, records ...*delegatev1.Record) {
		t.Helper()
		if _, err := h.delegates.UploadRecords(h.dlg(), &delegatev1.UploadRecordsRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken(),
			Sequence: seq, Records: records, Progress: p}); err != nil {
			t.Fatal(err)
		}
	}
	run := func() *integrationv1.SyncRun {
		t.Helper()
		res, err := h.integrations.GetSyncRun(h.mgmt(), &integrationv1.GetSyncRunRequest{Id: created.GetFirstRun().GetId()})
		if err != nil {
			t.Fatal(err)
		}
		return res.GetRun()
	}
	upload(1, &delegatev1.Progress{Phase: "repositories", Requests: 3, RateLimited: 1, RepositoriesTotal: 40,
		Repositories: 999}, repoRecord(1), repoRecord(2))
	r := run()
	if r.GetRequests() != 3 || r.GetRateLimited() != 1 || r.GetPhase() != "repositories" || r.GetRepositoriesTotal() != 40 {
		t.Fatalf("after a batch with progress: %v", r)
	}
	if r.GetRepositories() != 2 {
		t.Fatalf("repositories %d: counted from the records, not taken from the progress", r.GetRepositories())
	}
	upload(2, nil, repoRecord(3))
	if r := run(); r.GetRequests() != 3 || r.GetRepositories() != 3 {
		t.Fatalf("after a batch without progress: %v", r)
	}
}
