package synctask

import (
	"context"
	"fmt"

	"github.com/catalog-discovery/bitbucket/delegate/internal/bitbucket"
	"github.com/catalog-discovery/bitbucket/shared/codeowners"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// wantsCodeOwners reports whether the task asks for repo's CODEOWNERS file.
// An empty repository has no branch to read it from.
func (r *Run) wantsCodeOwners(repo record.Repository) bool {
	return r.spec.CodeOwners[repo.UUID] && repo.MainBranch != ""
}

// codeOwners reads the CODEOWNERS file of repo's default branch from the
// first location that has one, one request per location probed, within the
// sync's cap, and sends what it says about the repository as a whole. When
// the cap runs out before a verdict, nothing is sent: the repository is
// asked for again by the next sync. A failed read is the repository's
// failure, like its pull requests'.
func (r *Run) codeOwners(ctx context.Context, ws string, repo record.Repository) error {
	ctx = countingCodeOwners(ctx, r)
	out := record.CodeOwners{RepositoryUUID: repo.UUID, Revision: repo.MainBranch, RepositoryUpdatedOn: repo.UpdatedOn}
	for _, path := range codeowners.Locations {
		if r.codeOwnersQuota.take(1) == 0 {
			return nil
		}
		content, found, err := r.session.File(ctx, ws, repo.Slug, repo.MainBranch, path, codeowners.MaxFileBytes)
		if err != nil {
			return fmt.Errorf("CODEOWNERS: %w", err)
		}
		if !found {
			continue
		}
		owners, line, covers := codeowners.Owners(codeowners.Parse(content))
		out.Path, out.Owners, out.Line, out.CoversRepository = path, owners, int32(line), covers
		break
	}
	return r.emit(ctx, record.Record{CodeOwners: &out})
}

func countingCodeOwners(ctx context.Context, r *Run) context.Context {
	return bitbucket.CountingRequests(ctx, &r.codeOwnersRequests)
}
