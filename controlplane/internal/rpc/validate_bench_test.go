package rpc

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	delegatev1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
)

// BenchmarkRequestRulesUploadBatch measures the declared-rule check of the
// largest request the control plane takes often: an UploadRecords batch of
// 500 records (repositories with raw JSON, pull requests and commits, in
// the proportions of a first sync), as the interceptor runs it before the
// handler.
func BenchmarkRequestRulesUploadBatch(b *testing.B) {
	rules, err := newRequestRules()
	if err != nil {
		b.Fatal(err)
	}
	now := timestamppb.New(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	req := &delegatev1.UploadRecordsRequest{TaskId: "tsk_1", LeaseToken: "lt_1", Sequence: 1}
	for i := range 500 {
		uuid := fmt.Sprintf("{00000000-0000-0000-0000-%012d}", i)
		var r *delegatev1.Record
		switch i % 3 {
		case 0:
			raw, err := structpb.NewStruct(map[string]any{"uuid": uuid, "name": "repo", "description": "a repository of the workspace",
				"links": map[string]any{"html": map[string]any{"href": "https://bitbucket.org/acme/repo"}}, "is_private": true,
				"mainbranch": map[string]any{"name": "main"}, "project": map[string]any{"key": "PAY", "name": "Payments"}})
			if err != nil {
				b.Fatal(err)
			}
			r = &delegatev1.Record{Kind: &delegatev1.Record_Repository{Repository: &delegatev1.Repository{Uuid: uuid, Slug: "repo", Name: "repo",
				FullName: "acme/repo", CreatedOn: now, UpdatedOn: now, SizeBytes: 1024, Raw: raw}}}
		case 1:
			r = &delegatev1.Record{Kind: &delegatev1.Record_PullRequest{PullRequest: &delegatev1.PullRequest{RepositoryUuid: uuid, Id: int64(i + 1),
				Title: "Fix the thing", State: "OPEN", CreatedOn: now, UpdatedOn: now, CommentCount: 3}}}
		default:
			r = &delegatev1.Record{Kind: &delegatev1.Record_Commit{Commit: &delegatev1.Commit{RepositoryUuid: uuid, Hash: fmt.Sprintf("%040x", i),
				Date: now, AuthorRaw: "Dev <dev@example.com>", Message: "Fix the thing\n", Parents: []string{fmt.Sprintf("%040x", i+1)}}}}
		}
		req.Records = append(req.Records, r)
	}
	if err := rules.check(req); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := rules.check(req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(req.Records))/b.Elapsed().Seconds(), "records/s")
}
