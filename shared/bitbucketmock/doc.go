// Package bitbucketmock is a faithful fake of the Bitbucket Cloud REST API 2.0,
// the part a catalog discovery client reads: repositories, projects, pull
// requests, commits, branches, tags, the workspace and the current user.
//
// It is a real HTTP server, so the delegate's tests and benchmarks exercise
// their HTTP client, pagination, retries and rate budget over a socket. It
// reproduces the quirks clients trip on (pull requests cap pagelen at 50,
// commits use iterator pagination without size, 429 carries no Retry-After,
// 403 names the missing scope) and can misbehave on demand (5xx, resets,
// truncated or malformed bodies, trickling, latency), deterministically per
// seed so a failure replays.
//
// The data is generated from a seed: repository metadata compactly up front,
// pull requests and commits on demand from (seed, repository, index), with only
// mutations stored, so 20,000 repositories with a million pull requests and
// commits fit in a few tens of megabytes. Tests drive changes (add, rename,
// move, delete repositories; push commits; open, merge, decline pull requests)
// and read request counters through methods on Server or the HTTP control API
// under /_mock/ on the same port.
//
// Workspace webhooks are managed through the API with Bitbucket's scope and
// owner rules, and every change made through the control API is delivered
// to the hooks subscribed to it, signed, retried and droppable as Bitbucket
// delivers events (deliver.go, events.go).
package bitbucketmock
