package synctask

import (
	"encoding/json"
	"sync"
	"time"
)

// checkpoint is a sync's resume state, stored by the control plane with
// each lease renewal and handed to the next attempt. It only ever claims
// work whose records the control plane has acknowledged.
//
// The listing resumes by key, not by page link: repositories are listed
// oldest first, and a resumed attempt asks for created_on >= After. A page
// link would skip a repository whenever one on an earlier page was deleted
// meanwhile, and the listing-complete marker would then wrongly report it
// deleted.
type checkpoint struct {
	Version int `json:"v"`
	// After is the created_on of the last repository of the last page
	// whose work is stored; zero means from the start.
	After time.Time `json:"after,omitzero"`
	// Listed counts stored repositories created before After.
	Listed int64 `json:"listed,omitempty"`
	// Done lists repositories at or after After whose work is stored.
	Done []string `json:"done,omitempty"`
	// Complete: every page is stored; only the end marker may be missing.
	Complete bool `json:"complete,omitempty"`
	// PullRequests and Commits already taken from the per-sync caps.
	PullRequests int64 `json:"pull_requests,omitempty"`
	Commits      int64 `json:"commits,omitempty"`
	// Expected is the workspace's repository count when the listing began
	// (0: not known yet); Unverified says the listing was found to differ
	// from it. See Run.verify.
	Expected   int64 `json:"expected,omitempty"`
	Unverified bool  `json:"unverified,omitempty"`
}

const checkpointVersion = 1

// maxCheckpointBytes stays under the contract's 64 KiB; beyond it the done
// list is dropped, which costs refetching, never correctness.
const maxCheckpointBytes = 60 << 10

type repoKey struct {
	uuid    string
	created time.Time
}

type trackedPage struct {
	repos    []repoKey
	listedAt int64            // batch holding the page's repository records
	done     map[string]int64 // uuid -> batch holding its last record
}

// tracker follows which pages and repositories are finished, and at which
// upload batch, to build checkpoints from acknowledged work only.
type tracker struct {
	mu       sync.Mutex
	after    time.Time
	listed   int64
	tie      []string // stored repositories with created_on == after
	carried  map[string]bool
	pages    []*trackedPage
	finished bool

	expected   int64
	unverified bool
}

func newTracker(from checkpoint) *tracker {
	t := &tracker{after: from.After, listed: from.Listed, carried: map[string]bool{},
		expected: from.Expected, unverified: from.Unverified}
	for _, u := range from.Done {
		t.carried[u] = true
	}
	return t
}

func (t *tracker) addPage(repos []repoKey, pos int64) *trackedPage {
	p := &trackedPage{repos: repos, listedAt: pos, done: make(map[string]int64, len(repos))}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pages = append(t.pages, p)
	return p
}

func (t *tracker) repoDone(p *trackedPage, uuid string, pos int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p.done[uuid] = pos
}

// wasDone reports whether an earlier attempt stored this repository's work.
func (t *tracker) wasDone(uuid string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.carried[uuid]
}

// listingFinished marks the listing done; verified is whether it can be
// trusted to hold every repository.
func (t *tracker) listingFinished(verified bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.finished = true
	t.unverified = t.unverified || !verified
}

// expect records the repository count the listing began with, unless an
// earlier attempt did.
func (t *tracker) expect(n int64) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.expected == 0 {
		t.expected = n
	}
	return t.expected
}

// snapshot folds every page stored up to acked into the resume key and
// returns the checkpoint.
func (t *tracker) snapshot(acked, pullRequests, commits int64) checkpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.pages) > 0 && t.stored(t.pages[0], acked) {
		for _, r := range t.pages[0].repos {
			delete(t.carried, r.uuid)
			if r.created.After(t.after) {
				t.listed += int64(len(t.tie))
				t.after, t.tie = r.created, t.tie[:0]
			}
			t.tie = append(t.tie, r.uuid)
		}
		t.pages = t.pages[1:]
	}
	cp := checkpoint{
		Version: checkpointVersion, After: t.after, Listed: t.listed,
		Complete: t.finished && len(t.pages) == 0, PullRequests: pullRequests, Commits: commits,
		Expected: t.expected, Unverified: t.unverified,
	}
	cp.Done = append(cp.Done, t.tie...)
	for u := range t.carried {
		cp.Done = append(cp.Done, u)
	}
	for _, p := range t.pages {
		for u, pos := range p.done {
			if pos <= acked && p.listedAt <= acked {
				cp.Done = append(cp.Done, u)
			}
		}
	}
	return cp
}

func (t *tracker) stored(p *trackedPage, acked int64) bool {
	if p.listedAt > acked || len(p.done) < len(p.repos) {
		return false
	}
	for _, pos := range p.done {
		if pos > acked {
			return false
		}
	}
	return true
}

func (c checkpoint) encode() []byte {
	b, err := json.Marshal(c)
	if err == nil && len(b) > maxCheckpointBytes {
		c.Done = nil
		b, err = json.Marshal(c)
	}
	if err != nil {
		return nil
	}
	return b
}

func decodeCheckpoint(b []byte) (checkpoint, error) {
	var c checkpoint
	if len(b) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return checkpoint{}, err
	}
	if c.Version != checkpointVersion {
		return checkpoint{}, errUnknownVersion
	}
	return c, nil
}
