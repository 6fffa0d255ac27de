/**
 * runSteps: the runner's one entry point (CLI, tests, workflows). It takes the lock, opens or
 * restores the journal, drives the run machine with actors wrapping executors.ts, journals the
 * persisted snapshot after every transition, and returns an outcome with the exit code.
 */
import { readdir, rmdir, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { createActor, fromPromise, waitFor, type SnapshotFrom } from "xstate";
import { realClock, type Clock } from "../shared/clock.js";
import { InputError, OctohaError } from "../shared/errors.js";
import { ExitCode } from "../shared/exit-codes.js";
import type { Redactor } from "../shared/redact.js";
import { OCTOHA_VERSION } from "../shared/version.js";
import type { ApproveMode, FailedRun, FailedRunNotes, RunMode, RunObserver, RunOutcome, RunStatus } from "../model/run.js";
import { applyStep, askApproval, compensationList, undoNext, type ExecutorDeps } from "./executors.js";
import {
  JournalWriter,
  journalFile,
  legacyWarning,
  readJournal,
  runDir,
  undoneSteps,
  type JournalRecord,
  type RunInvocation,
  type StepRecord,
} from "./journal.js";
import { acquireLock, describeHolder, readLock, refuseWhileForcedHolderRuns, type LockInfo } from "./lock.js";
import { holderDeadHere } from "../shared/lock.js";
import { MACHINE_VERSION, runMachine, SETTLED_STATES, type RunContext } from "./machine.js";
import { continueCommand, listRuns, newRunId } from "./runs.js";
import type { Step } from "./step.js";
import { shellWord } from "../shared/shell-word.js";

export interface RunStepsOptions {
  /** Required for resume/rollback unless the state directory's newest run is meant. */
  runId?: string;
  stateDir: string;
  steps: readonly Step[];
  mode: RunMode;
  /** rollback: undo down to and including this step. */
  rollbackTo?: string;
  approve: ApproveMode;
  signal: AbortSignal;
  view: RunObserver;
  redactor: Redactor;
  /** Recorded in the journal so resume/rollback can rebuild the same steps. */
  invocation?: RunInvocation;
  now?: () => number;
  /** Backoff sleeps between a step's attempts; tests pass a fake clock's. */
  sleep?: Clock["sleep"];
  /** Test hooks: crash tests stop the run right after a given journal record (see JournalWriterOptions.afterWrite). */
  hooks?: RunHooks;
  heartbeatMs?: number;
  /** What a failed run left in place and whether rolling it back is a way out (the workflow knows; the runner does not). */
  afterFailure?: (f: FailedRun) => FailedRunNotes | Promise<FailedRunNotes>;
  /** After a run that is done: what the operator does next, from what the steps recorded (e.g. a finished database move). */
  afterDone?: (recorded: (stepId: string) => unknown) => string | undefined;
}

export interface RunHooks {
  afterJournalWrite?: (count: number, record: JournalRecord) => void;
}

type RunSnapshot = SnapshotFrom<typeof runMachine>;

function checkSteps(steps: readonly Step[]): void {
  const seen = new Set<string>();
  for (const s of steps) {
    if (seen.has(s.id))
      throw new InputError(`Two steps share the id ${s.id}`, {
        code: "STEP_ID_DUPLICATE",
        hint: "Step ids key checkpoints and idempotency; each must be unique in a workflow.",
      });
    seen.add(s.id);
  }
}

interface PriorRun {
  records: JournalRecord[];
  snapshot?: unknown;
  invocation?: RunInvocation;
}

/** Reads and checks an existing run before anything is written (corrupt journal, other machine version, other steps). */
async function readPriorRun(o: RunStepsOptions, runId: string, warn: boolean): Promise<PriorRun> {
  const { records, tornLastLine, legacyRecords } = await readJournal(o.stateDir, runId);
  if (tornLastLine && warn)
    o.view.notify({
      type: "warning",
      message: `Ignored a torn last line (line ${tornLastLine.line}, ${tornLastLine.bytes} bytes) in the journal of run ${runId}: the previous process stopped mid-write.`,
    });
  if (legacyRecords && warn) o.view.notify({ type: "warning", message: legacyWarning(runId, legacyRecords) });
  const header = records.find((r) => r.t === "run");
  const ids = o.steps.map((s) => s.id);
  if (header && header.t === "run" && header.stepIds.join("\n") !== ids.join("\n")) {
    throw new InputError(`Run ${runId} was started with steps [${header.stepIds.join(", ")}], not [${ids.join(", ")}]`, {
      code: "RUN_STEPS_CHANGED",
      hint: "Resume or roll back a run with the same workflow and octoha version that started it.",
    });
  }
  const snap = [...records].reverse().find((r) => r.t === "snapshot");
  if (snap && snap.t === "snapshot" && snap.machineVersion !== MACHINE_VERSION) {
    throw new OctohaError(
      `Journal of run ${runId} was written by runner machine version ${snap.machineVersion}; this octoha has version ${MACHINE_VERSION}`,
      {
        code: "MACHINE_VERSION_MISMATCH",
        exitCode: ExitCode.BadInput,
        hint: "Finish or roll back that run with the octoha version that started it. Nothing was changed.",
      },
    );
  }
  return {
    records,
    ...(snap && snap.t === "snapshot" ? { snapshot: snap.snapshot } : {}),
    ...(header?.t === "run" && header.invocation ? { invocation: header.invocation } : {}),
  };
}

async function outcomeOf(
  o: RunStepsOptions,
  runId: string,
  journal: JournalWriter,
  snap: RunSnapshot,
  invocation: RunInvocation | undefined,
  priorRecords: readonly JournalRecord[],
): Promise<RunOutcome> {
  const journalFile = journal.file;
  const c: RunContext = snap.context;
  const state = String(snap.value);
  // From the journal, not the machine: a rollback restarted after a kill begins a new undo list, and
  // said "undid nothing" although it had just undone the rest.
  const undone = [...journal.undoneHere];
  const undoneEarlier = undoneSteps(priorRecords).filter((id) => !journal.steps.has(id) && !undone.includes(id));
  const base = {
    runId,
    stateDir: o.stateDir,
    journal: journalFile,
    state,
    applied: c.stepIds.slice(0, c.index),
    undone,
    ...(undoneEarlier.length > 0 ? { undoneEarlier } : {}),
    undoProblems: [] as RunOutcome["undoProblems"],
  };
  const cmd = (verb: "resume" | "rollback", yes: boolean) =>
    continueCommand({
      verb,
      runId,
      stateDir: o.stateDir,
      yes,
      ...(invocation?.planFile ? { planFile: invocation.planFile } : {}),
      ...(verb === "rollback" && c.rollback?.to ? { to: c.rollback.to } : {}),
    });
  const finish = (status: RunStatus, exitCode: ExitCode, extra: Partial<RunOutcome> = {}): RunOutcome => ({
    ...base,
    status,
    exitCode,
    ...extra,
  });
  if (state === "done") {
    const advice = o.afterDone?.((stepId) => journal.steps.get(stepId)?.result);
    return finish("done", ExitCode.Done, advice ? { advice } : {});
  }
  if (state === "rolledBack") {
    // A rollback --to leaves the steps before it applied: say which, and the two ways on (finish, or undo the rest).
    const readOnly = new Set(o.steps.filter((s) => s.readOnly).map((s) => s.id));
    // Nor a step whose journaled result changed nothing (a repair with nothing to repair skipped it): nothing of it stays.
    const stillApplied = base.applied.filter(
      (id) => !undone.includes(id) && !undoneEarlier.includes(id) && !readOnly.has(id) && journal.steps.get(id)?.changedNothing !== true,
    );
    if (stillApplied.length === 0) return finish("rolled-back", ExitCode.RolledBack);
    const where = { runId, stateDir: o.stateDir, ...(invocation?.planFile ? { planFile: invocation.planFile } : {}) };
    return finish("rolled-back", ExitCode.RolledBack, {
      stillApplied,
      nextCommand: cmd("resume", false),
      rollbackCommand: continueCommand({ verb: "rollback", ...where }),
    });
  }
  if (state === "interrupted") {
    const gate = c.stop === "approval-needed" || c.stop === "approval-declined";
    // An interrupted rollback is continued by rollback (resume would too, but says less).
    const undoing = c.rollback !== undefined && !c.rollback.finished;
    // Stopped mid-window (Ctrl-C, or an approval nobody gave), the cluster may be drained, in
    // maintenance mode or stopped: said as for a failed run, or "nothing more was changed" misled.
    const left = undoing ? undefined : (await o.afterFailure?.({ applied: base.applied, stopped: true }))?.leftInPlace;
    return finish(gate ? "awaiting-approval" : "interrupted", ExitCode.Resumable, {
      ...(c.stop ? { stop: c.stop } : {}),
      nextCommand: undoing ? cmd("rollback", true) : cmd("resume", gate),
      ...(left ? { leftInPlace: left } : {}),
    });
  }
  const failure = c.failure
    ? {
        code: c.failure.code,
        message: c.failure.message,
        ...(c.failure.hint ? { hint: c.failure.hint } : {}),
        ...(c.failure.stepId ? { stepId: c.failure.stepId } : {}),
      }
    : undefined;
  if (c.failure?.during === "rollback") {
    const refused = c.failure.code === "ROLLBACK_REFUSED";
    const problem = {
      stepId: c.failure.stepId ?? "?",
      kind: refused ? ("refused" as const) : ("failed" as const),
      reason: c.failure.message,
    };
    // A failed undo or check is tried again as it was confirmed (--yes); a refusal would refuse again.
    const next = refused
      ? afterRefusal(o, journal.steps, { runId, refusedStepId: problem.stepId, invocation })
      : { nextCommand: cmd("rollback", o.approve === "yes") };
    // A failed undo leaves the cluster between the run and its before-state: say what the steps still applied hold in place.
    const stillApplied = base.applied.filter((id) => !undone.includes(id) && !undoneEarlier.includes(id));
    const left = refused ? undefined : (await o.afterFailure?.({ applied: stillApplied, undoFailedStepId: problem.stepId }))?.leftInPlace;
    return finish("rollback-incomplete", ExitCode.Failed, {
      ...(failure ? { failure } : {}),
      undoProblems: [problem],
      ...next,
      ...(left ? { leftInPlace: left } : {}),
    });
  }
  // A step that stopped on purpose in a safe, resumable place (a drain timeout) says so with exit code 3,
  // and so does a transient failure that outlasted its retries (Octopus or SQL unreachable): resume
  // once it is back. Its step re-applies from its last checkpoint.
  const resumable = c.failure?.exitCode === ExitCode.Resumable || c.failure?.behaviour === "retryable";
  // Bad input found by the first step, before any step applied (a preflight naming a wrong target): nothing changed.
  const badInput = c.failure?.exitCode === ExitCode.BadInput && c.index === 0;
  const exitCode = resumable ? ExitCode.Resumable : badInput ? ExitCode.BadInput : ExitCode.Failed;
  // Nothing was changed and nothing is left to continue or undo: the way on is the same command, once corrected.
  if (badInput && !resumable)
    return finish("failed", exitCode, {
      ...(failure ? { failure } : {}),
      advice:
        "Nothing was changed. Once the cause is corrected, run the same command again: a run stopped in its first, read-only step does not block a new one.",
    });
  const notes = await o.afterFailure?.({ applied: base.applied, ...(c.failure?.stepId ? { failedStepId: c.failure.stepId } : {}) });
  // Undoing is a way out only when a step that changes something recorded anything (not after a failed preflight).
  const undoable = notes?.rollback !== false && compensationList(o.steps, journal.steps).some((s) => !s.readOnly);
  const where = { runId, stateDir: o.stateDir, ...(invocation?.planFile ? { planFile: invocation.planFile } : {}) };
  return finish("failed", exitCode, {
    ...(failure ? { failure } : {}),
    nextCommand: cmd("resume", false),
    ...(undoable ? { rollbackCommand: continueCommand({ verb: "rollback", ...where }) } : {}),
    ...(notes?.leftInPlace ? { leftInPlace: notes.leftInPlace } : {}),
    ...(notes?.advice ? { advice: notes.advice } : {}),
  });
}

/**
 * After a refusal the same rollback would refuse again. What works: `resume`, which leaves the
 * run's changes in place and finishes it (re-applying anything undone before the refusal); or
 * `rollback --to` the oldest step after the refusing one, which undoes only the later steps.
 */
function afterRefusal(
  o: RunStepsOptions,
  steps: ReadonlyMap<string, StepRecord>,
  r: { runId: string; refusedStepId: string; invocation: RunInvocation | undefined },
): Pick<RunOutcome, "nextCommand" | "partialRollbackCommand"> {
  const where = { runId: r.runId, stateDir: o.stateDir, ...(r.invocation?.planFile ? { planFile: r.invocation.planFile } : {}) };
  const later = compensationList(o.steps, steps).map((s) => s.id);
  const at = later.indexOf(r.refusedStepId);
  const oldestLater = at > 0 ? later[at - 1] : undefined;
  return {
    nextCommand: continueCommand({ verb: "resume", ...where }),
    ...(oldestLater
      ? { partialRollbackCommand: continueCommand({ verb: "rollback", ...where, to: oldestLater, yes: o.approve === "yes" }) }
      : {}),
  };
}

async function resolveRunId(o: RunStepsOptions): Promise<string> {
  if (o.mode === "run") return o.runId ?? newRunId();
  if (o.runId) return o.runId;
  const latest = (await listRuns(o.stateDir))[0];
  if (!latest)
    throw new InputError(`No run to ${o.mode} in ${o.stateDir}`, {
      code: "RUN_NOT_FOUND",
      path: o.stateDir,
      hint: o.invocation?.planFile
        ? `Start one with \`octoha run ${shellWord(o.invocation.planFile)}\`, or point --state-dir at the state directory of the run.`
        : "Start one with `octoha run` and the plan file, or point --state-dir at the state directory of the run.",
    });
  return latest;
}

export async function runSteps(o: RunStepsOptions): Promise<RunOutcome> {
  checkSteps(o.steps);
  if (o.rollbackTo !== undefined && !o.steps.some((s) => s.id === o.rollbackTo)) {
    throw new InputError(`--to ${o.rollbackTo} is not a step of this run`, {
      code: "ROLLBACK_TO_UNKNOWN",
      hint: `Steps: ${o.steps.map((s) => s.id).join(", ")}`,
    });
  }
  const runId = await resolveRunId(o);
  const checked = o.mode === "run" ? undefined : await readPriorRun(o, runId, true);
  const invocation = checked?.invocation ?? o.invocation;
  const readOnly = new Set(o.steps.filter((st) => st.readOnly).map((st) => st.id));
  const abandoned = o.mode === "run" ? await deadRunThatChangedNothing(o.stateDir, readOnly) : undefined;
  // `unlock --force` behind this run's back: it stops (the heartbeat aborts it) and writes no more
  // records (checked before each one), since another process may own the journal now.
  let lockLost: OctohaError | undefined;
  const lost = new AbortController();
  const loseLock = (now: LockInfo | undefined) => {
    lockLost ??= lockLostError(o, runId, invocation, now);
    lost.abort();
  };
  const signal = AbortSignal.any([o.signal, lost.signal]);
  const planFile = o.invocation?.planFile ?? invocation?.planFile;
  const lock = await acquireLock({
    stateDir: o.stateDir,
    runId,
    ...(planFile ? { planFile } : {}),
    operation: o.mode,
    version: OCTOHA_VERSION,
    ...(o.mode === "run" ? (abandoned ? { takeOverDeadHolderOf: abandoned } : {}) : { takeOverDeadHolderOf: runId }),
    ...(o.heartbeatMs ? { heartbeatMs: o.heartbeatMs } : {}),
    onWarning: (message) => o.view.notify({ type: "warning", message }),
    onLost: loseLock,
  });
  let journal: JournalWriter | undefined;
  try {
    await refuseWhileForcedHolderRuns(o.stateDir);
    if (abandoned) await removeEmptyRunDir(o, abandoned);
    if (o.mode === "run") await refuseUnfinishedRun(o.stateDir, runId, invocation, readOnly);
    // Read again under the lock: the first read only checked the run before taking the lock.
    const prior = checked ? await readPriorRun(o, runId, false) : undefined;
    journal = new JournalWriter({
      stateDir: o.stateDir,
      runId,
      redactor: o.redactor,
      records: prior?.records ?? [],
      ...(o.now ? { now: o.now } : {}),
      ...(o.hooks?.afterJournalWrite ? { afterWrite: o.hooks.afterJournalWrite } : {}),
      beforeWrite: async () => {
        if (!lockLost && !(await lock.isHeld())) loseLock(await readLock(o.stateDir).catch(() => undefined));
        if (lockLost) throw lockLost;
      },
    });
    await journal.open();
    if (o.mode === "rollback") {
      const undo = compensationList(o.steps, journal.steps, o.rollbackTo).map((s) => ({ id: s.id, title: s.title }));
      const ok =
        o.approve === "yes" ||
        (o.approve === "prompt" && undo.length > 0 && (await o.view.confirm({ runId, action: "rollback", steps: undo }, o.signal)));
      if (!ok && undo.length > 0) {
        // Not confirmed: nothing is journaled or undone; say how to confirm.
        const nextCommand = continueCommand({
          verb: "rollback",
          runId,
          stateDir: o.stateDir,
          yes: true,
          ...(invocation?.planFile ? { planFile: invocation.planFile } : {}),
          ...(o.rollbackTo ? { to: o.rollbackTo } : {}),
        });
        const unconfirmed: RunOutcome = {
          status: "awaiting-approval",
          exitCode: ExitCode.Resumable,
          runId,
          stateDir: o.stateDir,
          journal: journal.file,
          state: "unchanged",
          applied: [],
          undone: [],
          undoProblems: [],
          nextCommand,
        };
        o.view.notify({ type: "outcome", outcome: unconfirmed });
        return unconfirmed;
      }
    }
    if (o.mode === "run")
      await journal.append({
        t: "run",
        runId,
        stepIds: o.steps.map((s) => s.id),
        octohaVersion: OCTOHA_VERSION,
        machineVersion: MACHINE_VERSION,
        ...(o.invocation ? { invocation: o.invocation } : {}),
      });
    const outcome = await drive({ ...o, signal }, runId, journal, prior);
    const final = await outcomeOf(o, runId, journal, outcome, invocation, prior?.records ?? []);
    await journal.append({ t: "outcome", status: final.status, exitCode: final.exitCode });
    await journal.flush();
    o.view.notify({ type: "outcome", outcome: final });
    return final;
  } finally {
    await journal?.close().catch(() => undefined);
    await lock.release();
  }
}

/** What a run says when its lock was released (or taken) by another process while it ran: it stopped, resumable. */
function lockLostError(o: RunStepsOptions, runId: string, invocation: RunInvocation | undefined, now: LockInfo | undefined): OctohaError {
  const resume = continueCommand({
    verb: "resume",
    runId,
    stateDir: o.stateDir,
    ...(invocation?.planFile ? { planFile: invocation.planFile } : {}),
  });
  return new OctohaError(
    `Run ${runId} stopped: its lock on ${o.stateDir} was released while it ran (\`octoha unlock --force\`)${now ? `, and is now held by ${describeHolder(now)}` : ""}; it wrote nothing more to its journal`,
    {
      code: "LOCK_LOST",
      exitCode: ExitCode.Resumable,
      hint: `Another octoha may be continuing this run now: \`octoha status\` shows who holds the lock. Once no other octoha runs against this state directory, continue with:\n  ${resume}\n(the step that was in flight starts over from its last checkpoint).`,
    },
  );
}

/**
 * The run holding the state lock, when its process is provably dead on this host and its journal
 * shows it changed nothing: it holds not one byte (killed between taking the lock and its first
 * record), or no step but read-only ones got as far as a checkpoint (killed in its preflight).
 * There is nothing to resume or undo, so re-running the same command takes its lock over, as
 * resume does for a run that changed something.
 */
async function deadRunThatChangedNothing(stateDir: string, readOnly: ReadonlySet<string>): Promise<string | undefined> {
  const holder = await readLock(stateDir).catch(() => undefined);
  if (!holder || !holderDeadHere(holder)) return undefined;
  const size = await stat(journalFile(stateDir, holder.id)).then(
    (st) => st.size,
    (error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? 0 : -1),
  );
  if (size === 0) return holder.id;
  if (size < 0) return undefined;
  // A journal that cannot be read proves nothing: the lock stays refused.
  const records = await readJournal(stateDir, holder.id).then(
    (j) => j.records,
    () => undefined,
  );
  return records && !records.some(changedSomething(readOnly)) ? holder.id : undefined;
}

/** A record that shows a change: a checkpoint, or an apply that changed something, of a step that is not read-only. */
const changedSomething =
  (readOnly: ReadonlySet<string>) =>
  (r: JournalRecord): boolean =>
    (r.t === "checkpoint" || (r.t === "applied" && r.changedNothing !== true)) && !readOnly.has(r.stepId);

/**
 * The abandoned run's folder goes when it holds an empty journal and head at most, so `resume` and
 * `status` see the new run; a journal with read-only steps in it stays (the new run is the newest).
 */
async function removeEmptyRunDir(o: RunStepsOptions, abandoned: string): Promise<void> {
  const dir = runDir(o.stateDir, abandoned);
  const names = await readdir(dir).catch(() => [] as string[]);
  const empty = async (name: string) => (await stat(path.join(dir, name)).catch(() => undefined))?.size === 0;
  const removable = names.every((n) => n === "journal.jsonl" || n === "journal.head" || /^journal\.head\.\d+\.tmp$/.test(n));
  if (!removable || !(await empty("journal.jsonl").then((e) => e || !names.includes("journal.jsonl")))) {
    o.view.notify({
      type: "warning",
      message: `Run ${abandoned} was stopped before any step changed anything (its journal holds only read-only steps); this run takes its place. Its folder stays: ${dir}.`,
    });
    return;
  }
  await Promise.all(names.map((n) => unlink(path.join(dir, n))));
  await rmdir(dir).catch(() => undefined);
  o.view.notify({
    type: "warning",
    message: `Run ${abandoned} was stopped before it recorded anything (it changed nothing); removed its empty folder ${dir}.`,
  });
}

/**
 * A new run while the newest one is half-done would apply steps on top of a half-applied cluster:
 * refuse, and say how to resume or undo it.
 */
async function refuseUnfinishedRun(
  stateDir: string,
  newRunId: string,
  invocation: RunInvocation | undefined,
  readOnly: ReadonlySet<string>,
): Promise<void> {
  const latest = (await listRuns(stateDir)).find((id) => id !== newRunId);
  if (!latest) return;
  const { records } = await readJournal(stateDir, latest);
  const last = [...records].reverse().find((r) => r.t === "outcome" || r.t === "snapshot");
  if (last?.t === "outcome" && (last.status === "done" || last.status === "rolled-back")) return;
  // It never changed anything: no step but read-only ones (e.g. a failed preflight) got as far as a
  // checkpoint, and the others were skipped (a repair with nothing to repair that failed to verify).
  if (!records.some(changedSomething(readOnly))) return;
  const status = last?.t === "outcome" ? last.status : "stopped without an outcome (crash or kill)";
  const where = { runId: latest, stateDir, ...(invocation?.planFile ? { planFile: invocation.planFile } : {}) };
  throw new OctohaError(`Run ${latest} in ${stateDir} is unfinished (${status}); a new run would start on top of it`, {
    code: "RUN_UNFINISHED",
    exitCode: ExitCode.Failed,
    hint: `Continue it:\n  ${continueCommand({ verb: "resume", ...where })}\nor undo it:\n  ${continueCommand({ verb: "rollback", ...where })}\nIf it must be abandoned as it is, move ${runDir(stateDir, latest)} out of the state directory first.`,
  });
}

async function drive(o: RunStepsOptions, runId: string, journal: JournalWriter, prior: PriorRun | undefined): Promise<RunSnapshot> {
  let holding = o.mode === "rollback";
  let actorRef: { send: (e: Parameters<ExecutorDeps["send"]>[0]) => void } | undefined;
  const deps: ExecutorDeps = {
    runId,
    steps: o.steps,
    journal,
    view: o.view,
    signal: o.signal,
    approve: o.approve,
    now: o.now ?? Date.now,
    sleep: o.sleep ?? realClock.sleep,
    send: (event) => actorRef?.send(event),
    holdSteps: () => holding,
  };
  const machine = runMachine.provide({
    actors: {
      preflight: fromPromise<void, { stepIds: string[] }>(() => journal.flush()),
      runStep: fromPromise(({ input }) => applyStep(deps, input)),
      askApproval: fromPromise(({ input }) => askApproval(deps, input)),
      undoNext: fromPromise(({ input }) => undoNext(deps, input)),
    },
  });
  const input = { runId, stepIds: o.steps.map((s) => s.id), approvalStepIds: o.steps.filter((s) => s.requiresApproval).map((s) => s.id) };
  const actor = createActor(machine, prior?.snapshot ? { snapshot: prior.snapshot as RunSnapshot, input } : { input });
  actorRef = actor;
  let lastJournaled = "";
  let failure: unknown;
  actor.subscribe({
    next: (snap) => {
      const persisted = actor.getPersistedSnapshot();
      const key = JSON.stringify(persisted);
      if (key === lastJournaled) return;
      lastJournaled = key;
      journal
        .append({ t: "snapshot", machineVersion: MACHINE_VERSION, state: String(snap.value), snapshot: persisted })
        .catch((error: unknown) => (failure ??= error));
    },
    error: (error) => (failure ??= error),
  });
  const onAbort = () => actor.send({ type: "INTERRUPT" });
  o.signal.addEventListener("abort", onAbort);
  const settled = () => waitFor(actor, (s) => (SETTLED_STATES as readonly string[]).includes(String(s.value)), { timeout: Infinity });
  try {
    actor.start();
    o.view.notify({
      type: "run-started",
      runId,
      mode: o.mode,
      stateDir: o.stateDir,
      steps: o.steps.map((s) => ({ id: s.id, title: s.title })),
      ...(prior?.snapshot ? { restoredState: String(actor.getSnapshot().value) } : {}),
    });
    if (o.signal.aborted) onAbort();
    if (o.mode === "resume") actor.send({ type: "RESUME" });
    let snap = await settled();
    if (o.mode === "rollback") {
      holding = false;
      actor.send({ type: "ROLLBACK", ...(o.rollbackTo ? { to: o.rollbackTo } : {}) });
      snap = await settled();
    }
    await journal.flush();
    if (failure !== undefined) throw failure;
    return snap;
  } finally {
    o.signal.removeEventListener("abort", onAbort);
    actor.stop();
  }
}
