package bitbucketmock

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func TestOneDebugLinePerRequest(t *testing.T) {
	t.Parallel()
	var buf lockedBuffer
	run := Start(t, Config{Seed: 1, Repos: 2, Logger: zerolog.New(&buf).Level(zerolog.DebugLevel),
		Tokens: []Token{{Name: "ci", Value: "super-secret-token"}}})
	request(t, run, "/repositories/acme?pagelen=1", "Bearer super-secret-token")
	request(t, run, "/repositories/acme?access_token=super-secret-token", "")
	request(t, run, "/repositories/acme", "Bearer wrong-secret")
	run.Close()

	buf.mu.Lock()
	out := buf.b.String()
	buf.mu.Unlock()
	if strings.Contains(out, "super-secret-token") || strings.Contains(out, "wrong-secret") {
		t.Fatalf("a token reached the log: %s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines for 3 requests: %s", len(lines), out)
	}
	var first struct {
		Level, Method, Path, Query, Endpoint, Credential string
		Status                                           int
		Duration                                         float64
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Level != "debug" || first.Method != "GET" || first.Path != "/2.0/repositories/acme" || first.Query != "pagelen=1" ||
		first.Endpoint != "repositories" || first.Credential != "ci" || first.Status != 200 {
		t.Fatalf("log line %s", lines[0])
	}
	if !strings.Contains(lines[2], `"credential":"invalid"`) || !strings.Contains(lines[2], `"status":401`) {
		t.Fatalf("401 line %s", lines[2])
	}
}
