/**
 * The lock-file core shared by the runner (one run per state directory) and the copy engine (one
 * copy per target folder): a JSON file created atomically, holding what Terraform's LockInfo holds
 * plus a heartbeat. The callers decide where the file lives, what the "locked" error says and
 * whether a dead holder's lock may be taken over; the rules for "stale" and "dead" live here once.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rename, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { OctohaError } from "./errors.js";

/** The holder rewrites its heartbeat this often. */
export const HEARTBEAT_MS = 10_000;
/** A heartbeat older than this marks the lock stale (the holder on another host may be gone). */
export const STALE_AFTER_MS = 120_000;

export interface LockInfo {
  /** Lock id: the run id of the holder (or the copy's id). */
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

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Stale: its pid is gone on this host, or its heartbeat is older than the limit. */
export function staleness(info: LockInfo, now = Date.now(), staleAfterMs = STALE_AFTER_MS): Staleness {
  if (info.host === os.hostname() && !pidAlive(info.pid)) return { stale: true, reason: `process ${info.pid} on ${info.host} is no longer running` };
  const age = now - Date.parse(info.heartbeat);
  if (!(age <= staleAfterMs)) return { stale: true, reason: `its heartbeat is ${Math.round(age / 1000)} s old (limit ${Math.round(staleAfterMs / 1000)} s)` };
  return { stale: false };
}

/** Provably dead: its pid is gone on this very host (a heartbeat alone proves nothing). */
export function deadHere(info: LockInfo): boolean {
  return info.host === os.hostname() && !pidAlive(info.pid);
}

export function describeHolder(info: LockInfo): string {
  return `run ${info.id} (${info.operation}) by ${info.who}, pid ${info.pid}, octoha ${info.version}, since ${info.created}, last heartbeat ${info.heartbeat}`;
}

export async function readLockFile(file: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as LockInfo;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new OctohaError(`Cannot read the lock file ${file}`, { code: "LOCK_UNREADABLE", path: file, cause: error, hint: "If no octoha run is active, delete the file by hand." });
  }
}

/** This process's LockInfo for a new lock. */
export function lockInfo(o: { id: string; operation: string; version: string; path: string }): LockInfo {
  const now = new Date().toISOString();
  return { id: o.id, operation: o.operation, who: `${os.userInfo().username}@${os.hostname()}`, host: os.hostname(), pid: process.pid, version: o.version, created: now, path: o.path, heartbeat: now };
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
    throw new OctohaError(`Cannot create the lock file ${file}`, { code: "LOCK_CREATE", path: file, cause: error, hint: "The folder must exist and be writable by this account." });
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

export interface AcquireLockFileOptions {
  file: string;
  info: LockInfo;
  /** The error that refuses this process, naming the holder (stale or not). */
  refuse: (holder: LockInfo, stale: Staleness) => OctohaError;
  /** Whether a holder that is provably dead on this host may be replaced (with a warning). */
  mayTakeOver: (holder: LockInfo) => boolean;
  heartbeatMs?: number;
  onWarning?: (message: string) => void;
}

export interface HeldLock {
  info: LockInfo;
  release(): Promise<void>;
}

export async function acquireLockFile(o: AcquireLockFileOptions): Promise<HeldLock> {
  const { file, info } = o;
  await mkdir(path.dirname(file), { recursive: true });
  if (!(await createExclusive(file, info))) {
    const holder = await readLockFile(file);
    if (!holder) return acquireLockFile(o); // released between our two calls
    const stale = staleness(holder);
    if (!(stale.stale && deadHere(holder) && o.mayTakeOver(holder))) throw o.refuse(holder, stale);
    await takeOver(file, holder, info, o.refuse);
    o.onWarning?.(`Took over the lock of ${holder.operation === "copy" ? "copy" : "run"} ${holder.id}: ${stale.reason} (it was interrupted without releasing it).`);
  }
  // One refresh at a time, and release waits for it: a refresh finishing after release would
  // resurrect the lock file.
  let beating: Promise<void> | undefined;
  const beat = setInterval(() => {
    beating ??= refreshHeartbeat(file, info)
      .catch((error: unknown) => o.onWarning?.(`Could not refresh the lock heartbeat: ${(error as Error).message}`))
      .finally(() => (beating = undefined));
  }, o.heartbeatMs ?? HEARTBEAT_MS);
  beat.unref();
  return {
    info,
    async release() {
      clearInterval(beat);
      await beating;
      const current = await readLockFile(file).catch(() => undefined);
      if (current?.id === info.id && current.pid === info.pid) await unlink(file).catch(() => undefined);
    },
  };
}

/**
 * Replaces a dead holder's lock with ours. Two processes taking over at once must not both win
 * (one could unlink the other's fresh lock), so the swap happens under a second O_EXCL file.
 */
async function takeOver(file: string, dead: LockInfo, ours: LockInfo, refuse: AcquireLockFileOptions["refuse"]): Promise<void> {
  const guard = `${file}.takeover`;
  const guardInfo = { ...ours, heartbeat: new Date().toISOString() };
  if (!(await createExclusive(guard, guardInfo))) {
    // A takeover guard left by a process that died mid-takeover is stale like any lock.
    const other = (await readFile(guard, "utf8").then((t) => JSON.parse(t) as LockInfo).catch(() => undefined)) ?? dead;
    if (!staleness(other).stale) throw refuse(other, { stale: false });
    await unlink(guard).catch(() => undefined);
    if (!(await createExclusive(guard, guardInfo))) throw refuse(other, { stale: false });
  }
  try {
    const current = await readLockFile(file);
    if (current && (current.id !== dead.id || current.pid !== dead.pid)) throw refuse(current, staleness(current));
    await unlink(file).catch(() => undefined);
    if (!(await createExclusive(file, ours))) throw refuse((await readLockFile(file)) ?? dead, { stale: false });
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

async function refreshHeartbeat(file: string, info: LockInfo): Promise<void> {
  const current = await readLockFile(file);
  // Someone unlocked (and maybe relocked) behind our back: never overwrite their lock.
  if (current?.id !== info.id || current.pid !== info.pid) return;
  info.heartbeat = new Date().toISOString();
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(info, null, 2)}\n`);
  await rename(tmp, file);
}

export interface UnlockResult {
  released: LockInfo;
  wasStale: boolean;
}

/** Releases the lock in `file` if its id matches; refuses a live holder unless forced. `where` names the locked thing. */
export async function unlockFile(file: string, where: string, id: string, force = false): Promise<UnlockResult> {
  const holder = await readLockFile(file);
  if (!holder) throw new OctohaError(`No lock in ${where}`, { code: "NOT_LOCKED", path: file, exitCode: 1, hint: "Nothing to unlock; check the folder you named." });
  if (holder.id !== id) throw new OctohaError(`The lock in ${where} has id ${holder.id}, not ${id}`, { code: "LOCK_ID_MISMATCH", path: file, exitCode: 2, hint: `The id protects against releasing somebody else's lock. It is held by ${describeHolder(holder)}.` });
  const stale = staleness(holder);
  if (!stale.stale && !force) {
    throw new OctohaError(`${holder.operation === "copy" ? "Copy" : "Run"} ${holder.id} still holds the lock and looks alive`, {
      code: "LOCK_HELD_LIVE",
      path: file,
      hint: `Held by ${describeHolder(holder)}. Stop that run (Ctrl-C lets it checkpoint) instead. If you are certain it is gone, add --force.`,
    });
  }
  await unlink(file);
  return { released: holder, wasStale: stale.stale };
}
