/** The copy engine's per-file-operation retry: classified by behaviour, doubling backoff, abort ends it with the real error. */
import { describe, expect, it } from "vitest";
import { OctohaError } from "../../src/shared/errors.js";
import { classifyFsError, CopyAborted, withRetry } from "../../src/storage/copy-errors.js";
import { fakeClock } from "../helpers/fake-clock.js";

const errno = (code: string) => Object.assign(new Error(`${code}: simulated`), { code });
const classify = (e: unknown) => classifyFsError(e, { side: "target", path: "T:\\Octopus\\TaskLogs\\servertasks-1.log.txt" });

function failing(...errors: Error[]) {
  const calls = { n: 0 };
  const fn = async () => {
    calls.n++;
    const e = errors.shift();
    if (e) throw e;
    return "copied";
  };
  return { fn, calls };
}

describe("copy engine retry (withRetry)", () => {
  it("a transient EBUSY is retried with a 50 ms doubling backoff until it clears", async () => {
    const clock = fakeClock();
    const { fn, calls } = failing(errno("EBUSY"), errno("EBUSY"), errno("EIO"));
    await expect(withRetry(fn, classify, { clock })).resolves.toBe("copied");
    expect(calls.n).toBe(4);
    expect(clock.slept).toEqual([50, 100, 200]);
  });

  it("a transient error that outlasts the 5 attempts ends as COPY_TRANSIENT, still retryable", async () => {
    const clock = fakeClock();
    const { fn, calls } = failing(...Array.from({ length: 9 }, () => errno("EIO")));
    await expect(withRetry(fn, classify, { clock })).rejects.toMatchObject({ code: "COPY_TRANSIENT", behaviour: "retryable" });
    expect(calls.n).toBe(5);
    expect(clock.slept).toEqual([50, 100, 200, 400]);
  });

  it("EACCES is not retried, and CopyAborted passes through unclassified", async () => {
    const clock = fakeClock();
    const denied = failing(errno("EACCES"));
    await expect(withRetry(denied.fn, classify, { clock })).rejects.toMatchObject({ code: "COPY_ACCESS_DENIED" });
    expect(denied.calls.n).toBe(1);
    const aborted = failing(new CopyAborted());
    await expect(withRetry(aborted.fn, classify, { clock })).rejects.toBeInstanceOf(CopyAborted);
    expect(clock.slept).toEqual([]);
  });

  it("an abort during the backoff ends it at once with the classified error, not the abort reason", async () => {
    const stop = new AbortController();
    const clock = fakeClock();
    const sleep = clock.sleep;
    // Ctrl-C while the backoff sleeps (a real sleep ends early on abort: test/shared/retry.test.ts).
    clock.sleep = (ms, signal) => {
      stop.abort();
      return sleep(ms, signal);
    };
    const { fn, calls } = failing(errno("EBUSY"), errno("EBUSY"));
    const error = await withRetry(fn, classify, { signal: stop.signal, clock }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OctohaError);
    expect(error).toMatchObject({ code: "COPY_TRANSIENT" });
    expect(calls.n).toBe(1);
    expect(clock.slept).toEqual([50]);
  });
});
