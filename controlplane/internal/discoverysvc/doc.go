// Package discoverysvc is the user's journey from a synced workspace to the
// catalog: recommendations for every repository not yet imported, the
// Discovered and Imported lists, Register and Merge imports (one, bulk or
// automatic), unlink, and keeping linked entities fresh after each sync.
//
// Recommendations are computed ahead of reading, so the Discovered list is
// a cheap paged query. A correlation run loads the catalog entities of the
// integration's kind (and type, except under Merge) that no repository of
// the integration is linked to, indexes them with correlate.NewIndex, and
// matches every repository not yet imported against the index; the
// action, the suggested entity and the ranked candidates (at most
// MaxCandidates) are stored per repository. A run happens after every sync,
// and whenever the stored recommendations are stale: every change that can
// alter them (a catalog entity of the kind created, changed or deleted, an
// import, an unlink) bumps a generation counter in the same transaction,
// and a changed correlation configuration (behaviour, kind, type, rules,
// field mappings) changes its fingerprint. Stale recommendations are
// recomputed before they are read, and in the background by Run.
//
// Imports are strictly additive and all-or-nothing per repository: one
// transaction creates or changes the entity, writes the link under
// metadata.integration and the mapped fields under
// metadata.integration_properties.BitbucketCloud, records the link and the
// event. A bulk import is a sequence of such transactions, so each item
// succeeds or fails on its own, with a reason.
//
// Auto-import: after each sync of an enabled integration with auto-import
// on, the repositories first seen since the previous sync (a watermark on
// first_seen_at kept per integration) import themselves with their
// recommended action, unless they were unlinked once. Repositories that
// were already waiting when auto-import was turned on are not swept in:
// the toggle is about future discoveries, and "import all" covers the
// backlog. A repository without a recommendation (under Merge, no match)
// waits for a person.
package discoverysvc
