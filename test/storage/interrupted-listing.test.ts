import path from "node:path";
import { statSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ListingInterrupted,
  WHOLE_FOLDER_BYTES,
  nodeFileOps,
  sortedNames,
  type FileOps,
  type StatDirEntry,
} from "../../src/storage/file-ops.js";
import { copyTree } from "../../src/storage/index.js";
import { walkTree } from "../../src/storage/walk.js";
import { renderCopySummaryText } from "../../src/report/copy-summary.js";
import { allFiles, tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

/** A folder of `count` task logs whose own size is past WHOLE_FOLDER_BYTES (listed in batches, not whole). */
function largeFolder(count: number): string {
  const root = dir("large");
  for (let i = 0; i < count; i++) writeFileSync(path.join(root, `servertasks-${i}_ABCDEFGHIJKLMNOPQRSTUVWXYZ.txt`), `log ${i}\n`);
  expect(statSync(root).size).toBeGreaterThan(WHOLE_FOLDER_BYTES);
  return root;
}

describe("an interrupted listing", () => {
  it("stops a large folder's sorted listing before its first chunk, and its any-order listing, with ListingInterrupted", async () => {
    const root = largeFolder(3000);
    const folderSize = statSync(root).size;
    for (const order of ["sorted", "any"] as const) {
      const abort = new AbortController();
      abort.abort();
      const listing = nodeFileOps.list(root, { order, folderSize, signal: abort.signal })[Symbol.asyncIterator]();
      await expect(listing.next()).rejects.toBeInstanceOf(ListingInterrupted);
    }
    // The names themselves, read and sorted a run at a time (seconds at a million), stop too.
    const abort = new AbortController();
    abort.abort();
    await expect(sortedNames(root, folderSize, 1024, abort.signal)).rejects.toBeInstanceOf(ListingInterrupted);
  });

  it("stops between chunks once aborted, after the chunks already asked for", async () => {
    const root = largeFolder(3000);
    const abort = new AbortController();
    const seen: StatDirEntry[] = [];
    const listing = async (): Promise<void> => {
      for await (const chunk of nodeFileOps.list(root, { folderSize: statSync(root).size, signal: abort.signal })) {
        seen.push(...chunk);
        abort.abort();
      }
    };
    await expect(listing()).rejects.toBeInstanceOf(ListingInterrupted);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThan(3000);
  });

  it("stops a walk with ListingInterrupted, not with an unreadable folder's error entry", async () => {
    const root = dir("tree");
    for (let i = 0; i < 5; i++) writeFile(root, `Artifacts/${i}/a.txt`, "a\n");
    const abort = new AbortController();
    const entries: string[] = [];
    const walk = async (): Promise<void> => {
      for await (const chunk of walkTree(nodeFileOps, root, abort.signal)) {
        for (const entry of chunk) entries.push(`${entry.type} ${entry.relPath}`);
        if (entries.length >= 3) abort.abort();
      }
    };
    await expect(walk()).rejects.toBeInstanceOf(ListingInterrupted);
    expect(entries.filter((e) => e.startsWith("error"))).toEqual([]);
  });

  it("ends a copy whose listing a FileOps does not stop itself as interrupted, nothing written, and a dry-run says its counts are partial", async () => {
    const source = largeFolder(3000);
    const target = dir("target");
    for (const dryRun of [false, true]) {
      const abort = new AbortController();
      let chunks = 0;
      // Ignores the signal (a FileOps may): the copy's own look between chunks stops it.
      const ops: FileOps = {
        ...nodeFileOps,
        list: async function* (p, options) {
          for await (const chunk of nodeFileOps.list(p, { ...options, signal: undefined })) {
            if (++chunks === 2) abort.abort();
            yield chunk;
          }
        },
      };
      const summary = await copyTree({ source, target, ops, signal: abort.signal, dryRun });
      expect(summary.interrupted).toBe(true);
      expect(summary.errors).toEqual([]);
      expect(chunks).toBeLessThan(3000 / 256);
      expect(allFiles(target)).toEqual([]);
      const text = renderCopySummaryText(summary, dryRun);
      if (dryRun) expect(text).toContain("the counts above are partial; nothing was written");
      else expect(text).toContain("re-run the same command to resume");
    }
  });
});
