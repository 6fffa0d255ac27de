/**
 * Round trips per file, counted as a share would serve them (countingOps), and proof that the
 * calls overlap (latencyOps). Each count is the difference between a run over 2n files and one
 * over n, so what a run costs once (lock, manifest, probe, folders) drops out.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { setTimeout as sleep } from "node:timers/promises";
import { copyTree, nodeFileOps, type FileOps } from "../../src/storage/index.js";
import { listWithStats } from "../../src/storage/file-ops.js";
import { loadManifest } from "../../src/storage/manifest-load.js";
import { countingOps, latencyOps, perFile, total } from "./round-trip-ops.js";
import { sha256Of, snapshot, tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

/** `folders` folders of `perFolder` small files each (distinct bytes and times). */
function makeSource(folders: number, perFolder: number): string {
  const root = dir("src");
  for (let f = 0; f < folders; f++)
    for (let i = 0; i < perFolder; i++) writeFile(root, `F${f}/ServerTasks-${i}.log.txt`, `log ${f}/${i}\n`.repeat(20), 1_790_000_000 + i);
  return root;
}

/** The round trips of one copy of source into target (counted), after `prepare` ran uncounted. */
async function countCopy(source: string, target: string, prepare?: () => Promise<void>): Promise<Map<string, number>> {
  const manifestPath = path.join(target, ".octoha", "manifest.jsonl");
  await prepare?.();
  const ops = countingOps({ source, target });
  const summary = await copyTree({ source, target, sourceNode: "OCTO1", manifestPath, ops });
  expect(summary.errors).toEqual([]);
  return new Map(ops.counts);
}

const copyOnce = (source: string, target: string) => () =>
  copyTree({ source, target, sourceNode: "OCTO1", manifestPath: path.join(target, ".octoha", "manifest.jsonl") }).then(() => undefined);

describe("round trips per file (a counting FileOps)", () => {
  const n = 20;

  it("a copied file costs the source's listing and read, and the target's exclusive create, write, fsync, times and close", async () => {
    const small = await countCopy(makeSource(2, n / 2), dir("target"));
    const big = await countCopy(makeSource(2, n), dir("target"));
    expect(perFile(small, big, n, "state")).toEqual(COPIED);
    expect(total(big, "target") - total(small, "target")).toBe(n * TARGET_PER_COPIED);
  });

  it("another node's files in the same target folders cost no round trip: a target folder is listed for the source's names", async () => {
    const count = async (others: number) => {
      const source = makeSource(2, n / 2);
      const target = dir("target");
      return countCopy(source, target, async () => {
        for (let f = 0; f < 2; f++) for (let i = 0; i < others; i++) writeFile(target, `F${f}/ServerTasks-${i}-OCTO2.log.txt`, "theirs\n");
        await copyOnce(source, target)();
      });
    };
    const few = await count(n);
    const many = await count(4 * n);
    // The no-op's one lstat per source file and per folder (F0, F1), none of the other node's 2n or 8n.
    expect(few.get("target:list.lstat")).toBe(n + 2);
    expect(many.get("target:list.lstat")).toBe(n + 2);
  });

  it("a file skipped by a run that copies others costs its listing on both sides, twice (plan and copy pass)", async () => {
    const count = async (files: number) => {
      const source = makeSource(2, files / 2);
      const target = dir("target");
      // One file is missing at the target, so the run has work and makes its copy pass.
      return countCopy(source, target, async () => {
        await copyOnce(source, target)();
        rmSync(path.join(target, "F0", "ServerTasks-0.log.txt"));
      });
    };
    expect(perFile(await count(n), await count(2 * n), n, "state")).toEqual(SKIPPED);
  });

  it("a no-op re-run costs one listing of each file on each side, and nothing else", async () => {
    const count = async (files: number) => {
      const source = makeSource(2, files / 2);
      const target = dir("target");
      return countCopy(source, target, copyOnce(source, target));
    };
    expect(perFile(await count(n), await count(2 * n), n, "state")).toEqual(NOOP);
  });
});

describe("the manifest's round trips per copied file", () => {
  it("copies made one at a time into one folder (creates serialized, as a folder's lock does on a share) share their intents' batches", async () => {
    const files = 60;
    const source = makeSource(1, files);
    const target = dir("target");
    const ops = countingOps({ source, target });
    const manifestPath = path.join(target, ".octoha", "manifest.jsonl");
    const summary = await copyTree({ source, target, sourceNode: "OCTO1", manifestPath, ops, concurrency: 1 });
    expect(summary.filesCopied).toBe(files);
    // Each copy asked for its intent alone: an fsync a file (60). The queued files' intents now go
    // in the batch of the first one to ask, and the done records in batches of their own.
    expect(ops.counts.get("state:fsync")).toBeLessThanOrEqual(files / 4);
    const states = new Map<string, string>();
    for (const line of readFileSync(manifestPath, "utf8").trim().split("\n")) {
      const r = JSON.parse(line) as { relPath: string; intent?: string };
      states.set(r.relPath, r.intent ?? "done");
    }
    expect([...states.values()].filter((v) => v !== "done")).toEqual([]);
    expect(states.size).toBe(files);
  });
});

describe("what a no-op re-run proves about the target (its one lstat per file)", () => {
  it("a target file deleted, truncated or replaced since the copy is noticed, and the rest is still skipped", async () => {
    const source = makeSource(1, 6);
    const target = dir("target");
    await copyOnce(source, target)();
    const at = (i: number): string => path.join(target, "F0", `ServerTasks-${i}.log.txt`);
    rmSync(at(0)); // deleted
    truncateSync(at(1), 5); // truncated
    writeFileSync(at(2), "someone else's bytes\n"); // replaced (other size, a new mtime)
    writeFileSync(at(3), readFileSync(at(3), "utf8").toUpperCase()); // same size, other bytes, a new mtime
    const ops = countingOps({ source, target });
    const summary = await copyTree({
      source,
      target,
      sourceNode: "OCTO1",
      manifestPath: path.join(target, ".octoha", "manifest.jsonl"),
      ops,
    });
    expect(summary.errors).toEqual([]);
    expect(summary.filesCopied).toBe(1); // the deleted one, copied again
    expect(sha256Of(at(0))).toBe(sha256Of(path.join(source, "F0", "ServerTasks-0.log.txt")));
    // The others are not octoha's copies any more: never overwritten, reported, the incoming copy quarantined.
    expect(summary.collisions.map((c) => c.targetRelPath).sort()).toEqual([1, 2, 3].map((i) => `F0/ServerTasks-${i}.log.txt`));
    expect(summary.filesSkipped).toBe(2);
    // Planning and copy pass each list F0's five files and, in the root, F0: nothing else is stat'ed.
    expect(ops.counts.get("target:list.lstat")).toBe(2 * (5 + 1));
  });
});

describe("round trips per folder", () => {
  it("a target folder missing from its parent's listing is not listed: each pass lists the target root only", async () => {
    const source = makeSource(10, 2);
    const target = dir("target");
    const counts = await countCopy(source, target);
    expect(counts.get("target:list")).toBe(2);
    expect(counts.get("target:mkdir")).toBe(1 + 10); // the root, then each folder once
    expect(snapshot(target).size).toBe(20);
  });
});

describe("target folders on a slow share", () => {
  it("a no-op re-run over a folder per task lists several target folders at once", async () => {
    const source = makeSource(20, 2);
    const target = dir("target");
    await copyOnce(source, target)();
    const slow = latencyOps(20);
    let listing = 0;
    let most = 0;
    const ops: FileOps = {
      ...slow,
      names: async (p) => {
        const mine = p.startsWith(target + path.sep);
        if (mine) most = Math.max(most, ++listing);
        try {
          return await slow.names(p);
        } finally {
          if (mine) listing--;
        }
      },
    };
    ops.list = (p) => listWithStats(ops, p);
    const summary = await copyTree({ source, target, manifestPath: path.join(target, ".octoha", "manifest.jsonl"), ops });
    expect(summary.filesSkipped).toBe(40);
    expect(most).toBeGreaterThan(1);
  });
});

describe("overlapping round trips (a FileOps that waits 2 ms per call)", () => {
  it("copies 200 files spread over 10 folders in well under the time of its calls made one after another", async () => {
    const source = makeSource(10, 20);
    const target = dir("target");
    const slow = latencyOps(2);
    const counter = countingOps({ source, target }, slow);
    const started = Date.now();
    const summary = await copyTree({
      source,
      target,
      sourceNode: "OCTO1",
      manifestPath: path.join(target, ".octoha", "m.jsonl"),
      ops: counter,
    });
    const wallMs = Date.now() - started;
    expect(summary.filesCopied).toBe(200);
    expect(snapshot(target).size).toBe(200);
    const calls = total(counter.counts);
    expect(calls).toBeGreaterThan(200 * 7);
    // Intents are group-committed: the files in flight share each fsync'd append (~4 files per batch here).
    expect(counter.counts.get("state:fsync") ?? 0).toBeLessThan(200 / 2);
    // At least calls × 2 ms one after another; under half of it (the calls' own measured times) overall.
    expect(slow.busy.ms).toBeGreaterThanOrEqual(calls * 1.5);
    expect(wallMs).toBeLessThan(slow.busy.ms * 0.5);
  });
});

describe("target folders on a slow target (a folder per task)", () => {
  /** latencyOps whose mkdir records how many run at once under each parent, and when. */
  function folderWatch(ms: number) {
    const slow = latencyOps(ms);
    const running = new Map<string, number>();
    const seen = { most: 0, made: 0, afterAbort: 0, aborted: false };
    const ops: FileOps = {
      ...slow,
      mkdir: async (p) => {
        const parent = path.dirname(p);
        const now = (running.get(parent) ?? 0) + 1;
        running.set(parent, now);
        seen.most = Math.max(seen.most, now);
        if (seen.aborted) seen.afterAbort++;
        try {
          await slow.mkdir(p);
          seen.made++;
        } finally {
          running.set(parent, running.get(parent)! - 1);
        }
      },
    };
    return { ops, seen };
  }

  it("after an interrupt, the jobs queued in the pool create no folder and copy nothing", async () => {
    const source = makeSource(300, 1);
    const target = dir("target");
    const { ops, seen } = folderWatch(5);
    const abort = new AbortController();
    const watched: FileOps = {
      ...ops,
      open: async (p, mode) => {
        if (mode === "wx" && p.includes("ServerTasks-") && !seen.aborted) {
          seen.aborted = true;
          abort.abort();
        }
        return ops.open(p, mode);
      },
    };
    const summary = await copyTree({
      source,
      target,
      sourceNode: "OCTO1",
      manifestPath: path.join(target, ".octoha", "m.jsonl"),
      ops: watched,
      signal: abort.signal,
    });
    expect(summary.interrupted).toBe(true);
    // Folders already asked for finish; none is started after the interrupt, and the copies stop.
    expect(seen.afterAbort).toBe(0);
    expect(summary.filesCopied).toBeLessThan(20);
    // The queued files' intents, written ahead, are withdrawn: none is left open for a file never created.
    const manifest = await loadManifest(nodeFileOps, path.join(target, ".octoha", "m.jsonl"));
    expect(manifest.openIntentCount).toBe(0);
    const lines = readFileSync(path.join(target, ".octoha", "m.jsonl"), "utf8");
    expect(lines.match(/"intent":"withdrawn"/g)?.length ?? 0).toBeGreaterThan(0);
  });
});

describe("an interrupt before the copy pass", () => {
  it("while the target's write access is probed: nothing is copied and the run says it was interrupted", async () => {
    const source = makeSource(5, 2);
    const target = dir("target");
    const abort = new AbortController();
    const ops: FileOps = {
      ...nodeFileOps,
      open: async (p, mode) => {
        // The first exclusive create is the free-space and access probe, before any file.
        if (mode === "wx" && !abort.signal.aborted) abort.abort();
        return nodeFileOps.open(p, mode);
      },
    };
    const summary = await copyTree({ source, target, manifestPath: path.join(target, ".octoha", "m.jsonl"), ops, signal: abort.signal });
    expect(abort.signal.aborted).toBe(true);
    expect(summary.interrupted).toBe(true);
    expect(summary.filesCopied).toBe(0);
    expect([...snapshot(target).keys()].filter((k) => k.includes("ServerTasks-"))).toEqual([]);
  });
});

describe("a large file on a slow target", () => {
  it("is written several chunks at a time, and its bytes arrive intact", async () => {
    const source = dir("src");
    const bytes = randomBytes(5 * 1024 * 1024 + 123);
    writeFile(source, "Packages/Acme.1.0.0.nupkg", bytes);
    const target = dir("target");
    // Writes that take 200 ms: reading and hashing the next 1 MiB is sooner, so a copy that writes
    // one chunk after another never has two in flight.
    const slow = nodeFileOps;
    let inFlight = 0;
    let most = 0;
    const ops: FileOps = {
      ...slow,
      open: async (p, mode) => {
        const file = await slow.open(p, mode);
        return {
          ...file,
          write: async (b, o, l, pos) => {
            most = Math.max(most, ++inFlight);
            try {
              await sleep(200);
              return await file.write(b, o, l, pos);
            } finally {
              inFlight--;
            }
          },
        };
      },
    };
    await copyTree({ source, target, manifestPath: path.join(target, ".octoha", "m.jsonl"), ops });
    expect(most).toBeGreaterThan(1);
    expect(sha256Of(path.join(target, "Packages", "Acme.1.0.0.nupkg"))).toBe(createHash("sha256").update(bytes).digest("hex"));
  });
});

/**
 * Was 13 (7 at the target), then 11 (5 at the target): the intent protocol creates the final name
 * exclusively, so the temp file's rename and the stat before it (O_EXCL is the no-clobber check) went.
 * Then 12: one fstat of the source through its open handle after the read, the only proof that
 * nothing rewrote it in place during the copy (same size, other bytes: the byte count cannot tell);
 * it is on the source side, usually the node's own disk, not the share.
 * What stays, each needed: the source's lstat in each pass's listing (plan, copy); its open, one
 * read (a small file's end shows as a short read), fstat and close; the target's exclusive create, one
 * write, the fsync that makes the bytes durable before the done record, the times through the
 * handle, and close. The intent and done records are "state": group-committed appends shared by
 * the files in flight (see the 2 ms test below).
 */
const COPIED = {
  "source:list.lstat": 2,
  "source:open": 1,
  "source:read": 1,
  "source:fstat": 1,
  "source:close": 1,
  "target:open": 1,
  "target:write": 1,
  "target:fsync": 1,
  "target:futimes": 1,
  "target:close": 1,
};
const TARGET_PER_COPIED = 5;
const SKIPPED = { "source:list.lstat": 2, "target:list.lstat": 2 };
const NOOP = { "source:list.lstat": 1, "target:list.lstat": 1 };
