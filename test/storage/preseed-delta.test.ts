import { appendFileSync, existsSync, readFileSync, statSync, utimesSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyTree } from "../../src/storage/index.js";
import { ManifestIndex, originOf } from "../../src/storage/manifest.js";
import { nodeFileOps, type FileOps } from "../../src/storage/file-ops.js";
import { snapshot, tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

describe("a window copy after a preseed (same manifest)", () => {
  it("replaces this node's own earlier copy of a log that grew, without calling it a collision or quarantining anything", async () => {
    const node = dir("node1");
    const target = dir("target");
    const manifestPath = path.join(dir("state"), "manifests", "taskLogs-OCTO1.jsonl");
    writeFile(node, "servertasks-7_ABCDEFGHIJ.txt", "line 1\n", 1_790_000_000);
    writeFile(node, "servertasks-8_KLMNOPQRST.txt", "finished long ago\n", 1_790_000_000);
    const preseed = await copyTree({ source: node, target, sourceNode: "OCTO1", manifestPath });
    expect(preseed.filesCopied).toBe(2);

    // Octopus kept running: the log grew and its mtime moved on.
    const grown = path.join(node, "servertasks-7_ABCDEFGHIJ.txt");
    appendFileSync(grown, "line 2\nline 3\n");
    utimesSync(grown, 1_790_000_100, 1_790_000_100);
    const window = await copyTree({ source: node, target, sourceNode: "OCTO1", manifestPath, collisionPolicy: "keep-target" });

    expect(window.collisions).toEqual([]);
    expect(window.filesQuarantined ?? 0).toBe(0);
    expect(window.filesCopied).toBe(1);
    expect(window.filesUpdated).toBe(1);
    expect(window.filesSkipped).toBe(1);
    expect(readFileSync(path.join(target, "servertasks-7_ABCDEFGHIJ.txt"), "utf8")).toBe("line 1\nline 2\nline 3\n");
    expect(existsSync(path.join(target, ".octoha", "conflicts"))).toBe(false);
    expect(snapshot(target)).toEqual(snapshot(node));
  });

  it("still treats a target another node wrote as a collision, even when this node has copied the same name before", async () => {
    const node1 = dir("node1");
    const node2 = dir("node2");
    const target = dir("target");
    const state = dir("state");
    writeFile(node1, "scheduledtasks_processsubscriptions.txt", "OCTO1 v1\n", 1_790_000_000);
    writeFile(node2, "scheduledtasks_processsubscriptions.txt", "OCTO2 wrote this\n", 1_790_000_050);
    await copyTree({ source: node1, target, sourceNode: "OCTO1", manifestPath: path.join(state, "OCTO1.jsonl") });
    // OCTO2 replaces the file (keep-newer); OCTO1's manifest record no longer matches the target.
    await copyTree({
      source: node2,
      target,
      sourceNode: "OCTO2",
      manifestPath: path.join(state, "OCTO2.jsonl"),
      collisionPolicy: "keep-newer",
    });
    writeFile(node1, "scheduledtasks_processsubscriptions.txt", "OCTO1 v2, longer\n", 1_790_000_010);
    const again = await copyTree({
      source: node1,
      target,
      sourceNode: "OCTO1",
      manifestPath: path.join(state, "OCTO1.jsonl"),
      collisionPolicy: "keep-target",
    });

    expect(again.filesUpdated ?? 0).toBe(0);
    expect(again.collisions).toMatchObject([{ relPath: "scheduledtasks_processsubscriptions.txt", winner: "target" }]);
    expect(readFileSync(path.join(target, "scheduledtasks_processsubscriptions.txt"), "utf8")).toBe("OCTO2 wrote this\n");
    expect(readFileSync(path.join(target, ".octoha", "conflicts", "OCTO1", "scheduledtasks_processsubscriptions.txt"), "utf8")).toBe(
      "OCTO1 v2, longer\n",
    );
  });
});

describe("a source file touched since its copy (same bytes, a new mtime)", () => {
  it("is 'already there', and its copy takes the new time once: later runs skip it without hashing; another writer's file is never retimed", async () => {
    const node = dir("touched");
    const target = dir("touched-target");
    const manifestPath = path.join(dir("touched-state"), "manifest.jsonl");
    writeFile(node, "servertasks-9_ABCDEFGHIJ.txt", "finished\n", 1_790_000_000);
    writeFile(node, "Artifacts/report.txt", "same bytes\n", 1_790_000_000);
    writeFile(target, "Artifacts/report.txt", "same bytes\n", 1_780_000_000); // robocopy's, not ours
    await copyTree({ source: node, target, sourceNode: "OCTO1", manifestPath });
    for (const rel of ["servertasks-9_ABCDEFGHIJ.txt", "Artifacts/report.txt"])
      utimesSync(path.join(node, rel), 1_790_000_500, 1_790_000_500);
    const lines = (): number => readFileSync(manifestPath, "utf8").trim().split("\n").length;

    const touched = await copyTree({ source: node, target, sourceNode: "OCTO1", manifestPath });
    expect(touched).toMatchObject({ filesCopied: 0, filesSkipped: 2, collisions: [] });
    expect(statSync(path.join(target, "servertasks-9_ABCDEFGHIJ.txt")).mtimeMs).toBe(1_790_000_500_000);
    expect(statSync(path.join(target, "Artifacts/report.txt")).mtimeMs).toBe(1_780_000_000_000); // not ours: left as it is
    // The next run trusts the retimed copy (no new record); the file it did not write is hashed again.
    const before = lines();
    const again = await copyTree({ source: node, target, sourceNode: "OCTO1", manifestPath });
    expect(again).toMatchObject({ filesCopied: 0, filesSkipped: 2, collisions: [] });
    expect(
      readFileSync(manifestPath, "utf8")
        .trim()
        .split("\n")
        .slice(before)
        .map((l) => (JSON.parse(l) as { relPath: string }).relPath),
    ).toEqual(["Artifacts/report.txt"]);
  });
});

describe("a retime the target refuses (a read-only file)", () => {
  it("leaves the file as it is and the copy done: times are a saving, not the copy", async () => {
    const node = dir("touched-ro");
    const target = dir("touched-ro-target");
    const manifestPath = path.join(dir("touched-ro-state"), "manifest.jsonl");
    writeFile(node, "servertasks-9_ABCDEFGHIJ.txt", "finished\n", 1_790_000_000);
    await copyTree({ source: node, target, sourceNode: "OCTO1", manifestPath });
    utimesSync(path.join(node, "servertasks-9_ABCDEFGHIJ.txt"), 1_790_000_500, 1_790_000_500);
    const refusing: FileOps = {
      ...nodeFileOps,
      open: (p, mode) =>
        mode === "r+"
          ? Promise.reject(Object.assign(new Error(`EACCES: simulated, open '${p}'`), { code: "EACCES" }))
          : nodeFileOps.open(p, mode),
    };
    const again = await copyTree({ source: node, target, sourceNode: "OCTO1", manifestPath, ops: refusing, retryAttempts: 1 });
    expect(again).toMatchObject({ filesCopied: 0, filesSkipped: 1, errors: [] });
    expect(statSync(path.join(target, "servertasks-9_ABCDEFGHIJ.txt")).mtimeMs).toBe(1_790_000_000_000);
  });
});

describe("ManifestIndex.writtenFrom", () => {
  it("is true only for the source file whose copy wrote the target, while it still has the recorded size and mtime", () => {
    const index = new ManifestIndex();
    const fromA = originOf("host:/mnt/octo1|1:2", "a.txt");
    index.set({ relPath: "a.txt", size: 5, mtimeMs: 1000.2, sha256: "ab".repeat(32), src: fromA });
    const fromB = originOf("host:/mnt/octo1|1:2", "b.txt");
    // b.txt was found equal to fromB's bytes (hashed both sides), not written: c.txt's record is an older octoha's, with no origin.
    index.set({ relPath: "b.txt", size: 1, mtimeMs: 1, sha256: "cd".repeat(32), same: fromB });
    index.set({ relPath: "c.txt", size: 1, mtimeMs: 1, sha256: "cd".repeat(32) });
    expect(index.writtenFrom("a.txt", 5, 1000.4, fromA)).toBe(true);
    expect(index.writtenFrom("a.txt", 5, 1000.4, originOf("host:/mnt/octo2|1:3", "a.txt"))).toBe(false);
    expect(index.writtenFrom("a.txt", 5, 1000.4, originOf("host:/mnt/octo1|1:2", "A.txt"))).toBe(false);
    expect(index.writtenFrom("a.txt", 6, 1000.2, fromA)).toBe(false);
    expect(index.writtenFrom("a.txt", 5, 2000, fromA)).toBe(false);
    expect(index.writtenFrom("b.txt", 1, 1, fromB)).toBe(false);
    expect(index.vouchesFor("b.txt", 1, 1, fromB)).toBe(true);
    // Vouching is for that source file's bytes alone: another node's b.txt of the same size and time is hashed.
    expect(index.vouchesFor("b.txt", 1, 1, originOf("host:/mnt/octo2|1:3", "b.txt"))).toBe(false);
    expect(index.vouchesFor("a.txt", 5, 1000.4, fromA)).toBe(true);
    expect(index.vouchesFor("a.txt", 5, 1000.4, originOf("host:/mnt/octo2|1:3", "a.txt"))).toBe(false);
    expect(index.vouchesFor("c.txt", 1, 1, originOf("host:/mnt/octo1|1:2", "c.txt"))).toBe(false);
  });
});
