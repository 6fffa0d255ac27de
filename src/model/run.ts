/**
 * What a run tells whoever watches it: the notices the runner sends its view, the outcome, and what
 * `octoha status` reads from a journal. The runner writes these; src/report renders them. The
 * runner never prints; the Human and Json views render the same notices.
 */
import type { ExitCode } from "../shared/exit-codes.js";
import type { LockInfo } from "../shared/lock.js";
import type { Preview, Verdict } from "./preview.js";

/** An error as a journal keeps it and a report shows it. */
export interface ErrorRecord {
  code: string;
  message: string;
  hint?: string;
  behaviour?: string;
  /** The exit code the error asked for (an OctohaError's exitCode), e.g. 3 for "stopped, resumable". */
  exitCode?: number;
}

/** Why a run stopped before its end (not a failure). */
export type StopReason = "signal" | "approval-declined" | "approval-needed";

/** A progress event from a step; the runner forwards it to the view (never printed by the step). */
export interface StepEvent {
  level: "info" | "warn" | "progress";
  message: string;
  data?: Record<string, unknown>;
}

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
  /** Steps this invocation undid, in order. */
  undone: string[];
  /**
   * Steps an earlier rollback of this run undid (one stopped part-way, or a `--to`) that are still
   * undone; absent when there are none. Resume re-applies them with the others.
   */
  undoneEarlier?: string[];
  failure?: ErrorRecord & { stepId?: string };
  /**
   * After a rollback `--to` a step: the steps before it that changed something and stay applied. Then
   * nextCommand resumes the run (applying the undone steps again) and rollbackCommand undoes the rest.
   */
  stillApplied?: string[];
  undoProblems: UndoProblem[];
  stop?: StopReason;
  /**
   * The exact command that continues this run (exit 3), retries a rollback that failed, or, after
   * a rollback refused past a point of no return, resumes the run (the same rollback would refuse again).
   */
  nextCommand?: string;
  /** After a refused rollback: `rollback --to` the oldest step after the refusing one (undoes only the later steps). */
  partialRollbackCommand?: string;
  /**
   * After a failed run that changed something: the rollback that undoes it, the other way out
   * beside nextCommand's resume (absent where the workflow says a rollback would refuse).
   */
  rollbackCommand?: string;
  /** After a failed or stopped run: what it left in place, in the workflow's words (e.g. every node stopped). */
  leftInPlace?: string;
  /** A failed run: another way out its workflow offers (FailedRunNotes.advice); a done one: what to do next (a finished database move). */
  advice?: string;
  /** The run report (Markdown) written beside the journal, when the verb writes one. */
  report?: string;
}

/** A run that failed: the steps it applied, and the step that failed. */
export interface FailedRun {
  applied: readonly string[];
  failedStepId?: string;
  /** A rollback that failed: the step whose undo failed (still in applied; it may have put back part of its change). */
  undoFailedStepId?: string;
  /**
   * Not failed: stopped on request (Ctrl-C) or at an approval gate. Said from the journal only: the
   * services are not read live, so stopping stays prompt when Octopus does not answer.
   */
  stopped?: boolean;
}

export interface FailedRunNotes {
  /** What the applied steps leave in place until the run is resumed or rolled back ("every node is stopped …"). */
  leftInPlace?: string;
  /** false: a rollback would refuse (past a point of no return), so only resume is offered. Default true. */
  rollback?: boolean;
  /** A way out the workflow knows of besides resume and rollback (a repair that found nothing to repair: --full). */
  advice?: string;
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

/** skipped: applied, and its result says it changed nothing (a repair with nothing to repair). */
/** "rolled-back": undone by a rollback (and not applied again since). */
export type StepState = "pending" | "in-progress" | "applied" | "skipped" | "verified" | "not-verified" | "failed" | "rolled-back";

export interface RunStatusReport {
  runId: string;
  stateDir: string;
  journal: string;
  /** Machine state of the last journaled snapshot. */
  state: string;
  outcome?: { status: string; exitCode: number };
  steps: { id: string; state: StepState; checkpoints: number; lastError?: string }[];
  lock?: LockInfo & { stale: boolean; staleReason?: string; unlockCommand: string };
  /** An unfinished run (interrupted, failed, awaiting approval, or stopped by a crash): the command that continues it. */
  continueWith?: string;
  /** Instead of continueWith while the lock's holder is alive (running, perhaps suspended): who runs, and what to do. */
  runningNow?: string;
  warnings: string[];
  otherRuns: string[];
}
