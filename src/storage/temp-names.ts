/**
 * Our temp files' names: `<final name>.<host>-<pid>-<random>.octoha-tmp`, unique per process and
 * created exclusively (O_EXCL), so two copies can never write into one temp file, and a temp file
 * says who wrote it. That decides whether a temp file met at the target is stale (its writer is
 * gone: remove it) or live (another process still writing it: never touch it):
 * - written on this host: stale once its process is no longer running;
 * - written on another host: stale once untouched for longer than a lock's heartbeat limit (a
 *   live copy keeps writing to it);
 * - an untagged `<name>.octoha-tmp`: never stale, never removed. Only the tag proves octoha wrote
 *   it: the name may be a user's file (a source's is reported, not copied, but the target holds
 *   whatever it holds). An older octoha's untagged temp files are left too: at worst a stray file
 *   stays, where removing one would lose a user's file.
 * A name is at most 255 bytes (ext4, NAME_MAX) or 255 UTF-16 units (NTFS, SMB): for a final name
 * too long to carry the tag, the temp name keeps a prefix of it and a hash of the whole (fitName).
 */
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import { HOST_TAG, pidAlive, STALE_AFTER_MS } from "../shared/lock.js";
import { TEMP_SUFFIX } from "./walk.js";
import { nodeFileOps, readFully, writeFully, type FileOps } from "./file-ops.js";
import { classifyFsError } from "./copy-errors.js";

/** This process's tag; the random part tells a reused pid's temp files from ours. */
const PROCESS_TAG = `${HOST_TAG}-${process.pid.toString(36)}-${randomBytes(2).toString("hex")}`;
const TAGGED = /\.([0-9a-f]{6})-([0-9a-z]{1,8})-[0-9a-f]{4}\.octoha-tmp$/;

/** The longest name one folder entry may have: 255 bytes in UTF-8 (Linux NAME_MAX) and 255 UTF-16 units (NTFS, SMB). */
export const NAME_MAX = 255;
/** `.<host>-<pid>-<random>.octoha-tmp` at its longest (a pid of 8 base-36 digits, as TAGGED allows). */
const LONGEST_TEMP_SUFFIX = `.${HOST_TAG}-${"z".repeat(8)}-0000${TEMP_SUFFIX}`.length;
/** `~` and 8 hex digits of the whole name's SHA-256: what keeps a shortened name unique to its name. */
const HASH_MARK = 9;

function fits(name: string, room: number): boolean {
  return Buffer.byteLength(name) <= room && name.length <= room;
}

/**
 * `name` when `name` plus `room` more characters fits in one folder entry; otherwise its longest
 * prefix (cut between characters) that leaves room for `~<8 hex>` and them. The same name always
 * gives the same result, and two names that share the prefix give different ones.
 */
export function fitName(name: string, room: number): string {
  if (fits(name, NAME_MAX - room)) return name;
  const budget = NAME_MAX - room - HASH_MARK;
  let cut = "";
  let bytes = 0;
  for (const character of name) {
    bytes += Buffer.byteLength(character);
    if (bytes > budget || cut.length + character.length > budget) break;
    cut += character;
  }
  return `${cut}~${createHash("sha256").update(name).digest("hex").slice(0, 8)}`;
}

/**
 * What every writer's temp name for `finalName` starts with, whatever its tag: the name itself and
 * a dot, or for a long name its shortened form (sized for the longest tag, so it is one per name).
 */
export function tempPrefixFor(finalName: string): string {
  return `${fitName(finalName, LONGEST_TEMP_SUFFIX)}.`;
}

/** The temp file this process writes `finalPath` through, beside it. */
export function tempPathFor(finalPath: string): string {
  const name = path.basename(finalPath);
  return `${finalPath.slice(0, finalPath.length - name.length)}${tempPrefixFor(name)}${PROCESS_TAG}${TEMP_SUFFIX}`;
}

/** A name octoha's temp files have: ending in its tag and TEMP_SUFFIX (an untagged `*.octoha-tmp` may be anyone's). */
export function isTaggedTemp(name: string): boolean {
  return TAGGED.test(name);
}

/**
 * True for a temp file of ours (tagged) whose writer is provably or presumably gone; false for this
 * process's, for live ones, and for any name without our tag (see the top of this file).
 */
export function isStaleTemp(name: string, mtimeMs: number, now = Date.now()): boolean {
  if (name.endsWith(`.${PROCESS_TAG}${TEMP_SUFFIX}`)) return false;
  const tag = TAGGED.exec(name);
  if (!tag) return false;
  if (tag[1] === HOST_TAG) return !pidAlive(Number.parseInt(tag[2]!, 36));
  return now - mtimeMs > STALE_AFTER_MS;
}

/** Which stale temp files removeStaleTemps looks for. */
export interface SweepOptions {
  /** Only `root` itself, not its sub-folders (a folder beside the manifest holds the whole quarantine). */
  shallow?: boolean;
  /** Only names that start with this (the temp files of one final name). */
  prefix?: string;
}

/** Remove the temp files of copies that are gone (a kill -9, a crash) under `root`, its .octoha folder included. */
export async function removeStaleTemps(root: string, ops: FileOps = nodeFileOps, o: SweepOptions = {}): Promise<string[]> {
  const removed: string[] = [];
  const now = Date.now();
  const pending = [root];
  while (pending.length > 0) {
    const folder = pending.pop()!;
    try {
      for await (const chunk of ops.list(folder)) {
        for (const e of chunk) {
          const at = path.join(folder, e.name);
          if (e.isDirectory) {
            if (!o.shallow) pending.push(at);
          } else if (
            e.name.endsWith(TEMP_SUFFIX) &&
            (o.prefix === undefined || e.name.startsWith(o.prefix)) &&
            isStaleTemp(e.name, e.mtimeMs, now)
          ) {
            if (
              await ops.unlink(at).then(
                () => true,
                () => false,
              )
            )
              removed.push(at);
          }
        }
      }
    } catch (error) {
      if ((error as { code?: string }).code !== "ENOENT") throw classifyFsError(error, { side: "target", path: folder });
    }
  }
  return removed;
}

/**
 * A small state file beside a manifest (its target, its sources) replaced whole: written to a temp
 * name, synced, then renamed over the old one, so a reader sees the old text or the new, never a
 * part. A kill -9's temp file from an earlier write is swept first: it sits in a folder no copy
 * pass lists (as the snapshot's does).
 */
export async function replaceSmallFile(ops: FileOps, file: string, text: string): Promise<void> {
  await removeStaleTemps(path.dirname(file), ops, { shallow: true, prefix: tempPrefixFor(path.basename(file)) }).catch(() => undefined);
  const temp = tempPathFor(file);
  try {
    await ops.mkdir(path.dirname(file));
    const out = await ops.open(temp, "wx");
    try {
      await writeFully(out, Buffer.from(text));
      await out.sync();
    } finally {
      await out.close();
    }
    await ops.rename(temp, file);
  } catch (error) {
    await ops.unlink(temp).catch(() => undefined);
    throw classifyFsError(error, { side: "target", path: file });
  }
}

/** A small state file's text (its first `max` bytes), or undefined when there is none. Other errors are thrown as they are. */
export async function readSmallFile(ops: FileOps, file: string, max: number): Promise<string | undefined> {
  let handle;
  try {
    handle = await ops.open(file, "r");
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    const bytes = Buffer.alloc(Math.min((await handle.stat()).size, max));
    return bytes.toString("utf8", 0, await readFully(handle, bytes, 0));
  } finally {
    await handle.close();
  }
}
