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

// Values resolves an ingested path (see catalog.Path) in Props first and,
// when that yields nothing, in Raw: the mapped name is what users see, and
// the raw JSON reaches what the mapping left out. Numbers and booleans come
// back in their text form (42, true).
func (in Ingested) Values(path catalog.Path) []string {
	if v := path.Values(in.Props); len(v) > 0 {
		return v
	}
	return path.Values(in.Raw)
}
