// The Runs and Events tabs of an integration, newest first.
import { integrations } from "../api";
import type { Integration } from "../gen/idp/integration/v1/integration_pb";
import { eventLabel, syncStatusLabel, syncTone, triggerLabel } from "../labels";
import { Badge, ErrorBox, Pager, useLoad, usePages, when } from "../ui";

export function RunsTab({ integration, refresh }: { integration: Integration; refresh: number }) {
  const pages = usePages();
  const list = useLoad(() => integrations.listSyncRuns({ integration: integration.id, pageSize: 20, pageToken: pages.token }), [integration.id, pages.token, refresh]);
  return (
    <div>
      <ErrorBox error={list.error} />
      <div className="table-wrap">
        <table className="list" aria-label="Sync runs">
          <thead>
            <tr>
              <th scope="col">Queued</th>
              <th scope="col">Trigger</th>
              <th scope="col">Status</th>
              <th scope="col">Finished</th>
              <th scope="col">Repositories</th>
              <th scope="col">Pull requests</th>
              <th scope="col">Commits</th>
              <th scope="col">Requests</th>
              <th scope="col">429s</th>
              <th scope="col">Delegate</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {list.data?.runs.map((r) => (
              <tr key={r.id}>
                <td>{when(r.queuedAt)}</td>
                <td>{triggerLabel(r.trigger)}</td>
                <td>
                  <Badge tone={syncTone(r.status)}>{syncStatusLabel(r.status)}</Badge>
                  {r.attempt > 1 && <span className="hint"> attempt {r.attempt}</span>}
                </td>
                <td>{when(r.finishedAt)}</td>
                <td>{r.repositories.toString()}</td>
                <td>{r.pullRequests.toString()}</td>
                <td>{r.commits.toString()}</td>
                <td>{r.requests.toString()}</td>
                <td>{r.rateLimited.toString()}</td>
                <td>{r.delegate || "—"}</td>
                <td>{r.error}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {list.data?.runs.length === 0 && <p className="empty">No sync has run yet.</p>}
      <Pager loading={list.loading} label="Runs" page={pages.page} nextToken={list.data?.nextPageToken ?? ""} onNext={() => pages.next(list.data!.nextPageToken)} onPrevious={pages.previous} />
    </div>
  );
}

export function EventsTab({ integration, refresh }: { integration: Integration; refresh: number }) {
  const pages = usePages();
  const list = useLoad(() => integrations.listEvents({ integration: integration.id, pageSize: 50, pageToken: pages.token }), [integration.id, pages.token, refresh]);
  return (
    <div>
      <ErrorBox error={list.error} />
      <div className="table-wrap">
        <table className="list" aria-label="Events">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Event</th>
              <th scope="col">What happened</th>
              <th scope="col">Repository</th>
              <th scope="col">Actor</th>
            </tr>
          </thead>
          <tbody>
            {list.data?.events.map((e) => (
              <tr key={e.id}>
                <td>{when(e.time)}</td>
                <td>{eventLabel(e.type)}</td>
                <td>
                  {e.message}
                  {e.error && <div className="warning">{e.error}</div>}
                </td>
                <td>{e.repository || "—"}</td>
                <td>{e.actor}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {list.data?.events.length === 0 && <p className="empty">No events yet.</p>}
      <Pager loading={list.loading} label="Events" page={pages.page} nextToken={list.data?.nextPageToken ?? ""} onNext={() => pages.next(list.data!.nextPageToken)} onPrevious={pages.previous} />
    </div>
  );
}
