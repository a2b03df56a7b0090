// Words the pages use for the API's enums, as the reference screens say them.
import { Behavior, IntegrationState, IntegrationWebhookState, Operator, SecondaryKind, SyncStatus, SyncTrigger, UpdateFrequency, EventType } from "./gen/idp/integration/v1/integration_pb";
import { ImportAction, ImportStatus } from "./gen/idp/integration/v1/discovery_pb";

export const behaviors: [Behavior, string, string][] = [
  [Behavior.REGISTER_AND_MERGE, "Register & Merge (Default)", "Registers new entities and updates existing ones when a match is found."],
  [Behavior.REGISTER, "Register", "Creates new catalog entities. Does not merge with existing entities."],
  [Behavior.MERGE, "Merge", "Links discovered repositories to existing catalog entities only."],
];

export function behaviorLabel(b: Behavior): string {
  return behaviors.find(([v]) => v === b)?.[1].replace(" (Default)", "") ?? "—";
}

export const operators: [Operator, string][] = [
  [Operator.EQUALS, "Equals"],
  [Operator.CONTAINS, "Contains"],
];

export const frequencies: [UpdateFrequency, string][] = [
  [UpdateFrequency.UPDATE_FREQUENCY_30_MINUTES, "30 minutes"],
  [UpdateFrequency.UPDATE_FREQUENCY_1_HOUR, "1 hour"],
  [UpdateFrequency.UPDATE_FREQUENCY_3_HOURS, "3 hours (default)"],
  [UpdateFrequency.UPDATE_FREQUENCY_6_HOURS, "6 hours"],
  [UpdateFrequency.UPDATE_FREQUENCY_12_HOURS, "12 hours"],
  [UpdateFrequency.UPDATE_FREQUENCY_1_DAY, "1 day"],
];

export const secondaryKinds: [SecondaryKind, string, string][] = [
  [SecondaryKind.PULL_REQUESTS, "Pull Requests", "Open, merged and declined pull requests: the 50 most recently updated per repository on the first sync, at most 5,000 per sync."],
  [SecondaryKind.COMMITS, "Commits", "Commit history of the default branch: the 50 most recent per repository on the first sync, at most 5,000 per sync."],
];

// The catalog's built-in kinds, as the server accepts them.
export const kinds = ["Component", "API", "Resource", "System", "Group", "User", "Workflow", "Environment", "Hierarchy", "aiasset"];

export function stateLabel(s: IntegrationState): string {
  return s === IntegrationState.ENABLED ? "Enabled" : s === IntegrationState.SUSPENDED ? "Suspended" : "—";
}

// webhookLabel names a webhook state; only "active" brings changes in seconds.
export function webhookLabel(s: IntegrationWebhookState): string {
  switch (s) {
    case IntegrationWebhookState.ACTIVE:
      return "active";
    case IntegrationWebhookState.PENDING:
      return "pending (the next sync registers it)";
    case IntegrationWebhookState.INACTIVE:
      return "inactive";
    case IntegrationWebhookState.MISSING_SCOPE:
      return "off: the token lacks the webhook scope";
    case IntegrationWebhookState.NOT_OWNER:
      return "off: not a workspace owner";
    case IntegrationWebhookState.FAILED:
      return "off: registration failed";
    case IntegrationWebhookState.NOT_CONFIGURED:
      return "off: no public address";
    default:
      return "—";
  }
}

export function actionLabel(a: ImportAction): string {
  return a === ImportAction.REGISTER ? "Register" : a === ImportAction.MERGE ? "Merge" : "None";
}

export function importStatusLabel(s: ImportStatus): string {
  return s === ImportStatus.REGISTERED ? "Registered" : s === ImportStatus.MERGED ? "Merged" : "—";
}

export function syncStatusLabel(s: SyncStatus): string {
  return SyncStatus[s]?.toLowerCase() ?? "—";
}

export function syncTone(s: SyncStatus): "ok" | "warn" | "bad" | "info" | "muted" {
  switch (s) {
    case SyncStatus.SUCCESS:
      return "ok";
    case SyncStatus.PARTIAL:
      return "warn";
    case SyncStatus.FAILED:
      return "bad";
    case SyncStatus.QUEUED:
    case SyncStatus.RUNNING:
      return "info";
    default:
      return "muted";
  }
}

export function isActive(s: SyncStatus): boolean {
  return s === SyncStatus.QUEUED || s === SyncStatus.RUNNING;
}

export function triggerLabel(t: SyncTrigger): string {
  return SyncTrigger[t]?.toLowerCase() ?? "—";
}

export function eventLabel(t: EventType): string {
  return (EventType[t] ?? "—").toLowerCase().replace(/_/g, " ");
}
