import type { Clock } from "../../src/shared/clock.js";

/** A clock whose sleeps return at once and move time forward by what was asked; `slept` records them. */
export interface FakeClock extends Clock {
  slept: number[];
  advance(ms: number): void;
}

export function fakeClock(start = 1_700_000_000_000): FakeClock {
  let t = start;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep(ms) {
      slept.push(ms);
      t += ms;
      return Promise.resolve();
    },
    advance(ms) {
      t += ms;
    },
    slept,
  };
}

/** A seeded random in [0, 1) (mulberry32), for jitter tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
