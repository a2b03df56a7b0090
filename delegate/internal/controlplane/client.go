package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// DialConfig says how to reach the control plane.
type DialConfig struct {
	Address  string // host:port
	Account  string
	Token    string
	Insecure bool
	CAFile   string
	// Dial opens the TCP connection (directly or through the proxy).
	Dial      func(ctx context.Context, addr string) (net.Conn, error)
	UserAgent string
}

// MaxReceive is the largest message the delegate accepts from the
// control plane.
const MaxReceive = 64 << 20

// Client calls the DelegateService.
type Client struct {
	conn *grpc.ClientConn
	svc  pb.DelegateServiceClient
}

// Dial creates the client. No I/O happens until the first call.
func Dial(c DialConfig) (*Client, error) {
	var tc credentials.TransportCredentials
	if c.Insecure {
		tc = insecure.NewCredentials()
	} else {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("CA file: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("CA file %s holds no PEM certificate", c.CAFile)
			}
		}
		tc = credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(tc),
		grpc.WithPerRPCCredentials(bearer{token: c.Token, account: c.Account, requireTLS: !c.Insecure}),
		// Pings keep idle proxy tunnels open and notice dead ones; the
		// control plane permits them every 30 s, even without a stream.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		grpc.WithUserAgent(c.UserAgent),
		// A SYNC task carries every repository's cursor: about 3.4 MB at
		// 20,000 repositories, close to grpc's 4 MiB default. 64 MiB leaves
		// room for workspaces many times that size.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxReceive)),
	}
	if c.Dial != nil {
		opts = append(opts, grpc.WithContextDialer(c.Dial))
	}
	// passthrough: the dialer gets the host name as given, so the proxy
	// resolves it (corporate networks often cannot).
	conn, err := grpc.NewClient("passthrough:///"+c.Address, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn, svc: pb.NewDelegateServiceClient(conn)}, nil
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
		return task.Registered{}, translate(err)
	}
	return task.Registered{
		DelegateID:    resp.GetDelegateId(),
		AccountID:     resp.GetAccountId(),
		RenewInterval: time.Duration(resp.GetRenewIntervalSeconds()) * time.Second,
		PollHold:      time.Duration(resp.GetPollHoldSeconds()) * time.Second,
	}, nil
}

// AcquireTask long-polls for a task; nil means none came within the hold.
func (c *Client) AcquireTask(ctx context.Context, delegateID string) (*task.Task, error) {
	resp, err := c.svc.AcquireTask(ctx, &pb.AcquireTaskRequest{DelegateId: delegateID})
	if err != nil {
		return nil, translate(err)
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
		return task.Renewal{}, translate(err)
	}
	return task.Renewal{LeaseExpiresAt: fromTS(resp.GetLeaseExpiresAt()), CancelRequested: resp.GetCancelRequested()}, nil
}

// UploadRecords sends one batch; duplicate means it had been applied before.
func (c *Client) UploadRecords(ctx context.Context, taskID, lease string, seq int64, recs []EncodedRecord) (duplicate bool, err error) {
	msgs := make([]*pb.Record, len(recs))
	for i, r := range recs {
		msgs[i] = r.m
	}
	resp, err := c.svc.UploadRecords(ctx, &pb.UploadRecordsRequest{TaskId: taskID, LeaseToken: lease, Sequence: seq, Records: msgs})
	if err != nil {
		return false, translate(err)
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
	_, err := c.svc.CompleteTask(ctx, req)
	return translate(err)
}
