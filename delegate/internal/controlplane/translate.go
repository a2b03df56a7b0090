package controlplane

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/record"
	"github.com/catalog-discovery/bitbucket/shared/repofilter"
	"github.com/catalog-discovery/bitbucket/shared/sweep"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func fromTS(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

func taskFromWire(t *pb.Task) *task.Task {
	out := &task.Task{
		ID:             t.GetId(),
		LeaseToken:     t.GetLeaseToken(),
		LeaseExpiresAt: fromTS(t.GetLeaseExpiresAt()),
		Attempt:        int(t.GetAttempt()),
		Checkpoint:     t.GetCheckpoint(),
		NextSequence:   t.GetNextSequence(),
	}
	if out.NextSequence < 1 {
		out.NextSequence = 1
	}
	switch t.GetType() {
	case pb.TaskType_TASK_TYPE_SYNC:
		out.Type = task.TypeSync
		s := t.GetSync()
		sync := &task.Sync{
			IntegrationID: s.GetIntegrationId(),
			Target:        targetFromWire(s.GetTarget()),
			StartDate:     fromTS(s.GetStartDate()),
			Limits: task.Limits{
				FirstSyncPerRepository: int(s.GetLimits().GetFirstSyncPerRepository()),
				MaxPullRequestsPerSync: int(s.GetLimits().GetMaxPullRequestsPerSync()),
				MaxCommitsPerSync:      int(s.GetLimits().GetMaxCommitsPerSync()),

				MaxCodeOwnersRequestsPerSync: int(s.GetLimits().GetMaxCodeOwnersRequestsPerSync()),
			}.WithDefaults(),
			Cursors:    make(map[string]record.Cursor, len(s.GetCursors())),
			CodeOwners: make(map[string]bool, len(s.GetCodeOwnersRepositories())),
		}
		for _, uuid := range s.GetCodeOwnersRepositories() {
			sync.CodeOwners[uuid] = true
		}
		for _, k := range s.GetSecondaryKinds() {
			switch k {
			case pb.SecondaryKind_SECONDARY_KIND_PULL_REQUESTS:
				sync.PullRequests = true
			case pb.SecondaryKind_SECONDARY_KIND_COMMITS:
				sync.Commits = true
			}
		}
		for _, c := range s.GetCursors() {
			sync.Cursors[c.GetRepositoryUuid()] = cursorFromWire(c)
		}
		if f := s.GetFilter(); f != nil {
			sync.Filter = filterFromWire(f)
		}
		sync.Repositories = s.GetRepositories()
		if h := s.GetWebhook(); h != nil {
			spec := webhookSpecFromWire(h)
			sync.Webhook = &spec
		}
		sync.Plan = planFromWire(s.GetSweep())
		out.Sync = sync
	case pb.TaskType_TASK_TYPE_WEBHOOK:
		out.Type = task.TypeWebhook
		w := t.GetWebhook()
		out.Webhook = &task.WebhookTask{IntegrationID: w.GetIntegrationId(), Target: targetFromWire(w.GetTarget()),
			Spec: webhookSpecFromWire(w.GetSpec())}
	case pb.TaskType_TASK_TYPE_TEST_CONNECTION:
		out.Type = task.TypeTestConnection
		out.TestConnection = &task.TestConnection{
			ConnectorID: t.GetTestConnection().GetConnectorId(),
			Target:      targetFromWire(t.GetTestConnection().GetTarget()),
		}
	}
	return out
}

// planFromWire translates the sweep plan; nil when the task has none.
func planFromWire(p *pb.SweepPlan) *sweep.Plan {
	if p == nil {
		return nil
	}
	out := &sweep.Plan{AsOf: fromTS(p.GetAsOf()), Mode: sweep.Full, AllPullRequests: p.GetAllPullRequests(),
		PullRequests: p.GetPullRequestRepositories()}
	if p.GetListing() == pb.ListingMode_LISTING_MODE_WATERMARK {
		out.Mode, out.Since = sweep.Watermark, fromTS(p.GetSince())
	}
	return out
}

func webhookSpecFromWire(h *pb.WebhookSpec) task.WebhookSpec {
	return task.WebhookSpec{URL: h.GetUrl(), Secret: h.GetSecret(), Events: h.GetEvents(), Active: h.GetActive(),
		Description: h.GetDescription()}
}

// webhookStatesToWire maps webhook states to the wire.
var webhookStatesToWire = map[task.WebhookState]pb.WebhookState{
	task.WebhookActive:       pb.WebhookState_WEBHOOK_STATE_ACTIVE,
	task.WebhookInactive:     pb.WebhookState_WEBHOOK_STATE_INACTIVE,
	task.WebhookMissingScope: pb.WebhookState_WEBHOOK_STATE_MISSING_SCOPE,
	task.WebhookNotOwner:     pb.WebhookState_WEBHOOK_STATE_NOT_OWNER,
	task.WebhookFailed:       pb.WebhookState_WEBHOOK_STATE_FAILED,
}

func webhookResultToWire(r *task.WebhookResult) *pb.WebhookResult {
	if r == nil {
		return nil
	}
	state, ok := webhookStatesToWire[r.State]
	if !ok {
		return nil
	}
	return &pb.WebhookResult{State: state, Message: fitLine(r.Message, 1024), HookUuid: fitLine(r.HookUUID, 66)}
}

// targetFromWire reads the target's tokens: token_refs, or token_ref
// alone from a control plane that sends one.
func targetFromWire(t *pb.BitbucketTarget) task.Target {
	refs := t.GetTokenRefs()
	if len(refs) == 0 {
		refs = []string{t.GetTokenRef()}
	}
	return task.Target{Workspace: t.GetWorkspace(), APIBaseURL: t.GetApiBaseUrl(), TokenRefs: refs}
}

func cursorFromWire(c *pb.RepositoryCursor) record.Cursor {
	return record.Cursor{
		RepositoryUUID:             c.GetRepositoryUuid(),
		CommitsCheckedAtUpdatedOn:  fromTS(c.GetCommitsCheckedAtUpdatedOn()),
		NewestCommitHash:           c.GetNewestCommitHash(),
		OldestCommitHash:           c.GetOldestCommitHash(),
		CommitsBackfilled:          c.GetCommitsBackfilled(),
		NewestPullRequestUpdatedOn: fromTS(c.GetNewestPullRequestUpdatedOn()),
		OldestPullRequestUpdatedOn: fromTS(c.GetOldestPullRequestUpdatedOn()),
		PullRequestsBackfilled:     c.GetPullRequestsBackfilled(),

		PullRequestsConfirmedAt:        fromTS(c.GetPullRequestsConfirmedAt()),
		PullRequestsCheckedAtUpdatedOn: fromTS(c.GetPullRequestsCheckedAtUpdatedOn()),
	}
}

// CursorToWire translates a cursor; exported for the fake control plane,
// which hands cursors back in later tasks.
func CursorToWire(c record.Cursor) *pb.RepositoryCursor {
	return &pb.RepositoryCursor{
		RepositoryUuid:             c.RepositoryUUID,
		CommitsCheckedAtUpdatedOn:  ts(c.CommitsCheckedAtUpdatedOn),
		NewestCommitHash:           c.NewestCommitHash,
		OldestCommitHash:           c.OldestCommitHash,
		CommitsBackfilled:          c.CommitsBackfilled,
		NewestPullRequestUpdatedOn: ts(c.NewestPullRequestUpdatedOn),
		OldestPullRequestUpdatedOn: ts(c.OldestPullRequestUpdatedOn),
		PullRequestsBackfilled:     c.PullRequestsBackfilled,

		PullRequestsConfirmedAt:        ts(c.PullRequestsConfirmedAt),
		PullRequestsCheckedAtUpdatedOn: ts(c.PullRequestsCheckedAtUpdatedOn),
	}
}

// maxText is the contract's limit of the free text a delegate reports
// (CompleteTaskRequest.error, TestConnectionResult.message).
const maxText = 4096

// maxPhase is the contract's limit of Progress.phase, one line: a phase
// the delegate composes (a budget wait appended) is cut to it rather than
// have every lease renewal refused.
const maxPhase = 64

// fitText makes an error or a verdict fit the contract: control
// characters other than tab and line breaks (which a Bitbucket response
// quoted in an error may hold) become spaces, and the text is cut to
// maxText bytes on a character boundary. The control plane refuses text
// that does not fit, and a completion refused is a task that never ends.
func fitText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || !unicode.IsControl(r) {
			return r
		}
		return ' '
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= maxText {
		return s
	}
	cut := maxText - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func progressToWire(p task.Progress) *pb.Progress {
	return &pb.Progress{
		Phase: fitLine(p.Phase, maxPhase), Repositories: p.Repositories, PullRequests: p.PullRequests, Commits: p.Commits,
		Requests: p.Requests, RateLimited: p.RateLimited, RepositoriesDone: p.RepositoriesDone,
		RepositoriesTotal: p.RepositoriesTotal, CodeOwnersRequests: p.CodeOwnersRequests,
		Tokens: tokensToWire(p.Tokens),
	}
}

func tokensToWire(us []task.TokenUsage) []*pb.TokenUsage {
	var out []*pb.TokenUsage
	for _, u := range us {
		out = append(out, &pb.TokenUsage{TokenRef: u.Ref, Rejected: u.Rejected != "", Message: fitText(u.Rejected),
			LimitPerHour: u.LimitPerHour, Requests: u.Requests, RateLimited: u.RateLimited})
	}
	return out
}

func tokenChecksToWire(cs []task.TokenCheck) []*pb.TokenCheck {
	var out []*pb.TokenCheck
	for _, c := range cs {
		out = append(out, &pb.TokenCheck{TokenRef: c.Ref, Valid: c.Valid, MissingScopes: c.MissingScopes,
			Scopes: c.Scopes, LimitPerHour: c.LimitPerHour, Message: fitText(c.Message)})
	}
	return out
}

var outcomes = map[task.Outcome]pb.Outcome{
	task.OutcomeSucceeded: pb.Outcome_OUTCOME_SUCCEEDED,
	task.OutcomePartial:   pb.Outcome_OUTCOME_PARTIAL,
	task.OutcomeFailed:    pb.Outcome_OUTCOME_FAILED,
	task.OutcomeCancelled: pb.Outcome_OUTCOME_CANCELLED,
	task.OutcomeReleased:  pb.Outcome_OUTCOME_RELEASED,
}

// EncodedRecord is a record already translated to the wire, so that the
// uploader can size batches exactly and translate each record once.
type EncodedRecord struct {
	m    *pb.Record
	size int
	kind string
}

// Size is the encoded size in bytes.
func (e EncodedRecord) Size() int { return e.size }

// Kind is the record kind, for counters.
func (e EncodedRecord) Kind() string { return e.kind }

// Encode translates a record for upload.
func Encode(r record.Record) (EncodedRecord, error) {
	m := &pb.Record{}
	switch {
	case r.Repository != nil:
		x := r.Repository
		var raw *structpb.Struct
		if len(x.Raw) > 0 {
			var v map[string]any
			if err := json.Unmarshal(x.Raw, &v); err != nil {
				return EncodedRecord{}, fmt.Errorf("repository %s: raw JSON: %w", x.UUID, err)
			}
			s, err := structpb.NewStruct(v)
			if err != nil {
				return EncodedRecord{}, fmt.Errorf("repository %s: raw JSON: %w", x.UUID, err)
			}
			raw = s
		}
		m.Kind = &pb.Record_Repository{Repository: &pb.Repository{
			Uuid: x.UUID, Slug: x.Slug, Name: x.Name, FullName: x.FullName, Workspace: x.Workspace,
			ProjectKey: x.ProjectKey, ProjectName: x.ProjectName, Description: x.Description, IsPrivate: x.IsPrivate,
			Language: x.Language, MainBranch: x.MainBranch, HtmlUrl: x.HTMLURL, CloneHttpsUrl: x.CloneHTTPSURL,
			CloneSshUrl: x.CloneSSHURL, CreatedOn: ts(x.CreatedOn), UpdatedOn: ts(x.UpdatedOn), SizeBytes: x.SizeBytes,
			Raw: raw,
		}}
	case r.PullRequest != nil:
		x := r.PullRequest
		m.Kind = &pb.Record_PullRequest{PullRequest: &pb.PullRequest{
			RepositoryUuid: x.RepositoryUUID, Id: x.ID, Title: x.Title, State: x.State, Draft: x.Draft,
			Author: x.Author, AuthorUuid: x.AuthorUUID, SourceBranch: x.SourceBranch, DestinationBranch: x.DestinationBranch,
			CreatedOn: ts(x.CreatedOn), UpdatedOn: ts(x.UpdatedOn), MergeCommit: x.MergeCommit, ClosedBy: x.ClosedBy,
			CommentCount: x.CommentCount, TaskCount: x.TaskCount, HtmlUrl: x.HTMLURL,
		}}
	case r.Commit != nil:
		x := r.Commit
		m.Kind = &pb.Record_Commit{Commit: &pb.Commit{
			RepositoryUuid: x.RepositoryUUID, Hash: x.Hash, Date: ts(x.Date), AuthorRaw: x.AuthorRaw,
			AuthorUser: x.AuthorUser, Message: x.Message, Parents: x.Parents, HtmlUrl: x.HTMLURL,
		}}
	case r.Cursor != nil:
		m.Kind = &pb.Record_Cursor{Cursor: CursorToWire(*r.Cursor)}
	case r.ListingComplete != nil:
		lc := &pb.ListingComplete{RepositoryCount: r.ListingComplete.RepositoryCount}
		if f := r.ListingComplete.ListedWith; f != nil {
			lc.ListedWith = filterToWire(*f)
		}
		m.Kind = &pb.Record_ListingComplete{ListingComplete: lc}
	case r.CodeOwners != nil:
		x := r.CodeOwners
		m.Kind = &pb.Record_CodeOwners{CodeOwners: &pb.CodeOwners{
			RepositoryUuid: x.RepositoryUUID, Path: x.Path, Owners: x.Owners, CoversRepository: x.CoversRepository,
			Line: x.Line, Revision: x.Revision, RepositoryUpdatedOn: ts(x.RepositoryUpdatedOn),
		}}
	default:
		return EncodedRecord{}, fmt.Errorf("empty record")
	}
	return EncodedRecord{m: m, size: proto.Size(m) + 4, kind: r.Kind()}, nil
}

func filterFromWire(f *pb.RepositoryFilter) repofilter.Filter {
	return repofilter.Filter{IncludeProjects: f.GetIncludeProjects(), ExcludeProjects: f.GetExcludeProjects(),
		IncludeNames: f.GetIncludeNames(), ExcludeNames: f.GetExcludeNames(), Visibility: repofilter.Visibility(f.GetVisibility()),
		Forks: repofilter.Forks(f.GetForks()), UpdatedSince: fromTS(f.GetUpdatedSince())}
}

func filterToWire(f repofilter.Filter) *pb.RepositoryFilter {
	out := &pb.RepositoryFilter{IncludeProjects: f.IncludeProjects, ExcludeProjects: f.ExcludeProjects,
		IncludeNames: f.IncludeNames, ExcludeNames: f.ExcludeNames, Visibility: string(f.Visibility), Forks: string(f.Forks)}
	if !f.UpdatedSince.IsZero() {
		out.UpdatedSince = timestamppb.New(f.UpdatedSince)
	}
	return out
}

// fitLine makes s a single line of valid UTF-8 of at most n bytes, cut on
// a character boundary.
func fitLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
