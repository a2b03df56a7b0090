package bitbucket_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/catalog-discovery/bitbucket/delegate/internal/bitbucket"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
)

func TestCheckConnectionNamesEachMissingScope(t *testing.T) {
	t.Parallel()
	m := bitbucketmock.Start(t, bitbucketmock.Config{Repos: 3, PRsPerRepo: 2, CommitsPerRepo: 2, Tokens: []bitbucketmock.Token{
		{Name: "all", Value: "tok-all-scopes", Scopes: []string{"project", "repository", "pullrequest", "webhook"}},
		{Name: "no-hooks", Value: "tok-no-hooks", Scopes: []string{"project", "repository", "pullrequest"}},
		{Name: "not-owner", Value: "tok-not-owner", Scopes: []string{"project", "repository", "pullrequest", "webhook"}, NotOwner: true},
		{Name: "no-pr", Value: "tok-no-pr", Scopes: []string{"repository"}},
		{Name: "pr-only", Value: "tok-pr-only", Scopes: []string{"pullrequest"}},
		{Name: "account", Value: "tok-account", Scopes: []string{"account"}},
	}})
	c := bitbucket.New(bitbucket.Options{
		Budgets: bitbucket.NewBudgets(clock.Real{}, bitbucket.DefaultBudget, false),
		Retry:   bitbucket.NewRetryPolicy(zerolog.Nop(), 1),
	})
	base, _ := url.Parse(m.URL)
	tests := []struct {
		name, token, workspace string
		want                   task.TestConnectionResult
	}{
		{"all scopes", "tok-all-scopes", "acme", task.TestConnectionResult{OK: true, TokenValid: true, WorkspaceReachable: true,
			Message: "connection OK: token valid, workspace reachable, all scopes present; webhooks available"}},
		{"no webhook scope", "tok-no-hooks", "acme", task.TestConnectionResult{OK: true, TokenValid: true, WorkspaceReachable: true,
			Message: "connection OK: token valid, workspace reachable, all scopes present; optional scope Webhooks: Read and write missing: changes arrive with the scheduled syncs instead of webhooks"}},
		{"not an owner", "tok-not-owner", "acme", task.TestConnectionResult{OK: true, TokenValid: true, WorkspaceReachable: true,
			Message: "connection OK: token valid, workspace reachable, all scopes present; webhooks unavailable: only a workspace owner (or a workspace access token) may manage workspace webhooks; changes arrive with the scheduled syncs"}},
		{"repository only", "tok-no-pr", "acme", task.TestConnectionResult{TokenValid: true, WorkspaceReachable: true,
			MissingScopes: []string{bitbucket.ScopeProjectsRead, bitbucket.ScopePullRequestsRead},
			Message:       "the token lacks scopes: Projects: Read, Pull requests: Read; optional scope Webhooks: Read and write missing: changes arrive with the scheduled syncs instead of webhooks"}},
		{"pull requests only", "tok-pr-only", "acme", task.TestConnectionResult{TokenValid: true, WorkspaceReachable: true,
			MissingScopes: []string{bitbucket.ScopeProjectsRead},
			Message:       "the token lacks scopes: Projects: Read; optional scope Webhooks: Read and write missing: changes arrive with the scheduled syncs instead of webhooks"}},
		{"none of them", "tok-account", "acme", task.TestConnectionResult{TokenValid: true, WorkspaceReachable: true,
			MissingScopes: []string{bitbucket.ScopeRepositoriesRead, bitbucket.ScopeProjectsRead, bitbucket.ScopePullRequestsRead},
			Message:       "the token lacks scopes: Repositories: Read, Projects: Read, Pull requests: Read; optional scope Webhooks: Read and write missing: changes arrive with the scheduled syncs instead of webhooks"}},
		{"bad token", "tok-unknown", "acme", task.TestConnectionResult{
			Message: "Bitbucket rejected the token (401): it is invalid, expired or revoked"}},
		{"unknown workspace", "tok-all-scopes", "nope", task.TestConnectionResult{TokenValid: true,
			Message: `workspace "nope" does not exist or the token cannot see it`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Session(base, bitbucket.NewCredential(tt.token)).CheckConnection(context.Background(), tt.workspace)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
