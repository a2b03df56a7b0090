// The fields of an integration shared by + New Integration and the
// Configuration tab: connector picker, mapping and correlation, advanced.
import { useState } from "react";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, timestampDate } from "@bufbuild/protobuf/wkt";
import { connectors } from "../api";
import { violationsFor, shown, type ShownError } from "../errors";
import {
  Behavior,
  Operator,
  SecondaryKind,
  UpdateFrequency,
  IntegrationSchema,
  type Integration,
} from "../gen/idp/integration/v1/integration_pb";
import { ConnectorTestStatus, type Connector, type ConnectorTest } from "../gen/idp/integration/v1/connector_pb";
import { behaviors, frequencies, kinds, operators, secondaryKinds } from "../labels";
import { Dialog, ErrorBox, FieldErrors, useLoad } from "../ui";

export type Rule = { ingestedPath: string; catalogPath: string; operator: Operator };
export type Field = { name: string; path: string };

export type Form = {
  name: string;
  connector: string;
  behavior: Behavior;
  kind: string;
  type: string;
  rules: Rule[];
  customFields: boolean;
  fields: Field[];
  secondary: SecondaryKind[];
  frequency: UpdateFrequency;
  startDate: string;
  autoImport: boolean;
};

export const newForm = (): Form => ({
  name: "",
  connector: "",
  behavior: Behavior.REGISTER_AND_MERGE,
  kind: "Component",
  type: "service",
  rules: [{ ingestedPath: "name", catalogPath: "name", operator: Operator.EQUALS }],
  customFields: false,
  fields: [],
  secondary: [SecondaryKind.PULL_REQUESTS, SecondaryKind.COMMITS],
  frequency: UpdateFrequency.UPDATE_FREQUENCY_3_HOURS,
  startDate: "",
  autoImport: false,
});

export function formOf(i: Integration): Form {
  return {
    name: i.name,
    connector: i.connector,
    behavior: i.behavior,
    kind: i.kind,
    type: i.type,
    rules: (i.correlation?.rules ?? []).map((r) => ({ ingestedPath: r.ingestedPath, catalogPath: r.catalogPath, operator: r.operator || Operator.EQUALS })),
    customFields: true,
    fields: (i.fieldMappings?.mappings ?? []).map((m) => ({ name: m.name, path: m.path })),
    secondary: i.secondaryKinds?.kinds ?? [],
    frequency: i.updateFrequency,
    startDate: i.startDate ? timestampDate(i.startDate).toISOString().slice(0, 10) : "",
    autoImport: i.autoImport,
  };
}

// integrationOf builds the API message; fields left at their defaults on
// create are sent absent so that the server applies its own defaults.
export function integrationOf(f: Form, creating: boolean): Integration {
  return create(IntegrationSchema, {
    name: f.name.trim(),
    connector: f.connector,
    behavior: f.behavior,
    kind: f.kind,
    type: f.behavior === Behavior.MERGE ? "" : f.type.trim(),
    correlation: { rules: f.rules },
    fieldMappings: !creating || f.customFields ? { mappings: f.fields } : undefined,
    secondaryKinds: { kinds: f.secondary },
    updateFrequency: f.frequency,
    startDate: f.startDate ? timestampFromDate(new Date(f.startDate + "T00:00:00Z")) : undefined,
    autoImport: f.autoImport,
  });
}

type Props = { form: Form; set: (f: Form) => void; error: ShownError | null };

function Violations({ error, field }: { error: ShownError | null; field: string }) {
  return <FieldErrors violations={violationsFor(error, field)} />;
}

export function MappingSection({ form, set, error }: Props) {
  const merge = form.behavior === Behavior.MERGE;
  const rule = (i: number, r: Partial<Rule>) => set({ ...form, rules: form.rules.map((x, j) => (j === i ? { ...x, ...r } : x)) });
  const field = (i: number, m: Partial<Field>) => set({ ...form, fields: form.fields.map((x, j) => (j === i ? { ...x, ...m } : x)) });
  return (
    <>
      <p className="hint">Entity: Repository. Bitbucket repositories become catalog entities of the kind and type chosen here.</p>
      <fieldset>
        <legend>Entity Registration Behavior</legend>
        {behaviors.map(([b, label, help]) => (
          <label key={b} className="radio">
            <input type="radio" name="behavior" checked={form.behavior === b} onChange={() => set({ ...form, behavior: b })} />
            <span>
              <strong>{label}</strong> <span className="hint">{help}</span>
            </span>
          </label>
        ))}
        <Violations error={error} field="integration.behavior" />
      </fieldset>
      <div className="row">
        <label>
          Kind
          <select value={form.kind} onChange={(e) => set({ ...form, kind: e.target.value })}>
            {kinds.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
          <Violations error={error} field="integration.kind" />
        </label>
        <label>
          Type
          <input
            value={merge ? "" : form.type}
            disabled={merge}
            placeholder={merge ? "Merged entities keep their own type" : "service"}
            onChange={(e) => set({ ...form, type: e.target.value })}
          />
          <Violations error={error} field="integration.type" />
        </label>
      </div>
      <fieldset>
        <legend>Correlation Mapping</legend>
        <p className="hint">All rows must match. With no rows, the catalog identifier is compared with the one derived from the repository slug.</p>
        <table className="rows">
          <thead>
            <tr>
              <th scope="col">Ingested Data Path (Bitbucket)</th>
              <th scope="col">Operator</th>
              <th scope="col">Catalog YAML Path</th>
              <th scope="col">
                <span className="sr-only">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {form.rules.map((r, i) => (
              <tr key={i}>
                <td>
                  <input aria-label={`Ingested path of rule ${i + 1}`} value={r.ingestedPath} onChange={(e) => rule(i, { ingestedPath: e.target.value })} />
                  <Violations error={error} field={`integration.correlation.rules[${i}].ingested_path`} />
                </td>
                <td>
                  <select aria-label={`Operator of rule ${i + 1}`} value={r.operator} onChange={(e) => rule(i, { operator: Number(e.target.value) })}>
                    {operators.map(([o, l]) => (
                      <option key={o} value={o}>
                        {l}
                      </option>
                    ))}
                  </select>
                </td>
                <td>
                  <input aria-label={`Catalog path of rule ${i + 1}`} value={r.catalogPath} onChange={(e) => rule(i, { catalogPath: e.target.value })} />
                  <Violations error={error} field={`integration.correlation.rules[${i}].catalog_path`} />
                </td>
                <td>
                  <button type="button" aria-label={`Remove rule ${i + 1}`} onClick={() => set({ ...form, rules: form.rules.filter((_, j) => j !== i) })}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="button" onClick={() => set({ ...form, rules: [...form.rules, { ingestedPath: "", catalogPath: "", operator: Operator.EQUALS }] })}>
          + Add rule
        </button>
      </fieldset>
      <fieldset>
        <legend>Configure fields (optional)</legend>
        {!form.customFields ? (
          <p>
            Default mappings are preconfigured.{" "}
            <button type="button" onClick={() => set({ ...form, customFields: true, fields: [{ name: "", path: "" }] })}>
              Configure
            </button>
          </p>
        ) : (
          <>
            <p className="hint">Each row copies a field of the Bitbucket repository JSON into integration_properties.BitbucketCloud of linked entities.</p>
            <table className="rows">
              <thead>
                <tr>
                  <th scope="col">Property name</th>
                  <th scope="col">Bitbucket path</th>
                  <th scope="col">
                    <span className="sr-only">Remove</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {form.fields.map((m, i) => (
                  <tr key={i}>
                    <td>
                      <input aria-label={`Property name ${i + 1}`} value={m.name} onChange={(e) => field(i, { name: e.target.value })} />
                      <Violations error={error} field={`integration.field_mappings.mappings[${i}].name`} />
                    </td>
                    <td>
                      <input aria-label={`Bitbucket path ${i + 1}`} value={m.path} onChange={(e) => field(i, { path: e.target.value })} />
                      <Violations error={error} field={`integration.field_mappings.mappings[${i}].path`} />
                    </td>
                    <td>
                      <button type="button" aria-label={`Remove field ${i + 1}`} onClick={() => set({ ...form, fields: form.fields.filter((_, j) => j !== i) })}>
                        Remove
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <button type="button" onClick={() => set({ ...form, fields: [...form.fields, { name: "", path: "" }] })}>
              + Add field
            </button>
          </>
        )}
      </fieldset>
    </>
  );
}

export function SecondaryKindsField({ form, set, error, locked }: Props & { locked: boolean }) {
  const toggle = (k: SecondaryKind, on: boolean) =>
    set({ ...form, secondary: on ? [...form.secondary, k].sort() : form.secondary.filter((x) => x !== k) });
  return (
    <fieldset>
      <legend>
        Configure Secondary Kinds (optional) {locked && <span className="lock">locked</span>}
      </legend>
      <div className={locked ? "hint" : "warning"} role="note">
        Secondary kinds cannot be changed later: these selections are locked once the integration is created.
      </div>
      {secondaryKinds.map(([k, label, help]) => (
        <label key={k} className="check">
          <input type="checkbox" disabled={locked} checked={form.secondary.includes(k)} onChange={(e) => toggle(k, e.target.checked)} />
          <span>
            <strong>{label}</strong> <span className="hint">{help}</span>
          </span>
        </label>
      ))}
      <Violations error={error} field="integration.secondary_kinds" />
    </fieldset>
  );
}

export function AdvancedSection({ form, set, error }: Props) {
  return (
    <div className="row">
      <label>
        Update Frequency
        <select value={form.frequency} onChange={(e) => set({ ...form, frequency: Number(e.target.value) })}>
          {frequencies.map(([f, l]) => (
            <option key={f} value={f}>
              {l}
            </option>
          ))}
        </select>
        <Violations error={error} field="integration.update_frequency" />
      </label>
      <label>
        Select start date
        <input type="date" value={form.startDate} onChange={(e) => set({ ...form, startDate: e.target.value })} />
        <Violations error={error} field="integration.start_date" />
      </label>
    </div>
  );
}

// ConnectorPicker is the "Choose Bitbucket Cloud connector" control: a
// modal listing the account's connectors, with + New Connector inline and
// a connection test for the chosen one.
export function ConnectorPicker({ value, onChange, error }: { value: string; onChange: (id: string) => void; error: ShownError | null }) {
  const list = useLoad(() => connectors.listConnectors({ pageSize: 500 }), []);
  const [open, setOpen] = useState(false);
  const chosen = list.data?.connectors.find((c) => c.id === value || c.name === value);
  return (
    <div className="field">
      <span className="label" id="connector-label">
        Bitbucket Cloud connector
      </span>
      <div className="row">
        <button type="button" aria-labelledby="connector-label connector-choice" onClick={() => setOpen(true)}>
          <span id="connector-choice">{chosen ? `${chosen.name} (${chosen.workspace})` : "Choose Bitbucket Cloud connector"}</span>
        </button>
      </div>
      <ErrorBox error={list.error} />
      <FieldErrors violations={violationsFor(error, "integration.connector")} />
      {chosen && <ConnectionTest key={chosen.id} connector={chosen} />}
      {open && (
        <ConnectorModal
          connectors={list.data?.connectors ?? []}
          value={chosen?.id ?? ""}
          onClose={() => setOpen(false)}
          onChosen={(c) => {
            onChange(c.id);
            list.reload();
            setOpen(false);
          }}
        />
      )}
    </div>
  );
}

function ConnectorModal(props: { connectors: Connector[]; value: string; onClose: () => void; onChosen: (c: Connector) => void }) {
  const [adding, setAdding] = useState(props.connectors.length === 0);
  return (
    <Dialog title="Choose Bitbucket Cloud connector" onClose={props.onClose} wide>
      <div className="dialog-body">
        {props.connectors.length === 0 && <p>No connectors yet: create one below.</p>}
        {props.connectors.length > 0 && (
          <ul className="choices" aria-label="Connectors">
            {props.connectors.map((c) => (
              <li key={c.id}>
                <button type="button" aria-pressed={c.id === props.value} onClick={() => props.onChosen(c)}>
                  <strong>{c.name}</strong> <span className="hint">{c.url}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
        {!adding ? (
          <button type="button" onClick={() => setAdding(true)}>
            + New Connector
          </button>
        ) : (
          <NewConnector onCreated={props.onChosen} />
        )}
      </div>
    </Dialog>
  );
}

function NewConnector({ onCreated }: { onCreated: (c: Connector) => void }) {
  const [c, setC] = useState({ name: "", url: "https://bitbucket.org/", tokenRef: "env:BITBUCKET_TOKEN", apiBaseUrl: "", selectors: "" });
  const [error, setError] = useState<ShownError | null>(null);
  const [busy, setBusy] = useState(false);
  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      const resp = await connectors.createConnector({
        connector: {
          name: c.name.trim(),
          url: c.url.trim(),
          username: "x-token-auth",
          tokenRef: c.tokenRef.trim(),
          apiBaseUrl: c.apiBaseUrl.trim(),
          delegateSelectors: c.selectors.split(",").map((s) => s.trim()).filter(Boolean),
        },
      });
      onCreated(resp.connector!);
    } catch (e) {
      setError(shown(e));
      setBusy(false);
    }
  };
  const v = (f: string) => <FieldErrors violations={violationsFor(error, `connector.${f}`)} />;
  return (
    <fieldset className="inline-form">
      <legend>New Bitbucket Cloud connector</legend>
      <p className="hint">Connection type HTTP, authenticated with a workspace access token (username x-token-auth).</p>
      <label>
        Connector name
        <input value={c.name} onChange={(e) => setC({ ...c, name: e.target.value })} />
        {v("name")}
      </label>
      <label>
        Bitbucket URL
        <input value={c.url} onChange={(e) => setC({ ...c, url: e.target.value })} />
        {v("url")}
      </label>
      <label>
        Access token reference
        <input value={c.tokenRef} onChange={(e) => setC({ ...c, tokenRef: e.target.value })} aria-describedby="token-ref-help" />
        <span id="token-ref-help" className="hint">
          env:NAME or file:/path, read by the delegate; the token itself never reaches the control plane.
        </span>
        {v("token_ref")}
      </label>
      <label>
        API base URL (optional)
        <input value={c.apiBaseUrl} placeholder="https://api.bitbucket.org/2.0" onChange={(e) => setC({ ...c, apiBaseUrl: e.target.value })} />
        {v("api_base_url")}
      </label>
      <label>
        Delegate selectors (optional, comma-separated)
        <input value={c.selectors} onChange={(e) => setC({ ...c, selectors: e.target.value })} />
        {v("delegate_selectors")}
      </label>
      <ErrorBox error={error} title="The connector was not created" />
      <button type="button" className="primary" disabled={busy} onClick={save}>
        {busy ? "Creating…" : "Create connector"}
      </button>
    </fieldset>
  );
}

function ConnectionTest({ connector }: { connector: Connector }) {
  const [test, setTest] = useState<ConnectorTest | null>(null);
  const [error, setError] = useState<ShownError | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setError(null);
    setTest(null);
    try {
      let t = (await connectors.testConnector({ connector: connector.id, wait: true }, { timeoutMs: 30000 })).test!;
      while (t.status === ConnectorTestStatus.PENDING || t.status === ConnectorTestStatus.RUNNING) {
        setTest(t);
        await new Promise((r) => setTimeout(r, 1000));
        t = (await connectors.getConnectorTest({ id: t.id })).test!;
      }
      setTest(t);
    } catch (e) {
      setError(shown(e));
    } finally {
      setBusy(false);
    }
  };
  const ok = test?.status === ConnectorTestStatus.SUCCEEDED;
  const done = ok || test?.status === ConnectorTestStatus.FAILED;
  return (
    <div className="connection-test">
      <button type="button" onClick={run} disabled={busy}>
        {busy ? "Testing connection…" : "Test connection"}
      </button>
      <div role="status" aria-live="polite">
        {test && !done && <p>Waiting for a delegate to run the test…</p>}
        {test && done && (
          <div className={ok ? "verdict ok" : "verdict bad"}>
            <strong>{ok ? "Connection successful" : "Connection failed"}</strong>
            <p>{test.message}</p>
            <ul>
              <li>Token {test.tokenValid ? "valid" : "not valid"}</li>
              <li>Workspace {test.workspaceReachable ? "reachable" : "not reachable"}</li>
              {test.missingScopes.length > 0 && <li>Missing scopes: {test.missingScopes.join(", ")}</li>}
            </ul>
          </div>
        )}
      </div>
      <ErrorBox error={error} title="The test did not run" />
    </div>
  );
}
