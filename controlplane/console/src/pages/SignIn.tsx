// Sign-in: an API key is exchanged for a server-side session; the key is
// never stored in the browser.
import { useState, type FormEvent } from "react";
import { signIn, type Session } from "../api";
import { shown, type ShownError } from "../errors";
import { ErrorBox } from "../ui";

export function SignIn({ onSignedIn, expired }: { onSignedIn: (s: Session) => void; expired: boolean }) {
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ShownError | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(key.trim()));
    } catch (err) {
      setError(shown(err));
      setBusy(false);
    }
  };
  return (
    <main className="signin" id="main">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to the Internal Developer Portal</h1>
        {expired && !error && <p className="hint">Your session ended. Sign in again to continue.</p>}
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          placeholder="idp_ak_…"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-describedby="api-key-help"
          required
          autoFocus
        />
        <p id="api-key-help" className="hint">
          Create one with <code>controlplane admin api-key create</code>. It is exchanged for a session cookie and not kept in the browser.
        </p>
        <ErrorBox error={error} title="Sign-in failed" />
        <button type="submit" className="primary" disabled={busy || key.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
