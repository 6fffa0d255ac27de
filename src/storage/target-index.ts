/**
 * The names in one target folder, case-folded: Windows shares treat `Foo.txt` and `foo.txt` as one
 * file even when the Linux path we write through does not, so every lookup is case-insensitive.
 * Names being written by this run are reserved with a promise that settles when they are done.
 */
import type { FileOps, FileStat } from "./file-ops.js";
import type { TargetReservations } from "./reservations.js";
import { isStaleTemp } from "./temp-names.js";
import { TEMP_SUFFIX, isOwnName } from "./walk.js";

/** A name at the target, as find() describes it: listed there, reserved by this run, or (dry-run) an earlier source's. */
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

/** What a slot holds. */
const enum Kind {
  Other = 0,
  File = 1,
  Dir = 2,
  ReservedFile = 3,
  ReservedDir = 4,
}

/** FNV-1a of the case-folded name (the folded string is not kept: 250 000 task logs in one folder). */
function hashOf(folded: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < folded.length; i++) h = Math.imul(h ^ folded.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * Entries live in parallel arrays (a name, a kind, size and times) found through an open-addressing
 * table of case-folded hashes: about 60 bytes per name instead of ~220 for a Map of folded keys to
 * entry objects, which is what a flat TaskLogs folder of 250 000 logs costs twice over (listing,
 * then this run's reservations).
 */
export class TargetDirIndex {
  private names: string[] = [];
  private kinds = new Uint8Array(16);
  private sizes = new Float64Array(16);
  private mtimes = new Float64Array(16);
  private atimes = new Float64Array(16);
  /** Entry number + 1 per slot (0 = free). */
  private table = new Int32Array(32);
  /** In-flight writes only: deleted when they settle. */
  private readonly pending = new Map<number, Promise<void>>();
  /** Dry-run overlay only. */
  private readonly virtual = new Map<number, { at: string; node: string }>();
  /** Names reserved from another source folder than sourceRel (a case variant of it sharing this index). */
  private readonly reservedFrom = new Map<number, string>();

  /** @param sourceRel the source folder whose files are reserved here (for `from`). */
  constructor(private readonly sourceRel = "") {}

  /**
   * List a target folder (missing = empty). Our temp files left by a run that is gone are collected
   * in staleTemps for the caller to delete (a live process's never are: see temp-names.ts). Dry-run: what earlier sources would have left here
   * (reservations) is laid over the listing, as the run would find it.
   */
  static async load(
    ops: FileOps,
    absDir: string,
    relDir: string,
    staleTemps: string[],
    reservations?: TargetReservations,
    sourceRel = relDir,
  ): Promise<TargetDirIndex> {
    const index = new TargetDirIndex(sourceRel);
    const now = Date.now();
    try {
      for await (const chunk of ops.list(absDir)) {
        for (const d of chunk) {
          if (d.name.endsWith(TEMP_SUFFIX) && isStaleTemp(d.name, d.mtimeMs, now)) staleTemps.push(d.name);
          if (isOwnName(relDir, d.name)) continue;
          index.put(d.name, d.isDirectory ? Kind.Dir : d.isFile ? Kind.File : Kind.Other, d.size, d.mtimeMs, d.atimeMs);
        }
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
    }
    for (const r of reservations?.in(relDir) ?? []) {
      if (r.isDir) {
        if (!index.find(r.name)) index.put(r.name, Kind.Dir, 0, 0, 0);
        continue;
      }
      index.virtual.set(index.put(r.name, Kind.File, r.size, r.mtimeMs, r.mtimeMs), { at: r.sourceAbs, node: r.node });
    }
    return index;
  }

  find(name: string): TargetName | undefined {
    const i = this.entryOf(name);
    if (i < 0) return undefined;
    const kind = this.kinds[i]!;
    const found: TargetName = { name: this.names[i]!, isDirectory: kind === Kind.Dir || kind === Kind.ReservedDir };
    if (kind === Kind.ReservedFile) {
      const dir = this.reservedFrom.get(i) ?? this.sourceRel;
      found.from = dir === "" ? found.name : `${dir}/${found.name}`;
      const pending = this.pending.get(i);
      if (pending) found.pending = pending;
    } else if (kind !== Kind.ReservedDir) {
      found.isFile = kind === Kind.File;
      found.size = this.sizes[i]!;
      found.mtimeMs = this.mtimes[i]!;
      found.atimeMs = this.atimes[i]!;
      const v = this.virtual.get(i);
      if (v) {
        found.virtualAt = v.at;
        found.virtualNode = v.node;
      }
    }
    return found;
  }

  /** This run creates a folder under the name. */
  reserveFolder(name: string): void {
    this.put(name, Kind.ReservedDir, 0, 0, 0);
  }

  /**
   * This run writes the source file of the same name (in source folder `fromDir`, default the
   * index's own) here. With a promise, find() hands it to a case-variant source file until settle().
   */
  reserveFile(name: string, pending?: Promise<void>, fromDir?: string): number {
    const i = this.put(name, Kind.ReservedFile, 0, 0, 0);
    if (pending) this.pending.set(i, pending);
    if (fromDir !== undefined && fromDir !== this.sourceRel) this.reservedFrom.set(i, fromDir);
    return i;
  }

  settle(entry: number): void {
    this.pending.delete(entry);
  }

  /** The entry number of a name, case-insensitively, or -1. */
  private entryOf(name: string): number {
    const folded = foldName(name);
    const mask = this.table.length - 1;
    for (let s = hashOf(folded) & mask; ; s = (s + 1) & mask) {
      const e = this.table[s]! - 1;
      if (e < 0) return -1;
      const candidate = this.names[e]!;
      if (candidate === name || foldName(candidate) === folded) return e;
    }
  }

  /** Add a name, or replace what an equal (case-folded) name held. Returns its entry number. */
  private put(name: string, kind: Kind, size: number, mtimeMs: number, atimeMs: number): number {
    const folded = foldName(name);
    const mask = this.table.length - 1;
    let s = hashOf(folded) & mask;
    for (; ; s = (s + 1) & mask) {
      const e = this.table[s]! - 1;
      if (e < 0) break;
      const candidate = this.names[e]!;
      if (candidate === name || foldName(candidate) === folded) {
        this.set(e, name, kind, size, mtimeMs, atimeMs);
        this.pending.delete(e);
        this.virtual.delete(e);
        this.reservedFrom.delete(e);
        return e;
      }
    }
    const e = this.names.length;
    if (e === this.kinds.length) this.growEntries();
    this.set(e, name, kind, size, mtimeMs, atimeMs);
    this.table[s] = e + 1;
    if ((e + 1) * 2 > this.table.length) this.growTable();
    return e;
  }

  private set(e: number, name: string, kind: Kind, size: number, mtimeMs: number, atimeMs: number): void {
    this.names[e] = name;
    this.kinds[e] = kind;
    this.sizes[e] = size;
    this.mtimes[e] = mtimeMs;
    this.atimes[e] = atimeMs;
  }

  private growEntries(): void {
    const n = this.kinds.length * 2;
    const grow = <T extends Uint8Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(n);
      next.set(old);
      return next;
    };
    this.kinds = grow(this.kinds, (k) => new Uint8Array(k));
    this.sizes = grow(this.sizes, (k) => new Float64Array(k));
    this.mtimes = grow(this.mtimes, (k) => new Float64Array(k));
    this.atimes = grow(this.atimes, (k) => new Float64Array(k));
  }

  private growTable(): void {
    this.table = new Int32Array(this.table.length * 2);
    const mask = this.table.length - 1;
    for (let e = 0; e < this.names.length; e++) {
      let s = hashOf(foldName(this.names[e]!)) & mask;
      while (this.table[s] !== 0) s = (s + 1) & mask;
      this.table[s] = e + 1;
    }
  }
}
