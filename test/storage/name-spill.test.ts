/**
 * The scratch file of a large folder's names (name-spill.ts) is written and read without a
 * synchronous call (issue 16: on the main thread every such call stops the listing): its writes
 * are handed over as buckets fill, in each bucket's order, with the memory they hold bounded.
 */
import fs, { cpSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { nodeFileOps, type FileOps } from "../../src/storage/file-ops.js";
import { foldedHash } from "../../src/storage/fold.js";
import { jobStream, type JobPart } from "../../src/storage/jobs.js";
import { BUCKETS, NameSpill, bucketOf, setPartLimits } from "../../src/storage/name-spill.js";
import { tempDirs } from "./helpers.js";

const dir = tempDirs();
let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
  vi.restoreAllMocks();
});

/** The engine's own FileOps, with every folder taken as one of unknown size (read in batches: the path a large folder takes). */
const batched: FileOps = { ...nodeFileOps, list: (at, options) => nodeFileOps.list(at, { ...options, folderSize: undefined }) };

/** Long names: over 16 KiB a bucket, so buckets are written while names are still added. */
function longName(i: number): string {
  return `servertasks-${i}_${"L".repeat(200)}.txt`;
}

describe("the scratch file of a folder's names", () => {
  it("is written, read and closed with no synchronous call while a spilled source and target are listed and planned", async () => {
    const n = 5000; // ~17 KiB of names a bucket
    const source = dir("source");
    for (let i = 0; i < n; i++) writeFileSync(path.join(source, longName(i)), `${i}\n`);
    const target = dir("target");
    cpSync(source, target, { recursive: true, preserveTimestamps: true });
    const scratch = dir("scratch");
    restore = setPartLimits({ folderNames: 100, partNames: 1000, scratchDir: scratch, runNames: 256 });

    // The calls name-spill.ts made before (on node:fs's default export, as it imports it), and every other *Sync.
    const calls: string[] = [];
    for (const key of Object.keys(fs) as (keyof typeof fs)[])
      if (key.endsWith("Sync") && typeof fs[key] === "function") {
        const original = fs[key] as (...args: unknown[]) => unknown;
        vi.spyOn(fs, key as "openSync").mockImplementation(((...args: unknown[]) => {
          calls.push(key);
          return original(...args);
        }) as typeof fs.openSync);
      }

    const parts: JobPart[] = [];
    let jobs = 0;
    for await (const chunk of jobStream({ ops: batched, source, target, trackPending: false, onPart: async (p) => void parts.push(p) }))
      for (const job of chunk) {
        if ("kind" in job) expect(job.kind, job.entry.name).not.toBe("new"); // the part's index found it there
        jobs++;
      }
    vi.restoreAllMocks();

    expect(jobs).toBe(n);
    expect(parts.length).toBeGreaterThan(3); // walked a part at a time, each part's target index read from its spill
    expect(calls).toEqual([]);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it("keeps each bucket's names in the order added across its writes, and bounds the bytes waiting to be written", async () => {
    const scratch = dir("scratch");
    restore = setPartLimits({ scratchDir: scratch, partNames: 10_000 });
    const spill = (await NameSpill.open())!;
    expect(spill).toBeDefined();
    const names = Array.from({ length: 20_000 }, (_, i) => longName(i));
    for (const name of names) spill.add(name, foldedHash(name));
    expect(spill.backlog).toBeGreaterThan(2 ** 20); // ~4 MiB handed over at once, and no call waited
    await spill.settled();
    expect(spill.backlog).toBeLessThanOrEqual(256 * 1024);
    await spill.finish();
    expect(spill.broken).toBe(false);
    expect(spill.backlog).toBe(0);

    const read: string[] = [];
    for (const { lo, hi } of spill.parts()) {
      const part = await spill.read(lo, hi);
      read.push(...part.names(0, part.length));
    }
    const byBucket: string[][] = Array.from({ length: BUCKETS }, () => []);
    for (const name of names) byBucket[bucketOf(foldedHash(name))]!.push(name);
    expect(read).toEqual(byBucket.flat());

    await Promise.all([spill.close(), spill.close()]); // twice is once
    await spill.close();
    await expect(spill.read(0, BUCKETS)).rejects.toThrow(/closed/);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it("is broken when a write fails (the temp folder full), the failure seen by finish; and closes", async () => {
    const scratch = dir("scratch");
    restore = setPartLimits({ scratchDir: scratch });
    const probe = await fs.promises.open(path.join(scratch, "probe"), "w");
    const handle = Object.getPrototypeOf(probe) as Pick<typeof probe, "write" | "writev">;
    await probe.close();
    fs.rmSync(path.join(scratch, "probe"));
    let writes = 0;
    const full = (): Promise<never> => (
      writes++,
      Promise.reject(Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" }))
    );
    vi.spyOn(handle, "write").mockImplementation(full);
    vi.spyOn(handle, "writev").mockImplementation(full);

    const spill = (await NameSpill.open())!;
    for (let i = 0; i < 5000; i++) spill.add(longName(i), foldedHash(longName(i)));
    expect(writes).toBeGreaterThan(0); // handed over while names were added
    expect(spill.broken).toBe(false); // not known yet: nothing waited for the write
    await spill.finish();
    expect(spill.broken).toBe(true);
    expect(spill.size).toBe(5000);
    await spill.close();
    expect(readdirSync(scratch)).toEqual([]);
  });

  it("is broken past the test limit of its bytes (scratchBytes), as a full temp folder", async () => {
    const scratch = dir("scratch");
    restore = setPartLimits({ scratchDir: scratch, scratchBytes: 200_000 });
    const spill = (await NameSpill.open())!;
    for (let i = 0; i < 5000; i++) spill.add(longName(i), foldedHash(longName(i)));
    await spill.finish();
    expect(spill.broken).toBe(true);
    await spill.close();
    expect(readdirSync(scratch)).toEqual([]);
  });
});
