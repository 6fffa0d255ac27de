import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { estimateSeconds, measureSample, preflightTarget } from "../../src/storage/index.js";
import { faultyOps, tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

describe("preflight of a target", () => {
  it("passes with room to spare and leaves no probe file behind", async () => {
    const target = dir("target");
    const result = await preflightTarget({ target, bytesNeeded: 1024 });
    expect(result.ok).toBe(true);
    expect(result.freeBytes).toBeGreaterThan(0);
    expect(readdirSync(target)).toEqual([]);
  });

  it("for a target that does not exist yet, checks its nearest existing parent", async () => {
    const parent = dir("parent");
    const result = await preflightTarget({ target: path.join(parent, "TaskLogs", "deeper"), bytesNeeded: 1, probe: false });
    expect(result.checkedPath).toBe(parent);
    expect(existsSync(path.join(parent, "TaskLogs"))).toBe(false);
  });

  it("reports too little space with the sizes and the margin", async () => {
    const target = dir("target");
    const result = await preflightTarget({ target, bytesNeeded: 10 * 1024 ** 3, ops: faultyOps({ statfsFree: 5 * 1024 ** 3 }) });
    expect(result.ok).toBe(false);
    expect(result.marginBytes).toBe(Math.ceil(10 * 1024 ** 3 * 0.05));
    expect(result.problems[0]!.message).toContain("5.00 GiB free, 10.00 GiB to copy plus 0.50 GiB margin");
  });
});

describe("a measured sample for the window estimate", () => {
  it("copies a bounded sample into a scratch folder it removes, and extrapolates", async () => {
    const source = dir("source");
    for (let i = 0; i < 20; i++) writeFile(source, `servertasks-${i}_ABCDEFGHIJ.txt`, "x".repeat(10_000));
    const scratch = dir("scratch");
    const sample = await measureSample({ source, scratchDir: scratch, maxBytes: 50_000 });
    expect(sample.files).toBe(5);
    expect(sample.bytes).toBe(50_000);
    expect(sample.bytesPerSecond).toBeGreaterThan(0);
    expect(readdirSync(scratch)).toEqual([]);
    expect(estimateSeconds(sample, 10, 100_000)).toBeCloseTo(Math.max(100_000 / sample.bytesPerSecond, 10 / sample.filesPerSecond));
  });
});
