import { spawnSync } from "node:child_process";
import { lstatSync, mkdirSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { adaptiveLstat, nodeFileOps, type StatDirEntry } from "../../src/storage/file-ops.js";
import {
  FACTS_PER_NAME,
  KIND_DIR,
  KIND_FILE,
  MISSING,
  SpareCore,
  StatThreadGone,
  lstatOnThread,
  lstatWayOnThread,
} from "../../src/storage/stat-thread.js";
import { tempDirs, threadFacts } from "./helpers.js";

const dir = tempDirs();
const CHUNK = 256;

/** A folder of `count` files of different sizes, a sub-folder and a symlink among them. */
function folderOf(count: number): { root: string; names: string[] } {
  const root = dir("many");
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `servertasks-${i}_A.txt`;
    writeFileSync(path.join(root, name), "x".repeat(i % 97));
    names.push(name);
  }
  mkdirSync(path.join(root, "ServerTasks-1"));
  symlinkSync("servertasks-0_A.txt", path.join(root, "link.txt"));
  return { root, names: [...names, "ServerTasks-1", "link.txt"] };
}

/** What lstat says of each name, in the listing's shape. */
function expected(root: string, names: string[]): StatDirEntry[] {
  return names.map((name) => {
    const s = lstatSync(path.join(root, name));
    return { name, isFile: s.isFile(), isDirectory: s.isDirectory(), size: s.size, mtimeMs: s.mtimeMs, atimeMs: s.atimeMs };
  });
}

/** The lstat thread as the test wants it: the real facts, chosen times (the trial's, then each chunk's), a record of each call. */
function fakeThread(
  trialMs: number,
  calls: number[],
  chunkMs: (call: number) => number = () => trialMs,
  spreads: boolean[] = [],
): typeof lstatOnThread {
  return async (prefix, names, read, timed, spread) => {
    calls.push(names.length);
    spreads.push(spread === true);
    const facts = threadFacts(prefix, names);
    await Promise.resolve();
    return { value: read(facts), msPerName: timed ? trialMs : chunkMs(calls.length) };
  };
}

async function chunked(statEach: ReturnType<typeof adaptiveLstat>, root: string, names: string[]): Promise<StatDirEntry[]> {
  const out: StatDirEntry[] = [];
  for (let i = 0; i < names.length; i += CHUNK) out.push(...(await statEach(root + path.sep, names.slice(i, i + CHUNK))));
  return out;
}

describe("the lstat thread", () => {
  it("gives lstat's facts for files, a folder and a symlink, and leaves out a name that vanished", async () => {
    const { root, names } = folderOf(40);
    unlinkSync(path.join(root, names[3]!));
    const { value: facts, msPerName } = await lstatOnThread(root + path.sep, names, (f) => f.slice(0, names.length * FACTS_PER_NAME), true);
    expect(msPerName).toBeGreaterThanOrEqual(0);
    expect(facts[3 * FACTS_PER_NAME]).toBe(MISSING);
    const kinds = names.map((_, i) => facts[i * FACTS_PER_NAME]);
    expect(kinds.at(-2)).toBe(KIND_DIR);
    expect(kinds.at(-1)).toBe(0); // a symlink is neither
    const s = lstatSync(path.join(root, names[7]!));
    expect([...facts.subarray(7 * FACTS_PER_NAME, 8 * FACTS_PER_NAME)]).toEqual([KIND_FILE, s.size, s.mtimeMs, s.atimeMs]);
  });

  it("makes its lstats through node:fs's binding once they match lstatSync, and says so", async () => {
    const { root, names } = folderOf(40);
    const { value: facts } = await lstatOnThread(root + path.sep, names, (f) => f.slice(0, names.length * FACTS_PER_NAME));
    expect(await lstatWayOnThread()).toBe("binding"); // Node 20, this runtime
    const want = expected(root, names);
    names.forEach((_, i) => {
      const e = want[i]!;
      const kind = e.isFile ? KIND_FILE : e.isDirectory ? KIND_DIR : 0;
      expect([...facts.subarray(i * FACTS_PER_NAME, (i + 1) * FACTS_PER_NAME)]).toEqual([kind, e.size, e.mtimeMs, e.atimeMs]);
    });
  });

  it("under --pending-deprecation (process.binding would warn) uses lstatSync: nothing on stderr, the same facts", () => {
    const { root } = folderOf(3 * CHUNK);
    const built = path.resolve(fileURLToPath(import.meta.url), "../../../dist/storage");
    const script = [
      `const { nodeFileOps } = await import(${JSON.stringify(path.join(built, "file-ops.js"))});`,
      `const { lstatWayOnThread } = await import(${JSON.stringify(path.join(built, "stat-thread.js"))});`,
      `const out = []; for await (const c of nodeFileOps.list(${JSON.stringify(root)})) out.push(...c);`,
      `console.log(JSON.stringify({ way: await lstatWayOnThread(), entries: out.map(({ caseUnique, ...e }) => e) }));`,
    ].join("\n");
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 20_000,
      env: { ...process.env, NODE_OPTIONS: "--pending-deprecation" },
    });
    expect(run.stderr).toBe("");
    const { way, entries } = JSON.parse(run.stdout) as { way: string; entries: StatDirEntry[] };
    expect(way).toBe("lstatSync");
    const sorted = entries.map((e) => e.name);
    expect(entries).toEqual(expected(root, sorted));
    expect(entries).toHaveLength(3 * CHUNK + 2);
  });

  it("fails with lstat's own error, its code and path (not a vanished file)", async () => {
    const { root } = folderOf(2);
    const under = path.join(root, "servertasks-0_A.txt") + path.sep; // a file used as a folder
    const failure = await lstatOnThread(under, ["x"], () => "read").catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "ENOTDIR", path: `${under}x` });
    expect(failure).not.toBeInstanceOf(StatThreadGone);
  });

  it("lists a large folder through nodeFileOps with the same facts as lstat, in the sorted order", async () => {
    const { root, names } = folderOf(3 * CHUNK + 17);
    const listed: StatDirEntry[] = [];
    for await (const chunk of nodeFileOps.list(root)) listed.push(...chunk);
    const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    // A sorted listing has read the whole folder, so it says which names have no case variant: all.
    expect(listed).toEqual(expected(root, sorted).map((e) => ({ ...e, caseUnique: true })));
    const unsorted: StatDirEntry[] = [];
    for await (const chunk of nodeFileOps.list(root, { order: "any" })) unsorted.push(...chunk);
    expect(unsorted.sort((a, b) => (a.name < b.name ? -1 : 1))).toEqual(expected(root, sorted));
  });

  it("does not keep the process alive once a listing is done (the built module, as the CLI runs it)", () => {
    const { root } = folderOf(3 * CHUNK);
    const fileOps = path.resolve(fileURLToPath(import.meta.url), "../../../dist/storage/file-ops.js");
    const threadOps = path.join(path.dirname(fileOps), "stat-thread.js");
    // The way asked for after the listing: "binding" says the thread served it (a thread that died
    // at its start, as under --input-type=module before, left the listing to libuv unseen).
    const script = `const { nodeFileOps } = await import(${JSON.stringify(fileOps)}); const { lstatWayOnThread } = await import(${JSON.stringify(threadOps)}); let n = 0; for await (const c of nodeFileOps.list(${JSON.stringify(root)})) n += c.length; console.log(n, await lstatWayOnThread());`;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 20_000 });
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe(`${3 * CHUNK + 2} binding`);
    expect(run.status).toBe(0);
  });
});

describe("adaptiveLstat (libuv's lstat or the thread, per folder)", () => {
  it("moves a fast folder to the thread after one trial, and gives the same entries", async () => {
    const { root, names } = folderOf(5 * CHUNK);
    const calls: number[] = [];
    const listed = await chunked(adaptiveLstat(fakeThread(0.002, calls)), root, names);
    expect(listed).toEqual(expected(root, names));
    expect(calls).toEqual([16, CHUNK, CHUNK, CHUNK, 2]); // the second chunk's trial, then every chunk after it
  });

  it("lets a fast folder's chunks go to a second thread when asked to spread them, never the trial", async () => {
    const { root, names } = folderOf(4 * CHUNK);
    const calls: number[] = [];
    const spreads: boolean[] = [];
    await chunked(adaptiveLstat(fakeThread(0.002, calls, undefined, spreads), true), root, names);
    expect(spreads).toEqual([false, true, true, true]); // the trial is timed on the first thread
    const unspread: boolean[] = [];
    await chunked(adaptiveLstat(fakeThread(0.002, [], undefined, unspread)), root, names);
    expect(unspread).toEqual([false, false, false, false]);
  });

  it("keeps a slow folder (a share's round trips) with libuv after the trial", async () => {
    const { root, names } = folderOf(5 * CHUNK);
    const calls: number[] = [];
    const listed = await chunked(adaptiveLstat(fakeThread(0.5, calls)), root, names);
    expect(listed).toEqual(expected(root, names));
    expect(calls).toEqual([16]);
  });

  it("sends a folder back to libuv when chunks on the thread turn slow (a cold disk past the trial's names), not for one slow chunk", async () => {
    const { root, names } = folderOf(9 * CHUNK);
    const calls: number[] = [];
    // Calls: 1 the trial, 2 fast, 3 slow (a busy machine), 4 fast, 5 and 6 slow (the disk): then libuv.
    const slowAt = new Set([3, 5, 6]);
    const listed = await chunked(adaptiveLstat(fakeThread(0.002, calls, (call) => (slowAt.has(call) ? 2 : 0.002))), root, names);
    expect(listed).toEqual(expected(root, names));
    expect(calls).toEqual([16, CHUNK, CHUNK, CHUNK, CHUNK, CHUNK]);
  });

  it("never tries the thread for a small folder", async () => {
    const { root, names } = folderOf(CHUNK + 10);
    const calls: number[] = [];
    expect(await chunked(adaptiveLstat(fakeThread(0.001, calls)), root, names)).toEqual(expected(root, names));
    expect(calls).toEqual([]);
  });

  it("falls back to libuv, losing no entry, when the thread is gone", async () => {
    const { root, names } = folderOf(4 * CHUNK);
    let calls = 0;
    const gone: typeof lstatOnThread = () => {
      calls++;
      return Promise.reject(new StatThreadGone(new Error("exit code 1")));
    };
    expect(await chunked(adaptiveLstat(gone), root, names)).toEqual(expected(root, names));
    expect(calls).toBe(1);
  });
});

describe("SpareCore (when a second lstat thread pays)", () => {
  /** An event loop whose next `ms` milliseconds are busy for `busyShare` of them. */
  function fakeLoop(): { times: () => { active: number; idle: number }; pass: (ms: number, busyShare: number) => void } {
    let active = 0;
    let idle = 0;
    return {
      times: () => ({ active, idle }),
      pass: (ms, busyShare) => {
        active += ms * busyShare;
        idle += ms * (1 - busyShare);
      },
    };
  }

  /** Asks every 50 ms of `busyShare` for `ms`, the first thread `busy` behind; true once a second thread is due. */
  function ask(core: SpareCore, loop: ReturnType<typeof fakeLoop>, ms: number, busyShare: number, busy = 4): boolean {
    for (let t = 0; t < ms; t += 50) {
      loop.pass(50, busyShare);
      if (core.found(busy)) return true;
    }
    return false;
  }

  it("starts one when the first thread has been behind for two looks while the main thread waited", () => {
    const loop = fakeLoop();
    const core = new SpareCore(loop.times);
    expect(core.found(4)).toBe(false); // the first look starts here
    expect(ask(core, loop, 250, 0.3)).toBe(false); // one look is not enough
    expect(ask(core, loop, 250, 0.3)).toBe(true);
  });

  it("never starts one while the main thread is busy (a no-op comparing), however far behind the first thread is", () => {
    const loop = fakeLoop();
    const core = new SpareCore(loop.times);
    core.found(4);
    expect(ask(core, loop, 5000, 0.6, 100)).toBe(false);
  });

  it("never starts one while the first thread keeps up", () => {
    const loop = fakeLoop();
    const core = new SpareCore(loop.times);
    expect(ask(core, loop, 5000, 0.05, 2)).toBe(false);
  });

  it("starts over when a spare look is followed by a busy one, or the first thread catches up in between", () => {
    const loop = fakeLoop();
    const core = new SpareCore(loop.times);
    core.found(4);
    expect(ask(core, loop, 250, 0.3)).toBe(false);
    expect(ask(core, loop, 250, 0.8)).toBe(false);
    expect(ask(core, loop, 250, 0.3)).toBe(false);
    expect(core.found(1)).toBe(false); // caught up: the look starts again
    expect(ask(core, loop, 250, 0.3)).toBe(false);
    expect(ask(core, loop, 250, 0.3)).toBe(true);
  });
});
