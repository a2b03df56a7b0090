package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binDir holds the four binaries, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "idp-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := buildBinaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinaries builds the real programs from the workspace root, exactly
// as a user would, so the test exercises what ships.
func buildBinaries(dir string) error {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil {
		return fmt.Errorf("go env GOWORK: %w", err)
	}
	gowork := strings.TrimSpace(string(out))
	if gowork == "" || gowork == "off" {
		return errors.New("the end-to-end test runs inside the workspace (go.work); run it from the repository")
	}
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
		"./shared/cmd/mock-bitbucket", "./controlplane/cmd/controlplane",
		"./controlplane/cmd/idpctl", "./delegate/cmd/delegate")
	cmd.Dir = filepath.Dir(gowork)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

// process is a running binary whose combined output is kept for
// assertions and shown when the test fails.
type process struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs binary with args and extra environment; it is stopped with
// SIGTERM when the test ends, and its output is logged if the test failed.
func start(t *testing.T, binary string, env []string, args ...string) *process {
	t.Helper()
	p := &process{t: t, name: binary, out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(binDir, binary), args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", binary, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- output of %s:\n%s", binary, p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits; it reports whether the process exited 0.
func (p *process) stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within 30s of SIGTERM", p.name)
	}
}

// waitOutput waits until the output matches re and returns the first
// submatch (or the whole match).
func (p *process) waitOutput(re *regexp.Regexp, timeout time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m[len(m)-1]
		}
		select {
		case <-p.done:
			p.t.Fatalf("%s exited (%v) before printing %q:\n%s", p.name, p.err, re, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.t.Fatalf("%s did not print %q within %s:\n%s", p.name, re, timeout, p.out.String())
	return ""
}

// logLines returns the JSON log lines of the process, decoded.
func (p *process) logLines() []map[string]any {
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}

// credentials are what `controlplane admin bootstrap` prints.
type credentials struct {
	APIKey        string `json:"api_key"`
	DelegateToken string `json:"delegate_token"`
}

// bootstrap creates account e2e in the database db and returns its
// credentials.
func bootstrap(t *testing.T, db string) credentials {
	t.Helper()
	out, err := runBinary("controlplane", "admin", "bootstrap", "--db", db, "--account", "e2e", "-o", "json")
	if err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	var creds credentials
	if err := json.Unmarshal(out, &creds); err != nil || creds.APIKey == "" || creds.DelegateToken == "" {
		t.Fatalf("bootstrap -o json printed %s (%v); want api_key and delegate_token", out, err)
	}
	return creds
}

// cli runs idpctl against one control plane.
type cli struct {
	t      *testing.T
	server string
	apiKey string
	env    []string // more environment, after the server and key
}

// run runs idpctl and returns stdout, stderr and the exit code.
func (c cli) run(args ...string) (string, string, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "idpctl"), args...)
	cmd.Env = append(append(os.Environ(), "IDP_SERVER="+c.server, "IDP_API_KEY="+c.apiKey), c.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		c.t.Fatalf("idpctl %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), code
}

// ok runs idpctl, fails the test unless it exits 0, and returns stdout.
func (c cli) ok(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("idpctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// json runs idpctl with -o json and decodes stdout into v.
func (c cli) json(v any, args ...string) {
	c.t.Helper()
	out := c.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("idpctl %s -o json printed invalid JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fails runs idpctl, expects exit code want, and returns stderr.
func (c cli) fails(want int, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code != want {
		c.t.Fatalf("idpctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return errOut
}

// table splits a table printed by idpctl into rows of cells; columns are
// separated by two or more spaces, as text/tabwriter pads them.
func table(t *testing.T, out string) (header []string, rows [][]string) {
	t.Helper()
	split := regexp.MustCompile(`\s{2,}`)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatalf("no table in output:\n%s", out)
	}
	header = split.Split(strings.TrimSpace(lines[0]), -1)
	for _, l := range lines[1:] {
		rows = append(rows, split.Split(strings.TrimSpace(l), -1))
	}
	return header, rows
}

// mockControl calls the mock Bitbucket's control API.
func mockControl(t *testing.T, base, method, path, body string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("mock control %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("mock control %s %s: %s: %s", method, path, resp.Status, b)
	}
}

// items returns the "items" array of a list printed with -o json.
func items(t *testing.T, list map[string]any) []map[string]any {
	t.Helper()
	raw, ok := list["items"].([]any)
	if !ok {
		t.Fatalf("list has no items array: %v", list)
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

// find returns the item whose field equals value.
func find(t *testing.T, list []map[string]any, field, value string) map[string]any {
	t.Helper()
	for _, it := range list {
		if it[field] == value {
			return it
		}
	}
	t.Fatalf("no item with %s=%q among %d items", field, value, len(list))
	return nil
}

// has reports whether some item's field equals value.
func has(list []map[string]any, field, value string) bool {
	for _, it := range list {
		if it[field] == value {
			return true
		}
	}
	return false
}

// path walks nested maps: path(m, "a", "b") is m["a"]["b"].
func path(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}
