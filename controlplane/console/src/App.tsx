// The console shell: the session gate, the navigation and the page routes.
import { useEffect, useState } from "react";
import { currentSession, setSession, signOut, whenSessionLost, type Session } from "./api";
import { shown, type ShownError } from "./errors";
import { Link, navigate, usePath } from "./router";
import { ErrorBox } from "./ui";
import { SignIn } from "./pages/SignIn";
import { Integrations } from "./pages/Integrations";
import { NewIntegration } from "./pages/NewIntegration";
import { IntegrationPage } from "./pages/IntegrationPage";
import { CatalogList } from "./pages/CatalogList";
import { EntityPage } from "./pages/EntityPage";

export function App() {
  const [session, setState] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState<ShownError | null>(null);
  const path = usePath();

  const adopt = (s: Session | null) => {
    setSession(s);
    setState(s);
  };

  useEffect(() => {
    currentSession().then(adopt, (e) => setError(shown(e)));
    whenSessionLost(() => adopt(null));
  }, []);

  if (error) return <ErrorBox error={error} title="The control plane cannot be reached" />;
  if (session === undefined) return <p className="loading">Loading…</p>;
  if (session === null) return <SignIn onSignedIn={adopt} expired={path !== "/" && path !== "/signin"} />;

  const out = async () => {
    try {
      await signOut();
    } finally {
      adopt(null);
      navigate("/", true);
    }
  };

  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <nav className="sidebar" aria-label="Main">
        <div className="brand">Internal Developer Portal</div>
        <Link href="/integrations" aria-current={path.startsWith("/integrations") ? "page" : undefined}>
          Integrations
        </Link>
        <Link href="/catalog" aria-current={path.startsWith("/catalog") ? "page" : undefined}>
          Catalog
        </Link>
        <div className="account">
          <span>
            Account <strong>{session.accountId}</strong>
            {session.keyName && <> as key {session.keyName}</>}
          </span>
          <button type="button" onClick={out}>
            Sign out
          </button>
        </div>
      </nav>
      <main id="main">
        <Route path={path} canEdit={session.permissions?.includes("IDP_INTEGRATION_EDIT") ?? true} />
      </main>
    </div>
  );
}

function Route({ path, canEdit }: { path: string; canEdit: boolean }) {
  const p = path.split("?")[0].replace(/\/+$/, "");
  let m: RegExpMatchArray | null;
  if (p === "" || p === "/integrations") return <Integrations canEdit={canEdit} />;
  if (p === "/integrations/new") return <NewIntegration />;
  if ((m = p.match(/^\/integrations\/([^/]+)(?:\/([a-z]+))?$/))) return <IntegrationPage id={decodeURIComponent(m[1])} tab={m[2] ?? "discovered"} />;
  if (p === "/catalog") return <CatalogList />;
  if ((m = p.match(/^\/catalog\/([^/]+)$/))) return <EntityPage id={decodeURIComponent(m[1])} />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        Nothing lives at <code>{p}</code>. <Link href="/integrations">Go to Integrations</Link>.
      </p>
    </section>
  );
}
