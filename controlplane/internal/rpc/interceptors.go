package rpc

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
)

// Metadata keys of authentication.
const (
	mdAuthorization = "authorization"
	mdAccountID     = "x-account-id"
)

const (
	delegateService = "/idp.delegate.v1.DelegateService/"
	integrationPkg  = "/idp.integration.v1."
	catalogService  = "/idp.catalog.v1.CatalogService/"
)

// publicPrefixes are services that need no credentials: health checks and
// reflection, for load balancers and support tooling.
var publicPrefixes = []string{"/grpc.health.v1.", "/grpc.reflection."}

// catalogReads are the CatalogService methods that need only view rights;
// every other catalog method needs edit rights.
var catalogReads = map[string]bool{"GetEntity": true, "ListEntities": true, "GetEntityActivity": true, "ExportEntities": true}

// requirement returns what a management method needs beyond a valid key.
func requirement(fullMethod string) auth.Requirement {
	switch {
	case strings.HasPrefix(fullMethod, integrationPkg):
		return auth.Requirement{Permission: auth.IntegrationEdit, Flag: auth.FlagAutoDiscovery}
	case strings.HasPrefix(fullMethod, catalogService):
		if catalogReads[strings.TrimPrefix(fullMethod, catalogService)] {
			return auth.Requirement{Permission: auth.CatalogView}
		}
		return auth.Requirement{Permission: auth.CatalogEdit}
	}
	return auth.Requirement{}
}

// Caller is the authenticated principal of a call.
type Caller struct {
	AccountID string
	// Actor names the caller in event logs: "key:<name>" or "delegate".
	Actor string
}

type callerKey struct{}

// CallerFrom returns the authenticated caller of ctx; ok is false for
// public methods.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

type actingAsKey struct{}

// ActingAs returns a context whose management calls, served in process
// through the HTTP face (grpc.Server.ServeHTTP), act as the API key with
// this hash: the console's session layer, having checked the session,
// calls as the key the session was opened with. The key is looked up on
// every call, so its permissions and the account's flags apply as they
// are now. Only code in this process can set a context value; a remote
// caller can only present a key.
func ActingAs(ctx context.Context, keyHash string) context.Context {
	return context.WithValue(ctx, actingAsKey{}, keyHash)
}

func isPublic(fullMethod string) bool {
	for _, p := range publicPrefixes {
		if strings.HasPrefix(fullMethod, p) {
			return true
		}
	}
	return false
}

// authenticate resolves the caller of a method from its metadata.
func (s *Server) authenticate(ctx context.Context, fullMethod string) (context.Context, error) {
	if isPublic(fullMethod) {
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	token, _ := auth.BearerToken(first(md, mdAuthorization))
	if strings.HasPrefix(fullMethod, delegateService) {
		t, err := s.auth.Delegate(ctx, strings.TrimSpace(first(md, mdAccountID)), token)
		if err != nil {
			return ctx, err
		}
		return context.WithValue(ctx, callerKey{}, Caller{AccountID: t.AccountID, Actor: "delegate"}), nil
	}
	var k auth.APIKey
	var err error
	if hash, ok := ctx.Value(actingAsKey{}).(string); ok {
		k, err = s.auth.APIKeyByHash(ctx, hash)
	} else {
		k, err = s.auth.APIKey(ctx, token)
	}
	if err != nil {
		return ctx, err
	}
	caller := Caller{AccountID: k.AccountID, Actor: "key:" + k.Name}
	ctx = context.WithValue(ctx, callerKey{}, caller)
	if err := s.auth.Authorize(ctx, k, requirement(fullMethod)); err != nil {
		return ctx, err
	}
	return ctx, nil
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// unary authenticates, checks, runs and logs every unary call, and turns
// domain errors into statuses.
func (s *Server) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	decodeErr := s.codec.decodeError(req)
	ctx, err := s.authenticate(ctx, info.FullMethod)
	if err == nil {
		err = s.checkRequest(req, decodeErr)
	}
	var resp any
	if err == nil {
		resp, err = s.call(ctx, req, info.FullMethod, handler)
	}
	st, internal := toStatus(err, domainOf(info.FullMethod))
	s.logCall(ctx, info.FullMethod, st, err, internal, time.Since(start))
	if st != nil {
		return nil, st.Err()
	}
	return resp, nil
}

// call runs a handler, turning a panic into an internal error so one bad
// request cannot take the control plane down.
func (s *Server) call(ctx context.Context, req any, method string, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error().Str("method", method).Interface("panic", p).Bytes("stack", debug.Stack()).Msg("rpc handler panicked")
			resp, err = nil, fmt.Errorf("panic in %s: %v", method, p)
		}
	}()
	return handler(ctx, req)
}

// checkRequest refuses a request that did not decode or breaks a rule
// declared in its .proto file.
func (s *Server) checkRequest(req any, decodeErr error) error {
	if decodeErr != nil {
		return decodeErr
	}
	return s.rules.check(req)
}

// stream serves only the public streaming services (health Watch and
// reflection); every product RPC is unary. Their requests are checked
// like unary ones.
func (s *Server) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !isPublic(info.FullMethod) {
		return status.Error(codes.Unimplemented, "streaming is not offered for "+info.FullMethod)
	}
	return handler(srv, &checkedStream{ServerStream: ss, s: s, method: info.FullMethod})
}

// checkedStream checks every message a client streams in.
type checkedStream struct {
	grpc.ServerStream
	s      *Server
	method string
}

func (c *checkedStream) RecvMsg(m any) error {
	if err := c.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := c.s.checkRequest(m, c.s.codec.decodeError(m)); err != nil {
		st, _ := toStatus(err, domainOf(c.method))
		c.s.logCall(c.Context(), c.method, st, err, false, 0)
		return st.Err()
	}
	return nil
}

// violatedFields names the fields of an invalid request.
func violatedFields(err error) []string {
	f := fault.As(err)
	if f == nil {
		return nil
	}
	fields := make([]string, len(f.Violations))
	for i, v := range f.Violations {
		fields[i] = v.Field
	}
	return fields
}

func (s *Server) logCall(ctx context.Context, method string, st *status.Status, err error, internal bool, d time.Duration) {
	code := codes.OK
	if st != nil {
		code = st.Code()
	}
	var ev *zerolog.Event
	switch {
	case internal:
		ev = s.log.Error().Err(err)
	case code == codes.InvalidArgument:
		// The caller's mistake, logged so that a client sending bad
		// requests is seen: by the fields at fault, never their values,
		// which may be anything, a pasted secret included.
		ev = s.log.Info().Strs("fields", violatedFields(err))
	default:
		ev = s.log.Debug()
	}
	if c, ok := CallerFrom(ctx); ok {
		ev = ev.Str("account", c.AccountID)
	}
	ev.Str("method", method).Str("code", code.String()).Float64("duration_ms", float64(d.Microseconds())/1000).Msg("rpc")
}
