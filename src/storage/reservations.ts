/**
 * What earlier sources' dry-runs would have put at a shared target. A real run copies node after
 * node into one folder, so the second node meets the first node's files there; a dry-run writes
 * nothing, so without this the second node's dry-run would see an empty target and predict no
 * collision between nodes. copyTree (dry-run) reads these reservations as if they were listed at
 * the target, and records its own additions for the next source: the same tactics (size, then
 * SHA-256 only when sizes match; case-folded names; file vs folder; policy; task-log owner) then
 * predict the same collisions, with the same winners, as the run.
 *
 * Memory bound: one entry per file or folder that an earlier source would add to, or replace at,
 * the target (files already there and equal are not recorded): for a kind of N new files that is
 * N entries of a name, two numbers and the source path (roughly 200 bytes each: 200 MB for a
 * million new files). One instance per target folder, dropped when the dry-run of that kind ends.
 */
import { foldName } from "./target-index.js";

export interface Reservation {
  /** The name as the earlier source would leave it at the target. */
  name: string;
  isDir: boolean;
  /** For files: size and mtime of the copy (the engine keeps the source's mtime). */
  size: number;
  mtimeMs: number;
  /** Node whose copy would be at the target. */
  node: string;
  /** Absolute path of that node's source file: dry-run hashes it in place of the target's copy. */
  sourceAbs: string;
}

export class TargetReservations {
  /** Folded target folder (relative, '/') → folded name → reservation. */
  private readonly committed = new Map<string, Map<string, Reservation>>();
  /** The current source's additions, visible only once it has finished (as in a real run). */
  private current = new Map<string, Map<string, Reservation>>();
  /** Folded folders the current source already recorded (a file's folders are recorded once). */
  private currentDirs = new Set<string>();

  /** Entries earlier sources would have left in the target folder `targetRel`. */
  in(targetRel: string): Iterable<Reservation> {
    return this.committed.get(foldName(targetRel))?.values() ?? [];
  }

  /**
   * The current source would leave this file at `targetRelPath`, and with it the folders above it
   * (the engine creates a folder only to put a file in it, so empty source folders are not recorded).
   */
  recordFile(targetRelPath: string, file: Omit<Reservation, "name" | "isDir">): void {
    this.put(targetRelPath, { ...file, isDir: false });
    for (let end = targetRelPath.lastIndexOf("/"); end > 0; end = targetRelPath.lastIndexOf("/", end - 1)) {
      const dir = targetRelPath.slice(0, end);
      const folded = foldName(dir);
      if (this.currentDirs.has(folded)) break;
      this.currentDirs.add(folded);
      this.put(dir, { isDir: true, size: 0, mtimeMs: 0, node: file.node, sourceAbs: "" });
    }
  }

  private put(targetRelPath: string, entry: Omit<Reservation, "name">): void {
    const slash = targetRelPath.lastIndexOf("/");
    const dir = foldName(slash < 0 ? "" : targetRelPath.slice(0, slash));
    let names = this.current.get(dir);
    if (!names) this.current.set(dir, (names = new Map()));
    const name = targetRelPath.slice(slash + 1);
    names.set(foldName(name), { ...entry, name });
  }

  /** The current source is done: its additions are now what the next source meets. */
  commit(): void {
    for (const [dir, names] of this.current) {
      const into = this.committed.get(dir);
      if (!into) this.committed.set(dir, names);
      else for (const [k, v] of names) if (!(v.isDir && into.get(k)?.isDir === true)) into.set(k, v);
    }
    this.current = new Map();
    this.currentDirs = new Set();
  }
}
