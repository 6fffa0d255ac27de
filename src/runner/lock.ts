/**
 * One run at a time per state directory: `<stateDir>/lock.json` (the shared lock file in
 * src/shared/lock.ts: O_EXCL, LockInfo plus a heartbeat). A second run is refused with the
 * holder's details (exit 1, "state locked"); a stale lock is reported with the exact
 * `octoha unlock <id>` command. Only a resume/rollback of the same run whose holder is provably
 * dead (its pid is gone on this host) takes the lock over, with a warning.
 */
import path from "node:path";
import { OctohaError, errnoOf } from "../shared/errors.js";
import {
  acquireLockFile,
  describeHolder,
  holderDeadHere,
  readLockFile,
  unlockFile,
  type HeldLock,
  type LockInfo,
  type Staleness,
  type UnlockResult,
} from "../shared/lock.js";
import { ExitCode } from "../shared/exit-codes.js";

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
          ? `The lock looks stale because ${stale.reason}. If no octoha is running against this state directory, release it with:\n  ${unlockCommand(holder, stateDir)}\nWarning: releasing a lock that a live run still holds lets two runs change Octopus at once.`
          : `One run at a time changes a cluster; wait for it to finish, or stop it (Ctrl-C) and resume later. If you are sure it is gone:\n  ${unlockCommand(holder, stateDir)}`,
      },
    );
  }
}

export interface AcquireOptions {
  stateDir: string;
  runId: string;
  operation: string;
  version: string;
  /** Resume/rollback of this run may take over its own lock when the holder's pid is dead here. */
  takeOverDeadHolderOf?: string;
  heartbeatMs?: number;
  onWarning?: (message: string) => void;
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
    refuse: (holder, stale) => new LockedError(holder, stateDir, stale),
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
  }).catch((error: unknown) => {
    // A bare errno (making the folder), or the one under "Cannot create the lock file".
    const cause = error instanceof OctohaError ? (error.code === "LOCK_CREATE" ? error.cause : undefined) : error;
    throw notWritable(cause, stateDir) ?? error;
  });
}

/** `octoha unlock ID`: releases the lock if its id matches; refuses a live holder unless forced. */
export function unlock(stateDir: string, id: string, force = false): Promise<UnlockResult> {
  return unlockFile(lockFile(stateDir), id, stateDir, force);
}
