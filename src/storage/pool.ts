/**
 * Feeds a stream of jobs to a worker through two p-limit limiters (small files, large files),
 * pulling from the stream only while fewer than a bounded number of jobs are queued: the stream is
 * never drained into memory ahead of the disks.
 */
import pLimit from "p-limit";

export interface PoolOptions {
  small: number;
  large: number;
  largeBytes: number;
  /** Stop pulling new jobs once aborted (in-flight ones finish or abort themselves). */
  signal?: AbortSignal | undefined;
}

function sizeOf(job: unknown): number {
  const entry = (job as { entry?: { size?: unknown } }).entry;
  return typeof entry?.size === "number" ? entry.size : 0;
}

/** Runs worker over every job (arriving in chunks); the worker must not throw (it records its own failures). */
export async function runPool<J>(chunks: AsyncIterable<J[]>, options: PoolOptions, worker: (job: J) => Promise<void>): Promise<void> {
  const smallLimit = pLimit(options.small);
  const largeLimit = pLimit(options.large);
  const maxQueued = (options.small + options.large) * 4;
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
        const limit = sizeOf(job) >= options.largeBytes ? largeLimit : smallLimit;
        queued++;
        const p = limit(() => worker(job)).finally(settled);
        all.add(p);
        void p.finally(() => all.delete(p));
        while (queued >= maxQueued) await new Promise<void>((resolve) => (wake = resolve));
      }
    }
  } finally {
    await Promise.allSettled([...all]);
  }
}
