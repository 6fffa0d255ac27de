import { readdirSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { listWithStats, nodeFileOps, sortedNames, type ListOrder } from "../../src/storage/file-ops.js";
import { MergedNames, PackedNames } from "../../src/storage/packed-names.js";
import { openDescriptorsOf, tempDirs } from "./helpers.js";

const dir = tempDirs();

async function all(root: string): Promise<string[]> {
  const names = await sortedNames(root);
  return names.slice(0, names.length);
}

describe("sortedNames (the listing behind every walk)", () => {
  it("gives readdirSync's order: case variants, accents, private-use and astral characters", async () => {
    const root = dir("names");
    const names = [
      "foo.txt",
      "Foo.txt",
      "FOO.txt",
      "a",
      "B",
      "é.txt",
      "e\u0301.txt",
      "\ue000.txt",
      "\u{1f600}.txt",
      "z",
      "servertasks-10_A.txt",
      "servertasks-9_A.txt",
    ];
    for (const n of names) writeFileSync(path.join(root, n), "");
    expect(await all(root)).toEqual(readdirSync(root));
  });

  it("gives readdirSync's order for a folder of many names (no astral characters)", async () => {
    const root = dir("many");
    for (let i = 0; i < 3000; i++) writeFileSync(path.join(root, `servertasks-${(i * 7919) % 100000}_${i % 3 ? "a" : "A"}.txt`), "");
    expect(await all(root)).toEqual(readdirSync(root));
  });

  it("gives back long names whole: prefixes and remainders past 127 bytes (two-byte counts), non-ASCII ones", async () => {
    const root = dir("long");
    const long = "servertasks-" + "0".repeat(150);
    const names = [
      `${long}1_A.txt`,
      `${long}2_A.txt`,
      `${long}${"9".repeat(80)}é.txt`,
      `${"x".repeat(240)}.txt`,
      `${"x".repeat(120)}${"\u{1f600}".repeat(30)}`,
      "y",
    ];
    for (const n of names) writeFileSync(path.join(root, n), "");
    expect(await all(root)).toEqual(readdirSync(root));
    const runs = [names.slice(0, 3), names.slice(3)].map((r) => PackedNames.sorted([...r]));
    const merged = new MergedNames(runs);
    expect(merged.slice(0, merged.length)).toEqual(readdirSync(root));
  });

  it("merges sorted runs in strcmp order of the UTF-8 bytes, names from several runs interleaved, read in order", () => {
    const names = ["b", "\u{1f600}", "A", "é", "\ue000", "a", "ab", "", "z", "B", "Ab", "e\u0301"];
    // Three runs, each sorted on its own, merged: the order readdirSync gives (a byte-wise sort).
    const runs = () => [names.slice(0, 4), names.slice(4, 9), [], names.slice(9)].map((r) => PackedNames.sorted([...r]));
    const bytewise = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    const merged = new MergedNames(runs());
    expect(merged.length).toBe(names.length);
    expect(merged.slice(0, merged.length)).toEqual(bytewise);
    const inSlices = new MergedNames(runs());
    expect([...inSlices.slice(0, 5), ...inSlices.slice(5, 7), ...inSlices.slice(7, 99)]).toEqual(bytewise);
    expect(() => inSlices.slice(0, 1)).toThrow(/in order/);
  });
});

describe("nodeFileOps.list (the real file system's listing)", () => {
  const openFolders = openDescriptorsOf;

  it.each<ListOrder>(["sorted", "any"])(
    "lists every file once with its size (%s order), and closes the folder, also when stopped early",
    async (order) => {
      const root = dir("list");
      for (let i = 0; i < 700; i++) writeFileSync(path.join(root, `f${i}.log`), "x".repeat(i % 7));
      const seen = new Map<string, number>();
      for await (const chunk of nodeFileOps.list(root, { order })) for (const e of chunk) seen.set(e.name, e.size);
      expect(seen.size).toBe(700);
      expect(seen.get("f13.log")).toBe(13 % 7);
      expect(openFolders(root)).toBe(0);

      const listing = nodeFileOps.list(root, { order })[Symbol.asyncIterator]();
      expect(((await listing.next()).value as unknown[]).length).toBeGreaterThan(0);
      await listing.return?.(undefined);
      expect(openFolders(root)).toBe(0);
    },
  );

  it("says which names have a case variant in their folder (Windows takes them as one), however far apart they sort", async () => {
    const root = dir("variants");
    // "Log.txt" sorts before every lower-case name, "log.txt" after them: chunks apart. The Kelvin
    // sign folds to "k", so "\u212Aey.txt" is "key.txt" on a share.
    for (let i = 0; i < 600; i++) writeFileSync(path.join(root, `f${i}.log`), "");
    for (const n of ["Log.txt", "log.txt", "\u212Aey.txt", "key.txt", "k\u00e9y.txt"]) writeFileSync(path.join(root, n), "");
    const unique = new Map<string, boolean | undefined>();
    for await (const chunk of nodeFileOps.list(root)) for (const e of chunk) unique.set(e.name, e.caseUnique);
    expect(unique.size).toBe(605);
    expect(
      [...unique]
        .filter(([, u]) => u !== true)
        .map(([n]) => n)
        .sort(),
    ).toEqual(["Log.txt", "key.txt", "log.txt", "\u212Aey.txt"].sort());
    // A listing in any order has not seen the whole folder when it hands out a name: it says nothing.
    for await (const chunk of nodeFileOps.list(root, { order: "any" })) for (const e of chunk) expect(e.caseUnique).toBeUndefined();
  });

  it("reads nothing until the first chunk is asked for: a missing folder fails there, not unheard before", async () => {
    const missing = path.join(dir("gone"), "no-such-folder");
    const unheard: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unheard.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      for (const order of ["sorted", "any"] as const) {
        const listing = nodeFileOps.list(missing, { order })[Symbol.asyncIterator]();
        await new Promise((resolve) => setTimeout(resolve, 30));
        await expect(listing.next()).rejects.toMatchObject({ code: "ENOENT" });
      }
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unheard).toEqual([]);
  });

  it("an lstat that fails in a later chunk fails the listing in that chunk's turn; the chunks asked ahead of it raise nothing unheard", async () => {
    const root = dir("denied");
    for (let i = 0; i < 1200; i++) writeFileSync(path.join(root, `f${String(i).padStart(4, "0")}.log`), "x");
    const denied = (file: string): boolean => /f0(300|600|900)\.log$/.test(file);
    const ops = {
      names: (d: string) => sortedNames(d),
      stat: (file: string) =>
        denied(file)
          ? Promise.reject(Object.assign(new Error(`EACCES: permission denied, lstat '${file}'`), { code: "EACCES", path: file }))
          : nodeFileOps.stat(file),
    };
    const unheard: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unheard.push(reason);
    process.on("unhandledRejection", onUnhandled);
    const seen: string[] = [];
    try {
      const listing = listWithStats(ops, root)[Symbol.asyncIterator]();
      seen.push(...((await listing.next()).value as { name: string }[]).map((e) => e.name));
      await expect(listing.next()).rejects.toMatchObject({ code: "EACCES", path: path.join(root, "f0300.log") });
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(seen).toHaveLength(256);
    expect(seen.at(-1)).toBe("f0255.log");
    expect(unheard).toEqual([]);
  });

  it("leaves out a file removed between its folder's read and its lstat", async () => {
    const root = dir("vanish");
    // Five chunks of 256: the first four's lstats are in flight once the first is read, the last's
    // (from f1024) start after this file is gone.
    for (let i = 0; i < 1200; i++) writeFileSync(path.join(root, `f${String(i).padStart(4, "0")}.log`), "x");
    const listing = nodeFileOps.list(root, { order: "sorted" })[Symbol.asyncIterator]();
    const first = (await listing.next()).value as { name: string }[];
    unlinkSync(path.join(root, "f1199.log"));
    const names = first.map((e) => e.name);
    for (let r = await listing.next(); !r.done; r = await listing.next()) names.push(...r.value.map((e) => e.name));
    expect(names).toHaveLength(1199);
    expect(names).not.toContain("f1199.log");
  });
});
