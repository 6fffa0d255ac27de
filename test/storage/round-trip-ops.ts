/**
 * FileOps wrappers that see the copy engine as a network share does: every call is one round trip.
 * countingOps counts them (by side: source, target, or other such as the manifest), latencyOps makes
 * each one wait, so a test can tell calls that overlap from calls made one after another.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import path from "node:path";
import { listWithStats, nodeFileOps, type FileOps, type OpenFile } from "../../src/storage/file-ops.js";

export type Side = "source" | "target" | "state";

export interface CountingOps extends FileOps {
  /** Round trips so far, keyed `side:call` (e.g. `target:rename`, `source:list.lstat`). */
  counts: Map<string, number>;
  reset(): void;
}

/**
 * Counts every call. `list` is the engine's listWithStats: the folder's names (`list`, its readdir)
 * and one lstat per entry (`list.lstat`), what listing a folder with sizes and times costs on a share.
 * Paths under the target's .octoha folder (manifest, lock, quarantine) count as "state".
 */
export function countingOps(roots: { source: string; target: string }, base: FileOps = nodeFileOps): CountingOps {
  const counts = new Map<string, number>();
  const state = path.join(roots.target, ".octoha");
  const sideOf = (p: string): Side => {
    if (p === state || p.startsWith(state + path.sep)) return "state";
    if (p === roots.target || p.startsWith(roots.target + path.sep)) return "target";
    return "source";
  };
  const hit = (p: string, call: string, n = 1): void => {
    const key = `${sideOf(p)}:${call}`;
    counts.set(key, (counts.get(key) ?? 0) + n);
  };
  const wrap = (file: OpenFile, p: string): OpenFile => ({
    read: (b, o, l, pos) => (hit(p, "read"), file.read(b, o, l, pos)),
    write: (b, o, l, pos) => (hit(p, "write"), file.write(b, o, l, pos)),
    sync: () => (hit(p, "fsync"), file.sync()),
    stat: () => (hit(p, "fstat"), file.stat()),
    utimes: (a, m) => (hit(p, "futimes"), file.utimes(a, m)),
    close: () => (hit(p, "close"), file.close()),
  });
  return {
    counts,
    reset: () => counts.clear(),
    open: async (p, mode) => (hit(p, "open"), wrap(await base.open(p, mode), p)),
    stat: (p) => (hit(p, "stat"), base.stat(p)),
    async *readdir(p) {
      hit(p, "readdir");
      yield* base.readdir(p);
    },
    names: (p) => (hit(p, "list"), base.names(p)),
    list: (p, options) =>
      listWithStats(
        {
          names: (d) => (hit(d, "list"), base.names(d)),
          stat: (f) => (hit(f, "list.lstat"), base.stat(f)),
        },
        p,
        options,
      ),
    mkdir: (p) => (hit(p, "mkdir"), base.mkdir(p)),
    rename: (from, to) => (hit(to, "rename"), base.rename(from, to)),
    unlink: (p) => (hit(p, "unlink"), base.unlink(p)),
    rmdir: (p) => (hit(p, "rmdir"), base.rmdir(p)),
    statfs: (p) => (hit(p, "statfs"), base.statfs(p)),
    canWrite: (p) => (hit(p, "canWrite"), base.canWrite(p)),
    realpath: (p) => (hit(p, "realpath"), base.realpath(p)),
  };
}

/** Round trips of one side (or all), summed over calls. */
export function total(counts: Map<string, number>, side?: Side): number {
  let n = 0;
  for (const [key, v] of counts) if (side === undefined || key.startsWith(`${side}:`)) n += v;
  return n;
}

/**
 * What each call costs per file: (counts of the bigger run − counts of the smaller) / extra files.
 * `skip` leaves a side out (the manifest's "state" writes are group-committed by time, not per file).
 */
export function perFile(small: Map<string, number>, big: Map<string, number>, extraFiles: number, skip?: Side): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of new Set([...small.keys(), ...big.keys()])) {
    if (skip !== undefined && key.startsWith(`${skip}:`)) continue;
    const d = ((big.get(key) ?? 0) - (small.get(key) ?? 0)) / extraFiles;
    if (d !== 0) out[key] = d;
  }
  return out;
}

/**
 * Waits at least `ms` by the clock the engine times calls with. A timer alone may fire early by
 * that clock: libuv counts its due time from the loop's cached time, taken before this tick's work.
 * A share's round trip is never shorter than the wire's, so neither is ours.
 */
async function roundTrip(ms: number): Promise<void> {
  const end = performance.now() + ms;
  for (let left = ms; left > 0; left = end - performance.now()) await sleep(left);
}

/**
 * Every call waits `ms` first, as over a share (`list` is the engine's listWithStats over the
 * slowed names and lstat, so it keeps as many lstats in flight as the engine does).
 */
export function latencyOps(ms: number, base: FileOps = nodeFileOps): FileOps & { busy: { ms: number } } {
  // What the calls took one by one, summed (on a loaded machine a 2 ms timer fires late: this is
  // the time they would have taken one after another, as measured, not as asked for).
  const busy = { ms: 0 };
  const slow =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const started = performance.now();
      try {
        await roundTrip(ms);
        return await fn(...args);
      } finally {
        busy.ms += performance.now() - started;
      }
    };
  const wrap = (file: OpenFile): OpenFile => ({
    read: slow((b: Buffer, o: number, l: number, p: number | null) => file.read(b, o, l, p)),
    write: slow((b: Buffer, o: number, l: number, pos?: number) => file.write(b, o, l, pos)),
    sync: slow(() => file.sync()),
    stat: slow(() => file.stat()),
    utimes: slow((a: number, m: number) => file.utimes(a, m)),
    close: slow(() => file.close()),
  });
  return {
    busy,
    open: slow(async (p: string, mode: Parameters<FileOps["open"]>[1]) => wrap(await base.open(p, mode))),
    stat: slow((p: string) => base.stat(p)),
    async *readdir(p) {
      await roundTrip(ms);
      yield* base.readdir(p);
    },
    names: slow((p: string) => base.names(p)),
    list: (p) => listWithStats({ names: slow((d: string) => base.names(d)), stat: slow((f: string) => base.stat(f)) }, p),
    mkdir: slow((p: string) => base.mkdir(p)),
    rename: slow((from: string, to: string) => base.rename(from, to)),
    unlink: slow((p: string) => base.unlink(p)),
    rmdir: slow((p: string) => base.rmdir(p)),
    statfs: slow((p: string) => base.statfs(p)),
    canWrite: slow((p: string) => base.canWrite(p)),
    realpath: slow((p: string) => base.realpath(p)),
  };
}
