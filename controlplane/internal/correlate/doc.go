// Package correlate finds the catalog entities a discovered repository
// matches, so that the Discovered list can recommend Merge (into a suggested
// entity) or Register.
//
// Semantics follow Harness IDP's catalog auto-discovery, extended where it
// falls short:
//   - A rule compares the value at an ingested path with the value at a
//     catalog path. Equals is exact and case-sensitive. Contains holds when
//     the ingested value contains the catalog value, ignoring case. A path
//     that yields a list holds when any element does. An empty value
//     matches nothing.
//   - Several rules may be given; all must hold. The default is one rule,
//     name equals name. With no rule at all, the entity's identifier must
//     equal the identifier Register would derive from the repository slug,
//     ignoring case.
//   - Every matching entity is returned, ranked: exact before contains, then
//     the longest matched catalog value, then identifier. The reference
//     silently takes the first Contains match; a suggestion here is always
//     the best one, and the alternatives stay visible.
//   - Only entities of the integration's kind and type are candidates
//     (Filter); which entities are already linked elsewhere is the caller's
//     to exclude.
//
// Case is folded with strings.ToLower on both sides, rune by rune. That is
// simple case mapping, not full Unicode case folding: "STRASSE" does not
// contain "straße", and the few characters whose lower case changes length
// (the Kelvin sign, dotted capital I) compare by their lower-case forms. The
// reference's Java containsIgnoreCase differs on the same corner cases.
// Repository names and catalog names are almost always ASCII.
//
// Correlation must stay fast for tens of thousands of repositories against
// 100,000 entities, so nothing compares every pair: Equals rules are hash
// lookups, and a Contains rule builds one Aho-Corasick automaton over the
// distinct catalog values, which finds all values a repository's value
// contains in a single pass over it. See BENCHMARKS.md.
package correlate
