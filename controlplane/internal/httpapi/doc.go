// Package httpapi is the control plane's HTTP face, for curl and the web
// console: the management services under /api/ (Connect, gRPC-Web and
// gRPC, transcoded by vanguard into calls of the same grpc.Server, so
// every interceptor, rule and error applies unchanged), the
// DelegateService under /delegate/ the same way, for delegates whose path
// does not pass HTTP/2, console sign-in sessions under /console/session,
// and the embedded console at /.
//
// A browser never holds an API key. It exchanges one for a server-side
// session: the session id travels in an HttpOnly cookie, the store keeps
// only its hash and a reference to the key, and every cookie call must
// echo a CSRF token derived from the session id. Calls with an
// Authorization header are plain API calls and ignore the cookie.
package httpapi
