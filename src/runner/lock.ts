/**
 * One run at a time per state directory: `<stateDir>/lock.json` (the shared lock file in
 * src/shared/lock.ts: O_EXCL, LockInfo plus a heartbeat). A second run is refused with the
 * holder's details (exit 1, "state locked"); a stale lock is reported with the exact
 * `octoha unlock <id>` command. Only a resume/rollback of the same run whose holder is provably
 * dead (its pid is gone on this host) takes the lock over, with a warning.
 *
 * `unlock --force` of a holder still running on this host leaves its details in
 * `<stateDir>/lock.forced.json`: no run starts, resumes or rolls back in that state directory while
 * that process lives (it may still be changing Octopus and writing its journal). The holder itself
 * notices the lock is gone (its heartbeat, and before each journal record) and stops.
 */
import { readFile, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { OctohaError, errnoOf } from "../shared/errors.js";
import {
  HEARTBEAT_MS,
  acquireLockFile,
  describeHolder,
  holderDeadHere,
  holderRunningHere,
  readLockFile,
  silentHolderNote,
  unlockFile,
  type HeldLock,
  type LockInfo,
  type Staleness,
  type UnlockResult,
} from "../shared/lock.js";
import { ExitCode } from "../shared/exit-codes.js";
import { continueCommand } from "./runs.js";

export {
  HEARTBEAT_MS,
  STALE_AFTER_MS,
  describeHolder,
  staleness,
  type HeldLock,
  type LockInfo,
  type Staleness,
  type UnlockResult,
} from "../shared/lock.js";

const LOCK_FILE = "lock.json";
const FORCED_FILE = "lock.forced.json";

export function lockFile(stateDir: string): string {
  return path.join(stateDir, LOCK_FILE);
}

export function unlockCommand(info: LockInfo, stateDir: string): string {
  return `octoha unlock ${info.id} --state-dir ${JSON.stringify(stateDir)}`;
}

export function readLock(stateDir: string): Promise<LockInfo | undefined> {
  return readLockFile(lockFile(stateDir));
}

class LockedError extends OctohaError {
  constructor(
    readonly holder: LockInfo,
    stateDir: string,
    readonly stale: Staleness,
    planFile: string | undefined,
  ) {
    super(
      stale.stale
        ? `State directory ${stateDir} has a stale lock: ${describeHolder(holder)}`
        : `State directory ${stateDir} is locked by ${describeHolder(holder)}`,
      {
        code: stale.stale ? "STATE_LOCK_STALE" : "STATE_LOCKED",
        path: lockFile(stateDir),
        exitCode: ExitCode.Failed,
        hint: stale.stale
          ? `The lock looks stale because ${stale.reason}. ${holderDeadHere(holder) ? `Continuing that run takes its lock over, no unlock needed:\n  ${continueCommand({ verb: "resume", runId: holder.id, stateDir, ...(planFile ? { planFile } : {}) })}\nOr, if` : "If"} no octoha is running against this state directory, release it with:\n  ${unlockCommand(holder, stateDir)}\nWarning: releasing a lock that a live run still holds lets two runs change Octopus at once.`
          : liveHolderHint(holder, stateDir),
      },
    );
  }
}

/** What a second run is told to do about a live holder: a suspended one (Ctrl-Z) is brought back or ended first. */
function liveHolderHint(holder: LockInfo, stateDir: string): string {
  const silent = silentHolderNote(holder);
  return silent
    ? `One run at a time changes a cluster, and that one goes on when it is resumed. ${silent} Only if you are sure it must not go on:\n  ${unlockCommand(holder, stateDir)} --force`
    : `One run at a time changes a cluster; wait for it to finish, or stop it (Ctrl-C) and resume later. If you are sure it is gone:\n  ${unlockCommand(holder, stateDir)}`;
}

export interface AcquireOptions {
  stateDir: string;
  runId: string;
  operation: string;
  version: string;
  /** The plan file the operator gave, for the resume command a stale-lock refusal shows (else --state-dir). */
  planFile?: string;
  /** Resume/rollback of this run may take over its own lock when the holder's pid is dead here. */
  takeOverDeadHolderOf?: string;
  heartbeatMs?: number;
  onWarning?: (message: string) => void;
  /** The heartbeat found the lock released (or taken) by someone else: see LockFileOptions.onLost. */
  onLost?: (now: LockInfo | undefined) => void;
}

/** Why a state directory cannot be written, in the Octopus docs' words, or undefined for other errors. */
function notWritable(error: unknown, stateDir: string): OctohaError | undefined {
  const code = errnoOf(error);
  const why =
    code === "EROFS"
      ? "it is on a read-only file system"
      : code === "EACCES" || code === "EPERM"
        ? "it is read-only, or not writable for this account"
        : code === "ENOSPC" || code === "EDQUOT"
          ? "its disk is full"
          : undefined;
  if (why === undefined) return undefined;
  return new OctohaError(`Access to the path '${path.resolve(stateDir)}' is denied: ${why}`, {
    code: "STATE_DIR_NOT_WRITABLE",
    path: stateDir,
    exitCode: ExitCode.Failed,
    cause: error,
    hint: "The state directory holds the run's lock and journal; nothing was changed. Choose a writable folder with --state-dir (or options.stateDir in the plan), or give this account write access (and free space), then run the command again.",
  });
}

export function acquireLock(options: AcquireOptions): Promise<HeldLock> {
  const { stateDir } = options;
  return acquireLockFile({
    file: lockFile(stateDir),
    holder: { id: options.runId, operation: options.operation, version: options.version, path: path.resolve(stateDir) },
    mayTakeOver: (holder) => holderDeadHere(holder) && holder.id === options.takeOverDeadHolderOf,
    refuse: (holder, stale) => new LockedError(holder, stateDir, stale, options.planFile),
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    ...(options.onLost ? { onLost: options.onLost } : {}),
  }).catch((error: unknown) => {
    // A bare errno (making the folder), or the one under "Cannot create the lock file".
    const cause = error instanceof OctohaError ? (error.code === "LOCK_CREATE" ? error.cause : undefined) : error;
    throw notWritable(cause, stateDir) ?? error;
  });
}

export interface StateUnlockResult extends UnlockResult {
  /** The holder's process still runs on this host (only ever with --force). */
  holderRunningHere: boolean;
}

/**
 * `octoha unlock ID`: releases the lock if its id matches; refuses a live holder unless forced. A
 * forced release of a holder still running here is recorded, so that no run continues beside it.
 */
export async function unlock(stateDir: string, id: string, force = false): Promise<StateUnlockResult> {
  const result = await unlockFile(lockFile(stateDir), id, stateDir, force);
  const runningHere = !result.wasStale && holderRunningHere(result.released);
  if (runningHere) await writeFile(path.join(stateDir, FORCED_FILE), `${JSON.stringify(result.released, null, 2)}\n`);
  return { ...result, holderRunningHere: runningHere };
}

/**
 * Refuses (exit 1) while a process whose lock `unlock --force` released still runs on this host:
 * its run may still be changing Octopus and appending to its journal. Once it is gone, its record goes.
 * Called under the lock.
 */
export async function refuseWhileForcedHolderRuns(stateDir: string): Promise<void> {
  const file = path.join(stateDir, FORCED_FILE);
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (text === undefined) return;
  const holder = parseHolder(text);
  if (!holder || !holderRunningHere(holder)) {
    await unlink(file).catch(() => undefined);
    return;
  }
  throw new OctohaError(
    `Run ${holder.id} (${holder.operation}) is still running as process ${holder.pid} on ${holder.host}, although \`octoha unlock --force\` released its lock`,
    {
      code: "RUN_STILL_RUNNING",
      path: file,
      exitCode: ExitCode.Failed,
      hint: `Two octoha processes would change Octopus and write one journal at once; nothing was done. That run notices its lock is gone and stops by itself within ${Math.round(HEARTBEAT_MS / 1000)} s or so (exit 3); or stop it: Ctrl-C in its terminal, or \`kill -INT ${holder.pid}\`. Once process ${holder.pid} has exited, run this command again. If process ${holder.pid} is not octoha (its pid was reused), delete ${file}.`,
    },
  );
}

/** The holder a forced-release record names, or undefined for anything else. */
function parseHolder(text: string): LockInfo | undefined {
  try {
    const holder = JSON.parse(text) as Partial<LockInfo>;
    return typeof holder.id === "string" && typeof holder.host === "string" && Number.isSafeInteger(holder.pid) && (holder.pid ?? 0) > 0
      ? (holder as LockInfo)
      : undefined;
  } catch {
    return undefined;
  }
}
