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
 * Entries live in parallel typed arrays (kind, hash, size, mtime) beside the names, found through an
 * open-addressing table of case-folded hashes. A name is the listing's own string: the listing
 * holds all of its folder's names until it ends (it sorts them), so a copy as UTF-8 bytes only added
 * to the peak (a million-file no-op: 387 MB against 356 with strings). Sizes and mtimes exist only
 * for listed entries: ~21 bytes a name a dry-run reserves, ~37 a listed one (was ~41 for every name).
 */
export class TargetDirIndex {
  private count = 0;
  /** The names: the listings' own strings (a listing holds its folder's names while it runs anyway). */
  private readonly names: string[] = [];
  /** The name probe() matched last (find() hands it out). */
  private matched = "";
  private lastName = "";
  private lastFolded = "";
  private lastHash = hashOf("");
  private kinds = new Uint8Array(16);
  /** FNV-1a of the case-folded name: a probe compares names only when the hashes are equal. */
  private hashes = new Uint32Array(16);
  /** Size and mtime of listed entries; allocated with the first one (a fresh target has none). */
  private sizes: Float64Array | undefined;
  private mtimes: Float64Array | undefined;
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
          index.put(d.name, d.isDirectory ? Kind.Dir : d.isFile ? Kind.File : Kind.Other, d.size, d.mtimeMs);
        }
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
    }
    for (const r of reservations?.in(relDir) ?? []) {
      if (r.isDir) {
        if (!index.find(r.name)) index.put(r.name, Kind.Dir, 0, 0);
        continue;
      }
      index.virtual.set(index.put(r.name, Kind.File, r.size, r.mtimeMs), { at: r.sourceAbs, node: r.node });
    }
    return index;
  }

  find(name: string): TargetName | undefined {
    const i = this.entryOf(name);
    if (i < 0) return undefined;
    const kind = this.kinds[i]!;
    const found: TargetName = { name: this.matched, isDirectory: kind === Kind.Dir || kind === Kind.ReservedDir };
    if (kind === Kind.ReservedFile) {
      const dir = this.reservedFrom.get(i) ?? this.sourceRel;
      found.from = dir === "" ? found.name : `${dir}/${found.name}`;
      const pending = this.pending.get(i);
      if (pending) found.pending = pending;
    } else if (kind !== Kind.ReservedDir) {
      found.isFile = kind === Kind.File;
      found.size = this.sizes?.[i] ?? 0;
      found.mtimeMs = this.mtimes?.[i] ?? 0;
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
    this.put(name, Kind.ReservedDir, 0, 0);
  }

  /**
   * This run writes the source file of the same name (in source folder `fromDir`, default the
   * index's own) here. With a promise, find() hands it to a case-variant source file until settle().
   */
  reserveFile(name: string, pending?: Promise<void>, fromDir?: string): number {
    const i = this.put(name, Kind.ReservedFile, 0, 0);
    if (pending) this.pending.set(i, pending);
    if (fromDir !== undefined && fromDir !== this.sourceRel) this.reservedFrom.set(i, fromDir);
    return i;
  }

  settle(entry: number): void {
    this.pending.delete(entry);
  }

  private nameOf(e: number): string {
    return this.names[e]!;
  }

  /** The entry holding `name` (hashed `hash`, folded `folded`) case-insensitively, or the free slot where it goes (-slot - 1). */
  private probe(name: string, folded: string, hash: number): number {
    const mask = this.table.length - 1;
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      const e = this.table[s]! - 1;
      if (e < 0) return -s - 1;
      if (this.hashes[e] !== hash) continue;
      const candidate = this.nameOf(e);
      if (candidate === name || foldName(candidate) === folded) {
        this.matched = candidate;
        return e;
      }
    }
  }

  /** The entry number of a name, case-insensitively, or -1. */
  private entryOf(name: string): number {
    this.keyOf(name);
    return Math.max(-1, this.probe(name, this.lastFolded, this.lastHash));
  }

  /** Folds and hashes a name once: find() then reserveFile() of the same name is the common path. */
  private keyOf(name: string): void {
    if (name === this.lastName) return;
    this.lastName = name;
    this.lastFolded = foldName(name);
    this.lastHash = hashOf(this.lastFolded);
  }

  /** Add a name, or replace what an equal (case-folded) name held. Returns its entry number. */
  private put(name: string, kind: Kind, size: number, mtimeMs: number): number {
    this.keyOf(name);
    const folded = this.lastFolded;
    const hash = this.lastHash;
    const found = this.probe(name, folded, hash);
    if (found >= 0) {
      this.set(found, name, kind, size, mtimeMs);
      this.pending.delete(found);
      this.virtual.delete(found);
      this.reservedFrom.delete(found);
      return found;
    }
    const e = this.count++;
    if (e === this.kinds.length) this.growEntries();
    this.hashes[e] = hash;
    this.set(e, name, kind, size, mtimeMs);
    this.table[-found - 1] = e + 1;
    if ((e + 1) * 2 > this.table.length) this.growTable();
    return e;
  }

  private set(e: number, name: string, kind: Kind, size: number, mtimeMs: number): void {
    this.kinds[e] = kind;
    this.names[e] = name;
    if (kind === Kind.ReservedFile || kind === Kind.ReservedDir) return;
    if (size === 0 && mtimeMs === 0 && this.sizes === undefined) return;
    this.sizes ??= new Float64Array(this.kinds.length);
    this.mtimes ??= new Float64Array(this.kinds.length);
    this.sizes[e] = size;
    this.mtimes[e] = mtimeMs;
  }

  private growEntries(): void {
    const n = this.kinds.length * 2;
    const grow = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(n);
      next.set(old);
      return next;
    };
    this.kinds = grow(this.kinds, (k) => new Uint8Array(k));
    this.hashes = grow(this.hashes, (k) => new Uint32Array(k));
    if (this.sizes) this.sizes = grow(this.sizes, (k) => new Float64Array(k));
    if (this.mtimes) this.mtimes = grow(this.mtimes, (k) => new Float64Array(k));
  }

  private growTable(): void {
    this.table = new Int32Array(this.table.length * 2);
    const mask = this.table.length - 1;
    for (let e = 0; e < this.count; e++) {
      let s = this.hashes[e]! & mask;
      while (this.table[s] !== 0) s = (s + 1) & mask;
      this.table[s] = e + 1;
    }
  }
}
