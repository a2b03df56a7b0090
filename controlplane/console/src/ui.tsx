// Shared pieces of every page: dialogs, error boxes, paging, badges, times.
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { shown, type ShownError, type Violation } from "./errors";

export function ErrorBox({ error, title }: { error: ShownError | null; title?: string }) {
  if (!error) return null;
  return (
    <div className="error-box" role="alert">
      <strong>{title ?? "Error"}</strong> <code>{error.code}</code>
      {error.reason && <code> {error.reason}</code>}
      <p>{error.message}</p>
      {error.violations.length > 0 && (
        <ul>
          {error.violations.map((v, i) => (
            <li key={i}>
              <code>{v.field}</code>: {v.description}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function FieldErrors({ violations, id }: { violations: Violation[]; id?: string }) {
  if (violations.length === 0) return null;
  return (
    <div className="field-error" id={id} role="alert">
      {violations.map((v, i) => (
        <div key={i}>{v.description}</div>
      ))}
    </div>
  );
}

// Dialog is a modal that traps focus, closes with Escape and gives focus
// back to what opened it.
export function Dialog(props: { title: string; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const el = ref.current;
    const first = el?.querySelector<HTMLElement>("input, select, textarea, button:not(.dialog-close)");
    (first ?? el)?.focus();
    return () => opener?.focus();
  }, []);
  const onKey = (e: React.KeyboardEvent) => {
    if (e.key === "Escape") {
      e.stopPropagation();
      props.onClose();
      return;
    }
    if (e.key !== "Tab" || !ref.current) return;
    const items = Array.from(
      ref.current.querySelectorAll<HTMLElement>("a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea, [tabindex='0']"),
    );
    if (items.length === 0) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
  return (
    <div className="backdrop" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <div
        className={props.wide ? "dialog wide" : "dialog"}
        role="dialog"
        aria-modal="true"
        aria-label={props.title}
        ref={ref}
        tabIndex={-1}
        onKeyDown={onKey}
      >
        <header>
          <h2>{props.title}</h2>
          <button type="button" className="dialog-close" aria-label="Close" onClick={props.onClose}>
            ×
          </button>
        </header>
        {props.children}
      </div>
    </div>
  );
}

// Confirm asks before an action and shows the action's error in place.
export function Confirm(props: {
  title: string;
  children: ReactNode;
  action: string;
  danger?: boolean;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ShownError | null>(null);
  const go = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
      props.onClose();
    } catch (e) {
      setError(shown(e));
      setBusy(false);
    }
  };
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <div className="dialog-body">{props.children}</div>
      <ErrorBox error={error} />
      <footer>
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button type="button" className={props.danger ? "danger" : "primary"} disabled={busy} onClick={go}>
          {busy ? "Working…" : props.action}
        </button>
      </footer>
    </Dialog>
  );
}

// Pages keeps the page tokens seen so far so that Previous works on
// token-paged lists.
export function usePages() {
  const [tokens, setTokens] = useState<string[]>([""]);
  const [index, setIndex] = useState(0);
  return {
    token: tokens[index],
    page: index + 1,
    reset: () => {
      setTokens([""]);
      setIndex(0);
    },
    next: (token: string) => {
      setTokens((t) => [...t.slice(0, index + 1), token]);
      setIndex((i) => i + 1);
    },
    previous: () => setIndex((i) => Math.max(0, i - 1)),
  };
}

export function Pager(props: { page: number; nextToken: string; onNext: () => void; onPrevious: () => void; total?: bigint; label: string; loading: boolean }) {
  return (
    <nav className="pager" aria-label={`${props.label} pages`}>
      <button type="button" disabled={props.page <= 1} onClick={props.onPrevious}>
        ← Previous
      </button>
      <span aria-live="polite">
        {props.loading ? "Loading page " : "Page "}
        {props.page}
        {props.total !== undefined && <> · {props.total.toString()} in all</>}
      </span>
      <button type="button" disabled={props.loading || !props.nextToken} onClick={props.onNext}>
        Next →
      </button>
    </nav>
  );
}

export function when(ts: Timestamp | undefined): string {
  if (!ts) return "—";
  return timestampDate(ts).toLocaleString();
}

// day is a date without the time, with the full time as its tooltip.
export function day(ts: Timestamp | undefined) {
  if (!ts) return "—";
  const d = timestampDate(ts);
  return <time dateTime={d.toISOString()} title={d.toLocaleString()}>{d.toLocaleDateString()}</time>;
}

export function Badge({ tone, children }: { tone: "ok" | "warn" | "bad" | "info" | "muted"; children: ReactNode }) {
  return <span className={`badge ${tone}`}>{children}</span>;
}

// useLoad runs load whenever deps change and keeps its result or error.
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ShownError | null>(null);
  const [version, setVersion] = useState(0);
  const [loading, setLoading] = useState(true);
  useEffect(() => {
    let live = true;
    setError(null);
    setLoading(true);
    load()
      .then(
        (d) => live && setData(d),
        (e) => live && setError(shown(e)),
      )
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [...deps, version]);
  const reload = useCallback(() => setVersion((v) => v + 1), []);
  return { data, error, loading, reload };
}
