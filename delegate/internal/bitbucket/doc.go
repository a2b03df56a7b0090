// Package bitbucket is the delegate's Bitbucket Cloud REST 2.0 client. It
// is frugal with the request budget because Bitbucket's limit is a rolling
// hour per credential that a 429 (with no Retry-After) only reports after
// the fact: every request, retries included, first takes a slot from the
// credential's Budget; retries follow one policy (retry.go); pages are
// decoded strictly, with size limits, and never trusted to be well formed.
package bitbucket
