package logging

import (
	"bytes"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSecretsNeverReachOutput(t *testing.T) {
	var out bytes.Buffer
	var secrets Secrets
	secrets.Add("s3cr3t-token-value", "ab") // "ab" is too short to register
	log, err := New(&out, Config{Level: "debug", Format: FormatJSON}, &secrets)
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Str("token", "s3cr3t-token-value").Msg("calling https://x-token-auth:s3cr3t-token-value@example.org")
	log.Debug().Err(errors.New("401 for s3cr3t-token-value")).Msg("failed")
	log.Info().Msg("about ab")

	got := out.String()
	if strings.Contains(got, "s3cr3t-token-value") {
		t.Fatalf("secret leaked: %s", got)
	}
	if c := strings.Count(got, Redacted); c != 3 {
		t.Fatalf("want 3 redactions, got %d in %s", c, got)
	}
	if !strings.Contains(got, "about ab") {
		t.Fatalf("short value must not be scrubbed: %s", got)
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, Config{Level: "loud"}, nil); err == nil || !strings.Contains(err.Error(), "log level") {
		t.Fatalf("want a log level error, got %v", err)
	}
	if _, err := New(&bytes.Buffer{}, Config{Format: "xml"}, nil); err == nil || !strings.Contains(err.Error(), "log format") {
		t.Fatalf("want a log format error, got %v", err)
	}
}

func TestURLRedactsPassword(t *testing.T) {
	u, _ := url.Parse("http://alice:hunter22@proxy.corp:3128")
	if got := URL(u); got != "http://alice:[REDACTED]@proxy.corp:3128" {
		t.Fatalf("got %s", got)
	}
	u, _ = url.Parse("http://dom%5Cal%40ce:p%40ss@proxy.corp:3128/x")
	if got := URL(u); got != `http://dom%5Cal%40ce:[REDACTED]@proxy.corp:3128/x` {
		t.Fatalf("escaped user name: got %s", got)
	}
	u, _ = url.Parse("http://alice@proxy.corp:3128")
	if got := URL(u); got != "http://alice@proxy.corp:3128" {
		t.Fatalf("no password: got %s", got)
	}
	if got := URL(nil); got != "direct" {
		t.Fatalf("got %s", got)
	}
}

func TestSecretsAreScrubbedInTheirEncodedForms(t *testing.T) {
	var out bytes.Buffer
	var secrets Secrets
	const password = `p@ss "word"/x`
	secrets.Add(password)
	log, err := New(&out, Config{Format: FormatJSON}, &secrets)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &url.URL{Scheme: "http", User: url.UserPassword("alice", password), Host: "proxy.corp:3128"}
	log.Error().Err(errors.New("proxyconnect tcp: dial " + proxy.String())).Msg("raw")
	log.Info().Str("password", password).Msg("json-escaped")
	log.Info().Msg("query " + url.QueryEscape(password))

	got := out.String()
	for _, leak := range []string{password, url.QueryEscape(password), `p@ss \"word\"/x`, "p%40ss"} {
		if strings.Contains(got, leak) {
			t.Errorf("leaked %q in:\n%s", leak, got)
		}
	}
	if c := strings.Count(got, Redacted); c < 3 {
		t.Errorf("want at least 3 redactions, got %d:\n%s", c, got)
	}
}

func TestDurationsAreSeconds(t *testing.T) {
	var out bytes.Buffer
	log, err := New(&out, Config{Format: FormatJSON}, nil)
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Dur("retry_in", 1500*time.Millisecond).Msg("x")
	if !strings.Contains(out.String(), `"retry_in":1.5`) {
		t.Fatalf("duration not in seconds: %s", out.String())
	}
}
