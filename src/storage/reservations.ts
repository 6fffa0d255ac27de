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
 * the target (files already there and equal are not recorded), kept in typed arrays with the name
 * as UTF-8 bytes: about 65 bytes a file (a million new task logs: ~65 MB, was ~200 as objects and
 * strings), plus one key per target folder. The source file's path is derived from its source's
 * root and the target path, stored only when the two differ (a folder merged into a case variant).
 * One instance per target folder, dropped when the dry-run of that kind ends.
 */
import path from "node:path";
import { foldName } from "./fold.js";

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

/** The file a source would copy: its size and mtime, its node, and where it is (root + relPath with '/'). */
export interface ReservedFile {
  size: number;
  mtimeMs: number;
  node: string;
  sourceRoot: string;
  sourceRelPath: string;
}

const CHUNK_BYTES = 1 << 20;
const SURROGATE = /[\ud800-\udfff]/;
/** The bit of an origin that marks a folder entry. */
const FOLDER = 0x8000;
/** A target folder's entries: a chain through `next`, oldest first. */
interface Chain {
  /** The folder as the first source to record it spelled it (source paths are derived from it). */
  dir: string;
  head: number;
  tail: number;
}

function join(dir: string, name: string): string {
  return dir === "" ? name : `${dir}/${name}`;
}

export class TargetReservations {
  private count = 0;
  /** Entries below this are committed (what the next source meets); the rest are the current source's. */
  private committed = 0;
  private sizes = new Float64Array(64);
  private mtimes = new Float64Array(64);
  /** Name bytes: chunk number * CHUNK_BYTES + offset, and length. */
  private starts = new Float64Array(64);
  private lengths = new Uint16Array(64);
  /** Index into `sources`; the top bit marks a folder. */
  private origins = new Uint16Array(64);
  private next = new Int32Array(64);
  private readonly chunks: Buffer[] = [];
  private chunkUsed = CHUNK_BYTES;
  private readonly sources: { node: string; root: string }[] = [];
  /** Source relPaths that are not the target path (rare). */
  private readonly relPaths = new Map<number, string>();
  /** Names with a surrogate (possible on Windows; UTF-8 cannot hold a lone one): kept as strings. */
  private readonly oddNames = new Map<number, string>();
  /** Folded target folder (relative, '/') → its entries. */
  private readonly folders = new Map<string, Chain>();
  /** Folded folders the current source already recorded (a file's folders are recorded once). */
  private currentDirs = new Set<string>();

  /**
   * Entries earlier sources would have left in the target folder `targetRel` (a later one for a
   * name wins), only those whose name `keep` takes when it is given.
   */
  *in(targetRel: string, keep?: (name: string) => boolean): Iterable<Reservation> {
    const chain = this.folders.get(foldName(targetRel));
    if (!chain) return;
    for (let e = chain.head; e >= 0 && e < this.committed; e = this.next[e]!)
      if (!keep || keep(this.nameOf(e))) yield this.entry(e, chain.dir);
  }

  /**
   * The current source would leave this file at `targetRelPath`, and with it the folders above it
   * (the engine creates a folder only to put a file in it, so empty source folders are not recorded).
   */
  recordFile(targetRelPath: string, file: ReservedFile): void {
    const origin = this.originOf(file.node, file.sourceRoot);
    const [e, dir] = this.put(targetRelPath, origin, file.size, file.mtimeMs);
    if (file.sourceRelPath !== join(dir, file.sourceRelPath.slice(file.sourceRelPath.lastIndexOf("/") + 1)))
      this.relPaths.set(e, file.sourceRelPath);
    for (let end = targetRelPath.lastIndexOf("/"); end > 0; end = targetRelPath.lastIndexOf("/", end - 1)) {
      const dir = targetRelPath.slice(0, end);
      const folded = foldName(dir);
      if (this.currentDirs.has(folded)) break;
      this.currentDirs.add(folded);
      this.put(dir, origin | FOLDER, 0, 0);
    }
  }

  /** The current source is done: its additions are now what the next source meets. */
  commit(): void {
    this.committed = this.count;
    this.currentDirs = new Set();
  }

  /** The current source stopped before its end: its additions are forgotten (an interrupted dry-run is not trusted). */
  abandon(): void {
    for (const [key, chain] of this.folders) {
      if (chain.head >= this.committed) this.folders.delete(key);
      else if (chain.tail >= this.committed) {
        let e = chain.head;
        while (this.next[e]! >= 0 && this.next[e]! < this.committed) e = this.next[e]!;
        this.next[e] = -1;
        chain.tail = e;
      }
    }
    for (const e of this.relPaths.keys()) if (e >= this.committed) this.relPaths.delete(e);
    for (const e of this.oddNames.keys()) if (e >= this.committed) this.oddNames.delete(e);
    this.count = this.committed;
    this.currentDirs = new Set();
  }

  private entry(e: number, dir: string): Reservation {
    const name = this.nameOf(e);
    const origin = this.origins[e]!;
    const source = this.sources[origin & ~FOLDER]!;
    const isDir = (origin & FOLDER) !== 0;
    const relPath = this.relPaths.get(e) ?? join(dir, name);
    const sourceAbs = isDir ? "" : path.join(source.root, ...relPath.split("/"));
    return { name, isDir, size: this.sizes[e]!, mtimeMs: this.mtimes[e]!, node: source.node, sourceAbs };
  }

  private originOf(node: string, root: string): number {
    let i = this.sources.findIndex((s) => s.node === node && s.root === root);
    if (i < 0) i = this.sources.push({ node, root }) - 1;
    if (i >= FOLDER) throw new RangeError("more than 32 767 sources reserved at one target");
    return i;
  }

  private nameOf(e: number): string {
    const odd = this.oddNames.get(e);
    if (odd !== undefined) return odd;
    const start = this.starts[e]!;
    const chunk = Math.floor(start / CHUNK_BYTES);
    const offset = start - chunk * CHUNK_BYTES;
    return this.chunks[chunk]!.toString("utf8", offset, offset + this.lengths[e]!);
  }

  /** Appends an entry to its folder's chain; returns it and the folder as the chain spells it. */
  private put(targetRelPath: string, origin: number, size: number, mtimeMs: number): [number, string] {
    const slash = targetRelPath.lastIndexOf("/");
    const dir = slash < 0 ? "" : targetRelPath.slice(0, slash);
    const key = foldName(dir);
    const e = this.count++;
    if (e === this.sizes.length) this.grow();
    this.storeName(e, targetRelPath.slice(slash + 1));
    this.origins[e] = origin;
    this.sizes[e] = size;
    this.mtimes[e] = mtimeMs;
    this.next[e] = -1;
    const chain = this.folders.get(key);
    if (!chain) {
      this.folders.set(key, { dir, head: e, tail: e });
      return [e, dir];
    }
    this.next[chain.tail] = e;
    chain.tail = e;
    return [e, chain.dir];
  }

  private storeName(e: number, name: string): void {
    if (SURROGATE.test(name)) {
      this.oddNames.set(e, name);
      this.lengths[e] = 0;
      return;
    }
    const bytes = Buffer.byteLength(name);
    if (this.chunkUsed + bytes > CHUNK_BYTES) {
      this.chunks.push(Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes)));
      this.chunkUsed = 0;
    }
    const chunk = this.chunks.length - 1;
    this.chunks[chunk]!.write(name, this.chunkUsed, "utf8");
    this.starts[e] = chunk * CHUNK_BYTES + this.chunkUsed;
    this.lengths[e] = bytes;
    this.chunkUsed += bytes;
  }

  private grow(): void {
    const n = this.sizes.length * 2;
    const grow = <T extends Uint16Array | Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(n);
      next.set(old);
      return next;
    };
    this.sizes = grow(this.sizes, (k) => new Float64Array(k));
    this.mtimes = grow(this.mtimes, (k) => new Float64Array(k));
    this.starts = grow(this.starts, (k) => new Float64Array(k));
    this.lengths = grow(this.lengths, (k) => new Uint16Array(k));
    this.origins = grow(this.origins, (k) => new Uint16Array(k));
    this.next = grow(this.next, (k) => new Int32Array(k));
  }
}
