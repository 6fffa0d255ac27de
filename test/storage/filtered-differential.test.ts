/**
 * The target folder listed for the source folder's names only (ListOptions.onNames and keep) must
 * decide every file as the whole index does. Random trees full of what makes those decisions hard:
 * case variants of files and folders on both sides (`Dir/`, `dir/`), a file where the other side
 * has a folder, the same name with the same or other bytes, another node's files, an old temp file,
 * (in some seeds) a folder large enough to be read in batches, and (in others) 300 names between
 * `Dir` and `dir` in the source root's sorted listing, so that they come in different chunks and
 * the target folder is listed ahead for the first before the second is seen. Each seed copies into three
 * identical targets (a dry-run, the copy, and the copy again): through the engine's own FileOps (filtered, the lstat thread's path), through
 * a wrapped FileOps that honours the filter (listWithStats' path), and through one that drops it
 * (the whole index). Bytes on disk, the quarantine and the reported decisions must all agree.
 */
import { cpSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { copyTree, nodeFileOps, type FileOps } from "../../src/storage/index.js";
import { snapshot, tempDirs } from "./helpers.js";
import { MTIMES, decisions, randomTree, targetFrom, write } from "./differential-trees.js";
import { seededRandom } from "../helpers/fake-clock.js";

const dir = tempDirs();

/** A wrapped FileOps (listWithStats' path), with or without the filter. */
function wrapped(filter: boolean): FileOps {
  return {
    ...nodeFileOps,
    list: (at, options) => nodeFileOps.list(at, filter ? options : { ...options, onNames: undefined, keep: undefined }),
  };
}

describe("a target folder listed for the source folder's names decides as the whole index does", () => {
  for (let seed = 1; seed <= 24; seed++) {
    const label = [seed % 8 === 0 ? "a folder read in batches" : "", seed % 3 === 0 ? "case-variant folders chunks apart" : ""];
    it(`seed ${seed} ${label.filter(Boolean).join(", ")}`, async () => {
      const next = seededRandom(seed); // the same trees for a seed on every machine
      const sourceTree = randomTree(next, 3);
      // Upper-case names sort before "Z", lower-case ones after it.
      const apart = seed % 3 === 0;
      if (apart) {
        for (let i = 0; i < 300; i++) sourceTree.files.set(`Z${String(i).padStart(4, "0")}.txt`, { bytes: "filler\n", mtime: MTIMES[0]! });
        sourceTree.files.set("Dir/x.txt", { bytes: "x from Dir\n", mtime: MTIMES[0]! });
        sourceTree.files.set("dir/a.txt", { bytes: "a from dir\n", mtime: MTIMES[0]! });
      }
      const source = dir("source");
      write(source, sourceTree);
      const first = dir("target");
      const targetTree = targetFrom(next, sourceTree, seed % 8 === 0);
      // A case variant of a name only the second of `Dir/` and `dir/` has: a filtered index listed for the first misses it.
      if (apart) targetTree.files.set("dir/A.txt", { bytes: "the target's A\n", mtime: MTIMES[1]! });
      write(first, targetTree);
      const targets = [first, dir("target"), dir("target")];
      for (const t of targets.slice(1)) cpSync(first, t, { recursive: true, preserveTimestamps: true });
      const ways: FileOps[] = [nodeFileOps, wrapped(true), wrapped(false)];

      const results = [];
      for (let i = 0; i < 3; i++) {
        const dryRun = await copyTree({ source, target: targets[i]!, sourceNode: "OCTO2", ops: ways[i]!, dryRun: true });
        const summary = await copyTree({ source, target: targets[i]!, sourceNode: "OCTO2", ops: ways[i]! });
        const again = await copyTree({ source, target: targets[i]!, sourceNode: "OCTO2", ops: ways[i]! });
        results.push({
          dryRun: decisions(dryRun),
          decisions: decisions(summary),
          again: decisions(again),
          bytes: snapshot(targets[i]!, []),
        });
      }
      expect(results[0], "the engine's own FileOps against the whole index").toEqual(results[2]);
      expect(results[1], "a wrapped FileOps honouring the filter against the whole index").toEqual(results[2]);
    });
  }
});
