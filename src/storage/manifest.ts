/**
 * The copy manifest: one JSON line per verified file at the target (ManifestRecord, format v1),
 * appended in fsync'd batches (group commit) so a crash loses at most the last batch, never
 * corrupts earlier lines. A re-run trusts a record for a target whose size and mtime still match
 * it: re-hashing every target on a no-op re-run would read the whole share again.
 */
import path from "node:path";
import { OctohaError } from "../shared/errors.js";
import { writeFully, type FileOps, type OpenFile } from "./file-ops.js";
import { classifyFsError } from "./copy-errors.js";
import type { ManifestRecord } from "./types.js";
import { readSnapshot, writeSnapshot } from "./manifest-snapshot.js";

export const MANIFEST_VERSION = 1;

/**
 * Which target files the manifest vouches for: 16 bytes per file instead of its path and hash keeps
 * 260 000 records in ~8 MB. The key is a 64-bit fingerprint of (relPath, size); the value packs
 * the recorded mtime (whole milliseconds) with the node whose copy wrote the file, as an index into
 * a short list of node names (a cluster has a handful). The mtime is compared with sameMtime's
 * tolerance, never hashed: a time rounded to the millisecond can land on either side of a .5
 * (the target's mtime goes through utimes, the source's through the listing), and a hashed rounded
 * time made a no-op re-run re-hash such files. Only ever asked after the target's size and mtime
 * already equal the source's (or, for writtenBy, after the bytes were found to differ), so a
 * fingerprint clash (odds about n²/2⁶⁴) could at worst skip re-hashing a file that already looks
 * identical. Knowing the writer lets a preseed's copy of a log that has grown since be recognised
 * as this node's own and updated rather than treated as a rival.
 */
export class ManifestIndex {
  // Open addressing in typed arrays (a Map of 260 000 doubles cost ~40 MB and most of a no-op's
  // lookup time): slot i holds the fingerprint's two halves, and the packed mtime and node.
  private hi: Uint32Array = new Uint32Array(1024);
  private lo: Uint32Array = new Uint32Array(1024);
  private packed: Float64Array = new Float64Array(1024).fill(EMPTY);
  private used = 0;
  private nodes: (string | undefined)[] = [];
  /** Bytes of the manifest file this index reflects, through its last whole line. */
  coveredBytes = 0;
  /** True when loaded from a snapshot that already covered the whole manifest. */
  snapshotFresh = false;

  /** The table itself, for a snapshot. */
  table(): ManifestTable {
    return { hi: this.hi, lo: this.lo, packed: this.packed, used: this.used, nodes: this.nodes };
  }

  /** An index over a snapshot's table (used as is, not copied). */
  static fromTable(t: ManifestTable): ManifestIndex {
    const index = new ManifestIndex();
    index.hi = t.hi;
    index.lo = t.lo;
    index.packed = t.packed;
    index.used = t.used;
    index.nodes = t.nodes;
    return index;
  }

  set(r: Pick<ManifestRecord, "relPath" | "size" | "mtimeMs" | "sha256" | "node">): void {
    if (!r.sha256) return;
    const ms = Math.round(r.mtimeMs);
    fingerprint(r.relPath, r.size);
    // Outside ±2^42 ms (about 139 years from 1970) the time does not pack: forget any older record
    // instead, so the file is re-verified by hash.
    const value = Math.abs(ms) >= MTIME_LIMIT ? GONE : ms * NODE_SLOTS + this.nodeIndex(r.node);
    const i = this.slot(fpHi, fpLo);
    if (this.packed[i] === EMPTY) {
      if (value === GONE) return;
      this.hi[i] = fpHi;
      this.lo[i] = fpLo;
      this.used++;
    }
    this.packed[i] = value;
    if (this.used * 2 > this.packed.length) this.grow();
  }

  /** True when a record with this path and size, and an mtime equal to the millisecond, carried a hash. */
  vouchesFor(relPath: string, size: number, mtimeMs: number): boolean {
    return this.lookup(relPath, size, mtimeMs) !== undefined;
  }

  /** The source node of the copy that left the target as it is now (same path, size and mtime as recorded). */
  writtenBy(relPath: string, size: number, mtimeMs: number): string | undefined {
    const i = this.lookup(relPath, size, mtimeMs);
    return i === undefined ? undefined : this.nodes[i];
  }

  /** Files the manifest vouches for. */
  get size(): number {
    let n = 0;
    for (let i = 0; i < this.packed.length; i++) if (this.packed[i]! > GONE) n++;
    return n;
  }

  /** The node index of a matching record. */
  private lookup(relPath: string, size: number, mtimeMs: number): number | undefined {
    fingerprint(relPath, size);
    const packed = this.packed[this.slot(fpHi, fpLo)]!;
    if (packed <= GONE) return undefined;
    const ms = Math.floor(packed / NODE_SLOTS);
    // The record was rounded to the millisecond: allow that half millisecond on top of sameMtime's.
    return Math.abs(ms - mtimeMs) < 1.5 ? packed - ms * NODE_SLOTS : undefined;
  }

  /** The slot holding this fingerprint, or the empty slot where it would go (linear probing). */
  private slot(h: number, l: number): number {
    const mask = this.packed.length - 1;
    let i = (l ^ Math.imul(h, 0x9e3779b1)) & mask;
    while (this.packed[i] !== EMPTY && (this.hi[i] !== h || this.lo[i] !== l)) i = (i + 1) & mask;
    return i;
  }

  private grow(): void {
    const { hi, lo, packed } = this;
    this.hi = new Uint32Array(hi.length * 2);
    this.lo = new Uint32Array(lo.length * 2);
    this.packed = new Float64Array(packed.length * 2).fill(EMPTY);
    for (let i = 0; i < packed.length; i++) {
      if (packed[i] === EMPTY) continue;
      const j = this.slot(hi[i]!, lo[i]!);
      this.hi[j] = hi[i]!;
      this.lo[j] = lo[i]!;
      this.packed[j] = packed[i]!;
    }
  }

  private nodeIndex(node: string | undefined): number {
    const i = this.nodes.indexOf(node);
    if (i >= 0) return i;
    if (this.nodes.length >= NODE_SLOTS) {
      throw new OctohaError(`The copy manifest names more than ${NODE_SLOTS} source nodes`, {
        code: "MANIFEST_NODES",
        hint: "A cluster has a handful of nodes: use one --state-dir per target, or pass --node with the node's name.",
      });
    }
    return this.nodes.push(node) - 1;
  }
}

/** The index's open-addressing table: parallel arrays of one power-of-two length. */
export interface ManifestTable {
  hi: Uint32Array;
  lo: Uint32Array;
  packed: Float64Array;
  used: number;
  nodes: (string | undefined)[];
}

/** Node indexes per packed value (2^11); the mtime takes the other 42 of 53 bits. */
const NODE_SLOTS = 2048;
const MTIME_LIMIT = 2 ** 42;
/** Packed values below any real one: a free slot, and a slot whose record was withdrawn. */
const EMPTY = -(2 ** 60);
const GONE = -(2 ** 59);

/** Two FNV-1a variants over "relPath|size", left in fpHi and fpLo (no object per call on the hot path). */
let fpHi = 0;
let fpLo = 0;
function fingerprint(relPath: string, size: number): void {
  let h1 = 0x811c9dc5;
  let h2 = 0x5bd1e995;
  for (let i = 0; i < relPath.length; i++) {
    const c = relPath.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 16777619);
    h2 = Math.imul(h2 ^ c, 0x27d4eb2f);
  }
  // The size as its decimal digits after a separator, as the key "relPath|size" always was.
  h1 = Math.imul(h1 ^ 0x7c, 16777619);
  h2 = Math.imul(h2 ^ 0x7c, 0x27d4eb2f);
  const digits = String(size);
  for (let i = 0; i < digits.length; i++) {
    const c = digits.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 16777619);
    h2 = Math.imul(h2 ^ c, 0x27d4eb2f);
  }
  fpHi = h1 >>> 0;
  fpLo = h2 >>> 0;
}

/** Modification times equal to the millisecond (utimes keeps microseconds; SMB keeps 100 ns). */
export function sameMtime(a: number, b: number): boolean {
  return Math.abs(a - b) < 1;
}

/**
 * Read a manifest (missing file = empty): from its snapshot when one matches, plus the lines
 * appended since. A torn last line from a crash is ignored.
 */
export async function loadManifest(ops: FileOps, file: string): Promise<ManifestIndex> {
  let handle: OpenFile;
  try {
    handle = await ops.open(file, "r");
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return new ManifestIndex();
    throw classifyFsError(error, { side: "target", path: file });
  }
  try {
    const snapshot = await readSnapshot(ops, file, handle, (await handle.stat()).size);
    const index = snapshot?.index ?? new ManifestIndex();
    const from = snapshot?.bytes ?? 0;
    index.coveredBytes = await parseFrom(handle, from, index, file);
    index.snapshotFresh = snapshot !== undefined && index.coveredBytes === from;
    return index;
  } finally {
    await handle.close();
  }
}

/**
 * Bring `index` (loaded by loadManifest) up to the manifest's end and write its snapshot, so the
 * next run starts from it. Does nothing when the loaded snapshot was already current and nothing
 * was appended. A snapshot is a cache: failing to write one costs the next run time, not data.
 */
export async function refreshManifestSnapshot(ops: FileOps, file: string, index: ManifestIndex): Promise<void> {
  let handle: OpenFile;
  try {
    handle = await ops.open(file, "r");
  } catch {
    return;
  }
  try {
    const before = index.coveredBytes;
    index.coveredBytes = await parseFrom(handle, before, index, file);
    if (index.snapshotFresh && index.coveredBytes === before) return;
    await writeSnapshot(ops, file, handle, index);
    index.snapshotFresh = true;
  } catch {
    // Left for the next run to parse in full.
  } finally {
    await handle.close();
  }
}

/** Parse the manifest's lines from byte `from` into index; returns the offset after the last whole line. */
async function parseFrom(handle: OpenFile, from: number, index: ManifestIndex, file: string): Promise<number> {
  const buffer = Buffer.allocUnsafe(1 << 20);
  let position = from;
  let carry: Buffer | undefined;
  let lineNo = 0;
  for (;;) {
    const n = await handle.read(buffer, 0, buffer.length, position);
    if (n === 0) break;
    position += n;
    const chunk = carry ? Buffer.concat([carry, buffer.subarray(0, n)]) : buffer.subarray(0, n);
    const last = chunk.lastIndexOf(10);
    if (last < 0) {
      carry = Buffer.from(chunk); // the buffer is reused: keep a copy
      continue;
    }
    for (const line of chunk.toString("utf8", 0, last).split("\n")) {
      lineNo++;
      if (line.trim() !== "") parseLine(index, line, file, lineNo, from);
    }
    carry = last + 1 < chunk.length ? Buffer.from(chunk.subarray(last + 1)) : undefined;
  }
  // carry is a line without its newline: a batch torn by a crash, ignored on purpose.
  return position - (carry?.length ?? 0);
}

/** A line exactly as ManifestWriter writes it (fast path); anything else goes through JSON.parse. */
const OWN_LINE = /^\{"v":1,"relPath":"([^"\\]*)","size":(\d+),"mtimeMs":(-?[0-9.e+]+),"sha256":"[0-9a-f]{64}"(?:,"node":"([^"\\]*)")?\}$/;

function parseLine(index: ManifestIndex, line: string, file: string, lineNo: number, from: number): void {
  const own = OWN_LINE.exec(line);
  if (own) {
    // Half the time of JSON.parse on 260 000 lines, and no object per record.
    index.set({ relPath: own[1]!, size: Number(own[2]), mtimeMs: Number(own[3]), sha256: "x", node: own[4] });
    return;
  }
  let record: ManifestRecord;
  try {
    record = JSON.parse(line) as ManifestRecord;
  } catch {
    return; // torn write inside a batch that was never fsync'd: ignore, the file is re-checked
  }
  if (record.v !== MANIFEST_VERSION) {
    throw new OctohaError(`Manifest '${file}' line ${lineNo}${from > 0 ? ` after byte ${from}` : ""}: format version expected ${MANIFEST_VERSION}, found ${String(record.v)}`, {
      code: "MANIFEST_VERSION",
      path: file,
      hint: "It was written by another octoha version. Use that version, or pass another --state-dir (files are then re-verified by hash).",
    });
  }
  index.set(record);
}

export interface ManifestWriterOptions {
  /** Records per fsync'd batch. */
  batchSize?: number;
  /** Longest a record waits before its batch is written. */
  maxDelayMs?: number;
}

/** Appends records in fsync'd batches; close() commits the rest. */
export class ManifestWriter {
  private buffered: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private failure: unknown;

  private constructor(
    private readonly handle: OpenFile,
    private readonly file: string,
    private readonly batchSize: number,
    private readonly maxDelayMs: number,
  ) {}

  static async open(ops: FileOps, file: string, options: ManifestWriterOptions = {}): Promise<ManifestWriter> {
    try {
      await ops.mkdir(path.dirname(file));
      const handle = await ops.open(file, "a");
      return new ManifestWriter(handle, file, options.batchSize ?? 512, options.maxDelayMs ?? 250);
    } catch (error) {
      throw classifyFsError(error, { side: "target", path: file });
    }
  }

  add(record: ManifestRecord): void {
    if (this.failure) throw classifyFsError(this.failure, { side: "target", path: this.file });
    this.buffered.push(JSON.stringify(record));
    if (this.buffered.length >= this.batchSize) this.commit();
    else this.timer ??= setTimeout(() => this.commit(), this.maxDelayMs);
  }

  private commit(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffered.length === 0) return;
    const bytes = Buffer.from(this.buffered.join("\n") + "\n");
    this.buffered = [];
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        await writeFully(this.handle, bytes);
        await this.handle.sync();
      } catch (error) {
        this.failure = error;
      }
    });
  }

  /** Commit what is buffered and close. Throws if any batch failed to reach the disk. */
  async close(): Promise<void> {
    this.commit();
    await this.chain;
    await this.handle.close();
    if (this.failure) throw classifyFsError(this.failure, { side: "target", path: this.file });
  }
}
