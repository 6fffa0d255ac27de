/**
 * A snapshot of a manifest's index beside the manifest (`<manifest>.index`), so a re-run reads a
 * few MB of typed arrays instead of parsing every JSON line again: the medium preset's 53 000
 * lines took ~170 ms of a ~1.5 s no-op, the large preset's 260 000 lines ~300 ms.
 *
 * It is only a cache. The manifest stays the record; a snapshot is used only while it matches the
 * manifest's first `manifestBytes` bytes (length, and a SHA-256 of the 4 KiB before that point),
 * and lines appended since are parsed on top. A missing, torn, foreign or stale snapshot is
 * ignored and the manifest is parsed in full, as before snapshots existed. It is written whole
 * under a temp name and renamed, so a crash leaves the old one or the new one.
 *
 * Layout (host byte order, checked by a byte-order mark; the body is 8-byte aligned):
 *   0  u32 magic 'OHMX'      4  u32 version        8  u32 byte-order mark   12 u32 capacity (slots)
 *   16 u32 slots used        20 u32 reserved (0)    24 f64 manifestBytes    32 32 B manifest tail SHA-256
 *   64 u32 body checksum     68..80 reserved
 *   80 u32 mtLo[capacity], u32 hi[capacity], u32 lo[capacity], u32 srcHi[capacity], u32 srcLo[capacity],
 *      u16 mtHi[capacity]
 * (Version 1 held node names where version 2 holds each record's origin; version 2's capacity was a
 * power of two, at most half full; version 3 held each mtime as a double. An older snapshot is
 * ignored and the manifest parsed again, once.)
 */
import { createHash } from "node:crypto";
import { MAX_LOAD, ManifestIndex, type ManifestTable } from "./manifest.js";
import { readFully, writeFully, type FileOps, type OpenFile } from "./file-ops.js";
import path from "node:path";
import { removeStaleTemps, tempPathFor, tempPrefixFor } from "./temp-names.js";

const MAGIC = 0x584d484f; // "OHMX" little-endian
const VERSION = 4;
/** Bytes per slot in the body. */
const SLOT_BYTES = 22;
const BYTE_ORDER = 0x01020304;
const HEADER = 80;
const TAIL = 4096;

export function snapshotPathOf(manifestFile: string): string {
  return `${manifestFile}.index`;
}

/** SHA-256 of the manifest's TAIL bytes before `end`: ties a snapshot to the manifest it was made from. */
async function tailHash(manifest: OpenFile, end: number): Promise<Buffer> {
  const start = Math.max(0, end - TAIL);
  const bytes = Buffer.alloc(end - start);
  const got = await readFully(manifest, bytes, start);
  return createHash("sha256").update(bytes.subarray(0, got)).digest();
}

/** FNV-1a over the arrays' elements, across the parts in order (the body: mtLo, hi, lo, srcHi, srcLo, mtHi). */
function checksum(...parts: (Uint32Array | Uint16Array)[]): number {
  let h = 0x811c9dc5;
  for (const words of parts) for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i]!, 16777619);
  return h >>> 0;
}

async function readAll(ops: FileOps, file: string): Promise<ArrayBuffer | undefined> {
  let handle: OpenFile;
  try {
    handle = await ops.open(file, "r");
  } catch {
    return undefined; // no snapshot (or unreadable): parse the manifest
  }
  try {
    const size = (await handle.stat()).size;
    if (size < HEADER || size > 2 ** 31) return undefined;
    const data = new ArrayBuffer(size);
    return (await readFully(handle, Buffer.from(data), 0)) === size ? data : undefined;
  } finally {
    await handle.close();
  }
}

/** A snapshot's header words and the manifest length it covers, when its magic, version and byte order are ours. */
function headerOf(data: ArrayBuffer): { head: Uint32Array; covered: number } | undefined {
  const head = new Uint32Array(data, 0, 20);
  if (head[0] !== MAGIC || head[1] !== VERSION || head[2] !== BYTE_ORDER) return undefined;
  const covered = new Float64Array(data, 24, 1)[0]!;
  return Number.isSafeInteger(covered) && covered >= 0 ? { head, covered } : undefined;
}

/**
 * The manifest length a snapshot says it covered, read from its header alone (magic, version and
 * byte order checked), or undefined when there is no such snapshot. A manifest shorter than that
 * (or gone) was emptied, cut short, deleted or replaced since octoha last wrote it: octoha only
 * ever appends to it.
 */
export async function snapshotCoveredBytes(ops: FileOps, manifestFile: string): Promise<number | undefined> {
  let handle: OpenFile;
  try {
    handle = await ops.open(snapshotPathOf(manifestFile), "r");
  } catch {
    return undefined;
  }
  try {
    const data = new ArrayBuffer(HEADER);
    if ((await readFully(handle, Buffer.from(data), 0)) !== HEADER) return undefined;
    const covered = headerOf(data)?.covered;
    return covered !== undefined && covered > 0 ? covered : undefined;
  } catch {
    return undefined; // a cache: unreadable says nothing
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * The index a snapshot holds and the manifest length it covers, or undefined when there is no
 * snapshot that matches this manifest (`manifestSize` is the manifest's current length).
 */
export async function readSnapshot(
  ops: FileOps,
  manifestFile: string,
  manifest: OpenFile,
  manifestSize: number,
): Promise<{ index: ManifestIndex; bytes: number } | undefined> {
  const data = await readAll(ops, snapshotPathOf(manifestFile));
  const header = data && headerOf(data);
  if (!data || !header) return undefined;
  const { head, covered } = header;
  const capacity = head[3]!;
  const used = head[4]!;
  // At most MAX_LOAD full, and exactly the file's length: anything else is not ours.
  if (capacity < 16 || used > capacity * MAX_LOAD || head[5] !== 0) return undefined;
  if (HEADER + capacity * SLOT_BYTES !== data.byteLength) return undefined;
  if (covered > manifestSize) return undefined;
  const words = (k: number) => new Uint32Array(data, HEADER + capacity * 4 * k, capacity);
  const mtHi = new Uint16Array(data, HEADER + capacity * 20, capacity);
  if (checksum(new Uint32Array(data, HEADER, capacity * 5), mtHi) !== head[16]!) return undefined;
  if (!(await tailHash(manifest, covered)).equals(Buffer.from(data, 32, 32))) return undefined;
  const table: ManifestTable = { mtLo: words(0), hi: words(1), lo: words(2), srcHi: words(3), srcLo: words(4), mtHi, used };
  return { index: ManifestIndex.fromTable(table), bytes: covered };
}

/**
 * Write the snapshot of `index`, which reflects the manifest's first `index.coveredBytes` bytes.
 * Throws on a write error (callers treat the snapshot as optional).
 */
export async function writeSnapshot(ops: FileOps, manifestFile: string, manifest: OpenFile, index: ManifestIndex): Promise<void> {
  const t = index.table();
  const capacity = t.hi.length;
  const header = new ArrayBuffer(HEADER);
  const head = new Uint32Array(header, 0, 20);
  head[0] = MAGIC;
  head[1] = VERSION;
  head[2] = BYTE_ORDER;
  head[3] = capacity;
  head[4] = t.used;
  new Float64Array(header, 24, 1)[0] = index.coveredBytes;
  Buffer.from(header).set(await tailHash(manifest, index.coveredBytes), 32);
  // The body's words in file order, without copying the arrays.
  const body = [t.mtLo, t.hi, t.lo, t.srcHi, t.srcLo, t.mtHi];
  head[16] = checksum(...body);
  const final = snapshotPathOf(manifestFile);
  // A kill -9 between a snapshot's write and its rename left its temp file beside the manifest, in a
  // folder no copy pass lists (and a no-op never sweeps); the kill left the snapshot stale, so the next
  // run that finishes writes one, and sweeps it here. A cache's temp file only takes room: never fatal.
  await removeStaleTemps(path.dirname(final), ops, { shallow: true, prefix: tempPrefixFor(path.basename(final)) }).catch(() => undefined);
  const temp = tempPathFor(final);
  const out = await ops.open(temp, "wx");
  let closed = false;
  try {
    for (const part of [header, ...body]) {
      await writeFully(out, part instanceof ArrayBuffer ? Buffer.from(part) : Buffer.from(part.buffer, part.byteOffset, part.byteLength));
    }
    closed = true;
    await out.close();
    await ops.rename(temp, final);
  } catch (error) {
    if (!closed) await out.close().catch(() => undefined);
    await ops.unlink(temp).catch(() => undefined);
    throw error;
  }
}
