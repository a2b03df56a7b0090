// Package metrics defines the control plane's Prometheus metrics and serves
// them in the text format on the optional --metrics-listen address: RPCs
// (a gRPC interceptor), the task protocol (a dispatch.Meter), and counts
// read from the store on each scrape (active tasks, connected delegates,
// the database pool). Every label takes values from a fixed set: no task,
// run, account or integration identifiers, which would grow without bound.
package metrics
