package bitbucket_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/delegate/internal/bitbucket"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

func TestEnsureHook(t *testing.T) {
	t.Parallel()
	m := bitbucketmock.Start(t, bitbucketmock.Config{Repos: 2, Tokens: []bitbucketmock.Token{
		{Name: "owner", Value: "tok-owner", Scopes: []string{"project", "repository", "pullrequest", "webhook"}},
		{Name: "no-hooks", Value: "tok-no-hooks", Scopes: []string{"project", "repository", "pullrequest"}},
		{Name: "member", Value: "tok-member", Scopes: []string{"project", "repository", "pullrequest", "webhook"}, NotOwner: true},
	}})
	c := bitbucket.New(bitbucket.Options{
		Budgets: bitbucket.NewBudgets(clock.Real{}, bitbucket.DefaultBudget, false),
		Retry:   bitbucket.NewRetryPolicy(zerolog.Nop(), 1),
	})
	base, _ := url.Parse(m.URL)
	ctx := context.Background()
	spec := task.WebhookSpec{URL: "https://idp.example.com/hooks/bitbucket/int_1", Secret: "s1", Active: true,
		Events: []string{"repo:push", "pullrequest:fulfilled"}, Description: "IDP"}
	ensure := func(token string, s task.WebhookSpec) task.WebhookResult {
		return c.Session(base, bitbucket.NewCredential(token)).EnsureHook(ctx, "acme", s)
	}

	if r := ensure("tok-no-hooks", spec); r.State != task.WebhookMissingScope {
		t.Fatalf("without the scope: %+v", r)
	}
	if r := ensure("tok-member", spec); r.State != task.WebhookNotOwner {
		t.Fatalf("not an owner: %+v", r)
	}
	if len(m.Hooks()) != 0 {
		t.Fatalf("hooks created by refused calls: %+v", m.Hooks())
	}
	first := ensure("tok-owner", spec)
	again := ensure("tok-owner", spec)
	hooks := m.Hooks()
	if first.State != task.WebhookActive || again.State != task.WebhookActive || first.HookUUID == "" || again.HookUUID != first.HookUUID ||
		len(hooks) != 1 || hooks[0].URL != spec.URL || !hooks[0].Active || !hooks[0].SecretSet || len(hooks[0].Events) != 2 {
		t.Fatalf("ensure twice: %+v then %+v; hooks %+v; want one active hook, found again by url", first, again, hooks)
	}
	off := spec
	off.Active = false
	if r := ensure("tok-owner", off); r.State != task.WebhookInactive || m.Hooks()[0].Active {
		t.Fatalf("deactivate: %+v, hooks %+v", r, m.Hooks())
	}
	other := off
	other.URL = "https://elsewhere.example.com/hooks"
	if r := ensure("tok-owner", other); r.State != task.WebhookInactive || len(m.Hooks()) != 1 {
		t.Fatalf("deactivating a hook that does not exist: %+v, hooks %+v; want nothing created", r, m.Hooks())
	}
}
