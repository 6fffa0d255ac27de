/**
 * The plain functions behind the machine's actors: apply+verify one step under its policy, ask
 * for approval, undo the newest applied step. They talk to the journal and the view, never print.
 */
import type { Clock } from "../shared/clock.js";
import { isRetryable, OctohaError } from "../shared/errors.js";
import { retry, RETRY_BUDGETS, RetryWindow, withinRetryWindow } from "../shared/retry.js";
import type { ApproveMode, ErrorRecord, RunObserver } from "../model/run.js";
import type { JournalWriter, StepRecord } from "./journal.js";
import {
  errorRecord,
  type ApprovalOutcome,
  type RunEvent,
  type StepInput,
  type StepOutcome,
  type UndoInput,
  type UndoOutcome,
} from "./machine.js";
import { RollbackRefused, type Step, type StepContext, type StepPolicy } from "./step.js";

export const DEFAULT_POLICY: Required<Omit<StepPolicy, "timeoutMs">> = {
  attempts: RETRY_BUDGETS.step.attempts,
  backoffMs: RETRY_BUDGETS.step.backoff.initialMs,
  retryWindowMs: RETRY_BUDGETS.step.windowMs,
  onFailure: "stop",
};

export interface ExecutorDeps {
  runId: string;
  steps: readonly Step[];
  journal: JournalWriter;
  view: RunObserver;
  signal: AbortSignal;
  approve: ApproveMode;
  now: () => number;
  /** Backoff sleeps between a step's attempts (a fake clock's in tests). */
  sleep: Clock["sleep"];
  /** Sends an event to the run machine (attempt start times, kept in context). */
  send: (event: RunEvent) => void;
  /** True while a rollback-mode runner waits for a restored step to stand down. */
  holdSteps: () => boolean;
}

class StepTimeoutError extends OctohaError {
  constructor(stepId: string, ms: number) {
    // Fatal, not retried: a step that ignored its abort may still be running.
    super(`Step ${stepId} did not finish within ${ms} ms`, {
      code: "STEP_TIMEOUT",
      step: stepId,
      hint: "The step's timeout (policy.timeoutMs) elapsed; check what it was waiting for, then resume.",
    });
  }
}

function stepContext(deps: ExecutorDeps, step: Step, signal: AbortSignal): StepContext {
  return {
    runId: deps.runId,
    stepId: step.id,
    signal,
    checkpoint: (data) => deps.journal.append({ t: "checkpoint", stepId: step.id, data }),
    emit: (event) => deps.view.notify({ type: "step-progress", stepId: step.id, event }),
    now: deps.now,
  };
}

async function withTimeout<T>(
  stepId: string,
  timeoutMs: number | undefined,
  run: (signal: AbortSignal) => Promise<T>,
  outer: AbortSignal,
): Promise<T> {
  if (timeoutMs === undefined) return run(outer);
  const timeout = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Reject first: aborting lets the step reject synchronously, and the race must report the timeout.
      reject(new StepTimeoutError(stepId, timeoutMs));
      timeout.abort();
    }, timeoutMs);
  });
  try {
    return await Promise.race([run(AbortSignal.any([outer, timeout.signal])), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `attempt` under the step's retry policy; retries only errors marked retryable. The step's
 * retry window also bounds the retries of every REST request, SQL query and file operation inside.
 */
async function withRetries<T>(deps: ExecutorDeps, step: Step, attempt: (n: number) => Promise<T>): Promise<T> {
  const policy = { ...DEFAULT_POLICY, ...step.policy };
  return withinRetryWindow(new RetryWindow(policy.retryWindowMs), () =>
    retry(attempt, {
      attempts: policy.attempts,
      backoff: { ...RETRY_BUDGETS.step.backoff, initialMs: policy.backoffMs },
      isRetryable,
      signal: deps.signal,
      clock: { now: deps.now, sleep: deps.sleep },
      onRetry: ({ error, attempt: n, delayMs }) =>
        deps.view.notify({ type: "step-retry", stepId: step.id, attempt: n, delayMs, error: errorRecord(error) }),
    }),
  );
}

export async function applyStep(deps: ExecutorDeps, input: StepInput): Promise<StepOutcome> {
  const step = deps.steps[input.index];
  if (!step) throw new OctohaError(`No step at index ${input.index}`, { code: "INTERNAL" });
  if (deps.holdSteps() || deps.signal.aborted) return { kind: "interrupted" };
  let record: StepRecord | undefined = deps.journal.steps.get(step.id);
  const policy = { ...DEFAULT_POLICY, ...step.policy };
  try {
    let result = record?.result;
    if (record?.applied) {
      deps.view.notify({ type: "step-applied", stepId: step.id, alreadyApplied: true });
    } else {
      result = await withRetries(deps, step, async (attempt) => {
        const startedAt = deps.now();
        deps.send({
          type: "ATTEMPT_STARTED",
          stepId: step.id,
          attempt,
          startedAt,
          ...(policy.timeoutMs === undefined ? {} : { deadlineAt: startedAt + policy.timeoutMs }),
        });
        deps.view.notify({
          type: "step-started",
          stepId: step.id,
          title: step.title,
          attempt,
          index: input.index,
          total: deps.steps.length,
        });
        // Each attempt starts from the latest checkpoint, including ones saved by a failed attempt.
        const last = deps.journal.steps.get(step.id)?.lastCheckpoint;
        return withTimeout(step.id, policy.timeoutMs, (signal) => step.apply(stepContext(deps, step, signal), last), deps.signal);
      });
      await deps.journal.append({
        t: "applied",
        stepId: step.id,
        result,
        ...(step.changedNothing?.(result) ? { changedNothing: true as const } : {}),
      });
      deps.view.notify({ type: "step-applied", stepId: step.id, alreadyApplied: false });
      record = deps.journal.steps.get(step.id);
    }
    if (!record?.verified) {
      const verdict = await withRetries(deps, step, () => step.verify(stepContext(deps, step, deps.signal), result));
      await deps.journal.append({
        t: "verified",
        stepId: step.id,
        ok: verdict.ok,
        summary: verdict.summary,
        ...(verdict.problems ? { problems: verdict.problems } : {}),
      });
      deps.view.notify({ type: "step-verified", stepId: step.id, verdict });
      if (!verdict.ok)
        throw new OctohaError(`Step ${step.id} applied but did not verify: ${verdict.summary}`, {
          code: "VERIFY_FAILED",
          step: step.id,
          hint: [...(verdict.problems ?? []), "Fix the cause, then resume (verify runs again) or roll back."].join("\n"),
        });
    }
    return { kind: "applied" };
  } catch (error) {
    if (deps.signal.aborted) return { kind: "interrupted" };
    const rec = errorRecord(error);
    await deps.journal.append({ t: "step-failed", stepId: step.id, error: rec });
    deps.view.notify({ type: "step-failed", stepId: step.id, error: rec });
    return { kind: "failed", error: rec, rollback: policy.onFailure === "rollback" };
  }
}

export async function askApproval(deps: ExecutorDeps, input: StepInput): Promise<ApprovalOutcome> {
  const step = deps.steps[input.index];
  if (!step) throw new OctohaError(`No step at index ${input.index}`, { code: "INTERNAL" });
  const decide = (decision: "approved" | "declined" | "deferred", by: "flag" | "prompt" | "none"): ApprovalOutcome => {
    deps.view.notify({ type: "approval", stepId: step.id, decision, by });
    return { kind: decision };
  };
  if (deps.holdSteps()) return { kind: "deferred" };
  // Nothing to approve: the step will change nothing (its own line says why).
  if (step.skippedBecause?.() !== undefined) return decide("approved", "none");
  if (deps.approve === "yes") return decide("approved", "flag");
  if (deps.approve === "no") return decide("deferred", "none");
  // Say exactly what will happen: inspect is read-only.
  const preview = await step.inspect(stepContext(deps, step, deps.signal)).catch(() => undefined);
  const yes = await deps.view.confirm(
    { runId: deps.runId, action: "apply", steps: [{ id: step.id, title: step.title }], ...(preview ? { preview } : {}) },
    deps.signal,
  );
  return decide(yes ? "approved" : "declined", "prompt");
}

/** The compensation list: steps this run touched (applied, or checkpointed before a crash), newest first. */
export function compensationList(steps: readonly Step[], journal: ReadonlyMap<string, StepRecord>, to?: string): Step[] {
  const floor = to === undefined ? 0 : steps.findIndex((s) => s.id === to);
  return steps.filter((s, i) => i >= floor && touched(journal.get(s.id))).reverse();
}

/**
 * The step changed something in this run, or may have (applied, or checkpointed before a crash);
 * one whose applied record says it changed nothing (skipped: Step.changedNothing, judged once, when
 * it was journaled) did not.
 */
function touched(record: StepRecord | undefined): boolean {
  if (!record) return false;
  return record.checkpoints > 0 || (record.applied && record.changedNothing !== true);
}

/** What a step's rollback works from: its result, or the last checkpoint of a step that crashed mid-apply (its first one is the before-state). */
function undoData(deps: ExecutorDeps, step: Step): unknown {
  const record = deps.journal.steps.get(step.id);
  return record?.applied ? record.result : record?.lastCheckpoint;
}

type Blocker =
  { kind: "refused"; stepId: string; reason: string } | { kind: "failed"; stepId: string; error: ErrorRecord } | { kind: "interrupted" };

/**
 * The first step of the list whose rollback would refuse now (read-only checks). Fails closed: a
 * check that throws (after the step's retries) blocks the rollback like a refusal, since nothing
 * may be undone while it is unknown whether undoing is still safe.
 */
async function firstBlocker(deps: ExecutorDeps, steps: readonly Step[]): Promise<Blocker | undefined> {
  for (const step of steps) {
    const check = step.rollbackRefusal?.bind(step);
    if (!check) continue;
    let reason: string | undefined;
    try {
      reason = await withRetries(deps, step, () => check(stepContext(deps, step, deps.signal), undoData(deps, step)));
    } catch (error) {
      if (deps.signal.aborted) return { kind: "interrupted" };
      return { kind: "failed", stepId: step.id, error: refusalCheckFailed(step.id, errorRecord(error)) };
    }
    if (reason !== undefined) return { kind: "refused", stepId: step.id, reason };
  }
  return undefined;
}

function refusalCheckFailed(stepId: string, cause: ErrorRecord): ErrorRecord {
  return {
    code: "ROLLBACK_CHECK_FAILED",
    message: `Could not check whether step ${stepId} can still be undone: ${cause.message}`,
    hint: [
      `Before undoing anything, octoha asks ${stepId} whether undoing it is still safe (e.g. whether a node started on the new folders), and it does not undo what it cannot check.`,
      ...(cause.hint ? [cause.hint] : []),
      "Fix the cause, then run the same rollback again.",
    ].join("\n"),
  };
}

export async function undoNext(deps: ExecutorDeps, input: UndoInput): Promise<UndoOutcome> {
  const list = compensationList(deps.steps, deps.journal.steps, input.to);
  const step = list[0];
  if (!step) return { kind: "none-left" };
  const data = undoData(deps, step);
  // Past a point of no return nothing is undone: undoing only the newer steps would leave a
  // cluster that is neither as it was nor as the run left it (e.g. every node stopped again).
  const blocker = await firstBlocker(deps, list);
  if (blocker?.kind === "interrupted") return blocker;
  if (blocker?.kind === "refused") {
    await deps.journal.append({ t: "rollback-refused", stepId: blocker.stepId, reason: blocker.reason });
    deps.view.notify({ type: "undo-refused", stepId: blocker.stepId, reason: blocker.reason });
    return blocker;
  }
  if (blocker?.kind === "failed") {
    await deps.journal.append({ t: "rollback-failed", stepId: blocker.stepId, error: blocker.error });
    deps.view.notify({ type: "undo-failed", stepId: blocker.stepId, error: blocker.error });
    return blocker;
  }
  deps.view.notify({ type: "undo-started", stepId: step.id, title: step.title });
  try {
    await withRetries(deps, step, () => step.rollback(stepContext(deps, step, deps.signal), data));
  } catch (error) {
    // Ctrl-C during an undo: the step stopped part-way; it is still on the compensation list.
    if (deps.signal.aborted && !(error instanceof RollbackRefused)) return { kind: "interrupted" };
    if (error instanceof RollbackRefused) {
      await deps.journal.append({ t: "rollback-refused", stepId: step.id, reason: error.reason });
      deps.view.notify({ type: "undo-refused", stepId: step.id, reason: error.reason });
      return { kind: "refused", stepId: step.id, reason: error.reason };
    }
    const rec = errorRecord(error);
    await deps.journal.append({ t: "rollback-failed", stepId: step.id, error: rec });
    deps.view.notify({ type: "undo-failed", stepId: step.id, error: rec });
    return { kind: "failed", stepId: step.id, error: rec };
  }
  await deps.journal.append({ t: "rolled-back", stepId: step.id });
  deps.view.notify({ type: "undone", stepId: step.id });
  return { kind: "undone", stepId: step.id };
}
