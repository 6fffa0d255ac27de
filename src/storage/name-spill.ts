/**
 * A large folder's names on disk instead of in memory (docs/partitioned-plan.md): written once to a
 * scratch file in the temp folder, grouped in BUCKETS buckets by their case-folded hash, and read
 * back a part (a run of whole buckets) at a time. Case variants fold alike, so a name and all its
 * variants share a bucket, and every decision that pairs names stays inside one part.
 *
 * The scratch file is on the node's own disk, never the share. On Linux it is unlinked as soon as
 * it is open, so a kill -9 leaves nothing behind; elsewhere it is removed when closed.
 * The first open in a folder sweeps it of the scratch files of processes no longer running: a run
 * killed on Windows (or on Linux between the open and the unlink) left its file there for good.
 */
import fs from "node:fs";
import type { FileHandle } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { pidAlive } from "../shared/lock.js";
import { foldedHash } from "./fold.js";

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

/** A scratch file's name: `octoha-names-<pid>-<12 hex digits>.tmp`, the pid of the process that made it. */
const SCRATCH_RANDOM_BYTES = 6;
const SCRATCH_NAME = new RegExp(`^octoha-names-([1-9][0-9]{0,9})-[0-9a-f]{${2 * SCRATCH_RANDOM_BYTES}}\\.tmp$`);
/** The largest pid process.kill takes (a larger one throws, which pidAlive would take for a dead process). */
const PID_MAX = 0x7fffffff;

function scratchName(): string {
  return `octoha-names-${process.pid}-${randomBytes(SCRATCH_RANDOM_BYTES).toString("hex")}.tmp`;
}

/** Each scratch folder's sweep, started by the first open there (the temp folder: once a process). */
const sweeps = new Map<string, Promise<void>>();

/** Tests: the sweep of `dir`, once a NameSpill was opened there. */
export function scratchSweep(dir: string): Promise<void> | undefined {
  return sweeps.get(dir);
}

/**
 * Removes from `dir` the scratch files whose process is gone (on this host: the temp folder is the
 * node's own). Only names of exactly SCRATCH_NAME's form; a file whose pid is running, or may be
 * (EPERM), is left: this process's own, another run's, or a reused pid's (a stray file stays, where
 * a live run's would be lost). One readdir, then an unlink per dead file; never fails.
 */
async function sweepDeadScratch(dir: string): Promise<void> {
  const names = await fs.promises.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number(SCRATCH_NAME.exec(name)?.[1] ?? 0);
    if (pid === 0 || pid > PID_MAX || pidAlive(pid)) continue;
    await fs.promises.unlink(path.join(dir, name)).catch(() => undefined);
  }
}

/** Bytes a bucket gathers before they are written (64 of them: 1 MiB). */
const BUCKET_BYTES = 16 * 1024;
/** A record: the name's folded hash (4 bytes), its length in UTF-8 (2), then its bytes. */
const HEAD_BYTES = 6;
/** Bytes handed to the writes and not written yet above which `settled` waits (memory, not speed). */
const BACKLOG_BYTES = 256 * 1024;
/** Names `addAll` adds between looks at the backlog (a source's batch is 65,536: ~2.6 MB of records). */
const SETTLE_NAMES = 4096;
/**
 * Written buckets' buffers kept for the next ones: as many as are in use with the backlog at its
 * bound. Those let go wait for a collection: with 16 kept (and a 1 MiB backlog) a no-op of a
 * 300,000-file folder peaked ~4 MiB higher.
 */
const SPARE_BUFFERS = BUCKETS + BACKLOG_BYTES / BUCKET_BYTES;

/**
 * Names spilled by bucket. `addAll` every name (or `add` them, awaiting `settled` now and then),
 * then `finish`, then read `parts()` in turn with `read`. A write that fails (the disk full) marks
 * it `broken`: the caller holds the folder whole instead. `close` is the caller's, also on an early
 * stop.
 *
 * No call waits for the disk on the main thread (issue 16): `add` hands a full bucket's bytes to
 * one write at a time, at offsets reserved as they are handed over, so each bucket's runs stay in
 * the order they were added.
 */
export class NameSpill {
  /** A write failed: what is in the file is not every name. Final once `finish` is done. */
  broken = false;
  private readonly counts = new Uint32Array(BUCKETS);
  private buffers: (Buffer | undefined)[] = [];
  private readonly used = new Uint32Array(BUCKETS);
  /** Per bucket, its written runs as [offset, length] pairs, in order. */
  private readonly runs: number[][] = Array.from({ length: BUCKETS }, () => []);
  /** Bytes reserved in the file: where the next bucket's bytes go. */
  private written = 0;
  private ascii = true;
  private file: FileHandle | undefined;
  /** Buckets' bytes handed over and not written yet, contiguous in the file from `queuedAt`. */
  private queue: Buffer[] = [];
  private queuedAt = 0;
  /** The write in flight (one at a time: the thread pool's other calls are the listing's lstats). */
  private writing: Promise<void> | undefined;
  /** Buffers of written bytes, for the buckets' next ones until `finish`. */
  private spare: Buffer[] | undefined = [];
  private closing: Promise<void> | undefined;
  /** Bytes handed over and not written yet (in the queue, or in flight). */
  backlog = 0;

  private constructor(
    file: FileHandle,
    /** Removed after close (where it could not be unlinked while open). */
    private readonly leftAt: string | undefined,
    /** The scratch folder's sweep, awaited by `close` (nothing of the spill's is left running). */
    private readonly sweep: Promise<void>,
  ) {
    this.file = file;
  }

  /**
   * A new scratch file, or undefined when none can be made (the caller then holds the folder whole).
   * The first open in a folder starts its sweep (sweepDeadScratch) once its own file is made (or
   * failed to be), and does not wait for it. `unlinkWhileOpen` is false on Windows, where an open file cannot be
   * unlinked (tests pass false to take that path anywhere).
   */
  static async open(unlinkWhileOpen = process.platform !== "win32"): Promise<NameSpill | undefined> {
    const dir = limits.scratchDir ?? os.tmpdir();
    const at = path.join(dir, scratchName());
    const file = await fs.promises.open(at, "wx+", 0o600).catch(() => undefined);
    let sweep = sweeps.get(dir);
    if (sweep === undefined) sweeps.set(dir, (sweep = sweepDeadScratch(dir)));
    if (file === undefined) return undefined;
    if (!unlinkWhileOpen) return new NameSpill(file, at, sweep);
    try {
      await fs.promises.unlink(at);
      return new NameSpill(file, undefined, sweep);
    } catch {
      return new NameSpill(file, at, sweep);
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
    // Room for the name at 3 bytes a UTF-16 unit, the most UTF-8 takes.
    if (this.used[bucket]! + HEAD_BYTES + 3 * name.length > BUCKET_BYTES) this.flush(bucket);
    if (this.broken) return;
    let buffer = this.buffers[bucket];
    if (buffer === undefined) this.buffers[bucket] = buffer = this.spare?.pop() ?? Buffer.allocUnsafe(BUCKET_BYTES);
    const at = this.used[bucket]!;
    const length = buffer.write(name, at + HEAD_BYTES, "utf8");
    if (length !== name.length) this.ascii = false;
    buffer.writeUInt32LE(hash, at);
    buffer.writeUInt16LE(length, at + 4);
    this.used[bucket] = at + HEAD_BYTES + length;
  }

  /** Adds `names`, waiting for the writes every SETTLE_NAMES of them while the backlog is over its bound. */
  async addAll(names: readonly string[]): Promise<void> {
    for (let from = 0; from < names.length; from += SETTLE_NAMES) {
      const to = Math.min(names.length, from + SETTLE_NAMES);
      for (let k = from; k < to; k++) this.add(names[k]!, foldedHash(names[k]!));
      await this.settled();
    }
  }

  /**
   * Waits until no more than BACKLOG_BYTES are waiting to be written: awaited by the caller once a
   * batch of names (not per name), it bounds what a disk slower than the folder's listing holds.
   */
  async settled(): Promise<void> {
    while (this.backlog > BACKLOG_BYTES && this.writing) await this.writing;
  }

  /** Every name is added: the buckets' last bytes are written and the buffers let go. */
  async finish(): Promise<void> {
    for (let b = 0; b < BUCKETS; b++) if (this.used[b]! > 0) this.flush(b);
    this.buffers = [];
    this.spare = undefined;
    while (this.writing) await this.writing;
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
  async read(lo: number, hi: number): Promise<SpilledPart> {
    const n = this.countOf(lo, hi);
    const offsets = new Uint32Array(n);
    const hashes = new Uint32Array(n);
    let total = 0;
    for (let b = lo; b < hi; b++) total += this.bytesIn(b);
    const bytes = Buffer.allocUnsafeSlow(total);
    let at = 0;
    for (let b = lo; b < hi; b++) at = await this.readBucket(b, bytes, at);
    for (let k = 0, record = 0; k < n; k++) {
      offsets[k] = record;
      hashes[k] = bytes.readUInt32LE(record);
      record += HEAD_BYTES + bytes.readUInt16LE(record + 4);
    }
    return new SpilledPart(bytes, offsets, hashes, this.ascii);
  }

  /**
   * Closes the file (after the write or read in flight) and removes it where it was not unlinked.
   * Never fails; twice is once. Bytes not written yet are dropped: a spill closed before `finish`
   * is done is `broken`.
   */
  close(): Promise<void> {
    return (this.closing ??= this.closeFile());
  }

  private async closeFile(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    if (this.queue.length > 0) this.broken = true;
    this.backlog -= this.queue.reduce((sum, slice) => sum + slice.length, 0);
    this.queue = [];
    this.buffers = [];
    this.spare = undefined;
    try {
      await file?.close();
    } catch {
      // nothing left to do with it
    }
    if (this.leftAt !== undefined) await fs.promises.rm(this.leftAt, { force: true }).catch(() => undefined);
    await this.sweep;
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
  private async readBucket(bucket: number, into: Buffer, at: number): Promise<number> {
    const runs = this.runs[bucket]!;
    for (let i = 0; i < runs.length; i += 2) {
      const length = runs[i + 1]!;
      for (let done = 0; done < length;) {
        const file = this.file;
        if (file === undefined) throw new Error("the scratch file of a folder's names is closed");
        const { bytesRead } = await file.read(into, at + done, length - done, runs[i]! + done);
        if (bytesRead === 0) throw new Error("the scratch file of a folder's names ended early");
        done += bytesRead;
      }
      at += length;
    }
    return at;
  }

  /** Hands the bucket's bytes to the writes, at the next offset in the file; the bucket starts a fresh buffer. */
  private flush(bucket: number): void {
    const buffer = this.buffers[bucket]!;
    const length = this.used[bucket]!;
    this.used[bucket] = 0;
    this.buffers[bucket] = undefined; // the write holds it until it is done
    if (this.file === undefined) {
      this.broken = true;
      return;
    }
    if (limits.scratchBytes !== undefined && this.written + length > limits.scratchBytes) {
      this.broken = true; // as if the temp folder were full
      return;
    }
    if (this.queue.length === 0) this.queuedAt = this.written;
    this.queue.push(buffer.subarray(0, length));
    this.runs[bucket]!.push(this.written, length);
    this.written += length;
    this.backlog += length;
    this.writeNext();
  }

  /** Writes what is queued, in one call at its offset, unless a write is in flight (its end starts the next). */
  private writeNext(): void {
    const file = this.file;
    if (this.writing || this.queue.length === 0 || file === undefined || this.broken) return;
    const slices = this.queue;
    const bytes = slices.reduce((sum, slice) => sum + slice.length, 0);
    this.queue = [];
    this.writing = writeAt(file, slices, this.queuedAt).then(
      () => {
        this.backlog -= bytes;
        // A slice starts where its bucket's buffer does: the whole buffer again, free now.
        for (const slice of slices)
          if (this.spare && this.spare.length < SPARE_BUFFERS) this.spare.push(Buffer.from(slice.buffer, slice.byteOffset, BUCKET_BYTES));
        this.writing = undefined;
        this.writeNext();
      },
      () => {
        this.broken = true; // the temp folder is full: the caller holds the folder whole
        this.backlog = 0;
        this.queue = [];
        this.writing = undefined;
      },
    );
  }
}

/** `slices`, one after another, written at `at` (a short write goes on with the rest). */
async function writeAt(file: FileHandle, all: readonly Buffer[], at: number): Promise<void> {
  const slices = [...all];
  while (slices.length > 0) {
    const { bytesWritten } = slices.length === 1 ? await file.write(slices[0]!, 0, slices[0]!.length, at) : await file.writev(slices, at);
    if (bytesWritten === 0) throw new Error("the scratch file of a folder's names took no bytes");
    at += bytesWritten;
    let left = bytesWritten;
    while (slices.length > 0 && left >= slices[0]!.length) left -= slices.shift()!.length;
    if (left > 0) slices[0] = slices[0]!.subarray(left);
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
