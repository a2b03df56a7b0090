// One integration: its header with Sync and live progress, and the tabs
// Discovered, Imported, Configuration, Runs and Events.
import { useCallback, useEffect, useState } from "react";
import { integrations } from "../api";
import { shown, type ShownError } from "../errors";
import {
  IntegrationState,
  IntegrationWebhookState,
  type Freshness as IntegrationFreshness,
  type Integration,
  type SyncRun,
} from "../gen/idp/integration/v1/integration_pb";
import { isActive, stateLabel, syncStatusLabel, syncTone, webhookLabel } from "../labels";
import { Link } from "../router";
import { Badge, ErrorBox, useLoad, when } from "../ui";
import { DiscoveredTab } from "./DiscoveredTab";
import { ImportedTab } from "./ImportedTab";
import { ConfigurationTab } from "./ConfigurationTab";
import { EventsTab, RunsTab } from "./HistoryTabs";

const tabs = [
  ["discovered", "Discovered"],
  ["imported", "Imported"],
  ["configuration", "Configuration"],
  ["runs", "Runs"],
  ["events", "Events"],
];

export function IntegrationPage({ id, tab }: { id: string; tab: string }) {
  const { data, error, reload } = useLoad(() => integrations.getIntegration({ integration: id }), [id]);
  const [synced, setSynced] = useState(0);
  // A finished sync refreshes the header and the open tab's list.
  const changed = useCallback(() => {
    reload();
    setSynced((n) => n + 1);
  }, [reload]);
  const integration = data?.integration;
  if (error) return <ErrorBox error={error} title="The integration cannot be shown" />;
  if (!integration) return <p className="loading">Loading…</p>;
  return (
    <section>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/integrations">Integrations</Link> / {integration.name}
      </nav>
      <header className="page-head">
        <h1>
          {integration.name}{" "}
          <Badge tone={integration.state === IntegrationState.ENABLED ? "ok" : "warn"}>{stateLabel(integration.state)}</Badge>
        </h1>
        <SyncControl integration={integration} onFinished={changed} />
      </header>
      <p className="hint">
        Bitbucket Cloud workspace <strong>{integration.workspace}</strong> · next sync {when(integration.nextSyncAt)} · webhook{" "}
        <span title={integration.webhook?.url || undefined}>{webhookLabel(integration.webhook?.state ?? IntegrationWebhookState.UNSPECIFIED)}</span>
        {integration.freshness && <Freshness freshness={integration.freshness} />}
      </p>
      {integration.webhook?.hint && <p className="hint">{integration.webhook.hint}</p>}
      <nav className="tabs" aria-label="Integration">
        {tabs.map(([t, label]) => (
          <Link key={t} href={`/integrations/${encodeURIComponent(integration.id)}/${t}`} aria-current={t === tab ? "page" : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      {tab === "discovered" && <DiscoveredTab integration={integration} refresh={synced} onChanged={reload} />}
      {tab === "imported" && <ImportedTab integration={integration} refresh={synced} />}
      {tab === "configuration" && <ConfigurationTab integration={integration} onChanged={reload} />}
      {tab === "runs" && <RunsTab integration={integration} refresh={synced} />}
      {tab === "events" && <EventsTab integration={integration} refresh={synced} />}
    </section>
  );
}

// Freshness says how recently the pull requests were confirmed: the
// oldest confirmation and how many repositories are overdue.
function Freshness({ freshness: f }: { freshness: IntegrationFreshness }) {
  const oldest = f.pullRequestsOldestConfirmedAt
    ? `oldest ${when(f.pullRequestsOldestConfirmedAt)}`
    : "not yet for every repository";
  return (
    <>
      {" "}
      · pull requests confirmed: {oldest}, {String(f.pullRequestsOverdue)} of {String(f.repositories)} overdue
      {f.webhook ? "" : " (no webhook: polling only)"}
    </>
  );
}

// SyncControl is the Sync button and the live progress of the current run,
// polled while it is queued or running.
function SyncControl({ integration, onFinished }: { integration: Integration; onFinished: () => void }) {
  const [run, setRun] = useState<SyncRun | undefined>(integration.lastRun);
  const [error, setError] = useState<ShownError | null>(null);
  const active = run !== undefined && isActive(run.status);
  const suspended = integration.state === IntegrationState.SUSPENDED;
  // A run started elsewhere (create, resume, the schedule) shows up here too.
  const latest = integration.lastRun;
  useEffect(() => {
    if (latest) setRun((r) => (r?.id === latest.id && r.status === latest.status ? r : latest));
  }, [latest]);

  useEffect(() => {
    if (!active || !run) return;
    const timer = setTimeout(async () => {
      try {
        const next = (await integrations.getSyncRun({ id: run.id })).run!;
        setRun(next);
        if (!isActive(next.status)) onFinished();
      } catch (e) {
        setError(shown(e));
      }
    }, 1000);
    return () => clearTimeout(timer);
  }, [run, active, onFinished]);

  const sync = async () => {
    setError(null);
    try {
      setRun((await integrations.syncIntegration({ integration: integration.id })).run);
    } catch (e) {
      setError(shown(e));
    }
  };

  return (
    <div className="sync">
      <button type="button" className="primary" onClick={sync} disabled={active || suspended} aria-describedby={suspended ? "sync-suspended" : undefined}>
        {active ? "Syncing…" : "Sync"}
      </button>
      {suspended && (
        <span id="sync-suspended" className="hint">
          Suspended: resume it under Configuration to sync.
        </span>
      )}
      {run && <SyncProgress run={run} />}
      <ErrorBox error={error} title="Sync" />
    </div>
  );
}

export function SyncProgress({ run }: { run: SyncRun }) {
  const active = isActive(run.status);
  const total = Number(run.repositoriesTotal);
  const done = Number(run.repositoriesDone);
  return (
    <div className="progress" role="status" aria-live="polite" aria-label="Sync progress">
      <Badge tone={syncTone(run.status)}>{syncStatusLabel(run.status)}</Badge>
      {active && run.phase && <span> phase: {run.phase}</span>}
      {active && total > 0 && <progress max={total} value={done} aria-label="Repositories done" />}
      <span className="counts">
        {run.repositories.toString()} repositories{total > 0 && ` (${done}/${total} done)`} · {run.pullRequests.toString()} pull requests · {run.commits.toString()} commits ·{" "}
        {run.requests.toString()} requests · {run.rateLimited.toString()} × 429
        {run.delegate && <> · delegate {run.delegate}</>}
      </span>
      {!active && <span className="hint"> finished {when(run.finishedAt)}</span>}
      {run.error && <p className="warning">{run.error}</p>}
      {run.tokens
        .filter((t) => t.rejected)
        .map((t) => (
          <p className="warning" key={t.tokenRef}>
            Token {t.tokenRef} was taken out of use: {t.message}. Replace or remove it from the connector.
          </p>
        ))}
    </div>
  );
}
