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
	"unicode/utf8"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// ReasonInvalidRecord is the reason of a batch refused for a bad record.
const ReasonInvalidRecord = "INVALID_RECORD"

var (
	uuidPattern = regexp.MustCompile(`^\{[0-9a-fA-F-]{1,64}\}$`)
	hashPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// Limits of what a record stores. Text past its limit is cut there, on a
// character boundary; parents past MaxParents are dropped; raw repository
// JSON past its limits is dropped (the repository is kept, and field
// mappings find nothing in it).
const (
	MaxText     = 1024     // bytes of a name, key, branch, URL, state, author or title
	MaxLongText = 64 << 10 // bytes of a repository description or a commit message
	MaxRawSize  = 256 << 10
	MaxRawDepth = 32 // nesting of objects and lists in raw JSON
	MaxParents  = 64 // parents kept of a commit, in order
	MaxOwners   = 16 // CODEOWNERS owners kept of a repository
)

// Normalize makes the text of every record storable, in place: NUL bytes
// are removed and invalid UTF-8 is replaced by U+FFFD, in every string and
// in the raw repository JSON, and text and raw JSON are held to the limits
// above. PostgreSQL refuses NUL and invalid UTF-8 in TEXT (SQLSTATE
// 22021), and Bitbucket does return them, e.g. a NUL pasted into a commit
// message. Refusing such a record would refuse its batch on every retry
// and stop the sync for good, so the record is kept without the bytes
// nobody can read anyway.
func Normalize(records []record.Record) {
	for _, r := range records {
		switch {
		case r.Repository != nil:
			x := r.Repository
			cleanAll(MaxText, &x.UUID, &x.Slug, &x.Name, &x.FullName, &x.Workspace, &x.ProjectKey, &x.ProjectName,
				&x.Language, &x.MainBranch, &x.HTMLURL, &x.CloneHTTPSURL, &x.CloneSSHURL)
			cleanAll(MaxLongText, &x.Description)
			x.Raw = cleanJSON(x.Raw)
		case r.PullRequest != nil:
			x := r.PullRequest
			cleanAll(MaxText, &x.RepositoryUUID, &x.Title, &x.State, &x.Author, &x.AuthorUUID, &x.SourceBranch, &x.DestinationBranch,
				&x.MergeCommit, &x.ClosedBy, &x.HTMLURL)
		case r.Commit != nil:
			x := r.Commit
			cleanAll(MaxText, &x.RepositoryUUID, &x.Hash, &x.AuthorRaw, &x.AuthorUser, &x.HTMLURL)
			cleanAll(MaxLongText, &x.Message)
			x.Parents = x.Parents[:min(len(x.Parents), MaxParents)]
			for i := range x.Parents {
				cleanAll(MaxText, &x.Parents[i])
			}
		case r.Cursor != nil:
			x := r.Cursor
			cleanAll(MaxText, &x.RepositoryUUID, &x.NewestCommitHash, &x.OldestCommitHash)
		case r.CodeOwners != nil:
			x := r.CodeOwners
			cleanAll(MaxText, &x.RepositoryUUID, &x.Path, &x.Revision)
			x.Owners = x.Owners[:min(len(x.Owners), MaxOwners)]
			for i := range x.Owners {
				cleanAll(MaxText, &x.Owners[i])
			}
		}
	}
}

func cleanAll(limit int, ss ...*string) {
	for _, s := range ss {
		*s = cut(clean(*s), limit)
	}
}

// cut shortens s to at most limit bytes without splitting a character.
func cut(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit]
}

func clean(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// cleanJSON cleans raw JSON: its bytes as text, and the strings it holds,
// where a NUL may hide as the escape \u0000 and come back when decoded.
// JSON past MaxRawSize or MaxRawDepth is dropped.
func cleanJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return raw
	}
	if len(raw) > MaxRawSize || depth(raw) > MaxRawDepth {
		return nil
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

// depth is how deep objects and lists nest in raw; strings are skipped
// so that brackets inside them do not count.
func depth(raw []byte) int {
	d, deepest, inString, escaped := 0, 0, false, false
	for _, c := range raw {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			d++
			deepest = max(deepest, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return deepest
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
	for _, b := range []bool{r.Repository != nil, r.PullRequest != nil, r.Commit != nil, r.Cursor != nil, r.ListingComplete != nil, r.CodeOwners != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		return "", "exactly one of repository, pull_request, commit, cursor, listing_complete or code_owners must be set"
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
	case r.CodeOwners != nil:
		if !uuidPattern.MatchString(r.CodeOwners.RepositoryUUID) {
			return ".code_owners.repository_uuid", "must be a braced Bitbucket uuid"
		}
	}
	return "", ""
}
