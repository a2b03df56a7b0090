package bitbucket

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Credential is a resolved Bitbucket access token. Its String method never
// shows the token, so it is safe to log by accident.
type Credential struct {
	token string
	// Key identifies the credential in budgets and metrics: a hash prefix
	// of the token, never the token.
	Key string
	// Ref is the reference it was resolved from, when it was.
	Ref string
}

func (c Credential) String() string { return "credential " + c.Key }

// Token returns the secret, for the Authorization header only.
func (c Credential) Token() string { return c.token }

// NewCredential wraps a token.
func NewCredential(token string) Credential {
	sum := sha256.Sum256([]byte(token))
	return Credential{token: token, Key: hex.EncodeToString(sum[:6])}
}

// ResolveError says a token reference could not be resolved. It names the
// reference and never the value.
type ResolveError struct {
	Ref    string
	Reason string
}

func (e *ResolveError) Error() string {
	return fmt.Sprintf("token reference %q: %s", e.Ref, e.Reason)
}

// ResolveToken resolves a task's token reference on this machine: env:NAME
// reads an environment variable, file:/path reads a file (surrounding white
// space trimmed). Secrets never leave the delegate's network. Whether the
// task may use the reference is access.Policy's decision, made before.
// A failure says only "not set" or "not readable": whether a file exists,
// or what stopped it being read, is none of the control plane's business.
func ResolveToken(ref string, getenv func(string) (string, bool), readFile func(string) ([]byte, error)) (Credential, error) {
	kind, name, ok := strings.Cut(ref, ":")
	if !ok || name == "" || (kind != "env" && kind != "file") {
		// Not echoed: a malformed reference is sometimes the token itself.
		return Credential{}, &ResolveError{Ref: "(not shown)", Reason: "is not of the form env:NAME or file:/path"}
	}
	var token string
	switch kind {
	case "env":
		v, _ := getenv(name)
		token = strings.TrimSpace(v)
		if token == "" {
			return Credential{}, &ResolveError{Ref: ref, Reason: "is not set on the delegate"}
		}
	case "file":
		b, err := readFile(name)
		token = strings.TrimSpace(string(b))
		if err != nil || token == "" {
			return Credential{}, &ResolveError{Ref: ref, Reason: "is not readable on the delegate"}
		}
	}
	c := NewCredential(token)
	c.Ref = ref
	return c, nil
}
