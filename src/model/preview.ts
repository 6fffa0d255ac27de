/**
 * What a step says before it acts (inspect) and after (verify): the vocabulary shared by the plan
 * checks, the steps, the runner and the reports.
 */

/** What kind of change a preview line describes (Terraform's closed Action set). */
export type ChangeAction = "noop" | "create" | "update" | "delete" | "copy";

export interface Change {
  action: ChangeAction;
  /** The thing changed: "maintenance mode", "node OCTO1 drain flag", "\\\\fs01\\OctopusShared\\TaskLogs". */
  target: string;
  before?: unknown;
  after?: unknown;
  /** One line a human reads in the dry-run report. */
  summary: string;
  /** Bytes and files this change moves, when it is a copy. */
  bytes?: number;
  files?: number;
}

export type Severity = "error" | "warning" | "info";

/** A preflight or inspection finding: what, why, and the fix. Errors block a run. */
export interface Finding {
  severity: Severity;
  code: string;
  summary: string;
  detail?: string;
  fix?: string;
  node?: string;
  path?: string;
}

export interface Preview {
  changes: Change[];
  findings: Finding[];
  /** Step-specific facts for the report (free-form, JSON-safe, secrets redacted by the reporter). */
  facts?: Record<string, unknown>;
}

export interface Verdict {
  ok: boolean;
  summary: string;
  problems?: string[];
}
