package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DialConfig says how to reach the control plane.
type DialConfig struct {
	// Mode is --transport: which of the two addresses calls go to.
	Mode Mode
	// Address is the gRPC address, host:port (--control-plane).
	Address string
	// HTTPURL is the base URL of the control plane's HTTP face
	// (--control-plane-http), e.g. https://idp.example.com; the
	// DelegateService is served under it at DelegatePath.
	HTTPURL string
	Account string
	Token   string
	// Plaintext dials without TLS (--tls=false), for a local development
	// control plane only.
	Plaintext bool
	// CAFile adds CAs to the system roots for the control plane's
	// certificate.
	CAFile string
	// Dial opens the TCP connection (directly or through the proxy), for
	// both transports.
	Dial      func(ctx context.Context, addr string) (net.Conn, error)
	UserAgent string
	// Keepalive is how long the gRPC connection may be idle before the
	// client pings (--keepalive); zero sends no pings. HTTP/1.1 has no
	// pings.
	Keepalive time.Duration
	// Via is the proxy of the gRPC connection, credentials redacted, ""
	// when direct: auto's fallback message names it.
	Via string
	// Log receives auto's one message when it falls back.
	Log zerolog.Logger
}

// MaxReceive is the largest message the delegate accepts from the
// control plane.
const MaxReceive = 64 << 20

// Client calls the DelegateService.
type Client struct {
	svc   pb.DelegateServiceClient
	close func() error
	// refused is the proxy's refusal of the last gRPC dial, nil once a
	// dial got through: gRPC reports a failed dial only as text.
	refused atomic.Pointer[proxy.AuthError]
}

// Dial creates the client for c.Mode. No I/O happens until the first call.
func Dial(c DialConfig) (*Client, error) {
	client := &Client{}
	if c.Mode == "" {
		c.Mode = ModeGRPC
	}
	haveHTTP := c.HTTPURL != ""
	var g *grpcClient
	var h *connectClient
	var err error
	if Next(c.Mode, haveHTTP, "", nil) == GRPC {
		if g, err = dialGRPC(c, &client.refused); err != nil {
			return nil, err
		}
	}
	if c.Mode != ModeGRPC && haveHTTP {
		if h, err = newConnect(c); err != nil {
			if g != nil {
				g.Close()
			}
			return nil, err
		}
	}
	switch {
	case g != nil && h != nil:
		a := &autoClient{grpc: g, http1: h, mode: c.Mode, via: c.Via, url: c.HTTPURL, log: c.Log}
		client.svc, client.close = a, a.Close
	case g != nil:
		client.svc, client.close = g, g.Close
	case h != nil:
		client.svc, client.close = h, h.Close
	default:
		return nil, errors.New("no transport: --transport http1 needs --control-plane-http")
	}
	return client, nil
}

// translate is the package's translate, plus the proxy's refusal when a
// call failed because the last gRPC dial was refused.
func (c *Client) translate(err error) error {
	err = translate(err)
	var refusedErr *proxyRefusedError
	if r := c.refused.Load(); r != nil && status.Code(err) == codes.Unavailable && !errors.As(err, &refusedErr) {
		return &proxyRefusedError{refusal: r, status: err}
	}
	return err
}

// Close closes the connections.
func (c *Client) Close() error { return c.close() }

// Register announces the delegate.
func (c *Client) Register(ctx context.Context, r task.Registration) (task.Registered, error) {
	resp, err := c.svc.Register(ctx, &pb.RegisterRequest{
		Name: r.Name, Tags: r.Tags, Version: r.Version, Hostname: r.Hostname, Concurrency: int32(r.Concurrency),
	})
	if err != nil {
		return task.Registered{}, c.translate(err)
	}
	return task.Registered{
		DelegateID:       resp.GetDelegateId(),
		AccountID:        resp.GetAccountId(),
		RenewInterval:    time.Duration(resp.GetRenewIntervalSeconds()) * time.Second,
		PollHold:         time.Duration(resp.GetPollHoldSeconds()) * time.Second,
		KeepaliveMinTime: time.Duration(resp.GetKeepaliveMinTimeSeconds()) * time.Second,
	}, nil
}

// AcquireTask long-polls for a task; nil means none came within the hold:
// hold, or the control plane's when hold is zero or longer.
func (c *Client) AcquireTask(ctx context.Context, delegateID string, hold time.Duration) (*task.Task, error) {
	resp, err := c.svc.AcquireTask(ctx, &pb.AcquireTaskRequest{DelegateId: delegateID, PollHoldSeconds: int32(hold / time.Second)})
	if err != nil {
		return nil, c.translate(err)
	}
	if resp.GetTask() == nil {
		return nil, nil
	}
	return taskFromWire(resp.GetTask()), nil
}

// RenewLease extends a lease, reporting progress and a checkpoint.
func (c *Client) RenewLease(ctx context.Context, taskID, lease string, p task.Progress, checkpoint []byte) (task.Renewal, error) {
	resp, err := c.svc.RenewLease(ctx, &pb.RenewLeaseRequest{
		TaskId: taskID, LeaseToken: lease, Progress: progressToWire(p), Checkpoint: checkpoint,
	})
	if err != nil {
		return task.Renewal{}, c.translate(err)
	}
	return task.Renewal{LeaseExpiresAt: fromTS(resp.GetLeaseExpiresAt()), CancelRequested: resp.GetCancelRequested()}, nil
}

// UploadRecords sends one batch, with the task's progress when p is not
// nil; duplicate means it had been applied before.
func (c *Client) UploadRecords(ctx context.Context, taskID, lease string, seq int64, recs []EncodedRecord, p *task.Progress) (duplicate bool, err error) {
	msgs := make([]*pb.Record, len(recs))
	for i, r := range recs {
		msgs[i] = r.m
	}
	req := &pb.UploadRecordsRequest{TaskId: taskID, LeaseToken: lease, Sequence: seq, Records: msgs}
	if p != nil {
		req.Progress = progressToWire(*p)
	}
	resp, err := c.svc.UploadRecords(ctx, req)
	if err != nil {
		return false, c.translate(err)
	}
	if resp.GetAcknowledgedSequence() != seq {
		return false, fmt.Errorf("control plane acknowledged batch %d for batch %d", resp.GetAcknowledgedSequence(), seq)
	}
	return resp.GetDuplicate(), nil
}

// CompleteTask ends a task.
func (c *Client) CompleteTask(ctx context.Context, done task.Completion) error {
	req := &pb.CompleteTaskRequest{
		TaskId: done.TaskID, LeaseToken: done.LeaseToken, Outcome: outcomes[done.Outcome], Error: fitText(done.Error),
		Progress: progressToWire(done.Progress), Checkpoint: done.Checkpoint,
	}
	if r := done.TestConnection; r != nil {
		req.TestConnection = &pb.TestConnectionResult{
			Ok: r.OK, TokenValid: r.TokenValid, WorkspaceReachable: r.WorkspaceReachable,
			MissingScopes: r.MissingScopes, Message: fitText(r.Message), Tokens: tokenChecksToWire(r.Tokens),
		}
	}
	if done.Webhook != nil {
		req.Webhook = webhookResultToWire(done.Webhook)
	}
	_, err := c.svc.CompleteTask(ctx, req)
	return c.translate(err)
}
