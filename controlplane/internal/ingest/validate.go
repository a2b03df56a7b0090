// Package ingest checks the records delegates upload (see shared/record):
// the task protocol normalizes and validates every batch before the store
// applies it, atomically and exactly once (store.ApplyBatch).
package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// ReasonInvalidRecord is the reason of a batch refused for a bad record.
const ReasonInvalidRecord = "INVALID_RECORD"

var (
	uuidPattern = regexp.MustCompile(`^\{[0-9a-fA-F-]{1,64}\}$`)
	hashPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// Normalize makes the text of every record storable, in place: NUL bytes
// are removed and invalid UTF-8 is replaced by U+FFFD, in every string and
// in the raw repository JSON. PostgreSQL refuses both in TEXT (SQLSTATE
// 22021), and Bitbucket does return them, e.g. a NUL pasted into a commit
// message. Refusing such a record would refuse its batch on every retry
// and stop the sync for good, so the record is kept without the bytes
// nobody can read anyway.
func Normalize(records []record.Record) {
	for _, r := range records {
		switch {
		case r.Repository != nil:
			x := r.Repository
			cleanAll(&x.UUID, &x.Slug, &x.Name, &x.FullName, &x.Workspace, &x.ProjectKey, &x.ProjectName, &x.Description,
				&x.Language, &x.MainBranch, &x.HTMLURL, &x.CloneHTTPSURL, &x.CloneSSHURL)
			x.Raw = cleanJSON(x.Raw)
		case r.PullRequest != nil:
			x := r.PullRequest
			cleanAll(&x.RepositoryUUID, &x.Title, &x.State, &x.Author, &x.AuthorUUID, &x.SourceBranch, &x.DestinationBranch,
				&x.MergeCommit, &x.ClosedBy, &x.HTMLURL)
		case r.Commit != nil:
			x := r.Commit
			cleanAll(&x.RepositoryUUID, &x.Hash, &x.AuthorRaw, &x.AuthorUser, &x.Message, &x.HTMLURL)
			for i := range x.Parents {
				cleanAll(&x.Parents[i])
			}
		case r.Cursor != nil:
			x := r.Cursor
			cleanAll(&x.RepositoryUUID, &x.NewestCommitHash, &x.OldestCommitHash)
		}
	}
}

func cleanAll(ss ...*string) {
	for _, s := range ss {
		*s = clean(*s)
	}
}

func clean(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// cleanJSON cleans raw JSON: its bytes as text, and the strings it holds,
// where a NUL may hide as the escape \u0000 and come back when decoded.
func cleanJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return raw
	}
	out := json.RawMessage(clean(string(raw)))
	if !bytes.Contains(out, []byte(`\u0000`)) {
		return out
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return out
	}
	b, err := json.Marshal(cleanValue(v))
	if err != nil {
		return out
	}
	return b
}

func cleanValue(v any) any {
	switch x := v.(type) {
	case string:
		return clean(x)
	case []any:
		for i := range x {
			x[i] = cleanValue(x[i])
		}
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[clean(k)] = cleanValue(e)
		}
		return m
	}
	return v
}

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
