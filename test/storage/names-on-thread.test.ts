import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { WHOLE_FOLDER_BYTES, nodeFileOps, sortedNames } from "../../src/storage/file-ops.js";
import { closeNamesOnThread, readNamesOnThread } from "../../src/storage/stat-thread.js";
import type { NameList } from "../../src/storage/packed-names.js";
import { openDescriptorsOf, tempDirs } from "./helpers.js";

const dir = tempDirs();
/** A folder size that sends the listing to the lstat thread (a large folder on a local disk). */
const LARGE = WHOLE_FOLDER_BYTES + 1;

function all(list: NameList): string[] {
  const out: string[] = [];
  for (let start = 0; start < list.length; start += 1000) out.push(...list.slice(start, start + 1000));
  return out;
}

describe("a large folder's names are read on the lstat thread", () => {
  it("the same names, in the same order, with the same case variants as read here, past several batches and runs", async () => {
    const root = dir("thread-names");
    // 20,000 names: batches of 8,192 on the thread, runs of 4,096 when sorted below. Non-ASCII
    // names (é, the Kelvin sign that folds to k) and case variants among them.
    const names = ["Log.txt", "log.txt", "\u212Aey.txt", "key.txt", "k\u00e9y.txt", "caf\u00e9.txt"];
    for (let i = 0; i < 20_000; i++) names.push(`servertasks-${(i * 7919) % 100_003}_ABC${i % 10}.txt`);
    for (const n of names) writeFileSync(path.join(root, n), "");
    const here = await sortedNames(root, undefined, 4096);
    const onThread = await sortedNames(root, LARGE, 4096);
    expect(onThread.length).toBe(names.length);
    expect(all(onThread)).toEqual(all(here));
    expect([...(onThread.caseVariants ?? [])].sort()).toEqual([...(here.caseVariants ?? [])].sort());
    expect(onThread.caseVariants?.size).toBeGreaterThanOrEqual(2);
  });

  it("a batch with a surrogate (an emoji: UTF-8 holds a pair, not a lone one) comes back as a string, whole", async () => {
    const root = dir("thread-astral");
    const names = ["\u{1F600}.txt", "a\u{10000}b.txt", "plain.txt"];
    for (const n of names) writeFileSync(path.join(root, n), "x");
    expect(all(await sortedNames(root, LARGE)).sort()).toEqual([...names].sort());
  });

  it("lists in full chunks of 256 but the last, each name once, in order", async () => {
    const root = dir("thread-chunks");
    for (let i = 0; i < 9000; i++) writeFileSync(path.join(root, `f${i}.txt`), "x".repeat(i % 3));
    const sizes: number[] = [];
    const seen: string[] = [];
    for await (const chunk of nodeFileOps.list(root, { folderSize: LARGE })) {
      sizes.push(chunk.length);
      for (const e of chunk) seen.push(`${e.name}:${e.size}`);
    }
    expect(sizes.slice(0, -1).every((n) => n === 256)).toBe(true);
    expect(seen).toHaveLength(9000);
    expect(seen).toEqual([...seen].sort());
    expect(seen).toContain("f8999.txt:2");
  });

  it("a folder left open on the thread is closed by closeNamesOnThread, and a read to its end closes it", async () => {
    const root = dir("thread-close");
    for (let i = 0; i < 5000; i++) writeFileSync(path.join(root, `f${i}.txt`), "");
    const open = await Promise.all([1, 2, 3].map(() => readNamesOnThread(root, undefined, 100)));
    expect(open.map((b) => b.done)).toEqual([false, false, false]);
    expect(openDescriptorsOf(root)).toBe(3);
    for (const b of open) closeNamesOnThread(b.handle);
    // The thread answers in order: once a later request is answered, the closes are done.
    const other = dir("thread-other");
    expect((await readNamesOnThread(other, undefined, 10)).done).toBe(true);
    expect(openDescriptorsOf(root)).toBe(0);
    let batch = await readNamesOnThread(root, undefined, 2048);
    let count = 0;
    for (;;) {
      count += (batch.bytes ? Buffer.from(batch.bytes).toString("utf8").split("\0") : []).length;
      if (batch.done) break;
      batch = await readNamesOnThread(root, batch.handle, 2048);
    }
    expect(count).toBe(5000);
    expect(openDescriptorsOf(root)).toBe(0);
  });
});
