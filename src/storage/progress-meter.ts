/**
 * Counts work done against work planned and emits throttled CopyProgress events. Files already at
 * the target are not part of the total, so a resumed copy's ETA is about what is left. Each event
 * also says files per second and the round-trip time the engine sees at the target (RoundTrips).
 */
import { performance } from "node:perf_hooks";
import type { FileOps } from "./file-ops.js";
import type { CopyProgress } from "./types.js";

/**
 * The round-trip time of target calls, as the fastest call of each progress interval (smoothed):
 * the slowest ones also waited in the thread pool's queue or on a folder's lock, the fastest show
 * what one trip to the share costs (TCP estimates its RTT from the minimum the same way).
 */
export class RoundTrips {
  private fastest = Infinity;
  private smoothed: number | undefined;
  /** The fastest call of the whole run: what one trip to the target costs at least (Infinity: none yet). */
  floorMs = Infinity;

  sample(ms: number): void {
    if (ms < this.fastest) this.fastest = ms;
    if (ms < this.floorMs) this.floorMs = ms;
  }

  /** The smoothed estimate in ms, folding in this interval's fastest call (undefined: none seen yet). */
  take(): number | undefined {
    if (this.fastest !== Infinity) this.smoothed = this.smoothed === undefined ? this.fastest : this.smoothed * 0.7 + this.fastest * 0.3;
    this.fastest = Infinity;
    return this.smoothed;
  }
}

/** ops, with the single-trip calls on paths under `root` (stat, open, rename, mkdir) timed into `trips`. */
export function timeRoundTrips(ops: FileOps, root: string, trips: RoundTrips): FileOps {
  const timed =
    <A extends [string, ...unknown[]], R>(fn: (...args: A) => Promise<R>, pathAt = 0) =>
    async (...args: A): Promise<R> => {
      if (!(args[pathAt] as string).startsWith(root)) return fn(...args);
      const started = performance.now();
      const result = await fn(...args);
      trips.sample(performance.now() - started);
      return result;
    };
  return {
    ...ops,
    stat: timed((p: string) => ops.stat(p)),
    open: timed((p: string, mode: Parameters<FileOps["open"]>[1]) => ops.open(p, mode)),
    rename: timed((from: string, to: string) => ops.rename(from, to), 1),
    mkdir: timed((p: string) => ops.mkdir(p)),
  };
}

/**
 * No ETA before this much of the copy has passed: the first event comes after the first file, and
 * a rate from one file (or a burst of them) said "ETA 7h03m" for a copy of 36 s.
 */
const ETA_AFTER_MS = 2000;

/**
 * An interval shorter than this leaves the rate as it was: a dry-run counts its files in one burst
 * at the end, and a rate from that millisecond said "1002014000 files/s  2.5 TiB/s".
 */
const MIN_RATE_INTERVAL_MS = 20;

export class ProgressMeter {
  /**
   * While a copy plans (a dry-run, all along): events with phase "planning", the files looked at
   * and those found to copy so far, no totals and no ETA. A long listing (a million task logs, a
   * share's round trips) otherwise said nothing for minutes.
   */
  static planning(onProgress: ((p: CopyProgress) => void) | undefined, trips?: RoundTrips, clock: () => number = Date.now): ProgressMeter {
    const meter = new ProgressMeter(0, 0, onProgress, undefined, trips, clock);
    meter.toCopy = { files: 0, bytes: 0 };
    return meter;
  }

  private toCopy: { files: number; bytes: number } | undefined;
  private filesDone = 0;
  private bytesDone = 0;
  private rate = 0;
  private filesRate = 0;
  private lastEmit = 0;
  private lastBytes = 0;
  private lastFiles = 0;
  private readonly started: number;

  constructor(
    private readonly filesTotal: number,
    private readonly bytesTotal: number,
    private readonly onProgress: ((p: CopyProgress) => void) | undefined,
    private readonly intervalMs = 250,
    private readonly trips?: RoundTrips,
    /** The clock, in ms (tests stand in for it). */
    private readonly clock: () => number = Date.now,
  ) {
    this.started = clock();
  }

  add(files: number, bytes: number): void {
    this.filesDone += files;
    this.bytesDone += bytes;
    const now = this.clock();
    if (now - this.lastEmit >= this.intervalMs) this.emit(now);
  }

  /** Planning: the files looked at so far (`files`, `bytes`), of which `toCopyFiles` and `toCopyBytes` are to copy. */
  looked(files: number, bytes: number, toCopyFiles: number, toCopyBytes: number): void {
    if (this.toCopy) {
      this.toCopy.files = toCopyFiles;
      this.toCopy.bytes = toCopyBytes;
    }
    this.add(files - this.filesDone, bytes - this.bytesDone);
  }

  /** The final event (always sent, so a renderer can close its bar). */
  finish(): void {
    this.emit(this.clock());
  }

  private emit(now: number): void {
    if (!this.onProgress) return;
    const elapsed = (now - (this.lastEmit || this.started)) / 1000;
    if (elapsed * 1000 >= MIN_RATE_INTERVAL_MS) {
      // Exponential smoothing: steady ETA despite a burst of tiny task logs after a big package.
      const smooth = (old: number, instant: number): number => (old === 0 ? instant : old * 0.7 + instant * 0.3);
      this.rate = smooth(this.rate, (this.bytesDone - this.lastBytes) / elapsed);
      this.filesRate = smooth(this.filesRate, (this.filesDone - this.lastFiles) / elapsed);
    }
    this.lastEmit = now;
    this.lastBytes = this.bytesDone;
    this.lastFiles = this.filesDone;
    const left = Math.max(0, this.bytesTotal - this.bytesDone);
    const progress: CopyProgress = {
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      rate: Math.round(this.rate),
      filesRate: Math.round(this.filesRate),
    };
    const latency = this.trips?.take();
    if (latency !== undefined) progress.roundTripMs = Math.round(latency * 100) / 100;
    if (this.toCopy) {
      progress.phase = "planning";
      progress.filesToCopy = this.toCopy.files;
      progress.bytesToCopy = this.toCopy.bytes;
    } else if (left === 0) progress.etaSeconds = 0;
    else if (this.rate > 0 && now - this.started >= ETA_AFTER_MS) progress.etaSeconds = Math.round(left / this.rate);
    this.onProgress(progress);
  }
}
