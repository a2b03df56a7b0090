package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ingest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/sortkey"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/webhook"
	"github.com/catalog-discovery/bitbucket/shared/record"
	"github.com/catalog-discovery/bitbucket/shared/repofilter"
)

// ApplyBatch applies one record batch of a task atomically and exactly
// once: the batch, the task's sequence and the run's counters commit
// together. A batch at or below the last acknowledged sequence is
// acknowledged again without being applied. Errors: FailedPrecondition
// (LEASE_LOST); OutOfRange (SEQUENCE_GAP, metadata expectedSequence);
// Invalid (INVALID_RECORD) with nothing applied, for a record about a
// repository never uploaded or when the database refuses a value of the
// batch. The caller has normalized and validated the records already (see
// package ingest).
func (db *DB) ApplyBatch(ctx context.Context, r BatchRequest) (BatchResult, error) {
	var res BatchResult
	err := db.tx(ctx, func(tx *txn) error {
		t, err := lockDelegateTask(ctx, tx, r.AccountID, r.TaskID)
		if err != nil {
			return err
		}
		replay, err := t.Batch(r.LeaseToken, r.Sequence)
		if err != nil {
			return err
		}
		if replay {
			res = BatchResult{Acknowledged: r.Sequence, Duplicate: true}
			return nil
		}
		a := applier{tx: tx, d: db.dialect, task: t, now: micros(r.Now)}
		if err := a.apply(ctx, r.Records); err != nil {
			if code, ok := db.dialect.dataException(err); ok {
				// Retrying cannot help: the same batch fails the same way.
				return fault.New(fault.Invalid, ingest.ReasonInvalidRecord,
					"the %s database refused a value of batch %d (%v); nothing of the batch was applied", db.dialect.name(), r.Sequence, err).
					With("sqlState", code)
			}
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE tasks SET last_sequence = ? WHERE id = ?`, r.Sequence, t.ID); err != nil {
			return err
		}
		if t.RunID != "" {
			// The delegate's progress rides on the same statement: the run's
			// counters are current at every batch at no extra cost.
			q := `UPDATE sync_runs SET repositories = repositories + ?, pull_requests = pull_requests + ?, commits = commits + ?`
			args := []any{a.repos, a.prs, a.commits}
			if p := r.Progress; p != nil {
				q += `, phase = ?, requests = ?, rate_limited = ?, repositories_done = ?, repositories_total = ?,
					code_owners_requests = code_owners_requests_before + ?`
				args = append(args, p.Phase, p.Requests, p.RateLimited, p.RepositoriesDone, p.RepositoriesTotal, p.CodeOwnersRequests)
			}
			if _, err := tx.exec(ctx, q+` WHERE id = ?`, append(args, t.RunID)...); err != nil {
				return err
			}
		}
		for _, name := range a.deleted {
			if err := addEvent(ctx, tx, Event{AccountID: t.AccountID, IntegrationID: t.IntegrationID, Time: r.Now,
				Type: EventRepositoryDeleted, Actor: "sync", RunID: t.RunID, Repository: name,
				Message: fmt.Sprintf("repository %s is no longer in the workspace; marked deleted", name)}); err != nil {
				return err
			}
		}
		res = BatchResult{Acknowledged: r.Sequence, Deleted: a.deleted}
		return nil
	})
	return res, err
}

// applier writes one batch inside its transaction, grouping records of a
// kind into multi-row upserts.
type applier struct {
	tx    *txn
	d     dialect
	task  tasks.Task
	now   int64
	known map[string]bool // repositories of the integration known to exist

	repos, prs, commits int64
	deleted             []string
	filter              *repofilter.Filter // the integration's, once read
}

func (a *applier) apply(ctx context.Context, records []record.Record) error {
	a.known = map[string]bool{}
	// Records apply in order, but consecutive records of one kind are
	// written together; a kind change flushes what came before, so a pull
	// request always follows its repository's upsert.
	var repos []*record.Repository
	var prs []*record.PullRequest
	var commits []*record.Commit
	var cursors []*record.Cursor
	var owners []*record.CodeOwners
	flush := func() error {
		if err := a.upsertRepositories(ctx, repos); err != nil {
			return err
		}
		if err := a.upsertPullRequests(ctx, prs); err != nil {
			return err
		}
		if err := a.upsertCommits(ctx, commits); err != nil {
			return err
		}
		if err := a.upsertCursors(ctx, cursors); err != nil {
			return err
		}
		if err := a.upsertCodeOwners(ctx, owners); err != nil {
			return err
		}
		repos, prs, commits, cursors, owners = repos[:0], prs[:0], commits[:0], cursors[:0], owners[:0]
		return nil
	}
	for i, r := range records {
		switch {
		case r.Repository != nil:
			if len(prs)+len(commits)+len(cursors)+len(owners) > 0 {
				if err := flush(); err != nil {
					return err
				}
			}
			repos = append(repos, r.Repository)
			a.known[r.Repository.UUID] = true
		case r.PullRequest != nil:
			if err := a.requireRepository(ctx, i, "pull_request", r.PullRequest.RepositoryUUID); err != nil {
				return err
			}
			prs = append(prs, r.PullRequest)
		case r.Commit != nil:
			if err := a.requireRepository(ctx, i, "commit", r.Commit.RepositoryUUID); err != nil {
				return err
			}
			commits = append(commits, r.Commit)
		case r.Cursor != nil:
			if err := a.requireRepository(ctx, i, "cursor", r.Cursor.RepositoryUUID); err != nil {
				return err
			}
			cursors = append(cursors, r.Cursor)
		case r.CodeOwners != nil:
			if err := a.requireRepository(ctx, i, "code_owners", r.CodeOwners.RepositoryUUID); err != nil {
				return err
			}
			owners = append(owners, r.CodeOwners)
		case r.ListingComplete != nil:
			if err := flush(); err != nil {
				return err
			}
			full, err := a.listingCompleted(ctx)
			if err != nil {
				return err
			}
			if !full {
				continue // a watermark listing holds only what moved
			}
			if err := a.markDeleted(ctx, r.ListingComplete.ListedWith); err != nil {
				return err
			}
		}
	}
	return flush()
}

// requireRepository refuses a record about a repository never uploaded.
func (a *applier) requireRepository(ctx context.Context, i int, kind, uuid string) error {
	if a.known[uuid] {
		return nil
	}
	var n int
	if err := a.tx.queryRow(ctx, `SELECT COUNT(*) FROM repositories WHERE integration_id = ? AND uuid = ?`, a.task.IntegrationID, uuid).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		var v fault.Violations
		v.Add(fmt.Sprintf("records[%d].%s.repository_uuid", i, kind), "repository %s was not uploaded before its %s", uuid, strings.ReplaceAll(kind, "_", " "))
		return v.Err(ingest.ReasonInvalidRecord, fmt.Sprintf("record %d is invalid; nothing of the batch was applied", i))
	}
	a.known[uuid] = true
	return nil
}

// upsert writes rows in multi-row INSERT ... ON CONFLICT statements sized
// to the dialect's parameter limit. On conflict every column but the key
// and keep columns is updated.
func (a *applier) upsert(ctx context.Context, table string, cols, key, keep []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	var set []string
	for _, c := range cols {
		if !slices.Contains(key, c) && !slices.Contains(keep, c) {
			set = append(set, c+" = excluded."+c)
		}
	}
	per := min(a.d.maxParams()/len(cols), 500)
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, len(chunk)*len(cols))
		ph := placeholders(len(cols))
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(ph)
			args = append(args, r...)
		}
		b.WriteString(" ON CONFLICT (" + strings.Join(key, ", ") + ") DO UPDATE SET " + strings.Join(set, ", "))
		if _, err := a.tx.exec(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("upsert %s: %w", table, err)
		}
	}
	return nil
}

var repositoryCols = []string{"integration_id", "uuid", "account_id", "slug", "name", "full_name", "workspace", "project_key",
	"project_name", "description", "is_private", "language", "main_branch", "html_url", "clone_https_url", "clone_ssh_url",
	"created_on", "updated_on", "size_bytes", "raw", "first_seen_at", "updated_at", "last_seen_task_id", "deleted_at", "sort_key", "excluded_reason"}

func (a *applier) upsertRepositories(ctx context.Context, repos []*record.Repository) error {
	if len(repos) == 0 {
		return nil
	}
	filter, err := a.integrationFilter(ctx)
	if err != nil {
		return err
	}
	rows := make([][]any, 0, len(repos))
	seen := map[string]int{}
	for _, r := range repos {
		row := []any{a.task.IntegrationID, r.UUID, a.task.AccountID, r.Slug, r.Name, r.FullName, r.Workspace, r.ProjectKey,
			r.ProjectName, r.Description, r.IsPrivate, r.Language, r.MainBranch, r.HTMLURL, r.CloneHTTPSURL, r.CloneSSHURL,
			nullMicros(r.CreatedOn), nullMicros(r.UpdatedOn), r.SizeBytes, rawOrEmpty(r.Raw), a.now, a.now, a.task.ID, nil,
			sortkey.Of(r.Name), filter.Evaluate(r.FilterFacts()).Reason}
		// One statement may not touch a row twice (PostgreSQL refuses):
		// the last occurrence in the batch wins.
		if i, dup := seen[r.UUID]; dup {
			rows[i] = row
			continue
		}
		seen[r.UUID] = len(rows)
		rows = append(rows, row)
	}
	if err := a.count(ctx, &a.repos, "repositories", []string{"uuid"}, rows); err != nil {
		return err
	}
	// first_seen_at is kept on update: it is the discovery time. A
	// targeted refresh keeps last_seen_task_id too: it marks what a full
	// listing saw, and a full sync running meanwhile must not take a
	// repository refreshed beside it for deleted.
	keep := []string{"first_seen_at"}
	if len(a.task.Repositories) > 0 {
		keep = append(keep, "last_seen_task_id")
	}
	return a.upsert(ctx, "repositories", repositoryCols, []string{"integration_id", "uuid"}, keep, rows)
}

func rawOrEmpty(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	return string(raw)
}

var pullRequestCols = []string{"integration_id", "repository_uuid", "number", "title", "state", "draft", "author", "author_uuid",
	"source_branch", "destination_branch", "created_on", "updated_on", "merge_commit", "closed_by", "comment_count", "task_count", "html_url",
	"last_seen_task_id"}

func (a *applier) upsertPullRequests(ctx context.Context, prs []*record.PullRequest) error {
	// The same version again is written too: a resent batch stays a no-op,
	// and a sync refreshes what it fetched.
	prs, err := a.supersedingPullRequests(ctx, prs, true)
	if err != nil {
		return err
	}
	return a.writePullRequests(ctx, prs)
}

// writePullRequests upserts pull requests that supersedingPullRequests kept.
func (a *applier) writePullRequests(ctx context.Context, prs []*record.PullRequest) error {
	rows := make([][]any, 0, len(prs))
	seen := map[[2]any]int{}
	for _, p := range prs {
		row := []any{a.task.IntegrationID, p.RepositoryUUID, p.ID, p.Title, p.State, p.Draft, p.Author, p.AuthorUUID,
			p.SourceBranch, p.DestinationBranch, nullMicros(p.CreatedOn), nullMicros(p.UpdatedOn), p.MergeCommit, p.ClosedBy,
			p.CommentCount, p.TaskCount, p.HTMLURL, a.task.ID}
		k := [2]any{p.RepositoryUUID, p.ID}
		if i, dup := seen[k]; dup {
			rows[i] = row
			continue
		}
		seen[k] = len(rows)
		rows = append(rows, row)
	}
	if err := a.count(ctx, &a.prs, "pull_requests", []string{"repository_uuid", "number"}, rows); err != nil {
		return err
	}
	return a.upsert(ctx, "pull_requests", pullRequestCols, []string{"integration_id", "repository_uuid", "number"}, nil, rows)
}

// supersedingPullRequests keeps the pull requests that replace the stored
// version (webhook.Supersedes: the newer updated_on wins), reading the
// stored ones under lock: a sync page fetched before a webhook delivery
// and uploaded after it must not move the pull request back.
// With sameToo, the version already stored is kept as well.
func (a *applier) supersedingPullRequests(ctx context.Context, prs []*record.PullRequest, sameToo bool) ([]*record.PullRequest, error) {
	type key struct {
		repo string
		id   int64
	}
	stored := map[key]time.Time{}
	for start := 0; start < len(prs); start += countChunk {
		chunk := prs[start:min(start+countChunk, len(prs))]
		args := []any{a.task.IntegrationID}
		conds := make([]string, len(chunk))
		for i, p := range chunk {
			conds[i] = "(repository_uuid = ? AND number = ?)"
			args = append(args, p.RepositoryUUID, p.ID)
		}
		rows, err := a.tx.query(ctx, `SELECT repository_uuid, number, updated_on FROM pull_requests WHERE integration_id = ? AND (`+
			strings.Join(conds, " OR ")+`)`+a.d.lockRows(false), args...)
		if err != nil {
			return nil, fmt.Errorf("read pull requests: %w", err)
		}
		for rows.Next() {
			var k key
			var updated sql.NullInt64
			if err := rows.Scan(&k.repo, &k.id, &updated); err != nil {
				rows.Close()
				return nil, err
			}
			stored[k] = fromNullMicros(updated)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := prs[:0:0]
	for _, p := range prs {
		old, ok := stored[key{p.RepositoryUUID, p.ID}]
		if !ok || sameToo && old.Equal(p.UpdatedOn) || webhook.Supersedes(old, p.UpdatedOn) {
			out = append(out, p)
		}
	}
	return out, nil
}

var commitCols = []string{"integration_id", "repository_uuid", "hash", "committed_at", "author_raw", "author_user", "message", "parents", "html_url",
	"last_seen_task_id"}

func (a *applier) upsertCommits(ctx context.Context, commits []*record.Commit) error {
	rows := make([][]any, 0, len(commits))
	seen := map[[2]string]int{}
	for _, c := range commits {
		row := []any{a.task.IntegrationID, c.RepositoryUUID, c.Hash, nullMicros(c.Date), c.AuthorRaw, c.AuthorUser, c.Message,
			joinList(c.Parents), c.HTMLURL, a.task.ID}
		k := [2]string{c.RepositoryUUID, c.Hash}
		if i, dup := seen[k]; dup {
			rows[i] = row
			continue
		}
		seen[k] = len(rows)
		rows = append(rows, row)
	}
	if err := a.count(ctx, &a.commits, "commits", []string{"repository_uuid", "hash"}, rows); err != nil {
		return err
	}
	return a.upsert(ctx, "commits", commitCols, []string{"integration_id", "repository_uuid", "hash"}, nil, rows)
}

// countChunk is how many keys one counting statement looks up.
const countChunk = 200

// count adds to n how many of rows this task has not stored before, so a
// record a resumed attempt sends again counts once in its run. rows are
// upsert rows of table: integration_id, then the key columns. Call it
// before the rows are written: a row this task stored already carries its
// id in last_seen_task_id.
func (a *applier) count(ctx context.Context, n *int64, table string, key []string, rows [][]any) error {
	var match []string
	for _, k := range key {
		match = append(match, k+" = ?")
	}
	one := "(" + strings.Join(match, " AND ") + ")"
	for start := 0; start < len(rows); start += countChunk {
		chunk := rows[start:min(start+countChunk, len(rows))]
		args := []any{a.task.IntegrationID, a.task.ID}
		conds := make([]string, len(chunk))
		for i, r := range chunk {
			conds[i] = one
			args = append(args, r[1:1+len(key)]...)
		}
		var stored int64
		if err := a.tx.queryRow(ctx, `SELECT COUNT(*) FROM `+table+` WHERE integration_id = ? AND last_seen_task_id = ? AND (`+
			strings.Join(conds, " OR ")+`)`, args...).Scan(&stored); err != nil {
			return fmt.Errorf("count %s: %w", table, err)
		}
		*n += int64(len(chunk)) - stored
	}
	return nil
}

var cursorCols = []string{"integration_id", "repository_uuid", "commits_checked_at_updated_on", "newest_commit_hash",
	"oldest_commit_hash", "commits_backfilled", "newest_pr_updated_on", "oldest_pr_updated_on", "pull_requests_backfilled", "updated_at",
	"pr_confirmed_at", "pr_checked_at_updated_on"}

func (a *applier) upsertCursors(ctx context.Context, cursors []*record.Cursor) error {
	rows := make([][]any, 0, len(cursors))
	seen := map[string]int{}
	for _, c := range cursors {
		row := []any{a.task.IntegrationID, c.RepositoryUUID, nullMicros(c.CommitsCheckedAtUpdatedOn), c.NewestCommitHash,
			c.OldestCommitHash, c.CommitsBackfilled, nullMicros(c.NewestPullRequestUpdatedOn), nullMicros(c.OldestPullRequestUpdatedOn),
			c.PullRequestsBackfilled, a.now, nullMicros(c.PullRequestsConfirmedAt), nullMicros(c.PullRequestsCheckedAtUpdatedOn)}
		if i, dup := seen[c.RepositoryUUID]; dup {
			rows[i] = row
			continue
		}
		seen[c.RepositoryUUID] = len(rows)
		rows = append(rows, row)
	}
	return a.upsert(ctx, "repository_cursors", cursorCols, []string{"integration_id", "repository_uuid"}, nil, rows)
}

var codeOwnersCols = []string{"integration_id", "repository_uuid", "path", "owners", "covers_repository", "line", "revision",
	"repository_updated_on", "checked_at"}

func (a *applier) upsertCodeOwners(ctx context.Context, found []*record.CodeOwners) error {
	rows := make([][]any, 0, len(found))
	seen := map[string]int{}
	for _, c := range found {
		ownersList := c.Owners
		if ownersList == nil {
			ownersList = []string{}
		}
		row := []any{a.task.IntegrationID, c.RepositoryUUID, c.Path, toJSON(ownersList), c.CoversRepository, c.Line, c.Revision,
			nullMicros(c.RepositoryUpdatedOn), a.now}
		if i, dup := seen[c.RepositoryUUID]; dup {
			rows[i] = row
			continue
		}
		seen[c.RepositoryUUID] = len(rows)
		rows = append(rows, row)
	}
	return a.upsert(ctx, "code_owners", codeOwnersCols, []string{"integration_id", "repository_uuid"}, nil, rows)
}

// markDeleted marks the integration's repositories this task did not send
// as deleted, after a complete listing. With listedWith, the listing held
// only the repositories that filter keeps: one it leaves out, by what is
// stored of it, was not listed rather than deleted, and stays as it is.
func (a *applier) markDeleted(ctx context.Context, listedWith *repofilter.Filter) error {
	unseen, err := queryAll(ctx, a.tx, `SELECT uuid, full_name, project_key, slug, name, is_private, updated_on FROM repositories
		WHERE integration_id = ? AND deleted_at IS NULL AND last_seen_task_id <> ? ORDER BY full_name`,
		[]any{a.task.IntegrationID, a.task.ID}, func(row scanner) (unseenRepository, error) {
			var u unseenRepository
			var updated sql.NullInt64
			err := row.Scan(&u.uuid, &u.fullName, &u.facts.ProjectKey, &u.facts.Slug, &u.facts.Name, &u.facts.IsPrivate, &updated)
			u.facts.UpdatedOn = fromNullMicros(updated)
			return u, err
		})
	if err != nil {
		return err
	}
	var uuids []any
	for _, u := range unseen {
		if listedWith != nil && !listedWith.Evaluate(u.facts).Included {
			continue
		}
		a.deleted = append(a.deleted, u.fullName)
		uuids = append(uuids, u.uuid)
	}
	for start := 0; start < len(uuids); start += 500 {
		chunk := uuids[start:min(start+500, len(uuids))]
		if _, err := a.tx.exec(ctx, `UPDATE repositories SET deleted_at = ? WHERE integration_id = ? AND uuid IN `+placeholders(len(chunk)),
			append([]any{a.now, a.task.IntegrationID}, chunk...)...); err != nil {
			return err
		}
	}
	return nil
}

type unseenRepository struct {
	uuid, fullName string
	facts          repofilter.Repository
}

// integrationFilter reads the filter of the task's integration once per batch.
func (a *applier) integrationFilter(ctx context.Context) (repofilter.Filter, error) {
	if a.filter != nil {
		return *a.filter, nil
	}
	var raw string
	if err := a.tx.queryRow(ctx, `SELECT filter FROM integrations WHERE id = ?`, a.task.IntegrationID).Scan(&raw); err != nil {
		return repofilter.Filter{}, err
	}
	f, err := fromJSON[repofilter.Filter](raw)
	if err != nil {
		return f, err
	}
	a.filter = &f
	return f, nil
}

const repoSelect = `SELECT integration_id, uuid, account_id, slug, name, full_name, workspace, project_key, project_name, description,
	is_private, language, main_branch, html_url, clone_https_url, clone_ssh_url, created_on, updated_on, size_bytes, raw,
	first_seen_at, updated_at, last_seen_task_id, deleted_at FROM repositories`

func scanRepository(row scanner) (Repository, error) {
	var r Repository
	var created, updated, deleted sql.NullInt64
	var first, upd int64
	var raw string
	err := row.Scan(&r.IntegrationID, &r.UUID, &r.AccountID, &r.Slug, &r.Name, &r.FullName, &r.Workspace, &r.ProjectKey,
		&r.ProjectName, &r.Description, &r.IsPrivate, &r.Language, &r.MainBranch, &r.HTMLURL, &r.CloneHTTPSURL, &r.CloneSSHURL,
		&created, &updated, &r.SizeBytes, &raw, &first, &upd, &r.LastSeenTaskID, &deleted)
	r.Raw = json.RawMessage(raw)
	r.CreatedOn, r.UpdatedOn, r.DeletedAt = fromNullMicros(created), fromNullMicros(updated), fromNullMicros(deleted)
	r.FirstSeenAt, r.UpdatedAt = fromMicros(first), fromMicros(upd)
	return r, err
}

// GetRepository returns a repository of an integration by uuid. Errors: NotFound.
func (db *DB) GetRepository(ctx context.Context, integrationID, uuid string) (Repository, error) {
	r, err := scanRepository(db.queryRow(ctx, repoSelect+` WHERE integration_id = ? AND uuid = ?`, integrationID, uuid))
	if errors.Is(err, sql.ErrNoRows) {
		return r, NotFound("repository", uuid)
	}
	return r, err
}

// ListRepositories returns an integration's repositories (deleted ones
// included, with DeletedAt set) by uuid.
func (db *DB) ListRepositories(ctx context.Context, integrationID string, p Page) ([]Repository, string, error) {
	after, err := afterKey(p)
	if err != nil {
		return nil, "", err
	}
	return listPage(ctx, db, repoSelect+` WHERE integration_id = ? AND uuid > ? ORDER BY uuid LIMIT ?`,
		[]any{integrationID, after}, p.size(50), scanRepository, func(r Repository) string { return encodeToken(r.UUID) })
}

// ListPullRequests returns a repository's pull requests, most recently updated first.
func (db *DB) ListPullRequests(ctx context.Context, integrationID, repoUUID string) ([]record.PullRequest, error) {
	return queryAll(ctx, db, `SELECT repository_uuid, number, title, state, draft, author, author_uuid, source_branch,
		destination_branch, created_on, updated_on, merge_commit, closed_by, comment_count, task_count, html_url
		FROM pull_requests WHERE integration_id = ? AND repository_uuid = ? ORDER BY updated_on DESC, number DESC`,
		[]any{integrationID, repoUUID}, func(row scanner) (record.PullRequest, error) {
			var p record.PullRequest
			var created, updated sql.NullInt64
			err := row.Scan(&p.RepositoryUUID, &p.ID, &p.Title, &p.State, &p.Draft, &p.Author, &p.AuthorUUID, &p.SourceBranch,
				&p.DestinationBranch, &created, &updated, &p.MergeCommit, &p.ClosedBy, &p.CommentCount, &p.TaskCount, &p.HTMLURL)
			p.CreatedOn, p.UpdatedOn = fromNullMicros(created), fromNullMicros(updated)
			return p, err
		})
}

// ListCommits returns a repository's commits, newest first.
func (db *DB) ListCommits(ctx context.Context, integrationID, repoUUID string) ([]record.Commit, error) {
	return queryAll(ctx, db, `SELECT repository_uuid, hash, committed_at, author_raw, author_user, message, parents, html_url
		FROM commits WHERE integration_id = ? AND repository_uuid = ? ORDER BY committed_at DESC, hash`,
		[]any{integrationID, repoUUID}, func(row scanner) (record.Commit, error) {
			var c record.Commit
			var date sql.NullInt64
			var parents string
			if err := row.Scan(&c.RepositoryUUID, &c.Hash, &date, &c.AuthorRaw, &c.AuthorUser, &c.Message, &parents, &c.HTMLURL); err != nil {
				return c, err
			}
			c.Date = fromNullMicros(date)
			var err error
			c.Parents, err = splitList(parents)
			return c, err
		})
}

// ListCursors returns every repository cursor of an integration, for the
// next SYNC task; with slugs, only those of the repositories so named (a
// targeted refresh needs no others). Cursors of deleted repositories are
// left out.
func (db *DB) ListCursors(ctx context.Context, integrationID string, slugs ...string) ([]record.Cursor, error) {
	q := `SELECT c.repository_uuid, c.commits_checked_at_updated_on, c.newest_commit_hash, c.oldest_commit_hash,
		c.commits_backfilled, c.newest_pr_updated_on, c.oldest_pr_updated_on, c.pull_requests_backfilled,
		c.pr_confirmed_at, c.pr_checked_at_updated_on
		FROM repository_cursors c JOIN repositories r ON r.integration_id = c.integration_id AND r.uuid = c.repository_uuid
		WHERE c.integration_id = ? AND r.deleted_at IS NULL`
	args := []any{integrationID}
	if len(slugs) > 0 {
		q += ` AND r.slug IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(slugs)), ", ") + `)`
		for _, s := range slugs {
			args = append(args, s)
		}
	}
	return queryAll(ctx, db, q+` ORDER BY c.repository_uuid`, args, func(row scanner) (record.Cursor, error) {
		var c record.Cursor
		var checked, newest, oldest, confirmed, prChecked sql.NullInt64
		err := row.Scan(&c.RepositoryUUID, &checked, &c.NewestCommitHash, &c.OldestCommitHash, &c.CommitsBackfilled,
			&newest, &oldest, &c.PullRequestsBackfilled, &confirmed, &prChecked)
		c.PullRequestsConfirmedAt, c.PullRequestsCheckedAtUpdatedOn = fromNullMicros(confirmed), fromNullMicros(prChecked)
		c.CommitsCheckedAtUpdatedOn = fromNullMicros(checked)
		c.NewestPullRequestUpdatedOn, c.OldestPullRequestUpdatedOn = fromNullMicros(newest), fromNullMicros(oldest)
		return c, err
	})
}
