package idpctl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
	"github.com/catalog-discovery/bitbucket/shared/cli"
)

type syncRun = *integrationv1.SyncRun

func (a *app) syncCommand() *cobra.Command {
	var (
		wait    bool
		timeout time.Duration
		output  outputFormat
		repos   []string
	)
	cmd := &cobra.Command{
		Use:   "sync INTEGRATION [--repo SLUG]... [--wait]",
		Short: "Sync an integration now, and optionally watch the run",
		Long: `Queue a sync of the integration now. When a sync is already queued or running,
that run is joined instead of starting a second one.

With --repo (repeatable), only those repositories are refreshed: their
metadata, pull requests and commits, without listing the workspace. Such a
targeted refresh runs beside a full sync; requests made before a delegate
takes it join it, so many requests for one repository cost one refresh.

With --wait, idpctl follows the run until it ends, showing its status, phase,
records received per kind, Bitbucket requests and 429 answers: one line
redrawn in place on a terminal, a line per status or phase change otherwise
(CI logs). Progress goes to stderr; the result goes to stdout.

Exit status with --wait: 0 when the run ends SUCCESS, and also PARTIAL (some
repositories failed; what synced is kept and the next sync retries the rest),
with a warning; 1 when it ends FAILED or CANCELLED, or when --timeout passes
first (the run itself goes on).`,
		Example: `  idpctl sync acme
  idpctl sync acme --wait
  idpctl sync acme --wait --timeout 10m -o json > run.json
  idpctl sync acme --repo payments-api --repo billing --wait`,
		Args: exactArgs("INTEGRATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return cli.Usagef("--timeout must not be negative (0 waits as long as it takes)")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, c.integrations.SyncIntegration, &integrationv1.SyncIntegrationRequest{Integration: args[0],
				Repositories: repos})
			if err != nil {
				return about(integrationSubject, err)
			}
			run := resp.GetRun()
			if !wait {
				return a.writeMessage(output, run, func(w io.Writer) {
					switch {
					case resp.GetJoined() && len(repos) > 0:
						fmt.Fprintf(w, "Joined the queued refresh of %s: run %s.\n", strings.Join(run.GetTargetedRepositories(), ", "), run.GetId())
					case resp.GetJoined():
						fmt.Fprintf(w, "A sync is already %s: run %s.\n", strings.ToLower(enumName(run.GetStatus(), "SYNC_STATUS_")), run.GetId())
					case len(repos) > 0:
						fmt.Fprintf(w, "Refresh of %s queued: run %s.\n", strings.Join(run.GetTargetedRepositories(), ", "), run.GetId())
					default:
						fmt.Fprintf(w, "Sync queued: run %s.\n", run.GetId())
					}
					a.hint("Follow it: %s", cmdLine("sync", args[0], "--wait"))
				})
			}
			if resp.GetJoined() {
				a.hint("Joining run %s, already in progress.", run.GetId())
			}
			run, err = a.waitForRun(cmd.Context(), c, run, timeout, args[0])
			if err != nil {
				return err
			}
			if err := a.writeMessage(output, run, func(w io.Writer) { fmt.Fprintln(w, a.runSummary(run)) }); err != nil {
				return err
			}
			switch run.GetStatus() {
			case integrationv1.SyncStatus_SYNC_STATUS_PARTIAL:
				a.hint("Warning: the run was partial: %s. What synced is kept; the next sync retries the rest.", cmp.Or(run.GetError(), "no reason given"))
			case integrationv1.SyncStatus_SYNC_STATUS_FAILED:
				return fmt.Errorf("sync run %s failed: %s (see %s)", run.GetId(), cmp.Or(run.GetError(), "no reason given"), cmdLine("events", args[0]))
			case integrationv1.SyncStatus_SYNC_STATUS_CANCELLED:
				return fmt.Errorf("sync run %s was cancelled%s", run.GetId(), suffix(": ", run.GetError()))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "follow the run until it ends")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Hour, "with --wait: stop waiting after this long (0: no limit)")
	cmd.Flags().StringArrayVar(&repos, "repo", nil, "refresh only this repository (its slug); repeatable")
	addOutputFlag(cmd, &output)
	return cmd
}

// maxPollFailures is how many polls in a row may find the control plane
// unavailable before waiting gives up: a restart of the control plane
// should not end a long watch.
const maxPollFailures = 5

// waitForRun polls the run every pollInterval until it ends, drawing
// progress on stderr.
func (a *app) waitForRun(ctx context.Context, c *clients, run syncRun, timeout time.Duration, integration string) (syncRun, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	p := &progress{w: a.stderr, columns: a.terminalWidth(a.stderr), start: a.now(), now: a.now}
	defer p.end()
	p.show(run)
	ticker := time.NewTicker(a.pollInterval)
	defer ticker.Stop()
	failures := 0
	for !runEnded(run) {
		select {
		case <-ctx.Done():
			return nil, a.stoppedWaiting(ctx, run, timeout, integration)
		case <-ticker.C:
		}
		resp, err := call(ctx, a, c.integrations.GetSyncRun, &integrationv1.GetSyncRunRequest{Id: run.GetId()})
		switch {
		case ctx.Err() != nil || pastDeadline(ctx):
			return nil, a.stoppedWaiting(ctx, run, timeout, integration)
		case status.Code(err) == codes.Unavailable && failures < maxPollFailures:
			failures++
			continue
		case err != nil:
			return nil, err
		}
		failures = 0
		run = resp.GetRun()
		p.show(run)
	}
	return run, nil
}

// pastDeadline is true once the wait's deadline passed, even before the
// context says so: a call's own timer, set to the same deadline, can fire
// first.
func pastDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func (a *app) stoppedWaiting(ctx context.Context, run syncRun, timeout time.Duration, integration string) error {
	where := fmt.Sprintf("run %s is still %s and goes on (see %s)", run.GetId(), enumName(run.GetStatus(), "SYNC_STATUS_"), cmdLine("runs", integration))
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("stopped waiting: %s", where)
	}
	return fmt.Errorf("gave up waiting after %s (--timeout): %s", timeout, where)
}

func runEnded(run syncRun) bool {
	switch run.GetStatus() {
	case integrationv1.SyncStatus_SYNC_STATUS_QUEUED, integrationv1.SyncStatus_SYNC_STATUS_RUNNING, integrationv1.SyncStatus_SYNC_STATUS_UNSPECIFIED:
		return false
	}
	return true
}

// progress draws a run's progress: redrawn in place on a terminal, a new
// line per status or phase change otherwise, so logs stay short.
type progress struct {
	w       io.Writer
	columns int // the terminal's width; 0 off a terminal
	start   time.Time
	now     func() time.Time
	last    string // status and phase last printed, off a terminal
	width   int    // of the line on screen, on a terminal
}

func (p *progress) show(run syncRun) {
	line := progressLine(run, p.now().Sub(p.start))
	if p.columns > 0 {
		// A line that wrapped could not be redrawn with \r: keep it to
		// one row (the line is ASCII, so bytes are columns).
		if len(line) >= p.columns {
			line = line[:p.columns-1]
		}
		pad := max(p.width-len(line), 0)
		fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
		p.width = len(line)
		return
	}
	key := run.GetStatus().String() + "/" + run.GetPhase()
	if key != p.last {
		fmt.Fprintln(p.w, line)
		p.last = key
	}
}

func (p *progress) end() {
	if p.columns > 0 && p.width > 0 {
		fmt.Fprintln(p.w)
		p.width = 0
	}
}

func progressLine(run syncRun, elapsed time.Duration) string {
	parts := []string{"run " + run.GetId(), enumName(run.GetStatus(), "SYNC_STATUS_")}
	if run.GetStatus() == integrationv1.SyncStatus_SYNC_STATUS_QUEUED {
		parts = append(parts, "waiting for a delegate")
	} else {
		if run.GetPhase() != "" {
			parts = append(parts, "phase="+run.GetPhase())
		}
		// Out of the workspace's total, once the listing has told it.
		total := ""
		if t := run.GetRepositoriesTotal(); t > 0 {
			total = fmt.Sprintf("/%d", t)
		}
		parts = append(parts, fmt.Sprintf("repos=%d%s", run.GetRepositories(), total))
		if run.GetRepositoriesDone() > 0 {
			parts = append(parts, fmt.Sprintf("done=%d%s", run.GetRepositoriesDone(), total))
		}
		parts = append(parts,
			fmt.Sprintf("prs=%d", run.GetPullRequests()),
			fmt.Sprintf("commits=%d", run.GetCommits()),
			fmt.Sprintf("requests=%d", run.GetRequests()),
			fmt.Sprintf("429s=%d", run.GetRateLimited()))
	}
	return strings.Join(parts, " ") + " (" + humanDuration(elapsed) + ")"
}

// runSummary is the one line printed when a watched run ends.
func (a *app) runSummary(run syncRun) string {
	took := ""
	if d, ok := runDuration(run); ok {
		took = " in " + humanDuration(d)
	}
	codeOwners := ""
	if n := run.GetCodeOwnersRequests(); n > 0 {
		codeOwners = fmt.Sprintf(" (%d reading CODEOWNERS files)", n)
	}
	return fmt.Sprintf("Run %s %s%s: %d repositories, %d pull requests, %d commits; %d Bitbucket requests%s, %d rate-limited (429).%s",
		run.GetId(), enumName(run.GetStatus(), "SYNC_STATUS_"), took,
		run.GetRepositories(), run.GetPullRequests(), run.GetCommits(), run.GetRequests(), codeOwners, run.GetRateLimited(),
		suffix(" Warning: ", rejectedTokens(run)))
}

// runDuration is from start (or queueing) to the end, for ended runs.
func runDuration(run syncRun) (time.Duration, bool) {
	from := run.GetStartedAt()
	if from == nil {
		from = run.GetQueuedAt()
	}
	if from == nil || run.GetFinishedAt() == nil {
		return 0, false
	}
	return run.GetFinishedAt().AsTime().Sub(from.AsTime()), true
}

// runSummaryShort is a run's status and when it last changed, for lists.
func (a *app) runSummaryShort(run syncRun) string {
	if run == nil {
		return "-"
	}
	at := run.GetFinishedAt()
	if at == nil {
		at = run.GetStartedAt()
	}
	if at == nil {
		at = run.GetQueuedAt()
	}
	return enumName(run.GetStatus(), "SYNC_STATUS_") + " " + a.age(at)
}

func (a *app) runSummaryLong(run syncRun) string {
	if run == nil {
		return "-"
	}
	return fmt.Sprintf("%s %s (%d repositories, %d pull requests, %d commits)%s%s",
		run.GetId(), a.runSummaryShort(run), run.GetRepositories(), run.GetPullRequests(), run.GetCommits(), suffix(": ", run.GetError()),
		suffix("; ", rejectedTokens(run)))
}

// rejectedTokens names the tokens a run took out of use, and why; "" when
// none was.
func rejectedTokens(run syncRun) string {
	var out []string
	for _, t := range run.GetTokens() {
		if t.GetRejected() {
			out = append(out, fmt.Sprintf("token %s rejected: %s", t.GetTokenRef(), t.GetMessage()))
		}
	}
	return strings.Join(out, "; ")
}

func suffix(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}

func (a *app) runsCommand() *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:   "runs INTEGRATION",
		Short: "List an integration's sync runs, newest first",
		Long: `List an integration's sync runs, newest first: trigger, status, start and
duration, records received per kind, Bitbucket requests made and how many were
answered 429 (rate limited), and why a run failed or was partial.`,
		Example: `  idpctl runs acme
  idpctl runs acme -o json | jq '.items[0]'`,
		Args: exactArgs("INTEGRATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := collect(cmd.Context(), a, &o, true, func(ctx context.Context, size int32, token string) ([]syncRun, string, int64, error) {
				resp, err := c.integrations.ListSyncRuns(ctx, &integrationv1.ListSyncRunsRequest{Integration: args[0], PageSize: size, PageToken: token})
				return resp.GetRuns(), resp.GetNextPageToken(), resp.GetTotal(), err
			})
			if err != nil {
				return about(integrationSubject, err)
			}
			count := func(f func(syncRun) int64) func(syncRun) string {
				return func(r syncRun) string { return fmt.Sprint(f(r)) }
			}
			return writeList(a, &o, p, []column[syncRun]{
				{"RUN", syncRun.GetId},
				{"TRIGGER", func(r syncRun) string { return enumName(r.GetTrigger(), "SYNC_TRIGGER_") }},
				{"STATUS", func(r syncRun) string { return enumName(r.GetStatus(), "SYNC_STATUS_") }},
				{"STARTED", func(r syncRun) string { return a.age(r.GetStartedAt()) }},
				{"DURATION", func(r syncRun) string {
					if d, ok := runDuration(r); ok {
						return humanDuration(d)
					}
					return "-"
				}},
				{"REPOS", count(syncRun.GetRepositories)},
				{"PRS", count(syncRun.GetPullRequests)},
				{"COMMITS", count(syncRun.GetCommits)},
				{"REQUESTS", count(syncRun.GetRequests)},
				{"429S", count(syncRun.GetRateLimited)},
				{"ERROR", syncRun.GetError},
			}, "No sync runs yet. Start one with: "+cmdLine("sync", args[0], "--wait"))
		},
	}
	addListFlags(cmd, &o)
	return cmd
}
