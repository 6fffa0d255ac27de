/**
 * The names in one target folder, case-folded: Windows shares treat `Foo.txt` and `foo.txt` as one
 * file even when the Linux path we write through does not, so every lookup is case-insensitive.
 * Names being written by this run are reserved with a promise that settles when they are done.
 */
import type { FileOps, FileStat } from "./file-ops.js";
import type { TargetReservations } from "./reservations.js";
import { TEMP_SUFFIX, isOwnName } from "./walk.js";

export interface TargetName {
  /** The name as it is (or will be) at the target. */
  name: string;
  isDir: boolean;
  /** Settles when this run has finished writing the name (case-only duplicates among sources wait for it). */
  pending?: Promise<void>;
  /** The source file (relPath) this run is writing under the name: dry-run compares against it. */
  from?: string;
  /** Size and mtime from the listing (absent for names this run reserved). */
  stat?: FileStat;
  /** Dry-run: an earlier source's file that the run would have put here (its path, to hash), and its node. */
  virtualAt?: string;
  virtualNode?: string;
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
          index.names.set(foldName(d.name), { name: d.name, isDir: d.isDirectory, stat: d });
        }
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
    }
    for (const r of reservations?.in(relDir) ?? []) {
      const key = foldName(r.name);
      if (r.isDir) {
        if (!index.names.has(key)) index.names.set(key, { name: r.name, isDir: true });
        continue;
      }
      index.names.set(key, { name: r.name, isDir: false, stat: { size: r.size, mtimeMs: r.mtimeMs, atimeMs: r.mtimeMs, isFile: true, isDirectory: false }, virtualAt: r.sourceAbs, virtualNode: r.node });
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
