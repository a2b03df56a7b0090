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
			}.WithDefaults(),
			Cursors: make(map[string]record.Cursor, len(s.GetCursors())),
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
		sync.Plan = planFromWire(s.GetSweep())
		out.Sync = sync
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

func targetFromWire(t *pb.BitbucketTarget) task.Target {
	return task.Target{Workspace: t.GetWorkspace(), APIBaseURL: t.GetApiBaseUrl(), TokenRef: t.GetTokenRef()}
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
		Phase: p.Phase, Repositories: p.Repositories, PullRequests: p.PullRequests, Commits: p.Commits,
		Requests: p.Requests, RateLimited: p.RateLimited, RepositoriesDone: p.RepositoriesDone,
		RepositoriesTotal: p.RepositoriesTotal,
	}
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
		m.Kind = &pb.Record_ListingComplete{ListingComplete: &pb.ListingComplete{RepositoryCount: r.ListingComplete.RepositoryCount}}
	default:
		return EncodedRecord{}, fmt.Errorf("empty record")
	}
	return EncodedRecord{m: m, size: proto.Size(m) + 4, kind: r.Kind()}, nil
}
