// The Configuration tab: edit what may change, see what is locked, and the
// Danger Zone with Suspend and Resume.
import { useState, type FormEvent } from "react";
import { integrations } from "../api";
import { shown, violationsFor, type ShownError } from "../errors";
import { IntegrationState, type Integration } from "../gen/idp/integration/v1/integration_pb";
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
        <ErrorBox error={error} title="The changes were not saved" />
        {saved && (
          <p className="verdict ok" role="status">
            Saved.
          </p>
        )}
        <div className="actions">
          <button type="button" disabled={mask.length === 0} onClick={() => (set(original), setError(null))}>
            Discard changes
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
