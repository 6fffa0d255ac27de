import { readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { sortedNames } from "../../src/storage/file-ops.js";
import { tempDirs } from "./helpers.js";

const dir = tempDirs();

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
    expect(await sortedNames(root)).toEqual(readdirSync(root));
  });

  it("gives readdirSync's order for a folder of many names (no astral characters)", async () => {
    const root = dir("many");
    for (let i = 0; i < 3000; i++) writeFileSync(path.join(root, `servertasks-${(i * 7919) % 100000}_${i % 3 ? "a" : "A"}.txt`), "");
    expect(await sortedNames(root)).toEqual(readdirSync(root));
  });
});
