/**
 * The names in one target folder, case-folded: Windows shares treat `Foo.txt` and `foo.txt` as one
 * file even when the Linux path we write through does not, so every lookup is case-insensitive.
 * Names being written by this run are reserved with a promise that settles when they are done.
 */
import type { FileOps, FileStat } from "./file-ops.js";
import type { TargetReservations } from "./reservations.js";
import { TEMP_SUFFIX, isOwnName } from "./walk.js";

/**
 * A name at the target: the listing's own entry (with size and times: no second object per file,
 * which matters at 250 000 task logs in one folder), or a name this run reserved.
 */
export interface TargetName {
  /** The name as it is (or will be) at the target. */
  name: string;
  isDirectory: boolean;
  /** Present for listed entries; a reserved name has none of these yet. */
  isFile?: boolean;
  size?: number;
  mtimeMs?: number;
  atimeMs?: number;
  /** Settles when this run has finished writing the name (case-only duplicates among sources wait for it). */
  pending?: Promise<void> | undefined;
  /** The source file (relPath) this run is writing under the name: dry-run compares against it. */
  from?: string;
  /** Dry-run: an earlier source's file that the run would have put here (its path, to hash), and its node. */
  virtualAt?: string;
  virtualNode?: string;
}

/** The listing's facts about a name, when it came from the listing. */
export function listedStat(t: TargetName): FileStat | undefined {
  return t.size === undefined || t.from !== undefined
    ? undefined
    : { size: t.size, mtimeMs: t.mtimeMs ?? 0, atimeMs: t.atimeMs ?? 0, isFile: t.isFile === true, isDirectory: t.isDirectory };
}

export function foldName(name: string): string {
  return name.toLowerCase();
}

export class TargetDirIndex {
  private readonly names = new Map<string, TargetName>();

  /**
   * List a target folder (missing = empty). Our temp files left by a killed run are collected in
   * staleTemps for the caller to delete. Dry-run: what earlier sources would have left here
   * (reservations) is laid over the listing, as the run would find it.
   */
  static async load(ops: FileOps, absDir: string, relDir: string, staleTemps: string[], reservations?: TargetReservations): Promise<TargetDirIndex> {
    const index = new TargetDirIndex();
    try {
      for await (const chunk of ops.list(absDir)) {
        for (const d of chunk) {
          if (d.name.endsWith(TEMP_SUFFIX)) staleTemps.push(d.name);
          if (isOwnName(relDir, d.name)) continue;
          index.names.set(foldName(d.name), d);
        }
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
    }
    for (const r of reservations?.in(relDir) ?? []) {
      const key = foldName(r.name);
      if (r.isDir) {
        if (!index.names.has(key)) index.names.set(key, { name: r.name, isDirectory: true });
        continue;
      }
      index.names.set(key, { name: r.name, isDirectory: false, isFile: true, size: r.size, mtimeMs: r.mtimeMs, atimeMs: r.mtimeMs, virtualAt: r.sourceAbs, virtualNode: r.node });
    }
    return index;
  }

  find(name: string): TargetName | undefined {
    return this.names.get(foldName(name));
  }

  reserve(entry: TargetName): void {
    this.names.set(foldName(entry.name), entry);
  }
}
