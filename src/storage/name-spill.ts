/**
 * A large folder's names on disk instead of in memory (docs/partitioned-plan.md): written once to a
 * scratch file in the temp folder, grouped in BUCKETS buckets by their case-folded hash, and read
 * back a part (a run of whole buckets) at a time. Case variants fold alike, so a name and all its
 * variants share a bucket, and every decision that pairs names stays inside one part.
 *
 * The scratch file is on the node's own disk, never the share. On Linux it is unlinked as soon as
 * it is open, so a kill -9 leaves nothing behind; elsewhere it is removed when closed.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";

/** A folder of more than this many names tells its names' hashes no longer, and is walked a part at a time. */
export const NAMES_TOLD = 131_072;
/** Buckets by the top 6 bits of a name's folded hash. */
export const BUCKETS = 64;
/** Names a part holds at most (a single larger bucket is a part of its own). */
const PART_NAMES = 65_536;

/** The bucket of a name whose folded hash (foldedHash) is `hash`. */
export function bucketOf(hash: number): number {
  return hash >>> 26;
}

export interface PartLimits {
  /** A sorted listing of more names than this is spilled and walked a part at a time. */
  folderNames: number;
  /** Names a part holds at most. */
  partNames: number;
  /** Where scratch files go (the temp folder unless a test says otherwise). */
  scratchDir: string | undefined;
  /**
   * Names a source listing reads (and sorts) at a time until it knows the folder is large
   * (file-ops.ts, SORT_RUN): those go to the scratch file in their runs' order, the rest in the
   * folder's own. Tests lower it, so that a small folder's parts hold names in the folder's order.
   */
  runNames: number | undefined;
  /** Tests: a scratch file takes no more bytes than this, as if the temp folder were full. */
  scratchBytes: number | undefined;
}

const limits: PartLimits = {
  folderNames: NAMES_TOLD,
  partNames: PART_NAMES,
  scratchDir: undefined,
  runNames: undefined,
  scratchBytes: undefined,
};

export function partLimits(): Readonly<PartLimits> {
  return limits;
}

/** Tests: lower the limits (small folders then take the partitioned path). Returns the undo. */
export function setPartLimits(changed: Partial<PartLimits>): () => void {
  const before = { ...limits };
  Object.assign(limits, changed);
  return () => Object.assign(limits, before);
}

/** A run of whole buckets [lo, hi) and how many names it holds. */
export interface PartRange {
  lo: number;
  hi: number;
  names: number;
}

/** Bytes a bucket gathers before they are written (64 of them: 1 MiB). */
const BUCKET_BYTES = 16 * 1024;
/** A record: the name's folded hash (4 bytes), its length in UTF-8 (2), then its bytes. */
const HEAD_BYTES = 6;

/**
 * Names spilled by bucket. `add` every name, then `finish`, then read `parts()` in turn with
 * `read`. A write that fails (the disk full) marks it `broken`: the caller holds the folder whole
 * instead. `close` is the caller's, also on an early stop.
 */
export class NameSpill {
  /** A write failed: what is in the file is not every name. */
  broken = false;
  private readonly counts = new Uint32Array(BUCKETS);
  private readonly buffers: Buffer[] = [];
  private readonly used = new Uint32Array(BUCKETS);
  /** Per bucket, its written runs as [offset, length] pairs, in order. */
  private readonly runs: number[][] = Array.from({ length: BUCKETS }, () => []);
  private written = 0;
  private ascii = true;
  private fd: number | undefined;

  private constructor(
    fd: number,
    /** Removed at close (where it could not be unlinked while open). */
    private readonly leftAt: string | undefined,
  ) {
    this.fd = fd;
  }

  /** A new scratch file, or undefined when none can be made (the caller then holds the folder whole). */
  static open(): NameSpill | undefined {
    const dir = limits.scratchDir ?? os.tmpdir();
    const at = path.join(dir, `octoha-names-${process.pid}-${randomBytes(6).toString("hex")}.tmp`);
    let fd: number;
    try {
      fd = fs.openSync(at, "wx+", 0o600);
    } catch {
      return undefined;
    }
    if (process.platform === "win32") return new NameSpill(fd, at);
    try {
      fs.unlinkSync(at);
      return new NameSpill(fd, undefined);
    } catch {
      return new NameSpill(fd, at);
    }
  }

  /** How many names have been added. */
  get size(): number {
    let n = 0;
    for (const c of this.counts) n += c;
    return n;
  }

  add(name: string, hash: number): void {
    const bucket = bucketOf(hash);
    this.counts[bucket]!++;
    if (this.broken) return;
    let buffer = this.buffers[bucket];
    if (buffer === undefined) this.buffers[bucket] = buffer = Buffer.allocUnsafe(BUCKET_BYTES);
    // Room for the name at 3 bytes a UTF-16 unit, the most UTF-8 takes.
    if (this.used[bucket]! + HEAD_BYTES + 3 * name.length > BUCKET_BYTES) this.flush(bucket);
    if (this.broken) return;
    const at = this.used[bucket]!;
    const length = buffer.write(name, at + HEAD_BYTES, "utf8");
    if (length !== name.length) this.ascii = false;
    buffer.writeUInt32LE(hash, at);
    buffer.writeUInt16LE(length, at + 4);
    this.used[bucket] = at + HEAD_BYTES + length;
  }

  /** Every name is added: the buckets' last bytes are written and the buffers let go. */
  finish(): void {
    for (let b = 0; b < BUCKETS; b++) if (this.used[b]! > 0) this.flush(b);
    this.buffers.length = 0;
  }

  /** Runs of whole buckets covering all of them, each of up to partNames names (or one larger bucket). */
  parts(): PartRange[] {
    const parts: PartRange[] = [];
    let current: PartRange | undefined;
    for (let b = 0; b < BUCKETS; b++) {
      const n = this.counts[b]!;
      if (current && (n === 0 || current.names + n <= limits.partNames)) {
        current.hi = b + 1;
        current.names += n;
        continue;
      }
      current = { lo: b, hi: b + 1, names: n };
      parts.push(current);
    }
    return parts;
  }

  /**
   * The names of buckets [lo, hi), bucket by bucket, each bucket's in the order they were added:
   * kept as their bytes, decoded a few at a time (a part's names held as strings for its whole
   * planning were promoted, and grew the heap).
   */
  read(lo: number, hi: number): SpilledPart {
    const n = this.countOf(lo, hi);
    const offsets = new Uint32Array(n);
    const hashes = new Uint32Array(n);
    let total = 0;
    for (let b = lo; b < hi; b++) total += this.bytesIn(b);
    const bytes = Buffer.allocUnsafeSlow(total);
    let at = 0;
    for (let b = lo; b < hi; b++) at = this.readBucket(b, bytes, at);
    for (let k = 0, record = 0; k < n; k++) {
      offsets[k] = record;
      hashes[k] = bytes.readUInt32LE(record);
      record += HEAD_BYTES + bytes.readUInt16LE(record + 4);
    }
    return new SpilledPart(bytes, offsets, hashes, this.ascii);
  }

  /** Closes the file (and removes it where it was not unlinked). Twice is once. */
  close(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    this.buffers.length = 0;
    try {
      fs.closeSync(fd);
    } catch {
      // nothing left to do with it
    }
    if (this.leftAt !== undefined) fs.rmSync(this.leftAt, { force: true });
  }

  private countOf(lo: number, hi: number): number {
    let n = 0;
    for (let b = lo; b < hi; b++) n += this.counts[b]!;
    return n;
  }

  /** Bytes a bucket's records take. */
  private bytesIn(bucket: number): number {
    const runs = this.runs[bucket]!;
    let total = 0;
    for (let i = 1; i < runs.length; i += 2) total += runs[i]!;
    return total;
  }

  /** A bucket's records, read into `into` at `at`; returns where they end. */
  private readBucket(bucket: number, into: Buffer, at: number): number {
    const fd = this.fd;
    if (fd === undefined) throw new Error("the scratch file of a folder's names is closed");
    const runs = this.runs[bucket]!;
    for (let i = 0; i < runs.length; i += 2) {
      const length = runs[i + 1]!;
      for (let done = 0; done < length;) {
        const n = fs.readSync(fd, into, at + done, length - done, runs[i]! + done);
        if (n === 0) throw new Error("the scratch file of a folder's names ended early");
        done += n;
      }
      at += length;
    }
    return at;
  }

  private flush(bucket: number): void {
    const buffer = this.buffers[bucket]!;
    const length = this.used[bucket]!;
    this.used[bucket] = 0;
    if (this.fd === undefined) {
      this.broken = true;
      return;
    }
    try {
      if (limits.scratchBytes !== undefined && this.written + length > limits.scratchBytes)
        throw Object.assign(new Error("ENOSPC: the scratch file's limit"), { code: "ENOSPC" });
      for (let done = 0; done < length;) done += fs.writeSync(this.fd, buffer, done, length - done, this.written + done);
    } catch {
      this.broken = true; // the temp folder is full: the caller holds the folder whole
      return;
    }
    this.runs[bucket]!.push(this.written, length);
    this.written += length;
  }
}

/** A part's names as their records (NameSpill.read): name k is decoded when asked for. */
export class SpilledPart {
  constructor(
    private readonly bytes: Buffer,
    /** Where each name's record starts, in the part's order (which `reorder` may change). */
    private readonly offsets: Uint32Array,
    /** Each name's folded hash, in the order the names were read (not reordered). */
    readonly hashes: Uint32Array,
    private readonly ascii: boolean,
  ) {}

  get length(): number {
    return this.offsets.length;
  }

  /** Name k (in the part's order). */
  name(k: number): string {
    const at = this.offsets[k]!;
    const length = this.bytes.readUInt16LE(at + 4);
    return this.bytes.toString(this.ascii ? "latin1" : "utf8", at + HEAD_BYTES, at + HEAD_BYTES + length);
  }

  /** Name k's folded hash (in the part's order). */
  hash(k: number): number {
    return this.bytes.readUInt32LE(this.offsets[k]!);
  }

  /** Names [from, to). */
  names(from: number, to: number): string[] {
    const out: string[] = [];
    for (let k = from; k < Math.min(to, this.length); k++) out.push(this.name(k));
    return out;
  }

  /** The names at `places` (ascending) put in the order `order` gives them, among those places. */
  reorder(places: number[], order: (a: string, b: string) => number): void {
    const those = places.map((k) => ({ name: this.name(k), at: this.offsets[k]! }));
    those.sort((a, b) => order(a.name, b.name));
    places.forEach((k, i) => (this.offsets[k] = those[i]!.at));
  }
}
