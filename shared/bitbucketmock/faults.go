package bitbucketmock

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// faultState decides which API requests misbehave.
type faultState struct {
	mu    sync.Mutex
	cfg   Faults
	queue []FaultKind // forced faults for the next requests, before any drawn ones
	n     uint64      // API requests numbered so far
}

// draw numbers the next API request and decides its fault ("" for none).
// The decision depends only on (seed, request number), so a sequential
// client meets the same faults on every run.
func (f *faultState) draw(seed int64) (uint64, FaultKind) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if len(f.queue) > 0 {
		k := f.queue[0]
		f.queue = f.queue[1:]
		return f.n, k
	}
	if f.cfg.Rate <= 0 {
		return f.n, ""
	}
	g := newRNG(uint64(seed), kindFault, f.n)
	if !g.chance(f.cfg.Rate) {
		return f.n, ""
	}
	kinds := f.cfg.kinds()
	return f.n, kinds[g.intn(len(kinds))]
}

func (f *faultState) settings() Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
}

// Bodies of the 5xx faults: Bitbucket's own errors are JSON; the proxy in
// front of it answers 502 and 503 with HTML.
var faultBodies = map[FaultKind]struct {
	status      int
	contentType string
	body        string
}{
	Fault500: {500, jsonType, `{"type": "error", "error": {"message": "Something went wrong", "id": "5e2f0c8a9d1b4f3e8c7a6b5d4e3f2a1b"}}`},
	Fault502: {502, "text/html", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"},
	Fault503: {503, "text/html", "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"},
}

// isBodyFault reports whether kind spoils a successful response's body
// rather than replacing the response.
func isBodyFault(kind FaultKind) bool {
	switch kind {
	case FaultReset, FaultTruncate, FaultMalformed, FaultTrickle:
		return true
	}
	return false
}

// writeWithFault sends rep spoiled by kind, one of the body faults.
func writeWithFault(w http.ResponseWriter, r *http.Request, rep reply, kind FaultKind, delay time.Duration) {
	body := rep.body
	switch kind {
	case FaultTruncate:
		body = body[:len(body)/2]
	case FaultMalformed:
		// Dropping the first key's colon breaks every JSON parser, however
		// lenient, while the response still looks whole.
		if i := bytes.Index(body, []byte(`": `)); i >= 0 {
			body = append(append([]byte{}, body[:i+1]...), body[i+2:]...)
		} else {
			body = append([]byte("<"), body...)
		}
	}
	setHeaders(w, rep)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rep.status)
	rc := http.NewResponseController(w)
	switch kind {
	case FaultReset:
		_, _ = w.Write(body[:len(body)/2])
		_ = rc.Flush()
		resetConnection(w)
	case FaultTrickle:
		const chunks = 20
		step := (len(body) + chunks - 1) / chunks
		for i := 0; i < len(body); i += step {
			if !sleep(r.Context(), delay/chunks) {
				return
			}
			_, _ = w.Write(body[i:min(i+step, len(body))])
			_ = rc.Flush()
		}
	default:
		_, _ = w.Write(body)
	}
}

// resetConnection aborts the response mid-body. Over HTTP/1 it hijacks the
// connection and closes it with SO_LINGER 0, so the client sees a TCP reset;
// where hijacking is impossible (HTTP/2) it aborts the stream.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // the documented way to abort a response; net/http recovers it silently
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// sleep waits d unless ctx ends first; it reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
