import { readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MergedNames, PackedNames, sortedNames } from "../../src/storage/file-ops.js";
import { tempDirs } from "./helpers.js";

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
