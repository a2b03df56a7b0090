// The Imported tab: repositories linked to catalog entities, with the
// three-dot menu's Unlink.
import { useEffect, useRef, useState } from "react";
import { discovery } from "../api";
import type { Integration } from "../gen/idp/integration/v1/integration_pb";
import type { ImportedRepository } from "../gen/idp/integration/v1/discovery_pb";
import { importStatusLabel } from "../labels";
import { Link } from "../router";
import { Badge, Confirm, ErrorBox, Pager, useLoad, usePages, when } from "../ui";

export function ImportedTab({ integration, refresh }: { integration: Integration; refresh: number }) {
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  const pages = usePages();
  const [version, setVersion] = useState(0);
  const [unlinking, setUnlinking] = useState<ImportedRepository | null>(null);
  const [notice, setNotice] = useState("");
  useEffect(() => {
    const t = setTimeout(() => setQuery(search.trim()), 300);
    return () => clearTimeout(t);
  }, [search]);
  const list = useLoad(
    () => discovery.listImported({ integration: integration.id, search: query, pageSize: 50, pageToken: pages.token }),
    [integration.id, query, pages.token, version, refresh],
  );
  const rows = list.data?.repositories ?? [];
  return (
    <div>
      <div className="toolbar">
        <label className="search">
          <span className="sr-only">Search imported repositories</span>
          <input type="search" placeholder="Search by name" value={search} onChange={(e) => (setSearch(e.target.value), pages.reset())} />
        </label>
      </div>
      <ErrorBox error={list.error} />
      {notice && (
        <p className="verdict ok" role="status">
          {notice}
        </p>
      )}
      <div className="table-wrap">
        <table className="list" aria-label="Imported repositories">
          <thead>
            <tr>
              <th scope="col">Bitbucket Cloud Entity</th>
              <th scope="col">Entity</th>
              <th scope="col">Kind</th>
              <th scope="col">Type</th>
              <th scope="col">Scope</th>
              <th scope="col">Imported At</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.repositoryUuid}>
                <th scope="row">
                  {r.name} <Badge tone="ok">{importStatusLabel(r.status)}</Badge>
                  {r.automatic && <Badge tone="muted">auto</Badge>}
                  {r.deleted && <Badge tone="bad">deleted in Bitbucket</Badge>}
                  <div className="hint">{r.fullName}</div>
                </th>
                <td>
                  {r.entity && (
                    <>
                      <Link href={`/catalog/${encodeURIComponent(r.entity.id)}`}>{r.entity.name || r.entity.identifier}</Link>
                      <div className="hint">{r.entity.identifier}</div>
                    </>
                  )}
                </td>
                <td>{r.entity?.kind}</td>
                <td>{r.entity?.type}</td>
                <td>{r.entity?.scope}</td>
                <td>{when(r.importedAt)}</td>
                <td>
                  <RowMenu name={r.name} onUnlink={() => setUnlinking(r)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {list.data && rows.length === 0 && <p className="empty">{query ? "No imported repository matches." : "Nothing imported yet."}</p>}
      <Pager loading={list.loading} label="Imported" page={pages.page} total={list.data?.total} nextToken={list.data?.nextPageToken ?? ""} onNext={() => pages.next(list.data!.nextPageToken)} onPrevious={pages.previous} />
      {unlinking && (
        <Confirm
          title={`Unlink ${unlinking.name}?`}
          action="Unlink"
          danger
          onClose={() => setUnlinking(null)}
          onConfirm={async () => {
            await discovery.unlinkRepository({ integration: integration.id, repository: unlinking.repositoryUuid });
            setNotice(`${unlinking.name} was unlinked; it is back in the Discovered tab.`);
            setVersion((v) => v + 1);
          }}
        >
          <p>
            Sync updates from <strong>{unlinking.fullName}</strong> stop. The catalog entity <strong>{unlinking.entity?.identifier}</strong> and its data stay as they are. The
            repository returns to the Discovered tab and is never imported automatically again.
          </p>
        </Confirm>
      )}
    </div>
  );
}

// RowMenu is the three-dot menu of a row: a menu button whose items are
// reached with the arrow keys and closed with Escape.
function RowMenu({ name, onUnlink }: { name: string; onUnlink: () => void }) {
  const [open, setOpen] = useState(false);
  const first = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (open) first.current?.focus();
  }, [open]);
  return (
    <div className="menu" onKeyDown={(e) => e.key === "Escape" && setOpen(false)}>
      <button type="button" aria-haspopup="menu" aria-expanded={open} aria-label={`Actions for ${name}`} onClick={() => setOpen(!open)}>
        ⋮
      </button>
      {open && (
        <div role="menu" onBlur={(e) => !e.currentTarget.contains(e.relatedTarget) && setOpen(false)}>
          <button
            type="button"
            role="menuitem"
            ref={first}
            onClick={() => {
              setOpen(false);
              onUnlink();
            }}
          >
            Unlink
          </button>
        </div>
      )}
    </div>
  );
}
