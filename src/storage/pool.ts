/**
 * Feeds a stream of jobs to a worker through two p-limit limiters (small files, large files),
 * pulling from the stream only while fewer than a bounded number of jobs are queued: the stream is
 * never drained into memory ahead of the disks. The small-file limit may adapt (ConcurrencyClimber).
 */
import { performance } from "node:perf_hooks";
import pLimit from "p-limit";

export interface PoolOptions<J = unknown> {
  small: number;
  large: number;
  largeBytes: number;
  /** Stop pulling new jobs once aborted (in-flight ones finish or abort themselves). */
  signal?: AbortSignal | undefined;
  /** Raise the small-file limit from `small` while files/s grows (absent: `small` is fixed). */
  adapt?: AdaptOptions | undefined;
  /** Each job as it is queued, before its turn (the copy writes its manifest intent ahead). */
  queued?: ((job: J) => void) | undefined;
}

export interface AdaptOptions {
  /** The highest small-file limit. */
  cap: number;
  /** Whether more files in flight may pay now (the target's calls cost a network round trip). */
  worthRaising: () => boolean;
  /** Length of one measurement (default 300 ms; it also lasts until `limit` files completed). */
  windowMs?: number;
  now?: () => number;
  /** Each change of the limit (tests, diagnostics). */
  onChange?: (limit: number) => void;
}

/** A raise is kept when files/s grew by at least this factor; else the limit goes back. */
const GAIN = 1.1;
/** Windows to wait at the old limit after a raise that bought nothing, before trying again. */
const HOLD_WINDOWS = 6;

/**
 * Hill climbing on files/s (TCP's probing, without its loss signal): measure a window at the
 * current limit, raise it by half, measure again; keep the raise while files/s grows by >= 10 %,
 * else go back and hold for a while (the work changes as the walk moves from a flat folder of task
 * logs to a folder per task, so it tries again later). On a share a file waits ~10 round trips
 * and more files in flight overlap them until the share or a folder's lock is the bottleneck; on a
 * local disk more only queue for the CPU, and worthRaising keeps it at the start.
 */
export class ConcurrencyClimber {
  private count = 0;
  private windowStart: number;
  private base: number;
  private baseRate: number | undefined;
  private probing = false;
  private hold = 0;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(
    private readonly limit: { concurrency: number },
    private readonly adapt: AdaptOptions,
  ) {
    this.now = adapt.now ?? (() => performance.now());
    this.windowMs = adapt.windowMs ?? 300;
    this.windowStart = this.now();
    this.base = limit.concurrency;
  }

  /** A small file was done. */
  completed(): void {
    this.count++;
    const now = this.now();
    const elapsed = now - this.windowStart;
    if (elapsed < this.windowMs || this.count < this.limit.concurrency) return;
    const rate = this.count / elapsed;
    this.count = 0;
    this.windowStart = now;
    this.step(rate);
  }

  private step(rate: number): void {
    const current = this.limit.concurrency;
    if (this.probing) {
      this.probing = false;
      if (rate < (this.baseRate ?? 0) * GAIN) {
        this.set(this.base);
        this.hold = HOLD_WINDOWS;
        return;
      }
    } else if (this.hold > 0) {
      this.hold--;
      return;
    }
    this.base = current;
    this.baseRate = rate;
    if (current >= this.adapt.cap || !this.adapt.worthRaising()) return;
    this.set(Math.min(this.adapt.cap, current + Math.max(2, current >> 1)));
    this.probing = true;
  }

  private set(limit: number): void {
    if (limit === this.limit.concurrency) return;
    this.limit.concurrency = limit;
    this.adapt.onChange?.(limit);
  }
}

function sizeOf(job: unknown): number {
  const entry = (job as { entry?: { size?: unknown } }).entry;
  return typeof entry?.size === "number" ? entry.size : 0;
}

/** Runs worker over every job (arriving in chunks); the worker must not throw (it records its own failures). */
export async function runPool<J>(chunks: AsyncIterable<J[]>, options: PoolOptions<J>, worker: (job: J) => Promise<void>): Promise<void> {
  const smallLimit = pLimit(options.small);
  const largeLimit = pLimit(options.large);
  const climber = options.adapt ? new ConcurrencyClimber(smallLimit, options.adapt) : undefined;
  const maxQueued = (Math.max(options.small, options.adapt?.cap ?? 0) + options.large) * 4;
  let queued = 0;
  let wake: (() => void) | undefined;
  const settled = (): void => {
    queued--;
    wake?.();
  };
  const all = new Set<Promise<void>>();
  try {
    outer: for await (const jobs of chunks) {
      for (const job of jobs) {
        if (options.signal?.aborted) break outer;
        const small = sizeOf(job) < options.largeBytes;
        options.queued?.(job);
        queued++;
        const p = (small ? smallLimit : largeLimit)(() =>
          small && climber ? worker(job).finally(() => climber.completed()) : worker(job),
        ).finally(settled);
        all.add(p);
        void p.finally(() => all.delete(p));
        while (queued >= maxQueued) await new Promise<void>((resolve) => (wake = resolve));
      }
    }
  } finally {
    await Promise.allSettled([...all]);
  }
}
