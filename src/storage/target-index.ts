/**
 * The names in one target folder, case-folded: Windows shares treat `Foo.txt` and `foo.txt` as one
 * file even when the Linux path we write through does not, so every lookup is case-insensitive.
 * Names being written by this run are reserved with a promise that settles when they are done.
 */
import { stopIfAborted, type FileOps, type FileStat } from "./file-ops.js";
import { compareBytes } from "./packed-names.js";
import type { TargetReservations } from "./reservations.js";
import { boundListing } from "./heap.js";
import { isStaleTemp, isTaggedTemp } from "./temp-names.js";
import { TEMP_SUFFIX, isStateFolder } from "./walk.js";
import { foldName, foldedHash, hashOf, lastHashedAscii } from "./fold.js";

export interface LoadOptions {
  /** Dry-run: what earlier sources would have left here. */
  reservations?: TargetReservations | undefined;
  /** The source folder whose files are reserved here (default: the target folder's relPath). */
  sourceRel?: string;
  /** The folder's own size, from its parent's listing (ListOptions.folderSize). */
  folderSize?: number | undefined;
  /** The target's root (ListOptions.tree). */
  tree?: string;
  /** Stops the listing with ListingInterrupted once aborted (ListOptions.signal). */
  signal?: AbortSignal | undefined;
  /**
   * The folded hashes (sorted) of every name the source folder can ask for: the index lists only
   * target names among them (and our temp files), without an lstat of the rest. Only for a target
   * folder no other source folder maps onto: their names would not be among them.
   */
  only?: Uint32Array | undefined;
  /**
   * The folder's names, read already (a large folder's part: name-spill.ts), lstat'ed instead of
   * reading the folder (ListOptions.names).
   */
  names?: AsyncIterable<string[]> | Iterable<string[]> | undefined;
}

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
  /**
   * Settles when this run's last job on the name so far is done (writing it, or resolving a
   * collision with it): a case-variant source file's job waits for it (TargetDirIndex.takeTurn).
   */
  pending?: Promise<void> | undefined;
  /** The source file (relPath) this run is writing under the name: dry-run compares against it. */
  from?: string;
  /** Dry-run: an earlier source's file that the run would have put here (its path, to hash), and its node. */
  virtualAt?: string;
  virtualNode?: string;
}

/**
 * Which of this run's source files a target name holds now, as the jobs that take turns on it
 * (case variants among the sources) leave it: the one copied there, and any found to hold the same
 * bytes. Empty while the name holds what was there before the run. A variant that replaces it
 * quarantines it as those files (this node's, under their own paths), where each would go had it
 * lost: labelled as the target's own copy, a re-run quarantined the same bytes again under the
 * node's name.
 */
export interface NameHolder {
  /** Source relPaths whose bytes the name holds, the one copied there first. */
  from: string[];
  /** The target file's size and mtime as this run left it. */
  size: number;
  mtimeMs: number;
  /**
   * By SHA-256: where this run quarantined (or found quarantined) a version that lost on this name.
   * Identical bytes are one version: a later variant with them names that file instead of writing
   * a second copy under its own path.
   */
  quarantined?: Map<string, string>;
}

/** The listing's facts about a name, when it came from the listing. */
export function listedStat(t: TargetName): FileStat | undefined {
  return t.size === undefined || t.from !== undefined
    ? undefined
    : { size: t.size, mtimeMs: t.mtimeMs ?? 0, atimeMs: t.atimeMs ?? 0, isFile: t.isFile === true, isDirectory: t.isDirectory };
}

const SURROGATE = /[\ud800-\udfff]/;
const NAME_BLOCK_BITS = 18;
const NAME_BLOCK = 1 << NAME_BLOCK_BITS;
const NAME_OFFSET_MASK = NAME_BLOCK - 1;
/**
 * Entries an index starts with room for: its typed arrays (and its table of twice as many slots)
 * then fit in V8's heap (64 bytes or less) instead of each taking a buffer outside it. A target of
 * 50,000 small task folders (the 2025.2 layout) is 50,000 indexes, most of a few names; the maps
 * beside them are made when first needed, for the same reason.
 */
const FIRST_ENTRIES = 8;
/** lastBytes before a name that is not ASCII needs it. */
const NO_BYTES = Buffer.alloc(0);

/** A size this large or larger is kept in bigSizes. */
const BIG_SIZE = 0xffffffff;
/** In nameLengths: the entry's name is `head` and then the nameLengths & NAME_LENGTH bytes stored. */
const HEADED = 0x8000;
const NAME_LENGTH = 0x7fff;
/** Names looked at to learn a folder's head, and how many of them must share it. */
const HEAD_SAMPLE = 64;
const HEAD_QUORUM = 32;
/** A head is a name's start up to its first `-` or `_` (`servertasks-`), of this many bytes at most. */
const HEAD_END = /^[\x20-\x7e]{3,63}?[-_]/;

/** What a slot holds. */
const enum Kind {
  Other = 0,
  File = 1,
  Dir = 2,
  ReservedFile = 3,
  ReservedDir = 4,
}

/**
 * Entries live in parallel typed arrays (kind, hash, size, mtime, where the name is) beside the
 * names as UTF-8 bytes, found through an open-addressing table of case-folded hashes. Names are not
 * kept as strings: a million task logs' names were 64 MB of strings, ~34 MB as bytes (the listings
 * no longer hold their folder's names as strings either: see sortedNames). Sizes and mtimes exist
 * only for listed entries.
 */
export class TargetDirIndex {
  /** Loaded for one source folder's names only (LoadOptions.only): another source folder must not use it. */
  filtered = false;
  private count = 0;
  /**
   * The names as UTF-8, end to end in blocks of up to NAME_BLOCK bytes (never copied to grow: a
   * growing buffer left its old copies for the collector, ~60 MB at a million names); entry e's
   * name is nameLengths[e] bytes at nameStarts[e] (block number << NAME_BLOCK_BITS | offset).
   */
  private readonly nameBlocks: Buffer[] = [];
  private nameUsed = 0;
  /**
   * What most names here begin with, kept once (ASCII): a million task logs' `servertasks-` was
   * 12 MB of the index. Learned from the first HEAD_SAMPLE names, which stay whole.
   */
  private head = "";
  /** While the head is learned: how many names began with each candidate. */
  private heads: Map<string, number> | undefined;
  private headLearned = false;
  private sampled = 0;
  private nameStarts = new Uint32Array(FIRST_ENTRIES);
  private nameLengths = new Uint16Array(FIRST_ENTRIES);
  /**
   * lastName as UTF-8 (a probe compares bytes before it decodes a name), written only for a name
   * that is not ASCII: an ASCII name's characters are its bytes, compared and copied as they are.
   */
  private lastBytes = NO_BYTES;
  /** lastName is ASCII (the common name: task logs, artifacts, packages). */
  private lastAscii = true;
  /** lastName's length in bytes (lastBytes is a scratch buffer, reused: a Buffer per name was ~40 MB of garbage a million names). */
  private lastLength = 0;
  /** lastName has a lone surrogate, which UTF-8 cannot hold: such names are kept as strings, in oddNames. */
  private lastOdd = false;
  private oddNames: Map<number, string> | undefined;
  /** The name probe() matched last (find() hands it out). */
  private matched = "";
  private lastName = "";
  /** lastName case-folded, once a probe needs it (an ASCII name's hash folds as it goes). */
  private lastFolded: string | undefined = "";
  private lastHash = hashOf("");
  private kinds = new Uint8Array(FIRST_ENTRIES);
  /** FNV-1a of the case-folded name: a probe compares names only when the hashes are equal. */
  private hashes = new Uint32Array(FIRST_ENTRIES);
  /** Size and mtime of listed entries; allocated with the first one (a fresh target has none). */
  private sizes: Uint32Array | undefined;
  /** Sizes from BIG_SIZE up (packages past 4 GiB: a few), by entry; sizes holds BIG_SIZE for them. */
  private bigSizes: Map<number, number> | undefined;
  private mtimes: Float64Array | undefined;
  /** Entry number + 1 per slot (0 = free). */
  private table = new Int32Array(2 * FIRST_ENTRIES);
  /** In-flight writes only: deleted when they settle. */
  private pending: Map<number, Promise<void>> | undefined;
  /** Dry-run overlay only. */
  private virtual: Map<number, { at: string; node: string }> | undefined;
  /** Names reserved from another source folder than sourceRel (a case variant of it sharing this index). */
  private reservedFrom: Map<number, string> | undefined;
  /** Names jobs take turns on: what this run left there (NameHolder), kept while the index is. */
  private holders: Map<number, NameHolder> | undefined;

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
    { reservations, sourceRel = relDir, folderSize, tree, signal, only, names }: LoadOptions = {},
  ): Promise<TargetDirIndex> {
    const index = new TargetDirIndex(sourceRel);
    index.filtered = only !== undefined;
    const now = Date.now();
    // A name no source name folds to can meet none of them: one node's logs copied into a shared
    // folder that holds another's need not lstat or keep the other's. Our temp files are kept (swept).
    // A FileOps that ignores `keep` lists them all: an index holding more is only larger.
    const keep = only && ((name: string): boolean => name.endsWith(TEMP_SUFFIX) || hasHash(only, foldedHash(name)));
    try {
      // In any order: the folder's names stream past instead of being held and sorted.
      for await (const chunk of ops.list(absDir, { order: "any", folderSize, tree, signal, keep, names })) {
        stopIfAborted(signal, absDir);
        boundListing(chunk.length); // the listing's garbage, promoted while the index is built (a million-file target's)
        for (const d of chunk) {
          if (d.name.endsWith(TEMP_SUFFIX) && isStaleTemp(d.name, d.mtimeMs, now)) staleTemps.push(d.name);
          // No source name can be one of ours. An untagged `*.octoha-tmp` is not ours (temp-names.ts):
          // it is listed like any file, so a source name that differs from it only in case meets it.
          if (isTaggedTemp(d.name) || isStateFolder(relDir, d.name) || d.undecodable) continue;
          index.putListed(d.name, d.isDirectory ? Kind.Dir : d.isFile ? Kind.File : Kind.Other, d.size, d.mtimeMs);
        }
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
    }
    // Filtered as the listing is: a large folder's part lays only what its names can meet.
    for (const r of reservations?.in(relDir, only && ((name) => hasHash(only, foldedHash(name)))) ?? []) {
      if (r.isDir) {
        if (!index.find(r.name)) index.put(r.name, Kind.Dir, 0, 0);
        continue;
      }
      (index.virtual ??= new Map()).set(index.put(r.name, Kind.File, r.size, r.mtimeMs), { at: r.sourceAbs, node: r.node });
    }
    return index;
  }

  find(name: string): TargetName | undefined {
    const i = this.entryOf(name);
    if (i < 0) return undefined;
    const kind = this.kinds[i]!;
    const found: TargetName = { name: this.matched, isDirectory: kind === Kind.Dir || kind === Kind.ReservedDir };
    const pending = this.pending?.get(i);
    if (pending) found.pending = pending;
    if (kind === Kind.ReservedFile) {
      const dir = this.reservedFrom?.get(i) ?? this.sourceRel;
      found.from = dir === "" ? found.name : `${dir}/${found.name}`;
    } else if (kind !== Kind.ReservedDir) {
      found.isFile = kind === Kind.File;
      const size = this.sizes?.[i] ?? 0;
      found.size = size === BIG_SIZE ? (this.bigSizes?.get(i) ?? size) : size;
      found.mtimeMs = this.mtimes?.[i] ?? 0;
      const v = this.virtual?.get(i);
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
    if (pending) (this.pending ??= new Map()).set(i, pending);
    if (fromDir !== undefined && fromDir !== this.sourceRel) (this.reservedFrom ??= new Map()).set(i, fromDir);
    return i;
  }

  /**
   * A job of this run on the listed or reserved file `name` (one whose case variants among the
   * sources meet it): find() hands `turn` to the next job on the name, which waits for it, so two
   * jobs never decide about one target file (quarantine it, replace it) at once. Returns the entry.
   */
  takeTurn(name: string, turn: Promise<void>): number {
    const i = this.entryOf(name);
    if (i >= 0) (this.pending ??= new Map()).set(i, turn);
    return i;
  }

  /** What this run left under entry `entry` (one it reserved or takes turns on), shared by the jobs on it. */
  holderOf(entry: number): NameHolder {
    const holders = (this.holders ??= new Map());
    let holder = holders.get(entry);
    if (!holder) holders.set(entry, (holder = { from: [], size: 0, mtimeMs: 0 }));
    return holder;
  }

  /** `turn` on `entry` is done; a later job's turn on it (takeTurn) stays. */
  settle(entry: number, turn?: Promise<void>): void {
    if (turn === undefined || this.pending?.get(entry) === turn) this.pending?.delete(entry);
  }

  private nameOf(e: number): string {
    const odd = this.oddNames?.get(e);
    if (odd !== undefined) return odd;
    const at = this.nameStarts[e]!;
    const start = at & NAME_OFFSET_MASK;
    const stored = this.nameLengths[e]!;
    const block = this.nameBlocks[at >>> NAME_BLOCK_BITS]!;
    // A headed name is ASCII (only ASCII names are headed).
    if (stored & HEADED) return this.head + block.toString("latin1", start, start + (stored & NAME_LENGTH));
    return block.toString("utf8", start, start + stored);
  }

  /** Entry e's name's length in bytes. */
  private lengthOf(e: number): number {
    const stored = this.nameLengths[e]!;
    return stored & HEADED ? this.head.length + (stored & NAME_LENGTH) : stored;
  }

  /** The probed name's bytes equal entry e's (the common find: the very name, not a case variant). */
  private sameBytes(e: number): boolean {
    if (this.lastOdd || this.oddNames?.has(e)) return this.oddNames?.get(e) === this.lastName;
    return this.lengthOf(e) === this.lastLength && this.compareName(e) === 0;
  }

  /** lastName case-folded. */
  private folded(): string {
    return (this.lastFolded ??= foldName(this.lastName));
  }

  /** Entry e's name against lastName's, byte by byte (strcmp: < 0 when e's sorts first). */
  private compareName(e: number): number {
    const at = this.nameStarts[e]!;
    const start = at & NAME_OFFSET_MASK;
    const block = this.nameBlocks[at >>> NAME_BLOCK_BITS]!;
    const stored = this.nameLengths[e]!;
    const name = this.lastName;
    let skip = 0;
    if (stored & HEADED) {
      if (!this.lastAscii) {
        const whole = Buffer.from(this.nameOf(e), "latin1"); // rare: a name that is not ASCII meets a headed one
        return compareBytes(whole, 0, whole.length, this.lastBytes, 0, this.lastLength);
      }
      const head = this.head;
      const n = Math.min(head.length, name.length);
      for (let i = 0; i < n; i++) {
        const d = head.charCodeAt(i) - name.charCodeAt(i);
        if (d !== 0) return d;
      }
      if (name.length < head.length) return 1; // the probe ends inside the head: it sorts first
      skip = head.length;
    }
    const end = start + (stored & NAME_LENGTH);
    if (!this.lastAscii) return compareBytes(block, start, end, this.lastBytes, 0, this.lastLength);
    const n = Math.min(end - start, name.length - skip);
    for (let i = 0; i < n; i++) {
      const d = block[start + i]! - name.charCodeAt(skip + i);
      if (d !== 0) return d;
    }
    return end - start - (name.length - skip);
  }

  /** The entry holding `name` (hashed `hash`) case-insensitively, or the free slot where it goes (-slot - 1). */
  private probe(name: string, hash: number): number {
    const mask = this.table.length - 1;
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      const e = this.table[s]! - 1;
      if (e < 0) return -s - 1;
      if (this.hashes[e] !== hash) continue;
      if (this.sameBytes(e)) {
        this.matched = name;
        return e;
      }
      const candidate = this.nameOf(e);
      if (foldName(candidate) === this.folded()) {
        this.matched = candidate;
        return e;
      }
    }
  }

  /** The entry number of a name, case-insensitively, or -1. */
  private entryOf(name: string): number {
    this.keyOf(name);
    return Math.max(-1, this.probe(name, this.lastHash));
  }

  /** Folds and hashes a name once: find() then reserveFile() of the same name is the common path. */
  private keyOf(name: string): void {
    if (name === this.lastName) return;
    this.lastName = name;
    // An ASCII name (most of them) needs no folded string and no UTF-8 copy: most of a million-file
    // no-op's index time was those two.
    const hash = hashOf(name);
    const ascii = lastHashedAscii();
    this.lastAscii = ascii;
    this.lastOdd = false;
    if (ascii) {
      this.lastFolded = undefined;
      this.lastHash = hash;
      this.lastLength = name.length;
      return;
    }
    this.lastFolded = foldName(name);
    this.lastHash = hashOf(this.lastFolded);
    if (name.length * 3 > this.lastBytes.length) this.lastBytes = Buffer.allocUnsafeSlow(name.length * 3);
    this.lastLength = this.lastBytes.write(name, 0, "utf8");
    this.lastOdd = SURROGATE.test(name) && this.lastBytes.toString("utf8", 0, this.lastLength) !== name;
  }

  /**
   * A listed name. Case variants listed in one folder (`Foo.txt`, `foo.txt` on a Linux target): the
   * index keeps the one last in sortedNames' order, as when the listing was sorted, whatever order
   * it comes in.
   */
  private putListed(name: string, kind: Kind, size: number, mtimeMs: number): void {
    const e = this.entryOf(name);
    if (e >= 0 && !this.lastOdd && !this.oddNames?.has(e) && this.compareName(e) > 0) return;
    this.put(name, kind, size, mtimeMs);
  }

  /** Add a name, or replace what an equal (case-folded) name held. Returns its entry number. */
  private put(name: string, kind: Kind, size: number, mtimeMs: number): number {
    this.keyOf(name);
    const hash = this.lastHash;
    const found = this.probe(name, hash);
    if (found >= 0) {
      this.set(found, name, kind, size, mtimeMs);
      this.pending?.delete(found);
      this.virtual?.delete(found);
      this.reservedFrom?.delete(found);
      this.holders?.delete(found);
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
    this.setName(e);
    if (kind === Kind.ReservedFile || kind === Kind.ReservedDir) return;
    if (size === 0 && mtimeMs === 0 && this.sizes === undefined) return;
    this.sizes ??= new Uint32Array(this.kinds.length);
    this.mtimes ??= new Float64Array(this.kinds.length);
    // 4 bytes a size, not 8 (4 MB at a million names); the rare larger size goes beside.
    this.sizes[e] = Math.min(size, BIG_SIZE);
    if (size >= BIG_SIZE) (this.bigSizes ??= new Map()).set(e, size);
    else this.bigSizes?.delete(e);
    this.mtimes[e] = mtimeMs;
  }

  /** Entry e's name is lastName (keyOf's): its bytes appended (a replaced name's old bytes stay, unused). */
  private setName(e: number): void {
    if (this.lastOdd) (this.oddNames ??= new Map()).set(e, this.lastName);
    else this.oddNames?.delete(e);
    if (this.lengthOf(e) === this.lastLength && this.sameBytes(e)) return;
    const name = this.lastName;
    if (!this.headLearned && this.lastAscii) this.learnHead(name);
    const headed = this.lastAscii && this.head !== "" && name.startsWith(this.head);
    const skip = headed ? this.head.length : 0;
    const length = this.lastLength - skip;
    let block = this.nameBlocks[this.nameBlocks.length - 1];
    if (block === undefined || this.nameUsed + length > block.length) {
      // A small folder's index starts small; blocks double up to NAME_BLOCK (a name is at most 255 bytes on disk).
      block = Buffer.allocUnsafe(Math.max(length, Math.min(NAME_BLOCK, 2 * (block?.length ?? 128))));
      this.nameBlocks.push(block);
      this.nameUsed = 0;
    }
    if (this.lastAscii) for (let i = 0, at = this.nameUsed; i < length; i++) block[at + i] = name.charCodeAt(skip + i);
    else this.lastBytes.copy(block, this.nameUsed, 0, length);
    this.nameStarts[e] = ((this.nameBlocks.length - 1) << NAME_BLOCK_BITS) | this.nameUsed;
    this.nameLengths[e] = headed ? length | HEADED : length;
    this.nameUsed += length;
  }

  /** Counts an ASCII name's head; after HEAD_SAMPLE names, keeps the one most of them share, if any. */
  private learnHead(name: string): void {
    const heads = (this.heads ??= new Map());
    const head = HEAD_END.exec(name)?.[0];
    if (head !== undefined) heads.set(head, (heads.get(head) ?? 0) + 1);
    if (++this.sampled < HEAD_SAMPLE) return;
    for (const [candidate, n] of heads) if (n >= HEAD_QUORUM) this.head = candidate;
    this.heads = undefined;
    this.headLearned = true;
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
    this.nameStarts = grow(this.nameStarts, (k) => new Uint32Array(k));
    this.nameLengths = grow(this.nameLengths, (k) => new Uint16Array(k));
    if (this.sizes) this.sizes = grow(this.sizes, (k) => new Uint32Array(k));
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

/** `hash` is among the sorted `hashes` (a binary search). */
function hasHash(hashes: Uint32Array, hash: number): boolean {
  let lo = 0;
  let hi = hashes.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const h = hashes[mid]!;
    if (h === hash) return true;
    if (h < hash) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
