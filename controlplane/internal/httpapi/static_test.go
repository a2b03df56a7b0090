package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestConsoleAssets(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	c := h.srv.Client()
	index := "<!doctype html><title>console</title>"
	tests := []struct {
		path   string
		status int
		body   string
		cache  string
	}{
		{"/", 200, index, "no-cache"},
		{"/index.html", 200, index, "no-cache"},
		{"/integrations", 200, index, "no-cache"},
		{"/integrations/int_123/discovered", 200, index, "no-cache"},
		{"/assets/index-3f2a9c.js", 200, "console.log(1)", "public, max-age=31536000, immutable"},
		{"/assets/index-3f2a9c.css", 200, "body{}", "public, max-age=31536000, immutable"},
		{"/favicon.svg", 200, "<svg/>", "no-cache"},
		{"/assets/missing-000000.js", 404, "", ""},
		{"/robots.txt", 404, "", ""},
		{"/console/other", 404, "", ""},
		{"/api/", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.srv.URL+tt.path, nil)
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			body := string(raw)
			if res.StatusCode != tt.status {
				t.Fatalf("HTTP %d, want %d: %s", res.StatusCode, tt.status, body)
			}
			hd := res.Header
			if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Referrer-Policy") == "" {
				t.Errorf("security headers missing: %v", hd)
			}
			if tt.status != 200 {
				return
			}
			if body != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			if got := hd.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			csp := hd.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP %q allows inline or eval'd code", csp)
			}
			if hd.Get("ETag") == "" {
				t.Error("no ETag to revalidate by")
			}
		})
	}

	// index.html revalidates by its ETag.
	r := h.do(c, http.MethodGet, "/", "")
	if r2 := h.do(c, http.MethodGet, "/", "", "If-None-Match: "+r.header.Get("ETag")); r2.status != http.StatusNotModified {
		t.Errorf("revalidation: HTTP %d, want 304", r2.status)
	}
	if r := h.do(c, http.MethodPost, "/integrations", "x"); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST to a page: HTTP %d, want 405", r.status)
	}
}
