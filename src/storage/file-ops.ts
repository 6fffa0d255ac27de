/**
 * The copy engine's only door to the file system, and its fault-injection seam: tests wrap
 * nodeFileOps to make one call fail with EIO, ENOSPC or EACCES (tests run as root, where chmod 000
 * does not stop a read, so an unreadable source can only be simulated here).
 */
import fs, { promises as fsp } from "node:fs";
import path from "node:path";
import { makeFolder } from "../shared/make-folder.js";
import { BATCH_GROWTH_LIMIT, boundHeap, collectNow } from "./heap.js";
import { foldedHash, sharedHashes } from "./fold.js";
import {
  FACTS_PER_NAME,
  KIND_DIR,
  KIND_FILE,
  MISSING,
  StatThreadGone,
  closeNamesOnThread,
  listOnThread,
  lstatOnThread,
  readNamesOnThread,
  type NamesBatch,
} from "./stat-thread.js";
import { MergedNames, PackedNames, byteOrderOf, type NameList } from "./packed-names.js";
import { NAMES_TOLD, NameSpill, partLimits, type SpilledPart } from "./name-spill.js";

export interface FileStat {
  size: number;
  mtimeMs: number;
  atimeMs: number;
  isFile: boolean;
  isDirectory: boolean;
  /** Device and file number (a folder's identity; Windows: volume serial number and file index). */
  dev?: number;
  ino?: number;
  /** Birth (creation) time; 0 or absent where the file system keeps none. */
  birthtimeMs?: number;
}

export interface DirEntry {
  name: string;
  isFile: boolean;
  isDirectory: boolean;
  /**
   * True when no other name in the same listing is this one case-insensitively (foldedHash): set
   * only by a listing that checked its whole folder (a sorted one); absent, nobody knows.
   */
  caseUnique?: boolean;
  /**
   * The folder holds a name whose bytes are not UTF-8 (Linux allows any): it was read as this
   * string, with U+FFFD for those bytes, and no file answers to it. Listed so that the walk can
   * report it; its facts are 0.
   */
  undecodable?: boolean;
}

/** A directory entry with its lstat facts (size and times are 0 for anything but files). */
export interface StatDirEntry extends DirEntry {
  size: number;
  mtimeMs: number;
  atimeMs: number;
}

/** An open file. Reads and writes are positional (position null = current offset). */
export interface OpenFile {
  read(buffer: Buffer, offset: number, length: number, position: number | null): Promise<number>;
  /** At `position`, or at the current offset when it is absent (then one write at a time). */
  write(buffer: Buffer, offset: number, length: number, position?: number): Promise<number>;
  /** fsync: the bytes are on disk before the rename makes them visible under the final name. */
  sync(): Promise<void>;
  stat(): Promise<FileStat>;
  /** Set access and modification times (milliseconds since the epoch). */
  utimes(atimeMs: number, mtimeMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Write bytes[0, length) whole (a write may take fewer bytes than asked), at `position` when given. */
export async function writeFully(file: OpenFile, bytes: Buffer, length = bytes.length, position?: number): Promise<void> {
  for (let offset = 0; offset < length;) {
    offset +=
      position === undefined
        ? await file.write(bytes, offset, length - offset)
        : await file.write(bytes, offset, length - offset, position + offset);
  }
}

/** Fill bytes from the file at position (fewer only at the end of the file); returns how many. */
export async function readFully(file: OpenFile, bytes: Buffer, position: number): Promise<number> {
  let got = 0;
  while (got < bytes.length) {
    const n = await file.read(bytes, got, bytes.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

export type OpenMode =
  /** Read only. */
  | "r"
  /** Create or truncate for writing. */
  | "w"
  /** Create a new file for writing; fails with EEXIST when the name is taken (O_EXCL). */
  | "wx"
  /** Append (manifest). */
  | "a"
  /** An existing file, for its times only (a retimed copy of ours): Windows sets times only through a handle open for writing. */
  | "r+";

export interface StatFs {
  /** Bytes available to an unprivileged writer. */
  freeBytes: number;
  totalBytes: number;
}

/**
 * A part of a large folder's listing (name-spill.ts): the names of buckets [lo, hi), and their
 * folded hashes, sorted (what the target folder's index for the part must hold: LoadOptions.only).
 */
export interface ListedPart {
  lo: number;
  hi: number;
  hashes: Uint32Array;
}

/** A listing's chunk. The first chunk of each part of a folder walked a part at a time says so. */
export type ListChunk = StatDirEntry[] & { part?: ListedPart };

/**
 * What a sorted listing tells of its names (ListOptions.onNames): their folded hashes, sorted;
 * "parts" when the folder is walked a part at a time (each part's first chunk then brings its
 * hashes); undefined when it tells nothing.
 */
export type ToldNames = Uint32Array | "parts" | undefined;

/**
 * The order a listing gives: sortedNames' (the walk: deterministic plans and reports; a folder walked
 * a part at a time is by part, then in its own order, still deterministic), or any.
 */
export type ListOrder = "sorted" | "any";

export interface ListOptions {
  /** Default "sorted". "any" (a target folder's index) lets the names stream instead of being held and sorted. */
  order?: ListOrder;
  /** The folder's own size (st_size) as its parent's listing found it, if known: a small folder is read in one call. */
  folderSize?: number;
  /**
   * The root of the tree the folder is listed for (a source, a target): what a listing learns of
   * one folder's storage (how fast the lstat thread is there) holds for the others of its tree,
   * not for another tree's (a local source beside a target on a share).
   */
  tree?: string;
  /**
   * Once aborted, the listing stops at its next batch (a large folder's run of names, a chunk of
   * lstats) with ListingInterrupted: a million-file folder's names and its target index are
   * seconds of work before its first chunk, minutes on a share. A FileOps may ignore it (its
   * callers also look between chunks).
   */
  signal?: AbortSignal | undefined;
  /**
   * A sorted listing tells this, before its first chunk, the folded hashes (foldedHash) of all the
   * folder's names, sorted, or undefined for a folder of more than NAMES_TOLD names, or "parts" for
   * one walked a part at a time (its chunks are then by part: ListChunk). A FileOps may never call
   * it (its listing's caller then learns nothing).
   */
  onNames?: ((told: ToldNames) => void) | undefined;
  /**
   * An any-order listing of these names of the folder (nameStream's, read already), not of the
   * folder as it is read now. A FileOps may ignore it (and read the folder).
   */
  names?: AsyncIterable<string[]> | Iterable<string[]> | undefined;
  /**
   * An any-order listing leaves out the names this refuses, without an lstat of them. A FileOps may
   * ignore it (and list them all).
   */
  keep?: ((name: string) => boolean) | undefined;
}

/**
 * A folder of at most this many names tells its names' hashes (ListOptions.onNames): 512 KiB. A
 * larger one is walked a part at a time (name-spill.ts), or tells nothing where it cannot be.
 */
export { NAMES_TOLD };

/** A listing stopped because its signal was aborted (ListOptions.signal): nothing is wrong with the folder. */
export class ListingInterrupted extends Error {
  constructor(readonly path: string) {
    super(`the listing of '${path}' was interrupted`);
    this.name = "ListingInterrupted";
  }
}

/** Throws ListingInterrupted once `signal` is aborted. */
export function stopIfAborted(signal: AbortSignal | undefined, dirPath: string): void {
  if (signal?.aborted) throw new ListingInterrupted(dirPath);
}

export interface FileOps {
  open(path: string, mode: OpenMode): Promise<OpenFile>;
  /** lstat: a symlink is reported as neither file nor directory. */
  stat(path: string): Promise<FileStat>;
  /** Streams a directory's entries (bounded memory even for 250 000 task logs in one folder). */
  readdir(path: string): AsyncIterable<DirEntry>;
  /** A folder's names in sortedNames' order (its readdir round trips, no stat). */
  names(path: string): Promise<NameList>;
  /**
   * Streams a directory's entries in chunks, with each file's size and times (the walk's hot path):
   * listWithStats. A FileOps may ignore the options (and list sorted).
   */
  list(path: string, options?: ListOptions): AsyncIterable<ListChunk>;
  /**
   * A folder's names in readdir's order, no lstat, a batch at a time (a large target folder's, to
   * be spilled: ListOptions.names). A FileOps may lack it: such a folder is then indexed whole.
   */
  nameStream?(path: string, options?: Pick<ListOptions, "folderSize">): AsyncIterable<string[]>;
  mkdir(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Remove an empty folder (fails when it is not empty). */
  rmdir(path: string): Promise<void>;
  statfs(path: string): Promise<StatFs>;
  /** Resolves when this process may write into the folder (dry-run's write check: no probe file). */
  canWrite(path: string): Promise<void>;
  /** The canonical absolute path: links resolved (Windows: a mapped drive as its UNC path, the stored case). */
  realpath(path: string): Promise<string>;
}

/**
 * Names sorted in runs of this many: a run's strings are alive at once, then kept as UTF-8 bytes.
 * 65 536 keeps a run's strings to ~4 MB and a million names to 16 runs to merge.
 */
const SORT_RUN = 65_536;
/** A run of at least this many names (~256 KB of strings) has the heap bound checked after it. */
const BOUNDED_RUN = 4096;

/**
 * A folder's names in readdirSync's order (strcmp of the UTF-8 bytes), read through opendir a
 * buffer at a time (a large one on the lstat thread: nameBatches). readdirSync (libuv scandir)
 * mallocs every entry of the folder at once: for a million task logs that is ~100 MB the C
 * allocator keeps after it is freed. The names are kept as
 * UTF-8 bytes, not strings (~34 bytes a task log's name against ~64: a million-file folder was
 * 64 MB of strings, held while its files are planned): runs of SORT_RUN strings are sorted, packed,
 * then the runs are merged by their bytes.
 */
export async function sortedNames(
  dirPath: string,
  folderSize?: number,
  runSize = SORT_RUN,
  signal?: AbortSignal,
  onNames?: ListOptions["onNames"],
): Promise<NameList> {
  const listed = await namesOrSpill(dirPath, folderSize, runSize, signal, onNames, false);
  if (listed instanceof NameSpill) throw new Error("a folder's names were spilled where they were to be held");
  return listed;
}

/**
 * sortedNames, or with `spillLarge` for a folder of more than partLimits().folderNames names, its
 * names spilled by bucket (NameSpill: the caller reads it a part at a time, and closes it). The
 * names held until the folder is known to be large (two runs) go to the spill in their runs'
 * order, the rest in the folder's. Where no scratch file can be made the folder is held whole, as
 * before; where one fills up, the folder is read again and held whole.
 */
async function namesOrSpill(
  dirPath: string,
  folderSize: number | undefined,
  runSize: number,
  signal: AbortSignal | undefined,
  onNames: ListOptions["onNames"],
  spillLarge: boolean,
): Promise<NameList | NameSpill> {
  const runs: PackedNames[] = [];
  // Every name's folded hash, to learn which names may have a case variant in the folder (4 bytes a
  // name while the folder is read): the copy need not remember the others' names (caseUnique).
  let hashes = new Uint32Array(0);
  let count = 0;
  let spill: NameSpill | undefined;
  try {
    for await (const run of nameBatches(dirPath, runSize, folderSize, true)) {
      stopIfAborted(signal, dirPath);
      if (spill) {
        await spill.addAll(run);
        if (run.length >= BOUNDED_RUN) boundHeap(1, BATCH_GROWTH_LIMIT);
        continue;
      }
      if (count + run.length > hashes.length) {
        const grown = new Uint32Array(Math.max(count + run.length, 2 * hashes.length));
        grown.set(hashes.subarray(0, count));
        hashes = grown;
      }
      for (const name of run) hashes[count++] = foldedHash(name);
      runs.push(PackedNames.sorted(run));
      if (spillLarge && count > partLimits().folderNames) {
        spillLarge = false; // one try
        spill = await NameSpill.open();
        if (spill) {
          for (const held of runs) await spill.addAll(held.slice(0, held.length));
          runs.length = 0;
          hashes = new Uint32Array(0);
          onNames?.("parts"); // told now: the target folder is spilled while this one is read
          onNames = undefined;
        }
      }
      if (count > NAMES_TOLD && onNames) {
        onNames(undefined); // told now, not after the whole folder is read: nobody waits for a large folder's names
        onNames = undefined;
      }
      // A large run's strings, garbage now, lived long enough to be promoted. A small folder's few
      // are left to the walk's bound (boundListing): this check, once per folder,
      // was 3 % of a no-op's time on the medium preset's ~1,000 small folders.
      if (run.length >= BOUNDED_RUN) boundHeap(1, BATCH_GROWTH_LIMIT);
    }
  } catch (error) {
    await spill?.close();
    throw error;
  }
  if (spill) {
    await spill.finish();
    if (!spill.broken) return spill;
    await spill.close();
    return namesOrSpill(dirPath, folderSize, runSize, signal, undefined, false);
  }
  if (runs.length === 0) runs.push(PackedNames.sorted([]));
  const list = runs.length === 1 ? runs[0]! : new MergedNames(runs);
  list.caseVariants = sharedHashes(hashes, count);
  if (count <= NAMES_TOLD) list.foldedHashes = hashes.slice(0, count); // sorted by sharedHashes
  onNames?.(list.foldedHashes);
  if (runs.length > 1) {
    // The hashes are garbage now, but outside the heap: left to the next collection they stayed
    // through a million-file folder's whole planning, at its peak (the no-op's).
    hashes = new Uint32Array(0);
    collectNow();
  }
  return list;
}

/**
 * A folder whose own size (st_size, from its parent's listing) is at most this is read whole, in
 * one call (smallFolderLister: on the lstat thread, or libuv's scandir: open, read, close in one
 * request). Opening a Dir costs three requests and a tick per entry: a no-op of the medium preset
 * (1,017 folders, most with a few files) took 0.82× the time read whole (farm-bench, 1.23 s against
 * 1.52 s). 64 KiB of folder is ~1,300 task logs on ext4 (~48 bytes an entry) and ~3,200 names on
 * tmpfs (20), so a whole read stays small. A size of 0 says nothing (an SMB mount reports 0 for
 * every folder): read in batches.
 */
export const WHOLE_FOLDER_BYTES = 64 * 1024;

/**
 * A folder's names, up to `max` at a time, through Dir#read's callback, a promise per batch, not
 * per name (a small folder is listed whole: smallFolderLister). `for await` over a Dir
 * costs an async generator step and a promise per entry: with the lstats' promises, ~40 % of a
 * no-op's allocations (sampled with the inspector's heap profiler), young garbage on every file.
 * The folder is closed at the end, also when the caller stops early.
 *
 * `onThread`: a large folder is read on the lstat thread (batchesOnThread). Only for a sorted
 * listing, which reads its whole folder before the first lstat, while the thread is idle: a
 * million-file dry-run took 0.85x the time (farm-bench in turns). A listing in any order
 * (a target's index) keeps the thread busy with its lstats already; read there too, a million-file
 * no-op was no faster and its peak 16 MiB higher.
 */
async function* nameBatches(dirPath: string, max: number, folderSize?: number, onThread = false): AsyncGenerator<string[]> {
  if (onThread && folderSize !== undefined && folderSize > WHOLE_FOLDER_BYTES) {
    const first = await firstBatchOnThread(dirPath, max);
    if (first) {
      yield* batchesOnThread(dirPath, first, max);
      return;
    }
  }
  const dir = await called<fs.Dir>((done) => fs.opendir(dirPath, { bufferSize: 1024 }, done));
  try {
    for (;;) {
      const batch = await readBatch(dir, max);
      if (batch.names.length > 0) yield batch.names;
      if (batch.done) return;
    }
  } finally {
    await called<void>((done) => dir.close(done)).catch(() => undefined);
  }
}

/**
 * Names the lstat thread reads at a time (~70 KB of task logs' names): the thread holds one such
 * batch, whatever the caller's `max`. With 8192 a million-file dry-run took about the same time
 * and peaked ~5 MiB above the build before, with 2048 ~2 (likely: a batch's names then fit the
 * thread's 1 MB young generation instead of being promoted).
 */
const THREAD_BATCH = 2048;

/** A large folder's first batch of names from the lstat thread, or undefined when the thread is gone (read here instead). */
async function firstBatchOnThread(dirPath: string, max: number): Promise<NamesBatch | undefined> {
  try {
    return await readNamesOnThread(dirPath, undefined, Math.min(max, THREAD_BATCH));
  } catch (error) {
    if (error instanceof StatThreadGone) return undefined;
    throw error;
  }
}

/**
 * A large folder's names read on the lstat thread (its st_size says it is on a local file system:
 * an SMB mount reports 0), `max` at a time: the next batch is asked for while this one is decoded,
 * and batches of THREAD_BATCH add up to `max` exactly where it is a multiple (SORT_RUN is). Names
 * are decoded from UTF-8 into strings of their own (slices of one joined string took twice as long
 * to sort). Stopping early closes the folder on the thread.
 */
async function* batchesOnThread(dirPath: string, first: NamesBatch, max: number): AsyncGenerator<string[]> {
  const size = Math.min(max, THREAD_BATCH);
  let batch = first;
  let names: string[] = [];
  try {
    for (;;) {
      const next = batch.done ? undefined : readNamesOnThread(dirPath, batch.handle, size);
      next?.catch(() => undefined); // awaited below, unless the caller stops first
      decodeNames(batch, names);
      if (names.length >= max || (!next && names.length > 0)) {
        yield names;
        names = [];
      }
      if (!next) return;
      batch = await next;
    }
  } finally {
    if (!batch.done) closeNamesOnThread(batch.handle);
  }
}

/** A batch's NUL-joined names, appended to `into`. */
function decodeNames(batch: NamesBatch, into: string[]): void {
  if (batch.joined !== undefined) {
    if (batch.joined.length > 0) for (const name of batch.joined.split("\0")) into.push(name);
    return;
  }
  const raw = batch.bytes ?? new Uint8Array(0);
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let start = 0; start < bytes.length;) {
    const end = bytes.indexOf(0, start);
    into.push(bytes.toString("utf8", start, end < 0 ? bytes.length : end));
    start = end < 0 ? bytes.length : end + 1;
  }
}

/** Up to `max` names of an open folder; done once the folder has no more. */
function readBatch(dir: fs.Dir, max: number): Promise<{ names: string[]; done: boolean }> {
  return new Promise((resolve, reject) => {
    const names: string[] = [];
    // Dir#read calls back on a later tick even for a buffered entry, so this never deepens the stack.
    const onEntry = (error: Error | null, entry: fs.Dirent | null): void => {
      if (error) reject(error);
      else if (entry === null) resolve({ names, done: true });
      else if (names.push(entry.name) >= max) resolve({ names, done: false });
      else dir.read(onEntry);
    };
    dir.read(onEntry);
  });
}

/** Names a nameStream batch holds (a target folder's, spilled as they come). */
const NAME_STREAM_BATCH = 2048;

/** Entries a listing yields at a time. */
const LIST_CHUNK = 256;
/**
 * lstat calls in flight while a folder is listed. On a share each is a round trip: 16 in flight
 * took the lstat of 5,004 task logs from 3.6 s to 0.33 s at 500 µs; libuv's thread pool runs
 * them (cli/octoha.cts sizes it).
 */
export const LIST_IN_FLIGHT = 32;

/** lstat every name under prefix (how: statVia, lstatEach, adaptiveLstat): the entries in the names' order, vanished ones left out. */
export type StatEach = (prefix: string, names: string[]) => Promise<StatDirEntry[]>;

/**
 * A folder's entries with their lstat facts, in sortedNames' order, LIST_CHUNK at a time: the
 * next chunks' lstats are in flight while the caller works on this one. Memory: the folder's names
 * (packed: sortedNames) and CHUNKS_AHEAD + 1 chunks of entries. Vanished entries are skipped.
 */
export function listWithStats(
  ops: Pick<FileOps, "names" | "stat">,
  dirPath: string,
  { onNames, keep }: Pick<ListOptions, "onNames" | "keep"> = {},
): AsyncGenerator<StatDirEntry[]> {
  return statChunks(
    async () => {
      const names = await ops.names(dirPath);
      onNames?.(names.foldedHashes);
      return names;
    },
    dirPath,
    statVia(ops),
    undefined,
    keep,
  );
}

/** listWithStats's chunks; the folder is read when the first chunk is asked for, not before. */
async function* statChunks(
  listing: () => Promise<NameList>,
  dirPath: string,
  statEach: StatEach,
  signal?: AbortSignal,
  keep?: (name: string) => boolean,
): AsyncGenerator<StatDirEntry[]> {
  const names = await listing();
  const variants = names.caseVariants;
  for await (const chunk of statAhead(dirPath, chunksOf(names), statEach, signal, keep)) {
    if (variants) for (const entry of chunk) entry.caseUnique = hasNoVariant(variants, foldedHash(entry.name));
    yield chunk;
  }
}

/**
 * A source folder's chunks: sorted (statChunks), or for a large one a part at a time (partChunks).
 * The folder is read when the first chunk is asked for.
 */
async function* sourceChunks(
  dirPath: string,
  folderSize: number | undefined,
  statEach: StatEach,
  signal: AbortSignal | undefined,
  onNames: ListOptions["onNames"],
): AsyncGenerator<ListChunk> {
  const listed = await namesOrSpill(dirPath, folderSize, partLimits().runNames ?? SORT_RUN, signal, onNames, true);
  if (listed instanceof NameSpill) yield* partChunks(listed, dirPath, statEach, signal);
  else yield* statChunks(() => Promise.resolve(listed), dirPath, statEach, signal);
}

/**
 * A spilled folder's entries, a part at a time: bucket by bucket, each bucket in the folder's own
 * order (a sort of each part on this thread left the lstat thread idle at every part: 1.1× the
 * time). Only names with a case variant are put in sortedNames' order among themselves, where
 * they stand, so that variants take their turns as in a sorted listing. caseUnique is the whole
 * folder's (variants share a bucket). One lstat pipeline runs through all the parts; the first
 * chunk of each part carries it (ListChunk.part). Closes the spill at the end.
 */
async function* partChunks(
  spill: NameSpill,
  dirPath: string,
  statEach: StatEach,
  signal: AbortSignal | undefined,
): AsyncGenerator<ListChunk> {
  // Per batch handed to statAhead (one chunk comes back for each, in order): its part's names with
  // a variant, and the part on its first batch.
  const sent: { variants: ReadonlySet<number>; part: ListedPart | undefined }[] = [];
  async function* batches(): AsyncGenerator<string[]> {
    for (const { lo, hi } of spill.parts()) {
      const names = await spill.read(lo, hi);
      const sorted = names.hashes.slice();
      const variants = sharedHashes(sorted, sorted.length);
      if (variants.size > 0) sortAmongThemselves(names, variants);
      for (let i = 0; i < names.length; i += LIST_CHUNK) {
        sent.push({ variants, part: i === 0 ? { lo, hi, hashes: sorted } : undefined });
        yield names.names(i, i + LIST_CHUNK);
      }
    }
  }
  try {
    let part: ListedPart | undefined;
    for await (const chunk of statAhead(dirPath, batches(), statEach, signal)) {
      const batch = sent.shift()!;
      part = batch.part ?? part; // a part whose first names are all gone: its mark goes on its next chunk
      if (chunk.length === 0) continue;
      for (const entry of chunk) entry.caseUnique = hasNoVariant(batch.variants, foldedHash(entry.name));
      if (part) yield Object.assign(chunk, { part });
      else yield chunk;
      part = undefined;
    }
  } finally {
    await spill.close();
  }
}

/** The names whose hash is among `variants`, sorted among themselves into the places they hold. */
function sortAmongThemselves(names: SpilledPart, variants: ReadonlySet<number>): void {
  const places: number[] = [];
  for (let k = 0; k < names.length; k++) if (variants.has(names.hash(k))) places.push(k);
  names.reorder(places, byteOrderOf(places.map((k) => names.name(k))));
}

/** A NameList's names, LIST_CHUNK at a time, in order (a merged list is read in order). */
function* chunksOf(names: NameList): Generator<string[]> {
  for (let start = 0; start < names.length; start += LIST_CHUNK) yield names.slice(start, start + LIST_CHUNK);
}

/**
 * Chunks of lstats asked for ahead of the one the caller works on. With one, the lstat thread
 * idled while each answer travelled back and the next question out: a dry-run of a million task
 * logs took 0.95× the time with three (farm-bench in turns).
 */
const CHUNKS_AHEAD = 3;

/**
 * The real file system's listing in readdir's order: the names stream from the folder, LIST_CHUNK
 * at a time, and no more than CHUNKS_AHEAD + 1 chunks of them are held (a million-file target
 * folder's names were ~34 MB more at the peak, held beside the source's while the index was built).
 */
function listUnsorted(
  dirPath: string,
  statEach: StatEach,
  folderSize?: number,
  signal?: AbortSignal,
  keep?: (name: string) => boolean,
): AsyncGenerator<StatDirEntry[]> {
  return statAhead(dirPath, nameBatches(dirPath, LIST_CHUNK, folderSize), statEach, signal, keep);
}

/**
 * Each batch of names in `dirPath` with its lstat facts, in the batches' order, with the lstats of
 * up to CHUNKS_AHEAD more batches in flight while the caller works on one. Stopping early closes
 * `batches` (the folder, for a readdir's). A failed batch fails the listing in its turn; the ones
 * asked ahead of it never raise an unhandled rejection.
 */
async function* statAhead(
  dirPath: string,
  batches: AsyncIterable<string[]> | Iterable<string[]>,
  statEach: StatEach,
  signal?: AbortSignal,
  keep?: (name: string) => boolean,
): AsyncGenerator<StatDirEntry[]> {
  const prefix = dirPath.endsWith(path.sep) ? dirPath : dirPath + path.sep;
  const ahead: Promise<StatDirEntry[]>[] = [];
  const repeats = new RepeatedNames();
  for await (const batch of batches) {
    stopIfAborted(signal, dirPath);
    const names = keep ? batch.filter(keep) : batch; // ListOptions.keep: no lstat of the others
    if (names.length === 0) continue;
    const chunk = statEach(prefix, names);
    chunk.catch(() => undefined); // awaited in its turn
    ahead.push(chunk);
    if (ahead.length > CHUNKS_AHEAD) yield repeats.marked(await ahead.shift()!);
  }
  while (ahead.length > 0) yield repeats.marked(await ahead.shift()!);
}

/** statEach over a FileOps's promise-returning stat (a wrapped FileOps: counting, slowed, faulty). */
function statVia(ops: Pick<FileOps, "stat">): StatEach {
  return async (prefix, names) => {
    const found: (StatDirEntry | undefined)[] = new Array<StatDirEntry | undefined>(names.length);
    let taken = 0;
    const worker = async (): Promise<void> => {
      while (taken < names.length) {
        const k = taken++;
        const name = names[k]!;
        try {
          const s = await ops.stat(prefix + name);
          found[k] = { name, isFile: s.isFile, isDirectory: s.isDirectory, size: s.size, mtimeMs: s.mtimeMs, atimeMs: s.atimeMs };
        } catch (error) {
          if ((error as { code?: string }).code !== "ENOENT") throw error;
          found[k] = undecodableOrGone(name);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(LIST_IN_FLIGHT, names.length) }, worker));
    return found.filter((e): e is StatDirEntry => e !== undefined);
  };
}

/**
 * statEach through node:fs's lstat callback, without a promise or an async step per name: the
 * no-op and the dry-run are lstats end to end, and the per-call promises were young garbage on
 * every one of them.
 */
const lstatEach: StatEach = (prefix, names) =>
  new Promise((resolve, reject) => {
    const found: (StatDirEntry | undefined)[] = new Array<StatDirEntry | undefined>(names.length);
    let next = 0;
    let running = 0;
    let failed = false;
    const start = (k: number): void => {
      running++;
      const name = names[k]!;
      fs.lstat(prefix + name, (error, s) => {
        running--;
        if (failed) return;
        if (error === null)
          found[k] = { name, isFile: s.isFile(), isDirectory: s.isDirectory(), size: s.size, mtimeMs: s.mtimeMs, atimeMs: s.atimeMs };
        else if (error.code !== "ENOENT") {
          failed = true;
          reject(error);
          return;
        } else found[k] = undecodableOrGone(name);
        if (next < names.length) start(next++);
        else if (running === 0) resolve(found.filter((e): e is StatDirEntry => e !== undefined));
      });
    };
    if (names.length === 0) resolve([]);
    while (next < names.length && running < LIST_IN_FLIGHT) start(next++);
  });

/**
 * The lstat thread's own time per name under which it beats libuv's LIST_IN_FLIGHT calls. On a
 * local disk an lstat takes ~2 µs on it, ~12 µs when the kernel has the folder's blocks but not
 * its names (a target just copied): a million such lstats took 5.8 s on the thread and 8.1 s
 * through libuv (parallel lookups in one folder contend in the kernel). A share's round trip, or a
 * read from the disk itself, is 100 µs and more: there libuv's 32 in flight win. Measured on the
 * thread, not on the main thread, whose wait for a chunk is mostly its own work on the previous one.
 */
const THREAD_MS_PER_NAME = 0.05;
/**
 * SLOW_CHUNKS chunks in a row on the thread slower than this a name send the rest of the folder
 * back to libuv: a cold disk can answer the trial's names from its cache and the next ones from
 * its platters (milliseconds each). Not one chunk: on a busy 2-core machine the thread can be
 * kept off a core for a few milliseconds, which is no reason to give up the faster path.
 */
const SLOW_ON_THREAD_MS_PER_NAME = 0.2;
const SLOW_CHUNKS = 2;
/** Names of one chunk lstat'ed on the thread to learn its speed (the rest through libuv, beside them). */
const TRIAL_NAMES = 16;

/**
 * One listing's lstats: libuv's (LIST_IN_FLIGHT at a time), or the lstat thread (stat-thread.ts)
 * where the folder is fast enough for it. A folder's second full chunk sends TRIAL_NAMES names to
 * the thread: under THREAD_MS_PER_NAME apiece (their lower quartile), the rest of the folder goes there,
 * until SLOW_CHUNKS chunks in a row there take over SLOW_ON_THREAD_MS_PER_NAME; otherwise (a share, a cold disk) it
 * stays with libuv, at the cost of one chunk waiting for those names. Small folders (under two
 * chunks) never try it. `spread`: the chunks on the thread may go to a second one (lstatOnThread);
 * a sorted listing's (the walk's), not a target index's: a no-op lists its target while it holds
 * the source's names, and its peak has no room for the second thread's ~10 MiB. (`thread`: tests stand in for it.)
 */
export function adaptiveLstat(thread: typeof lstatOnThread = lstatOnThread, spread = false): StatEach {
  let fullChunks = 0;
  let slowChunks = 0;
  let choice: "libuv" | "thread" | undefined;
  return async (prefix, names) => {
    if (names.length === LIST_CHUNK) fullChunks++;
    try {
      if (choice === "thread") {
        const answer = await thread(prefix, names, (facts) => entriesFrom(names, facts), false, spread);
        slowChunks = answer.msPerName > SLOW_ON_THREAD_MS_PER_NAME ? slowChunks + 1 : 0;
        if (slowChunks === SLOW_CHUNKS) choice = "libuv";
        return answer.value;
      }
      if (choice === undefined && fullChunks === 2) {
        choice = "libuv"; // until the trial says otherwise
        const tried = names.slice(0, TRIAL_NAMES);
        const [trial, rest] = await Promise.all([
          thread(prefix, tried, (facts) => entriesFrom(tried, facts), true),
          lstatEach(prefix, names.slice(TRIAL_NAMES)),
        ]);
        if (trial.msPerName < THREAD_MS_PER_NAME) choice = "thread";
        return [...trial.value, ...rest];
      }
    } catch (error) {
      if (!(error instanceof StatThreadGone)) throw error;
      choice = "libuv";
    }
    return lstatEach(prefix, names);
  };
}

function isSmallFolder(folderSize: number | undefined): boolean {
  return folderSize !== undefined && folderSize > 0 && folderSize <= WHOLE_FOLDER_BYTES;
}

/**
 * While the lstat thread is slow for small folders, one in this many is still sent there, to learn
 * whether it has become fast (a walk of a local disk after a slow target's folders, a cold cache warmed).
 */
const SMALL_RETRY_EVERY = 64;

/**
 * A small folder's (isSmallFolder: its size is known, so it is on a local disk or an NFS mount, not
 * SMB's 0) entries: read whole on the lstat thread, its readdir and lstats in one message, while
 * the thread answers in under THREAD_MS_PER_NAME a call; else through libuv (readdir, then
 * LIST_IN_FLIGHT lstats). A no-op of the medium preset's 1,001 artifact folders paid ~15 µs of
 * main-thread time per libuv request, five a folder a side. On a share or a cold disk each call
 * is a round trip that the thread would wait for one after another: SLOW_CHUNKS slow folders in a
 * row send the tree's next ones to libuv, and one in SMALL_RETRY_EVERY goes back to see if that
 * changed. Each tree (ListOptions.tree) learns for itself: a local source's fast folders must not
 * keep a share's target folders on the thread. (`thread`: tests stand in for it.)
 */
export function smallFolderLister(
  thread: typeof listOnThread = listOnThread,
): (dirPath: string, order: ListOrder, tree?: string, told?: Pick<ListOptions, "onNames" | "keep">) => AsyncGenerator<StatDirEntry[]> {
  const trees = new Map<string, { slowInARow: number; onLibuv: number }>();
  const viaThread = async (dirPath: string, prefix: string, tree: string): Promise<StatDirEntry[] | undefined> => {
    let seen = trees.get(tree);
    if (!seen) trees.set(tree, (seen = { slowInARow: 0, onLibuv: 0 }));
    if (seen.slowInARow >= SLOW_CHUNKS && ++seen.onLibuv % SMALL_RETRY_EVERY !== 0) return undefined;
    try {
      const { value, msPerName } = await thread(dirPath, prefix, entriesFrom);
      seen.slowInARow = msPerName > THREAD_MS_PER_NAME ? seen.slowInARow + 1 : 0;
      return value;
    } catch (error) {
      if (!(error instanceof StatThreadGone)) throw error;
      seen.slowInARow = SLOW_CHUNKS;
      return undefined;
    }
  };
  return async function* (dirPath, order, tree = "", { onNames, keep } = {}) {
    const prefix = dirPath.endsWith(path.sep) ? dirPath : dirPath + path.sep;
    let entries = new RepeatedNames().marked(
      (await viaThread(dirPath, prefix, tree)) ?? (await lstatEach(prefix, await called<string[]>((done) => fs.readdir(dirPath, done)))),
    );
    if (order === "sorted") {
      const hashes = markAndSort(entries); // (not inside onNames?.(…): that would skip it when there is no onNames)
      onNames?.(hashes);
    } else if (keep) entries = entries.filter((entry) => keep(entry.name));
    for (let i = 0; i < entries.length; i += LIST_CHUNK) yield entries.length <= LIST_CHUNK ? entries : entries.slice(i, i + LIST_CHUNK);
  };
}

/**
 * A whole small folder's entries in sortedNames' order, each marked caseUnique as statChunks marks
 * them. Returns their folded hashes, sorted (ListOptions.onNames).
 */
function markAndSort(entries: StatDirEntry[]): Uint32Array {
  const hashes = Uint32Array.from(entries, (entry) => foldedHash(entry.name));
  // sharedHashes sorts its hashes: the entries' own stay in `hashes`, in the entries' order.
  const sorted = hashes.slice();
  const variants = sharedHashes(sorted, sorted.length);
  entries.forEach((entry, i) => (entry.caseUnique = hasNoVariant(variants, hashes[i]!)));
  const order = byteOrderOf(entries.map((entry) => entry.name));
  entries.sort((a, b) => order(a.name, b.name));
  return sorted;
}

/** A name whose folded hash is not among a folder's shared ones has no case variant there (sharedHashes). */
function hasNoVariant(variants: ReadonlySet<number>, hash: number): boolean {
  return variants.size === 0 || !variants.has(hash);
}

const listSmallFolder = smallFolderLister();

/**
 * A name lstat did not find: gone since the folder was read (undefined: left out), or read from
 * bytes that are not UTF-8 (U+FFFD in it), which no path we can build reaches: kept, marked, so
 * that it is reported instead of silently skipped.
 */
function undecodableOrGone(name: string): StatDirEntry | undefined {
  if (!name.includes("\ufffd")) return undefined;
  return { name, isFile: false, isDirectory: false, size: 0, mtimeMs: 0, atimeMs: 0, undecodable: true };
}

/**
 * One folder listing's names with U+FFFD in them, to mark undecodable each repeat of one. Node
 * reads a name's bytes that are not UTF-8 as U+FFFD, so `caf\xe9.log` (Latin-1) reads as
 * `caf\ufffd.log`, the name of a file whose U+FFFD is real (its UTF-8 bytes EF BF BD). Beside that
 * file, lstat of the string finds it for both names: the Latin-1 file was counted as already
 * copied, and a Latin-1 folder's files were never listed (its name listed the other folder again).
 * A folder's names are unique, so each repeat stands for bytes no path reaches. Costs nothing
 * until a name has U+FFFD but a search of each name (~5 ns: V8 does not scan a one-byte string for it).
 */
class RepeatedNames {
  private replaced: Set<string> | undefined;

  /** `entries`, each repeat of a name with U+FFFD (listed, found) marked undecodable as an unfound one is. */
  marked(entries: StatDirEntry[]): StatDirEntry[] {
    for (const entry of entries) {
      if (entry.undecodable || !entry.name.includes("\ufffd")) continue;
      this.replaced ??= new Set();
      if (!this.replaced.has(entry.name)) this.replaced.add(entry.name);
      else Object.assign(entry, undecodableOrGone(entry.name));
    }
    return entries;
  }
}

/** The lstat thread's facts as entries, vanished names left out (an undecodable one kept: undecodableOrGone). */
function entriesFrom(names: string[], facts: Float64Array): StatDirEntry[] {
  const found: StatDirEntry[] = [];
  for (let i = 0, at = 0; i < names.length; i++, at += FACTS_PER_NAME) {
    const kind = facts[at]!;
    if (kind === MISSING) {
      const undecodable = undecodableOrGone(names[i]!);
      if (undecodable) found.push(undecodable);
      continue;
    }
    found.push({
      name: names[i]!,
      isFile: kind === KIND_FILE,
      isDirectory: kind === KIND_DIR,
      size: facts[at + 1]!,
      mtimeMs: facts[at + 2]!,
      atimeMs: facts[at + 3]!,
    });
  }
  return found;
}

function toStat(s: fs.Stats): FileStat {
  return {
    size: s.size,
    mtimeMs: s.mtimeMs,
    atimeMs: s.atimeMs,
    isFile: s.isFile(),
    isDirectory: s.isDirectory(),
    dev: s.dev,
    ino: s.ino,
    birthtimeMs: s.birthtimeMs,
  };
}

/**
 * node:fs's callback calls as promises. fs/promises costs more CPU per call (its FileHandle and
 * promise bookkeeping): 200 000 lstats of task logs took 956 ms through fsp.lstat and 405 ms
 * through fs.lstat, and a no-op or a dry-run is almost nothing but lstats.
 */
function called<T>(start: (done: (error: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value))));
}

/**
 * An open file as its descriptor. Once closed, every call fails with EBADF and close does nothing:
 * the number may already name a file opened since, which a late read or a second close would reach.
 */
function openFile(fd: number): OpenFile {
  let closed = false;
  const live = (): number => {
    if (closed) throw Object.assign(new Error("EBADF: file already closed"), { code: "EBADF" });
    return fd;
  };
  return {
    read: async (buffer, offset, length, position) => called<number>((done) => fs.read(live(), buffer, offset, length, position, done)),
    write: async (buffer, offset, length, position) =>
      called<number>((done) => fs.write(live(), buffer, offset, length, position ?? null, done)),
    sync: async () => called<void>((done) => fs.fsync(live(), done)),
    stat: async () => toStat(await called<fs.Stats>((done) => fs.fstat(live(), done))),
    utimes: async (atimeMs, mtimeMs) => called<void>((done) => fs.futimes(live(), timeArg(atimeMs), timeArg(mtimeMs), done)),
    close: async () => {
      if (closed) return;
      closed = true;
      await called<void>((done) => fs.close(fd, done));
    },
  };
}

/** The real file system through node:fs. */
export const nodeFileOps: FileOps = {
  open: async (path, mode) => openFile(await called<number>((done) => fs.open(path, mode, done))),
  stat: async (path) => toStat(await called<fs.Stats>((done) => fs.lstat(path, done))),
  async *readdir(path) {
    const dir = await fsp.opendir(path, { bufferSize: 256 });
    for await (const d of dir) yield { name: d.name, isFile: d.isFile(), isDirectory: d.isDirectory() };
  },
  names: (dirPath) => sortedNames(dirPath),
  /**
   * The names, then their lstats: LIST_IN_FLIGHT at a time through libuv, or in batches on the lstat
   * thread where the folder proves fast enough (adaptiveLstat). (Was: a synchronous lstat per entry
   * on the main thread, one round trip after another on a share: 0.45 s of a 500-file no-op at 500 µs.)
   */
  list: (dirPath, { order = "sorted", folderSize, tree, signal, onNames, keep, names }: ListOptions = {}) =>
    order === "any" && names
      ? statAhead(dirPath, names, adaptiveLstat(), signal, keep)
      : isSmallFolder(folderSize)
        ? listSmallFolder(dirPath, order, tree, { onNames, keep })
        : order === "any"
          ? listUnsorted(dirPath, adaptiveLstat(), folderSize, signal, keep)
          : sourceChunks(dirPath, folderSize, adaptiveLstat(lstatOnThread, true), signal, onNames),
  nameStream: (dirPath, { folderSize } = {}) => nameBatches(dirPath, NAME_STREAM_BATCH, folderSize),
  mkdir: (path) => makeFolder(path),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  rmdir: (path) => fsp.rmdir(path),
  statfs: async (path) => {
    const s = await fsp.statfs(path);
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  },
  canWrite: (path) => fsp.access(path, 2 /* W_OK */),
  realpath: (path) => fsp.realpath(path),
};

/**
 * A time for fs.futimes: seconds, except before 1970, which Node takes as "now" when given as a
 * negative number (a log stamped 1960 was copied with today's time, and hashed again every run);
 * a Date carries it (to the millisecond).
 */
function timeArg(ms: number): number | Date {
  return ms < 0 ? new Date(ms) : ms / 1000;
}
