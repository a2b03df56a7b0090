// Package dispatch is the task protocol between the control plane and its
// delegates: a delegate registers (its name and tags checked here),
// AcquireTask long-polls (woken at once when work is queued for the
// account), a lease is renewed with progress and a checkpoint, a lease not
// renewed in time makes the task available to the next delegate with that
// checkpoint, and stale lease tokens are fenced off. Every change of a
// task's state is decided by tasks.Next and saved by the store in the same
// transaction. Record batches are normalized and checked (package ingest)
// before the store applies them, and every sync run that ends is reported
// to the SyncObserver. A Meter (the server's metrics) learns of leases,
// expiries, batches and ended runs. All waits run on the injected clock.
package dispatch
