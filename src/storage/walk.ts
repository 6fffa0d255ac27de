/**
 * Streaming, read-only walk of a node folder. Memory is bounded by one directory's sub-folder
 * names, never by the tree: a million files are never held at once. Entries of one directory come
 * out together (files and sub-folders), then each sub-folder in turn, so a consumer can keep just
 * one target-folder index at a time.
 */
import path from "node:path";
import type { DirEntry, FileOps } from "./file-ops.js";
import { classifyFsError } from "./copy-errors.js";

/** Our own temp files: never inventoried, never copied, cleaned from the target. */
export const TEMP_SUFFIX = ".octoha-tmp";
/** Our own state folder (manifest, quarantine) at the root of a copy target. */
export const STATE_FOLDER = ".octoha";

export type WalkEntry =
  | { type: "file"; relPath: string; parentRel: string; name: string; size: number; mtimeMs: number; atimeMs: number }
  | { type: "dir"; relPath: string; parentRel: string; name: string }
  /** A symlink, device or socket: not copied, reported. */
  | { type: "other"; relPath: string; parentRel: string; name: string }
  /** A sub-folder or file that could not be listed or stat'ed. */
  | { type: "error"; relPath: string; parentRel: string; name: string; error: unknown };

const STAT_BATCH = 64;

function join(parentRel: string, name: string): string {
  return parentRel === "" ? name : `${parentRel}/${name}`;
}

export function isOwnName(parentRel: string, name: string): boolean {
  return name.endsWith(TEMP_SUFFIX) || (parentRel === "" && name === STATE_FOLDER);
}

/**
 * Walk root. A missing or unreadable root throws (fatal, with the Octopus docs' wording); a
 * sub-folder that cannot be read becomes an "error" entry and the walk carries on.
 */
export async function* walkTree(ops: FileOps, root: string): AsyncGenerator<WalkEntry> {
  try {
    const s = await ops.stat(root);
    if (!s.isDirectory) throw Object.assign(new Error(`not a directory: ${root}`), { code: "ENOTDIR" });
  } catch (error) {
    throw classifyFsError(error, { side: "source-root", path: root });
  }
  const pending: string[] = [""];
  while (pending.length > 0) {
    const rel = pending.pop()!;
    const subdirs: string[] = [];
    try {
      for await (const entry of listBatched(ops, root, rel)) {
        if (entry.type === "dir") subdirs.push(entry.relPath);
        yield entry;
      }
    } catch (error) {
      if (rel === "") throw classifyFsError(error, { side: "source-root", path: root });
      yield { type: "error", relPath: rel, parentRel: path.posix.dirname(rel) === "." ? "" : path.posix.dirname(rel), name: path.posix.basename(rel), error };
    }
    // Reverse so pop() visits sub-folders in listing order.
    for (let i = subdirs.length - 1; i >= 0; i--) pending.push(subdirs[i]!);
  }
}

async function* listBatched(ops: FileOps, root: string, rel: string): AsyncGenerator<WalkEntry> {
  const batch: DirEntry[] = [];
  const abs = rel === "" ? root : path.join(root, ...rel.split("/"));
  const flush = async function* (): AsyncGenerator<WalkEntry> {
    // Stat a batch in parallel: one await per batch instead of one per file.
    const stats = await Promise.allSettled(batch.map((d) => (d.isFile ? ops.stat(path.join(abs, d.name)) : Promise.resolve(undefined))));
    for (let i = 0; i < batch.length; i++) {
      const d = batch[i]!;
      const relPath = join(rel, d.name);
      const base = { relPath, parentRel: rel, name: d.name };
      const s = stats[i]!;
      if (d.isDirectory) yield { type: "dir", ...base };
      else if (!d.isFile) yield { type: "other", ...base };
      else if (s.status === "rejected") {
        if ((s.reason as { code?: string }).code !== "ENOENT") yield { type: "error", ...base, error: s.reason };
      } else if (s.value?.isFile) yield { type: "file", ...base, size: s.value.size, mtimeMs: s.value.mtimeMs, atimeMs: s.value.atimeMs };
    }
    batch.length = 0;
  };
  for await (const d of ops.readdir(abs)) {
    if (isOwnName(rel, d.name)) continue;
    batch.push(d);
    if (batch.length >= STAT_BATCH) yield* flush();
  }
  yield* flush();
}
