package bitbucketmock

import (
	"fmt"
	"strings"
	"time"
)

// Every generated value comes from a splitmix64 stream seeded by (seed, kind,
// indices), so any repository, pull request or commit can be rebuilt on
// demand without generating the ones before it.
const (
	kindWorkspace uint64 = iota + 1
	kindProject
	kindRepo
	kindCommit
	kindPR
	kindBranchCommit
	kindPerson
	kindFault
	kindPageToken
	kindHook
	kindDelivery
	kindComment
	kindCodeOwners
)

type rng struct{ s uint64 }

func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// newRNG starts a stream for the entity identified by parts.
func newRNG(parts ...uint64) rng {
	h := uint64(0x9e3779b97f4a7c15)
	for _, p := range parts {
		h = mix64(h ^ p + 0x9e3779b97f4a7c15)
	}
	return rng{s: h}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// chance is true with probability p.
func (r *rng) chance(p float64) bool { return float64(r.next()>>11)/(1<<53) < p }

func (r *rng) pick(list []string) string { return list[r.intn(len(list))] }

// seconds returns a random duration of up to n seconds.
func (r *rng) seconds(n int) time.Duration { return time.Duration(r.intn(n)) * time.Second }

// uuid returns a braced version-4 UUID, the form Bitbucket uses everywhere.
func (r *rng) uuid() string {
	a, b := r.next(), r.next()
	return fmt.Sprintf("{%08x-%04x-4%03x-%04x-%012x}",
		a>>32, a>>16&0xffff, a&0xfff, 0x8000|b>>48&0x3fff, b&0xffffffffffff)
}

// hash returns a 40-character hex commit hash.
func (r *rng) hash() string {
	return fmt.Sprintf("%016x%016x%08x", r.next(), r.next(), uint32(r.next()))
}

// Timestamps: objects carry microseconds and an explicit +00:00 offset;
// commit dates carry whole seconds. The fixed width also makes
// timestamps sort lexically in time order.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+00:00") }

func commitStamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }

// baseTime is "now" for generated data: 2025-01-01 plus up to a year chosen
// by the seed, so data never depends on when the server starts.
func baseTime(seed int64) time.Time {
	r := newRNG(uint64(seed), kindWorkspace)
	return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.intn(365*24)) * time.Hour)
}

var (
	repoNouns = []string{"payments", "billing", "catalog", "search", "gateway", "auth", "inventory",
		"orders", "shipping", "notifications", "analytics", "checkout", "ledger", "profile", "media",
		"pricing", "reports", "scheduler", "identity", "audit"}
	repoSuffixes = []string{"service", "api", "web", "worker", "lib", "cli", "infra", "sdk", "ui", "jobs"}
	// unicodeWords pair a display word with the slug Bitbucket would derive.
	unicodeWords = [][2]string{{"Überwachung", "uberwachung"}, {"Données", "donnees"}, {"Café", "cafe"},
		{"日本語", "nihongo"}, {"Réseau", "reseau"}, {"Ñandú", "nandu"}, {"Smörgåsbord", "smorgasbord"},
		{"Привет", "privet"}, {"Ωmega", "omega"}, {"Straße", "strasse"}}
	descriptions = []string{"", "", "Handles %s for the platform.", "Internal %s tooling.",
		"The %s backend. Owned by the core team.", "Legacy %s code, kept for reference."}
	unicodeDescriptions = []string{"Service de %s — données et métriques ✓", "%s: 日本語のドキュメント付き",
		"Überwachung für %s 🚀", "Сервис %s"}
	languages   = []string{"go", "go", "java", "python", "javascript", "typescript", "kotlin", "", ""}
	forkPolicy  = []string{"no_public_forks", "allow_forks", "no_forks"}
	projectKeys = []string{"PLAT", "PAY", "WEB", "DATA", "OPS", "MOB", "SEC", "INFRA", "CORE", "API"}
	projectName = []string{"Platform", "Payments", "Web", "Données & Data", "Operations", "Mobile",
		"Security", "Infrastructure", "Core", "Public API"}
	commitMessages = []string{"Fix flaky test in %s", "Bump dependencies", "Add metrics to %s",
		"Refactor %s handler", "Corrige l'encodage des données (%s) ✓", "Update README",
		"Handle timeouts in %s", "Remove dead code", "ドキュメントを更新 (%s)", "Merge branch 'main'"}
	prTitles = []string{"Add %s endpoint", "Fix %s pagination", "Upgrade %s to Go 1.26",
		"WIP: rework %s", "Corriger la validation de %s", "Speed up %s queries 🚀"}
)

// person is a Bitbucket user that authors commits, opens and reviews pull
// requests.
type person struct {
	uuid, accountID, nickname, displayName string
}

var personNames = [][2]string{{"alice", "Alice Martin"}, {"bnguyen", "Bob Nguyen"},
	{"chloe", "Chloé Dubois"}, {"dmitri", "Dmitri Ivanov"}, {"eve", "Eve Okafor"},
	{"fatima", "Fatima Zahra"}, {"gudrun", "Guðrún Jónsdóttir"}, {"hiroshi", "田中 博 (Hiroshi Tanaka)"},
	{"ingrid", "Ingrid Berg"}, {"jose", "José Álvarez"}, {"kai", "Kai Müller"}, {"lena", "Lena Kowalski"}}

// botAuthors appear as commit authors that match no Bitbucket user, so their
// commits have author.raw but no author.user.
var botAuthors = []string{"build-bot <ci@example.invalid>", "Jenkins <jenkins@localhost>"}

func genPeople(seed int64) []person {
	people := make([]person, len(personNames))
	for i, n := range personNames {
		r := newRNG(uint64(seed), kindPerson, uint64(i))
		id := r.uuid()
		people[i] = person{uuid: id, accountID: "557058:" + strings.Trim(id, "{}"), nickname: n[0], displayName: n[1]}
	}
	return people
}

// slugify derives a repository slug from a name the way Bitbucket does:
// lower case, common accented letters folded to ASCII, anything else that is
// not [a-z0-9_.-] turned into '-'.
func slugify(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '.':
			b.WriteRune(r)
		case foldASCII[r] != "":
			b.WriteString(foldASCII[r])
		default:
			if s := b.String(); s != "" && !strings.HasSuffix(s, "-") {
				b.WriteByte('-')
			}
		}
	}
	s := strings.Trim(b.String(), "-.")
	if s == "" {
		return "repo"
	}
	return s
}

var foldASCII = map[rune]string{'à': "a", 'á': "a", 'â': "a", 'ä': "a", 'å': "a", 'ç': "c", 'è': "e",
	'é': "e", 'ê': "e", 'ë': "e", 'í': "i", 'ï': "i", 'ñ': "n", 'ó': "o", 'ô': "o", 'ö': "o", 'ø': "o",
	'ú': "u", 'ü': "u", 'ß': "ss", 'ð': "d"}
