// Package tasks holds the work handed to delegates: tasks and their
// leases, outcomes, progress, sync runs and connection tests, and the state
// machine (Next) that decides every change of a task's state. The dispatch
// package drives the protocol; the store saves what Next decides.
package tasks

import (
	"time"

	"github.com/catalog-discovery/bitbucket/shared/record"
	"github.com/catalog-discovery/bitbucket/shared/sweep"
)

// Type is what a task asks a delegate to do.
type Type string

// Task types.
const (
	Sync           Type = "SYNC"
	TestConnection Type = "TEST_CONNECTION"
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
	CreatedAt       time.Time
	AvailableAt     time.Time // when it was last queued
	FinishedAt      time.Time
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
}

// TestResult is a delegate's verdict on a connector.
type TestResult struct {
	OK                 bool     `json:"ok"`
	TokenValid         bool     `json:"token_valid"`
	WorkspaceReachable bool     `json:"workspace_reachable"`
	MissingScopes      []string `json:"missing_scopes,omitempty"`
	Message            string   `json:"message,omitempty"`
}

// Trigger is what started a sync run.
type Trigger string

// Sync triggers. Webhook is reserved for syncs started by Bitbucket
// webhooks; nothing queues it yet.
const (
	Created   Trigger = "CREATED"   // the first sync, queued by creating the integration
	Manual    Trigger = "MANUAL"    // "sync now"
	Scheduled Trigger = "SCHEDULED" // the integration's schedule
	Resumed   Trigger = "RESUMED"   // the catch-up sync queued by resuming a suspended integration
	Webhook   Trigger = "WEBHOOK"
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
	// Plan is the run's sweep plan, decided when the task is first leased
	// and kept for its later attempts; nil for a task planned by no one
	// (a full listing of every repository's pull requests).
	Plan *sweep.Plan
}

// TestPayload is what a TEST_CONNECTION task tells the delegate.
type TestPayload struct {
	ConnectorID string
	Target      Target
}

// Target is where and as whom to call Bitbucket; it holds no secret.
type Target struct {
	Workspace  string
	APIBaseURL string
	TokenRef   string
}

// Limits caps one sync.
type Limits struct {
	FirstSyncPerRepository int
	MaxPullRequestsPerSync int
	MaxCommitsPerSync      int
}

// DefaultLimits are the product's caps: the 50 most recent items per
// repository on its first sync, and 5,000 pull requests and 5,000 commits
// across all repositories per sync (the rest is backfilled by later syncs).
var DefaultLimits = Limits{FirstSyncPerRepository: 50, MaxPullRequestsPerSync: 5000, MaxCommitsPerSync: 5000}

// Assignment is a leased task handed to a delegate, with its payload.
type Assignment struct {
	Task Task
	Sync *SyncPayload
	Test *TestPayload
}
