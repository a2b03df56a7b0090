// + New Integration: the Auto Discover Bitbucket Cloud Integration page with
// its three sections and the Confirm & Enable dialog.
import { useState, type FormEvent } from "react";
import { integrations } from "../api";
import { shown, violationsFor, type ShownError } from "../errors";
import { Behavior } from "../gen/idp/integration/v1/integration_pb";
import { behaviorLabel, frequencies, secondaryKinds } from "../labels";
import { navigate, Link } from "../router";
import { Dialog, ErrorBox, FieldErrors } from "../ui";
import { AdvancedSection, ConnectorPicker, MappingSection, SecondaryKindsField, integrationOf, newForm } from "./integrationForm";

export function NewIntegration() {
  const [form, set] = useState(newForm);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ShownError | null>(null);

  const review = (e: FormEvent) => {
    e.preventDefault();
    setConfirming(true);
  };
  const enable = async () => {
    setBusy(true);
    setError(null);
    try {
      const resp = await integrations.createIntegration({ integration: integrationOf(form, true) });
      navigate(`/integrations/${encodeURIComponent(resp.integration!.id)}/discovered`);
    } catch (e) {
      setError(shown(e));
      setConfirming(false);
      setBusy(false);
    }
  };

  return (
    <section>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/integrations">Integrations</Link> / New
      </nav>
      <h1>Auto Discover Bitbucket Cloud Integration</h1>
      <form onSubmit={review} noValidate>
        <section className="panel" aria-labelledby="s1">
          <h2 id="s1">1. Setup &amp; Connectivity</h2>
          <label>
            Integration Name
            <input value={form.name} placeholder="Bitbucket PreQA Workspace" onChange={(e) => set({ ...form, name: e.target.value })} />
            <FieldErrors violations={violationsFor(error, "integration.name")} />
          </label>
          <ConnectorPicker
            value={form.connector}
            onChange={(connector) => {
              set({ ...form, connector });
              setError(null);
            }}
            error={error}
          />
          <FieldErrors violations={violationsFor(error, "integration.workspace")} />
        </section>
        <section className="panel" aria-labelledby="s2">
          <h2 id="s2">2. Mapping &amp; Correlation</h2>
          <MappingSection form={form} set={set} error={error} />
          <SecondaryKindsField form={form} set={set} error={error} locked={false} />
        </section>
        <section className="panel" aria-labelledby="s3">
          <h2 id="s3">3. Advanced Settings</h2>
          <AdvancedSection form={form} set={set} error={error} />
        </section>
        <ErrorBox error={error} title="The integration was not created" />
        <div className="actions">
          <Link className="button" href="/integrations">
            Cancel
          </Link>
          <button type="submit" className="primary">
            Confirm &amp; Enable
          </button>
        </div>
      </form>
      {confirming && (
        <Dialog title="Enable this integration?" onClose={() => setConfirming(false)}>
          <div className="dialog-body">
            <dl className="summary">
              <dt>Name</dt>
              <dd>{form.name || "—"}</dd>
              <dt>Behavior</dt>
              <dd>{behaviorLabel(form.behavior)}</dd>
              <dt>Kind / type</dt>
              <dd>
                {form.kind} / {form.behavior === Behavior.MERGE ? "kept from the merged entity" : form.type}
              </dd>
              <dt>Secondary kinds</dt>
              <dd>{secondaryKinds.filter(([k]) => form.secondary.includes(k)).map(([, l]) => l).join(", ") || "none"}</dd>
              <dt>Update frequency</dt>
              <dd>{frequencies.find(([f]) => f === form.frequency)?.[1]}</dd>
            </dl>
            <p className="warning">Secondary kinds cannot be changed after this. The first sync starts at once.</p>
          </div>
          <footer>
            <button type="button" onClick={() => setConfirming(false)}>
              Back
            </button>
            <button type="button" className="primary" disabled={busy} onClick={enable}>
              {busy ? "Enabling…" : "Confirm & Enable"}
            </button>
          </footer>
        </Dialog>
      )}
    </section>
  );
}
