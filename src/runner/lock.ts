/**
 * One run at a time per state directory: `<stateDir>/lock.json`, created atomically (O_EXCL) and
 * holding what Terraform's LockInfo holds plus a heartbeat. A second run is refused with the
 * holder's details (exit 1, "state locked"); a stale lock is reported with the exact
 * `octoha unlock <id>` command. Only a resume/rollback of the same run whose holder is provably
 * dead (its pid is gone on this host) takes the lock over, with a warning.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rename, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { OctohaError } from "../shared/errors.js";

export const LOCK_FILE = "lock.json";
/** The holder rewrites its heartbeat this often. */
export const HEARTBEAT_MS = 10_000;
/** A heartbeat older than this marks the lock stale (the holder on another host may be gone). */
export const STALE_AFTER_MS = 120_000;

export interface LockInfo {
  /** Lock id = the run id of the holder. */
  id: string;
  operation: string;
  who: string;
  host: string;
  pid: number;
  version: string;
  created: string;
  path: string;
  heartbeat: string;
}

export type Staleness = { stale: false } | { stale: true; reason: string };

export function lockFile(stateDir: string): string {
  return path.join(stateDir, LOCK_FILE);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function staleness(info: LockInfo, now = Date.now(), staleAfterMs = STALE_AFTER_MS): Staleness {
  if (info.host === os.hostname() && !pidAlive(info.pid)) return { stale: true, reason: `process ${info.pid} on ${info.host} is no longer running` };
  const age = now - Date.parse(info.heartbeat);
  if (!(age <= staleAfterMs)) return { stale: true, reason: `its heartbeat is ${Math.round(age / 1000)} s old (limit ${Math.round(staleAfterMs / 1000)} s)` };
  return { stale: false };
}

export function describeHolder(info: LockInfo): string {
  return `run ${info.id} (${info.operation}) by ${info.who}, pid ${info.pid}, octoha ${info.version}, since ${info.created}, last heartbeat ${info.heartbeat}`;
}

export function unlockCommand(info: LockInfo, stateDir: string): string {
  return `octoha unlock ${info.id} --state-dir ${JSON.stringify(stateDir)}`;
}

export async function readLock(stateDir: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(lockFile(stateDir), "utf8")) as LockInfo;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new OctohaError(`Cannot read the lock file ${lockFile(stateDir)}`, { code: "LOCK_UNREADABLE", path: lockFile(stateDir), cause: error, hint: "If no octoha run is active, delete the file by hand." });
  }
}

export class LockedError extends OctohaError {
  constructor(readonly holder: LockInfo, stateDir: string, readonly stale: Staleness) {
    super(stale.stale ? `State directory ${stateDir} has a stale lock: ${describeHolder(holder)}` : `State directory ${stateDir} is locked by ${describeHolder(holder)}`, {
      code: stale.stale ? "STATE_LOCK_STALE" : "STATE_LOCKED",
      path: lockFile(stateDir),
      exitCode: 1,
      hint: stale.stale
        ? `The lock looks stale because ${stale.reason}. If no octoha is running against this state directory, release it with:\n  ${unlockCommand(holder, stateDir)}\nWarning: releasing a lock that a live run still holds lets two runs change Octopus at once.`
        : `One run at a time changes a cluster; wait for it to finish, or stop it (Ctrl-C) and resume later. If you are sure it is gone:\n  ${unlockCommand(holder, stateDir)}`,
    });
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

export interface HeldLock {
  info: LockInfo;
  release(): Promise<void>;
}

/**
 * Creates `file` with `info` only if it does not exist, so that whoever sees the file sees all of it:
 * the content is written and fsync'd under a private name, then hard-linked into place (link fails
 * with EEXIST when the name is taken). A reader racing an open("wx") + write could see an empty
 * file, take it for a dead holder's, and delete a live lock. Where hard links are not supported
 * (some network shares), falls back to open("wx").
 */
async function createExclusive(file: string, info: LockInfo): Promise<boolean> {
  const text = `${JSON.stringify(info, null, 2)}\n`;
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeNew(tmp, text);
    try {
      await link(tmp, file);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return false;
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw error;
      return await createWithOpen(file, text);
    }
  } catch (error) {
    throw new OctohaError(`Cannot create the lock file ${file}`, { code: "LOCK_CREATE", path: file, cause: error, hint: "The state directory must exist and be writable by this account." });
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Writes and fsyncs a file that must not exist yet (EEXIST otherwise). */
async function writeNew(file: string, text: string): Promise<void> {
  const fh = await open(file, "wx");
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function createWithOpen(file: string, text: string): Promise<boolean> {
  try {
    await writeNew(file, text);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

export async function acquireLock(options: AcquireOptions): Promise<HeldLock> {
  const { stateDir } = options;
  await mkdir(stateDir, { recursive: true });
  const file = lockFile(stateDir);
  const now = new Date().toISOString();
  const info: LockInfo = {
    id: options.runId,
    operation: options.operation,
    who: `${os.userInfo().username}@${os.hostname()}`,
    host: os.hostname(),
    pid: process.pid,
    version: options.version,
    created: now,
    path: path.resolve(stateDir),
    heartbeat: now,
  };
  if (!(await createExclusive(file, info))) {
    const holder = await readLock(stateDir);
    if (!holder) return acquireLock(options); // released between our two calls
    const stale = staleness(holder);
    const deadHere = stale.stale && holder.host === os.hostname() && !pidAlive(holder.pid);
    if (!(deadHere && holder.id === options.takeOverDeadHolderOf)) throw new LockedError(holder, stateDir, stale);
    await takeOver(stateDir, holder, info);
    options.onWarning?.(`Took over the lock of run ${holder.id}: ${stale.stale ? stale.reason : ""} (it was interrupted without releasing it).`);
  }
  // One refresh at a time, and release waits for it: a refresh finishing after release would
  // resurrect the lock file.
  let beating: Promise<void> | undefined;
  const beat = setInterval(() => {
    beating ??= refreshHeartbeat(stateDir, info)
      .catch((error: unknown) => options.onWarning?.(`Could not refresh the lock heartbeat: ${(error as Error).message}`))
      .finally(() => (beating = undefined));
  }, options.heartbeatMs ?? HEARTBEAT_MS);
  beat.unref();
  return {
    info,
    async release() {
      clearInterval(beat);
      await beating;
      const current = await readLock(stateDir).catch(() => undefined);
      if (current?.id === info.id && current.pid === info.pid) await unlink(file).catch(() => undefined);
    },
  };
}

/**
 * Replaces a dead holder's lock with ours. Two processes taking over at once must not both win
 * (one could unlink the other's fresh lock), so the swap happens under a second O_EXCL file.
 */
async function takeOver(stateDir: string, dead: LockInfo, ours: LockInfo): Promise<void> {
  const file = lockFile(stateDir);
  const guard = `${file}.takeover`;
  const guardInfo = { ...ours, heartbeat: new Date().toISOString() };
  if (!(await createExclusive(guard, guardInfo))) {
    // A takeover guard left by a process that died mid-takeover is stale like any lock.
    const other = (await readFile(guard, "utf8").then((t) => JSON.parse(t) as LockInfo).catch(() => undefined)) ?? dead;
    if (!staleness(other).stale) throw new LockedError(other, stateDir, { stale: false });
    await unlink(guard).catch(() => undefined);
    if (!(await createExclusive(guard, guardInfo))) throw new LockedError(other, stateDir, { stale: false });
  }
  try {
    const current = await readLock(stateDir);
    if (current && (current.id !== dead.id || current.pid !== dead.pid)) throw new LockedError(current, stateDir, staleness(current));
    await unlink(file).catch(() => undefined);
    if (!(await createExclusive(file, ours))) throw new LockedError((await readLock(stateDir)) ?? dead, stateDir, { stale: false });
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

async function refreshHeartbeat(stateDir: string, info: LockInfo): Promise<void> {
  const current = await readLock(stateDir);
  // Someone unlocked (and maybe relocked) behind our back: never overwrite their lock.
  if (current?.id !== info.id || current.pid !== info.pid) return;
  info.heartbeat = new Date().toISOString();
  const tmp = `${lockFile(stateDir)}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(info, null, 2)}\n`);
  await rename(tmp, lockFile(stateDir));
}

export interface UnlockResult {
  released: LockInfo;
  wasStale: boolean;
}

/** `octoha unlock ID`: releases the lock if its id matches; refuses a live holder unless forced. */
export async function unlock(stateDir: string, id: string, force = false): Promise<UnlockResult> {
  const holder = await readLock(stateDir);
  if (!holder) throw new OctohaError(`No lock in ${stateDir}`, { code: "NOT_LOCKED", path: lockFile(stateDir), exitCode: 1, hint: "Nothing to unlock; check --state-dir." });
  if (holder.id !== id) throw new OctohaError(`The lock in ${stateDir} has id ${holder.id}, not ${id}`, { code: "LOCK_ID_MISMATCH", path: lockFile(stateDir), exitCode: 2, hint: `The id protects against releasing somebody else's lock. It is held by ${describeHolder(holder)}.` });
  const stale = staleness(holder);
  if (!stale.stale && !force) {
    throw new OctohaError(`Run ${holder.id} still holds the lock and looks alive`, {
      code: "LOCK_HELD_LIVE",
      path: lockFile(stateDir),
      hint: `Held by ${describeHolder(holder)}. Stop that run (Ctrl-C lets it checkpoint) instead. If you are certain it is gone, add --force.`,
    });
  }
  await unlink(lockFile(stateDir));
  return { released: holder, wasStale: stale.stale };
}
