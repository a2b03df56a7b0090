// Package dispatch hands tasks to delegates and holds them to their leases:
// AcquireTask long-polls (woken at once when work is queued for the
// account), a lease is renewed with progress and a checkpoint, a lease not
// renewed in time makes the task available to the next delegate with that
// checkpoint, and stale lease tokens are fenced off. Record batches and
// completions pass through here to the store, and every sync run that ends
// is reported to the SyncObserver.
package dispatch
