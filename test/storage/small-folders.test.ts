import { lstatSync, mkdirSync, readdirSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { nodeFileOps, smallFolderLister, type ListOrder, type StatDirEntry } from "../../src/storage/file-ops.js";
import { StatThreadGone, listOnThread } from "../../src/storage/stat-thread.js";
import { folderReads, tempDirs, threadFacts } from "./helpers.js";

const dir = tempDirs();
afterEach(() => vi.restoreAllMocks());

/** A task's folder: a few files (case variants among them on request), a sub-folder and a symlink. */
function taskFolder(label: string, variants = false): string {
  const root = dir(label);
  for (const name of ["servertasks-1_A.txt", "b.log", "Zeta.txt", "é.txt", "😀.txt", "ǅ.txt"]) writeFileSync(path.join(root, name), name);
  if (variants) writeFileSync(path.join(root, "ZETA.txt"), "variant");
  mkdirSync(path.join(root, "Sub"));
  symlinkSync("b.log", path.join(root, "link"));
  return root;
}

/** What the batched listing (no folder size: read through opendir, lstat through libuv) gives. */
async function batched(root: string, order: ListOrder): Promise<StatDirEntry[]> {
  const out: StatDirEntry[] = [];
  for await (const chunk of nodeFileOps.list(root, { order })) out.push(...chunk);
  return out;
}

async function all(listing: AsyncIterable<StatDirEntry[]>): Promise<StatDirEntry[]> {
  const out: StatDirEntry[] = [];
  for await (const chunk of listing) out.push(...chunk);
  return out;
}

/**
 * listOnThread with the real facts and a chosen time per call; `calls` records each folder asked
 * for. The names come in reverse (libuv's readdir sorts them; a readdir need not).
 */
function fakeThread(msPerName: (call: number, dirPath: string) => number, calls: string[]): typeof listOnThread {
  return async (dirPath, prefix, read) => {
    calls.push(dirPath);
    const names = readdirSync(dirPath).reverse();
    const facts = threadFacts(prefix, names);
    await Promise.resolve();
    return { value: read(names, facts), msPerName: msPerName(calls.length, dirPath) };
  };
}

/** Folders read through libuv during fn (fs.readdir: a small folder the thread does not read). */
async function libuvReads(fn: () => Promise<unknown>): Promise<string[]> {
  return (await folderReads(fn)).whole;
}

describe("a small folder, read whole with its lstats on the lstat thread", () => {
  it.each<ListOrder>(["sorted", "any"])("gives what the batched listing gives (%s order): order, facts, case variants", async (order) => {
    for (const variants of [false, true]) {
      const root = taskFolder(`small-${order}`, variants);
      const size = lstatSync(root).size;
      // On the thread or (were it slow on this busy machine) through libuv: the same entries either
      // way. Which one is chosen is tested below, with a thread whose speed the test sets.
      const whole = await all(nodeFileOps.list(root, { order, folderSize: size }));
      const expected = await batched(root, order);
      if (order === "sorted") {
        expect(whole).toEqual(expected);
        expect(whole.filter((e) => e.caseUnique === false).map((e) => e.name)).toEqual(variants ? ["ZETA.txt", "Zeta.txt"] : []);
      } else expect(whole.sort((a, b) => (a.name < b.name ? -1 : 1))).toEqual(expected.sort((a, b) => (a.name < b.name ? -1 : 1)));
    }
  });

  it("leaves out a name that vanished; fails with the code and path of a folder that is gone or became a file", async () => {
    const root = taskFolder("vanish");
    unlinkSync(path.join(root, "b.log")); // the symlink to it stays, dangling: still listed
    const names = (await all(nodeFileOps.list(root, { folderSize: 4096 }))).map((e) => e.name);
    expect(names).not.toContain("b.log");
    expect(names).toContain("link");
    for (const [where, code] of [
      [path.join(root, "missing"), "ENOENT"],
      [path.join(root, "Zeta.txt"), "ENOTDIR"],
    ] as const) {
      const listing = nodeFileOps.list(where, { folderSize: 4096 })[Symbol.asyncIterator]();
      await expect(listing.next()).rejects.toMatchObject({ code, path: where });
    }
  });

  it("holds more names than the shared buffer takes (their facts come in a buffer of their own)", async () => {
    const root = dir("wide");
    for (let i = 0; i < 700; i++) writeFileSync(path.join(root, `f${i}`), "x".repeat(i % 13));
    const whole = await all(nodeFileOps.list(root, { folderSize: lstatSync(root).size }));
    expect(whole).toEqual(await batched(root, "sorted"));
  });
});

describe("smallFolderLister: the thread while it is fast, libuv while it is slow", () => {
  it("keeps small folders on a fast thread", async () => {
    const roots = [taskFolder("f1"), taskFolder("f2"), taskFolder("f3")];
    const calls: string[] = [];
    const list = smallFolderLister(fakeThread(() => 0.003, calls));
    const reads = await libuvReads(async () => {
      for (const root of roots) expect(await all(list(root, "sorted"))).toEqual(await batched(root, "sorted"));
    });
    expect(calls).toEqual(roots);
    expect(reads).toEqual([]);
  });

  it("sends folders to libuv after two slow ones in a row (a share, a cold disk), and tries the thread again one folder in 64", async () => {
    const roots = Array.from({ length: 4 }, (_, i) => taskFolder(`s${i}`));
    const calls: string[] = [];
    // 1 slow, 2 fast (a slow folder alone is no verdict), 3 and 4 slow: then libuv.
    const list = smallFolderLister(fakeThread((call) => (call === 2 ? 0.003 : 0.6), calls));
    const folders = Array.from({ length: 4 + 64 }, (_, i) => roots[i % roots.length]!);
    const reads = await libuvReads(async () => {
      for (const root of folders) expect(await all(list(root, "sorted"))).toEqual(await batched(root, "sorted"));
    });
    expect(calls).toHaveLength(5); // four, then the 64th folder since the switch
    expect(calls[4]).toBe(folders[4 + 63]);
    expect(reads.filter((p) => folders.includes(p))).toHaveLength(63);
  });

  it("learns per tree: a slow target's folders go to libuv while the local source's, listed between them, stay on the thread", async () => {
    const source = Array.from({ length: 6 }, (_, i) => taskFolder(`src${i}`));
    const target = Array.from({ length: 6 }, (_, i) => taskFolder(`dst${i}`));
    const calls: string[] = [];
    const list = smallFolderLister(fakeThread((_, dirPath) => (target.includes(dirPath) ? 0.6 : 0.003), calls));
    const reads = await libuvReads(async () => {
      for (let i = 0; i < 6; i++) {
        expect(await all(list(source[i]!, "sorted", "/src"))).toEqual(await batched(source[i]!, "sorted"));
        expect(await all(list(target[i]!, "any", "/dst"))).toHaveLength(8);
      }
    });
    expect(calls.filter((p) => source.includes(p))).toEqual(source);
    expect(calls.filter((p) => target.includes(p))).toEqual(target.slice(0, 2));
    expect(reads).toEqual(target.slice(2));
  });

  it("lists through libuv, losing no entry, when the thread is gone", async () => {
    const root = taskFolder("gone");
    let calls = 0;
    const gone: typeof listOnThread = () => {
      calls++;
      return Promise.reject(new StatThreadGone(new Error("exit code 1")));
    };
    const list = smallFolderLister(gone);
    expect(await all(list(root, "sorted"))).toEqual(await batched(root, "sorted"));
    expect(await all(list(root, "any"))).toHaveLength(8);
    expect(calls).toBe(1);
  });
});
