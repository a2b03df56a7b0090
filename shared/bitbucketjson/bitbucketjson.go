// Package bitbucketjson holds the JSON shapes of Bitbucket Cloud's pull
// request and commit objects and their translation to records. The
// delegate decodes API pages with them and the control plane decodes
// webhook payloads with them, which carry the same objects: one reading
// of Bitbucket's JSON for both.
package bitbucketjson

import (
	"time"

	"github.com/catalog-discovery/bitbucket/shared/record"
)

// Href is a link object.
type Href struct {
	Href string `json:"href"`
}

// Account is a user or team as Bitbucket embeds it.
type Account struct {
	DisplayName string `json:"display_name"`
	UUID        string `json:"uuid"`
}

// Endpoint is a pull request's source or destination.
type Endpoint struct {
	Branch *struct {
		Name string `json:"name"`
	} `json:"branch"`
}

// BranchName is the endpoint's branch, or "".
func (e Endpoint) BranchName() string {
	if e.Branch == nil {
		return ""
	}
	return e.Branch.Name
}

// PullRequest is Bitbucket's pull request object.
type PullRequest struct {
	ID          int64     `json:"id"`
	Title       string    `json:"title"`
	State       string    `json:"state"`
	Draft       bool      `json:"draft"`
	Author      *Account  `json:"author"`
	Source      Endpoint  `json:"source"`
	Destination Endpoint  `json:"destination"`
	CreatedOn   time.Time `json:"created_on"`
	UpdatedOn   time.Time `json:"updated_on"`
	MergeCommit *struct {
		Hash string `json:"hash"`
	} `json:"merge_commit"`
	ClosedBy     *Account `json:"closed_by"`
	CommentCount int32    `json:"comment_count"`
	TaskCount    int32    `json:"task_count"`
	Links        struct {
		HTML Href `json:"html"`
	} `json:"links"`
}

// Record translates the pull request of repository repoUUID.
func (j PullRequest) Record(repoUUID string) record.PullRequest {
	pr := record.PullRequest{
		RepositoryUUID: repoUUID, ID: j.ID, Title: j.Title, State: j.State, Draft: j.Draft,
		SourceBranch: j.Source.BranchName(), DestinationBranch: j.Destination.BranchName(),
		CreatedOn: j.CreatedOn, UpdatedOn: j.UpdatedOn, CommentCount: j.CommentCount, TaskCount: j.TaskCount,
		HTMLURL: j.Links.HTML.Href,
	}
	if j.Author != nil {
		pr.Author, pr.AuthorUUID = j.Author.DisplayName, j.Author.UUID
	}
	if j.MergeCommit != nil {
		pr.MergeCommit = j.MergeCommit.Hash
	}
	if j.ClosedBy != nil {
		pr.ClosedBy = j.ClosedBy.DisplayName
	}
	return pr
}

// Commit is Bitbucket's commit object.
type Commit struct {
	Hash   string    `json:"hash"`
	Date   time.Time `json:"date"`
	Author *struct {
		Raw  string   `json:"raw"`
		User *Account `json:"user"`
	} `json:"author"`
	Message string `json:"message"`
	Parents []struct {
		Hash string `json:"hash"`
	} `json:"parents"`
	Links struct {
		HTML Href `json:"html"`
	} `json:"links"`
}

// Record translates the commit of repository repoUUID.
func (j Commit) Record(repoUUID string) record.Commit {
	c := record.Commit{RepositoryUUID: repoUUID, Hash: j.Hash, Date: j.Date, Message: j.Message, HTMLURL: j.Links.HTML.Href}
	if j.Author != nil {
		c.AuthorRaw = j.Author.Raw
		if j.Author.User != nil {
			c.AuthorUser = j.Author.User.DisplayName
		}
	}
	for _, p := range j.Parents {
		c.Parents = append(c.Parents, p.Hash)
	}
	return c
}
