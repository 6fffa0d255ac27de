/**
 * The step contract (design.md, "Steps"). A step is a plain object; the runner knows nothing about
 * Octopus. Every method receives a StepContext: the only way a step reports progress, saves a
 * checkpoint, or learns it should stop.
 */
import type { Preview, Verdict } from "../model/preview.js";
import type { StepEvent } from "../model/run.js";

export interface StepContext {
  readonly runId: string;
  readonly stepId: string;
  /** Aborted on SIGINT/SIGTERM: finish or abandon in-flight work, checkpoint, return or throw. */
  readonly signal: AbortSignal;
  /** Persist progress; resolves only once it is on disk (fsync'd). Must be JSON-safe. */
  checkpoint(data: unknown): Promise<void>;
  emit(event: StepEvent): void;
  /** Milliseconds since epoch; tests may pass a fake clock. */
  now(): number;
}

/** Retry/timeout/failure policy of one step; the runner applies it. */
export interface StepPolicy {
  /** Attempts for errors marked retryable (including the first). Default 3. */
  attempts?: number;
  /** First backoff in ms; doubles each time. Default 1000. */
  backoffMs?: number;
  /**
   * Time budget for retrying, opened by the step's first retryable failure: no retry inside the step
   * (of the step itself or of a REST request, SQL query or file operation) sleeps past it. Default 60 s.
   */
  retryWindowMs?: number;
  /** Per-attempt timeout in ms; none when absent. */
  timeoutMs?: number;
  /** What to do when the step fails for good. Default "stop". */
  onFailure?: "stop" | "rollback";
}

/**
 * Thrown by rollback() when undoing would be unsafe (past the point of no return), with the reason.
 * The runner reports it and does not pretend the system is clean.
 */
export class RollbackRefused extends Error {
  constructor(
    readonly stepId: string,
    readonly reason: string,
  ) {
    super(`Cannot roll back step ${stepId}: ${reason}`);
    this.name = "RollbackRefused";
  }
}

export interface Step<C = unknown, Id extends string = string> {
  readonly id: Id;
  readonly title: string;
  /** Ask the operator before apply (passed with --yes / --no-prompt). */
  readonly requiresApproval?: boolean;
  /**
   * Changes nothing anywhere (preflight, verify-*): its checkpoints and results are facts, not
   * changes, so a run that stopped having run only read-only steps leaves nothing to resume or undo.
   */
  readonly readOnly?: boolean;
  /**
   * Why this step will change nothing in this run, once an earlier step of it has found so (a
   * repair of a cluster that needs none): then no approval is asked for it. Undefined: it may act.
   */
  skippedBecause?(): string | undefined;
  /**
   * True when this result records that the step changed nothing (it was skipped). Asked once, as the
   * result is journaled (`changedNothing` on its record): a run whose other steps were read-only then
   * changed nothing either, and a rollback has nothing of it to undo.
   */
  changedNothing?(result: C): boolean;
  readonly policy?: StepPolicy;
  /** Read-only: what would change and why. Never writes anything. */
  inspect(ctx: StepContext): Promise<Preview>;
  /** Idempotent. First checkpoint records the before-state. `last` is the last checkpoint saved (resume). */
  apply(ctx: StepContext, last: C | undefined): Promise<C>;
  /** Proves the effect against reality. */
  verify(ctx: StepContext, result: C): Promise<Verdict>;
  /** Restores the recorded before-state; throws RollbackRefused past the point of no return. */
  rollback(ctx: StepContext, result: C): Promise<void>;
  /**
   * Read-only: why this step's rollback would refuse right now, or undefined when it would not.
   * The runner asks every step of a rollback before undoing any of them, so a rollback past a point
   * of no return refuses up front instead of undoing the newer steps and stopping half-way.
   */
  rollbackRefusal?(ctx: StepContext, result: C): Promise<string | undefined>;
}
