/**
 * Our temp files' names: `<final name>.<host>-<pid>-<random>.octoha-tmp`, unique per process and
 * created exclusively (O_EXCL), so two copies can never write into one temp file, and a temp file
 * says who wrote it. That decides whether a temp file met at the target is stale (its writer is
 * gone: remove it) or live (another process still writing it: never touch it):
 * - written on this host: stale once its process is no longer running;
 * - written on another host: stale once untouched for longer than a lock's heartbeat limit (a
 *   live copy keeps writing to it);
 * - an untagged `<name>.octoha-tmp` from an older octoha: stale (those runs took no lock, and the
 *   run that meets it holds the target's lock).
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { HOST_TAG, pidAlive, STALE_AFTER_MS } from "../shared/lock.js";
import { TEMP_SUFFIX } from "./walk.js";
import { nodeFileOps, type FileOps } from "./file-ops.js";
import { classifyFsError } from "./copy-errors.js";

/** This process's tag; the random part tells a reused pid's temp files from ours. */
const PROCESS_TAG = `${HOST_TAG}-${process.pid.toString(36)}-${randomBytes(2).toString("hex")}`;
const TAGGED = /\.([0-9a-f]{6})-([0-9a-z]{1,8})-[0-9a-f]{4}\.octoha-tmp$/;

/** The temp file this process writes `finalPath` through. */
export function tempPathFor(finalPath: string): string {
  return `${finalPath}.${PROCESS_TAG}${TEMP_SUFFIX}`;
}

/** True for a temp file (by name) whose writer is provably or presumably gone; false for our own and for live ones. */
export function isStaleTemp(name: string, mtimeMs: number, now = Date.now()): boolean {
  if (!name.endsWith(TEMP_SUFFIX)) return false;
  if (name.endsWith(`.${PROCESS_TAG}${TEMP_SUFFIX}`)) return false;
  const tag = TAGGED.exec(name);
  if (!tag) return true;
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
