import { readFileSync, statSync, utimesSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { WHOLE_FOLDER_BYTES, nodeFileOps, type StatDirEntry, type ToldNames } from "../../src/storage/file-ops.js";
import { foldedHash } from "../../src/storage/fold.js";
import { TargetDirIndex } from "../../src/storage/target-index.js";
import { TEMP_SUFFIX } from "../../src/storage/walk.js";
import { HOST_TAG } from "../../src/shared/lock.js";
import { copyTree } from "../../src/storage/index.js";
import { snapshot, tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();
/** A temp file's writer tag (`.<host>-<pid>-<random>`) from a host that is not this one. */
const STALE_TAG = `${HOST_TAG === "abcdef" ? "fedcba" : "abcdef"}-1z-0000`;

function sortedHashes(names: string[]): Uint32Array {
  return Uint32Array.from(names, (n) => foldedHash(n)).sort();
}

async function all(listing: AsyncIterable<StatDirEntry[]>): Promise<string[]> {
  const names: string[] = [];
  for await (const chunk of listing) for (const entry of chunk) names.push(entry.name);
  return names.sort();
}

/** Another node's many files, and a few this source also has: `count` of theirs. */
function sharedTaskLogs(count: number): string {
  const root = dir("shared");
  for (let i = 0; i < count; i++) writeFileSync(path.join(root, `servertasks-${i}_OTHER.txt`), "the other node's log\n");
  writeFileSync(path.join(root, "servertasks-5_MINE.txt"), "mine, already here\n");
  writeFileSync(path.join(root, "Report.TXT"), "a case variant of a source name\n");
  mkdirSync(path.join(root, "sub"));
  // A temp file of ours (tagged by its writer: another machine, untouched for an hour) left by a
  // killed copy long ago: swept whatever the source's names.
  const temp = path.join(root, `servertasks-9_OTHER.txt.${STALE_TAG}${TEMP_SUFFIX}`);
  writeFileSync(temp, "half a copy");
  utimesSync(temp, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
  return root;
}

describe("a target folder listed for one source folder's names (one node's logs into a shared folder)", () => {
  const mine = ["servertasks-5_MINE.txt", "report.txt", "sub", "servertasks-7_MINE.txt"];

  it.each([
    ["a small folder, read whole", 10],
    ["a large folder, read in batches", 3000],
  ])("%s: keeps only the names a source name can meet, and our temp files", async (_label, others) => {
    const root = sharedTaskLogs(others);
    const folderSize = statSync(root).size;
    expect(folderSize > WHOLE_FOLDER_BYTES).toBe(others > 1000);
    const keep = (name: string): boolean => sortedHashes(mine).includes(foldedHash(name));
    expect(await all(nodeFileOps.list(root, { order: "any", folderSize, keep }))).toEqual(["Report.TXT", "servertasks-5_MINE.txt", "sub"]);

    const stale: string[] = [];
    const index = await TargetDirIndex.load(nodeFileOps, root, "TaskLogs", stale, { folderSize, only: sortedHashes(mine) });
    expect(index.filtered).toBe(true);
    expect(index.find("servertasks-5_MINE.txt")).toMatchObject({ name: "servertasks-5_MINE.txt", isFile: true, size: 19 });
    expect(index.find("report.txt")).toMatchObject({ name: "Report.TXT", isFile: true });
    expect(index.find("sub")).toMatchObject({ name: "sub", isDirectory: true });
    expect(index.find("servertasks-7_MINE.txt")).toBeUndefined();
    expect(index.find("servertasks-1_OTHER.txt")).toBeUndefined(); // not listed: no source name folds to it
    expect(stale).toEqual([`servertasks-9_OTHER.txt.${STALE_TAG}${TEMP_SUFFIX}`]); // no source name meets it; swept all the same
    const whole = await TargetDirIndex.load(nodeFileOps, root, "TaskLogs", [], { folderSize });
    expect(whole.filtered).toBe(false);
    expect(whole.find("servertasks-1_OTHER.txt")).toMatchObject({ isFile: true });
  });

  it("a sorted listing tells its names' hashes before its first chunk, read whole or in batches", async () => {
    for (const count of [5, 3000]) {
      const root = dir("told");
      const names = Array.from({ length: count }, (_, i) => `File-${i}.txt`);
      for (const n of names) writeFileSync(path.join(root, n), "x");
      let told: ToldNames;
      const listing = nodeFileOps.list(root, { folderSize: statSync(root).size, onNames: (h) => (told = h) });
      const first = await listing[Symbol.asyncIterator]().next();
      expect(first.done).toBe(false);
      expect(told).toEqual(sortedHashes(names));
    }
  });
});

describe("copying one node's folder into a target that holds another's", () => {
  it("decides every file as with the whole index: copies, skips the same, quarantines a different one and a case variant", async () => {
    const target = dir("target");
    for (let i = 0; i < 600; i++) writeFile(target, `TaskLogs/servertasks-${i}_OTHER.txt`, `other ${i}\n`);
    writeFile(target, "TaskLogs/servertasks-5_SAME.txt", "the same bytes\n", 1_790_000_000);
    writeFile(target, "TaskLogs/servertasks-6_DIFF.txt", "the target's bytes\n");
    writeFile(target, "TaskLogs/Report.TXT", "the target's report\n");
    const source = dir("source");
    writeFile(source, "TaskLogs/servertasks-5_SAME.txt", "the same bytes\n", 1_790_000_000);
    writeFile(source, "TaskLogs/servertasks-6_DIFF.txt", "the source's different bytes\n");
    writeFile(source, "TaskLogs/report.txt", "the source's report\n");
    writeFile(source, "TaskLogs/servertasks-7_NEW.txt", "new\n");
    const before = snapshot(target);

    const summary = await copyTree({ source, target, sourceNode: "OCTO2" });
    expect(summary.filesCopied).toBe(1);
    expect(summary.filesSkipped).toBe(1); // the same bytes (hashed: no manifest vouches for the target's copy)
    expect(summary.collisions.map((c) => `${c.kind} ${c.relPath} -> ${c.targetRelPath}`).sort()).toEqual([
      "case-only TaskLogs/report.txt -> TaskLogs/Report.TXT",
      "different-bytes TaskLogs/servertasks-6_DIFF.txt -> TaskLogs/servertasks-6_DIFF.txt",
    ]);
    const after = snapshot(target);
    for (const [rel, facts] of before) expect(after.get(rel), rel).toEqual(facts); // nothing there was touched
    expect(readFileSync(path.join(target, "TaskLogs/servertasks-7_NEW.txt"), "utf8")).toBe("new\n");
  });

  it("a target folder two source folders map onto (`Dir/`, `dir/`) is indexed whole, though the first was listed ahead for its own names", async () => {
    // 300 names between `Dir` and `dir` in the root's sorted listing put them in different chunks,
    // so the target folder is listed ahead for `Dir` before `dir` is seen.
    const source = dir("source");
    for (let i = 0; i < 300; i++) writeFile(source, `E${String(i).padStart(4, "0")}.txt`, "filler\n");
    writeFile(source, "Dir/x.txt", "x from Dir\n");
    writeFile(source, "dir/a.txt", "a from dir, different bytes\n");
    const target = dir("target");
    // A case variant of dir/a.txt: on a Linux target only the index can tell they are one file on Windows.
    writeFile(target, "dir/A.txt", "the target's A\n");

    const summary = await copyTree({ source, target, sourceNode: "OCTO1" });
    expect(summary.collisions.map((c) => `${c.kind} ${c.relPath} -> ${c.targetRelPath}`)).toEqual(["case-only dir/a.txt -> dir/A.txt"]);
    expect(readFileSync(path.join(target, "dir/A.txt"), "utf8")).toBe("the target's A\n");
    expect(snapshot(target).has("dir/a.txt")).toBe(false); // not written beside its variant
    expect(readFileSync(path.join(target, "dir/x.txt"), "utf8")).toBe("x from Dir\n");
    expect(summary.errors).toEqual([]);
  });
});
