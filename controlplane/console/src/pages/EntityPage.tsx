// An entity: its Overview with recent pull requests and commits, and View
// YAML with the Entity Inspector's Ingested Properties.
import { useState } from "react";
import { parse, stringify } from "yaml";
import { catalog, integrations } from "../api";
import type { Entity } from "../gen/idp/catalog/v1/catalog_pb";
import { Link } from "../router";
import { Badge, Dialog, ErrorBox, useLoad, when } from "../ui";

export function EntityPage({ id }: { id: string }) {
  const entity = useLoad(() => catalog.getEntity({ key: { entity: id } }), [id]);
  const names = useLoad(() => integrations.listIntegrations({ pageSize: 500 }).then((r) => new Map(r.integrations.map((i) => [i.id, i.name]))), []);
  const activity = useLoad(() => catalog.getEntityActivity({ key: { entity: id }, limit: 10 }), [id]);
  const [inspecting, setInspecting] = useState(false);
  const e = entity.data?.entity;
  if (entity.error) return <ErrorBox error={entity.error} title="The entity cannot be shown" />;
  if (!e) return <p className="loading">Loading…</p>;
  const a = activity.data;
  return (
    <section>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/catalog">Catalog</Link> / {e.name || e.identifier}
      </nav>
      <header className="page-head">
        <h1>
          {e.name || e.identifier} <Badge tone="muted">{e.kind}</Badge>
        </h1>
        <button type="button" onClick={() => setInspecting(true)}>
          View YAML
        </button>
      </header>
      <section className="panel" aria-labelledby="ov">
        <h2 id="ov">Overview</h2>
        <dl className="summary">
          <dt>Identifier</dt>
          <dd>{e.identifier}</dd>
          <dt>Kind / type</dt>
          <dd>
            {e.kind} / {e.type || "—"}
          </dd>
          <dt>Owner</dt>
          <dd>{e.owner}</dd>
          <dt>Scope</dt>
          <dd>{e.scope}</dd>
          <dt>Lifecycle</dt>
          <dd>{e.lifecycle || "—"}</dd>
          <dt>Description</dt>
          <dd>{e.description || "—"}</dd>
          <dt>Tags</dt>
          <dd>{e.tags.length ? e.tags.map((t) => <Badge key={t} tone="muted">{t}</Badge>) : "—"}</dd>
          <dt>Integrations</dt>
          <dd>
            {e.linkedIntegrations.length
              ? e.linkedIntegrations.map((i) => (
                  <Link key={i} href={`/integrations/${encodeURIComponent(i)}/imported`}>
                    {names.data?.get(i) ?? i}
                  </Link>
                ))
              : "none"}
            {e.sourceDeleted && <Badge tone="bad">repository deleted in Bitbucket</Badge>}
          </dd>
          <dt>Updated</dt>
          <dd>{when(e.updatedAt)}</dd>
        </dl>
      </section>
      <ErrorBox error={activity.error} title="Activity" />
      {a && (
        <>
          <section className="panel" aria-labelledby="prs">
            <h2 id="prs">Pull requests</h2>
            <p>
              {a.openPullRequests.toString()} open · {a.mergedPullRequests.toString()} merged · {a.declinedPullRequests.toString()} declined
            </p>
            {a.recentPullRequests.length === 0 ? (
              <p className="empty">No pull requests synced.</p>
            ) : (
              <div className="table-wrap">
                <table className="list" aria-label="Recent pull requests">
                  <thead>
                    <tr>
                      <th scope="col">#</th>
                      <th scope="col">Title</th>
                      <th scope="col">State</th>
                      <th scope="col">Author</th>
                      <th scope="col">Updated</th>
                      <th scope="col">Repository</th>
                    </tr>
                  </thead>
                  <tbody>
                    {a.recentPullRequests.map((p) => (
                      <tr key={`${p.repository}#${p.id}`}>
                        <td>{p.id.toString()}</td>
                        <td>{p.htmlUrl ? <a href={p.htmlUrl}>{p.title}</a> : p.title}</td>
                        <td>
                          <Badge tone={p.state === "MERGED" ? "ok" : p.state === "OPEN" ? "info" : "muted"}>{p.state}</Badge>
                        </td>
                        <td>{p.author}</td>
                        <td>{when(p.updatedOn)}</td>
                        <td>{p.repository}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
          <section className="panel" aria-labelledby="commits">
            <h2 id="commits">Commits</h2>
            <p>{a.commits.toString()} commits stored</p>
            {a.recentCommits.length === 0 ? (
              <p className="empty">No commits synced.</p>
            ) : (
              <div className="table-wrap">
                <table className="list" aria-label="Recent commits">
                  <thead>
                    <tr>
                      <th scope="col">Commit</th>
                      <th scope="col">Summary</th>
                      <th scope="col">Author</th>
                      <th scope="col">Date</th>
                    </tr>
                  </thead>
                  <tbody>
                    {a.recentCommits.map((c) => (
                      <tr key={c.hash}>
                        <td>
                          <code>{c.htmlUrl ? <a href={c.htmlUrl}>{c.hash.slice(0, 10)}</a> : c.hash.slice(0, 10)}</code>
                        </td>
                        <td>{c.summary}</td>
                        <td>{c.author}</td>
                        <td>{when(c.date)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </>
      )}
      {inspecting && <Inspector entity={e} onClose={() => setInspecting(false)} />}
    </section>
  );
}

// ingested picks the two sections an integration writes out of the
// entity's YAML.
function ingested(yamlText: string): { integration: unknown; properties: unknown } {
  const doc = (parse(yamlText) ?? {}) as { metadata?: { integration?: unknown; integration_properties?: { BitbucketCloud?: unknown } } };
  return { integration: doc.metadata?.integration, properties: doc.metadata?.integration_properties?.BitbucketCloud };
}

function Inspector({ entity, onClose }: { entity: Entity; onClose: () => void }) {
  const [tab, setTab] = useState<"yaml" | "ingested">("yaml");
  const parts = tab === "ingested" ? ingested(entity.yaml) : null;
  return (
    <Dialog title="Entity Inspector" onClose={onClose} wide>
      <div className="tabs" role="tablist" aria-label="Entity Inspector">
        <button type="button" role="tab" aria-selected={tab === "yaml"} onClick={() => setTab("yaml")}>
          YAML
        </button>
        <button type="button" role="tab" aria-selected={tab === "ingested"} onClick={() => setTab("ingested")}>
          Ingested Properties
        </button>
      </div>
      <div className="dialog-body" role="tabpanel">
        {tab === "yaml" && <pre className="yaml" tabIndex={0} aria-label="Entity YAML">{entity.yaml}</pre>}
        {parts && (
          <>
            <h3>metadata.integration</h3>
            {parts.integration ? (
              <pre className="yaml" tabIndex={0} aria-label="metadata.integration">
                {stringify(parts.integration)}
              </pre>
            ) : (
              <p className="empty">No integration is linked to this entity.</p>
            )}
            <h3>integration_properties.BitbucketCloud</h3>
            {parts.properties ? (
              <pre className="yaml" tabIndex={0} aria-label="integration_properties.BitbucketCloud">
                {stringify(parts.properties)}
              </pre>
            ) : (
              <p className="empty">No Bitbucket Cloud data was ingested into this entity.</p>
            )}
          </>
        )}
      </div>
    </Dialog>
  );
}
