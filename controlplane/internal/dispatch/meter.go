package dispatch

import (
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// Meter learns what the task protocol did, for the server's metrics. Its
// methods are called on the request path after the store committed, so
// they must return at once.
type Meter interface {
	// Leased: a task was handed to a delegate after waiting queued for
	// waited (since it was last queued). An attempt above 1 means an
	// earlier lease expired or was released: another lease takes it over
	// from its checkpoint.
	Leased(t tasks.Task, waited time.Duration)
	// LeaseExpired: a lease ran out; requeued tells whether the task went
	// back to the queue or ended.
	LeaseExpired(t tasks.Task, requeued bool)
	// BatchApplied: a record batch was stored; duplicate when it had been
	// applied before and was acknowledged again without being applied.
	BatchApplied(records []record.Record, duplicate bool)
	// BatchRejected: a record batch was refused (invalid, out of sequence,
	// lease lost or the database failed).
	BatchRejected()
	// RunEnded: a sync run reached its final status.
	RunEnded(run tasks.SyncRun)
}

// Measure makes m learn what the service does; call it before serving.
func (s *Service) Measure(m Meter) { s.meter = m }

type noMeter struct{}

func (noMeter) Leased(tasks.Task, time.Duration)   {}
func (noMeter) LeaseExpired(tasks.Task, bool)      {}
func (noMeter) BatchApplied([]record.Record, bool) {}
func (noMeter) BatchRejected()                     {}
func (noMeter) RunEnded(tasks.SyncRun)             {}
