/**
 * The copy manifest: one JSON line per verified file at the target (ManifestRecord, format v1),
 * appended in fsync'd batches (group commit) so a crash loses at most the last batch, never
 * corrupts earlier lines. A re-run trusts a record for a target whose size and mtime still match
 * it: re-hashing every target on a no-op re-run would read the whole share again.
 */
import { hash } from "node:crypto";
import path from "node:path";
import { OctohaError } from "../shared/errors.js";
import { writeFully, type FileOps, type OpenFile } from "./file-ops.js";
import { classifyFsError } from "./copy-errors.js";
import type { ManifestRecord } from "./types.js";
import { BATCH_GROWTH_LIMIT, boundHeap } from "./heap.js";

export const MANIFEST_VERSION = 2;
/** Version 1 lines (before records said which source file they came from) are still read: origin unknown. */
const READABLE_VERSIONS: readonly number[] = [1, 2];

/**
 * Which target files the manifest vouches for, and which source file each was written from: 22
 * bytes per slot instead of its path and hash, at most 7 records per 8 slots (MAX_LOAD): a million
 * records in ~26 MB after a copy's reserve (24-byte slots at 0.7 took 34 MB, at most 2 per 4 slots
 * in a power-of-two table 48 MB; issue 15 counts every byte a file). The key is a 64-bit
 * fingerprint of (relPath, size); the values are the recorded mtime (whole milliseconds) and the
 * 64-bit origin of the copy that wrote the file (see `src` in ManifestRecord; 0 = unknown). The
 * mtime is compared with sameMtime's tolerance, never hashed: a time rounded to the millisecond
 * can land on either side of a .5 (the target's mtime goes through utimes, the source's through the
 * listing), and a hashed rounded time made a no-op re-run re-hash such files. Only ever asked after
 * the target's size and mtime already equal the source's (or, for writtenFrom, after the bytes were
 * found to differ), so a fingerprint clash (odds about n²/2⁶⁴) could at worst skip re-hashing a file
 * that already looks identical. Knowing the origin lets a preseed's copy of a log that has grown
 * since be recognised as this very source file's and updated rather than treated as a rival, and
 * nothing else: another source's file, whatever its node name, is never replaced as "our own". It
 * also binds the record's proof to one source file: another source's file of the same path, size
 * and mtime (two nodes' logs into one share) is hashed, never skipped on the record's word.
 */
export class ManifestIndex {
  // Open addressing in typed arrays (a Map of 260 000 doubles cost ~40 MB and most of a no-op's
  // lookup time): slot i holds the fingerprint's two halves, the mtime (48 bits: MTIME_BIAS) and
  // the origin's two halves.
  private hi: Uint32Array = new Uint32Array(MIN_CAPACITY);
  private lo: Uint32Array = new Uint32Array(MIN_CAPACITY);
  private mtLo: Uint32Array = new Uint32Array(MIN_CAPACITY);
  private mtHi: Uint16Array = new Uint16Array(MIN_CAPACITY).fill(EMPTY_HI);
  private srcHi: Uint32Array = new Uint32Array(MIN_CAPACITY);
  private srcLo: Uint32Array = new Uint32Array(MIN_CAPACITY);
  private used = 0;
  /** Bytes of the manifest file this index reflects, through its last whole line. */
  coveredBytes = 0;
  /** True when loaded from a snapshot that already covered the whole manifest. */
  snapshotFresh = false;
  /**
   * Whole lines that are not a record octoha writes (edited by hand, damaged on disk, or glued to a
   * torn batch by an older octoha), ignored: the files they named are verified by hash again. The
   * first one's place, as a message names it.
   */
  damaged: { lines: number; first: string } | undefined;
  /**
   * The manifest holds fewer bytes than its snapshot says it covered (`now`; undefined: it is gone):
   * emptied, cut short, deleted or replaced since octoha last wrote it (octoha only appends).
   */
  shrunk: { was: number; now: number | undefined } | undefined;
  /**
   * Intents without a later done or withdrawn record, by relPath: files a killed copy created (or
   * was about to create). Few (at most the batches in flight at a kill), so a plain Map.
   */
  private readonly openIntents = new Map<string, string>();

  /** The open intent for this target path: proof that a copy of ours created the file there. */
  intentFor(relPath: string): ManifestRecord | undefined {
    const line = this.openIntents.get(relPath);
    return line === undefined ? undefined : (JSON.parse(line) as ManifestRecord);
  }

  /** Intents still open (a snapshot cannot hold them: they are appended again past its end). */
  get openIntentCount(): number {
    return this.openIntents.size;
  }

  /** The open intents as manifest lines. */
  openIntentLines(): string[] {
    return [...this.openIntents.values()];
  }

  /** Apply a record (its line, kept while it is an open intent), closing the intent a done or withdrawn record follows. */
  note(r: Pick<ManifestRecord, "relPath" | "size" | "mtimeMs" | "sha256" | "src" | "same" | "intent">, line: string): void {
    if (r.intent === "open") this.openIntents.set(r.relPath, line);
    else {
      this.openIntents.delete(r.relPath);
      if (r.intent === undefined) this.set(r);
    }
  }

  /** A done record read on the fast path: it closes any open intent for its path. */
  closeIntent(relPath: string): void {
    if (this.openIntents.size > 0) this.openIntents.delete(relPath);
  }

  /** The table itself, for a snapshot. */
  table(): ManifestTable {
    return { hi: this.hi, lo: this.lo, mtLo: this.mtLo, mtHi: this.mtHi, srcHi: this.srcHi, srcLo: this.srcLo, used: this.used };
  }

  /** An index over a snapshot's table (used as is, not copied). */
  static fromTable(t: ManifestTable): ManifestIndex {
    const index = new ManifestIndex();
    Object.assign(index, { hi: t.hi, lo: t.lo, mtLo: t.mtLo, mtHi: t.mtHi, srcHi: t.srcHi, srcLo: t.srcLo, used: t.used });
    return index;
  }

  set(r: Pick<ManifestRecord, "relPath" | "size" | "mtimeMs" | "sha256" | "src" | "same">): void {
    if (!r.sha256) return;
    fingerprint(r.relPath, r.size);
    const i = this.slot(fpHi, fpLo);
    if (this.mtHi[i] === EMPTY_HI) {
      this.hi[i] = fpHi;
      this.lo[i] = fpLo;
      this.used++;
    }
    const biased = Math.min(Math.max(Math.round(r.mtimeMs) + MTIME_BIAS, 0), MAX_BIASED);
    this.mtHi[i] = Math.floor(biased / 2 ** 32);
    this.mtLo[i] = biased >>> 0;
    if (r.src !== undefined && ORIGIN.test(r.src)) {
      this.srcHi[i] = Number.parseInt(r.src.slice(0, 8), 16);
      this.srcLo[i] = Number.parseInt(r.src.slice(8), 16);
    } else if (r.same !== undefined && ORIGIN.test(r.same)) {
      // Kept apart from a written-from origin by a fixed mask: it vouches, it never lets a copy replace.
      this.srcHi[i] = (Number.parseInt(r.same.slice(0, 8), 16) ^ SAME_MASK_HI) >>> 0;
      this.srcLo[i] = (Number.parseInt(r.same.slice(8), 16) ^ SAME_MASK_LO) >>> 0;
    } else {
      this.srcHi[i] = 0;
      this.srcLo[i] = 0;
    }
    if (this.used > this.hi.length * MAX_LOAD) this.rehash(Math.ceil(this.hi.length * 1.5));
  }

  /**
   * Room for `records` in all, in one step: a copy that wrote a million files parses their records
   * on top, and growing by halves on the way held the old and the new table at once (72 MB at the
   * end of a million-file copy instead of 36).
   */
  reserve(records: number): void {
    const capacity = Math.ceil(records / RESERVE_LOAD);
    if (records > this.hi.length * MAX_LOAD) this.rehash(capacity);
  }

  /**
   * The table at reserve()'s load before a snapshot is written: the snapshot is the next run's table
   * as it is, and a manifest parsed in full grew by halves (a million records in 33 MB at two thirds
   * full, against 26 MB at RESERVE_LOAD). Done once; a copy's reserve() already fits it.
   */
  fit(): void {
    const capacity = Math.max(MIN_CAPACITY, Math.ceil(this.used / RESERVE_LOAD));
    if (capacity < this.hi.length * 0.9) this.rehash(capacity);
  }

  /**
   * True when a record with this path and size, and an mtime equal to the millisecond, carried a hash
   * of bytes from the source file whose origin is `origin`: written from it, or found equal to it.
   * Size and mtime alone prove nothing across sources: two nodes' different logs of one name, size
   * and time (a copy of each node's folder into one share) must be hashed, never skipped.
   */
  vouchesFor(relPath: string, size: number, mtimeMs: number, origin: string): boolean {
    const i = this.lookup(relPath, size, mtimeMs);
    if (i === undefined || (this.srcHi[i] === 0 && this.srcLo[i] === 0)) return false;
    return this.namesOrigin(i, origin);
  }

  /** Slot i's record was written from, or found equal to, the source file whose origin is `origin`. */
  private namesOrigin(i: number, origin: string): boolean {
    const hi = Number.parseInt(origin.slice(0, 8), 16);
    const lo = Number.parseInt(origin.slice(8), 16);
    const [h, l] = [this.srcHi[i]!, this.srcLo[i]!];
    return (h === hi && l === lo) || (h === (hi ^ SAME_MASK_HI) >>> 0 && l === (lo ^ SAME_MASK_LO) >>> 0);
  }

  /**
   * True when the target as it is now (same path, size and mtime as recorded) was written by a copy
   * from the source file whose origin is `origin` (originOf): the only proof that lets a copy
   * replace a target instead of treating it as a rival.
   */
  writtenFrom(relPath: string, size: number, mtimeMs: number, origin: string): boolean {
    const i = this.lookup(relPath, size, mtimeMs);
    if (i === undefined || (this.srcHi[i] === 0 && this.srcLo[i] === 0)) return false;
    return this.srcHi[i] === Number.parseInt(origin.slice(0, 8), 16) && this.srcLo[i] === Number.parseInt(origin.slice(8), 16);
  }

  /** Files the manifest vouches for. */
  get size(): number {
    return this.used;
  }

  /** The slot of a matching record. */
  private lookup(relPath: string, size: number, mtimeMs: number): number | undefined {
    fingerprint(relPath, size);
    const i = this.slot(fpHi, fpLo);
    const high = this.mtHi[i]!;
    if (high === EMPTY_HI) return undefined;
    const ms = high * 2 ** 32 + this.mtLo[i]! - MTIME_BIAS;
    // The record was rounded to the millisecond: allow that half millisecond on top of sameMtime's.
    return Math.abs(ms - mtimeMs) < 1.5 ? i : undefined;
  }

  /**
   * The slot holding this fingerprint, or the empty slot where it would go (linear probing). Any
   * capacity: the mixed 32 bits are scaled onto it (multiply-shift), not masked.
   */
  private slot(h: number, l: number): number {
    const capacity = this.hi.length;
    let i = Math.floor((((l ^ Math.imul(h, 0x9e3779b1)) >>> 0) * capacity) / 2 ** 32);
    while (this.mtHi[i] !== EMPTY_HI && (this.hi[i] !== h || this.lo[i] !== l)) if (++i === capacity) i = 0;
    return i;
  }

  private rehash(n: number): void {
    const old = this.table();
    this.hi = new Uint32Array(n);
    this.lo = new Uint32Array(n);
    this.mtLo = new Uint32Array(n);
    this.mtHi = new Uint16Array(n).fill(EMPTY_HI);
    this.srcHi = new Uint32Array(n);
    this.srcLo = new Uint32Array(n);
    for (let i = 0; i < old.hi.length; i++) {
      if (old.mtHi[i] === EMPTY_HI) continue;
      const j = this.slot(old.hi[i]!, old.lo[i]!);
      this.hi[j] = old.hi[i]!;
      this.lo[j] = old.lo[i]!;
      this.mtLo[j] = old.mtLo[i]!;
      this.mtHi[j] = old.mtHi[i]!;
      this.srcHi[j] = old.srcHi[i]!;
      this.srcLo[j] = old.srcLo[i]!;
    }
  }
}

/** The index's open-addressing table: parallel arrays of one length, at most MAX_LOAD full. */
export interface ManifestTable {
  hi: Uint32Array;
  lo: Uint32Array;
  /** The biased mtime's low 32 bits and high 16 (EMPTY_HI: a free slot). */
  mtLo: Uint32Array;
  mtHi: Uint16Array;
  srcHi: Uint32Array;
  srcLo: Uint32Array;
  used: number;
}

/**
 * Records per slot at most. Linear probing at the limit: ~4.5 slots a hit, ~32 a miss. Hits are what
 * a no-op asks (a file that looks the same); a miss is a file the manifest never saw.
 */
export const MAX_LOAD = 0.875;
/** Records per slot after reserve() (a copy's end: the snapshot the next run reads as it is), under MAX_LOAD. */
const RESERVE_LOAD = 0.85;
const MIN_CAPACITY = 1024;

/**
 * A recorded mtime is whole milliseconds plus this, in 48 bits (a 16-bit high part and a 32-bit low
 * part: 2 bytes a slot less than a double): the years 1413 to 10334, so Windows' 1601 and .NET's 9999
 * fit. A time outside is kept at the nearest end, where no file's time asks for it: never vouched for,
 * its file is hashed again. The high part's largest value marks a free slot.
 */
const MTIME_BIAS = 2 ** 44;
const EMPTY_HI = 0xffff;
const MAX_BIASED = EMPTY_HI * 2 ** 32 - 1;
const ORIGIN = /^[0-9a-f]{16}$/;
/** A `same` origin's two halves are stored XORed with these (any fixed odd pattern): see set(). */
const SAME_MASK_HI = 0x5a3c96e1;
const SAME_MASK_LO = 0x0f1e2d3b;

/**
 * The origin a record carries for a file written from `sourceRelPath` under the source folder whose
 * identity is `sourceId` (source-identity.ts): 64 bits of SHA-256 over both, so the manifest says
 * which source file a target was written from without holding every source path.
 */
export function originOf(sourceId: string, sourceRelPath: string): string {
  // The one-shot hash: every no-op file asks for its origin (~1 µs against ~2 with createHash).
  return hash("sha256", `${sourceId}\n${sourceRelPath}`, "hex").slice(0, 16);
}

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

/** Parse the manifest's lines from byte `from` into index; returns the offset after the last whole line. */
export async function parseFrom(handle: OpenFile, from: number, index: ManifestIndex, file: string): Promise<number> {
  let covered = from;
  let lineNo = 0;
  for await (const window of lineWindows(handle, from)) {
    for (const line of window.text.split("\n")) {
      lineNo++;
      if (line.trim() !== "") parseLine(index, line, file, lineNo, from);
    }
    covered = window.end;
    // The windows' lines are promoted before they die: without this the heap swung by
    // HEAP_GROWTH_LIMIT on top of the index a copy's end fills, its peak.
    boundHeap(4, BATCH_GROWTH_LIMIT);
  }
  // Past `covered`: a line without its newline, a batch torn by a crash, ignored on purpose.
  return covered;
}

/**
 * A string of a read's bytes at a time, each about this many bytes. A string over ~128 KB lives in
 * V8's large-object space, which only a full collection empties: the whole-read strings (1 MB each)
 * of a million-file copy's manifest, parsed again at its end for the snapshot, piled up to 30 MB of
 * heap there, the copy's peak RSS. Strings this size die young.
 */
const PARSE_WINDOW = 64 * 1024;

/**
 * A file's whole lines from byte `from`, read 1 MB at a time into one buffer and decoded
 * ~PARSE_WINDOW bytes at a time: each `text` is one or more whole lines joined by "\n" (a line is
 * never cut: a newline byte is never part of a multi-byte UTF-8 character), `end` the offset after
 * its last line's newline. The bytes after the last newline (a torn write) are never handed out.
 * A line cut by a read moves to the buffer's start and the next read lands after it: a new buffer
 * per read (Buffer.concat) was garbage outside the heap that V8 let pile up, ~55 MB parsing a
 * 262,000-file copy's manifest.
 */
async function* lineWindows(handle: OpenFile, from: number): AsyncGenerator<{ text: string; end: number }> {
  let buffer = Buffer.allocUnsafe(1 << 20);
  let position = from;
  /** Bytes of a line cut by the last read, at the buffer's start. */
  let kept = 0;
  for (;;) {
    if (kept === buffer.length) {
      // One line longer than the buffer: make room for it.
      const bigger = Buffer.allocUnsafe(buffer.length * 2);
      buffer.copy(bigger, 0, 0, kept);
      buffer = bigger;
    }
    const n = await handle.read(buffer, kept, buffer.length - kept, position);
    if (n === 0) return;
    const bufferAt = position - kept;
    position += n;
    const length = kept + n;
    const last = buffer.lastIndexOf(10, length - 1);
    if (last < 0) {
      kept = length;
      continue;
    }
    for (let start = 0; start <= last;) {
      const end = windowEnd(buffer, start, last);
      yield { text: buffer.toString("utf8", start, end), end: bufferAt + end + 1 };
      start = end + 1;
    }
    kept = length - last - 1;
    buffer.copy(buffer, 0, last + 1, length);
  }
}

/** Where the next string of chunk[start, last] ends: a newline about PARSE_WINDOW on (or `last`, itself a newline). */
function windowEnd(chunk: Buffer, start: number, last: number): number {
  if (last - start <= PARSE_WINDOW) return last;
  const before = chunk.lastIndexOf(10, start + PARSE_WINDOW);
  return before > start ? before : chunk.indexOf(10, start + PARSE_WINDOW); // a line longer than the window: to its end
}

/** A line exactly as ManifestWriter writes it (fast path); anything else goes through JSON.parse. */
const OWN_LINE = new RegExp(
  String.raw`^\{"v":[12],"relPath":"([^"\\]*)","size":(\d+),"mtimeMs":(-?[0-9.e+]+),"sha256":"[0-9a-f]{64}"` +
    String.raw`(?:,"node":"[^"\\]*")?(?:,"src":"([0-9a-f]{16})")?(?:,"same":"([0-9a-f]{16})")?(?:,"run":"[^"\\]*")?(?:,"replaced":true)?\}$`,
);

/** An intent line as ManifestWriter writes it: half the lines of a manifest, kept off JSON.parse too. */
const INTENT_LINE = /^\{"v":2,"relPath":"([^"\\]*)","size":\d+,"mtimeMs":[-0-9.e+]+,[^{}]*"intent":"(open|withdrawn)"\}$/;

function parseLine(index: ManifestIndex, line: string, file: string, lineNo: number, from: number): void {
  const intent = INTENT_LINE.exec(line);
  if (intent) {
    index.note({ relPath: intent[1]!, size: 0, mtimeMs: 0, intent: intent[2] as "open" | "withdrawn" }, line);
    return;
  }
  const own = OWN_LINE.exec(line);
  if (own) {
    // Half the time of JSON.parse on 260 000 lines, and no object per record.
    index.set({ relPath: own[1]!, size: Number(own[2]), mtimeMs: Number(own[3]), sha256: "x", src: own[4], same: own[5] });
    index.closeIntent(own[1]!);
    return;
  }
  const where = `Manifest '${file}' line ${lineNo}${from > 0 ? ` after byte ${from}` : ""}`;
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    record = undefined;
  }
  const v = (record as { v?: unknown } | null | undefined)?.v;
  if (typeof v === "number" && !READABLE_VERSIONS.includes(v)) {
    throw new OctohaError(`${where}: format version expected ${READABLE_VERSIONS.join(" or ")}, found ${v}`, {
      code: "MANIFEST_VERSION",
      path: file,
      hint: "It was written by another octoha version. Use that version, or pass another --state-dir (files are then re-verified by hash).",
    });
  }
  // Only whole lines get here (a torn last line never does), so this one was damaged or edited.
  if (!isRecord(record)) {
    if (index.damaged) index.damaged.lines++;
    else index.damaged = { lines: 1, first: where };
    return;
  }
  index.note(record, line);
}

/** A record as ManifestWriter writes one: a done record (with its hash) or an intent. */
function isRecord(r: unknown): r is ManifestRecord {
  if (typeof r !== "object" || r === null) return false;
  const { relPath, size, mtimeMs, sha256, intent, src, same } = r as Record<string, unknown>;
  if (typeof relPath !== "string" || relPath === "" || !Number.isSafeInteger(size) || (size as number) < 0) return false;
  if (typeof mtimeMs !== "number" || !Number.isFinite(mtimeMs)) return false;
  if (src !== undefined && typeof src !== "string") return false;
  if (same !== undefined && typeof same !== "string") return false;
  return intent === undefined ? typeof sha256 === "string" && /^[0-9a-f]{64}$/.test(sha256) : intent === "open" || intent === "withdrawn";
}

/**
 * Every whole record of a manifest, in file order (missing file: none), for the few readers that
 * need more than the index holds (rollback's removal of a run's copies). Lines that do not parse
 * (a torn batch) are skipped, as loading does.
 */
export async function* manifestRecords(ops: FileOps, file: string): AsyncGenerator<ManifestRecord> {
  let handle: OpenFile;
  try {
    handle = await ops.open(file, "r");
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return;
    throw classifyFsError(error, { side: "target", path: file });
  }
  try {
    // In windows, as loading reads it (lineWindows): rollback reads a million-file manifest too.
    for await (const window of lineWindows(handle, 0)) {
      for (const line of window.text.split("\n")) {
        try {
          const record = JSON.parse(line) as ManifestRecord;
          if (typeof record.relPath === "string" && READABLE_VERSIONS.includes(record.v)) yield record;
        } catch {
          // a torn batch (or an empty line): nothing was vouched for by it
        }
      }
    }
  } finally {
    await handle.close();
  }
}

export interface ManifestWriterOptions {
  /** Records per fsync'd batch. */
  batchSize?: number;
  /** Longest a record waits before its batch is written. */
  maxDelayMs?: number;
}

/** The record that closes an open intent whose file this copy did not create, or removed again (INTENT_LINE's order). */
export function withdrawal({ relPath, size, mtimeMs }: Pick<ManifestRecord, "relPath" | "size" | "mtimeMs">): ManifestRecord {
  return { v: 2, relPath, size, mtimeMs, intent: "withdrawn" };
}

/** An open intent written ahead of its copy (announce), and the durability of the batch holding it. */
interface AheadIntent {
  record: ManifestRecord;
  line: string;
  durable: Promise<void>;
}

/** Whether the `size` bytes of the manifest end inside a line: a batch torn by a crash (or a disk that filled). */
async function endsTorn(ops: FileOps, file: string, size: number): Promise<boolean> {
  if (size === 0) return false;
  const reader = await ops.open(file, "r");
  try {
    const last = Buffer.alloc(1);
    return (await reader.read(last, 0, 1, size - 1)) === 1 && last[0] !== 0x0a;
  } finally {
    await reader.close();
  }
}

/**
 * Appends records in fsync'd batches (group commit); close() commits the rest. Done records wait
 * for a full batch or maxDelayMs. An intent (intend) is written as soon as no batch is being
 * written, together with everything buffered, and its promise resolves once that batch is fsync'd:
 * the copies waiting meanwhile share the next batch, so an intent costs a fraction of a round trip.
 *
 * Intents of files queued to be copied are written ahead (announce), in the next batch whatever
 * asks for it: in a flat folder creates serialize on the folder's lock, so each copy asked for its
 * intent alone and paid a write and an fsync of its own (~2 round trips a file on a share). An
 * intent written ahead and never used is withdrawn by close(); after a kill it is an open intent
 * whose file is absent, which a re-run copies as any free name (README, "Crash safety").
 */
export class ManifestWriter {
  private buffered: string[] = [];
  /** Intents (and withdrawals) waiting for their batch to be durable. */
  private waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** Intents announced and not yet in a batch, by relPath. */
  private announced = new Map<string, { record: ManifestRecord; line: string }>();
  /** Intents announced and in a batch (written or being written), not yet claimed by intend(), by relPath. */
  private readonly ahead = new Map<string, AheadIntent>();
  private writing = false;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private failure: unknown;
  /** The manifest ended inside a line (a batch torn by a crash) when this writer opened it. */
  private tornTail = false;

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
      const writer = new ManifestWriter(handle, file, options.batchSize ?? 512, options.maxDelayMs ?? 250);
      try {
        writer.tornTail = await endsTorn(ops, file, (await handle.stat()).size);
      } catch (error) {
        await handle.close().catch(() => undefined);
        throw error;
      }
      return writer;
    } catch (error) {
      throw classifyFsError(error, { side: "target", path: file });
    }
  }

  add(record: ManifestRecord): void {
    if (this.failure) throw this.failed();
    this.buffered.push(JSON.stringify(record));
    if (this.buffered.length >= this.batchSize) this.commit();
    else this.timer ??= setTimeout(() => this.commit(), this.maxDelayMs);
  }

  /**
   * An open intent (intent "open") for a file a queued copy will create: written with the next
   * batch, so that the copy's intend() finds it durable, or waits for a batch already on its way.
   */
  announce(record: ManifestRecord): void {
    if (this.failure || record.intent !== "open") return;
    this.announced.set(record.relPath, { record, line: JSON.stringify(record) });
  }

  /** Append a write-ahead record; resolves when it is durable (rejects if its batch failed). */
  intend(record: ManifestRecord): Promise<void> {
    if (this.failure) return Promise.reject(this.failed());
    const line = JSON.stringify(record);
    const ahead = this.ahead.get(record.relPath);
    if (ahead) {
      this.ahead.delete(record.relPath);
      if (ahead.line === line) return ahead.durable; // written ahead: claimed
      // Another record for the name (not what was announced): it goes in a batch of its own below.
    }
    this.announced.delete(record.relPath); // its own line goes now
    this.buffered.push(line);
    const durable = new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.commit();
    return durable;
  }

  private failed(): OctohaError {
    return classifyFsError(this.failure, { side: "target", path: this.file });
  }

  /** Write what is buffered, unless a batch is being written: its end writes the rest. */
  private commit(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.buffered.length + this.announced.size === 0) return;
    const lines = this.buffered;
    const waiting = this.waiting;
    const announced = this.announced;
    this.buffered = [];
    this.waiting = [];
    this.announced = new Map();
    for (const { line } of announced.values()) lines.push(line);
    // After a torn tail, the first line starts on a line of its own: appended to the torn bytes, it
    // was one damaged line with them, and its record (an intent) was lost.
    const bytes = Buffer.from((this.tornTail ? "\n" : "") + lines.join("\n") + "\n");
    this.tornTail = false;
    if (announced.size > 0) {
      const durable = new Promise<void>((resolve, reject) => waiting.push({ resolve, reject }));
      durable.catch(() => undefined); // claimed, or withdrawn unclaimed: never an unhandled rejection
      for (const [relPath, { record, line }] of announced) this.ahead.set(relPath, { record, line, durable });
    }
    this.writing = true;
    this.chain = this.chain.then(async () => {
      try {
        if (this.failure) throw this.failure;
        await writeFully(this.handle, bytes);
        await this.handle.sync();
        for (const w of waiting) w.resolve();
      } catch (error) {
        this.failure ??= error;
        for (const w of waiting) w.reject(this.failed());
      } finally {
        this.writing = false;
        // Intents that came while this batch was written go now; done records keep their timer.
        if (this.waiting.length > 0 || this.buffered.length >= this.batchSize) this.commit();
        else if (this.buffered.length > 0) this.timer ??= setTimeout(() => this.commit(), this.maxDelayMs);
      }
    });
  }

  /**
   * Commit what is buffered and close. Intents written ahead and never claimed (their copies did
   * not start: stopped, failed) are withdrawn first. Throws if any batch failed to reach the disk.
   */
  async close(): Promise<void> {
    this.announced.clear(); // never written: nothing to withdraw
    for (const { record } of this.ahead.values()) this.buffered.push(JSON.stringify(withdrawal(record)));
    this.ahead.clear();
    for (;;) {
      this.commit();
      const chain = this.chain;
      await chain;
      if (chain === this.chain && !this.writing && this.buffered.length === 0) break;
    }
    await this.handle.close();
    if (this.failure) throw this.failed();
  }
}
