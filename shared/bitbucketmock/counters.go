package bitbucketmock

import (
	"maps"
	"sync"
)

// Counters is what the server has answered since it started or since
// ResetCounters, so tests and benchmarks can assert exactly how many calls a
// client made. Endpoint names: repositories, repository, projects, project,
// pullrequests, pullrequest, pullrequest_commits, commits, commit, branches,
// tags, workspace, user, hooks, hook, hook_create, hook_update, hook_delete,
// unknown. The control API is not counted; webhook deliveries are counted
// apart, in Deliveries.
type Counters struct {
	Requests         int                    `json:"requests"`
	ByEndpoint       map[string]int         `json:"by_endpoint"`
	ByStatus         map[int]int            `json:"by_status"`
	ByEndpointStatus map[string]map[int]int `json:"by_endpoint_status"`
	ByCredential     map[string]int         `json:"by_credential"`
	// RateLimited counts 429 answers.
	RateLimited int `json:"rate_limited"`
	// Faults counts injected faults by kind.
	Faults map[FaultKind]int `json:"faults"`
	// Deliveries counts webhook deliveries.
	Deliveries DeliveryCounters `json:"deliveries"`
}

type counterSet struct {
	mu sync.Mutex
	c  Counters
}

func newCounters() Counters {
	return Counters{ByEndpoint: map[string]int{}, ByStatus: map[int]int{},
		ByEndpointStatus: map[string]map[int]int{}, ByCredential: map[string]int{}, Faults: map[FaultKind]int{},
		Deliveries: DeliveryCounters{ByEvent: map[string]int{}}}
}

// delivery counts a delivery of event ("" for none) and applies f.
func (cs *counterSet) delivery(event string, f func(*DeliveryCounters)) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if event != "" {
		cs.c.Deliveries.ByEvent[event]++
	}
	f(&cs.c.Deliveries)
}

func (cs *counterSet) record(endpoint, cred string, status int, fault FaultKind) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := &cs.c
	c.Requests++
	c.ByEndpoint[endpoint]++
	c.ByStatus[status]++
	if c.ByEndpointStatus[endpoint] == nil {
		c.ByEndpointStatus[endpoint] = map[int]int{}
	}
	c.ByEndpointStatus[endpoint][status]++
	c.ByCredential[cred]++
	if status == 429 {
		c.RateLimited++
	}
	if fault != "" {
		c.Faults[fault]++
	}
}

func (cs *counterSet) snapshot() Counters {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := cs.c
	out.ByEndpoint = maps.Clone(cs.c.ByEndpoint)
	out.ByStatus = maps.Clone(cs.c.ByStatus)
	out.ByCredential = maps.Clone(cs.c.ByCredential)
	out.Faults = maps.Clone(cs.c.Faults)
	out.Deliveries.ByEvent = maps.Clone(cs.c.Deliveries.ByEvent)
	out.ByEndpointStatus = make(map[string]map[int]int, len(cs.c.ByEndpointStatus))
	for k, v := range cs.c.ByEndpointStatus {
		out.ByEndpointStatus[k] = maps.Clone(v)
	}
	return out
}

func (cs *counterSet) reset() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.c = newCounters()
}
