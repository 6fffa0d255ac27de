/**
 * A full garbage collection on request. The planning pass lists every folder and leaves its listings
 * behind as garbage; the copy pass then lists the same folders again. V8 collects the old
 * generation only when it grows past its limit, so without a collection in between, a 250 000-file
 * TaskLogs folder was held twice (~30 MB more, measured with --trace-gc on the large preset) right
 * when the copy pass listed it: the copy's peak RSS swung between 187 and 222 MB.
 *
 * `gc` is not exposed without --expose-gc, which a CLI cannot pass to its own node. Setting the
 * flag at run time makes V8 install `gc` in contexts created afterwards, such as a vm context.
 */
import v8 from "node:v8";
import { runInNewContext } from "node:vm";

let gc: (() => void) | null | undefined;

/** Collect now if the runtime allows it; otherwise do nothing (it only bounds memory sooner). */
export function collectGarbage(): void {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString("--expose-gc");
      const found: unknown = runInNewContext("typeof gc === 'function' ? gc : null");
      gc = typeof found === "function" ? (found as () => void) : null;
    } catch {
      gc = null;
    }
  }
  gc?.();
}

let youngCapped = false;

/**
 * Keep V8's young generation at its starting size (a 1 MB semi-space, 2 MB with the space it
 * promotes from) instead of letting it grow to 16 MB per semi-space. A walk's garbage is short-lived
 * and its survivors are few, so a larger young generation only holds more of it: 32 MB of a
 * million-file no-op's ~250 MB RSS. The growth factor, unlike --max-semi-space-size, is read each
 * time V8 would grow the space, so it still applies when set at run time (a CLI cannot pass flags
 * to its own node).
 */
export function capYoungGeneration(): void {
  if (youngCapped) return;
  youngCapped = true;
  setGrowthFactor();
}

/**
 * A worker thread has started (the lstat thread). Creating its V8 isolate sets the growth factor
 * back to V8's default, for this isolate too: a million-file no-op's young generation went from
 * 4 to 32 MB once the lstat thread started. Sets the cap again if it was set.
 */
export function threadStarted(): void {
  if (youngCapped) setGrowthFactor();
}

function setGrowthFactor(): void {
  try {
    v8.setFlagsFromString("--semi-space-growth-factor=1");
  } catch {
    // Memory only: without it the young generation grows as V8 decides.
  }
}

/**
 * Heap growth since the last collection that triggers the next one (see boundHeap). 12 MB, was 24
 * (and 48 before that): with a folder's names kept as bytes, the live heap is ~10 MB and a collection
 * a few milliseconds, so the swing between collections was most of what the heap added to a copy's
 * peak (262,014 files: 122.5 MiB against 133.1, farm-bench in turns, the same time).
 */
export const HEAP_GROWTH_LIMIT = 12 * 2 ** 20;
/**
 * The growth limit for a step that makes its garbage a few MB at a time and knows it (a large
 * folder's sorted run of 65,536 names, the manifest's parse windows): collect after about one such
 * batch instead of letting several pile up to HEAP_GROWTH_LIMIT. A million-file dry-run's peak was
 * 119.4 MiB with the runs' strings piling up, 108.5 MiB with this.
 */
export const BATCH_GROWTH_LIMIT = 6 * 2 ** 20;

let calls = 0;
let liveAfterLast = 0;

/**
 * Collects when the heap has grown by `growthLimit` since the last collection, looked at once per
 * `checkEvery` calls (see inUse for what a look costs). For a step that
 * makes its garbage a few MB at a time (a large run of a folder's sorted names, the manifest's
 * parse windows); a listing's chunks use boundListing.
 *
 * Why at all: a walk allocates ~600 bytes of short-lived objects per file (stat results, entries,
 * jobs), and the few thousand in flight at each young-generation collection are promoted; V8 lets
 * that garbage pile up in the old generation until its own limit, which it raises with the heap: a
 * million-file folder reached 300 MB of heap with 75 MB alive (--trace-gc), 525 MB RSS. A
 * collection here costs 30-50 ms with a million names alive, a few times per pass.
 */
export function boundHeap(checkEvery: number, growthLimit: number): void {
  if (++calls % checkEvery !== 0) return;
  if (inUse() - liveAfterLast < growthLimit) return;
  collectNow();
}

/**
 * Work between two looks at the heap for a listing's chunks (boundListing): 4 chunks of 256
 * entries (was 16: the copy pass promotes ~4 KB of garbage a file, so 16 chunks overshot the limit
 * by ~16 MB; 262,014-file copy: peak 116.2 MiB against 123.6, farm-bench in turns). Counted in
 * entries, plus LISTING_CHUNK_WORK per chunk (a folder's own objects: its listing, its index), not
 * in chunks: a small folder is one chunk of a few entries, and a look per four of those cost 47 ms
 * of a medium no-op's 0.8 s.
 */
const LISTING_CHECK_WORK = 1024;
const LISTING_CHUNK_WORK = 16;
let listingWork = 0;

/** boundHeap for a listing chunk of `entries` entries (the walk's, a target folder's index's), at HEAP_GROWTH_LIMIT. */
export function boundListing(entries: number): void {
  listingWork += entries + LISTING_CHUNK_WORK;
  if (listingWork < LISTING_CHECK_WORK) return;
  listingWork = 0;
  if (inUse() - liveAfterLast >= HEAP_GROWTH_LIMIT) collectNow();
}

/**
 * Collect now, for a step that has just left garbage outside the heap that the heap's growth would
 * not soon trigger a collection for (a large folder's name hashes: 4 MB at a million names).
 */
export function collectNow(): void {
  collectGarbage();
  liveAfterLast = inUse();
}

/**
 * The heap and the memory outside it that JS objects hold (ArrayBuffers, counted in V8's external
 * memory). With a folder's names held as bytes instead of strings the heap stays small, so small
 * buffers left behind (each fs/promises lstat left one, ~40 MB at a million files, before the engine
 * moved to the callback calls) would otherwise never make V8 collect them.
 *
 * V8's own statistics, not process.memoryUsage(): that also reads the RSS from /proc, which took
 * 0.35 ms a call on average (5 ms at worst) while the lstat thread ran, 44-54 ms of a medium no-op's
 * 137 looks; this takes ~20 µs there. SharedArrayBuffers are not counted, and none grows with a walk.
 */
function inUse(): number {
  const heap = v8.getHeapStatistics();
  return heap.used_heap_size + heap.external_memory;
}
