import { describe, expect, it } from "vitest";
import { ConcurrencyClimber, runPool } from "../../src/storage/pool.js";

/**
 * Drives a climber on a simulated clock: files complete at `rateAt(limit)` per ms, for `ms`.
 * Returns the limits it went through.
 */
function climb(rateAt: (limit: number) => number, worthRaising = true, ms = 20_000, start = 16): number[] {
  let now = 0;
  const limit = { concurrency: start };
  const seen = [start];
  const climber = new ConcurrencyClimber(limit, {
    cap: 64,
    worthRaising: () => worthRaising,
    now: () => now,
    onChange: (l) => seen.push(l),
  });
  while (now < ms) {
    now += 1 / rateAt(limit.concurrency);
    climber.completed();
  }
  return seen;
}

describe("the small-file limit climbs while files/s grows (no --concurrency)", () => {
  it("on a share where every file in flight adds throughput, it rises from 16 to the cap and stays there", () => {
    const seen = climb((limit) => limit / 5); // 5 ms per file, overlapping freely
    expect(seen.slice(0, 4)).toEqual([16, 24, 36, 54]);
    expect(seen.at(-1)).toBe(64);
  });

  it("where throughput stops growing (a folder's lock, the share's threads), it goes back to the last limit that paid", () => {
    const seen = climb((limit) => Math.min(limit, 30) / 5);
    // 16 → 24 paid, 24 → 36 did not (30 is the ceiling: +25 %, kept), 36 → 54 bought nothing: back to 36.
    expect(seen.slice(0, 5)).toEqual([16, 24, 36, 54, 36]);
    expect(Math.max(...seen)).toBe(54);
    expect(seen.at(-1)).toBe(36);
  });

  it("a local disk (worthRaising false: microsecond round trips) keeps the starting limit", () => {
    expect(climb((limit) => limit / 5, false)).toEqual([16]);
  });

  it("a raise that buys nothing is undone at once", () => {
    const seen = climb(() => 3, true, 5_000);
    expect(seen.slice(0, 3)).toEqual([16, 24, 16]);
    expect(seen.at(-1)).toBe(16);
  });
});

describe("runPool with a fixed limit (--concurrency given)", () => {
  it("never has more small jobs in flight than the limit", async () => {
    let inFlight = 0;
    let peak = 0;
    const chunks = (async function* () {
      for (let c = 0; c < 10; c++) yield Array.from({ length: 20 }, () => ({ entry: { size: 10 } }));
    })();
    await runPool(chunks, { small: 5, large: 2, largeBytes: 1000 }, async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      inFlight--;
    });
    expect(peak).toBe(5);
  });
});
