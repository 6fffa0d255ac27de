/**
 * The scratch file of a large folder's names (name-spill.ts) is written and read without a
 * synchronous call (issue 16: on the main thread every such call stops the listing): its writes
 * are handed over as buckets fill, in each bucket's order, with the memory they hold bounded. The
 * first open in a folder sweeps it of the scratch files of processes that are gone, and only those.
 */
import { spawn, spawnSync } from "node:child_process";
import fs, { cpSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { nodeFileOps, type FileOps } from "../../src/storage/file-ops.js";
import { foldedHash } from "../../src/storage/fold.js";
import { jobStream, type JobPart } from "../../src/storage/jobs.js";
import { BUCKETS, NameSpill, bucketOf, scratchSweep, setPartLimits } from "../../src/storage/name-spill.js";
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

/** The engine as built: a child process opens its scratch file there (as partitioned-kill.test.ts runs the CLI). */
const builtSpill = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/storage/name-spill.js")).href;

/** A pid no process has now: a child's that has exited (a pid reused that soon would only leave its file). */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ["-e", ""]).pid;
  expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
  return pid;
}

describe("the sweep of a dead process's scratch files", () => {
  it("removes, at the first open in a folder, only the scratch files whose process is gone", async () => {
    const scratch = dir("scratch");
    const dead = deadPid();
    const hex = "0123456789ab";
    const gone = `octoha-names-${dead}-${hex}.tmp`;
    const left = [
      // Another process that runs (the parent of this test's worker): another octoha's file is never touched.
      `octoha-names-${process.ppid}-${hex}.tmp`,
      // This process's, not open: the sweep cannot tell which of ours are open, and leaves them all.
      `octoha-names-${process.pid}-${hex}.tmp`,
      // Not exactly our names, though they hold a dead pid.
      "octoha-names-x.tmp",
      "other.tmp",
      `octoha-names-${dead}-${hex}.tmp.keep`,
      `octoha-names-${dead}-${hex}0.tmp`,
      `octoha-names-${dead}-${hex.toUpperCase()}.tmp`,
      `octoha-names-${dead}.tmp`,
      // A pid process.kill refuses (past 2^31 - 1): its refusal is no proof that a process is gone.
      `octoha-names-2147483648-${hex}.tmp`,
      `x-octoha-names-${dead}-${hex}.tmp`,
    ];
    for (const name of [gone, ...left]) writeFileSync(path.join(scratch, name), "names\n");
    mkdirSync(path.join(scratch, `octoha-names-${dead}-ba9876543210.tmp`)); // a folder: unlink leaves it, and the error is not ours
    left.push(`octoha-names-${dead}-ba9876543210.tmp`);
    restore = setPartLimits({ scratchDir: scratch });

    const spill = (await NameSpill.open())!;
    expect(spill).toBeDefined();
    await scratchSweep(scratch);
    expect(readdirSync(scratch).sort()).toEqual([...left].sort());
    await spill.close();
    expect(readdirSync(scratch).sort()).toEqual([...left].sort());
  });

  it("removes the file a run killed on Windows left (kept while open there), not this run's open one", async () => {
    const scratch = dir("scratch");
    const script = [
      `import { NameSpill, setPartLimits } from ${JSON.stringify(builtSpill)};`,
      `setPartLimits({ scratchDir: ${JSON.stringify(scratch)} });`,
      "const spill = await NameSpill.open(false);",
      `spill.add("servertasks-1.txt", 1);`,
      "await spill.finish();",
      `process.stdout.write("open\\n");`,
      "setInterval(() => undefined, 1000);",
    ].join("\n");
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("open") && resolve());
      child.on("exit", (code) => reject(new Error(`the child exited (${String(code)}) before its scratch file was open`)));
    });
    child.kill("SIGKILL");
    await exited;
    const killed = readdirSync(scratch);
    expect(killed).toEqual([expect.stringMatching(new RegExp(`^octoha-names-${child.pid}-[0-9a-f]{12}\\.tmp$`))]);

    restore = setPartLimits({ scratchDir: scratch });
    const spill = (await NameSpill.open(false))!;
    await scratchSweep(scratch);
    const ours = readdirSync(scratch);
    expect(ours).toEqual([expect.stringMatching(new RegExp(`^octoha-names-${process.pid}-[0-9a-f]{12}\\.tmp$`))]);
    await spill.close();
    expect(readdirSync(scratch)).toEqual([]);
  });

  it("sweeps a folder once, without holding up the open; close waits for it", async () => {
    const scratch = dir("scratch");
    restore = setPartLimits({ scratchDir: scratch });
    const readdir = fs.promises.readdir;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const swept: string[] = [];
    vi.spyOn(fs.promises, "readdir").mockImplementation((async (at: string) => {
      swept.push(at);
      await held;
      return readdir(at);
    }) as typeof fs.promises.readdir);

    const first = await Promise.race([NameSpill.open(), new Promise<"held up">((resolve) => setTimeout(() => resolve("held up"), 5000))]);
    expect(first).toBeInstanceOf(NameSpill); // opened while the sweep's readdir waits
    let closed = false;
    const closing = (first as NameSpill).close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(false); // the sweep is not left running after the spill
    release();
    await closing;

    writeFileSync(path.join(scratch, `octoha-names-${deadPid()}-0123456789ab.tmp`), "names\n");
    const second = (await NameSpill.open())!;
    await second.close();
    expect(swept).toEqual([scratch]); // the second open did not sweep again: the dead file stays until the next process
    expect(readdirSync(scratch)).toHaveLength(1);
  });
});
