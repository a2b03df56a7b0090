package rpc

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	delegatev1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/record"
	"github.com/catalog-discovery/bitbucket/shared/repofilter"
	"github.com/catalog-discovery/bitbucket/shared/sweep"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ingest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/webhook"
)

func itoa(i int) string { return strconv.Itoa(i) }

// page is the page a list request asks for; the store applies the
// list's default size and clamps to store.MaxPageSize, the bound the
// contract declares for every page_size (idp.rules.v1.page_size).
func page(size int32, token string) store.Page { return store.Page{Size: int(size), Token: token} }

// ts converts a time to a timestamp; the zero time is absent.
func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// fromTS converts a timestamp; absent is the zero time.
func fromTS(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime().UTC()
}

var secondaryKindsToProto = map[string]delegatev1.SecondaryKind{
	"PULL_REQUESTS": delegatev1.SecondaryKind_SECONDARY_KIND_PULL_REQUESTS,
	"COMMITS":       delegatev1.SecondaryKind_SECONDARY_KIND_COMMITS,
}

// targetToProto sends every token reference, and the first as token_ref
// for delegates that know only one.
func targetToProto(t tasks.Target) *delegatev1.BitbucketTarget {
	out := &delegatev1.BitbucketTarget{Workspace: t.Workspace, ApiBaseUrl: t.APIBaseURL, TokenRefs: t.TokenRefs}
	if len(t.TokenRefs) > 0 {
		out.TokenRef = t.TokenRefs[0]
	}
	return out
}

func taskToProto(a tasks.Assignment) *delegatev1.Task {
	t := a.Task
	out := &delegatev1.Task{Id: t.ID, LeaseToken: t.LeaseToken, LeaseExpiresAt: ts(t.LeaseExpiresAt), Attempt: int32(t.Attempt),
		Checkpoint: t.Checkpoint, NextSequence: t.NextSequence()}
	switch {
	case a.Sync != nil:
		p := a.Sync
		out.Type = delegatev1.TaskType_TASK_TYPE_SYNC
		s := &delegatev1.SyncTask{IntegrationId: p.IntegrationID, Target: targetToProto(p.Target), StartDate: ts(p.StartDate),
			Limits: &delegatev1.SyncLimits{FirstSyncPerRepository: int32(p.Limits.FirstSyncPerRepository),
				MaxPullRequestsPerSync: int32(p.Limits.MaxPullRequestsPerSync), MaxCommitsPerSync: int32(p.Limits.MaxCommitsPerSync),
				MaxCodeOwnersRequestsPerSync: int32(p.Limits.MaxCodeOwnersRequestsPerSync)},
			CodeOwnersRepositories: p.CodeOwners}
		for _, k := range p.SecondaryKinds {
			s.SecondaryKinds = append(s.SecondaryKinds, secondaryKindsToProto[k])
		}
		for _, c := range p.Cursors {
			s.Cursors = append(s.Cursors, cursorToProto(c))
		}
		if !p.Filter.IsZero() {
			s.Filter = delegateFilterToProto(p.Filter)
		}
		s.Repositories = p.Repositories
		if p.Webhook != nil {
			s.Webhook = hookSpecToProto(*p.Webhook)
		}
		s.Sweep = planToProto(p.Plan)
		out.Sync = s
	case a.Test != nil:
		out.Type = delegatev1.TaskType_TASK_TYPE_TEST_CONNECTION
		out.TestConnection = &delegatev1.TestConnectionTask{ConnectorId: a.Test.ConnectorID, Target: targetToProto(a.Test.Target)}
	case a.Hook != nil:
		out.Type = delegatev1.TaskType_TASK_TYPE_WEBHOOK
		out.Webhook = &delegatev1.WebhookTask{IntegrationId: a.Hook.IntegrationID, Target: targetToProto(a.Hook.Target),
			Spec: hookSpecToProto(a.Hook.Spec)}
	}
	return out
}

func hookSpecToProto(h tasks.HookSpec) *delegatev1.WebhookSpec {
	return &delegatev1.WebhookSpec{Url: h.URL, Secret: h.Secret, Events: h.Events, Active: h.Active, Description: h.Description}
}

// hookStates maps the delegate's webhook report to webhook states.
var hookStates = map[delegatev1.WebhookState]webhook.State{
	delegatev1.WebhookState_WEBHOOK_STATE_ACTIVE:        webhook.Active,
	delegatev1.WebhookState_WEBHOOK_STATE_INACTIVE:      webhook.Inactive,
	delegatev1.WebhookState_WEBHOOK_STATE_MISSING_SCOPE: webhook.MissingScope,
	delegatev1.WebhookState_WEBHOOK_STATE_NOT_OWNER:     webhook.NotOwner,
	delegatev1.WebhookState_WEBHOOK_STATE_FAILED:        webhook.Failed,
}

func hookResultFromProto(r *delegatev1.WebhookResult) *tasks.HookResult {
	state, ok := hookStates[r.GetState()]
	if r == nil || !ok {
		return nil
	}
	return &tasks.HookResult{State: string(state), Message: r.GetMessage(), HookUUID: r.GetHookUuid()}
}

func cursorToProto(c record.Cursor) *delegatev1.RepositoryCursor {
	return &delegatev1.RepositoryCursor{RepositoryUuid: c.RepositoryUUID, CommitsCheckedAtUpdatedOn: ts(c.CommitsCheckedAtUpdatedOn),
		NewestCommitHash: c.NewestCommitHash, OldestCommitHash: c.OldestCommitHash, CommitsBackfilled: c.CommitsBackfilled,
		NewestPullRequestUpdatedOn: ts(c.NewestPullRequestUpdatedOn), OldestPullRequestUpdatedOn: ts(c.OldestPullRequestUpdatedOn),
		PullRequestsBackfilled: c.PullRequestsBackfilled, PullRequestsConfirmedAt: ts(c.PullRequestsConfirmedAt),
		PullRequestsCheckedAtUpdatedOn: ts(c.PullRequestsCheckedAtUpdatedOn)}
}

// planToProto translates a sweep plan; nil when the task has none.
func planToProto(p *sweep.Plan) *delegatev1.SweepPlan {
	if p == nil {
		return nil
	}
	out := &delegatev1.SweepPlan{Listing: delegatev1.ListingMode_LISTING_MODE_FULL, AsOf: ts(p.AsOf),
		AllPullRequests: p.AllPullRequests, PullRequestRepositories: p.PullRequests}
	if p.Mode == sweep.Watermark {
		out.Listing, out.Since = delegatev1.ListingMode_LISTING_MODE_WATERMARK, ts(p.Since)
	}
	return out
}

func progressFromProto(p *delegatev1.Progress) *tasks.Progress {
	if p == nil {
		return nil
	}
	return &tasks.Progress{Phase: p.GetPhase(), Repositories: p.GetRepositories(), PullRequests: p.GetPullRequests(),
		Commits: p.GetCommits(), Requests: p.GetRequests(), RateLimited: p.GetRateLimited(),
		RepositoriesDone: p.GetRepositoriesDone(), RepositoriesTotal: p.GetRepositoriesTotal(), CodeOwnersRequests: p.GetCodeOwnersRequests(),
		Tokens: tokenUsageFromProto(p.GetTokens())}
}

func tokenUsageFromProto(in []*delegatev1.TokenUsage) []tasks.TokenUsage {
	var out []tasks.TokenUsage
	for _, u := range in {
		out = append(out, tasks.TokenUsage{Ref: u.GetTokenRef(), Rejected: u.GetRejected(), Message: u.GetMessage(),
			LimitPerHour: u.GetLimitPerHour(), Requests: u.GetRequests(), RateLimited: u.GetRateLimited()})
	}
	return out
}

func tokenChecksFromProto(in []*delegatev1.TokenCheck) []tasks.TokenCheck {
	var out []tasks.TokenCheck
	for _, c := range in {
		out = append(out, tasks.TokenCheck{Ref: c.GetTokenRef(), Valid: c.GetValid(), MissingScopes: c.GetMissingScopes(),
			Scopes: c.GetScopes(), LimitPerHour: c.GetLimitPerHour(), Message: c.GetMessage()})
	}
	return out
}

// recordsFromProto translates a batch; a record with no kind set is
// refused with INVALID_RECORD like any other bad record.
func recordsFromProto(in []*delegatev1.Record) ([]record.Record, error) {
	out := make([]record.Record, len(in))
	for i, r := range in {
		switch k := r.GetKind().(type) {
		case *delegatev1.Record_Repository:
			x := k.Repository
			var raw json.RawMessage
			if x.GetRaw() != nil {
				b, err := protojson.Marshal(x.GetRaw())
				if err != nil {
					return nil, invalidRecord(i, "repository.raw", "not representable as JSON: "+err.Error())
				}
				raw = b
			}
			out[i].Repository = &record.Repository{UUID: x.GetUuid(), Slug: x.GetSlug(), Name: x.GetName(), FullName: x.GetFullName(),
				Workspace: x.GetWorkspace(), ProjectKey: x.GetProjectKey(), ProjectName: x.GetProjectName(), Description: x.GetDescription(),
				IsPrivate: x.GetIsPrivate(), Language: x.GetLanguage(), MainBranch: x.GetMainBranch(), HTMLURL: x.GetHtmlUrl(),
				CloneHTTPSURL: x.GetCloneHttpsUrl(), CloneSSHURL: x.GetCloneSshUrl(), CreatedOn: fromTS(x.GetCreatedOn()),
				UpdatedOn: fromTS(x.GetUpdatedOn()), SizeBytes: x.GetSizeBytes(), Raw: raw}
		case *delegatev1.Record_PullRequest:
			x := k.PullRequest
			out[i].PullRequest = &record.PullRequest{RepositoryUUID: x.GetRepositoryUuid(), ID: x.GetId(), Title: x.GetTitle(),
				State: x.GetState(), Draft: x.GetDraft(), Author: x.GetAuthor(), AuthorUUID: x.GetAuthorUuid(), SourceBranch: x.GetSourceBranch(),
				DestinationBranch: x.GetDestinationBranch(), CreatedOn: fromTS(x.GetCreatedOn()), UpdatedOn: fromTS(x.GetUpdatedOn()),
				MergeCommit: x.GetMergeCommit(), ClosedBy: x.GetClosedBy(), CommentCount: x.GetCommentCount(), TaskCount: x.GetTaskCount(),
				HTMLURL: x.GetHtmlUrl()}
		case *delegatev1.Record_Commit:
			x := k.Commit
			parents := x.GetParents()
			if parents == nil {
				parents = []string{}
			}
			out[i].Commit = &record.Commit{RepositoryUUID: x.GetRepositoryUuid(), Hash: x.GetHash(), Date: fromTS(x.GetDate()),
				AuthorRaw: x.GetAuthorRaw(), AuthorUser: x.GetAuthorUser(), Message: x.GetMessage(), Parents: parents, HTMLURL: x.GetHtmlUrl()}
		case *delegatev1.Record_Cursor:
			x := k.Cursor
			out[i].Cursor = &record.Cursor{RepositoryUUID: x.GetRepositoryUuid(), CommitsCheckedAtUpdatedOn: fromTS(x.GetCommitsCheckedAtUpdatedOn()),
				NewestCommitHash: x.GetNewestCommitHash(), OldestCommitHash: x.GetOldestCommitHash(), CommitsBackfilled: x.GetCommitsBackfilled(),
				NewestPullRequestUpdatedOn: fromTS(x.GetNewestPullRequestUpdatedOn()), OldestPullRequestUpdatedOn: fromTS(x.GetOldestPullRequestUpdatedOn()),
				PullRequestsBackfilled: x.GetPullRequestsBackfilled(), PullRequestsConfirmedAt: fromTS(x.GetPullRequestsConfirmedAt()),
				PullRequestsCheckedAtUpdatedOn: fromTS(x.GetPullRequestsCheckedAtUpdatedOn())}
		case *delegatev1.Record_ListingComplete:
			out[i].ListingComplete = &record.ListingComplete{RepositoryCount: k.ListingComplete.GetRepositoryCount()}
			if f := k.ListingComplete.GetListedWith(); f != nil {
				lw := delegateFilterFromProto(f)
				out[i].ListingComplete.ListedWith = &lw
			}
		case *delegatev1.Record_CodeOwners:
			x := k.CodeOwners
			out[i].CodeOwners = &record.CodeOwners{RepositoryUUID: x.GetRepositoryUuid(), Path: x.GetPath(), Owners: x.GetOwners(),
				CoversRepository: x.GetCoversRepository(), Line: x.GetLine(), Revision: x.GetRevision(),
				RepositoryUpdatedOn: fromTS(x.GetRepositoryUpdatedOn())}
		default:
			return nil, invalidRecord(i, "kind", "exactly one of repository, pull_request, commit, cursor, listing_complete or code_owners must be set")
		}
	}
	return out, nil
}

func invalidRecord(i int, field, problem string) error {
	var v fault.Violations
	v.Add(fmt.Sprintf("records[%d].%s", i, field), "%s", problem)
	return v.Err(ingest.ReasonInvalidRecord, fmt.Sprintf("record %d is invalid; nothing of the batch was applied", i))
}

func delegateFilterToProto(f repofilter.Filter) *delegatev1.RepositoryFilter {
	return &delegatev1.RepositoryFilter{IncludeProjects: f.IncludeProjects, ExcludeProjects: f.ExcludeProjects,
		IncludeNames: f.IncludeNames, ExcludeNames: f.ExcludeNames, Visibility: string(f.Visibility), Forks: string(f.Forks),
		UpdatedSince: ts(f.UpdatedSince)}
}

// delegateFilterFromProto reads the filter a delegate says it listed with.
// It only narrows which unseen repositories are taken as deleted.
func delegateFilterFromProto(f *delegatev1.RepositoryFilter) repofilter.Filter {
	return repofilter.Filter{IncludeProjects: f.GetIncludeProjects(), ExcludeProjects: f.GetExcludeProjects(),
		IncludeNames: f.GetIncludeNames(), ExcludeNames: f.GetExcludeNames(), Visibility: repofilter.Visibility(f.GetVisibility()),
		Forks: repofilter.Forks(f.GetForks()), UpdatedSince: fromTS(f.GetUpdatedSince())}
}
