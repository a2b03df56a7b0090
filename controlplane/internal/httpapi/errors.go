package httpapi

import (
	"errors"
	"net/http"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/rpc"
)

// errorDomain is the ErrorInfo domain of failures of the HTTP face itself
// (sessions, CSRF); the services answer with their proto package.
const errorDomain = "idp.console"

// Reasons of the HTTP face's own failures.
const (
	ReasonSessionInvalid   = "CONSOLE_SESSION_INVALID"
	ReasonCSRFTokenInvalid = "CSRF_TOKEN_INVALID"
	ReasonOriginRejected   = "ORIGIN_REJECTED"
	ReasonNoSuchMethod     = "NO_SUCH_METHOD"
)

var errorWriter = connect.NewErrorWriter()

// writeError answers err in the protocol of the request: Connect's JSON
// error for anything that is not gRPC or gRPC-Web. The code and details
// come from the same table as the services' (rpc.Status), so a console
// error reads like any other.
func writeError(w http.ResponseWriter, r *http.Request, log zerolog.Logger, err error) {
	st, internal := rpc.Status(err, errorDomain)
	if internal {
		log.Error().Err(err).Str("path", r.URL.Path).Msg("http request failed")
	}
	ce := connect.NewError(connect.Code(st.Code()), errors.New(st.Message()))
	for _, d := range st.Proto().GetDetails() {
		if detail, derr := connect.NewErrorDetail(d); derr == nil {
			ce.AddDetail(detail)
		}
	}
	_ = errorWriter.Write(w, r, ce)
}

// notFound answers every path that names nothing.
type notFound struct{ log zerolog.Logger }

func (n notFound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, n.log, fault.New(fault.NotFound, ReasonNoSuchMethod, "nothing is served at %s", r.URL.Path))
}
