// Package fakecontrol is an in-process control plane for the delegate's
// tests: a real gRPC server on a real socket implementing DelegateService
// with the contract's semantics (long-poll, leases that expire and move to
// the next attempt with the last checkpoint, per-task batch sequences that
// are idempotent and reject gaps, idempotent completion), and recording
// everything for assertions. Tests can lose leases, request cancellation,
// inject error codes and restart the server on the same address.
//
// It implements the wire contract, so it imports proto/gen; it is test
// support, never linked into the delegate binary.
package fakecontrol

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Options configure the fake.
type Options struct {
	Token   string // the delegate token it accepts
	Account string
	// LeaseDuration is how long a lease lasts without renewal. Default 3s.
	LeaseDuration time.Duration
	// RenewInterval is sent to delegates (whole seconds). Default 1s.
	RenewInterval time.Duration
	// PollHold is how long AcquireTask waits for a task. Default 300ms.
	PollHold time.Duration
	// Addr to listen on; default 127.0.0.1:0.
	Addr string
	// TLS, when set, makes the server speak TLS only.
	TLS *tls.Config
	// HTTP also serves the service over HTTP/1.1 with the Connect
	// protocol, at HTTPURL.
	HTTP bool
}

// Task is the fake's view of a task.
type Task struct {
	ID           string
	Template     *pb.Task
	Attempt      int32
	Lease        string
	LeaseExpires time.Time
	Leased       bool
	Done         bool
	Checkpoint   []byte
	NextSequence int64
	Cancel       bool
	Completions  []*pb.CompleteTaskRequest
	Renewals     []*pb.RenewLeaseRequest
	Batches      map[int64][]*pb.Record
	// BatchProgress is the progress each applied batch carried (nil: none).
	BatchProgress map[int64]*pb.Progress
	Attempts      []string // delegate id per attempt
}

// Server is the fake control plane.
type Server struct {
	opts Options
	t    testing.TB

	mu        sync.Mutex
	changed   chan struct{}
	lis       net.Listener
	srv       *grpc.Server
	addr      string
	httpSrv   *http.Server
	httpURL   string
	delegates map[string]string // name -> id
	regs      []*pb.RegisterRequest
	tasks     map[string]*Task
	queue     []string
	store     map[string]*pb.Record
	applied   map[string]int
	faults    map[string][]codes.Code
	calls     map[string]int
	nextID    int
}

// New starts a fake control plane; it stops when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration = 3 * time.Second
	}
	if opts.RenewInterval == 0 {
		opts.RenewInterval = time.Second
	}
	if opts.PollHold == 0 {
		opts.PollHold = 300 * time.Millisecond
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	s := &Server{
		opts: opts, t: t, changed: make(chan struct{}),
		delegates: map[string]string{}, tasks: map[string]*Task{}, store: map[string]*pb.Record{},
		applied: map[string]int{}, faults: map[string][]codes.Code{}, calls: map[string]int{},
	}
	if err := s.start(opts.Addr); err != nil {
		t.Fatalf("fake control plane: %v", err)
	}
	t.Cleanup(s.Stop)
	if opts.HTTP {
		if err := s.startHTTP(); err != nil {
			t.Fatalf("fake control plane over HTTP/1.1: %v", err)
		}
		t.Cleanup(func() { _ = s.httpSrv.Close() })
	}
	return s
}

func (s *Server) start(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	opts := []grpc.ServerOption{grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true})}
	if s.opts.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.opts.TLS)))
	}
	srv := grpc.NewServer(opts...)
	pb.RegisterDelegateServiceServer(srv, &service{s: s})
	s.mu.Lock()
	s.lis, s.srv, s.addr = lis, srv, lis.Addr().String()
	s.mu.Unlock()
	go func() { _ = srv.Serve(lis) }()
	return nil
}

// Addr is host:port of the listener.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop closes the listener and every connection (a crash, as far as
// clients can tell). State is kept for Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Stop()
	}
}

// Restart starts serving again on the same address with the same state.
func (s *Server) Restart() {
	var err error
	for range 50 {
		if err = s.start(s.Addr()); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("fake control plane restart: %v", err)
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Enqueue queues a task (its id, lease, attempt and sequence are set by the
// fake) and returns its id.
func (s *Server) Enqueue(t *pb.Task) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := fmt.Sprintf("task-%d", s.nextID)
	s.tasks[id] = &Task{ID: id, Template: proto.Clone(t).(*pb.Task), NextSequence: 1, Batches: map[int64][]*pb.Record{},
		BatchProgress: map[int64]*pb.Progress{}}
	s.queue = append(s.queue, id)
	s.notifyLocked()
	return id
}

// Task returns a copy of the fake's view of a task.
func (s *Server) Task(id string) Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := *s.tasks[id]
	return t
}

// WaitDone waits until the task has a final completion (anything but
// RELEASED) and returns it.
func (s *Server) WaitDone(ctx context.Context, id string) (*pb.CompleteTaskRequest, error) {
	for {
		s.mu.Lock()
		t := s.tasks[id]
		ch := s.changed
		if t.Done {
			c := t.Completions[len(t.Completions)-1]
			s.mu.Unlock()
			return c, nil
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond): // leases expire without events
		case <-ctx.Done():
			return nil, fmt.Errorf("task %s not done: %w", id, ctx.Err())
		}
	}
}

// WaitFor waits until cond holds for the task.
func (s *Server) WaitFor(ctx context.Context, id string, cond func(Task) bool) error {
	for {
		s.mu.Lock()
		ok := cond(*s.tasks[id])
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("task %s: condition not met: %w", id, ctx.Err())
		}
	}
}

// LoseLease makes the task's current lease invalid and queues it again,
// as if it had expired and been taken over.
func (s *Server) LoseLease(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requeueLocked(s.tasks[id])
}

// SetCheckpoint stores a checkpoint for the task, as an earlier attempt's
// renewal would have.
func (s *Server) SetCheckpoint(id string, checkpoint []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tasks[id].Checkpoint = checkpoint
}

// RequestCancel sets cancel_requested for the task.
func (s *Server) RequestCancel(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tasks[id].Cancel = true
}

// FailNext makes the next calls of method (e.g. "UploadRecords") fail with
// the given codes, one per call.
func (s *Server) FailNext(method string, codes ...codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], codes...)
}

// Calls counts the calls of method that reached the fake.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Registrations returns every Register request received.
func (s *Server) Registrations() []*pb.RegisterRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*pb.RegisterRequest(nil), s.regs...)
}

// ForgetDelegates drops every registration, as a control plane that lost
// its state would.
func (s *Server) ForgetDelegates() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delegates = map[string]string{}
}

// Records returns the stored records by identity (kind:repo[:id]).
func (s *Server) Records() map[string]*pb.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*pb.Record, len(s.store))
	for k, v := range s.store {
		out[k] = v
	}
	return out
}

// Applied reports how often each identity was written.
func (s *Server) Applied() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.applied))
	for k, v := range s.applied {
		out[k] = v
	}
	return out
}

// Cursors returns the latest cursor of every repository, as the real
// control plane hands them to the next sync.
func (s *Server) Cursors() []*pb.RepositoryCursor {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*pb.RepositoryCursor
	for _, r := range s.store {
		if c := r.GetCursor(); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// SetCursor replaces a repository's stored cursor, to stage a state the
// next sync must cope with (a branch force-pushed under it).
func (s *Server) SetCursor(c *pb.RepositoryCursor) {
	rec := &pb.Record{Kind: &pb.Record_Cursor{Cursor: c}}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store[Identity(rec)] = rec
}

// Count returns how many stored records of each kind there are.
func (s *Server) Count() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k := range s.store {
		kind, _, _ := strings.Cut(k, ":")
		out[kind]++
	}
	return out
}

// Identity is the key a record is upserted under.
func Identity(r *pb.Record) string {
	switch {
	case r.GetRepository() != nil:
		return "repository:" + r.GetRepository().GetUuid()
	case r.GetPullRequest() != nil:
		return "pull_request:" + r.GetPullRequest().GetRepositoryUuid() + ":" + strconv.FormatInt(r.GetPullRequest().GetId(), 10)
	case r.GetCommit() != nil:
		return "commit:" + r.GetCommit().GetRepositoryUuid() + ":" + r.GetCommit().GetHash()
	case r.GetCursor() != nil:
		return "cursor:" + r.GetCursor().GetRepositoryUuid()
	case r.GetListingComplete() != nil:
		return "listing_complete:"
	case r.GetCodeOwners() != nil:
		return "code_owners:" + r.GetCodeOwners().GetRepositoryUuid()
	}
	return ""
}

func (s *Server) requeueLocked(t *Task) {
	if t.Done {
		return
	}
	t.Leased = false
	t.Lease = ""
	s.queue = append(s.queue, t.ID)
	s.notifyLocked()
}

// sweepLocked requeues tasks whose lease expired.
func (s *Server) sweepLocked(now time.Time) {
	for _, t := range s.tasks {
		if t.Leased && now.After(t.LeaseExpires) {
			s.requeueLocked(t)
		}
	}
}

func (s *Server) fault(method string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
	if f := s.faults[method]; len(f) > 0 {
		s.faults[method] = f[1:]
		return status.Error(f[0], "injected fault")
	}
	return nil
}

func withInfo(c codes.Code, reason, msg string, md map[string]string) error {
	st, err := status.New(c, msg).WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: "idp.delegate.v1", Metadata: md})
	if err != nil {
		return status.Error(c, msg)
	}
	return st.Err()
}

type service struct {
	pb.UnimplementedDelegateServiceServer
	s *Server
}

func (v *service) auth(ctx context.Context, method string) error {
	if err := v.s.fault(method); err != nil {
		return err
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer "+v.s.opts.Token {
		return withInfo(codes.Unauthenticated, "INVALID_DELEGATE_TOKEN", "unknown delegate token", nil)
	}
	if got := md.Get("x-account-id"); len(got) != 1 || got[0] != v.s.opts.Account {
		return withInfo(codes.Unauthenticated, "INVALID_DELEGATE_TOKEN", "token of another account", nil)
	}
	return nil
}

func (v *service) Register(ctx context.Context, req *pb.RegisterRequest) (*pb.RegisterResponse, error) {
	if err := v.auth(ctx, "Register"); err != nil {
		return nil, err
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.regs = append(s.regs, req)
	id, ok := s.delegates[req.GetName()]
	if !ok {
		id = fmt.Sprintf("delegate-%d", len(s.regs))
		s.delegates[req.GetName()] = id
	}
	return &pb.RegisterResponse{
		DelegateId: id, AccountId: s.opts.Account,
		RenewIntervalSeconds: int32(max(s.opts.RenewInterval/time.Second, 1)),
		PollHoldSeconds:      int32(max(s.opts.PollHold/time.Second, 1)),
	}, nil
}

func (v *service) AcquireTask(ctx context.Context, req *pb.AcquireTaskRequest) (*pb.AcquireTaskResponse, error) {
	if err := v.auth(ctx, "AcquireTask"); err != nil {
		return nil, err
	}
	s := v.s
	hold := s.opts.PollHold
	if r := time.Duration(req.GetPollHoldSeconds()) * time.Second; r > 0 {
		hold = min(hold, r) // as the control plane: the delegate may ask for less
	}
	deadline := time.Now().Add(hold)
	for {
		s.mu.Lock()
		known := false
		for _, id := range s.delegates {
			known = known || id == req.GetDelegateId()
		}
		if !known {
			s.mu.Unlock()
			return nil, withInfo(codes.NotFound, "DELEGATE_NOT_REGISTERED", "unknown delegate", nil)
		}
		now := time.Now()
		s.sweepLocked(now)
		if len(s.queue) > 0 {
			t := s.tasks[s.queue[0]]
			s.queue = s.queue[1:]
			t.Attempt++
			t.Leased = true
			t.Lease = fmt.Sprintf("lease-%s-%d", t.ID, t.Attempt)
			t.LeaseExpires = now.Add(s.opts.LeaseDuration)
			t.Attempts = append(t.Attempts, req.GetDelegateId())
			out := proto.Clone(t.Template).(*pb.Task)
			out.Id, out.LeaseToken, out.Attempt = t.ID, t.Lease, t.Attempt
			out.LeaseExpiresAt = timestamppb.New(t.LeaseExpires)
			out.Checkpoint, out.NextSequence = t.Checkpoint, t.NextSequence
			s.notifyLocked()
			s.mu.Unlock()
			return &pb.AcquireTaskResponse{Task: out}, nil
		}
		ch := s.changed
		s.mu.Unlock()
		wait := time.Until(deadline)
		if wait <= 0 {
			return &pb.AcquireTaskResponse{}, nil
		}
		select {
		case <-ch:
		case <-time.After(min(wait, 50*time.Millisecond)):
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
}

// leasedLocked returns the task if lease is its current lease.
func (s *Server) leasedLocked(id, lease string) (*Task, error) {
	s.sweepLocked(time.Now())
	t, ok := s.tasks[id]
	if !ok || !t.Leased || t.Lease != lease {
		return nil, withInfo(codes.FailedPrecondition, "LEASE_LOST", "lease is not current", nil)
	}
	return t, nil
}

// underLease authenticates a call made under a task's lease and runs fn
// with the server locked on the task whose lease it is.
func (v *service) underLease(ctx context.Context, method, taskID, lease string, fn func(s *Server, t *Task) error) error {
	if err := v.auth(ctx, method); err != nil {
		return err
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.leasedLocked(taskID, lease)
	if err != nil {
		return err
	}
	return fn(s, t)
}

func (v *service) RenewLease(ctx context.Context, req *pb.RenewLeaseRequest) (*pb.RenewLeaseResponse, error) {
	var resp *pb.RenewLeaseResponse
	err := v.underLease(ctx, "RenewLease", req.GetTaskId(), req.GetLeaseToken(), func(s *Server, t *Task) error {
		if len(req.GetCheckpoint()) > 64<<10 {
			return status.Error(codes.InvalidArgument, "checkpoint over 64 KiB")
		}
		t.Renewals = append(t.Renewals, req)
		if len(req.GetCheckpoint()) > 0 {
			t.Checkpoint = req.GetCheckpoint()
		}
		t.LeaseExpires = time.Now().Add(s.opts.LeaseDuration)
		s.notifyLocked()
		resp = &pb.RenewLeaseResponse{LeaseExpiresAt: timestamppb.New(t.LeaseExpires), CancelRequested: t.Cancel}
		return nil
	})
	return resp, err
}

func (v *service) UploadRecords(ctx context.Context, req *pb.UploadRecordsRequest) (*pb.UploadRecordsResponse, error) {
	var resp *pb.UploadRecordsResponse
	err := v.underLease(ctx, "UploadRecords", req.GetTaskId(), req.GetLeaseToken(), func(s *Server, t *Task) error {
		seq := req.GetSequence()
		switch {
		case seq < t.NextSequence:
			resp = &pb.UploadRecordsResponse{AcknowledgedSequence: seq, Duplicate: true}
			return nil
		case seq > t.NextSequence:
			return withInfo(codes.OutOfRange, "SEQUENCE_GAP", "sequence skips ahead",
				map[string]string{"expectedSequence": strconv.FormatInt(t.NextSequence, 10)})
		}
		for i, r := range req.GetRecords() {
			if Identity(r) == "" {
				return withInfo(codes.InvalidArgument, "INVALID_RECORD", fmt.Sprintf("records[%d]: no kind set", i), nil)
			}
		}
		for _, r := range req.GetRecords() {
			id := Identity(r)
			s.store[id] = r
			s.applied[id]++
		}
		t.Batches[seq] = req.GetRecords()
		t.BatchProgress[seq] = req.GetProgress()
		t.NextSequence++
		s.notifyLocked()
		resp = &pb.UploadRecordsResponse{AcknowledgedSequence: seq}
		return nil
	})
	return resp, err
}

func (v *service) CompleteTask(ctx context.Context, req *pb.CompleteTaskRequest) (*pb.CompleteTaskResponse, error) {
	if err := v.auth(ctx, "CompleteTask"); err != nil {
		return nil, err
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tasks[req.GetTaskId()]; ok && len(t.Completions) > 0 &&
		t.Completions[len(t.Completions)-1].GetLeaseToken() == req.GetLeaseToken() {
		return &pb.CompleteTaskResponse{}, nil
	}
	t, err := s.leasedLocked(req.GetTaskId(), req.GetLeaseToken())
	if err != nil {
		return nil, err
	}
	if req.GetOutcome() == pb.Outcome_OUTCOME_UNSPECIFIED {
		return nil, status.Error(codes.InvalidArgument, "outcome unspecified")
	}
	t.Completions = append(t.Completions, req)
	if req.GetOutcome() == pb.Outcome_OUTCOME_RELEASED {
		if len(req.GetCheckpoint()) > 0 {
			t.Checkpoint = req.GetCheckpoint()
		}
		s.requeueLocked(t)
		return &pb.CompleteTaskResponse{}, nil
	}
	t.Done, t.Leased = true, false
	s.notifyLocked()
	return &pb.CompleteTaskResponse{}, nil
}
