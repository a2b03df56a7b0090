package rpc

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
)

// grpcCodes maps each fault code to its gRPC code. This is the only place
// where domain failures meet transport codes.
var grpcCodes = map[fault.Code]codes.Code{
	fault.Internal:           codes.Internal,
	fault.Invalid:            codes.InvalidArgument,
	fault.NotFound:           codes.NotFound,
	fault.AlreadyExists:      codes.AlreadyExists,
	fault.FailedPrecondition: codes.FailedPrecondition,
	fault.PermissionDenied:   codes.PermissionDenied,
	fault.Unauthenticated:    codes.Unauthenticated,
	fault.OutOfRange:         codes.OutOfRange,
	fault.Unavailable:        codes.Unavailable,
}

// defaultReasons gives every fault without a reason of its own a stable
// one, because every error response carries exactly one ErrorInfo.
var defaultReasons = map[fault.Code]string{
	fault.Internal:           "INTERNAL",
	fault.Invalid:            "INVALID_ARGUMENT",
	fault.NotFound:           "NOT_FOUND",
	fault.AlreadyExists:      "ALREADY_EXISTS",
	fault.FailedPrecondition: "FAILED_PRECONDITION",
	fault.PermissionDenied:   "PERMISSION_DENIED",
	fault.Unauthenticated:    "UNAUTHENTICATED",
	fault.OutOfRange:         "OUT_OF_RANGE",
	fault.Unavailable:        "UNAVAILABLE",
}

// domainOf returns the ErrorInfo domain of a full method name: its proto
// package, e.g. "idp.delegate.v1".
func domainOf(fullMethod string) string {
	svc, _, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if i := strings.LastIndexByte(svc, '.'); i > 0 {
		return svc[:i]
	}
	return svc
}

// toStatus converts an error returned by domain code to a gRPC status
// error. Errors that are not faults are internal: their text stays in the
// log and the caller gets a generic message.
func toStatus(err error, domain string) (*status.Status, bool) {
	if err == nil {
		return nil, false
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return s, false // already a status (e.g. from grpc itself)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "the call was cancelled"), false
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "the call's deadline passed"), false
	}
	f := fault.As(err)
	internal := f == nil || f.Code == fault.Internal
	if f == nil {
		f = &fault.Error{Code: fault.Internal, Message: "internal error; the control plane log has the details"}
	}
	reason := f.Reason
	if reason == "" {
		reason = defaultReasons[f.Code]
	}
	st := status.New(grpcCodes[f.Code], f.Error())
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: domain, Metadata: f.Metadata}}
	if len(f.Violations) > 0 {
		br := &errdetails.BadRequest{}
		for _, v := range f.Violations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
		}
		details = append(details, br)
	}
	withDetails, derr := st.WithDetails(details...)
	if derr != nil {
		return st, internal
	}
	return withDetails, internal
}

// Status is the status a service would answer err with, for the edges that
// answer outside a gRPC call (the console's sign-in endpoints), so they
// speak with the same codes and details. internal reports an error whose
// text belongs in the log rather than the answer.
func Status(err error, domain string) (st *status.Status, internal bool) {
	return toStatus(err, domain)
}
