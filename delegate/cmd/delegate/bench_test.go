package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
)

// BenchmarkPeakMemory20kRepositories runs the delegate binary as its own
// process through a first sync of a 20,000-repository workspace (default
// caps of 5,000 pull requests and 5,000 commits) and reports its peak
// resident set size (VmHWM), which covers the Go heap, stacks and runtime.
func BenchmarkPeakMemory20kRepositories(b *testing.B) {
	m := bitbucketmock.Start(b, bitbucketmock.Config{Seed: 20000, Repos: 20000, PRsPerRepo: 10, CommitsPerRepo: 10,
		Tokens: []bitbucketmock.Token{{Name: "delegate", Value: testenv.BitbucketToken}}})
	for b.Loop() {
		cp := control(b, 0)
		p := start(b, delegateEnv(cp, allowAPI(m.URL), "IDP_LOG_LEVEL=info", "IDP_REQUEST_BUDGET=100000000/h"))
		id := cp.Enqueue(testenv.SyncTask(m.URL, m.Workspace(), nil, nil, time.Time{}))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		began := time.Now()
		done, err := cp.WaitDone(ctx, id)
		cancel()
		if err != nil || done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
			b.Fatalf("sync: %v %v %s", err, done.GetOutcome(), done.GetError())
		}
		took := time.Since(began)
		hwm := vmHWM(b, p.cmd.Process.Pid)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.done
		cp.Stop()
		b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
		b.ReportMetric(float64(cp.Count()["repository"]), "repositories")
		b.ReportMetric(took.Seconds(), "sync-seconds")
	}
}

// vmHWM reads the peak resident set size of a process, in KiB.
func vmHWM(b *testing.B, pid int) int {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return kb
		}
	}
	b.Fatal("VmHWM not found")
	return 0
}
