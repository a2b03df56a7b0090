package bitbucketmock

import (
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
)

// BenchmarkRepositoryPages measures how many repository pages (pagelen=100,
// the size clients use) the mock serves per second over a real loopback
// socket, from 20,000 generated repositories, so that later benchmarks can
// tell whether the mock is their bottleneck. "serial" is one client waiting
// for each answer; "parallel" is GOMAXPROCS clients at once. The figure
// includes the client's reading of each body.
func BenchmarkRepositoryPages(b *testing.B) {
	s, err := New(Config{Seed: 1, Repos: 20_000, PRsPerRepo: 25, CommitsPerRepo: 25})
	if err != nil {
		b.Fatal(err)
	}
	run, err := s.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer run.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var bytesRead atomic.Int64
	fetch := func(b *testing.B, page int) {
		req, _ := http.NewRequest(http.MethodGet, run.URL+"/repositories/acme?pagelen=100&page="+strconv.Itoa(page), nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		bytesRead.Add(n)
		if resp.StatusCode != http.StatusOK {
			b.Errorf("status %d", resp.StatusCode)
		}
	}
	report := func(b *testing.B) {
		secs := b.Elapsed().Seconds()
		b.ReportMetric(float64(b.N)/secs, "pages/s")
		b.ReportMetric(float64(bytesRead.Load())/float64(b.N)/1024, "KiB/page")
	}
	b.Run("serial", func(b *testing.B) {
		bytesRead.Store(0)
		for i := 0; i < b.N; i++ {
			fetch(b, i%200+1)
		}
		report(b)
	})
	b.Run("parallel", func(b *testing.B) {
		bytesRead.Store(0)
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				fetch(b, int(next.Add(1)%200)+1)
			}
		})
		report(b)
	})
}
