/**
 * One writer at a time per copy target: `<target>/.octoha/copy-lock.json`, the same lock file as
 * the runner's (src/shared/lock.ts: O_EXCL, user@host, pid, heartbeat). Two copies into one folder
 * at once would each take the other's names for free and the other's temp files for stale; so a
 * second copy, or a run from another state directory, is refused naming the holder. A lock whose
 * holder is provably dead (its process is gone on this host: a kill -9, a crash) is taken over, as
 * a resume takes over its own run's lock, so re-running the same copy continues it. A lock that is
 * stale only by its heartbeat (a holder on another machine) is refused with the unlock command.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { rmdir } from "node:fs/promises";
import { OctohaError, errnoOf } from "../shared/errors.js";
import { classifyFsError } from "./copy-errors.js";
import {
  acquireLockFile,
  describeHolder,
  holderDeadHere,
  readLockFile,
  silentHolderNote,
  unlockFile,
  type HeldLock,
  type LockInfo,
  type Staleness,
  type UnlockResult,
} from "../shared/lock.js";
import { OCTOHA_VERSION } from "../shared/version.js";
import { STATE_FOLDER } from "./walk.js";
import { ExitCode } from "../shared/exit-codes.js";

const TARGET_LOCK_FILE = "copy-lock.json";

/** Who takes a target's lock: a run's id and step, or a copy of its own. */
export interface LockOwner {
  id: string;
  operation: string;
}

export function targetLockFile(target: string): string {
  return path.join(target, STATE_FOLDER, TARGET_LOCK_FILE);
}

function targetUnlockCommand(info: LockInfo, target: string): string {
  return `octoha unlock ${info.id} --target ${JSON.stringify(target)}`;
}

/** An id for a copy that is not part of a run. */
function newCopyLockId(): string {
  return `copy-${new Date().toISOString().replace(/[-:]|\.\d+/g, "")}-${randomBytes(3).toString("hex")}`;
}

/** What to do about a live holder: wait for it; a suspended one (Ctrl-Z) is brought back or ended first. */
function liveHolderAdvice(holder: LockInfo, unlock: string): string {
  const silent = silentHolderNote(holder);
  return silent
    ? `${silent} Only if you are sure it must not go on:\n  ${unlock} --force`
    : `Wait for it to finish, then run this again. If you are sure it is gone:\n  ${unlock}`;
}

export class TargetLockedError extends OctohaError {
  constructor(
    readonly holder: LockInfo,
    target: string,
    readonly stale: Staleness,
  ) {
    const unlock = targetUnlockCommand(holder, target);
    super(
      stale.stale
        ? `The copy target ${target} has a stale lock: ${describeHolder(holder)}`
        : `The copy target ${target} is locked by ${describeHolder(holder)}`,
      {
        code: stale.stale ? "COPY_TARGET_LOCK_STALE" : "COPY_TARGET_LOCKED",
        path: targetLockFile(target),
        exitCode: ExitCode.Failed,
        hint: stale.stale
          ? `The lock looks stale because ${stale.reason}. If no octoha is copying into this folder any more, release it with:\n  ${unlock}\n` +
            "Warning: releasing a lock a live copy still holds lets two copies write this folder at once (files lost or corrupted)."
          : "Another octoha copy (or a run with another state directory) is writing into this folder, and two at once would corrupt it. " +
            `Nothing was written. ${liveHolderAdvice(holder, unlock)}`,
      },
    );
  }
}

export interface TargetLockOptions {
  target: string;
  /** A run's step; absent: a copy of its own (newCopyLockId). */
  owner?: LockOwner | undefined;
  onWarning?: (message: string) => void;
  /** The heartbeat found the lock released or taken by another (`octoha unlock --target … --force`): see LockFileOptions.onLost. */
  onLost?: (now: LockInfo | undefined) => void;
  /** How often the holder refreshes its heartbeat (tests); default HEARTBEAT_MS. */
  heartbeatMs?: number | undefined;
}

/** Takes the target's lock (creating `<target>/.octoha`), or throws TargetLockedError naming the holder. */
export async function lockTarget(o: TargetLockOptions): Promise<HeldLock> {
  const file = targetLockFile(o.target);
  const owner = o.owner ?? { id: newCopyLockId(), operation: "copy" };
  // Leave no empty .octoha behind (a Packages folder is Octopus's own repository).
  const removeEmptyFolder = (): Promise<void> => rmdir(path.dirname(file)).catch(() => undefined);
  let held: HeldLock;
  try {
    held = await acquireLockFile({
      file,
      holder: { id: owner.id, operation: owner.operation, version: OCTOHA_VERSION, path: path.resolve(o.target) },
      mayTakeOver: (holder) => holderDeadHere(holder),
      refuse: (holder, stale) => new TargetLockedError(holder, o.target, stale),
      ...(o.onWarning ? { onWarning: o.onWarning } : {}),
      ...(o.onLost ? { onLost: o.onLost } : {}),
      ...(o.heartbeatMs ? { heartbeatMs: o.heartbeatMs } : {}),
    });
  } catch (error) {
    await removeEmptyFolder();
    throw lockFailure(error, path.dirname(file));
  }
  return {
    info: held.info,
    isHeld: () => held.isHeld(),
    async release() {
      await held.release();
      await removeEmptyFolder();
    },
  };
}

/**
 * A file-system error making `.octoha` or writing the lock in it, in the copy's own words: a
 * read-only or immutable target said "internal error" (the bare errno of the folder's mkdir) or
 * "Cannot create the lock file". A refusal naming the holder, or a lock octoha cannot read, passes.
 */
function lockFailure(error: unknown, folder: string): unknown {
  const cause = error instanceof OctohaError ? (error.code === "LOCK_CREATE" ? error.cause : undefined) : error;
  if (errnoOf(cause) === undefined) return error;
  // The folder the failing call wrote into (the target, for making `.octoha`): the one to fix.
  const at = (cause as { path?: unknown }).path;
  return classifyFsError(cause, { side: "target", path: typeof at === "string" ? path.dirname(at) : folder });
}

/**
 * A copy with nothing left to do takes no lock, so a lock its killed predecessor left (a kill -9
 * after the last file was written, before the lock was let go) stayed on the target after the re-run
 * finished: found by the kill soak. A copy from another machine is then refused by it, and an
 * administrator sees it on the share. Such a lock, its holder provably dead here, is taken over and
 * let go. Best effort: a lock another copy has meanwhile taken, or an unreadable one, is left to the
 * next copy that needs the lock.
 */
export async function releaseDeadLock(o: TargetLockOptions): Promise<void> {
  try {
    const holder = await readLockFile(targetLockFile(o.target));
    if (!holder || !holderDeadHere(holder)) return;
    await (await lockTarget(o)).release();
  } catch {
    // See above: left as it is.
  }
}

/**
 * What a copy says when its target lock was released (`octoha unlock --target … --force`) or taken
 * while it ran: it stopped, so that two copies never write one folder at once. Resumable: what it
 * copied is recorded, and the same command continues once the other is done.
 */
export function targetLockLostError(target: string, now: LockInfo | undefined, finished = false): OctohaError {
  const holder = now ? `, and is now held by ${describeHolder(now)}` : "";
  return new OctohaError(
    finished
      ? `The copy into ${target} wrote every file, but its lock was released while it ran (\`octoha unlock --target --force\`)${holder}`
      : `The copy into ${target} stopped: its lock was released while it ran (\`octoha unlock --target --force\`)${holder}`,
    {
      code: "COPY_LOCK_LOST",
      path: targetLockFile(target),
      exitCode: ExitCode.Resumable,
      hint: finished
        ? "Another copy may have read this one's files while they were being written (and taken them for different files: collisions that are not). " +
          "Once no other octoha copies into this folder, run the same command again: it verifies what is there and changes nothing that is right."
        : "Two copies writing one folder at once would take each other's files for their own, so this one stopped at once. " +
          "What it copied so far is recorded and verified. Once no other octoha copies into this folder, run the same command again: it continues.",
    },
  );
}

/** `octoha unlock ID --target DST`. */
export function unlockTarget(target: string, id: string, force = false): Promise<UnlockResult> {
  return unlockFile(targetLockFile(target), id, `the copy target ${target}`, force);
}
