package controlplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/catalog-discovery/bitbucket/shared/tlstrust"
)

// DialConfig says how to reach the control plane.
type DialConfig struct {
	Address string // host:port
	Account string
	Token   string
	// Plaintext dials without TLS (--tls=false), for a local development
	// control plane only.
	Plaintext bool
	// CAFile adds CAs to the system roots for the control plane's
	// certificate.
	CAFile string
	// Dial opens the TCP connection (directly or through the proxy).
	Dial      func(ctx context.Context, addr string) (net.Conn, error)
	UserAgent string
	// Keepalive is how long the connection may be idle before the client
	// pings (--keepalive); zero sends no pings.
	Keepalive time.Duration
}

// MaxReceive is the largest message the delegate accepts from the
// control plane.
const MaxReceive = 64 << 20

// Client calls the DelegateService.
type Client struct {
	conn *grpc.ClientConn
	svc  pb.DelegateServiceClient
	// refused is the proxy's refusal of the last dial, nil once a dial
	// got through: gRPC reports a failed dial only as text.
	refused atomic.Pointer[proxy.AuthError]
}

// Dial creates the client. No I/O happens until the first call.
func Dial(c DialConfig) (*Client, error) {
	var tc credentials.TransportCredentials
	if c.Plaintext {
		tc = insecure.NewCredentials()
	} else {
		pool, err := tlstrust.Roots(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		tc = credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	}
	ka := keepalive.ClientParameters{Time: c.Keepalive, Timeout: 10 * time.Second, PermitWithoutStream: true}
	if c.Keepalive <= 0 {
		ka = keepalive.ClientParameters{} // gRPC's default: no pings
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(tc),
		grpc.WithPerRPCCredentials(bearer{token: c.Token, account: c.Account, requireTLS: !c.Plaintext}),
		// Pings keep idle proxy tunnels open and notice dead ones; the
		// control plane permits them down to its --keepalive-min-time,
		// even without a stream.
		grpc.WithKeepaliveParams(ka),
		grpc.WithUserAgent(c.UserAgent),
		// A SYNC task carries every repository's cursor: about 3.4 MB at
		// 20,000 repositories, close to grpc's 4 MiB default. 64 MiB leaves
		// room for workspaces many times that size.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxReceive)),
	}
	client := &Client{}
	if c.Dial != nil {
		opts = append(opts, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			conn, err := c.Dial(ctx, addr)
			var refused *proxy.AuthError
			switch {
			case errors.As(err, &refused):
				client.refused.Store(refused)
			case err == nil:
				client.refused.Store(nil)
			}
			return conn, err
		}))
	}
	// passthrough: the dialer gets the host name as given, so the proxy
	// resolves it (corporate networks often cannot).
	conn, err := grpc.NewClient("passthrough:///"+c.Address, opts...)
	if err != nil {
		return nil, err
	}
	client.conn, client.svc = conn, pb.NewDelegateServiceClient(conn)
	return client, nil
}

// translate is the package's translate, plus the proxy's refusal when a
// call failed because the last dial was refused.
func (c *Client) translate(err error) error {
	err = translate(err)
	if r := c.refused.Load(); r != nil && status.Code(err) == codes.Unavailable {
		return &proxyRefusedError{refusal: r, status: err}
	}
	return err
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

type bearer struct {
	token, account string
	requireTLS     bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token, "x-account-id": b.account}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.requireTLS }

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
			MissingScopes: r.MissingScopes, Message: fitText(r.Message),
		}
	}
	if done.Webhook != nil {
		req.Webhook = webhookResultToWire(done.Webhook)
	}
	_, err := c.svc.CompleteTask(ctx, req)
	return c.translate(err)
}
