/** `octoha status`: what a run's journal says, read-only (never takes the lock, never writes). */
import path from "node:path";
import type { RunStatusReport, StepState } from "../model/run.js";
import { InputError } from "../shared/errors.js";
import { indexSteps, journalFile, legacyWarning, readJournal, undoneSteps } from "./journal.js";
import { readLock, staleness, unlockCommand, type LockInfo } from "./lock.js";
import { holderRunningHere, silentHolderNote } from "../shared/lock.js";
import { continueCommand, copyStateNote, DEFAULT_STATE_DIR, listRuns } from "./runs.js";

/** `stateDir`: the plan's, or the one given (default ./.octoha). */
export async function readRunStatus(o: { stateDir?: string; runId?: string }): Promise<RunStatusReport> {
  const stateDir = path.resolve(o.stateDir ?? DEFAULT_STATE_DIR);
  const runs = await listRuns(stateDir);
  const runId = o.runId ?? runs[0];
  if (!runId)
    throw new InputError(`No runs in ${stateDir}`, {
      code: "RUN_NOT_FOUND",
      path: stateDir,
      hint: `Give the plan (its state directory is used) or --state-dir.${await copyStateNote(stateDir)}`,
    });
  const { records, tornLastLine, legacyRecords } = await readJournal(stateDir, runId);
  const header = records.find((r) => r.t === "run");
  const stepIds = header?.t === "run" ? header.stepIds : [];
  const index = indexSteps(records);
  // An undo drops the step from the index (a resume applies it afresh): without this it read "pending".
  const undone = new Set(undoneSteps(records));
  const failed = new Map<string, string>();
  // A step whose undo failed and was not undone or applied since: its message says what it put back and what not.
  const undoFailed = new Map<string, string>();
  for (const r of records) {
    if (r.t === "step-failed") failed.set(r.stepId, r.error.message);
    else if (r.t === "rollback-failed") undoFailed.set(r.stepId, `rollback failed: ${r.error.message}`);
    else if (r.t === "rolled-back" || r.t === "applied") undoFailed.delete(r.stepId);
  }
  const snap = [...records].reverse().find((r) => r.t === "snapshot");
  const out = [...records].reverse().find((r) => r.t === "outcome");
  const lastOutcome =
    out?.t === "outcome" && (!snap || records.lastIndexOf(out) > records.lastIndexOf(snap))
      ? { status: out.status, exitCode: out.exitCode }
      : undefined;
  const steps = stepIds.map((id) => {
    const s = index.get(id);
    const state: StepState =
      s?.changedNothing && s.verified !== false
        ? "skipped"
        : s?.verified === true
          ? "verified"
          : s?.verified === false
            ? "not-verified"
            : s?.applied
              ? "applied"
              : failed.has(id) && s
                ? "failed"
                : s
                  ? "in-progress"
                  : undone.has(id)
                    ? "rolled-back"
                    : "pending";
    const lastError = undoFailed.get(id) ?? (state === "failed" ? failed.get(id) : undefined);
    return { id, state, checkpoints: s?.checkpoints ?? 0, ...(lastError ? { lastError } : {}) };
  });
  // Unfinished: the verb that continues it is the one that started it (a rollback interrupted goes on as a rollback).
  const finished = lastOutcome && ["done", "rolled-back"].includes(lastOutcome.status);
  // A rollback that failed (an undo that could not be done) is continued by a rollback, as it says itself.
  const lastUndo = records.findLastIndex((r) => r.t === "rolled-back" || r.t === "rollback-failed");
  const lastForward = records.findLastIndex((r) => r.t === "applied" || r.t === "step-failed" || r.t === "checkpoint");
  const rollingBack = (snap?.t === "snapshot" && ["rollingBack", "rollbackRouting"].includes(snap.state)) || lastUndo > lastForward;
  const planFile = header?.t === "run" ? header.invocation?.planFile : undefined;
  const continueWith =
    header && !finished
      ? continueCommand({ verb: rollingBack ? "rollback" : "resume", runId, stateDir, ...(planFile ? { planFile } : {}) })
      : undefined;
  const lock = await readLock(stateDir);
  const stale = lock ? staleness(lock) : undefined;
  // A live holder (running, perhaps suspended with Ctrl-Z) would refuse any resume or rollback: say it runs instead.
  const runningNow = lock && stale && !stale.stale ? runningNowNote(lock) : undefined;
  return {
    runId,
    stateDir,
    journal: journalFile(stateDir, runId),
    state: snap?.t === "snapshot" ? snap.state : "not started",
    ...(lastOutcome ? { outcome: lastOutcome } : {}),
    steps,
    ...(lock && stale
      ? {
          lock: {
            ...lock,
            stale: stale.stale,
            ...(stale.stale ? { staleReason: stale.reason } : {}),
            unlockCommand: unlockCommand(lock, stateDir),
          },
        }
      : {}),
    ...(runningNow ? { runningNow } : continueWith ? { continueWith } : {}),
    warnings: [
      ...(tornLastLine
        ? [`The journal's last line is torn (line ${tornLastLine.line}); the run stopped mid-write and resume will ignore it.`]
        : []),
      ...(legacyRecords ? [legacyWarning(runId, legacyRecords)] : []),
    ],
    otherRuns: runs.filter((r) => r !== runId),
  };
}

/** What `status` says instead of a resume while the lock's holder is alive: it runs (or is suspended), and what to do. */
function runningNowNote(lock: LockInfo): string {
  const who = `run ${lock.id} (${lock.operation}), process ${lock.pid} on ${lock.host}`;
  const silent = silentHolderNote(lock);
  if (silent) return `${who} holds the lock and is still running here. ${silent}`;
  return holderRunningHere(lock)
    ? `${who} holds the lock and is running now (or suspended): a resume would be refused. Let it finish, or stop it (Ctrl-C in its terminal) and run \`octoha status\` again.`
    : `${who} holds the lock and its heartbeat is fresh: it is running there now, and a resume would be refused. Let it finish, or stop it there.`;
}
