package httpapi

import (
	"fmt"
	"mime"
	"net/http"
	"strings"

	"connectrpc.com/vanguard"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/rpc"
)

// apiPrefix is where the services are mounted; it is stripped before the
// transcoder sees the path, e.g.
// /api/idp.integration.v1.IntegrationService/ListIntegrations.
const apiPrefix = "/api/"

// api serves the mounted services through a vanguard transcoder into the
// gRPC server, after turning a console session into the key it acts as.
type api struct {
	transcoder http.Handler
	sessions   *sessionManager // nil: credentials in headers only
}

// newAPI mounts services of g. The transcoder speaks Connect (JSON and
// binary), gRPC-Web and gRPC to clients and only gRPC with the proto codec
// to g, which therefore needs no codec of its own: vanguard decodes JSON
// with the service's schema and re-encodes it. Only the named services are
// reachable; the DelegateService has a mount of its own (delegate.go).
func newAPI(g *grpc.Server, services []string, sessions *sessionManager, log zerolog.Logger) (*api, error) {
	t, err := newTranscoder(g, services, rpc.MaxRecvMsgSize, apiPrefix, log)
	if err != nil {
		return nil, err
	}
	return &api{transcoder: t, sessions: sessions}, nil
}

// newTranscoder serves the named services of g, mounted at prefix, into
// g's own handler (grpc.Server.ServeHTTP), so every interceptor of the
// gRPC server (authentication, request rules, metrics, logging, faults to
// statuses) applies as to a gRPC call. maxBuffer bounds one message held
// in memory, in either direction.
func newTranscoder(g *grpc.Server, services []string, maxBuffer uint32, prefix string, log zerolog.Logger) (http.Handler, error) {
	registered := g.GetServiceInfo()
	mounted := make([]*vanguard.Service, 0, len(services))
	for _, name := range services {
		if _, ok := registered[name]; !ok {
			return nil, fmt.Errorf("httpapi: service %s is not registered on the gRPC server", name)
		}
		mounted = append(mounted, vanguard.NewService(name, g))
	}
	t, err := vanguard.NewTranscoder(mounted,
		vanguard.WithDefaultServiceOptions(
			vanguard.WithTargetProtocols(vanguard.ProtocolGRPC),
			vanguard.WithTargetCodecs(vanguard.CodecProto),
			vanguard.WithMaxMessageBufferBytes(maxBuffer),
		),
		vanguard.WithCodec(newJSONCodec),
		vanguard.WithCodec(newProtoCodec),
		vanguard.WithUnknownHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, r, log, fault.New(fault.NotFound, ReasonNoSuchMethod,
				"no method %s%s: %s serves POST %s<package>.<Service>/<Method> of %s",
				strings.TrimSuffix(prefix, "/"), r.URL.Path, prefix, prefix, strings.Join(services, ", ")))
		})),
	)
	if err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	return t, nil
}

// ServeHTTP passes API calls (an Authorization header) straight through;
// a call with the session cookie must carry the session's CSRF token and
// then runs as the session's key. A call with neither reaches the
// services unauthenticated and gets their answer.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.sessions != nil && r.Header.Get("Authorization") == "" {
		if id, ok := sessionCookie(r); ok {
			s, err := a.sessions.authorize(r, id)
			if err != nil {
				writeError(w, r, a.sessions.log, err)
				return
			}
			r = r.WithContext(rpc.ActingAs(r.Context(), s.APIKeyHash))
		}
	}
	// The session secrets go no further than this layer.
	r.Header.Del("Cookie")
	r.Header.Del(csrfHeader)
	connectUnary(r)
	a.transcoder.ServeHTTP(w, r)
}

// connectUnary marks a plain POST of JSON or proto as a Connect unary
// call, as Connect's own servers take it: without the mark vanguard would
// look for a REST route, and the services have none, so that
// `curl -H 'Content-Type: application/json' -d '{}'` works as is.
func connectUnary(r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Connect-Protocol-Version") != "" {
		return
	}
	switch ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct {
	case "application/json", "application/proto":
		r.Header.Set("Connect-Protocol-Version", "1")
	}
}
