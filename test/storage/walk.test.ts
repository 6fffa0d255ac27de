import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nodeFileOps, type FileOps } from "../../src/storage/file-ops.js";
import { walkTree, WALK_AHEAD, type WalkEntry } from "../../src/storage/walk.js";

/** Folders d00/ .. dNN/, each with two files (every third also sub/s.log), and a root file. */
function makeTree(root: string, folders: number): void {
  fs.writeFileSync(path.join(root, "root.txt"), "r");
  for (let i = 0; i < folders; i++) {
    const dir = path.join(root, `d${String(i).padStart(2, "0")}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "1.log"), "1");
    fs.writeFileSync(path.join(dir, "2.log"), "22");
    if (i % 3 === 0) {
      fs.mkdirSync(path.join(dir, "sub"));
      fs.writeFileSync(path.join(dir, "sub", "s.log"), "s");
    }
  }
}

/** Every list() waits `ms` and counts how many listings are open at once; `failing` folders throw EIO. */
function overlappingOps(ms: number, failing: Set<string>): FileOps & { peak: () => number; inFlight: () => number } {
  let inFlight = 0;
  let peak = 0;
  return {
    ...nodeFileOps,
    peak: () => peak,
    inFlight: () => inFlight,
    list: async function* (dirPath, options) {
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        await sleep(ms);
        if (failing.has(path.basename(dirPath))) throw Object.assign(new Error(`EIO: ${dirPath}`), { code: "EIO" });
        yield* nodeFileOps.list(dirPath, options);
      } finally {
        inFlight--;
      }
    },
  };
}

async function collect(walk: AsyncGenerator<WalkEntry[]>): Promise<string[]> {
  const out: string[] = [];
  for await (const chunk of walk) for (const e of chunk) out.push(`${e.type}:${e.relPath}`);
  return out;
}

describe("walkTree lists folders ahead of the walk", () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "octoha-walk-"));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("yields the same entries in the same order as one listing after another, with listings overlapping", async () => {
    makeTree(root, 30);
    const ops = overlappingOps(5, new Set());
    const entries = await collect(walkTree(ops, root));
    // One folder after another, depth first, sub-folders in listing order (the order before WALK_AHEAD).
    const expected: string[] = ["file:root.txt"];
    const rootChunk: string[] = [];
    for (let i = 0; i < 30; i++) rootChunk.push(`dir:d${String(i).padStart(2, "0")}`);
    expected.push(...rootChunk);
    for (let i = 0; i < 30; i++) {
      const d = `d${String(i).padStart(2, "0")}`;
      expected.push(`file:${d}/1.log`, `file:${d}/2.log`);
      if (i % 3 === 0) expected.push(`dir:${d}/sub`, `file:${d}/sub/s.log`);
    }
    expect([...entries].sort()).toEqual([...expected].sort());
    // Order: a folder's own entries come out together, each sub-folder right after its parent's turn.
    const serial = await collect(walkTree(nodeFileOps, root));
    expect(entries).toEqual(serial);
    const dirs = entries.filter((e) => e.startsWith("dir:") || e.startsWith("file:d")).map((e) => e.slice(e.indexOf(":") + 1));
    const firstFileOf = (d: string): number => dirs.findIndex((e) => e.startsWith(`${d}/`) && !e.startsWith(`${d}/sub/`));
    for (let i = 1; i < 30; i++) {
      const prev = `d${String(i - 1).padStart(2, "0")}`;
      const cur = `d${String(i).padStart(2, "0")}`;
      expect(firstFileOf(prev)).toBeLessThan(firstFileOf(cur));
    }
    expect(ops.peak()).toBeGreaterThan(1);
    expect(ops.peak()).toBeLessThanOrEqual(WALK_AHEAD + 1);
  });

  it("an unreadable sub-folder is an error entry in its place and the walk carries on", async () => {
    makeTree(root, 6);
    const ops = overlappingOps(2, new Set(["d02", "sub"]));
    const entries = await collect(walkTree(ops, root));
    const serial = await collect(walkTree(overlappingOps(0, new Set(["d02", "sub"])), root));
    expect(entries).toEqual(serial);
    expect(entries).toContain("error:d02");
    expect(entries).toContain("error:d00/sub");
    expect(entries).not.toContain("file:d02/1.log");
    expect(entries).toContain("file:d05/2.log");
    expect(entries.indexOf("error:d02")).toBeGreaterThan(entries.indexOf("file:d01/2.log"));
    expect(entries.indexOf("error:d02")).toBeLessThan(entries.indexOf("file:d03/1.log"));
  });

  it("a walk stopped early leaves no listing running and no unhandled rejection", async () => {
    makeTree(root, 20);
    const ops = overlappingOps(3, new Set(["d05"]));
    const walk = walkTree(ops, root);
    await walk.next();
    await walk.next();
    await walk.return(undefined);
    await sleep(50);
    expect(ops.peak()).toBeGreaterThan(1);
    expect(ops.inFlight()).toBe(0);
  });
});
