package catalogsvc

import (
	"cmp"
	"context"
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/backstage"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
)

// Exported is what ExportBackstage produced.
type Exported struct {
	Content string
	Count   int
	Issues  []backstage.Issue
}

// ExportBackstage renders entities as Backstage catalog-info.yaml: those
// named (ids or identifiers), or every entity of kind (every entity when
// kind is empty). Errors: NotFound for an entity named; Invalid for an
// unknown kind.
func (s *Service) ExportBackstage(ctx context.Context, accountID, kind string, refs []string) (Exported, error) {
	var entities []store.StoredEntity
	if len(refs) > 0 {
		for _, r := range refs {
			e, err := s.Get(ctx, accountID, Key{Entity: r, Kind: kind})
			if err != nil {
				return Exported{}, err
			}
			entities = append(entities, e)
		}
	} else {
		p := store.Page{Size: store.MaxPageSize}
		for {
			page, next, _, err := s.List(ctx, accountID, Filter{Kind: kind}, p)
			if err != nil {
				return Exported{}, err
			}
			for _, listed := range page {
				// Lists hold the column fields only; the export needs all.
				e, err := s.store.GetEntity(ctx, accountID, store.EntityKey{Ref: listed.ID})
				if fault.CodeOf(err) == fault.NotFound {
					continue // deleted meanwhile
				}
				if err != nil {
					return Exported{}, err
				}
				entities = append(entities, e)
			}
			if next == "" {
				break
			}
			p.Token = next
		}
	}
	var out Exported
	var docs []backstage.Document
	for _, e := range entities {
		doc, issues, ok := backstage.Export(e.Entity)
		out.Issues = append(out.Issues, issues...)
		if ok {
			docs = append(docs, doc)
		}
	}
	text, err := backstage.Render(docs)
	if err != nil {
		return Exported{}, err
	}
	out.Content, out.Count = string(text), len(docs)
	return out, nil
}

// ImportResult is the outcome of one imported document.
type ImportResult struct {
	Source  string
	OK      bool
	Entity  store.StoredEntity
	Reason  string
	Message string
}

// ImportBackstage creates entities from Backstage documents. Each succeeds
// or fails on its own (an identifier taken fails that one); with dryRun
// nothing is created. Errors (whole call): Invalid when content is not a
// readable YAML stream.
func (s *Service) ImportBackstage(ctx context.Context, accountID, content string, dryRun bool) ([]ImportResult, []backstage.Issue, error) {
	mapped, issues, err := backstage.Import([]byte(content))
	if err != nil {
		return nil, nil, fault.InvalidField("content", "%v", err)
	}
	out := make([]ImportResult, len(mapped))
	created := false
	for i, m := range mapped {
		res := ImportResult{Source: m.Source, Entity: store.StoredEntity{AccountID: accountID, Entity: m.Entity}}
		if dryRun {
			res.OK = true
			out[i] = res
			continue
		}
		e, err := s.store.CreateEntity(ctx, accountID, m.Entity, s.clock.Now())
		if err != nil {
			f := fault.As(err)
			if f == nil || f.Code == fault.Internal {
				return nil, nil, err
			}
			res.Reason = cmp.Or(f.Reason, strings.ToUpper(strings.ReplaceAll(f.Code.String(), " ", "_")))
			res.Message = f.Error()
			out[i] = res
			continue
		}
		created = true
		res.OK, res.Entity = true, e
		out[i] = res
	}
	if created {
		s.changed()
	}
	return out, issues, nil
}
