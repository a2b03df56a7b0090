package discoverysvc

import (
	"context"
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/owners"
)

// OwnerSuggestion is the owner proposed for a repository on Register, with
// what its CODEOWNERS file said.
type OwnerSuggestion struct {
	owners.Suggestion
	Finding owners.Finding
}

// suggestOwner is the suggestion for a repository whose CODEOWNERS file was
// read; nil when it was not (yet).
func suggestOwner(in integration.Integration, f *owners.Finding) *OwnerSuggestion {
	if f == nil {
		return nil
	}
	return &OwnerSuggestion{Suggestion: owners.Suggest(*f, in.OwnerMapping), Finding: *f}
}

// registerOwner is the owner of the entity Register creates: the one the
// user gave, else the one the CODEOWNERS file suggests, else the one the
// field mapping maps (empty: unknown).
func (s *Service) registerOwner(ctx context.Context, in integration.Integration, uuid, given, mapped string) (string, error) {
	if given = strings.TrimSpace(given); given != "" {
		return given, nil
	}
	f, err := s.store.GetCodeOwners(ctx, in.ID, uuid)
	if err != nil {
		return "", err
	}
	if sg := suggestOwner(in, f); sg != nil && sg.Owner != "" {
		return sg.Owner, nil
	}
	return mapped, nil
}
