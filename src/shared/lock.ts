/**
 * A lock file that one process at a time holds: created atomically (O_EXCL through a hard link),
 * holding what Terraform's LockInfo holds plus a heartbeat the holder refreshes. Two users share it:
 * the runner's state-directory lock (src/runner/lock.ts) and the copy engine's target lock
 * (src/storage/target-lock.ts). Each decides what a refusal says and whether a holder found in the
 * file may be replaced; the stale-lock rules and the file handling live here, once.
 */
import { createHash, randomBytes } from "node:crypto";
import { link, lstat, open, readFile, readdir, rename, unlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { OctohaError } from "./errors.js";
import { fileInThePath } from "./file-in-path.js";
import { makeFolder } from "./make-folder.js";
import { ExitCode } from "./exit-codes.js";

/** The holder rewrites its heartbeat this often. */
export const HEARTBEAT_MS = 10_000;
/**
 * A heartbeat older than this marks the lock stale when its holder is on another host (it may be
 * gone). On this host the holder's pid decides: a run suspended with Ctrl-Z beats no more, yet lives.
 */
export const STALE_AFTER_MS = 120_000;
/** Clock adjustments move a computed boot time a little; a restart moves it by more. */
const BOOT_SLACK_MS = 60_000;

/**
 * When this host started, to the second (wall clock less uptime; Windows too). A lock records it:
 * after a restart, the pid it names may be another program's.
 */
export function hostBootTime(): string {
  return new Date(Math.round((Date.now() - os.uptime() * 1000) / 1000) * 1000).toISOString();
}

/** This host, as temp file names tag it (a hostname can hold characters a file name cannot). */
export const HOST_TAG = createHash("sha256").update(os.hostname().toLowerCase()).digest("hex").slice(0, 6);
const LOCK_TEMP = /\.([0-9a-f]{6})-([0-9a-z]{1,8})-[0-9a-f]{8}\.tmp$/;

/**
 * The private name a lock file is written under before it is linked or renamed into place. It says
 * who wrote it, so a kill -9 in between leaves a file the next holder can tell is stale.
 */
function lockTempPath(file: string): string {
  return `${file}.${HOST_TAG}-${process.pid.toString(36)}-${randomBytes(4).toString("hex")}.tmp`;
}

/**
 * A lock's temp file (`<lock>.….tmp`) whose writer is gone: on this host, its process is not
 * running; from another host (or untagged, from an older octoha), untouched for STALE_AFTER_MS.
 * A live one belongs to a process racing for the lock, for a few milliseconds.
 */
function isStaleLockTemp(name: string, mtimeMs: number, now = Date.now()): boolean {
  if (!name.endsWith(".tmp")) return false;
  const tag = LOCK_TEMP.exec(name);
  if (tag?.[1] === HOST_TAG) return tag[2] !== process.pid.toString(36) && !pidAlive(Number.parseInt(tag[2]!, 36));
  return now - mtimeMs > STALE_AFTER_MS;
}

/** Removes the stale temp files of the lock in `file` (held by this process: nobody else writes the lock itself now). */
async function removeStaleLockTemps(file: string): Promise<void> {
  const folder = path.dirname(file);
  const prefix = `${path.basename(file)}.`;
  const now = Date.now();
  const names = await readdir(folder).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(".tmp")) continue;
    const at = path.join(folder, name);
    const stat = await lstat(at).catch(() => undefined);
    if (stat?.isFile() && isStaleLockTemp(name, stat.mtimeMs, now)) await unlink(at).catch(() => undefined);
  }
}

export interface LockInfo {
  /** Lock id: the run id of the holder (or a copy's own id). */
  id: string;
  operation: string;
  who: string;
  host: string;
  pid: number;
  /** When the holder's host started (hostBootTime); absent in locks an older octoha wrote. */
  boot?: string;
  version: string;
  created: string;
  /** What is locked: the state directory, or the copy target. */
  path: string;
  heartbeat: string;
}

export type Staleness = { stale: false } | { stale: true; reason: string };

/** True while a process with this pid exists on this host (EPERM: it exists but is someone else's). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Taken before this host last restarted: its process is gone, whatever now runs under its pid. Both
 * the recorded boot and the last heartbeat must predate this boot, so that a wall clock set forward
 * after the boot (NTP) does not pass a live holder for a gone one.
 */
function fromEarlierBoot(info: LockInfo): boolean {
  if (info.boot === undefined) return false;
  const thisBoot = Date.parse(hostBootTime());
  return Date.parse(info.boot) < thisBoot - BOOT_SLACK_MS && Date.parse(info.heartbeat) < thisBoot;
}

/** Running on this very host: its pid is alive and was not taken before a restart (a pid elsewhere cannot be checked). */
export function holderRunningHere(info: LockInfo): boolean {
  return info.host === os.hostname() && pidAlive(info.pid) && !fromEarlierBoot(info);
}

export function staleness(info: LockInfo, now = Date.now(), staleAfterMs = STALE_AFTER_MS): Staleness {
  if (info.host === os.hostname()) {
    if (!pidAlive(info.pid)) return { stale: true, reason: `process ${info.pid} on ${info.host} is no longer running` };
    if (fromEarlierBoot(info))
      return { stale: true, reason: `${info.host} has restarted since process ${info.pid} took it (that pid is another program's now)` };
    // Alive here: a run suspended with Ctrl-Z (SIGSTOP) beats no more but carries on after `fg`.
    // A lock without the boot time (an older octoha's) keeps the heartbeat rule: its pid may be reused.
    if (info.boot !== undefined) return { stale: false };
  }
  const age = now - Date.parse(info.heartbeat);
  if (!(age <= staleAfterMs))
    return { stale: true, reason: `its heartbeat is ${Math.round(age / 1000)} s old (limit ${Math.round(staleAfterMs / 1000)} s)` };
  return { stale: false };
}

/** Provably gone: its process is no longer running on this very host, or the host restarted since (a stale heartbeat alone is not proof). */
export function holderDeadHere(info: LockInfo): boolean {
  return info.host === os.hostname() && !holderRunningHere(info);
}

/**
 * What to do about a holder alive on this host whose heartbeat stopped (suspended with Ctrl-Z, or
 * frozen), or undefined for any other holder. Refusals add it to their hint.
 */
export function silentHolderNote(info: LockInfo, now = Date.now()): string | undefined {
  const age = now - Date.parse(info.heartbeat);
  if (!(age > STALE_AFTER_MS) || !holderRunningHere(info)) return undefined;
  return (
    `Its process ${info.pid} is alive on this host but has not refreshed the lock for ${Math.round(age / 1000)} s: it is perhaps suspended (Ctrl-Z). ` +
    `Bring it back with \`fg\` in its terminal, or end it (\`kill -INT ${info.pid}\`, then \`kill -CONT ${info.pid}\` if it is suspended).`
  );
}

export function describeHolder(info: LockInfo): string {
  return `run ${info.id} (${info.operation}) by ${info.who}, pid ${info.pid}, octoha ${info.version}, since ${info.created}, last heartbeat ${info.heartbeat}`;
}

/** The lock in `file`, or undefined when there is none. */
export async function readLockFile(file: string): Promise<LockInfo | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    const blocking = code === "ENOTDIR" ? fileInThePath(path.dirname(file)) : undefined;
    if (blocking !== undefined)
      throw new OctohaError(`Cannot read the lock file ${file}: '${blocking}' is a file, not a folder`, {
        code: "LOCK_UNREADABLE",
        path: blocking,
        cause: error,
        hint: "Give the state directory (--state-dir) or the copy target (--target): a folder.",
      });
    throw new OctohaError(code === "EISDIR" ? `The lock file ${file} is a folder` : `Cannot read the lock file ${file}`, {
      code: "LOCK_UNREADABLE",
      path: file,
      cause: error,
      hint:
        code === "EISDIR"
          ? "It is not octoha's (octoha writes its lock as a file). Move or rename it, then run the command again."
          : "Check that this account may read it. If no octoha run is active, delete the file by hand.",
    });
  }
  const info = lockInfoOf(text);
  // A lock that says nothing usable is never taken over or ignored: whoever wrote it may be copying.
  if (!info)
    throw new OctohaError(`The lock file ${file} is not a lock octoha wrote (it was edited, or damaged on disk)`, {
      code: "LOCK_UNREADABLE",
      path: file,
      hint: "It cannot say who holds the lock or whether they are still running. Make sure no octoha run or copy is using this folder, then delete the file by hand.",
    });
  return info;
}

/** The lock a file's text holds: its holder's id, host, pid and heartbeat at least; undefined for anything else. */
function lockInfoOf(text: string): LockInfo | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const r = parsed as Record<string, unknown>;
  const textAt = (key: keyof LockInfo): string | undefined =>
    typeof r[key] === "string" && r[key] !== "" ? (r[key] as string) : undefined;
  const [id, host, heartbeat] = [textAt("id"), textAt("host"), textAt("heartbeat")];
  if (!id || !host || !heartbeat || Number.isNaN(Date.parse(heartbeat))) return undefined;
  if (!Number.isSafeInteger(r.pid) || (r.pid as number) <= 0) return undefined;
  const shown = (key: keyof LockInfo): string => textAt(key) ?? "(not recorded)";
  const boot = textAt("boot");
  return {
    id,
    operation: shown("operation"),
    who: shown("who"),
    host,
    pid: r.pid as number,
    // An unreadable boot time is as good as none: the heartbeat rule, as for an older octoha's lock.
    ...(boot !== undefined && !Number.isNaN(Date.parse(boot)) ? { boot } : {}),
    version: shown("version"),
    created: shown("created"),
    path: shown("path"),
    heartbeat,
  };
}

export interface LockFileOptions {
  file: string;
  /** Who takes the lock; the rest (user@host, pid, times) is filled in. */
  holder: Pick<LockInfo, "id" | "operation" | "version" | "path">;
  /** Whether a holder found in the file may be replaced (only ever asked about a stale one). */
  mayTakeOver(holder: LockInfo, stale: Staleness): boolean;
  /** The error a refusal throws, naming the holder. */
  refuse(holder: LockInfo, stale: Staleness): Error;
  heartbeatMs?: number;
  onWarning?: (message: string) => void;
  /**
   * Called once when a heartbeat finds the lock file no longer ours (`octoha unlock --force`, or
   * deleted by hand), with what it holds now (undefined: nothing).
   */
  onLost?: (now: LockInfo | undefined) => void;
}

export interface HeldLock {
  info: LockInfo;
  /**
   * Whether the lock file still names this holder. False once it names another or none; true when
   * it cannot be read (a glitch of the share must not stop a run: its journal write would fail by itself).
   */
  isHeld(): Promise<boolean>;
  release(): Promise<void>;
}

/** Whether `current` (the lock file's content) is the lock `ours` took. */
const isOurs = (current: LockInfo | undefined, ours: LockInfo): boolean =>
  current?.id === ours.id && current.pid === ours.pid && current.host === ours.host && current.created === ours.created;

/**
 * Creates `file` with `info` only if it does not exist, so that whoever sees the file sees all of it:
 * the content is written and fsync'd under a private name, then hard-linked into place (link fails
 * with EEXIST when the name is taken). A reader racing an open("wx") + write could see an empty
 * file, take it for a dead holder's, and delete a live lock. Where hard links are not supported
 * (some network shares), falls back to open("wx").
 */
async function createExclusive(file: string, info: LockInfo): Promise<boolean> {
  const text = `${JSON.stringify(info, null, 2)}\n`;
  const tmp = lockTempPath(file);
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
    throw new OctohaError(`Cannot create the lock file ${file}`, {
      code: "LOCK_CREATE",
      path: file,
      cause: error,
      hint: "The folder must exist and be writable by this account.",
    });
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

export async function acquireLockFile(o: LockFileOptions): Promise<HeldLock> {
  const { file } = o;
  await makeFolder(path.dirname(file)).catch((error: unknown) => {
    const blocking = fileInThePath(path.dirname(file));
    if (blocking === undefined) throw error;
    throw new OctohaError(`Cannot make the folder ${path.dirname(file)} for the lock file: '${blocking}' is a file, not a folder`, {
      code: "LOCK_FOLDER_BLOCKED",
      path: blocking,
      cause: error,
      hint: "The state directory (or a copy target's .octoha) must be a folder. The file is not octoha's: move or rename it, or choose another --state-dir, then run the command again.",
    });
  });
  const now = new Date().toISOString();
  const { id, operation, version } = o.holder;
  // Key order as LockInfo declares it (the file is read by people).
  const ordered: LockInfo = {
    id,
    operation,
    who: `${os.userInfo().username}@${os.hostname()}`,
    host: os.hostname(),
    pid: process.pid,
    boot: hostBootTime(),
    version,
    created: now,
    path: o.holder.path,
    heartbeat: now,
  };
  for (;;) {
    if (await createExclusive(file, ordered)) break;
    const holder = await readLockFile(file);
    if (!holder) continue; // released between our two calls
    const stale = staleness(holder);
    if (!stale.stale || !o.mayTakeOver(holder, stale)) throw o.refuse(holder, stale);
    await takeOver(file, holder, ordered, o.refuse);
    o.onWarning?.(`Took over the lock of run ${holder.id}: ${stale.reason} (it was interrupted without releasing it).`);
    break;
  }
  // A kill -9 between a temp file's write and its link or rename left it beside the lock for good.
  await removeStaleLockTemps(file);
  // One refresh at a time, and release waits for it: a refresh finishing after release would
  // resurrect the lock file.
  let beating: Promise<void> | undefined;
  let lost = false;
  const beat = setInterval(() => {
    beating ??= refreshHeartbeat(file, ordered)
      .then((now) => {
        if (now.ours || lost) return;
        lost = true;
        o.onLost?.(now.holder);
      })
      .catch((error: unknown) => o.onWarning?.(`Could not refresh the lock heartbeat: ${(error as Error).message}`))
      .finally(() => (beating = undefined));
  }, o.heartbeatMs ?? HEARTBEAT_MS);
  beat.unref();
  return {
    info: ordered,
    async isHeld() {
      try {
        return isOurs(await readLockFile(file), ordered);
      } catch {
        return true;
      }
    },
    async release() {
      clearInterval(beat);
      await beating;
      const current = await readLockFile(file).catch(() => undefined);
      if (isOurs(current, ordered)) await unlink(file).catch(() => undefined);
    },
  };
}

/**
 * Replaces a dead holder's lock with ours. Two processes taking over at once must not both win
 * (one could unlink the other's fresh lock), so the swap happens under a second O_EXCL file.
 */
async function takeOver(file: string, dead: LockInfo, ours: LockInfo, refuse: LockFileOptions["refuse"]): Promise<void> {
  const guard = `${file}.takeover`;
  const guardInfo = { ...ours, heartbeat: new Date().toISOString() };
  if (!(await createExclusive(guard, guardInfo))) {
    // A takeover guard left by a process that died mid-takeover is stale like any lock.
    const other = (await readFile(guard, "utf8").then(lockInfoOf, () => undefined)) ?? dead;
    if (!staleness(other).stale) throw refuse(other, { stale: false });
    await unlink(guard).catch(() => undefined);
    if (!(await createExclusive(guard, guardInfo))) throw refuse(other, { stale: false });
  }
  try {
    const current = await readLockFile(file);
    if (current && (current.id !== dead.id || current.pid !== dead.pid)) throw refuse(current, staleness(current));
    if (!current) {
      // Released meanwhile: an ordinary create, which another acquirer may win.
      if (!(await createExclusive(file, ours))) throw refuse((await readLockFile(file)) ?? dead, { stale: false });
      return;
    }
    // The dead holder's file is replaced in one step. Unlinking it and creating ours left a moment with
    // no lock file, in which another acquirer's plain create won without the takeover (and its warning).
    await replaceLockFile(file, ours);
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

/**
 * Writes `info` (fsync'd) under a private name and renames it over `file`; with `mayReplace`, only
 * if it still says yes once the new file is written (false: nothing replaced, false returned).
 */
async function replaceLockFile(file: string, info: LockInfo, mayReplace?: () => Promise<boolean>): Promise<boolean> {
  const tmp = lockTempPath(file);
  try {
    await writeNew(tmp, `${JSON.stringify(info, null, 2)}\n`);
    if (mayReplace && !(await mayReplace())) return false;
    await rename(tmp, file);
    return true;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Refreshes our heartbeat; when the file is no longer ours, says what it holds instead. The new
 * file is written and fsync'd first, and only then is the lock read and, if still ours, renamed
 * over: a lock taken by someone else (after `unlock --force`) during the write and fsync was
 * overwritten by ours, and two copies went on writing one target (a CI run caught it). What remains
 * is the instant between the read and the rename: a file system has no compare-and-swap.
 */
async function refreshHeartbeat(file: string, info: LockInfo): Promise<{ ours: boolean; holder: LockInfo | undefined }> {
  const heartbeat = new Date().toISOString();
  let current: LockInfo | undefined;
  // Someone unlocked (and maybe relocked) behind our back: never overwrite their lock.
  const stillOurs = async (): Promise<boolean> => isOurs((current = await readLockFile(file)), info);
  const ours = await replaceLockFile(file, { ...info, heartbeat }, stillOurs);
  if (ours) info.heartbeat = heartbeat;
  return { ours, holder: current };
}

export interface UnlockResult {
  released: LockInfo;
  wasStale: boolean;
}

/** Releases the lock in `file` if its id matches; refuses a live holder unless forced. `what` names the locked thing in messages. */
export async function unlockFile(file: string, id: string, what: string, force = false): Promise<UnlockResult> {
  const holder = await readLockFile(file);
  if (!holder)
    throw new OctohaError(`No lock in ${what}`, {
      code: "NOT_LOCKED",
      path: file,
      exitCode: ExitCode.Failed,
      hint: "Nothing to unlock; check the --state-dir (or --target) given.",
    });
  if (holder.id !== id)
    throw new OctohaError(`The lock in ${what} has id ${holder.id}, not ${id}`, {
      code: "LOCK_ID_MISMATCH",
      path: file,
      exitCode: ExitCode.BadInput,
      hint: `The id protects against releasing somebody else's lock. It is held by ${describeHolder(holder)}.`,
    });
  const stale = staleness(holder);
  if (!stale.stale && !force) {
    const silent = silentHolderNote(holder);
    throw new OctohaError(
      silent
        ? `Run ${holder.id} still holds the lock: its process ${holder.pid} is alive on this host (perhaps suspended)`
        : `Run ${holder.id} still holds the lock and looks alive`,
      {
        code: "LOCK_HELD_LIVE",
        path: file,
        hint: silent
          ? `Held by ${describeHolder(holder)}. ${silent} Only if you are sure it must not go on, add --force.`
          : `Held by ${describeHolder(holder)}. Stop that run (Ctrl-C lets it checkpoint) instead. If you are certain it is gone, add --force.`,
      },
    );
  }
  await unlink(file);
  return { released: holder, wasStale: stale.stale };
}
