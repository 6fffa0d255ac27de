/**
 * The one retry loop. A low-level call (one REST request, one SQL query, one file operation) gets a
 * small attempt budget; a step gets a retry window that every retry inside it respects, so nested
 * budgets (REST attempts × step attempts) cannot multiply into minutes of waiting.
 *
 * Why not p-retry: it brings `retry` and `is-network-error`, reads no injectable clock (tests would
 * sleep for real) and has no notion of an enclosing step's deadline; this is ~100 lines.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { realClock, type Clock } from "./clock.js";

export interface Backoff {
  /** Delay before the second attempt. */
  initialMs: number;
  /** No delay exceeds this (before jitter). */
  maxMs: number;
  /** Each delay is the previous one times this. */
  factor: number;
  /** Spread as a fraction: 0.25 gives a delay between 0.75 and 1.25 times the base. 0 for none. */
  jitter: number;
}

interface RetryCommon {
  backoff: Backoff;
  /** Only errors this accepts are retried; any other passes straight through. */
  isRetryable(error: unknown): boolean;
  /** Ends the retries: an abort during a backoff rejects at once with `signal.reason`. */
  signal?: AbortSignal;
  clock?: Clock;
  /** Returns [0, 1); tests pass a seeded one. */
  random?: () => number;
  /** Called before each backoff sleep; `attempt` is the attempt that failed (1-based). */
  onRetry?(info: { error: unknown; attempt: number; delayMs: number }): void;
}

/** Attempts in all (including the first), a time budget from the first attempt, or both. */
export type RetryOptions = RetryCommon & ({ attempts: number; deadlineMs?: number } | { attempts?: number; deadlineMs: number });

/**
 * The budgets, in one place (README "Retries and timeouts" repeats them). Inner budgets are per
 * call; the step's window bounds all the retrying inside one step, inner and outer together.
 */
export const RETRY_BUDGETS = {
  /** One REST request: 5xx, 429, reset, timeout. */
  restRequest: { attempts: 4, backoff: { initialMs: 500, maxMs: 8_000, factor: 2, jitter: 0.25 } },
  /** One SQL query: dropped connection, timeout. */
  sqlQuery: { attempts: 3, backoff: { initialMs: 250, maxMs: 4_000, factor: 2, jitter: 0 } },
  /**
   * One task-log read through one node (verify-octopus): a node that has just started may refuse a
   * while longer. Each attempt is a REST request with its own budget; the step's window bounds both.
   */
  taskLogRead: { attempts: 3, backoff: { initialMs: 1_000, maxMs: 2_000, factor: 2, jitter: 0 } },
  /** One file operation of the copy engine: EBUSY, EIO, ECONNRESET … */
  fileOp: { attempts: 5, backoff: { initialMs: 50, maxMs: 2_000, factor: 2, jitter: 0 } },
  /**
   * One step (apply, verify, rollback): attempts of the whole step, and the window that opens at the
   * step's first retryable failure: no retry, inner or outer, sleeps past its end.
   */
  step: { attempts: 3, windowMs: 60_000, backoff: { initialMs: 1_000, maxMs: 30_000, factor: 2, jitter: 0 } },
} as const;

/**
 * A step's retry window. It opens at the first retryable failure inside the step and closes again
 * when a retried call succeeds, so a long copy is not cut short by a blip that was overcome hours ago.
 */
export class RetryWindow {
  private openedAt: number | undefined;
  constructor(readonly ms: number) {}

  /** The deadline of the open window (opening it now if it is closed). */
  open(now: number): number {
    this.openedAt ??= now;
    return this.openedAt + this.ms;
  }

  close(): void {
    this.openedAt = undefined;
  }
}

const windows = new AsyncLocalStorage<RetryWindow>();

/** Runs fn with `window` as the retry window of every retry() it starts, however deep. */
export function withinRetryWindow<T>(window: RetryWindow, fn: () => Promise<T>): Promise<T> {
  return windows.run(window, fn);
}

/** The base delay after the `attempt`-th failure, capped, then spread by the jitter. */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** (attempt - 1));
  return backoff.jitter > 0 ? base * (1 + backoff.jitter * (2 * random() - 1)) : base;
}

/** Runs fn until it succeeds, throws a non-retryable error, or the attempts, deadline or window run out. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const clock = options.clock ?? realClock;
  const window = windows.getStore();
  const started = clock.now();
  const attempts = options.attempts ?? Infinity;
  const ownDeadline = options.deadlineMs === undefined ? Infinity : started + options.deadlineMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await fn(attempt);
      if (attempt > 1) window?.close();
      return result;
    } catch (error) {
      if (options.signal?.aborted || !options.isRetryable(error) || attempt >= attempts) throw error;
      const now = clock.now();
      const deadline = Math.min(ownDeadline, window ? window.open(now) : Infinity);
      const delayMs = Math.round(backoffDelay(options.backoff, attempt, options.random));
      if (now + delayMs > deadline) throw error;
      options.onRetry?.({ error, attempt, delayMs });
      await clock.sleep(delayMs, options.signal);
      if (options.signal?.aborted) throw options.signal.reason;
    }
  }
}
