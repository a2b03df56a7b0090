// Package record holds the normalized Bitbucket records a sync produces:
// repositories, pull requests, commits, per-repository cursors and the
// end-of-listing marker. The delegate builds them from Bitbucket's API and
// the control plane stores them; each side translates them to and from the
// wire at its edge.
package record

import (
	"encoding/json"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/repofilter"
)

// Record is one normalized item of a sync; exactly one field is set.
type Record struct {
	Repository      *Repository
	PullRequest     *PullRequest
	Commit          *Commit
	Cursor          *Cursor
	ListingComplete *ListingComplete
	CodeOwners      *CodeOwners
}

// Kind names the record's kind, for counters and logs.
func (r Record) Kind() string {
	switch {
	case r.Repository != nil:
		return "repository"
	case r.PullRequest != nil:
		return "pull_request"
	case r.Commit != nil:
		return "commit"
	case r.Cursor != nil:
		return "cursor"
	case r.ListingComplete != nil:
		return "listing_complete"
	case r.CodeOwners != nil:
		return "code_owners"
	default:
		return "empty"
	}
}

// Repository is a Bitbucket repository; UUID is its identity, so a rename
// or a move updates the stored row.
type Repository struct {
	UUID          string
	Slug          string
	Name          string
	FullName      string
	Workspace     string
	ProjectKey    string
	ProjectName   string
	Description   string
	IsPrivate     bool
	Language      string
	MainBranch    string
	HTMLURL       string
	CloneHTTPSURL string
	CloneSSHURL   string
	CreatedOn     time.Time
	UpdatedOn     time.Time
	SizeBytes     int64
	// Raw is the repository object as Bitbucket returned it, for field
	// mappings and correlation rules.
	Raw json.RawMessage
}

// PullRequest is a pull request of a repository. ID is its number within
// the repository, as Bitbucket names it.
type PullRequest struct {
	RepositoryUUID    string
	ID                int64
	Title             string
	State             string
	Draft             bool
	Author            string
	AuthorUUID        string
	SourceBranch      string
	DestinationBranch string
	CreatedOn         time.Time
	UpdatedOn         time.Time
	MergeCommit       string
	ClosedBy          string
	CommentCount      int32
	TaskCount         int32
	HTMLURL           string
}

// Commit is a commit on a repository's main branch.
type Commit struct {
	RepositoryUUID string
	Hash           string
	Date           time.Time
	AuthorRaw      string
	AuthorUser     string
	Message        string
	Parents        []string
	HTMLURL        string
}

// Cursor records how far one repository's secondary kinds have been
// fetched; the next SYNC task carries it back to the delegate. See the
// RepositoryCursor message for the meaning of each field.
type Cursor struct {
	RepositoryUUID             string
	CommitsCheckedAtUpdatedOn  time.Time
	NewestCommitHash           string
	OldestCommitHash           string
	CommitsBackfilled          bool
	NewestPullRequestUpdatedOn time.Time
	OldestPullRequestUpdatedOn time.Time
	PullRequestsBackfilled     bool
	// PullRequestsConfirmedAt is when every pull request updated before
	// it was last known stored (the as-of time of the plan of the run that
	// fetched them completely); zero when never.
	PullRequestsConfirmedAt time.Time
	// PullRequestsCheckedAtUpdatedOn is the repository's updated_on when
	// its pull requests were last confirmed.
	PullRequestsCheckedAtUpdatedOn time.Time
}

// FilterFacts is what a repository filter reads of r: its columns, and
// whether it is a fork from the raw object (a fork has a parent).
func (r Repository) FilterFacts() repofilter.Repository {
	facts := repofilter.Repository{ProjectKey: r.ProjectKey, Slug: r.Slug, Name: r.Name, IsPrivate: r.IsPrivate, UpdatedOn: r.UpdatedOn}
	if len(r.Raw) > 0 {
		if raw, err := repofilter.FromJSON(r.Raw); err == nil {
			facts.IsFork = raw.IsFork
		}
	}
	return facts
}

// ListingComplete marks that every repository of the workspace was sent in
// this task: the integration's repositories not sent are deleted, except
// those ListedWith leaves out.
type ListingComplete struct {
	RepositoryCount int64
	// ListedWith is the filter Bitbucket applied to the listing (the
	// server part of the task's filter); nil when none.
	ListedWith *repofilter.Filter
}

// CodeOwners is what the CODEOWNERS file of a repository's default branch
// says about the repository as a whole; see the CodeOwners message.
type CodeOwners struct {
	RepositoryUUID string
	// Path is the file found; empty when the repository has none.
	Path string
	// Owners of the last rule covering the whole repository, as written.
	Owners []string
	// CoversRepository is true when such a rule exists.
	CoversRepository bool
	Line             int32
	Revision         string
	// RepositoryUpdatedOn is the repository's updated_on when it was read.
	RepositoryUpdatedOn time.Time
}
