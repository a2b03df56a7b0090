// The Configuration tab: edit what may change, see what is locked, and the
// Danger Zone with Suspend and Resume.
import { useState, type FormEvent } from "react";
import { integrations } from "../api";
import { shown, violationsFor, type ShownError } from "../errors";
import { ForkPolicy, IntegrationState, RepositoryVisibility, type DiscoveredPreview, type Integration, type RepositoryFilter } from "../gen/idp/integration/v1/integration_pb";
import { Confirm, ErrorBox, FieldErrors } from "../ui";
import { AdvancedSection, ConnectorPicker, MappingSection, SecondaryKindsField, formOf, integrationOf, type Form } from "./integrationForm";

// The form's parts and the update_mask field each one changes.
const parts: [keyof Form, string][] = [
  ["name", "name"],
  ["connector", "connector"],
  ["behavior", "behavior"],
  ["kind", "kind"],
  ["type", "type"],
  ["rules", "correlation"],
  ["fields", "field_mappings"],
  ["frequency", "update_frequency"],
  ["startDate", "start_date"],
  ["autoImport", "auto_import"],
];

export function ConfigurationTab({ integration, onChanged }: { integration: Integration; onChanged: () => void }) {
  const original = formOf(integration);
  const [form, set] = useState(original);
  const [error, setError] = useState<ShownError | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const [danger, setDanger] = useState(false);
  const [preview, setPreview] = useState<DiscoveredPreview | null | undefined>(undefined);

  const mask = parts.filter(([k]) => JSON.stringify(form[k]) !== JSON.stringify(original[k])).map(([, f]) => f);
  // Switching to or from Merge states the type in the same change.
  if (mask.includes("behavior") && !mask.includes("type")) mask.push("type");

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await integrations.updateIntegration({ integration: integration.id, changes: integrationOf(form, false), updateMask: { paths: mask } });
      setSaved(true);
      onChanged();
    } catch (err) {
      setError(shown(err));
    } finally {
      setBusy(false);
    }
  };

  // previewChanges asks the server what the changes would do to the
  // Discovered list, without applying them.
  const previewChanges = async () => {
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const resp = await integrations.updateIntegration({ integration: integration.id, changes: integrationOf(form, false), updateMask: { paths: mask }, validateOnly: true });
      setPreview(resp.preview ?? null);
    } catch (err) {
      setError(shown(err));
    } finally {
      setBusy(false);
    }
  };

  const suspended = integration.state === IntegrationState.SUSPENDED;
  return (
    <div>
      <form onSubmit={save} noValidate>
        <section className="panel" aria-labelledby="c1">
          <h2 id="c1">Setup &amp; Connectivity</h2>
          <label>
            Integration Name
            <input value={form.name} onChange={(e) => set({ ...form, name: e.target.value })} />
            <FieldErrors violations={violationsFor(error, "integration.name")} />
          </label>
          <label>
            <span>
              Workspace <span className="lock">locked: cannot change</span>
            </span>
            <input value={integration.workspace} readOnly aria-readonly="true" />
          </label>
          <ConnectorPicker value={form.connector} onChange={(connector) => set({ ...form, connector })} error={error} />
        </section>
        <section className="panel" aria-labelledby="c2">
          <h2 id="c2">Mapping &amp; Correlation</h2>
          <MappingSection form={form} set={set} error={error} />
          <SecondaryKindsField form={form} set={set} error={error} locked />
        </section>
        <section className="panel" aria-labelledby="c3">
          <h2 id="c3">Advanced Settings</h2>
          <AdvancedSection form={form} set={set} error={error} />
          <label className="check">
            <input type="checkbox" checked={form.autoImport} onChange={(e) => set({ ...form, autoImport: e.target.checked })} /> Auto-import future discovered entities
          </label>
        </section>
        <section className="panel" aria-labelledby="c4">
          <h2 id="c4">Repository filter</h2>
          <FilterSummary filter={integration.filter} />
        </section>
        <ErrorBox error={error} title="The changes were not saved" />
        {preview !== undefined && <PreviewBox preview={preview} />}
        {saved && (
          <p className="verdict ok" role="status">
            Saved.
          </p>
        )}
        <div className="actions">
          <button type="button" disabled={mask.length === 0} onClick={() => (set(original), setError(null))}>
            Discard changes
          </button>
          <button type="button" disabled={busy || mask.length === 0} onClick={previewChanges}>
            Preview changes
          </button>
          <button type="submit" className="primary" disabled={busy || mask.length === 0}>
            {busy ? "Saving…" : "Save changes"}
          </button>
        </div>
      </form>
      <section className="panel danger-zone" aria-labelledby="dz">
        <h2 id="dz">Danger Zone</h2>
        {suspended ? (
          <p>Auto-discovery is suspended: no new repositories are discovered and imported entities are not updated. Resuming starts a sync at once.</p>
        ) : (
          <p>Suspending stops auto-discovery and sync updates. Imported entities stay in the catalog as they are.</p>
        )}
        <button type="button" className={suspended ? "primary" : "danger"} onClick={() => setDanger(true)}>
          {suspended ? "Resume" : "Suspend"}
        </button>
      </section>
      {danger && (
        <Confirm
          title={suspended ? `Resume ${integration.name}?` : `Suspend ${integration.name}?`}
          action={suspended ? "Resume" : "Suspend"}
          danger={!suspended}
          onClose={() => setDanger(false)}
          onConfirm={async () => {
            if (suspended) await integrations.resumeIntegration({ integration: integration.id });
            else await integrations.suspendIntegration({ integration: integration.id });
            onChanged();
          }}
        >
          {suspended ? (
            <p>Discovery and sync updates start again, beginning with a sync now.</p>
          ) : (
            <p>A running sync is cancelled and nothing is scheduled until you resume. New repositories will not appear in the Discovered tab.</p>
          )}
        </Confirm>
      )}
    </div>
  );
}

// FilterSummary shows the integration's repository filter, one part a line.
function FilterSummary({ filter }: { filter?: RepositoryFilter }) {
  const parts: string[] = [];
  if (filter?.includeProjects.length) parts.push(`Only projects ${filter.includeProjects.join(", ")}`);
  if (filter?.excludeProjects.length) parts.push(`Not projects ${filter.excludeProjects.join(", ")}`);
  if (filter?.includeNames.length) parts.push(`Only names matching ${filter.includeNames.join(", ")}`);
  if (filter?.excludeNames.length) parts.push(`Not names matching ${filter.excludeNames.join(", ")}`);
  if (filter?.visibility === RepositoryVisibility.PRIVATE) parts.push("Private repositories only");
  if (filter?.visibility === RepositoryVisibility.PUBLIC) parts.push("Public repositories only");
  if (filter?.forks === ForkPolicy.EXCLUDE) parts.push("No forks");
  if (filter?.forks === ForkPolicy.ONLY) parts.push("Forks only");
  if (filter?.updatedSince) parts.push(`Updated since ${new Date(Number(filter.updatedSince.seconds) * 1000).toISOString().slice(0, 10)}`);
  if (parts.length === 0) return <p>Every repository of the workspace is discovered. Set a filter with idpctl integration edit or the API.</p>;
  return (
    <ul aria-label="Repository filter">
      {parts.map((p) => (
        <li key={p}>{p}</li>
      ))}
    </ul>
  );
}

// PreviewBox shows what the unsaved changes would do to the Discovered list.
function PreviewBox({ preview }: { preview: DiscoveredPreview | null }) {
  if (preview === null) {
    return (
      <p className="verdict ok" role="status">
        These changes are valid and do not change the Discovered list.
      </p>
    );
  }
  return (
    <div className="verdict ok" role="status" aria-label="Preview">
      <strong>If saved, in the Discovered list ({preview.repositories.toString()} repositories compared):</strong>
      <ul>
        <li>Register → Merge: {preview.registerToMerge.toString()}</li>
        <li>Merge → Register: {preview.mergeToRegister.toString()}</li>
        <li>Merge into another entity: {preview.mergeTargetChanged.toString()}</li>
        <li>Nothing recommended any more: {preview.toNone.toString()}</li>
        <li>Leaving (filter): {preview.leaving.toString()}; entering: {preview.entering.toString()}</li>
      </ul>
      {preview.examples.length > 0 && (
        <ul aria-label="Examples">
          {preview.examples.map((e) => (
            <li key={e.repository}>
              {e.repository}: {e.fromAction || "none"} {e.fromEntity} → {e.toAction || "none"} {e.toEntity}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
