/**
 * The run machine (design.md, "Runner and journal"). It decides; actors act. Every actor is a
 * placeholder here and is provided by run-steps.ts with plain functions, so the machine holds no
 * I/O and its context stays JSON-safe for the journaled snapshot. Deadlines are timestamps in
 * context, never `after` timers (lost on restore).
 */
import { assign, fromPromise, setup } from "xstate";
import type { ErrorRecord, StopReason } from "../model/run.js";

/** Bump when states, actors or context change shape: old snapshots are refused, not misread. */
export const MACHINE_VERSION = 1;

export interface RunContext {
  runId: string;
  stepIds: string[];
  approvalStepIds: string[];
  /** Index of the next step to apply; steps before it are applied. */
  index: number;
  approved: string[];
  current?: { stepId: string; attempt: number; startedAt: number; deadlineAt?: number };
  failure?: ErrorRecord & { stepId?: string; during: "apply" | "rollback" };
  rollbackOnFailure: boolean;
  stop?: StopReason;
  rollback?: { to?: string; finished: boolean; undone: string[] };
}

export type RunEvent =
  | { type: "INTERRUPT" }
  | { type: "RESUME" }
  | { type: "ROLLBACK"; to?: string }
  | { type: "ATTEMPT_STARTED"; stepId: string; attempt: number; startedAt: number; deadlineAt?: number };

export interface StepInput {
  index: number;
  stepId: string;
}
export type StepOutcome = { kind: "applied" } | { kind: "interrupted" } | { kind: "failed"; error: ErrorRecord; rollback: boolean };
export type ApprovalOutcome = { kind: "approved" } | { kind: "declined" } | { kind: "deferred" };
export interface UndoInput {
  to?: string;
}
export type UndoOutcome =
  | { kind: "undone"; stepId: string }
  | { kind: "refused"; stepId: string; reason: string }
  | { kind: "failed"; stepId: string; error: ErrorRecord }
  | { kind: "interrupted" }
  | { kind: "none-left" };

const notProvided = (name: string) => () => Promise.reject(new Error(`runner actor ${name} was not provided`));

export function errorRecord(error: unknown): ErrorRecord {
  const e = error as { code?: unknown; message?: unknown; hint?: unknown; behaviour?: unknown; exitCode?: unknown } | null;
  return {
    code: typeof e?.code === "string" ? e.code : "ERROR",
    message: typeof e?.message === "string" ? e.message : String(error),
    ...(typeof e?.hint === "string" ? { hint: e.hint } : {}),
    ...(typeof e?.behaviour === "string" ? { behaviour: e.behaviour } : {}),
    ...(typeof e?.exitCode === "number" ? { exitCode: e.exitCode } : {}),
  };
}

export const runMachine = setup({
  types: {
    context: {} as RunContext,
    events: {} as RunEvent,
    input: {} as { runId: string; stepIds: string[]; approvalStepIds: string[] },
  },
  actors: {
    preflight: fromPromise<void, { stepIds: string[] }>(notProvided("preflight")),
    runStep: fromPromise<StepOutcome, StepInput>(notProvided("runStep")),
    askApproval: fromPromise<ApprovalOutcome, StepInput>(notProvided("askApproval")),
    undoNext: fromPromise<UndoOutcome, UndoInput>(notProvided("undoNext")),
  },
  guards: {
    stepFailedWantsRollback: ({ context }) => context.failure !== undefined && context.rollbackOnFailure,
    stepFailed: ({ context }) => context.failure !== undefined,
    stopRequested: ({ context }) => context.stop !== undefined,
    allStepsApplied: ({ context }) => context.index >= context.stepIds.length,
    nextNeedsApproval: ({ context }) => {
      const id = context.stepIds[context.index];
      return id !== undefined && context.approvalStepIds.includes(id) && !context.approved.includes(id);
    },
    rollbackFinished: ({ context }) => context.rollback?.finished === true,
    rollbackUnfinished: ({ context }) => context.rollback !== undefined && !context.rollback.finished,
  },
  actions: {
    requestStop: assign((_, params: { reason: StopReason }) => ({ stop: params.reason })),
    clearStop: assign({ stop: undefined, failure: undefined, rollbackOnFailure: false }),
    noteAttempt: assign(({ event }) =>
      event.type === "ATTEMPT_STARTED"
        ? {
            current: {
              stepId: event.stepId,
              attempt: event.attempt,
              startedAt: event.startedAt,
              ...(event.deadlineAt === undefined ? {} : { deadlineAt: event.deadlineAt }),
            },
          }
        : {},
    ),
    recordStep: assign(({ context }, out: StepOutcome) => {
      if (out.kind === "applied") return { index: context.index + 1, current: undefined };
      if (out.kind === "interrupted") return { stop: "signal" as const };
      return {
        failure: { ...out.error, stepId: context.stepIds[context.index], during: "apply" as const },
        rollbackOnFailure: out.rollback,
      };
    }),
    recordCrash: assign((_, params: { error: unknown; during: "apply" | "rollback" }) => ({
      failure: { ...errorRecord(params.error), during: params.during },
    })),
    recordApproval: assign(({ context }, out: ApprovalOutcome) => {
      const id = context.stepIds[context.index] ?? "";
      if (out.kind === "approved") return { approved: [...context.approved, id] };
      return { stop: out.kind === "declined" ? ("approval-declined" as const) : ("approval-needed" as const) };
    }),
    startRollback: assign(({ event }) => ({
      rollback: { ...(event.type === "ROLLBACK" && event.to ? { to: event.to } : {}), finished: false, undone: [] },
      stop: undefined,
      failure: undefined,
      rollbackOnFailure: false,
    })),
    recordUndo: assign(({ context }, out: UndoOutcome) => {
      const rb = context.rollback ?? { finished: false, undone: [] };
      if (out.kind === "none-left") return { rollback: { ...rb, finished: true } };
      if (out.kind === "interrupted") return { stop: "signal" as const };
      if (out.kind === "undone") {
        const at = context.stepIds.indexOf(out.stepId);
        return {
          index: Math.min(context.index, at),
          approved: context.approved.filter((id) => id !== out.stepId),
          rollback: { ...rb, undone: [...rb.undone, out.stepId], finished: out.stepId === rb.to },
        };
      }
      const error = out.kind === "refused" ? { code: "ROLLBACK_REFUSED", message: out.reason } : out.error;
      return { failure: { ...error, stepId: out.stepId, during: "rollback" as const } };
    }),
  },
}).createMachine({
  id: "octoha-run",
  context: ({ input }) => ({ ...input, index: 0, approved: [], rollbackOnFailure: false }),
  initial: "preflight",
  on: { INTERRUPT: { actions: { type: "requestStop", params: { reason: "signal" } } } },
  states: {
    preflight: {
      description: "Makes sure the run header and the first snapshot are on disk (fsync'd) before any step touches anything.",
      invoke: {
        src: "preflight",
        input: ({ context }) => ({ stepIds: context.stepIds }),
        onDone: "routing",
        onError: { target: "failed", actions: { type: "recordCrash", params: ({ event }) => ({ error: event.error, during: "apply" }) } },
      },
    },
    routing: {
      description: "Decides what comes next from the context alone: roll back, stop, finish, ask, or apply the next step.",
      always: [
        { guard: "stepFailedWantsRollback", target: "rollingBack", actions: "startRollback" },
        { guard: "stepFailed", target: "failed" },
        { guard: "stopRequested", target: "interrupted" },
        { guard: "allStepsApplied", target: "done" },
        { guard: "nextNeedsApproval", target: "awaitingApproval" },
        { target: "stepping" },
      ],
    },
    stepping: {
      description:
        "Applies and verifies the next step. Restored from a snapshot, the step starts over with its last checkpoint (apply is idempotent).",
      on: { ATTEMPT_STARTED: { actions: "noteAttempt" }, RESUME: { actions: "clearStop" } },
      invoke: {
        src: "runStep",
        input: ({ context }) => ({ index: context.index, stepId: context.stepIds[context.index] ?? "" }),
        onDone: { target: "routing", actions: { type: "recordStep", params: ({ event }) => event.output } },
        onError: { target: "failed", actions: { type: "recordCrash", params: ({ event }) => ({ error: event.error, during: "apply" }) } },
      },
    },
    awaitingApproval: {
      description: "The next step needs an operator's yes: --yes passes, a TTY is asked, otherwise the run stops resumable.",
      on: {
        RESUME: { actions: "clearStop" },
        INTERRUPT: { target: "interrupted", actions: { type: "requestStop", params: { reason: "signal" } } },
      },
      invoke: {
        src: "askApproval",
        input: ({ context }) => ({ index: context.index, stepId: context.stepIds[context.index] ?? "" }),
        onDone: { target: "routing", actions: { type: "recordApproval", params: ({ event }) => event.output } },
        onError: { target: "failed", actions: { type: "recordCrash", params: ({ event }) => ({ error: event.error, during: "apply" }) } },
      },
    },
    rollingBack: {
      description:
        "Undoes applied steps newest first from the journal's compensation list, one at a time; stops at the first refusal or failure.",
      on: { RESUME: { actions: "clearStop" } },
      invoke: {
        src: "undoNext",
        input: ({ context }) => (context.rollback?.to ? { to: context.rollback.to } : {}),
        onDone: { target: "rollbackRouting", actions: { type: "recordUndo", params: ({ event }) => event.output } },
        onError: {
          target: "failed",
          actions: { type: "recordCrash", params: ({ event }) => ({ error: event.error, during: "rollback" }) },
        },
      },
    },
    rollbackRouting: {
      description: "After one undo: report a refusal, finish, honour an interrupt, or undo the next one.",
      always: [
        { guard: "stepFailed", target: "failed" },
        { guard: "rollbackFinished", target: "rolledBack" },
        { guard: "stopRequested", target: "interrupted" },
        { target: "rollingBack" },
      ],
    },
    done: {
      description: "Every step applied and verified. A rollback can still undo the run.",
      on: { ROLLBACK: { target: "rollingBack", actions: "startRollback" } },
    },
    failed: {
      description: "A step (or an undo) failed for good; the failure is in context. Resume retries that step; rollback undoes.",
      on: { RESUME: { target: "routing", actions: "clearStop" }, ROLLBACK: { target: "rollingBack", actions: "startRollback" } },
    },
    interrupted: {
      description:
        "Stopped on a signal or at an approval gate, with everything checkpointed; resume continues (an interrupted rollback goes on rolling back).",
      on: {
        RESUME: [
          { guard: "rollbackUnfinished", target: "rollingBack", actions: "clearStop" },
          { target: "routing", actions: "clearStop" },
        ],
        ROLLBACK: { target: "rollingBack", actions: "startRollback" },
      },
    },
    rolledBack: {
      description: "The requested undos are done (all of them, or down to --to). Resume applies the undone steps again.",
      on: { RESUME: { target: "routing", actions: "clearStop" }, ROLLBACK: { target: "rollingBack", actions: "startRollback" } },
    },
  },
});

/** States where the machine waits for the operator; the runner returns an outcome there. */
export const SETTLED_STATES = ["done", "failed", "interrupted", "rolledBack"] as const;
