// The Catalog: entities with filters by kind, type, scope and a search,
// paged by the server.
import { useEffect, useState } from "react";
import { catalog } from "../api";
import { kinds } from "../labels";
import { Link } from "../router";
import { Badge, ErrorBox, Pager, useLoad, usePages, when } from "../ui";

export function CatalogList() {
  const [search, setSearch] = useState("");
  const [filters, setFilters] = useState({ search: "", kind: "", type: "", scope: "" });
  const pages = usePages();
  useEffect(() => {
    const t = setTimeout(() => setFilters((f) => (f.search === search.trim() ? f : { ...f, search: search.trim() })), 300);
    return () => clearTimeout(t);
  }, [search]);
  useEffect(() => pages.reset(), [filters]);
  const list = useLoad(() => catalog.listEntities({ ...filters, pageSize: 50, pageToken: pages.token }), [filters, pages.token]);
  return (
    <section>
      <header className="page-head">
        <h1>Catalog</h1>
      </header>
      <div className="toolbar">
        <label className="search">
          <span className="sr-only">Search entities</span>
          <input type="search" placeholder="Search by name or identifier" value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
        <label>
          Kind{" "}
          <select value={filters.kind} onChange={(e) => setFilters({ ...filters, kind: e.target.value })}>
            <option value="">Any</option>
            {kinds.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label>
          Type <input value={filters.type} size={10} onChange={(e) => setFilters({ ...filters, type: e.target.value.trim() })} />
        </label>
        <label>
          Scope <input value={filters.scope} size={12} placeholder="account" onChange={(e) => setFilters({ ...filters, scope: e.target.value.trim() })} />
        </label>
      </div>
      <ErrorBox error={list.error} />
      <div className="table-wrap">
        <table className="list" aria-label="Catalog entities">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Type</th>
              <th scope="col">Owner</th>
              <th scope="col">Scope</th>
              <th scope="col">Lifecycle</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.data?.entities.map((e) => (
              <tr key={e.id}>
                <th scope="row">
                  <Link href={`/catalog/${encodeURIComponent(e.id)}`}>{e.name || e.identifier}</Link>
                  <div className="hint">{e.identifier}</div>
                  {e.linkedIntegrations.length > 0 && <Badge tone="info">Bitbucket Cloud</Badge>}
                  {e.sourceDeleted && <Badge tone="bad">source deleted</Badge>}
                </th>
                <td>{e.kind}</td>
                <td>{e.type}</td>
                <td>{e.owner}</td>
                <td>{e.scope}</td>
                <td>{e.lifecycle}</td>
                <td>{when(e.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {list.data?.entities.length === 0 && <p className="empty">No entity matches.</p>}
      <Pager loading={list.loading} label="Catalog" page={pages.page} total={list.data?.total} nextToken={list.data?.nextPageToken ?? ""} onNext={() => pages.next(list.data!.nextPageToken)} onPrevious={pages.previous} />
    </section>
  );
}
