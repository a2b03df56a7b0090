package correlate

import "github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"

// Ingested is a discovered repository as correlation sees it.
type Ingested struct {
	// Props are the mapped fields, as they land in
	// metadata.integration_properties.BitbucketCloud: name, url,
	// default_branch, project.key, ...
	Props map[string]any
	// Raw is the repository as the Bitbucket API returned it, decoded from
	// JSON: links.html.href, mainbranch.name, ...
	Raw map[string]any
	// Slug derives the identifier the no-rule fallback compares.
	Slug string
}

// Values resolves an ingested path (catalog path syntax, see catalog.Resolve)
// in Props first and, when that yields nothing, in Raw: the mapped name is
// what users see, and the raw JSON reaches what the mapping left out.
// Numbers and booleans come back in their text form (42, true).
func (in Ingested) Values(path string) []string {
	if v := catalog.Resolve(in.Props, path); len(v) > 0 {
		return v
	}
	return catalog.Resolve(in.Raw, path)
}
