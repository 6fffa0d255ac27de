import { mkdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { WHOLE_FOLDER_BYTES, nodeFileOps, type FileOps, type ListOptions, type ListOrder } from "../../src/storage/file-ops.js";
import { walkTree } from "../../src/storage/walk.js";
import { jobStream } from "../../src/storage/jobs.js";
import { folderReads, tempDirs } from "./helpers.js";

const dir = tempDirs();

afterEach(() => vi.restoreAllMocks());

async function listed(root: string, options: ListOptions): Promise<string[]> {
  const names: string[] = [];
  for await (const chunk of nodeFileOps.list(root, options)) for (const e of chunk) names.push(`${e.name}:${e.size}`);
  return names;
}

describe("a small folder is read whole (ListOptions.folderSize)", () => {
  it.each<ListOrder>(["sorted", "any"])("gives the same entries either way (%s order), in the same order when sorted", async (order) => {
    const root = dir("small");
    for (let i = 0; i < 600; i++) writeFileSync(path.join(root, `ServerTasks-${i}_X.txt`), "x".repeat(i % 5));
    mkdirSync(path.join(root, "Sub"));
    const size = statSync(root).size;
    expect(size).toBeLessThanOrEqual(WHOLE_FOLDER_BYTES);
    const reads = await folderReads(async () => {
      const whole = await listed(root, { order, folderSize: size });
      const batched = await listed(root, { order });
      expect(whole).toHaveLength(601);
      if (order === "sorted") expect(whole).toEqual(batched);
      else expect([...whole].sort()).toEqual([...batched].sort());
    });
    // The small folder is read whole: on the lstat thread, or with one fs.readdir where the thread is
    // slow (small-folders.test.ts); never through a Dir.
    expect(reads.batched).toEqual([root]);
    expect(reads.whole.filter((p) => p !== root)).toEqual([]);
  });

  it("reads in batches when the size says nothing (0, as an SMB mount reports); more than WHOLE_FOLDER_BYTES, on the lstat thread", async () => {
    const root = dir("big");
    writeFileSync(path.join(root, "a.txt"), "a");
    const reads = await folderReads(async () => {
      expect(await listed(root, { folderSize: 0 })).toEqual(["a.txt:1"]);
      expect(await listed(root, { folderSize: WHOLE_FOLDER_BYTES + 1 })).toEqual(["a.txt:1"]);
    });
    expect(reads).toEqual({ whole: [], batched: [root] });
  });

  it("a folder that is gone or became a file fails on the first chunk, with its code and path, however it is read", async () => {
    const root = dir("gone");
    writeFileSync(path.join(root, "file"), "x");
    for (const [where, code] of [
      [path.join(root, "missing"), "ENOENT"],
      [path.join(root, "file"), "ENOTDIR"],
    ] as const) {
      // 4096: read whole; past WHOLE_FOLDER_BYTES: in batches, a sorted listing's on the lstat thread.
      for (const folderSize of [4096, WHOLE_FOLDER_BYTES + 1])
        for (const order of ["sorted", "any"] as const) {
          const listing = nodeFileOps.list(where, { order, folderSize })[Symbol.asyncIterator]();
          await expect(listing.next()).rejects.toMatchObject({ code, path: where });
        }
    }
  });
});

/** nodeFileOps, recording the folderSize and the tree each listing was given. */
function recordingOps(): FileOps & { sizes: Map<string, number | undefined>; trees: Set<string | undefined> } {
  const sizes = new Map<string, number | undefined>();
  const trees = new Set<string | undefined>();
  return {
    ...nodeFileOps,
    sizes,
    trees,
    list: (p, options) => {
      sizes.set(p, options?.folderSize);
      trees.add(options?.tree);
      return nodeFileOps.list(p, options);
    },
  };
}

describe("the walk and the target index pass each folder's own size and its tree to its listing", () => {
  it("the source's folders (the root's from its stat) and the target's (from the parent's listing)", async () => {
    const source = dir("src");
    const target = dir("dst");
    for (const root of [source, target]) {
      mkdirSync(path.join(root, "TaskLogs", "Spaces-1"), { recursive: true });
      for (let i = 0; i < 200; i++) writeFileSync(path.join(root, "TaskLogs", `servertasks-${i}_ABCDEFGHIJKLMNOP.txt`), "log");
      writeFileSync(path.join(root, "TaskLogs", "Spaces-1", "a.txt"), "a");
    }
    const ops = recordingOps();
    for await (const chunk of walkTree(ops, source)) void chunk;
    for (const rel of ["", "TaskLogs", "TaskLogs/Spaces-1"]) {
      const abs = path.join(source, rel);
      expect(ops.sizes.get(abs)).toBe(statSync(abs).size);
    }
    expect([...ops.trees]).toEqual([source]);

    const jobs = recordingOps();
    for await (const chunk of jobStream({ ops: jobs, source, target, trackPending: false })) void chunk;
    for (const rel of ["TaskLogs", "TaskLogs/Spaces-1"]) {
      const abs = path.join(target, rel);
      expect(jobs.sizes.get(abs)).toBe(statSync(abs).size);
    }
    expect([...jobs.trees].sort()).toEqual([source, target].sort());
    // The target root has no parent listing: read in batches.
    expect(jobs.sizes.has(target)).toBe(true);
    expect(jobs.sizes.get(target)).toBeUndefined();
  });
});
