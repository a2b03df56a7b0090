package bitbucketmock

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The control API: the in-process control methods over HTTP, JSON in and
// out, under /_mock/ on the API's port. It needs no credentials, is never
// rate limited, faulted or counted. Routes are listed by GET /_mock/.

const controlIndex = `Mock Bitbucket control API (JSON bodies; errors are {"error": "..."})

GET    /_mock/repos                                   list repositories
POST   /_mock/repos                                   add: {"name", "slug", "project_key", "description", "public", "commits"}
POST   /_mock/repos/transfer-in                       a repository arrives from another workspace: {"from", "name", ...}
POST   /_mock/repos/{repo}/transfer                   hand over to another workspace: {"to"}
GET    /_mock/repos/{repo}                            one repository ({repo} is a slug or a {uuid})
DELETE /_mock/repos/{repo}                            delete
POST   /_mock/repos/{repo}/rename                     {"name"}; the slug follows the name
POST   /_mock/repos/{repo}/move                       {"project_key"}
POST   /_mock/repos/{repo}/commits                    push: {"count"}
POST   /_mock/repos/{repo}/force-push                 rewrite: {"drop", "count"} (drop the newest, push count new)
GET    /_mock/repos/{repo}/codeowners                 its CODEOWNERS file: {"path", "content"} ("" when none)
PUT    /_mock/repos/{repo}/files/{path}               commit a file (raw body), e.g. .bitbucket/CODEOWNERS
DELETE /_mock/repos/{repo}/files/{path}               commit its removal
GET    /_mock/repos/{repo}/pullrequests               list pull requests, all states
POST   /_mock/repos/{repo}/pullrequests               open: {"title", "description", "source_branch", "draft"}
POST   /_mock/repos/{repo}/pullrequests/{id}/merge    merge (pushes a merge commit)
POST   /_mock/repos/{repo}/pullrequests/{id}/decline  decline
POST   /_mock/repos/{repo}/pullrequests/{id}/update   edit: {"title", "description"}
POST   /_mock/repos/{repo}/pullrequests/{id}/approve  approve
POST   /_mock/repos/{repo}/pullrequests/{id}/comments comment: {"text"}
GET    /_mock/hooks                                   list workspace webhooks (secrets never shown)
GET    /_mock/deliveries                              delivery settings
PUT    /_mock/deliveries                              {"drop": 0.5, "timeout": "10s", "retry_delay": "1s"}
POST   /_mock/deliveries/flush                        wait for deliveries in flight: {"timeout": "30s"}
POST   /_mock/projects                                add a project: {"key", "name"}
GET    /_mock/counters                                request counters
POST   /_mock/counters/reset                          zero the counters
GET    /_mock/faults                                  fault settings
PUT    /_mock/faults                                  {"rate": 0.05, "kinds": ["500","reset"], "delay": "2s"}
POST   /_mock/faults/next                             fail the next requests: {"kinds": ["503"]}
GET    /_mock/tokens                                  tokens: name, scopes, revoked, own rate limit (never values)
PATCH  /_mock/tokens/{name}                           {"revoked": true} (401 from then on), {"rate_limit": "2000/h"} ("" for the server's)
GET    /_mock/rate-limit                              {"limit": "1000/h"}
PUT    /_mock/rate-limit                              {"limit": "50/10s"} ("off" for none)
`

// deliveriesWire is DeliveryConfig with human durations.
type deliveriesWire struct {
	Drop       float64 `json:"drop"`
	Timeout    string  `json:"timeout,omitempty"`
	RetryDelay string  `json:"retry_delay,omitempty"`
}

func toDeliveriesWire(d DeliveryConfig) deliveriesWire {
	return deliveriesWire{Drop: d.Drop, Timeout: d.Timeout.String(), RetryDelay: d.RetryDelay.String()}
}

// parseDuration reads an optional duration field of a control request.
func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrInvalid, field, err)
	}
	return d, nil
}

// faultsWire is Faults with a human duration.
type faultsWire struct {
	Rate  float64     `json:"rate"`
	Kinds []FaultKind `json:"kinds"`
	Delay string      `json:"delay"`
}

func (s *Server) controlRoutes() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /_mock/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, controlIndex)
	})
	m.HandleFunc("GET /_mock/repos", func(w http.ResponseWriter, _ *http.Request) { writeControl(w, s.Repos(), nil) })
	m.HandleFunc("POST /_mock/repos", func(w http.ResponseWriter, r *http.Request) {
		var spec RepoSpec
		if decode(w, r, &spec) {
			info, err := s.AddRepo(spec)
			writeControl(w, info, err)
		}
	})
	m.HandleFunc("POST /_mock/repos/transfer-in", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			RepoSpec
			From string `json:"from"`
		}
		if decode(w, r, &body) {
			info, err := s.TransferIn(body.RepoSpec, body.From)
			writeControl(w, info, err)
		}
	})
	m.HandleFunc("POST /_mock/repos/{repo}/transfer", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			To string `json:"to"`
		}
		if decode(w, r, &body) {
			writeControl(w, map[string]string{"transferred_to": body.To}, s.TransferOut(r.PathValue("repo"), body.To))
		}
	})
	m.HandleFunc("GET /_mock/repos/{repo}", func(w http.ResponseWriter, r *http.Request) {
		info, err := s.Repo(r.PathValue("repo"))
		writeControl(w, info, err)
	})
	m.HandleFunc("DELETE /_mock/repos/{repo}", func(w http.ResponseWriter, r *http.Request) {
		writeControl(w, map[string]bool{"deleted": true}, s.DeleteRepo(r.PathValue("repo")))
	})
	m.HandleFunc("POST /_mock/repos/{repo}/rename", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Name string `json:"name"`
		}
		if decode(w, r, &body) {
			info, err := s.RenameRepo(r.PathValue("repo"), body.Name)
			writeControl(w, info, err)
		}
	})
	m.HandleFunc("POST /_mock/repos/{repo}/move", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ProjectKey string `json:"project_key"`
		}
		if decode(w, r, &body) {
			info, err := s.MoveRepo(r.PathValue("repo"), body.ProjectKey)
			writeControl(w, info, err)
		}
	})
	m.HandleFunc("POST /_mock/repos/{repo}/commits", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Count int `json:"count"`
		}
		if decode(w, r, &body) {
			info, err := s.PushCommits(r.PathValue("repo"), body.Count)
			writeControl(w, info, err)
		}
	})
	m.HandleFunc("POST /_mock/repos/{repo}/force-push", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Drop  int `json:"drop"`
			Count int `json:"count"`
		}
		if decode(w, r, &body) {
			info, err := s.ForcePush(r.PathValue("repo"), body.Drop, body.Count)
			writeControl(w, info, err)
		}
	})
	m.HandleFunc("GET /_mock/repos/{repo}/codeowners", func(w http.ResponseWriter, r *http.Request) {
		p, text, err := s.CodeOwners(r.PathValue("repo"))
		writeControl(w, map[string]string{"path": p, "content": text}, err)
	})
	m.HandleFunc("PUT /_mock/repos/{repo}/files/{path...}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxFileBytes+1))
		if err != nil {
			writeControl(w, nil, fmt.Errorf("%w: reading the file: %v", ErrInvalid, err))
			return
		}
		info, err := s.SetFile(r.PathValue("repo"), r.PathValue("path"), string(body))
		writeControl(w, info, err)
	})
	m.HandleFunc("DELETE /_mock/repos/{repo}/files/{path...}", func(w http.ResponseWriter, r *http.Request) {
		info, err := s.RemoveFile(r.PathValue("repo"), r.PathValue("path"))
		writeControl(w, info, err)
	})
	m.HandleFunc("GET /_mock/repos/{repo}/pullrequests", func(w http.ResponseWriter, r *http.Request) {
		prs, err := s.PullRequests(r.PathValue("repo"))
		writeControl(w, prs, err)
	})
	m.HandleFunc("POST /_mock/repos/{repo}/pullrequests", func(w http.ResponseWriter, r *http.Request) {
		var spec PRSpec
		if decode(w, r, &spec) {
			info, err := s.OpenPR(r.PathValue("repo"), spec)
			writeControl(w, info, err)
		}
	})
	prAction := func(action string, f func(r *http.Request, ref string, id int) (PRInfo, error)) {
		m.HandleFunc("POST /_mock/repos/{repo}/pullrequests/{id}/"+action, func(w http.ResponseWriter, r *http.Request) {
			id, err := strconv.Atoi(r.PathValue("id"))
			if err != nil {
				writeControl(w, nil, fmt.Errorf("%w: pull request id %q", ErrInvalid, r.PathValue("id")))
				return
			}
			info, err := f(r, r.PathValue("repo"), id)
			writeControl(w, info, err)
		})
	}
	prAction("update", func(r *http.Request, ref string, id int) (PRInfo, error) {
		var edit PREdit
		if err := readBody(r, &edit); err != nil {
			return PRInfo{}, err
		}
		return s.UpdatePR(ref, id, edit)
	})
	prAction("approve", func(_ *http.Request, ref string, id int) (PRInfo, error) { return s.ApprovePR(ref, id) })
	prAction("comments", func(r *http.Request, ref string, id int) (PRInfo, error) {
		var body struct {
			Text string `json:"text"`
		}
		if err := readBody(r, &body); err != nil {
			return PRInfo{}, err
		}
		return s.CommentPR(ref, id, body.Text)
	})
	prAction("merge", func(_ *http.Request, ref string, id int) (PRInfo, error) { return s.MergePR(ref, id) })
	prAction("decline", func(_ *http.Request, ref string, id int) (PRInfo, error) { return s.DeclinePR(ref, id) })
	s.tokenRoutes(m)
	m.HandleFunc("GET /_mock/hooks", func(w http.ResponseWriter, _ *http.Request) { writeControl(w, s.Hooks(), nil) })
	m.HandleFunc("GET /_mock/deliveries", func(w http.ResponseWriter, _ *http.Request) {
		writeControl(w, toDeliveriesWire(s.Deliveries()), nil)
	})
	m.HandleFunc("PUT /_mock/deliveries", func(w http.ResponseWriter, r *http.Request) {
		var body deliveriesWire
		if !decode(w, r, &body) {
			return
		}
		cfg := DeliveryConfig{Drop: body.Drop, Sleep: s.Deliveries().Sleep}
		var err error
		if cfg.Timeout, err = parseDuration("timeout", body.Timeout); err == nil {
			if cfg.RetryDelay, err = parseDuration("retry_delay", body.RetryDelay); err == nil {
				err = s.SetDeliveries(cfg)
			}
		}
		writeControl(w, toDeliveriesWire(s.Deliveries()), err)
	})
	m.HandleFunc("POST /_mock/deliveries/flush", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Timeout string `json:"timeout"`
		}
		if r.ContentLength != 0 && !decode(w, r, &body) {
			return
		}
		timeout, err := parseDuration("timeout", body.Timeout)
		if err != nil {
			writeControl(w, nil, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), cmp.Or(timeout, 30*time.Second))
		defer cancel()
		if err := s.FlushDeliveries(ctx); err != nil {
			writeControl(w, nil, fmt.Errorf("%w: %v", ErrTimeout, err))
			return
		}
		writeControl(w, s.Counters().Deliveries, nil)
	})
	m.HandleFunc("POST /_mock/projects", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Key  string `json:"key"`
			Name string `json:"name"`
		}
		if decode(w, r, &body) {
			writeControl(w, body, s.AddProject(body.Key, body.Name))
		}
	})
	m.HandleFunc("GET /_mock/counters", func(w http.ResponseWriter, _ *http.Request) { writeControl(w, s.Counters(), nil) })
	m.HandleFunc("POST /_mock/counters/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetCounters()
		writeControl(w, s.Counters(), nil)
	})
	m.HandleFunc("GET /_mock/faults", func(w http.ResponseWriter, _ *http.Request) {
		f := s.Faults()
		writeControl(w, faultsWire{Rate: f.Rate, Kinds: f.kinds(), Delay: f.delay().String()}, nil)
	})
	m.HandleFunc("PUT /_mock/faults", func(w http.ResponseWriter, r *http.Request) {
		var body faultsWire
		if !decode(w, r, &body) {
			return
		}
		f := Faults{Rate: body.Rate, Kinds: body.Kinds}
		if body.Delay != "" {
			d, err := time.ParseDuration(body.Delay)
			if err != nil {
				writeControl(w, nil, fmt.Errorf("%w: delay: %v", ErrInvalid, err))
				return
			}
			f.Delay = d
		}
		if err := s.SetFaults(f); err != nil {
			writeControl(w, nil, fmt.Errorf("%w: %v", ErrInvalid, err))
			return
		}
		writeControl(w, faultsWire{Rate: f.Rate, Kinds: f.kinds(), Delay: f.delay().String()}, nil)
	})
	m.HandleFunc("POST /_mock/faults/next", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Kinds []FaultKind `json:"kinds"`
		}
		if !decode(w, r, &body) {
			return
		}
		if err := s.FailNext(body.Kinds...); err != nil {
			writeControl(w, nil, fmt.Errorf("%w: %v", ErrInvalid, err))
			return
		}
		writeControl(w, body, nil)
	})
	rateBody := func() any { return map[string]string{"limit": s.RateLimit().String()} }
	m.HandleFunc("GET /_mock/rate-limit", func(w http.ResponseWriter, _ *http.Request) { writeControl(w, rateBody(), nil) })
	m.HandleFunc("PUT /_mock/rate-limit", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Limit string `json:"limit"`
		}
		if !decode(w, r, &body) {
			return
		}
		rate, err := ParseRate(body.Limit)
		if err == nil {
			err = s.SetRateLimit(rate)
		} else {
			err = fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		writeControl(w, rateBody(), err)
	})
	return m
}

// decode reads a JSON request body; on failure it answers 400 and reports
// false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := readBody(r, v); err != nil {
		writeControl(w, nil, err)
		return false
	}
	return true
}

func readBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: request body: %v", ErrInvalid, err)
	}
	return nil
}

// controlStatus is the one table from control errors to HTTP statuses.
func controlStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrTimeout):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

func writeControl(w http.ResponseWriter, v any, err error) {
	status := http.StatusOK
	if err != nil {
		status, v = controlStatus(err), map[string]string{"error": err.Error()}
	}
	b, merr := json.MarshalIndent(v, "", "  ")
	if merr != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error": "encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
