package logging

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"strings"
	"sync"
)

// Redacted replaces a secret wherever one would have been printed.
const Redacted = "[REDACTED]"

// minSecretLen keeps trivially short values (an empty env var, "x") from
// turning every log line into confetti.
const minSecretLen = 4

// Secrets is the set of values that must never be logged: delegate tokens,
// Bitbucket tokens, proxy passwords. Code that learns a secret registers it
// once; the log writer then scrubs it from every line, including lines that
// quote an error or URL some library built. The zero value is ready to use.
type Secrets struct {
	mu     sync.RWMutex
	values [][]byte
}

// Add registers values to scrub. Short values are ignored (see minSecretLen).
// Each value is also registered in the forms it takes when a library quotes
// it: percent-encoded (in a proxy URL inside a dial error) and JSON-escaped
// (inside a log field), so a password such as "p@ss\"word" cannot slip out
// encoded.
func (s *Secrets) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if len(v) < minSecretLen {
			continue
		}
		for _, form := range encodings(v) {
			if !s.hasLocked(form) {
				s.values = append(s.values, []byte(form))
			}
		}
	}
}

// encodings returns v and the encoded forms of it that differ from v.
func encodings(v string) []string {
	forms := []string{v}
	userinfo := strings.TrimPrefix(url.UserPassword("u", v).String(), "u:")
	quoted, _ := json.Marshal(v)
	for _, f := range []string{userinfo, url.QueryEscape(v), url.PathEscape(v), string(quoted[1 : len(quoted)-1])} {
		if f != v {
			forms = append(forms, f)
		}
	}
	return forms
}

func (s *Secrets) hasLocked(v string) bool {
	for _, have := range s.values {
		if string(have) == v {
			return true
		}
	}
	return false
}

// Scrub returns b with every registered secret replaced by Redacted.
func (s *Secrets) Scrub(b []byte) []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.values {
		if bytes.Contains(b, v) {
			b = bytes.ReplaceAll(b, v, []byte(Redacted))
		}
	}
	return b
}

// ScrubString is Scrub for strings, for error messages sent over the wire.
func (s *Secrets) ScrubString(v string) string {
	return string(s.Scrub([]byte(v)))
}

// Writer wraps out so that everything written is scrubbed first.
func (s *Secrets) Writer(out io.Writer) io.Writer {
	return &scrubWriter{secrets: s, out: out}
}

type scrubWriter struct {
	secrets *Secrets
	out     io.Writer
}

// Write reports len(p) on success even when scrubbing changed the length,
// because callers (zerolog) treat a short count as an error.
func (w *scrubWriter) Write(p []byte) (int, error) {
	if _, err := w.out.Write(w.secrets.Scrub(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// URL renders u with any password replaced by Redacted, written as is
// (http://alice:[REDACTED]@proxy:3128, not percent-encoded), for log lines
// and messages about proxies and endpoints. A nil URL renders as "direct".
func URL(u *url.URL) string {
	if u == nil {
		return "direct"
	}
	if _, has := u.User.Password(); !has {
		return u.String()
	}
	c := *u
	c.User = url.User(u.User.Username())
	s := c.String()
	// The user info ends at the first "@" after the scheme: the user name
	// is percent-encoded, so it holds none.
	if i := strings.Index(s, "@"); i >= 0 {
		return s[:i] + ":" + Redacted + s[i:]
	}
	return s
}
