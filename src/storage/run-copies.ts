/**
 * What a run's copy step left at a target, for its rollback: the files it copied (manifest records
 * tagged `<runId>/<stepId>`, see ManifestRecord.run), and the temp files a killed copy left.
 *
 * A file is removed (with --remove-copies) only when all of this holds, and otherwise stays and is
 * listed with the reason:
 * - this step wrote it first in this run, to a free name (not `replaced`): nothing was under that
 *   name before the run;
 * - the latest record for it is this run's (a later step of the run may have updated it; a later
 *   run or another copy did not write it since);
 * - its bytes still are the ones that record names (size, mtime, then SHA-256).
 */
import path from "node:path";
import type { FileOps, FileStat } from "./file-ops.js";
import { nodeFileOps } from "./file-ops.js";
import { compareLeftByKill, hashFile } from "./copy-file.js";
import { manifestRecords, sameMtime } from "./manifest.js";
import { removeStaleTemps } from "./temp-names.js";
import { joinUnder } from "./under-root.js";
import { classifyFsError } from "./copy-errors.js";
import { lockTarget } from "./target-lock.js";
import type { ManifestRecord } from "./types.js";

export interface RunCopiesOptions {
  manifestPath: string;
  target: string;
  runId: string;
  stepId: string;
  /** Remove the files (true), or only say which would go (false: no file is hashed or touched). */
  remove: boolean;
  ops?: FileOps;
  signal?: AbortSignal;
}

export interface RunCopiesResult {
  /** Files removed (remove) or that would be removed (count only), as absolute paths. */
  removed: string[];
  /** Files this step copied that stay, with why. */
  kept: { path: string; reason: string }[];
  /** Folders left empty by the removals and removed with them (never the target root). */
  foldersRemoved: string[];
}

interface History {
  first: ManifestRecord;
  last: ManifestRecord;
}

/** The records of every file this run wrote (first of the run, and latest of all), from one manifest. */
async function historyOf(ops: FileOps, manifestPath: string, runId: string): Promise<Map<string, History>> {
  const prefix = `${runId}/`;
  const files = new Map<string, History>();
  for await (const r of manifestRecords(ops, manifestPath)) {
    // Write-ahead intents say what a copy was about to write, not what it wrote: a file left under
    // an open intent (a copy killed mid-write) is not proven this run's whole copy, and stays for the next copy.
    if (r.intent !== undefined) continue;
    const h = files.get(r.relPath);
    if (h) h.last = r;
    else if (r.run?.startsWith(prefix)) files.set(r.relPath, { first: r, last: r });
  }
  return files;
}

/** Why a file this step copied first must stay, or undefined when its records allow removal (bytes still to check). */
function reasonToKeep(h: History, runId: string): string | undefined {
  if (h.first.replaced) {
    return "it replaced a file that was there before this run (the earlier one is kept in quarantine, or was this source's own earlier copy)";
  }
  if (!h.last.run?.startsWith(`${runId}/`)) return "another copy wrote it since this run did";
  return undefined;
}

/** This step's copies at one target: removed, or only counted. Missing files are already gone: skipped. */
async function runCopies(o: RunCopiesOptions): Promise<RunCopiesResult> {
  const ops = o.ops ?? nodeFileOps;
  const result: RunCopiesResult = { removed: [], kept: [], foldersRemoved: [] };
  const emptied = new Set<string>();
  for (const [relPath, h] of await historyOf(ops, o.manifestPath, o.runId)) {
    if (h.first.run !== `${o.runId}/${o.stepId}`) continue;
    if (o.signal?.aborted) break;
    const at = joinUnder(o.target, relPath);
    const now = await ops.stat(at).catch(() => undefined);
    if (!now) continue;
    const why = reasonToKeep(h, o.runId) ?? (await changedSince(ops, at, now, h.last, o.remove, o.signal));
    if (why) {
      result.kept.push({ path: at, reason: why });
      continue;
    }
    if (o.remove) {
      await ops.unlink(at);
      emptied.add(path.dirname(at));
    }
    result.removed.push(at);
  }
  for (const folder of emptied) result.foldersRemoved.push(...(await removeEmptied(ops, o.target, folder)));
  return result;
}

/** Why the file at `at` is no longer what `record` says this run wrote (hashing only when `hash`), or undefined. */
async function changedSince(
  ops: FileOps,
  at: string,
  now: FileStat,
  record: ManifestRecord,
  hash: boolean,
  signal?: AbortSignal,
): Promise<string | undefined> {
  if (!now.isFile || now.size !== record.size || !sameMtime(now.mtimeMs, record.mtimeMs)) return "it changed since this run copied it";
  if (!hash || record.sha256 === undefined) return undefined;
  return (await hashFile(ops, at, "target", signal)).sha256 === record.sha256 ? undefined : "its bytes changed since this run copied it";
}

/** Remove `folder` and its parents while they are empty, up to (not including) root. */
async function removeEmptied(ops: FileOps, root: string, folder: string): Promise<string[]> {
  const removed: string[] = [];
  for (let current = folder; current !== root && path.dirname(current) !== current; current = path.dirname(current)) {
    joinUnder(root, path.relative(root, current));
    if (
      !(await ops.rmdir(current).then(
        () => true,
        () => false,
      ))
    )
      break;
    removed.push(current);
  }
  return removed;
}

export interface UndoCopiesOptions {
  /** The shared folder the step copied into. */
  target: string;
  /** Quarantine folders outside the target (packages'), searched for stale temp files too. */
  quarantineDirs: string[];
  /** The manifests of the step's copies into this target (one per node). */
  manifests: string[];
  /**
   * The folder each manifest's copy read from (same order): a file left unfinished under an open
   * intent is removed only when its bytes are a part of its source file's.
   */
  sources: string[];
  runId: string;
  stepId: string;
  /** Remove this step's copies (rollback --remove-copies), or only count them. */
  remove: boolean;
  signal?: AbortSignal;
}

export interface UndoCopiesResult extends RunCopiesResult {
  /** Partial files of stopped copies that were removed: temp files, and files this run left unfinished under an open intent. */
  tempsRemoved: string[];
}

/**
 * Files this run created under an intent and left unfinished (a kill between the create and the
 * done record): the intent is still open, and the file is not yet what the intent announced (its
 * size or time differs; never longer). Removed as a stopped copy's temp files are, but only when its
 * bytes are a part of the source file's: someone may have taken the name between our intent and
 * our create (a kill lost the withdrawal), and their file is never removed on the intent's word.
 * A file that already looks finished stays: it is a whole copy, and the next copy writes its done record.
 */
async function removeUnfinished(
  ops: FileOps,
  o: { target: string; source: string; manifestPath: string; runId: string; signal?: AbortSignal },
): Promise<{ removed: string[]; kept: { path: string; reason: string }[] }> {
  const open = new Map<string, ManifestRecord>();
  for await (const r of manifestRecords(ops, o.manifestPath)) {
    if (r.intent === "open") open.set(r.relPath, r);
    else open.delete(r.relPath);
  }
  const removed: string[] = [];
  const kept: { path: string; reason: string }[] = [];
  for (const intent of open.values()) {
    if (!intent.run?.startsWith(`${o.runId}/`)) continue;
    const at = joinUnder(o.target, intent.relPath);
    const now = await ops.stat(at).catch(() => undefined);
    if (!now?.isFile || now.size > intent.size || (now.size === intent.size && sameMtime(now.mtimeMs, intent.mtimeMs))) continue;
    const from = joinUnder(o.source, intent.relPath);
    const left = await compareLeftByKill(ops, from, at, o.signal).catch(() => undefined);
    if (left === undefined || left.match === "different") {
      const why = left ? "its bytes are not a part of" : "it could not be compared with";
      kept.push({ path: at, reason: `left under an open intent of this run, but ${why} the source file ${from}; not provably octoha's` });
      continue;
    }
    if (
      await ops.unlink(at).then(
        () => true,
        () => false,
      )
    )
      removed.push(at);
  }
  return { removed, kept };
}

/**
 * A copy step's rollback at one target, under the target's lock (never while another copy writes
 * there): the temp files a stopped copy left are removed, and the step's copies removed or counted.
 * A target that does not exist is left alone (nothing is created by undoing).
 */
export async function undoRunCopies(o: UndoCopiesOptions, ops: FileOps = nodeFileOps): Promise<UndoCopiesResult> {
  const result: UndoCopiesResult = { tempsRemoved: [], removed: [], kept: [], foldersRemoved: [] };
  if (
    !(await ops.stat(o.target).then(
      (s) => s.isDirectory,
      () => false,
    ))
  )
    return result;
  const lock = await lockTarget({ target: o.target, owner: { id: o.runId, operation: `rollback ${o.stepId}` } });
  try {
    for (const root of [o.target, ...o.quarantineDirs]) result.tempsRemoved.push(...(await removeStaleTemps(root, ops)));
    for (const [i, manifestPath] of o.manifests.entries()) {
      const { target, runId, stepId, remove, signal } = o;
      const source = o.sources[i];
      if (source === undefined) throw new Error(`no source folder given for manifest ${manifestPath}`);
      const unfinished = await removeUnfinished(ops, { target, source, manifestPath, runId, ...(signal ? { signal } : {}) });
      result.tempsRemoved.push(...unfinished.removed);
      result.kept.push(...unfinished.kept);
      const r = await runCopies({ manifestPath, target, runId, stepId, remove, ops, ...(signal ? { signal } : {}) });
      result.removed.push(...r.removed);
      result.kept.push(...r.kept);
      result.foldersRemoved.push(...r.foldersRemoved);
    }
  } finally {
    await lock.release();
  }
  return result;
}
