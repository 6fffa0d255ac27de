import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { TargetDirIndex, listedStat } from "../../src/storage/target-index.js";
import { nodeFileOps } from "../../src/storage/index.js";
import type { FileOps, StatDirEntry } from "../../src/storage/file-ops.js";
import { tempDirs } from "./helpers.js";

const dir = tempDirs();

describe("the target folder index", () => {
  it("finds listed names case-insensitively, with the listing's size and mtime, and collects our stale temp files", async () => {
    const target = dir("t");
    writeFileSync(path.join(target, "ServerTasks-1_ABC.txt"), "12345");
    utimesSync(path.join(target, "ServerTasks-1_ABC.txt"), 1_700_000_000, 1_700_000_000.25);
    mkdirSync(path.join(target, "Spaces-1"));
    const dead = `half.txt.${createHash("sha256").update(os.hostname().toLowerCase()).digest("hex").slice(0, 6)}-${spawnSync(process.execPath, ["-e", ""]).pid!.toString(36)}-abcd.octoha-tmp`;
    writeFileSync(path.join(target, dead), "x");
    writeFileSync(path.join(target, "mine.octoha-tmp"), "a user's file: no tag says octoha wrote it");
    const stale: string[] = [];
    const index = await TargetDirIndex.load(nodeFileOps, target, "TaskLogs", stale);
    const found = index.find("servertasks-1_abc.TXT");
    expect(found).toMatchObject({ name: "ServerTasks-1_ABC.txt", isDirectory: false, isFile: true, size: 5 });
    expect(listedStat(found!)).toMatchObject({ size: 5, mtimeMs: 1_700_000_000_250, isFile: true });
    expect(index.find("SPACES-1")).toMatchObject({ name: "Spaces-1", isDirectory: true });
    expect(index.find("missing.txt")).toBeUndefined();
    expect(stale).toEqual([dead]);
    expect(index.find(dead)).toBeUndefined();
    expect(index.find("MINE.octoha-tmp")).toMatchObject({ name: "mine.octoha-tmp", isFile: true });
  });

  it("a missing target folder is an empty index", async () => {
    const index = await TargetDirIndex.load(nodeFileOps, path.join(dir("t"), "nope"), "", []);
    expect(index.find("a")).toBeUndefined();
  });

  it("keeps every one of 20 000 names (the table grows) and reserved names carry their source and pending write", async () => {
    const index = new TargetDirIndex("TaskLogs");
    for (let i = 0; i < 20_000; i++) index.reserveFile(`servertasks-${i}_X.txt`);
    for (let i = 0; i < 20_000; i += 997)
      expect(index.find(`SERVERTASKS-${i}_x.txt`)).toMatchObject({
        name: `servertasks-${i}_X.txt`,
        from: `TaskLogs/servertasks-${i}_X.txt`,
      });
    let settle!: () => void;
    const pending = new Promise<void>((resolve) => (settle = resolve));
    const slot = index.reserveFile("Foo.txt", pending);
    expect(index.find("foo.txt")?.pending).toBe(pending);
    index.settle(slot);
    settle();
    expect(index.find("foo.txt")?.pending).toBeUndefined();
    expect(listedStat(index.find("foo.txt")!)).toBeUndefined();
    index.reserveFolder("Sub");
    expect(index.find("sub")).toEqual({ name: "Sub", isDirectory: true });
  });

  it("hands back listed names exactly as listed: accents, astral characters, a lone surrogate", async () => {
    const names = ["Überprüfung-1.txt", "日志-2.txt", "log-😀-3.txt", "bad-\ud800-4.txt", "plain-5.txt", "odd-\ufffd-6.txt"];
    // 300 000 more: the table grows many times.
    const many = Array.from({ length: 300_000 }, (_, i) => `servertasks-${i}_ABCDEFGHIJ.txt`);
    const listing: StatDirEntry[] = [...names, ...many].map((name, i) => ({
      name,
      isFile: true,
      isDirectory: false,
      size: i,
      mtimeMs: 1_700_000_000_000 + i,
      atimeMs: 0,
    }));
    const ops: FileOps = {
      ...nodeFileOps,
      async *list() {
        for (let i = 0; i < listing.length; i += 256) yield listing.slice(i, i + 256);
      },
    };
    const index = await TargetDirIndex.load(ops, "/nowhere", "", []);
    expect(index.find("ÜBERPRÜFUNG-1.TXT")).toMatchObject({ name: "Überprüfung-1.txt", size: 0, isFile: true });
    expect(index.find("日志-2.TXT")).toMatchObject({ name: "日志-2.txt", size: 1 });
    expect(index.find("LOG-😀-3.txt")).toMatchObject({ name: "log-😀-3.txt", size: 2 });
    expect(index.find("BAD-\ud800-4.txt")).toMatchObject({ name: "bad-\ud800-4.txt", size: 3 });
    expect(index.find("bad-\ufffd-4.txt")).toBeUndefined(); // not confused with its UTF-8 replacement
    expect(index.find("odd-\udc00-6.txt")).toBeUndefined(); // a lone surrogate's UTF-8 is U+FFFD's: not this name
    expect(index.find("ODD-\ufffd-6.TXT")).toMatchObject({ name: "odd-\ufffd-6.txt", size: 5 });
    for (let i = 0; i < many.length; i += 4999)
      expect(index.find(many[i]!.toUpperCase())).toMatchObject({
        name: many[i],
        size: i + names.length,
        mtimeMs: 1_700_000_000_000 + i + names.length,
      });
    expect(index.find("servertasks-300000_ABCDEFGHIJ.txt")).toBeUndefined();
  });

  it("hands back sizes of 4 GiB and more exactly (a package) beside smaller ones", async () => {
    const entry = (name: string, size: number): StatDirEntry => ({ name, isFile: true, isDirectory: false, size, mtimeMs: 1, atimeMs: 0 });
    const big = 5 * 2 ** 30 + 7;
    const listed = [entry("a.nupkg", big), entry("b.nupkg", 2 ** 32 - 1), entry("c.nupkg", 2 ** 32 - 2), entry("A.NUPKG", 9)];
    const ops: FileOps = {
      ...nodeFileOps,
      async *list() {
        yield listed;
      },
    };
    const index = await TargetDirIndex.load(ops, "/nowhere", "", []);
    expect(index.find("b.nupkg")).toMatchObject({ size: 2 ** 32 - 1 });
    expect(index.find("c.nupkg")).toMatchObject({ size: 2 ** 32 - 2 });
    // "A.NUPKG" sorts before "a.nupkg": the big one is kept, as a sorted listing's last.
    expect(index.find("a.nupkg")).toMatchObject({ name: "a.nupkg", size: big });
  });

  it("keeps the case variant last in byte order among listed names, whatever order the folder lists in", async () => {
    const entry = (name: string, size: number): StatDirEntry => ({ name, isFile: true, isDirectory: false, size, mtimeMs: 0, atimeMs: 0 });
    // "FOO.txt" < "Foo.txt" < "foo.txt" in byte order: "foo.txt" is kept, as a sorted listing's last.
    const listed = [entry("Foo.txt", 2), entry("foo.txt", 3), entry("FOO.txt", 1), entry("bar.txt", 4)];
    for (const order of [listed, [...listed].reverse()]) {
      const ops: FileOps = {
        ...nodeFileOps,
        async *list() {
          yield order;
        },
      };
      const index = await TargetDirIndex.load(ops, "/nowhere", "", []);
      expect(index.find("FOO.TXT")).toMatchObject({ name: "foo.txt", size: 3 });
      expect(index.find("Bar.txt")).toMatchObject({ name: "bar.txt", size: 4 });
    }
  });

  it("keeps the head most names share once (servertasks-) and still finds every name exactly, case variants and all", async () => {
    const entry = (name: string, size: number): StatDirEntry => ({ name, isFile: true, isDirectory: false, size, mtimeMs: 0, atimeMs: 0 });
    const listed: StatDirEntry[] = [];
    // The first 64 names teach the index its head; the names after them are kept without it.
    for (let i = 0; i < 200; i++) listed.push(entry(`servertasks-${i}_A.txt`, i));
    listed.push(
      entry("ServerTasks-7_A.txt", 1007), // the head in another case: not headed; a case variant of servertasks-7_A.txt
      entry("servertasks-", 2000), // the head alone
      entry("servertasks", 2001), // shorter than the head
      entry("servertasks-300_\u00e9.txt", 2002), // begins with the head, not ASCII: kept whole
      entry("servertasks-400_k.txt", 2003),
      entry("scheduledtasks_processsubscriptions.txt", 2004),
    );
    const listing = (entries: StatDirEntry[]): FileOps => ({
      ...nodeFileOps,
      async *list() {
        yield entries;
      },
    });
    const index = await TargetDirIndex.load(listing(listed), "/nowhere", "TaskLogs", []);
    for (let i = 0; i < 200; i++)
      if (i !== 7) expect(index.find(`SERVERTASKS-${i}_a.txt`)).toMatchObject({ name: `servertasks-${i}_A.txt`, size: i });
    // Of two case variants listed, the one last in byte order stays, headed or not.
    expect(index.find("SERVERTASKS-7_A.TXT")).toMatchObject({ name: "servertasks-7_A.txt", size: 7 });
    expect(index.find("servertasks-")).toMatchObject({ name: "servertasks-", size: 2000 });
    expect(index.find("SERVERTASKS")).toMatchObject({ name: "servertasks", size: 2001 });
    expect(index.find("servertasks-300_\u00c9.TXT")).toMatchObject({ name: "servertasks-300_\u00e9.txt", size: 2002 });
    // A probe that is not ASCII meets a headed name: the Kelvin sign is "k" on a share.
    expect(index.find("servertasks-400_\u212A.txt")).toMatchObject({ name: "servertasks-400_k.txt", size: 2003 });
    expect(index.find("scheduledtasks_processsubscriptions.txt")).toMatchObject({ size: 2004 });
    for (const missing of ["servertasks-200_A.txt", "servertasks-1", "servertasks-1_A.tx", "servertasks-1_A.txt2", "servertask", "x"])
      expect(index.find(missing), missing).toBeUndefined();
    // Of case variants listed after the head is learned, the last in byte order stays, in either
    // listing order: `_a` after `_A`; the Kelvin sign (0xE2…) after `k`.
    for (const [pair, last] of [
      [["servertasks-8_a.txt", "servertasks-8_A.txt"], "servertasks-8_a.txt"],
      [["servertasks-zz_k.txt", "servertasks-zz_\u212A.txt"], "servertasks-zz_\u212A.txt"],
    ] as const)
      for (const order of [pair, [...pair].reverse()]) {
        const variants = [...listed.slice(0, 100), ...order.map((name, i) => entry(name, i))];
        const kept = (await TargetDirIndex.load(listing(variants), "/nowhere", "TaskLogs", [])).find(pair[0].toUpperCase());
        expect(kept?.name, order.join(" then ")).toBe(last);
      }
    // Names this run reserves are headed too, and handed out whole.
    index.reserveFile("servertasks-900_B.txt");
    expect(index.find("servertasks-900_b.txt")).toMatchObject({ name: "servertasks-900_B.txt", from: "TaskLogs/servertasks-900_B.txt" });
  });

  it("lists a real folder in readdir's order, every entry with its size (more entries than one chunk)", async () => {
    const target = dir("many");
    for (let i = 0; i < 1000; i++) writeFileSync(path.join(target, `servertasks-${i}_ABC.txt`), "x".repeat(i % 7));
    mkdirSync(path.join(target, "Sub"));
    const index = await TargetDirIndex.load(nodeFileOps, target, "", []);
    for (let i = 0; i < 1000; i++) expect(index.find(`SERVERTASKS-${i}_abc.txt`)).toMatchObject({ size: i % 7, isFile: true });
    expect(index.find("sub")).toMatchObject({ name: "Sub", isDirectory: true });
  });
});
