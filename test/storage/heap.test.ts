import { describe, expect, it } from "vitest";
import { collectGarbage } from "../../src/storage/heap.js";

describe("collectGarbage", () => {
  it("frees a dropped listing's worth of strings right away", () => {
    let listing: string[] | undefined = Array.from({ length: 300_000 }, (_, i) => `servertasks-${i}_${"X".repeat(20)}.txt`);
    const held = process.memoryUsage().heapUsed;
    expect(listing.length).toBe(300_000);
    listing = undefined;
    collectGarbage();
    // ~20 MB of names: a collection that did not happen would leave them counted.
    expect(held - process.memoryUsage().heapUsed).toBeGreaterThan(10 * 2 ** 20);
  });
});
