// Package tasks holds the work handed to delegates: tasks and their
// leases, outcomes, progress, sync runs and connection tests, and the state
// machine (Next) that decides every change of a task's state. The dispatch
// package drives the protocol; the store saves what Next decides.
package tasks

import (
	"slices"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/record"
	"github.com/catalog-discovery/bitbucket/shared/repofilter"
	"github.com/catalog-discovery/bitbucket/shared/sweep"
)

// Type is what a task asks a delegate to do.
type Type string

// Task types.
const (
	Sync           Type = "SYNC"
	TestConnection Type = "TEST_CONNECTION"
	// Hook brings an integration's workspace webhook to its wanted
	// settings; the control plane queues one to deactivate the hook of a
	// suspended integration (the token, and so the hook, is the delegate's).
	Hook Type = "WEBHOOK"
)

// State is where a task is in its life.
type State string

// Task states. A task is QUEUED until a delegate leases it, LEASED while a
// delegate holds an unexpired lease, and DONE once it has an outcome. An
// expired or released lease puts it back to QUEUED.
const (
	Queued State = "QUEUED"
	Leased State = "LEASED"
	Done   State = "DONE"
)

// Outcome is how a task ended.
type Outcome string

// Outcomes reported by delegates (Released hands a task back unfinished).
const (
	Succeeded Outcome = "SUCCEEDED"
	Partial   Outcome = "PARTIAL"
	Failed    Outcome = "FAILED"
	Cancelled Outcome = "CANCELLED"
	Released  Outcome = "RELEASED"
)

// Task is one unit of work and its lease.
type Task struct {
	ID              string
	AccountID       string
	Type            Type
	IntegrationID   string // SYNC
	ConnectorID     string
	RunID           string // SYNC
	Selectors       []string
	State           State
	Attempt         int // leases so far; 1 during the first
	LeaseToken      string
	LeaseExpiresAt  time.Time
	DelegateID      string
	Checkpoint      []byte
	LastSequence    int64 // last acknowledged record batch
	CancelRequested bool
	Outcome         Outcome
	Error           string
	Result          *TestResult // TEST_CONNECTION, once done
	// Repositories limits a SYNC task to these repository slugs (a
	// targeted refresh); empty for the whole workspace.
	Repositories []string
	// HookActive is the wanted state of the hook, for a WEBHOOK task.
	HookActive  bool
	CreatedAt   time.Time
	AvailableAt time.Time // when it was last queued
	FinishedAt  time.Time
}

// NextSequence is the number of the next record batch to upload.
func (t Task) NextSequence() int64 { return t.LastSequence + 1 }

// Progress counts what a sync did so far, as the delegate reports it.
type Progress struct {
	Phase             string `json:"phase,omitempty"`
	Repositories      int64  `json:"repositories,omitempty"`
	PullRequests      int64  `json:"pull_requests,omitempty"`
	Commits           int64  `json:"commits,omitempty"`
	Requests          int64  `json:"requests,omitempty"`
	RateLimited       int64  `json:"rate_limited,omitempty"`
	RepositoriesDone  int64  `json:"repositories_done,omitempty"`
	RepositoriesTotal int64  `json:"repositories_total,omitempty"`
	// CodeOwnersRequests are the requests of Requests that read CODEOWNERS files.
	CodeOwnersRequests int64 `json:"code_owners_requests,omitempty"`
	// Tokens is how each token of the connector fared in the attempt.
	Tokens []TokenUsage `json:"tokens,omitempty"`
}

// TokenUsage is what one token of a connector did in a sync attempt.
type TokenUsage struct {
	Ref string `json:"token_ref"`
	// Rejected is true once the token went out of use (Bitbucket rejected
	// it, or the reference did not resolve); Message says why.
	Rejected     bool   `json:"rejected,omitempty"`
	Message      string `json:"message,omitempty"`
	LimitPerHour int64  `json:"limit_per_hour,omitempty"`
	Requests     int64  `json:"requests,omitempty"`
	RateLimited  int64  `json:"rate_limited,omitempty"`
}

// TestResult is a delegate's verdict on a connector.
type TestResult struct {
	OK                 bool     `json:"ok"`
	TokenValid         bool     `json:"token_valid"`
	WorkspaceReachable bool     `json:"workspace_reachable"`
	MissingScopes      []string `json:"missing_scopes,omitempty"`
	Message            string   `json:"message,omitempty"`
	// Tokens is the verdict on each token, in the connector's order.
	Tokens []TokenCheck `json:"tokens,omitempty"`
}

// TokenCheck is a delegate's verdict on one token of a connector.
type TokenCheck struct {
	Ref           string   `json:"token_ref"`
	Valid         bool     `json:"valid"`
	MissingScopes []string `json:"missing_scopes,omitempty"`
	Scopes        []string `json:"scopes,omitempty"`
	LimitPerHour  int64    `json:"limit_per_hour,omitempty"`
	Message       string   `json:"message,omitempty"`
}

// Trigger is what started a sync run.
type Trigger string

// Sync triggers. Webhook marks targeted refreshes queued by webhook
// deliveries.
const (
	Created   Trigger = "CREATED"   // the first sync, queued by creating the integration
	Manual    Trigger = "MANUAL"    // "sync now"
	Scheduled Trigger = "SCHEDULED" // the integration's schedule
	Resumed   Trigger = "RESUMED"   // the catch-up sync queued by resuming a suspended integration
	Webhook   Trigger = "WEBHOOK"   // a webhook delivery the payload could not fully describe
)

// Triggers lists every trigger, so that per-trigger metrics and views
// start at zero for each.
var Triggers = []Trigger{Created, Manual, Scheduled, Resumed, Webhook}

// RunStatus is where a sync run is.
type RunStatus string

// Sync run statuses; Queued and Running are active.
const (
	RunQueued    RunStatus = "QUEUED"
	RunRunning   RunStatus = "RUNNING"
	RunSuccess   RunStatus = "SUCCESS"
	RunPartial   RunStatus = "PARTIAL"
	RunFailed    RunStatus = "FAILED"
	RunCancelled RunStatus = "CANCELLED"
)

// Active reports whether a run has not ended.
func (s RunStatus) Active() bool { return s == RunQueued || s == RunRunning }

// RunStatusOf maps a final task outcome to the status of its run.
func RunStatusOf(o Outcome) RunStatus {
	switch o {
	case Succeeded:
		return RunSuccess
	case Partial:
		return RunPartial
	case Cancelled:
		return RunCancelled
	default:
		return RunFailed
	}
}

// SyncRun is one sync of an integration: its history and metrics.
type SyncRun struct {
	ID            string
	AccountID     string
	IntegrationID string
	TaskID        string
	Trigger       Trigger
	Status        RunStatus
	QueuedAt      time.Time
	StartedAt     time.Time
	FinishedAt    time.Time
	Attempt       int
	Delegate      string
	Error         string
	// Repositories, PullRequests and Commits count records received and
	// applied; the rest comes from the delegate's progress reports.
	Progress Progress
	// Targeted lists the repository slugs of a targeted refresh; empty for
	// a sync of the whole workspace.
	Targeted []string
}

// SyncPayload is what a SYNC task tells the delegate, built when the task
// is leased so it carries the latest cursors.
type SyncPayload struct {
	IntegrationID  string
	Target         Target
	SecondaryKinds []string // PULL_REQUESTS, COMMITS
	Limits         Limits
	StartDate      time.Time
	Cursors        []record.Cursor
	// CodeOwners lists the repositories (uuids) whose CODEOWNERS file to read.
	CodeOwners []string
	// Filter is the integration's repository filter.
	Filter repofilter.Filter
	// Repositories limits the sync to these slugs; empty: the workspace.
	Repositories []string
	// Webhook is the hook to ensure before a full sync; nil without a
	// public address, and for targeted refreshes.
	Webhook *HookSpec
	// Plan is the run's sweep plan, decided when the task is first leased
	// and kept for its later attempts; nil for a task planned by no one
	// (a full listing of every repository's pull requests).
	Plan *sweep.Plan
}

// HookSpec is a workspace webhook as the control plane wants it.
type HookSpec struct {
	URL         string
	Secret      string
	Events      []string
	Active      bool
	Description string
}

// HookPayload is what a WEBHOOK task tells the delegate.
type HookPayload struct {
	IntegrationID string
	Target        Target
	Spec          HookSpec
}

// HookResult is the delegate's report on a workspace webhook.
type HookResult struct {
	State    string // a webhook.State
	Message  string
	HookUUID string
}

// MaxTargeted is the most repositories one targeted refresh covers; more
// are queued in the next one.
const MaxTargeted = 1000

// TestPayload is what a TEST_CONNECTION task tells the delegate.
type TestPayload struct {
	ConnectorID string
	Target      Target
}

// Target is where and as whom to call Bitbucket; it holds no secret.
type Target struct {
	Workspace  string
	APIBaseURL string
	// TokenRefs are the connector's token references, in order.
	TokenRefs []string
}

// Limits caps one sync.
type Limits struct {
	FirstSyncPerRepository int
	MaxPullRequestsPerSync int
	MaxCommitsPerSync      int
	// MaxCodeOwnersRequestsPerSync caps the requests reading CODEOWNERS files.
	MaxCodeOwnersRequestsPerSync int
}

// DefaultLimits are the product's caps: the 50 most recent items per
// repository on its first sync, 5,000 pull requests and 5,000 commits
// across all repositories per sync (the rest is backfilled by later
// syncs), and 300 requests reading CODEOWNERS files (at least 100
// repositories; the rest wait for the next sync).
var DefaultLimits = Limits{FirstSyncPerRepository: 50, MaxPullRequestsPerSync: 5000, MaxCommitsPerSync: 5000,
	MaxCodeOwnersRequestsPerSync: 300}

// Assignment is a leased task handed to a delegate, with its payload.
type Assignment struct {
	Task Task
	Sync *SyncPayload
	Test *TestPayload
	Hook *HookPayload
}

// Coalesce adds more repository slugs to those of a targeted refresh not
// yet taken by a delegate: one task then serves every event about them.
// The result is sorted and unique; ok is false when it would exceed
// MaxTargeted, and a new task is due instead.
func Coalesce(queued, more []string) (merged []string, ok bool) {
	merged = append(slices.Clone(queued), more...)
	slices.Sort(merged)
	merged = slices.Compact(merged)
	return merged, len(merged) <= MaxTargeted
}
