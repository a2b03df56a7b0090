// Package idpctl is the command-line client of the control plane's
// management API: connectors, integrations, syncs, discovery and imports,
// and catalog entities. It follows the conventions users know from kubectl
// and gh: global --server and --api-key (IDP_SERVER, IDP_API_KEY), -o
// table|json|yaml on every command that prints a resource, examples in
// every --help, and exit codes 0 (done), 1 (failed) and 2 (usage).
//
// Run is the whole program; cmd/idpctl only hands it the process's
// arguments, streams and environment, so tests (and the end-to-end suite)
// drive exactly what users run.
package idpctl
