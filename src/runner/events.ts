/**
 * What the runner tells its view (src/report/run-view.ts renders it). The runner never prints;
 * the Human and Json views render the same notices.
 */
import type { ExitCode } from "../shared/exit-codes.js";
import type { ErrorRecord } from "./journal.js";
import type { StopReason } from "./machine.js";
import type { StepEvent } from "./step.js";
import type { Preview, Verdict } from "../model/preview.js";

export type RunMode = "run" | "resume" | "rollback";
export type ApproveMode = "yes" | "prompt" | "no";

export type RunStatus = "done" | "failed" | "interrupted" | "awaiting-approval" | "rolled-back" | "rollback-incomplete";

export interface UndoProblem {
  stepId: string;
  kind: "refused" | "failed";
  reason: string;
}

export interface RunOutcome {
  status: RunStatus;
  exitCode: ExitCode;
  runId: string;
  stateDir: string;
  journal: string;
  /** Machine state the run stopped in. */
  state: string;
  applied: string[];
  undone: string[];
  failure?: ErrorRecord & { stepId?: string };
  undoProblems: UndoProblem[];
  stop?: StopReason;
  /**
   * The exact command that continues this run (exit 3), retries a rollback that failed, or, after
   * a rollback refused past a point of no return, resumes the run (the same rollback would refuse again).
   */
  nextCommand?: string;
  /** After a refused rollback: `rollback --to` the oldest step after the refusing one (undoes only the later steps). */
  partialRollbackCommand?: string;
  /** The run report (Markdown) written beside the journal, when the verb writes one. */
  report?: string;
}

export type RunNotice =
  | { type: "run-started"; runId: string; mode: RunMode; stateDir: string; steps: { id: string; title: string }[]; restoredState?: string }
  | { type: "warning"; message: string }
  | { type: "step-started"; stepId: string; title: string; attempt: number; index: number; total: number }
  | { type: "step-progress"; stepId: string; event: StepEvent }
  | { type: "step-retry"; stepId: string; attempt: number; delayMs: number; error: ErrorRecord }
  | { type: "step-applied"; stepId: string; alreadyApplied: boolean }
  | { type: "step-verified"; stepId: string; verdict: Verdict }
  | { type: "step-failed"; stepId: string; error: ErrorRecord }
  | { type: "approval"; stepId: string; decision: "approved" | "declined" | "deferred"; by: "flag" | "prompt" | "none" }
  | { type: "undo-started"; stepId: string; title: string }
  | { type: "undone"; stepId: string }
  | { type: "undo-refused"; stepId: string; reason: string }
  | { type: "undo-failed"; stepId: string; error: ErrorRecord }
  | { type: "outcome"; outcome: RunOutcome };

export interface ApprovalRequest {
  runId: string;
  action: "apply" | "rollback";
  /** Steps this answer covers, in the order they would run. */
  steps: { id: string; title: string }[];
  /** What applying would change (inspect), when known. */
  preview?: Preview;
}

export interface RunObserver {
  notify(notice: RunNotice): void;
  /** Asks the operator; only an explicit "yes" resolves true. Resolves false when the signal aborts. */
  confirm(request: ApprovalRequest, signal: AbortSignal): Promise<boolean>;
}
