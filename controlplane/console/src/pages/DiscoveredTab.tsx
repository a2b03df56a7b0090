// The Discovered tab: repositories seen and not imported, paged by the
// server, with per-row Register/Merge choices, checkboxes, select-all across
// pages, Import selected entities and the auto-import toggle; Ignore
// selected, and the Ignored and Left-out-by-the-filter views.
import { useEffect, useState } from "react";
import { discovery } from "../api";
import { shown, type ShownError } from "../errors";
import { Behavior, type Integration } from "../gen/idp/integration/v1/integration_pb";
import { ImportAction, type DiscoveredRepository, type ImportItem, type ImportResult } from "../gen/idp/integration/v1/discovery_pb";
import { actionLabel } from "../labels";
import { Link } from "../router";
import { Badge, ErrorBox, Pager, day, useLoad, usePages } from "../ui";

const pageSize = 50;
// Imports go to the server in batches of this many items.
const batch = 500;

type Choice = { action: ImportAction; type: string; target: string; owner: string };

function defaultChoice(r: DiscoveredRepository, behavior: Behavior): Choice {
  let action = r.recommendedAction;
  if (action === ImportAction.UNSPECIFIED) action = behavior === Behavior.MERGE ? ImportAction.MERGE : ImportAction.REGISTER;
  return { action, type: r.type, target: r.suggestedEntity?.id ?? "", owner: r.owner?.owner ?? "" };
}

function allowedActions(behavior: Behavior): ImportAction[] {
  if (behavior === Behavior.REGISTER) return [ImportAction.REGISTER];
  if (behavior === Behavior.MERGE) return [ImportAction.MERGE];
  return [ImportAction.REGISTER, ImportAction.MERGE];
}

export function DiscoveredTab({ integration, refresh, onChanged }: { integration: Integration; refresh: number; onChanged: () => void }) {
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  const [action, setAction] = useState(ImportAction.UNSPECIFIED);
  const [unlinkedOnly, setUnlinkedOnly] = useState(false);
  const [view, setView] = useState<"discovered" | "ignored" | "excluded">("discovered");
  const pages = usePages();
  const [version, setVersion] = useState(0);
  const [choices, setChoices] = useState(new Map<string, Choice>());
  const [selected, setSelected] = useState(new Set<string>());
  const [allMatching, setAllMatching] = useState(false);
  const [importing, setImporting] = useState("");
  const [results, setResults] = useState<ImportResult[] | null>(null);
  const [error, setError] = useState<ShownError | null>(null);

  useEffect(() => {
    const t = setTimeout(() => setQuery(search.trim()), 300);
    return () => clearTimeout(t);
  }, [search]);

  const filter = {
    integration: integration.id, search: query, recommendedAction: action, unlinkedOnly,
    ignored: view === "ignored", excluded: view === "excluded",
  };
  const list = useLoad(
    () => discovery.listDiscovered({ ...filter, pageSize, pageToken: pages.token }),
    [integration.id, query, action, unlinkedOnly, view, pages.token, version, refresh],
  );

  // A new filter starts from the first page. Checked rows stay checked (a
  // search narrows the list to pick the next one); "all matching" meant the
  // old filter, so it ends.
  useEffect(() => {
    pages.reset();
    setAllMatching(false);
  }, [query, action, unlinkedOnly, view]);
  // Another view holds other repositories: the checks do not carry over.
  useEffect(() => setSelected(new Set()), [view]);

  const rows = list.data?.repositories ?? [];
  // Rows checked on other pages are imported with the choice made there.
  const [seen, setSeen] = useState(new Map<string, DiscoveredRepository>());
  useEffect(() => {
    if (list.data) setSeen((s) => new Map([...s, ...list.data!.repositories.map((r) => [r.repositoryUuid, r] as const)]));
  }, [list.data]);
  const total = list.data?.total ?? 0n;
  const choice = (r: DiscoveredRepository) => choices.get(r.repositoryUuid) ?? defaultChoice(r, integration.behavior);
  const choose = (r: DiscoveredRepository, c: Partial<Choice>) => setChoices(new Map(choices).set(r.repositoryUuid, { ...choice(r), ...c }));
  const isSelected = (r: DiscoveredRepository) => allMatching || selected.has(r.repositoryUuid);
  const toggle = (r: DiscoveredRepository, on: boolean) => {
    if (allMatching) {
      setAllMatching(false);
      setSelected(new Set(rows.filter((x) => x.repositoryUuid !== r.repositoryUuid).map((x) => x.repositoryUuid)));
      return;
    }
    const next = new Set(selected);
    if (on) next.add(r.repositoryUuid);
    else next.delete(r.repositoryUuid);
    setSelected(next);
  };
  const pageAllSelected = rows.length > 0 && rows.every(isSelected);
  const togglePage = (on: boolean) => {
    setAllMatching(false);
    const next = new Set(selected);
    rows.forEach((r) => (on ? next.add(r.repositoryUuid) : next.delete(r.repositoryUuid)));
    setSelected(next);
  };
  const count = allMatching ? Number(total) : selected.size;

  const item = (r: DiscoveredRepository): ImportItem => {
    const c = choice(r);
    return {
      $typeName: "idp.integration.v1.ImportItem",
      repository: r.repositoryUuid,
      action: c.action,
      type: c.action === ImportAction.REGISTER && c.type !== r.type ? c.type.trim() : "",
      targetEntity: c.action === ImportAction.MERGE && c.target !== (r.suggestedEntity?.id ?? "") ? c.target.trim() : "",
      // The suggested owner is the server's default; only another one is sent.
      owner: c.action === ImportAction.REGISTER && c.owner !== (r.owner?.owner ?? "") ? c.owner.trim() : "",
      // The action is always explicit, so there is no recommendation to compare with.
      seenAction: ImportAction.UNSPECIFIED,
      seenTargetEntity: "",
    };
  };

  // selectedItems lists what to import: the checked rows, or with
  // select-all every matching repository, read page by page.
  const selectedRows = async (): Promise<DiscoveredRepository[]> => {
    if (!allMatching) return [...selected].map((u) => seen.get(u)!);
    const out: DiscoveredRepository[] = [];
    let token = "";
    do {
      setImporting(`Reading the selection… ${out.length} of ${total}`);
      const page = await discovery.listDiscovered({ ...filter, pageSize: 1000, pageToken: token });
      out.push(...page.repositories);
      token = page.nextPageToken;
    } while (token);
    return out;
  };

  const importSelected = async () => {
    setError(null);
    setResults(null);
    try {
      const picked = await selectedRows();
      const items = picked.map(item);
      // Items name repositories by uuid; results are shown by full name.
      const names = new Map(picked.map((r) => [r.repositoryUuid, r.fullName]));
      const out: ImportResult[] = [];
      for (let i = 0; i < items.length; i += batch) {
        setImporting(`Importing… ${i} of ${items.length}`);
        const resp = await discovery.importRepositories({ integration: integration.id, items: items.slice(i, i + batch) });
        out.push(...resp.results.map((r) => ({ ...r, repository: names.get(r.repository) ?? r.repository })));
      }
      setResults(out);
      setSelected(new Set());
      setAllMatching(false);
      setVersion((v) => v + 1);
    } catch (e) {
      setError(shown(e));
    } finally {
      setImporting("");
    }
  };

  // ignoreSelected ignores (or, in the Ignored view, un-ignores) the
  // checked repositories.
  const ignoreSelected = async () => {
    setError(null);
    setResults(null);
    try {
      const picked = await selectedRows();
      const names = new Map(picked.map((r) => [r.repositoryUuid, r.fullName]));
      const repositories = picked.map((r) => r.repositoryUuid);
      const out: ImportResult[] = [];
      for (let i = 0; i < repositories.length; i += batch) {
        setImporting(`${view === "ignored" ? "Un-ignoring" : "Ignoring"}… ${i} of ${repositories.length}`);
        const req = { integration: integration.id, repositories: repositories.slice(i, i + batch), pattern: "" };
        const resp = view === "ignored" ? await discovery.unignoreRepositories(req) : await discovery.ignoreRepositories(req);
        out.push(...resp.results.map((r) => ({ $typeName: "idp.integration.v1.ImportResult" as const, repository: names.get(r.repository) ?? r.repository,
          ok: r.ok, action: ImportAction.UNSPECIFIED, reason: r.reason, message: r.message, notice: "" })));
      }
      setResults(out);
      setSelected(new Set());
      setAllMatching(false);
      setVersion((v) => v + 1);
    } catch (e) {
      setError(shown(e));
    } finally {
      setImporting("");
    }
  };

  const setAuto = async (enabled: boolean) => {
    setError(null);
    try {
      await discovery.setAutoImport({ integration: integration.id, enabled });
      onChanged();
    } catch (e) {
      setError(shown(e));
    }
  };

  const allowed = allowedActions(integration.behavior);
  const failed = results?.filter((r) => !r.ok) ?? [];

  return (
    <div>
      <div className="toolbar">
        <label className="search">
          <span className="sr-only">Search discovered repositories</span>
          <input type="search" placeholder="Search by name or slug" value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
        <label>
          Recommended action{" "}
          <select value={action} onChange={(e) => setAction(Number(e.target.value))}>
            <option value={ImportAction.UNSPECIFIED}>Any</option>
            <option value={ImportAction.REGISTER}>Register</option>
            <option value={ImportAction.MERGE}>Merge</option>
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={unlinkedOnly} onChange={(e) => setUnlinkedOnly(e.target.checked)} /> Unlinked only
        </label>
        <label>
          Show{" "}
          <select aria-label="Show" value={view} onChange={(e) => setView(e.target.value as typeof view)}>
            <option value="discovered">Discovered</option>
            <option value="ignored">Ignored</option>
            <option value="excluded">Left out by the filter</option>
          </select>
        </label>
        <label className="switch">
          <input type="checkbox" role="switch" checked={integration.autoImport} onChange={(e) => setAuto(e.target.checked)} />
          Auto-import future discovered entities
        </label>
      </div>
      <ErrorBox error={list.error} />
      {rows.length > 0 && pageAllSelected && !allMatching && total > BigInt(rows.length) && (
        <p className="select-all" role="status">
          All {rows.length} repositories on this page are selected.{" "}
          <button type="button" className="link" onClick={() => setAllMatching(true)}>
            Select all {total.toString()} matching repositories
          </button>
        </p>
      )}
      {allMatching && (
        <p className="select-all" role="status">
          All {total.toString()} matching repositories are selected.{" "}
          <button type="button" className="link" onClick={() => (setAllMatching(false), setSelected(new Set()))}>
            Clear selection
          </button>
        </p>
      )}
      <div className="table-wrap">
        <table className="list" aria-label="Discovered repositories">
          <thead>
            <tr>
              <th scope="col">
                <input type="checkbox" aria-label="Select all on this page" checked={pageAllSelected} onChange={(e) => togglePage(e.target.checked)} />
              </th>
              <th scope="col">Name</th>
              <th scope="col">Recommended action</th>
              <th scope="col">Suggested match</th>
              <th scope="col">Kind</th>
              <th scope="col">Type</th>
              <th scope="col">Suggested owner</th>
              <th scope="col">Detected</th>
              <th scope="col">Import as</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const c = choice(r);
              return (
                <tr key={r.repositoryUuid} aria-selected={isSelected(r)}>
                  <td>
                    <input type="checkbox" aria-label={`Select ${r.name}`} checked={isSelected(r)} onChange={(e) => toggle(r, e.target.checked)} />
                  </td>
                  <th scope="row" className="nowrap">
                    {r.name}
                    <div className="hint">{r.fullName}</div>
                    {r.unlinked && <Badge tone="warn">unlinked</Badge>}
                    {r.deleted && <Badge tone="bad">deleted in Bitbucket</Badge>}
                    {r.ignoredAt && <Badge tone="warn">ignored {day(r.ignoredAt)} by {r.ignoredBy}</Badge>}
                    {r.excludedReason && <div className="hint">left out: {r.excludedReason}</div>}
                  </th>
                  <td>
                    {r.recommendedAction === ImportAction.UNSPECIFIED ? <span className="hint">none: no matching entity</span> : <Badge tone="info">{actionLabel(r.recommendedAction)}</Badge>}
                    {r.recommendationNote && <div className="hint">{r.recommendationNote}</div>}
                  </td>
                  <td>{r.suggestedEntity ? <Link href={`/catalog/${encodeURIComponent(r.suggestedEntity.id)}`}>{r.suggestedEntity.name || r.suggestedEntity.identifier}</Link> : "—"}</td>
                  <td>{r.kind}</td>
                  <td>{r.type || "—"}</td>
                  <td>
                    <SuggestedOwner repo={r} />
                  </td>
                  <td>{day(r.detectedAt)}</td>
                  <td>
                    <div className="import-as">
                    <select aria-label={`Action for ${r.name}`} value={c.action} onChange={(e) => choose(r, { action: Number(e.target.value) })}>
                      {allowed.map((a) => (
                        <option key={a} value={a}>
                          {actionLabel(a)}
                        </option>
                      ))}
                    </select>
                    {c.action === ImportAction.REGISTER && (
                      <input aria-label={`Type for ${r.name}`} value={c.type} onChange={(e) => choose(r, { type: e.target.value })} />
                    )}
                    {c.action === ImportAction.REGISTER && (
                      <input aria-label={`Owner for ${r.name}`} placeholder="owner (unknown)" value={c.owner} onChange={(e) => choose(r, { owner: e.target.value })} />
                    )}
                    {c.action === ImportAction.MERGE && <MergeTarget repo={r} value={c.target} onChange={(target) => choose(r, { target })} />}
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {list.data && rows.length === 0 && (
        <p className="empty">
          {query || action || unlinkedOnly
            ? "No discovered repository matches."
            : view === "ignored"
              ? "No repository is ignored."
              : view === "excluded"
                ? "The integration's filter leaves out no repository."
                : "Nothing waits to be imported. Use Sync to look for new repositories."}
        </p>
      )}
      <Pager loading={list.loading}
        label="Discovered"
        page={pages.page}
        total={list.data?.total}
        nextToken={list.data?.nextPageToken ?? ""}
        onNext={() => pages.next(list.data!.nextPageToken)}
        onPrevious={pages.previous}
      />
      <div className="bottom-bar">
        <span>{count} selected</span>
        {view !== "excluded" && (
          <button type="button" disabled={count === 0 || importing !== ""} onClick={ignoreSelected}>
            {view === "ignored" ? "Un-ignore selected" : "Ignore selected"}
          </button>
        )}
        <button type="button" className="primary" disabled={count === 0 || importing !== "" || view !== "discovered"} onClick={importSelected}>
          {importing || "Import selected entities"}
        </button>
      </div>
      <ErrorBox error={error} title="Import" />
      {results && (
        <div className={failed.length ? "verdict bad" : "verdict ok"} role="status">
          <strong>
            {results.length - failed.length} {results.every((r) => r.action === ImportAction.UNSPECIFIED) ? "done" : "imported"}, {failed.length} failed
          </strong>
          {failed.length > 0 && (
            <ul>
              {failed.map((f, i) => (
                <li key={i}>
                  <strong>{f.repository}</strong> <code>{f.reason}</code>: {f.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}

// SuggestedOwner shows the owner the repository's CODEOWNERS file proposes
// for Register, where it comes from, or why there is none.
function SuggestedOwner({ repo }: { repo: DiscoveredRepository }) {
  const o = repo.owner;
  if (!o || repo.recommendedAction === ImportAction.MERGE) return <span className="hint">—</span>;
  if (!o.owner) return <span className="hint">{o.note}</span>;
  return (
    <>
      {o.owner}
      <div className="hint">
        {o.from} in {o.path}
      </div>
    </>
  );
}

// MergeTarget picks the entity to merge into: the correlated candidates,
// with the suggestion preselected, or any entity by id or identifier.
function MergeTarget({ repo, value, onChange }: { repo: DiscoveredRepository; value: string; onChange: (v: string) => void }) {
  const known = repo.candidates.some((c) => c.entity?.id === value);
  const [other, setOther] = useState(!known && value !== "");
  return (
    <>
      <select
        aria-label={`Merge target for ${repo.name}`}
        value={other ? "__other" : value}
        onChange={(e) => {
          if (e.target.value === "__other") {
            setOther(true);
            onChange("");
          } else {
            setOther(false);
            onChange(e.target.value);
          }
        }}
      >
        {repo.candidates.length === 0 && <option value="">No match found</option>}
        {repo.candidates.map((c) => (
          <option key={c.entity!.id} value={c.entity!.id}>
            {c.entity!.name || c.entity!.identifier} ({c.entity!.kind}/{c.entity!.identifier}){c.exact ? "" : " ~"}
          </option>
        ))}
        <option value="__other">Other entity…</option>
      </select>
      {other && <input aria-label={`Merge target entity for ${repo.name}`} placeholder="entity id or identifier" value={value} onChange={(e) => onChange(e.target.value)} />}
    </>
  );
}
