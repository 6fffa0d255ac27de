import { describe, expect, it } from "vitest";
import { realClock } from "../../src/shared/clock.js";
import { backoffDelay, retry, RetryWindow, withinRetryWindow, type Backoff } from "../../src/shared/retry.js";
import { fakeClock, seededRandom } from "../helpers/fake-clock.js";

class Transient extends Error {}
const transient = (e: unknown) => e instanceof Transient;
const doubling: Backoff = { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0 };

/** fn that fails with `errors` in turn, then answers "ok"; counts its calls. */
function failing(...errors: Error[]) {
  const calls = { n: 0 };
  const fn = async () => {
    calls.n++;
    const e = errors.shift();
    if (e) throw e;
    return "ok";
  };
  return { fn, calls };
}

describe("retry", () => {
  it("retries a retryable error until it succeeds, sleeping the doubling backoff between attempts", async () => {
    const clock = fakeClock();
    const { fn, calls } = failing(new Transient(), new Transient(), new Transient());
    const retries: number[] = [];
    const onRetry = (r: { attempt: number }) => void retries.push(r.attempt);
    await expect(retry(fn, { attempts: 5, backoff: doubling, isRetryable: transient, clock, onRetry })).resolves.toBe("ok");
    expect(calls.n).toBe(4);
    expect(clock.slept).toEqual([100, 200, 400]);
    expect(retries).toEqual([1, 2, 3]);
  });

  it("gives up after the attempts with the last error, and caps the delay at maxMs", async () => {
    const clock = fakeClock();
    const last = new Transient("last");
    const { fn, calls } = failing(...Array.from({ length: 5 }, () => new Transient()), last);
    await expect(retry(fn, { attempts: 6, backoff: doubling, isRetryable: transient, clock })).rejects.toBe(last);
    expect(calls.n).toBe(6);
    expect(clock.slept).toEqual([100, 200, 400, 800, 1_000]);
  });

  it("a non-retryable error passes straight through without a sleep", async () => {
    const clock = fakeClock();
    const fatal = new Error("access denied");
    const { fn, calls } = failing(fatal);
    await expect(retry(fn, { attempts: 5, backoff: doubling, isRetryable: transient, clock })).rejects.toBe(fatal);
    expect(calls.n).toBe(1);
    expect(clock.slept).toEqual([]);
  });

  it("jitter keeps every delay within ±jitter of the base, and a seeded random gives the same delays", async () => {
    const jittery: Backoff = { initialMs: 500, maxMs: 8_000, factor: 2, jitter: 0.25 };
    const delays = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 200 }, (_, i) => [i % 5, backoffDelay(jittery, (i % 5) + 1, random)] as const);
    };
    for (const [n, ms] of delays(42)) {
      const base = Math.min(8_000, 500 * 2 ** n);
      expect(ms).toBeGreaterThanOrEqual(base * 0.75);
      expect(ms).toBeLessThanOrEqual(base * 1.25);
    }
    expect(new Set(delays(42).map(([, ms]) => ms)).size).toBeGreaterThan(100);
    expect(delays(42)).toEqual(delays(42));
  });

  it("an abort during a backoff sleep rejects at once with the abort reason and starts no further attempt", async () => {
    const stop = new AbortController();
    const reason = new Error("Ctrl-C");
    const { fn, calls } = failing(new Transient(), new Transient());
    const started = Date.now();
    const hour = { ...doubling, initialMs: 3_600_000, maxMs: 3_600_000 };
    const run = retry(fn, { attempts: 3, backoff: hour, isRetryable: transient, signal: stop.signal, clock: realClock });
    setTimeout(() => stop.abort(reason), 20);
    await expect(run).rejects.toBe(reason);
    expect(calls.n).toBe(1);
    // A sleep not cut short would take an hour (the test's timeout fails it long before).
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it("an error thrown after the abort is passed on as it is, not retried", async () => {
    const stop = new AbortController();
    const clock = fakeClock();
    const err = new Transient("interrupted mid-request");
    const fn = async () => {
      stop.abort();
      throw err;
    };
    await expect(retry(fn, { attempts: 3, backoff: doubling, isRetryable: transient, signal: stop.signal, clock })).rejects.toBe(err);
    expect(clock.slept).toEqual([]);
  });

  it("a deadline ends the retries before a sleep would pass it, whatever attempts are left", async () => {
    const clock = fakeClock();
    const last = new Transient("last");
    const { fn, calls } = failing(new Transient(), new Transient(), new Transient(), last);
    // 100 + 200 = 300 fits in 500; the next sleep (400) would end at 700.
    const options = { attempts: 10, deadlineMs: 500, backoff: doubling, isRetryable: transient, clock };
    await expect(retry(fn, options)).rejects.toBeInstanceOf(Transient);
    expect(clock.slept).toEqual([100, 200]);
    expect(calls.n).toBe(3);
  });

  it("a deadline alone retries until it is spent", async () => {
    const clock = fakeClock();
    const fn = async () => {
      clock.advance(50);
      throw new Transient();
    };
    await expect(retry(fn, { deadlineMs: 2_000, backoff: doubling, isRetryable: transient, clock })).rejects.toBeInstanceOf(Transient);
    expect(clock.slept).toEqual([100, 200, 400, 800]);
  });

  it("inside a step's window, inner and outer retries together never sleep past the window (budgets do not multiply)", async () => {
    const clock = fakeClock();
    const inner = { attempts: 4, backoff: { initialMs: 500, maxMs: 8_000, factor: 2, jitter: 0 }, isRetryable: transient, clock };
    const outer = { attempts: 3, backoff: { initialMs: 1_000, maxMs: 30_000, factor: 2, jitter: 0 }, isRetryable: transient, clock };
    let requests = 0;
    const request = () =>
      retry(async () => {
        requests++;
        throw new Transient("502");
      }, inner);
    const started = clock.now();
    await expect(withinRetryWindow(new RetryWindow(3_000), () => retry(request, outer))).rejects.toBeInstanceOf(Transient);
    // Alone the budgets multiply: 12 requests and 13.5 s of sleeps; together they stop at the window (3 s).
    expect(clock.now() - started).toBeLessThanOrEqual(3_000);
    expect(clock.slept).toEqual([500, 1_000, 1_000, 500]);
    expect(requests).toBe(5);
  });

  it("the window closes when a retried call succeeds, so a later blip gets the whole window again", async () => {
    const clock = fakeClock();
    const window = new RetryWindow(1_000);
    const options = { attempts: 5, backoff: doubling, isRetryable: transient, clock };
    await withinRetryWindow(window, async () => {
      await expect(retry(failing(new Transient(), new Transient()).fn, options)).resolves.toBe("ok");
      clock.advance(10_000);
      await expect(retry(failing(new Transient(), new Transient(), new Transient()).fn, options)).resolves.toBe("ok");
    });
    expect(clock.slept).toEqual([100, 200, 100, 200, 400]);
  });
});
