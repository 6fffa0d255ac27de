import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyTree, estimateSeconds, measureSample, preflightTarget } from "../../src/storage/index.js";
import { nodeFileOps, type FileOps } from "../../src/storage/file-ops.js";
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
    expect(result.problems[0]!.message).toContain("5.0 GiB free, 10.0 GiB to copy plus 512.0 MiB margin");
  });

  it("says small sizes in MiB or KiB, not as 0.00 GiB", async () => {
    const target = dir("target");
    const result = await preflightTarget({ target, bytesNeeded: 5 * 1024 ** 2, ops: faultyOps({ statfsFree: 2 * 1024 ** 2 }) });
    expect(result.problems[0]!.message).toContain(
      `Not enough free space on '${target}': 2.0 MiB free, 5.0 MiB to copy plus 64.0 MiB margin`,
    );
    const tiny = await preflightTarget({ target, bytesNeeded: 3000, marginBytes: 512, ops: faultyOps({ statfsFree: 1536 }) });
    expect(tiny.problems[0]!.message).toContain("1.5 KiB free, 2.9 KiB to copy plus 512 B margin");
  });
});

describe("a copy refused before its first byte", () => {
  it("leaves no target folder it made, and no lock: nothing was written", async () => {
    const source = dir("source");
    writeFile(source, "TaskLogs/servertasks-1_ABCDEFGHIJ.txt", "x".repeat(10_000));
    const parent = dir("share");
    const target = path.join(parent, "OctopusShared");
    const refused = await copyTree({ source, target, sourceNode: "OCTO1", ops: faultyOps({ statfsFree: 1024 }) }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ message: expect.stringContaining("free") });
    expect(readdirSync(parent)).toEqual([]);
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

  it("times the protocol a copy uses for a free name: a durable intent, then the final name created exclusively, no rename", async () => {
    const source = dir("source");
    for (let i = 0; i < 6; i++) writeFile(source, `servertasks-${i}_ABCDEFGHIJ.txt`, "y".repeat(1000));
    const calls: string[] = [];
    const ops: FileOps = {
      ...nodeFileOps,
      open: async (p, mode) => (calls.push(`open ${mode} ${path.basename(p)}`), nodeFileOps.open(p, mode)),
      rename: async (from, to) => (calls.push(`rename ${path.basename(to)}`), nodeFileOps.rename(from, to)),
    };
    const sample = await measureSample({ source, scratchDir: dir("scratch"), ops });
    expect(sample.files).toBe(6);
    expect(calls.filter((c) => c.startsWith("rename"))).toEqual([]);
    // Was: six temp names, then renamed; now each file's own name, exclusively, beside one appended manifest.
    expect(calls.filter((c) => c.startsWith("open wx")).sort()).toEqual(["0", "1", "2", "3", "4", "5"].map((n) => `open wx ${n}`));
    expect(calls.filter((c) => c.startsWith("open a"))).toEqual(["open a manifest.jsonl"]);
  });
});
