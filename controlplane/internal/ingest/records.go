// Package ingest defines the normalized records delegates upload
// (repositories, pull requests, commits, per-repository cursors and the
// end-of-listing marker) and checks them before the store applies a batch.
// A batch is applied atomically and exactly once; see store.ApplyBatch.
package ingest

import (
	"time"
)

// Record is one uploaded item; exactly one field is set.
type Record struct {
	Repository      *Repository
	PullRequest     *PullRequest
	Commit          *Commit
	Cursor          *Cursor
	ListingComplete *ListingComplete
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
	// Raw is the repository object as Bitbucket returned it, as JSON text,
	// for field mappings and correlation rules.
	Raw string
}

// PullRequest is a pull request of a repository.
type PullRequest struct {
	RepositoryUUID    string
	Number            int64
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

// Commit is a main-branch commit of a repository.
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

// Cursor records how far the secondary kinds of one repository have been
// fetched; the next SYNC task carries it back to the delegate.
type Cursor struct {
	RepositoryUUID             string
	CommitsCheckedAtUpdatedOn  time.Time
	NewestCommitHash           string
	OldestCommitHash           string
	CommitsBackfilled          bool
	NewestPullRequestUpdatedOn time.Time
	OldestPullRequestUpdatedOn time.Time
	PullRequestsBackfilled     bool
}

// ListingComplete marks that every repository of the workspace was sent in
// this task: the integration's repositories not sent are deleted.
type ListingComplete struct {
	RepositoryCount int64
}
