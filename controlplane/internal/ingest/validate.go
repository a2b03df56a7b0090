// Package ingest checks the records delegates upload (see shared/record)
// before the store applies a batch. A batch is applied atomically and
// exactly once; see store.ApplyBatch.
package ingest

import (
	"fmt"
	"regexp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// ReasonInvalidRecord is the reason of a batch refused for a bad record.
const ReasonInvalidRecord = "INVALID_RECORD"

var (
	uuidPattern = regexp.MustCompile(`^\{[0-9a-fA-F-]{1,64}\}$`)
	hashPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// Validate checks every record of a batch and names the first bad record's
// field, e.g. "records[3].pull_request.id".
func Validate(records []record.Record) error {
	for i, r := range records {
		if field, problem := check(r); problem != "" {
			name := fmt.Sprintf("records[%d]%s", i, field)
			var v fault.Violations
			v.Add(name, "%s", problem)
			return v.Err(ReasonInvalidRecord, "record "+fmt.Sprint(i)+" is invalid; nothing of the batch was applied")
		}
	}
	return nil
}

func check(r record.Record) (string, string) {
	set := 0
	for _, b := range []bool{r.Repository != nil, r.PullRequest != nil, r.Commit != nil, r.Cursor != nil, r.ListingComplete != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		return "", "exactly one of repository, pull_request, commit, cursor or listing_complete must be set"
	}
	switch {
	case r.Repository != nil:
		x := r.Repository
		switch {
		case !uuidPattern.MatchString(x.UUID):
			return ".repository.uuid", "must be a braced Bitbucket uuid"
		case x.Slug == "":
			return ".repository.slug", "required"
		case x.Name == "":
			return ".repository.name", "required"
		}
	case r.PullRequest != nil:
		x := r.PullRequest
		switch {
		case !uuidPattern.MatchString(x.RepositoryUUID):
			return ".pull_request.repository_uuid", "must be a braced Bitbucket uuid"
		case x.ID <= 0:
			return ".pull_request.id", "must be positive"
		}
	case r.Commit != nil:
		x := r.Commit
		switch {
		case !uuidPattern.MatchString(x.RepositoryUUID):
			return ".commit.repository_uuid", "must be a braced Bitbucket uuid"
		case !hashPattern.MatchString(x.Hash):
			return ".commit.hash", "must be a full 40-character lower-case hex hash"
		}
	case r.Cursor != nil:
		if !uuidPattern.MatchString(r.Cursor.RepositoryUUID) {
			return ".cursor.repository_uuid", "must be a braced Bitbucket uuid"
		}
	}
	return "", ""
}
