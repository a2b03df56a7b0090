package bitbucket

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// StatusError is a definite non-200 answer from Bitbucket (after retries
// for 429 and 5xx ran out, or at once for 4xx).
type StatusError struct {
	Method  string // "" for GET
	Path    string
	Code    int
	Message string
	// Required lists the scopes a 403 says are missing, when it says so.
	Required []string
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	method := e.Method
	if method == "" {
		method = "GET"
	}
	return fmt.Sprintf("%s %s: %d %s", method, e.Path, e.Code, msg)
}

func newStatusError(path string, resp *http.Response) *StatusError {
	e := &StatusError{Path: path, Code: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	var env struct {
		Error struct {
			Message string          `json:"message"`
			Detail  json.RawMessage `json:"detail"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error.Message != "" {
		e.Message = env.Error.Message
		var detail struct {
			Required []string `json:"required"`
		}
		if json.Unmarshal(env.Error.Detail, &detail) == nil {
			e.Required = detail.Required
		}
	} else if s := strings.TrimSpace(string(body)); s != "" && len(s) < 200 && !strings.Contains(s, "<") {
		e.Message = s // 429 bodies are text/plain
	}
	return e
}

// DecodeError says a 200 page could not be used: malformed JSON (retried,
// since proxies and truncated transfers produce it), or an unexpected
// shape or an oversized field (not retried: asking again gets the same).
type DecodeError struct {
	Path      string
	Err       error
	Retryable bool
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("GET %s: unusable response: %v", e.Path, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }
