package store

import (
	"context"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
	"github.com/catalog-discovery/bitbucket/shared/sweep"
)

// Store is everything the control plane persists. Every method is safe for
// concurrent use; methods that change several rows do so atomically.
type Store interface {
	// Tenants and credentials.
	CreateAccount(ctx context.Context, a auth.Account, flags []auth.Flag) error
	GetAccount(ctx context.Context, id string) (auth.Account, error)
	SetFeatureFlag(ctx context.Context, accountID string, f auth.Flag, enabled bool, now time.Time) error
	FeatureFlag(ctx context.Context, accountID string, f auth.Flag) (bool, error)
	CreateAPIKey(ctx context.Context, k auth.APIKey) error
	APIKeyByHash(ctx context.Context, hash string) (auth.APIKey, error)
	CreateDelegateToken(ctx context.Context, t auth.DelegateToken) error
	DelegateTokenByHash(ctx context.Context, hash string) (auth.DelegateToken, error)

	// Delegates.
	RegisterDelegate(ctx context.Context, d Delegate, maxAttempts int) (Delegate, []Expiry, error)
	GetDelegate(ctx context.Context, accountID, id string) (Delegate, error)
	DelegateSeen(ctx context.Context, accountID, delegateID string, now time.Time) error
	TaskDelegateSeen(ctx context.Context, accountID, taskID string, now time.Time) error

	// Connectors.
	CreateConnector(ctx context.Context, c integration.Connector) error
	GetConnector(ctx context.Context, accountID, idOrName string) (integration.Connector, error)
	ListConnectors(ctx context.Context, accountID string, p Page) ([]integration.Connector, string, error)
	DeleteConnector(ctx context.Context, accountID, idOrName string) error
	UpdateConnector(ctx context.Context, accountID, idOrName string, apply func(*integration.Connector) error) (integration.Connector, error)

	// Integrations. Create also records the event and queues the first sync.
	CreateIntegration(ctx context.Context, in integration.Integration, first SyncRequest) (tasks.SyncRun, error)
	GetIntegration(ctx context.Context, accountID, idOrName string) (integration.Integration, error)
	ListIntegrations(ctx context.Context, accountID string, p Page) ([]IntegrationWithRun, string, error)
	UpdateIntegration(ctx context.Context, accountID, idOrName string, change IntegrationChange) (integration.Integration, error)
	SuspendIntegration(ctx context.Context, accountID, idOrName, actor string, now time.Time) (StateChange, error)
	ResumeIntegration(ctx context.Context, accountID, idOrName, actor string, now time.Time) (StateChange, error)

	// Scheduling and runs.
	QueueSync(ctx context.Context, r SyncRequest) (run tasks.SyncRun, joined bool, err error)
	DueIntegrations(ctx context.Context, now time.Time, limit int) ([]integration.Integration, error)
	ScheduleSync(ctx context.Context, due integration.Integration, now time.Time) (run tasks.SyncRun, claimed, joined bool, err error)
	GetSyncRun(ctx context.Context, accountID, id string) (tasks.SyncRun, error)
	ListSyncRuns(ctx context.Context, accountID, integrationID string, p Page) ([]tasks.SyncRun, string, error)
	// CountConnectors, CountIntegrations and CountSyncRuns count what
	// the lists of the same name page through, for their totals.
	CountConnectors(ctx context.Context, accountID string) (int64, error)
	CountIntegrations(ctx context.Context, accountID string) (int64, error)
	CountSyncRuns(ctx context.Context, accountID, integrationID string) (int64, error)
	// ConnectorNames maps connector ids of an account to their names, in
	// one statement; ids not found are left out.
	ConnectorNames(ctx context.Context, accountID string, ids []string) (map[string]string, error)
	LastSyncRun(ctx context.Context, accountID, integrationID string) (tasks.SyncRun, bool, error)

	// Tasks and leases.
	QueueTestConnection(ctx context.Context, c integration.Connector, now time.Time) (tasks.Task, error)
	GetTask(ctx context.Context, accountID, id string) (tasks.Task, error)
	AcquireTask(ctx context.Context, r AcquireRequest) (tasks.Task, bool, error)
	RenewLease(ctx context.Context, r RenewRequest) (RenewResult, error)
	CompleteTask(ctx context.Context, r CompleteRequest) (CompleteResult, error)
	ReturnLease(ctx context.Context, accountID, taskID, token string) error
	ExpireLeases(ctx context.Context, now time.Time, maxAttempts int) ([]Expiry, error)

	// Work that follows a finished sync run, written when it ends.
	ClaimFollowUp(ctx context.Context, runID string, now time.Time, leaseFor time.Duration) (FollowUp, bool, error)
	FinishFollowUp(ctx context.Context, id string) error
	FailFollowUp(ctx context.Context, f FollowUp, retryAt time.Time, e Event) error

	// Ingest.
	ApplyBatch(ctx context.Context, r BatchRequest) (BatchResult, error)
	ListRepositories(ctx context.Context, integrationID string, p Page) ([]Repository, string, error)
	GetRepository(ctx context.Context, integrationID, uuid string) (Repository, error)
	ListPullRequests(ctx context.Context, integrationID, repositoryUUID string) ([]record.PullRequest, error)
	ListCommits(ctx context.Context, integrationID, repositoryUUID string) ([]record.Commit, error)
	ListCursors(ctx context.Context, integrationID string, slugs ...string) ([]record.Cursor, error)
	CodeOwnersToCheck(ctx context.Context, integrationID string, limit int) ([]string, error)

	// Webhooks and targeted refreshes.
	QueueRefresh(ctx context.Context, r TargetedRequest) (run tasks.SyncRun, coalesced bool, err error)
	EnsureWebhookSecret(ctx context.Context, integrationID, fresh string) (string, error)
	WebhookReceiverOf(ctx context.Context, integrationID string) (WebhookReceiver, bool, error)
	AddDelivery(ctx context.Context, d Delivery) (duplicate bool, err error)
	ClaimDeliveries(ctx context.Context, now time.Time, leaseFor time.Duration, limit int) ([]Delivery, error)
	FinishDelivery(ctx context.Context, d Delivery, outcome string, failed bool, now time.Time) error
	WebhookDeliveryStats(ctx context.Context, accountID string) (map[string]DeliveryStats, error)
	PruneDeliveries(ctx context.Context, before time.Time, limit int) (int64, error)
	ApplyHook(ctx context.Context, h HookApply) (HookApplied, error)
	MarkRepositoryDeleted(ctx context.Context, accountID, integrationID, uuid string, now time.Time) (bool, error)

	// Sweeps.
	PlanSync(ctx context.Context, accountID, taskID, leaseToken string, decide func(SweepFacts) sweep.Plan) (sweep.Plan, error)
	Freshness(ctx context.Context, integrationID string, overdueBefore time.Time) (Freshness, error)

	// Events.
	AddEvent(ctx context.Context, e Event) error
	ListEvents(ctx context.Context, accountID, integrationID string, p Page) ([]Event, string, error)

	Ping(ctx context.Context) error
	Close() error
}

// MaxPageSize is the most items one page of any list holds; a larger page
// size asks for this many. It is the one page cap of the API, declared
// for every page_size in the contract (idp.rules.v1.page_size), which
// refuses a larger one before it reaches the store; rpc's tests hold the
// two equal.
const MaxPageSize = 1000

// Page asks for one page of a list.
type Page struct {
	Size  int    // clamped to [1, MaxPageSize]; 0 or less means the list's default
	Token string // from the previous page; empty for the first
}

func (p Page) size(def int) int {
	switch {
	case p.Size <= 0:
		return def
	case p.Size > MaxPageSize:
		return MaxPageSize
	}
	return p.Size
}

// Delegate is a registered delegate process.
type Delegate struct {
	ID           string
	AccountID    string
	Name         string
	Tags         []string
	Version      string
	Hostname     string
	Concurrency  int
	RegisteredAt time.Time
	LastSeenAt   time.Time
}

// SyncRequest asks for a sync of an integration.
type SyncRequest struct {
	AccountID     string
	IntegrationID string
	Trigger       tasks.Trigger
	Actor         string
	Now           time.Time
}

// IntegrationChange is a read-modify-write of an integration: Apply runs
// inside the transaction on the current value and reports which fields it
// changed (none: nothing is written).
type IntegrationChange struct {
	Apply func(*integration.Integration) ([]string, error)
	Actor string
	Now   time.Time
}

// StateChange is the result of a suspend or resume.
type StateChange struct {
	Integration integration.Integration
	Changed     bool
	// Ended lists runs the change ended (a queued run cancelled by a suspend).
	Ended []tasks.SyncRun
	// Queued is the run a resume queued.
	Queued *tasks.SyncRun
}

// AcquireRequest leases the oldest queued task a delegate may run.
type AcquireRequest struct {
	AccountID  string
	DelegateID string
	Delegate   string // name, recorded on the run
	Tags       []string
	Now        time.Time
	LeaseFor   time.Duration
}

// RenewRequest extends a lease.
type RenewRequest struct {
	AccountID  string
	TaskID     string
	LeaseToken string
	Now        time.Time
	LeaseFor   time.Duration
	Checkpoint []byte // empty keeps the stored one
	Progress   *tasks.Progress
}

// RenewResult is the new lease state.
type RenewResult struct {
	ExpiresAt       time.Time
	CancelRequested bool
}

// CompleteRequest ends (or, with Released, hands back) a task.
type CompleteRequest struct {
	AccountID  string
	TaskID     string
	LeaseToken string
	Outcome    tasks.Outcome
	Error      string
	Progress   *tasks.Progress
	Result     *tasks.TestResult
	// Hook is the delegate's report on the integration's webhook.
	Hook       *tasks.HookResult
	Checkpoint []byte
	Actor      string
	Now        time.Time
}

// CompleteResult says what the completion did.
type CompleteResult struct {
	Task tasks.Task
	// Run is the task's sync run after the change, for SYNC tasks.
	Run *tasks.SyncRun
	// Repeated is true when the task had already been completed with this
	// lease token: nothing changed.
	Repeated bool
}

// Expiry is a lease that ran out, or one reclaimed from a delegate that
// registered again.
type Expiry struct {
	Task tasks.Task
	// Requeued is true when the task is available again; false when it
	// ended (attempts exhausted, or cancellation had been requested).
	Requeued bool
	Run      *tasks.SyncRun
}

// BatchRequest is one uploaded record batch.
type BatchRequest struct {
	AccountID  string
	TaskID     string
	LeaseToken string
	Sequence   int64
	Records    []record.Record
	// Progress is the sync's progress as the delegate sent it with the
	// batch; stored like a renewal's (record counts excepted). Optional.
	Progress *tasks.Progress
	Now      time.Time
}

// BatchResult acknowledges a batch.
type BatchResult struct {
	Acknowledged int64
	Duplicate    bool
	// Deleted lists repositories a listing_complete record marked deleted.
	Deleted []string
}

// Repository is a stored repository with its bookkeeping.
type Repository struct {
	record.Repository
	IntegrationID  string
	AccountID      string
	FirstSeenAt    time.Time
	UpdatedAt      time.Time
	LastSeenTaskID string
	DeletedAt      time.Time // zero unless deleted
}

// EventType classifies an event.
type EventType string

// Event types of this package's writers; later issues add their own.
const (
	EventSync              EventType = "SYNC"
	EventConfigChanged     EventType = "CONFIG_CHANGED"
	EventSuspended         EventType = "SUSPENDED"
	EventResumed           EventType = "RESUMED"
	EventImported          EventType = "IMPORTED"
	EventAutoImported      EventType = "AUTO_IMPORTED"
	EventUnlinked          EventType = "UNLINKED"
	EventImportFailed      EventType = "IMPORT_FAILED"
	EventRepositoryDeleted EventType = "REPOSITORY_DELETED"
	EventFollowUpFailed    EventType = "FOLLOW_UP_FAILED"
)

// Event is one entry of an integration's log.
type Event struct {
	ID            string
	AccountID     string
	IntegrationID string
	Time          time.Time
	Type          EventType
	Message       string
	Actor         string
	RunID         string
	Repository    string
	Error         string
}
