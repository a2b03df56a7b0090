package main

import (
	"strings"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/httpapi"
	"github.com/catalog-discovery/bitbucket/shared/cli"
)

func TestServeFlagBounds(t *testing.T) {
	t.Parallel()
	valid := func() serveOptions {
		return serveOptions{lease: dispatch.DefaultConfig, grace: 20 * time.Second, scheduleInterval: 15 * time.Second,
			keepaliveMinTime: 20 * time.Second, sessionIdle: httpapi.DefaultSessionIdle, sessionMax: httpapi.DefaultSessionMax}
	}
	if err := valid().validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		flag   string
		change func(*serveOptions)
	}{
		{"--renew-interval", func(o *serveOptions) { o.lease.RenewInterval = 5 * time.Second }},
		{"--renew-interval", func(o *serveOptions) { o.lease.RenewInterval = 31 * time.Second }},
		{"--renew-interval", func(o *serveOptions) { o.lease.RenewInterval = 15500 * time.Millisecond }},
		{"--renew-interval", func(o *serveOptions) { o.lease.RenewInterval, o.lease.LeaseDuration = 30*time.Second, time.Minute }},
		{"--lease-duration", func(o *serveOptions) { o.lease.LeaseDuration = -time.Minute }},
		{"--poll-hold", func(o *serveOptions) { o.lease.PollHold = 0 }},
		{"--poll-hold", func(o *serveOptions) { o.lease.PollHold = 500 * time.Millisecond }},
		{"--poll-hold", func(o *serveOptions) { o.lease.PollHold = 6 * time.Minute }},
		{"--max-attempts", func(o *serveOptions) { o.lease.MaxAttempts = 0 }},
		{"--grace-period", func(o *serveOptions) { o.grace = -time.Second }},
		{"--schedule-interval", func(o *serveOptions) { o.scheduleInterval = 100 * time.Millisecond }},
		{"--keepalive-min-time", func(o *serveOptions) { o.keepaliveMinTime = 9 * time.Second }},
		{"--keepalive-min-time", func(o *serveOptions) { o.keepaliveMinTime = 6 * time.Minute }},
		{"--keepalive-min-time", func(o *serveOptions) { o.keepaliveMinTime = 12500 * time.Millisecond }},
		{"--metrics-listen", func(o *serveOptions) { o.metricsListen = "9464" }},
		{"--metrics-listen", func(o *serveOptions) { o.metricsListen = "localhost" }},
		{"--console-session-idle", func(o *serveOptions) { o.sessionIdle = 30 * time.Second }},
		{"--console-session-max", func(o *serveOptions) { o.sessionMax = 10 * time.Minute }},
	}
	for _, tt := range tests {
		o := valid()
		tt.change(&o)
		err := o.validate()
		if cli.ExitCode(err) != cli.ExitUsage || !strings.HasPrefix(err.Error(), tt.flag) {
			t.Errorf("%+v: got %v, want a usage error naming %s", o, err, tt.flag)
		}
	}
	// The edges of the ranges are allowed.
	o := valid()
	o.lease.RenewInterval, o.lease.LeaseDuration, o.lease.PollHold = 15*time.Second, 45*time.Second, 5*time.Minute
	o.keepaliveMinTime = 10 * time.Second
	o.metricsListen = ":9464"
	if err := o.validate(); err != nil {
		t.Errorf("edges: %v", err)
	}
}

func TestServeRejectsAShortRenewInterval(t *testing.T) {
	t.Parallel()
	if _, errOut, code := runCLI(t, "serve", "--renew-interval", "5s"); code != 2 || !strings.Contains(errOut, "--renew-interval 5s") {
		t.Errorf("exit %d, want 2 naming --renew-interval: %s", code, errOut)
	}
}
