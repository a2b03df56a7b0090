package bitbucketmock

import "testing"

// Start generates cfg's workspace and serves it on a loopback port until the
// test ends. Use run.URL as the client's API base URL.
func Start(tb testing.TB, cfg Config) *Running {
	tb.Helper()
	s, err := New(cfg)
	if err != nil {
		tb.Fatalf("bitbucketmock: %v", err)
	}
	run, err := s.Listen("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("bitbucketmock: %v", err)
	}
	tb.Cleanup(func() { _ = run.Close() })
	return run
}
