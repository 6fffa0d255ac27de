/**
 * One file, one tactic per function (rclone's operations/copy.go): hash a file; copy to a free name
 * under a durable intent (exclusive create, SHA-256 while the bytes stream, fsync, mtime);
 * copy-verify-rename (temp name beside the target, then rename: for replacing); quarantine. A
 * partial file this process created is removed on every failure and on abort.
 */
import type { OwnFolders } from "./own-folders.js";
import { createHash } from "node:crypto";
import path from "node:path";
import { OctohaError } from "../shared/errors.js";
import { readFully, writeFully, type FileOps, type OpenFile } from "./file-ops.js";
import { CopyAborted, TargetAppeared, classifyFsError } from "./copy-errors.js";

export { CopyAborted, TargetAppeared };
import { fitName, tempPathFor } from "./temp-names.js";
import { sameMtime } from "./manifest.js";
import { joinUnder } from "./under-root.js";

const CHUNK = 1 << 20;
/**
 * A large file's chunks being written at once (positional writes, each from its own buffer): a
 * share takes a 1 MiB write as several requests, and one write after another waits for each.
 */
const WRITES_IN_FLIGHT = 4;

export interface CopiedFile {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/**
 * Reused 1 MiB buffers: a fresh buffer per file made ~640 MB of short-lived memory on the medium
 * preset's 53 000 files, which the garbage collector let pile up (peak RSS) and then spent seconds
 * on. At most one buffer per parallel copy is ever out; a few are kept for the next files.
 */
const spare: Buffer[] = [];
const SPARE_LIMIT = 32;

function bufferFor(size: number): Buffer {
  // size + 1 so a file read in one call also shows its end (a short read) without a second read.
  // Small files use Node's shared 8 KiB pool, which allocUnsafe already recycles.
  return size + 1 <= 4096 ? Buffer.allocUnsafe(size + 1) : (spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK));
}

function giveBack(buffer: Buffer): void {
  if (buffer.length === CHUNK && spare.length < SPARE_LIMIT) spare.push(buffer);
}

/**
 * Let the kept buffers go once a copy's files are written: a million-file copy's index is filled
 * at its end (ManifestIndex.reserve), its peak, and the 18-32 MiB kept here sat beside it unused.
 * A copy still running elsewhere allocates again what it needs.
 */
export function releaseSpareBuffers(): void {
  spare.length = 0;
}

function isoTime(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms); // Date's range
}

async function closeQuietly(file: OpenFile | undefined): Promise<void> {
  try {
    await file?.close();
  } catch {
    // already failing; the first error is the one worth reporting
  }
}

/** What a folder's listing said about a file a moment ago (its lstat facts). */
export interface ListedFile {
  size: number;
  mtimeMs: number;
  atimeMs: number;
}

/**
 * SHA-256 and size of a file, read once in 1 MiB chunks. `listedSize` (from the folder's listing)
 * saves the fstat that only sizes the buffer: the hash is of whatever the file holds when read.
 */
export async function hashFile(
  ops: FileOps,
  file: string,
  side: "source" | "target",
  signal?: AbortSignal,
  listedSize?: number,
): Promise<{ sha256: string; size: number }> {
  let handle: OpenFile | undefined;
  let buffer: Buffer | undefined;
  try {
    handle = await ops.open(file, "r");
    const size = listedSize ?? (await handle.stat()).size;
    buffer = bufferFor(size);
    const hash = createHash("sha256");
    let total = 0;
    for (;;) {
      if (signal?.aborted) throw new CopyAborted();
      const n = await handle.read(buffer, 0, buffer.length, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      total += n;
      if (n < buffer.length && total === size) break;
    }
    return { sha256: hash.digest("hex"), size: total };
  } catch (error) {
    if (error instanceof CopyAborted) throw error;
    throw classifyFsError(error, { side, path: file });
  } finally {
    if (buffer) giveBack(buffer);
    await closeQuietly(handle);
  }
}

/**
 * Copy `from` to `to` through a temp file beside it (this process's own name, created with O_EXCL:
 * another copy can never write into it or truncate it): hash while streaming, check the byte count
 * and the source's size and mtime after the read, fsync, set the source's times, rename. `to` is
 * replaced atomically when it exists (the caller decided that is safe). The caller creates the
 * parent folder. Used where a file is replaced (the old bytes stay whole until the new ones are
 * durable) and for quarantine.
 *
 * Round trips for a small file (what a share waits for): source open, read, fstat, close; temp
 * create, write, fsync, times, close; a stat of `to` when noClobber; rename. `listed` (the source folder's
 * listing, made moments ago) saves the source's fstat at open: a file that changed since shows as a
 * byte count other than the listed size, or as another size or mtime in the fstat after the read.
 */
export function copyVerifyRename(
  ops: FileOps,
  from: string,
  to: string,
  signal?: AbortSignal,
  noClobber = false,
  listed?: ListedFile,
  replacing?: { size: number; mtimeMs: number },
): Promise<CopiedFile> {
  return copyBytes(ops, from, to, { viaTemp: true, noClobber, listed, signal, ...(replacing ? { replacing } : {}) });
}

/** The target file about to be replaced is no longer as it was when replacing it was decided. */
async function refuseChangedTarget(ops: FileOps, to: string, was: { size: number; mtimeMs: number }): Promise<void> {
  const now = await ops.stat(to).catch(() => undefined);
  if (now?.isFile && now.size === was.size && sameMtime(now.mtimeMs, was.mtimeMs)) return;
  throw new OctohaError(`The target file '${to}' changed while octoha was replacing it; it was kept as it is`, {
    code: "COPY_TARGET_CHANGING",
    behaviour: "continue",
    path: to,
    hint: `${now ? `It is ${now.size} bytes modified ${isoTime(now.mtimeMs)} now, ${was.size} bytes modified ${isoTime(was.mtimeMs)} when compared` : "It is gone now"}: something writes it (a node that still uses this folder). The incoming copy was discarded (its quarantined copy of the target stays); re-run once nothing writes it.`,
  });
}

/**
 * Copy `from` to the free name `to` under the intent protocol (README, "Crash safety"): `intend`
 * appends the write-ahead intent and resolves once it is durable; only then is `to` created,
 * exclusively (EEXIST: someone else took the name, TargetAppeared, nothing of theirs touched). Then
 * hash while streaming, check the byte count and the source's size and mtime, fsync, set times,
 * close. On failure the file is removed (a kill leaves it to the intent: the next run re-verifies
 * it). The intent's commit overlaps the source's open.
 *
 * Round trips for a small file: source open, read, fstat (did anything write it during the read),
 * close; target create, write, fsync, times, close (5 at the target, was 7: no rename, and no stat
 * before it, since O_EXCL is the check).
 */
export function copyToFreeName(
  ops: FileOps,
  from: string,
  to: string,
  intend: () => Promise<void>,
  signal?: AbortSignal,
  listed?: ListedFile,
): Promise<CopiedFile> {
  return copyBytes(ops, from, to, { viaTemp: false, noClobber: true, listed, signal, intend });
}

interface CopyMode {
  /** Write a temp name and rename it over `to`; else create `to` itself exclusively. */
  viaTemp: boolean;
  noClobber: boolean;
  listed: ListedFile | undefined;
  signal: AbortSignal | undefined;
  /** Resolves when `to` may be created (its intent is durable). */
  intend?: () => Promise<void>;
  /** `to` as it was when replacing it was decided: renamed over only while it is still so. */
  replacing?: { size: number; mtimeMs: number };
}

async function copyBytes(ops: FileOps, from: string, to: string, mode: CopyMode): Promise<CopiedFile> {
  const { signal } = mode;
  const writeAt = mode.viaTemp ? tempPathFor(to) : to;
  let source: OpenFile | undefined;
  let target: OpenFile | undefined;
  let created = false;
  let buffer: Buffer | undefined;
  let stage: "source" | "target" = "source";
  try {
    const durable = mode.intend?.();
    durable?.catch(() => undefined); // awaited below; a failing source open must not leave it unhandled
    source = await ops.open(from, "r");
    const before = mode.listed ?? (await source.stat());
    stage = "target";
    await durable;
    target = await ops.open(writeAt, "wx").catch((error: unknown) => {
      if ((error as { code?: string }).code !== "EEXIST") throw error;
      if (!mode.viaTemp) throw new TargetAppeared(to);
      throw tempTaken(writeAt, to);
    });
    created = true;
    const hash = createHash("sha256");
    let total = 0;
    const writing = new Set<Promise<void>>();
    let writeFailed: unknown;
    try {
      for (;;) {
        if (signal?.aborted) throw new CopyAborted();
        stage = "source";
        buffer = bufferFor(before.size);
        const n = await source.read(buffer, 0, buffer.length, null);
        if (n === 0) break;
        hash.update(buffer.subarray(0, n));
        const chunk = buffer;
        buffer = undefined; // the write gives it back
        const write: Promise<void> = writeFully(target, chunk, n, total)
          .catch((error: unknown) => void (writeFailed ??= error))
          .finally(() => {
            giveBack(chunk);
            writing.delete(write);
          });
        writing.add(write);
        total += n;
        if (writing.size >= WRITES_IN_FLIGHT) await Promise.race(writing);
        if (writeFailed !== undefined) break;
        if (n < chunk.length && total === before.size) break;
      }
    } finally {
      await Promise.all(writing); // never close or remove the file under a write in flight
    }
    if (writeFailed !== undefined) {
      stage = "target";
      throw writeFailed;
    }
    // The byte count alone misses a file rewritten in place (same length, other bytes): the copy
    // would hold a mix the source never had. Its size and mtime after the last read, through the
    // handle already open (one fstat per copied file, on the source side: usually the node's own
    // disk), must still be what the listing (or the fstat at open) said.
    const after = total === before.size ? await source.stat() : undefined;
    if (after === undefined || after.size !== before.size || !sameMtime(after.mtimeMs, before.mtimeMs)) {
      const what =
        after === undefined
          ? `${before.size} bytes when opened, ${total} read`
          : `written to during the copy: ${before.size} bytes modified ${isoTime(before.mtimeMs)} before, ${after.size} bytes modified ${isoTime(after.mtimeMs)} after`;
      throw new OctohaError(`The source file '${from}' changed while it was copied (${what})`, {
        code: "COPY_SOURCE_CHANGING",
        behaviour: "continue",
        path: from,
        hint: "Something is still writing it (a node that is not drained, or a log held open for ~60 s after a task). The copy was discarded; re-run once the node is idle and it is copied then.",
      });
    }
    stage = "target";
    // Bytes durable before the name says the file is there (and before the manifest says done).
    await target.sync();
    // The source's times, through the open handle (no path lookup): after the fsync, so no write
    // flushed later (an SMB client's cache) stamps its own time over them.
    await target.utimes(before.atimeMs, before.mtimeMs);
    await target.close();
    target = undefined;
    if (mode.viaTemp) {
      // A name that was free when the folder was listed may have been taken since (the target lock
      // keeps other copies out, not a node writing there): never let the rename replace it. The window
      // left is the gap between this stat and the rename, microseconds instead of the whole run.
      if (mode.noClobber && (await ops.stat(to).catch(() => undefined))) throw new TargetAppeared(to);
      // A file being replaced that was written to since it was compared (and quarantined): the rename
      // would drop what was written. Kept as it is; the window left is the gap between stat and rename.
      if (mode.replacing) await refuseChangedTarget(ops, to, mode.replacing);
      await ops.rename(writeAt, to);
    }
    created = false;
    return { size: total, mtimeMs: before.mtimeMs, sha256: hash.digest("hex") };
  } catch (error) {
    if (error instanceof CopyAborted || error instanceof OctohaError || error instanceof TargetAppeared) throw error;
    throw classifyFsError(error, { side: stage, path: stage === "source" ? from : to });
  } finally {
    if (buffer) giveBack(buffer);
    await closeQuietly(source);
    await closeQuietly(target);
    // Ours (created exclusively by this call): an incomplete file never stays under a name.
    if (created) await ops.unlink(writeAt).catch(() => undefined);
  }
}

/**
 * Our temp name is this process's (temp-names.ts): taken, it is a write of this run to the same
 * name still in flight (jobs.ts lets one job at a time write a name; case-insensitive folders can
 * still meet), or a failed attempt's temp file that could not be removed. Never renamed over, never
 * written into: this one file fails, the rest of the copy goes on.
 */
function tempTaken(temp: string, to: string): OctohaError {
  return new OctohaError(`'${to}' was not written: octoha's temp file for it, '${temp}', is already there`, {
    code: "COPY_TEMP_TAKEN",
    behaviour: "continue",
    path: temp,
    hint: "This run is writing the same name another way (names that differ only in case, on a share that ignores case), or could not remove its own temp file after a failed attempt. Re-run once this copy has ended: its temp files are removed then, and this file is copied.",
  });
}

/** How a file a killed copy left under an open intent compares with its source. */
export type LeftByKill =
  /** The source's bytes exactly: `sha256` is theirs. */
  | { match: "identical"; sha256: string }
  /** No longer than the source, every byte the source's or zero (not written yet): a part of our write. */
  | { match: "partial" }
  /** Anything else: not provably what our write left. */
  | { match: "different" };

/**
 * Compare a file left under an open intent with its source, reading both once in 1 MiB chunks.
 * Zero bytes are allowed where the source has others: a large file's chunks are written several at
 * a time, so a kill can leave a hole (read as zeros) before bytes that did arrive.
 */
export async function compareLeftByKill(ops: FileOps, sourcePath: string, targetPath: string, signal?: AbortSignal): Promise<LeftByKill> {
  let source: OpenFile | undefined;
  let target: OpenFile | undefined;
  let stage: "source" | "target" = "source";
  const a = Buffer.allocUnsafe(CHUNK);
  const b = Buffer.allocUnsafe(CHUNK);
  try {
    source = await ops.open(sourcePath, "r");
    stage = "target";
    target = await ops.open(targetPath, "r");
    const hash = createHash("sha256");
    let same = true;
    for (let position = 0; ; position += CHUNK) {
      if (signal?.aborted) throw new CopyAborted();
      stage = "source";
      const n = await readFully(source, a, position);
      stage = "target";
      const m = await readFully(target, b, position);
      if (m > n) return { match: "different" };
      hash.update(a.subarray(0, n));
      if (m < n || !a.subarray(0, n).equals(b.subarray(0, n))) {
        same = false;
        for (let i = 0; i < m; i++) if (b[i] !== a[i] && b[i] !== 0) return { match: "different" };
      }
      if (n < CHUNK) return same ? { match: "identical", sha256: hash.digest("hex") } : { match: "partial" };
    }
  } catch (error) {
    if (error instanceof CopyAborted) throw error;
    throw classifyFsError(error, { side: stage, path: stage === "source" ? sourcePath : targetPath });
  } finally {
    await closeQuietly(source);
    await closeQuietly(target);
  }
}

/**
 * Put a losing copy under quarantineRoot/<node>/<relPath>, never overwriting an earlier
 * quarantined copy with other bytes (a second one gets ".1", ".2" …; a name too long to take one
 * is shortened first, as temp names are). Its folders are made through `folders`, so none is a
 * link leading out of the target. Returns where it is.
 */
export async function quarantineFile(
  ops: FileOps,
  from: string,
  quarantine: { root: string; folders: OwnFolders },
  node: string,
  relPath: string,
  fromSha256: string | undefined,
  signal?: AbortSignal,
): Promise<string> {
  const base = quarantinePath(quarantine.root, node, relPath);
  await quarantine.folders.make(path.dirname(base)).catch((error: unknown) => {
    throw classifyFsError(error, { side: "target", path: path.dirname(base) });
  });
  const sha = fromSha256 ?? (await hashFile(ops, from, "source", signal)).sha256;
  const slot = await quarantineSlot(ops, base, { size: undefined, sha256: () => Promise.resolve(sha) }, signal);
  if (slot?.same) return slot.at;
  if (slot) {
    const copied = await copyVerifyRename(ops, from, slot.at, signal);
    if (copied.sha256 !== sha)
      throw classifyFsError(Object.assign(new Error("changed during quarantine"), { code: "EIO" }), { side: "source", path: from });
    return slot.at;
  }
  throw new OctohaError(`Too many quarantined copies of '${relPath}'`, {
    code: "COPY_QUARANTINE_FULL",
    path: base,
    hint: "Clean up the quarantine folder after reviewing it, then re-run.",
  });
}

/**
 * The quarantine candidates of `base` (`base`, `base.1`, … up to 1000), in turn: the first holding
 * these bytes (`same`), else the first free one, or undefined when all are taken by other bytes.
 * A candidate is hashed only when it is a file (of `size`, when known). Shared by the copy, which
 * writes to the free one, and the dry-run, which only looks.
 */
async function quarantineSlot(
  ops: FileOps,
  base: string,
  bytes: { size: number | undefined; sha256: () => Promise<string> },
  signal?: AbortSignal,
): Promise<{ at: string; same: boolean } | undefined> {
  for (let n = 0; n < 1000; n++) {
    const candidate = n === 0 ? base : numbered(base, n);
    const existing = await ops.stat(candidate).catch(() => undefined);
    if (!existing) return { at: candidate, same: false };
    if (!existing.isFile || (bytes.size !== undefined && existing.size !== bytes.size)) continue;
    if ((await hashFile(ops, candidate, "target", signal, existing.size)).sha256 === (await bytes.sha256()))
      return { at: candidate, same: true };
  }
  return undefined;
}

/**
 * Dry-run: where quarantineFile would put these bytes of `from`, reading only: the candidate an
 * earlier run already quarantined them in (`already`: nothing to write), else the first free one
 * (before, the first candidate's name even when it held other bytes, where the run writes `.1`).
 * Stats the candidates quarantineFile walks, and hashes only those of `fromSize` bytes (and `from`
 * itself, once, when its hash is not known). A candidate that cannot be read counts as not there:
 * a run then writes (or finds) it, never trusts it unseen.
 */
export async function wouldQuarantineAt(
  ops: FileOps,
  from: string,
  quarantineRoot: string,
  node: string,
  relPath: string,
  fromSize: number,
  fromSha256: string | undefined,
  signal?: AbortSignal,
): Promise<{ at: string; already: boolean }> {
  let sha = fromSha256;
  // The source is hashed once, and only when a candidate of its size is there to compare.
  const sha256 = async (): Promise<string> => (sha ??= (await hashFile(ops, from, "source", signal, fromSize)).sha256);
  const base = quarantinePath(quarantineRoot, node, relPath);
  try {
    const slot = await quarantineSlot(ops, base, { size: fromSize, sha256 }, signal);
    return slot ? { at: slot.at, already: slot.same } : { at: base, already: false };
  } catch (error) {
    if (error instanceof CopyAborted) throw error;
    return { at: base, already: false };
  }
}

/** `base.n`, within one folder entry's longest name. */
function numbered(base: string, n: number): string {
  const name = path.basename(base);
  return `${base.slice(0, base.length - name.length)}${fitName(name, `.${n}`.length)}.${n}`;
}

/** Whether quarantine would need to be written for this file (dry-run): the path it would use. */
export function quarantinePath(quarantineRoot: string, node: string, relPath: string): string {
  return joinUnder(joinUnder(quarantineRoot, node), relPath);
}
