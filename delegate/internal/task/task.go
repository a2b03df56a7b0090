// Package task holds the delegate's domain vocabulary: the work a control
// plane hands out and how a task ends (the records a sync produces are in
// shared/record). It is free of wire types; internal/controlplane
// translates to and from them.
package task

import (
	"time"

	"github.com/catalog-discovery/bitbucket/shared/record"
	"github.com/catalog-discovery/bitbucket/shared/repofilter"
	"github.com/catalog-discovery/bitbucket/shared/sweep"
)

// Type says what a task asks the delegate to do.
type Type int

// Task types.
const (
	TypeUnknown Type = iota
	TypeSync
	TypeTestConnection
	TypeWebhook
)

func (t Type) String() string {
	switch t {
	case TypeSync:
		return "sync"
	case TypeTestConnection:
		return "test_connection"
	case TypeWebhook:
		return "webhook"
	default:
		return "unknown"
	}
}

// Task is one unit of work under a lease.
type Task struct {
	ID             string
	Type           Type
	LeaseToken     string
	LeaseExpiresAt time.Time
	Attempt        int
	// Checkpoint is the resume state stored by an earlier attempt.
	Checkpoint []byte
	// NextSequence is the first record batch number this attempt uses.
	NextSequence   int64
	Sync           *Sync
	TestConnection *TestConnection
	Webhook        *WebhookTask
}

// Target says where and as whom to call Bitbucket; TokenRefs name the
// tokens (env:NAME or file:/path), which only the delegate resolves.
type Target struct {
	Workspace  string
	APIBaseURL string
	TokenRefs  []string
}

// Sync asks for a workspace's repositories and their secondary kinds.
type Sync struct {
	IntegrationID string
	Target        Target
	PullRequests  bool
	Commits       bool
	Limits        Limits
	// StartDate, when not zero, is the oldest date fetched.
	StartDate time.Time
	// Cursors by repository uuid.
	Cursors map[string]record.Cursor
	// CodeOwners holds the uuids of the repositories whose CODEOWNERS file
	// to read.
	CodeOwners map[string]bool
	// Filter selects the repositories the integration discovers: Bitbucket
	// applies its server part to the listing; the secondary kinds of
	// listed repositories the rest leaves out are not fetched.
	Filter repofilter.Filter
	// Repositories, when set, limits the sync to these slugs (a targeted
	// refresh): no listing, no listing-complete marker.
	Repositories []string
	// Webhook is the workspace webhook to make sure of first; nil: none.
	Webhook *WebhookSpec
	// Plan says how to list and whose pull requests to confirm; nil: a
	// full listing with every repository's pull requests.
	Plan *sweep.Plan
}

// WebhookSpec is a workspace webhook as the control plane wants it.
type WebhookSpec struct {
	URL         string
	Secret      string
	Events      []string
	Active      bool
	Description string
}

// WebhookTask asks for the integration's hook to be brought to Spec.
type WebhookTask struct {
	IntegrationID string
	Target        Target
	Spec          WebhookSpec
}

// WebhookState is what became of a workspace webhook.
type WebhookState int

// Webhook states, as in the wire contract.
const (
	WebhookUnknown WebhookState = iota
	WebhookActive
	WebhookInactive
	WebhookMissingScope
	WebhookNotOwner
	WebhookFailed
)

// WebhookResult is the report on a workspace webhook.
type WebhookResult struct {
	State    WebhookState
	Message  string
	HookUUID string
}

// Limits cap how much one sync fetches.
type Limits struct {
	FirstSyncPerRepository int
	MaxPullRequestsPerSync int
	MaxCommitsPerSync      int
	// MaxCodeOwnersRequestsPerSync caps the CODEOWNERS locations probed.
	MaxCodeOwnersRequestsPerSync int
}

// DefaultMaxCodeOwnersRequestsPerSync caps what owner suggestions cost a
// sync: at most three locations are probed per repository, so 300 covers
// at least 100 repositories.
const DefaultMaxCodeOwnersRequestsPerSync = 300

// Defaults the control plane documents for limits it leaves at zero.
const (
	DefaultFirstSyncPerRepository = 50
	DefaultMaxPerSync             = 5000
)

// WithDefaults fills zero limits with the documented defaults.
func (l Limits) WithDefaults() Limits {
	if l.FirstSyncPerRepository <= 0 {
		l.FirstSyncPerRepository = DefaultFirstSyncPerRepository
	}
	if l.MaxPullRequestsPerSync <= 0 {
		l.MaxPullRequestsPerSync = DefaultMaxPerSync
	}
	if l.MaxCommitsPerSync <= 0 {
		l.MaxCommitsPerSync = DefaultMaxPerSync
	}
	if l.MaxCodeOwnersRequestsPerSync <= 0 {
		l.MaxCodeOwnersRequestsPerSync = DefaultMaxCodeOwnersRequestsPerSync
	}
	return l
}

// TestConnection asks the delegate to check a connector.
type TestConnection struct {
	ConnectorID string
	Target      Target
}

// Progress counts what a sync did; see the Progress message.
type Progress struct {
	Phase             string
	Repositories      int64
	PullRequests      int64
	Commits           int64
	Requests          int64
	RateLimited       int64
	RepositoriesDone  int64
	RepositoriesTotal int64
	// CodeOwnersRequests are the requests of Requests that read CODEOWNERS files.
	CodeOwnersRequests int64
	// Tokens is what each token of the target did, in the target's order.
	Tokens []TokenUsage
}

// TokenUsage is what one token did in a task.
type TokenUsage struct {
	Ref string
	// Rejected says why the token went out of use; "" while usable.
	Rejected     string
	LimitPerHour int64
	Requests     int64
	RateLimited  int64
}

// Outcome is how a task ended.
type Outcome int

// Outcomes, as in the wire contract.
const (
	OutcomeUnknown Outcome = iota
	OutcomeSucceeded
	OutcomePartial
	OutcomeFailed
	OutcomeCancelled
	OutcomeReleased
)

func (o Outcome) String() string {
	switch o {
	case OutcomeSucceeded:
		return "succeeded"
	case OutcomePartial:
		return "partial"
	case OutcomeFailed:
		return "failed"
	case OutcomeCancelled:
		return "cancelled"
	case OutcomeReleased:
		return "released"
	default:
		return "unknown"
	}
}

// TestConnectionResult is the verdict on a connector.
type TestConnectionResult struct {
	OK                 bool
	TokenValid         bool
	WorkspaceReachable bool
	MissingScopes      []string
	Message            string
	// Tokens is the verdict on each token, in the target's order.
	Tokens []TokenCheck
}

// TokenCheck is the verdict on one token of a connector.
type TokenCheck struct {
	Ref           string
	Valid         bool
	MissingScopes []string
	// Scopes are those Bitbucket says the token has (X-OAuth-Scopes).
	Scopes []string
	// LimitPerHour is X-RateLimit-Limit; 0 when Bitbucket sent none.
	LimitPerHour int64
	Message      string
}

// Completion is what CompleteTask reports.
type Completion struct {
	TaskID         string
	LeaseToken     string
	Outcome        Outcome
	Error          string
	Progress       Progress
	TestConnection *TestConnectionResult
	Webhook        *WebhookResult
	Checkpoint     []byte
}

// Registration describes this delegate to the control plane.
type Registration struct {
	Name        string
	Tags        []string
	Version     string
	Hostname    string
	Concurrency int
}

// Registered is the control plane's answer to a Registration.
type Registered struct {
	DelegateID    string
	AccountID     string
	RenewInterval time.Duration
	// PollHold is the longest the control plane holds a poll.
	PollHold time.Duration
	// KeepaliveMinTime is the shortest ping interval the control plane
	// permits; zero when it does not say.
	KeepaliveMinTime time.Duration
}

// Renewal is the control plane's answer to a lease renewal.
type Renewal struct {
	LeaseExpiresAt  time.Time
	CancelRequested bool
}
