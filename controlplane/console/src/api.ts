// The console's only way to the control plane: the management API over
// Connect (JSON) under /api, authenticated by the server-side session cookie
// plus the session's CSRF token, and the session endpoints under
// /console/session.
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { ConnectorService } from "./gen/idp/integration/v1/connector_pb";
import { IntegrationService } from "./gen/idp/integration/v1/integration_pb";
import { DiscoveryService } from "./gen/idp/integration/v1/discovery_pb";
import { CatalogService } from "./gen/idp/catalog/v1/catalog_pb";

export type Session = { csrfToken: string; accountId: string; keyName?: string; permissions?: string[]; expiresAt: string };

let csrfToken = "";
let onSessionLost: () => void = () => {};

// setSession keeps the CSRF token in memory only: it is not a credential on
// its own (the cookie is HttpOnly) and is fetched again on reload.
export function setSession(s: Session | null) {
  csrfToken = s?.csrfToken ?? "";
}

// whenSessionLost registers what to do when the server answers 401 to an
// API call: the session expired or was revoked.
export function whenSessionLost(f: () => void) {
  onSessionLost = f;
}

const csrf: Interceptor = (next) => async (req) => {
  if (csrfToken) req.header.set("X-CSRF-Token", csrfToken);
  try {
    return await next(req);
  } catch (e) {
    if (e instanceof Error && "code" in e && (e as { code: number }).code === 16) onSessionLost();
    throw e;
  }
};

const transport = createConnectTransport({
  baseUrl: "/api",
  useBinaryFormat: false,
  interceptors: [csrf],
  fetch: (input, init) => fetch(input, { ...init, credentials: "same-origin" }),
});

export const connectors = createClient(ConnectorService, transport);
export const integrations = createClient(IntegrationService, transport);
export const discovery = createClient(DiscoveryService, transport);
export const catalog = createClient(CatalogService, transport);

// SessionError is a failed session call with the server's own words.
export class SessionError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly reason = "",
  ) {
    super(message);
  }
}

async function sessionCall(method: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const resp = await fetch("/console/session", {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!resp.ok) {
    let code = "unknown";
    let message = `${resp.status} ${resp.statusText}`;
    let reason = "";
    try {
      const j = await resp.json();
      code = j.code ?? code;
      message = j.message ?? message;
      reason = j.details?.find((d: { type?: string }) => d.type === "google.rpc.ErrorInfo")?.debug?.reason ?? "";
    } catch {
      // Not a Connect error body: keep the HTTP status as the message.
    }
    throw new SessionError(resp.status, code, message, reason);
  }
  return resp;
}

// currentSession returns the session of the cookie, or null without one.
export async function currentSession(): Promise<Session | null> {
  try {
    return (await (await sessionCall("GET")).json()) as Session;
  } catch (e) {
    if (e instanceof SessionError && e.status === 401) return null;
    throw e;
  }
}

export async function signIn(apiKey: string): Promise<Session> {
  return (await (await sessionCall("POST", { apiKey })).json()) as Session;
}

export async function signOut(): Promise<void> {
  await sessionCall("DELETE");
}
