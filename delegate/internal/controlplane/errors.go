package controlplane

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Semantic errors. Callers test them with errors.Is / errors.As.
var (
	// ErrLeaseLost: the task is no longer ours; stop work on it at once.
	ErrLeaseLost = errors.New("lease lost")
	// ErrNotRegistered: the control plane forgot this delegate; register again.
	ErrNotRegistered = errors.New("delegate not registered")
	// ErrRejected: the control plane refuses this delegate (bad token,
	// wrong account). Retrying does not help.
	ErrRejected = errors.New("control plane rejected the delegate")
	// ErrInvalidRecord: a batch was refused as invalid; nothing of it applied.
	ErrInvalidRecord = errors.New("record rejected")
)

// proxyRefusedError is a call that failed because the proxy refused the
// delegate's credentials: errors.As finds the *proxy.AuthError, and the
// gRPC status (UNAVAILABLE, so Transient) stays underneath; its message is
// the refusal's alone, without gRPC's wrapping.
type proxyRefusedError struct {
	refusal *proxy.AuthError
	status  error
}

func (e *proxyRefusedError) Error() string   { return e.refusal.Error() }
func (e *proxyRefusedError) Unwrap() []error { return []error{e.refusal, e.status} }

// SequenceGapError says the control plane expects another batch number.
type SequenceGapError struct {
	Expected int64
}

func (e *SequenceGapError) Error() string {
	return fmt.Sprintf("sequence gap: control plane expects batch %d", e.Expected)
}

// Transient reports whether err is worth retrying after a pause: the
// control plane or the network between us failed, not our request. The
// semantic errors above are never transient, and neither is
// ResourceExhausted: the control plane sets no quotas, so it means a
// message larger than gRPC accepts, which the same message will be again.
// Callers still bound their retries: a server failing on one request every
// time looks transient too.
func Transient(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.Internal, codes.Unknown:
		return true
	}
	return false
}

// translate maps a gRPC error to a semantic one, keeping the original
// status text for logs.
func translate(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	reason := ""
	if info != nil {
		reason = info.GetReason()
	}
	switch {
	case st.Code() == codes.FailedPrecondition && (reason == "LEASE_LOST" || reason == ""):
		return fmt.Errorf("%w: %s", ErrLeaseLost, st.Message())
	case st.Code() == codes.NotFound && reason == "DELEGATE_NOT_REGISTERED":
		return fmt.Errorf("%w: %s", ErrNotRegistered, st.Message())
	case st.Code() == codes.OutOfRange:
		if n, err := strconv.ParseInt(info.GetMetadata()["expectedSequence"], 10, 64); err == nil {
			return &SequenceGapError{Expected: n}
		}
		return fmt.Errorf("sequence gap without expectedSequence: %s", st.Message())
	case st.Code() == codes.Unauthenticated, st.Code() == codes.PermissionDenied:
		return fmt.Errorf("%w (%s): %s", ErrRejected, st.Code(), st.Message())
	case st.Code() == codes.InvalidArgument && reason == "INVALID_RECORD":
		return fmt.Errorf("%w: %s", ErrInvalidRecord, st.Message())
	case st.Code() == codes.Unavailable && strings.Contains(st.Message(), "x509: "):
		// Still transient (the certificate may be replaced), but say what to do.
		return fmt.Errorf("%w (the control plane's TLS certificate is not trusted: set --ca-file to the CA that signed it)", err)
	case st.Code() == codes.Unavailable && strings.Contains(st.Message(), "missing selected ALPN property"):
		return fmt.Errorf("%w (the TLS peer does not speak HTTP/2, as gRPC needs: usually a TLS-inspecting proxy; set --control-plane-http to the control plane's HTTP address so that --transport auto or http1 can use HTTP/1.1, or exempt the control plane's host from inspection, or reach it directly with NO_PROXY)", err)
	case st.Code() == codes.Unavailable && strings.Contains(st.Message(), "first record does not look like a TLS handshake"):
		return fmt.Errorf("%w (the control plane answers in plaintext on this address: check --control-plane, or use --tls=false for a local development control plane)", err)
	}
	return err
}
