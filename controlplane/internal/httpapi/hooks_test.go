package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/webhook"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
)

// hookIntegration stores an integration of account acme with its webhook
// secret and returns its delivery path and secret.
func (h *harness) hookIntegration() (path, secret string) {
	h.t.Helper()
	ctx := context.Background()
	conn := integration.Connector{ID: ids.New("con"), AccountID: "acme", Name: "bb", URL: "https://bitbucket.org/acme",
		Username: "x-token-auth", TokenRef: "env:BB", APIBaseURL: integration.DefaultAPIBaseURL, Workspace: "acme", CreatedAt: h.clock.Now()}
	if err := h.db.CreateConnector(ctx, conn); err != nil {
		h.t.Fatal(err)
	}
	in, err := integration.New(integration.Draft{Name: "main"}, conn, h.clock.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	in.ID = ids.New("int")
	if _, err := h.db.CreateIntegration(ctx, in, store.SyncRequest{AccountID: "acme", Trigger: tasks.Manual, Actor: "t", Now: h.clock.Now()}); err != nil {
		h.t.Fatal(err)
	}
	secret, err = h.db.EnsureWebhookSecret(ctx, in.ID, webhook.NewSecret())
	if err != nil {
		h.t.Fatal(err)
	}
	return webhook.Path + in.ID, secret
}

type delivery struct {
	method, path, event, request, signature string
	body                                    []byte
}

func (h *harness) deliver(d delivery) (int, string) {
	h.t.Helper()
	req, _ := http.NewRequest(d.method, h.srv.URL+d.path, bytes.NewReader(d.body))
	if d.event != "" {
		req.Header.Set("X-Event-Key", d.event)
	}
	if d.request != "" {
		req.Header.Set("X-Request-UUID", d.request)
	}
	if d.signature != "" {
		req.Header.Set("X-Hub-Signature", d.signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHookReceiverAnswers(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	path, secret := h.hookIntegration()
	body := []byte(`{"repository":{"uuid":"{r1}","full_name":"acme/svc"}}`)
	sig := bitbucketmock.Signature(secret, body)
	big := append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), webhook.MaxPayload)...)
	big = append(big, `"}`...)

	unauthorized := ""
	for _, tt := range []struct {
		name string
		d    delivery
		want int
	}{
		{"GET", delivery{method: "GET", path: path}, http.StatusNotFound},
		{"no integration in the path", delivery{method: "POST", path: webhook.Path, event: "repo:created", request: "r0", signature: sig, body: body}, http.StatusNotFound},
		{"unsigned", delivery{method: "POST", path: path, event: "repo:created", request: "r1", body: body}, http.StatusUnauthorized},
		{"wrong secret", delivery{method: "POST", path: path, event: "repo:created", request: "r1", signature: bitbucketmock.Signature("x", body), body: body}, http.StatusUnauthorized},
		{"unknown integration", delivery{method: "POST", path: webhook.Path + "int_nope", event: "repo:created", request: "r1", signature: sig, body: body}, http.StatusUnauthorized},
		{"no request id", delivery{method: "POST", path: path, event: "repo:created", signature: sig, body: body}, http.StatusBadRequest},
		{"over 256 KB", delivery{method: "POST", path: path, event: "repo:created", request: "r2", signature: bitbucketmock.Signature(secret, big), body: big}, http.StatusRequestEntityTooLarge},
		{"genuine", delivery{method: "POST", path: path, event: "repo:created", request: "r1", signature: sig, body: body}, http.StatusAccepted},
		{"retried", delivery{method: "POST", path: path, event: "repo:created", request: "r1", signature: sig, body: body}, http.StatusOK},
	} {
		code, out := h.deliver(tt.d)
		if code != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, code, out, tt.want)
		}
		if code == http.StatusUnauthorized {
			// Unknown integration and bad signature answer alike.
			if unauthorized != "" && out != unauthorized {
				t.Errorf("%s: 401 body %q differs from %q", tt.name, out, unauthorized)
			}
			unauthorized = out
		}
	}
	if strings.Contains(unauthorized, "int_") {
		t.Errorf("401 body names an integration: %s", unauthorized)
	}
}

func TestHookReceiverLimitsEachSource(t *testing.T) {
	h := newHarness(t, harnessOptions{hookBurst: 3})
	path, secret := h.hookIntegration()
	body := []byte(`{}`)
	var codes []int
	for i := range 5 {
		code, _ := h.deliver(delivery{method: "POST", path: path, event: "repo:created", request: "r" + string(rune('a'+i)),
			signature: bitbucketmock.Signature(secret, body), body: body})
		codes = append(codes, code)
	}
	want := []int{202, 202, 202, 429, 429}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("answers %v, want %v (a burst of 3; the fake clock refills nothing)", codes, want)
		}
	}
}
