// The Integrations page: one card per integration, and + New Integration
// with its integration type picker.
import { useState } from "react";
import { connectors, discovery, integrations } from "../api";
import type { Integration } from "../gen/idp/integration/v1/integration_pb";
import { IntegrationState } from "../gen/idp/integration/v1/integration_pb";
import { stateLabel, syncStatusLabel, syncTone } from "../labels";
import { Link, navigate } from "../router";
import { Badge, Dialog, ErrorBox, useLoad, when } from "../ui";

type Card = { integration: Integration; connector: string; discovered: bigint; imported: bigint };

async function loadCards(): Promise<Card[]> {
  const [list, conns] = await Promise.all([integrations.listIntegrations({ pageSize: 500 }), connectors.listConnectors({ pageSize: 500 })]);
  const names = new Map(conns.connectors.map((c) => [c.id, c.name]));
  return Promise.all(
    list.integrations.map(async (i) => {
      const [d, im] = await Promise.all([
        discovery.listDiscovered({ integration: i.id, pageSize: 1 }),
        discovery.listImported({ integration: i.id, pageSize: 1 }),
      ]);
      return { integration: i, connector: names.get(i.connector) ?? i.connector, discovered: d.total, imported: im.total };
    }),
  );
}

// canEdit hides what the key may not do; the server still decides, and its
// answer is shown as it comes.
export function Integrations({ canEdit }: { canEdit: boolean }) {
  const { data, error } = useLoad(loadCards, []);
  const [picking, setPicking] = useState(false);
  return (
    <section>
      <header className="page-head">
        <h1>Integrations</h1>
        {canEdit && (
          <button type="button" className="primary" onClick={() => setPicking(true)}>
            + New Integration
          </button>
        )}
      </header>
      <ErrorBox error={error} />
      {data && data.length === 0 && <p className="empty">No integrations yet. Click + New Integration to connect a Bitbucket Cloud workspace.</p>}
      <ul className="cards">
        {data?.map((c) => (
          <li key={c.integration.id} className="card" aria-label={c.integration.name}>
            <h2>{c.integration.name}</h2>
            <Badge tone={c.integration.state === IntegrationState.ENABLED ? "ok" : "warn"}>{stateLabel(c.integration.state)}</Badge>
            <dl>
              <dt>Type</dt>
              <dd>Bitbucket Cloud</dd>
              <dt>Connector</dt>
              <dd>{c.connector}</dd>
              <dt>Workspace</dt>
              <dd>{c.integration.workspace}</dd>
              <dt>Last sync</dt>
              <dd>
                {c.integration.lastRun ? (
                  <>
                    <Badge tone={syncTone(c.integration.lastRun.status)}>{syncStatusLabel(c.integration.lastRun.status)}</Badge>{" "}
                    {when(c.integration.lastRun.finishedAt ?? c.integration.lastRun.queuedAt)}
                  </>
                ) : (
                  "never"
                )}
              </dd>
              <dt>Next sync</dt>
              <dd>{when(c.integration.nextSyncAt)}</dd>
              <dt>Discovered</dt>
              <dd>{c.discovered.toString()}</dd>
              <dt>Imported</dt>
              <dd>{c.imported.toString()}</dd>
            </dl>
            <Link className="button" href={`/integrations/${encodeURIComponent(c.integration.id)}`} aria-label={`View ${c.integration.name}`}>
              View
            </Link>
          </li>
        ))}
      </ul>
      {picking && (
        <Dialog title="Select an integration type" onClose={() => setPicking(false)}>
          <div className="dialog-body">
            <button type="button" className="type-choice" onClick={() => navigate("/integrations/new")}>
              <strong>Bitbucket Cloud</strong>
              <span>Discover the repositories of a Bitbucket Cloud workspace and bring them into the catalog.</span>
            </button>
          </div>
        </Dialog>
      )}
    </section>
  );
}
