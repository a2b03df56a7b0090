package rpc

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	delegatev1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

type delegateServer struct {
	delegatev1.UnimplementedDelegateServiceServer
	s *Server
}

func (d *delegateServer) caller(ctx context.Context) Caller {
	c, _ := CallerFrom(ctx)
	return c
}

func (d *delegateServer) Register(ctx context.Context, req *delegatev1.RegisterRequest) (*delegatev1.RegisterResponse, error) {
	c := d.caller(ctx)
	dl, err := d.s.Tasks.Register(ctx, c.AccountID, dispatch.Registration{Name: req.GetName(), Tags: req.GetTags(), Version: req.GetVersion(),
		Hostname: req.GetHostname(), Concurrency: int(req.GetConcurrency())})
	if err != nil {
		return nil, err
	}
	cfg := d.s.Tasks.Config()
	return &delegatev1.RegisterResponse{DelegateId: dl.ID, AccountId: c.AccountID,
		RenewIntervalSeconds: int32(cfg.RenewInterval.Seconds()), PollHoldSeconds: int32(cfg.PollHold.Seconds()),
		KeepaliveMinTimeSeconds: int32(d.s.keepaliveMinTime().Seconds())}, nil
}

func (d *delegateServer) AcquireTask(ctx context.Context, req *delegatev1.AcquireTaskRequest) (*delegatev1.AcquireTaskResponse, error) {
	hold := time.Duration(req.GetPollHoldSeconds()) * time.Second
	a, ok, err := d.s.Tasks.Acquire(ctx, d.caller(ctx).AccountID, req.GetDelegateId(), hold)
	if err != nil || !ok {
		return &delegatev1.AcquireTaskResponse{}, err
	}
	return &delegatev1.AcquireTaskResponse{Task: taskToProto(a)}, nil
}

func (d *delegateServer) RenewLease(ctx context.Context, req *delegatev1.RenewLeaseRequest) (*delegatev1.RenewLeaseResponse, error) {
	res, err := d.s.Tasks.Renew(ctx, d.caller(ctx).AccountID, req.GetTaskId(), req.GetLeaseToken(), req.GetCheckpoint(), progressFromProto(req.GetProgress()))
	if err != nil {
		return nil, err
	}
	return &delegatev1.RenewLeaseResponse{LeaseExpiresAt: timestamppb.New(res.ExpiresAt), CancelRequested: res.CancelRequested}, nil
}

func (d *delegateServer) UploadRecords(ctx context.Context, req *delegatev1.UploadRecordsRequest) (*delegatev1.UploadRecordsResponse, error) {
	records, err := recordsFromProto(req.GetRecords())
	if err != nil {
		return nil, err
	}
	res, err := d.s.Tasks.Upload(ctx, d.caller(ctx).AccountID, req.GetTaskId(), req.GetLeaseToken(), req.GetSequence(), records,
		progressFromProto(req.GetProgress()))
	if err != nil {
		return nil, err
	}
	return &delegatev1.UploadRecordsResponse{AcknowledgedSequence: res.Acknowledged, Duplicate: res.Duplicate}, nil
}

func (d *delegateServer) CompleteTask(ctx context.Context, req *delegatev1.CompleteTaskRequest) (*delegatev1.CompleteTaskResponse, error) {
	outcome := outcomes[req.GetOutcome()] // "" for an unknown value: refused by the task state machine
	var result *tasks.TestResult
	if r := req.GetTestConnection(); r != nil {
		result = &tasks.TestResult{OK: r.GetOk(), TokenValid: r.GetTokenValid(), WorkspaceReachable: r.GetWorkspaceReachable(),
			MissingScopes: r.GetMissingScopes(), Message: r.GetMessage(), Tokens: tokenChecksFromProto(r.GetTokens())}
	}
	_, err := d.s.Tasks.Complete(ctx, store.CompleteRequest{AccountID: d.caller(ctx).AccountID, TaskID: req.GetTaskId(),
		LeaseToken: req.GetLeaseToken(), Outcome: outcome, Error: req.GetError(), Progress: progressFromProto(req.GetProgress()),
		Result: result, Hook: hookResultFromProto(req.GetWebhook()), Checkpoint: req.GetCheckpoint(), Actor: "delegate"})
	if err != nil {
		return nil, err
	}
	return &delegatev1.CompleteTaskResponse{}, nil
}

var outcomes = map[delegatev1.Outcome]tasks.Outcome{
	delegatev1.Outcome_OUTCOME_SUCCEEDED: tasks.Succeeded,
	delegatev1.Outcome_OUTCOME_PARTIAL:   tasks.Partial,
	delegatev1.Outcome_OUTCOME_FAILED:    tasks.Failed,
	delegatev1.Outcome_OUTCOME_CANCELLED: tasks.Cancelled,
	delegatev1.Outcome_OUTCOME_RELEASED:  tasks.Released,
}
