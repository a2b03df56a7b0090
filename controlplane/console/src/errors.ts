// Errors as the server words them: the Connect code and message, the
// google.rpc.BadRequest field violations (field, rule) and the
// google.rpc.ErrorInfo reason. The two detail messages are decoded here by
// their wire layout, which google.rpc fixes, rather than by generating all
// of googleapis into the console.
import { ConnectError, Code } from "@connectrpc/connect";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { SessionError } from "./api";

export type Violation = { field: string; description: string };

export type ShownError = {
  code: string;
  message: string;
  reason: string;
  violations: Violation[];
};

type RawDetail = { type: string; value: Uint8Array };

function readBadRequest(bytes: Uint8Array): Violation[] {
  const out: Violation[] = [];
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no !== 1 || wt !== WireType.LengthDelimited) {
      r.skip(wt);
      continue;
    }
    const v = new BinaryReader(r.bytes());
    const item: Violation = { field: "", description: "" };
    while (v.pos < v.len) {
      const [f, w] = v.tag();
      if (f === 1 && w === WireType.LengthDelimited) item.field = v.string();
      else if (f === 2 && w === WireType.LengthDelimited) item.description = v.string();
      else v.skip(w);
    }
    out.push(item);
  }
  return out;
}

function readErrorInfoReason(bytes: Uint8Array): string {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) return r.string();
    r.skip(wt);
  }
  return "";
}

const codeNames: Record<number, string> = Object.fromEntries(
  Object.entries(Code)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase()]),
);

// shown turns anything thrown by a call into what the page displays.
export function shown(e: unknown): ShownError {
  if (e instanceof ConnectError && e.code === Code.Unknown && e.cause instanceof TypeError) {
    // fetch itself failed: no answer at all, not an answer saying no.
    return {
      code: "unavailable",
      message: `the control plane did not answer (${e.rawMessage}): check that it is running and reachable, then try again`,
      reason: "",
      violations: [],
    };
  }
  if (e instanceof ConnectError) {
    const out: ShownError = { code: codeNames[e.code] ?? String(e.code), message: e.rawMessage, reason: "", violations: [] };
    for (const d of e.details as RawDetail[]) {
      if (!("value" in d) || !(d.value instanceof Uint8Array)) continue;
      if (d.type === "google.rpc.BadRequest") out.violations.push(...readBadRequest(d.value));
      else if (d.type === "google.rpc.ErrorInfo") out.reason = readErrorInfoReason(d.value);
    }
    return out;
  }
  if (e instanceof SessionError) return { code: e.code, message: e.message, reason: e.reason, violations: [] };
  return { code: "unknown", message: e instanceof Error ? e.message : String(e), reason: "", violations: [] };
}

// violationFor returns the violations of one field and of its sub-fields
// ("integration.correlation.rules[0]" covers ".ingested_path").
export function violationsFor(err: ShownError | null, field: string): Violation[] {
  if (!err) return [];
  return err.violations.filter((v) => v.field === field || v.field.startsWith(field + ".") || v.field.startsWith(field + "["));
}
