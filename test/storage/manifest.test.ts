import { appendFileSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ManifestWriter, manifestRecords, originOf } from "../../src/storage/manifest.js";
import { loadManifest, refreshManifestSnapshot } from "../../src/storage/manifest-load.js";
import { snapshotPathOf } from "../../src/storage/manifest-snapshot.js";
import { nodeFileOps } from "../../src/storage/index.js";
import { tempDirs } from "./helpers.js";
import { countingOps } from "./round-trip-ops.js";
import type { ManifestRecord } from "../../src/storage/types.js";

const dir = tempDirs();
const FROM_1 = originOf("host:/mnt/octo1|1:2", "TaskLogs/a.txt");
const FROM_2 = originOf("host:/mnt/octo2|1:3", "TaskLogs/a.txt");
const record = (relPath: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ v: 2, relPath, size: 5, mtimeMs: 1_790_000_000_123.4, sha256: "ab".repeat(32), node: "OCTO1", src: FROM_1, ...extra });

describe("the copy manifest", () => {
  it("vouches for a target only while its size and mtime are the recorded ones", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    writeFileSync(file, record("TaskLogs/a.txt") + "\n");
    const index = await loadManifest(nodeFileOps, file);
    expect(index.vouchesFor("TaskLogs/a.txt", 5, 1_790_000_000_123.4, FROM_1)).toBe(true);
    expect(index.vouchesFor("TaskLogs/a.txt", 6, 1_790_000_000_123.4, FROM_1)).toBe(false);
    expect(index.vouchesFor("TaskLogs/a.txt", 5, 1_790_000_009_000, FROM_1)).toBe(false);
    expect(index.vouchesFor("TaskLogs/b.txt", 5, 1_790_000_000_123.4, FROM_1)).toBe(false);
  });

  it("vouches for a target whose mtime rounds to the other millisecond than the recorded one", async () => {
    // utimes and the listing can leave the target a few microseconds from the source, on either side
    // of a .5 ms: a no-op re-run must still trust the record instead of re-hashing the file.
    const file = path.join(dir("m"), "manifest.jsonl");
    writeFileSync(file, record("TaskLogs/a.txt", { mtimeMs: 1_790_000_000_123.4996 }) + "\n");
    const index = await loadManifest(nodeFileOps, file);
    expect(index.vouchesFor("TaskLogs/a.txt", 5, 1_790_000_000_123.5004, FROM_1)).toBe(true);
    expect(index.writtenFrom("TaskLogs/a.txt", 5, 1_790_000_000_123.5004, FROM_1)).toBe(true);
    expect(index.vouchesFor("TaskLogs/a.txt", 5, 1_790_000_000_125.6, FROM_1)).toBe(false);
  });

  it("keeps the latest record of a file that was copied again after it grew", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    writeFileSync(
      file,
      record("TaskLogs/a.txt") +
        "\n" +
        record("TaskLogs/a.txt", { size: 9, mtimeMs: 1_790_000_060_000, node: "OCTO2", src: FROM_2 }) +
        "\n",
    );
    const index = await loadManifest(nodeFileOps, file);
    expect(index.writtenFrom("TaskLogs/a.txt", 9, 1_790_000_060_000, FROM_2)).toBe(true);
    expect(index.writtenFrom("TaskLogs/a.txt", 9, 1_790_000_060_000, FROM_1)).toBe(false);
    expect(index.vouchesFor("TaskLogs/a.txt", 9, 1_790_000_000_123.4, FROM_1)).toBe(false);
  });

  it("ignores a last line torn by a crash and keeps every committed record", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    writeFileSync(file, record("a") + "\n" + record("b") + "\n" + record("c").slice(0, 30));
    const index = await loadManifest(nodeFileOps, file);
    expect(index.size).toBe(2);
  });

  it("a line that is not a record (edited, damaged) is ignored and counted, and the records around it still vouch", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    const damaged = [
      "null",
      "[1,2]",
      '{"v":2}',
      '{"v":"2","relPath":"x"}',
      record("TaskLogs/n.txt", { relPath: 5 }),
      record("TaskLogs/h.txt", { sha256: "ab" }),
      "{not json",
    ];
    writeFileSync(file, [record("TaskLogs/a.txt"), ...damaged, record("TaskLogs/b.txt")].join("\n") + "\n");
    const index = await loadManifest(nodeFileOps, file);
    expect(index.damaged).toEqual({ lines: damaged.length, first: `Manifest '${file}' line 2` });
    expect(index.size).toBe(2);
    expect(index.vouchesFor("TaskLogs/b.txt", 5, 1_790_000_000_123.4, FROM_1)).toBe(true);
    expect(index.vouchesFor("TaskLogs/h.txt", 5, 1_790_000_000_123.4, FROM_1)).toBe(false);
  });

  it("a writer opening a manifest torn by a crash starts on a new line: the torn bytes stay one ignored line, the next record is whole", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    writeFileSync(file, record("TaskLogs/a.txt") + "\n" + record("TaskLogs/torn.txt").slice(0, 30));
    const writer = await ManifestWriter.open(nodeFileOps, file);
    writer.add(JSON.parse(record("TaskLogs/b.txt")) as ManifestRecord);
    await writer.close();
    const index = await loadManifest(nodeFileOps, file);
    expect(index.vouchesFor("TaskLogs/b.txt", 5, 1_790_000_000_123.4, FROM_1)).toBe(true);
    expect(index.damaged?.lines).toBe(1); // the torn bytes, now a line of their own
    // An intact manifest gets no blank line.
    const clean = path.join(dir("m"), "manifest.jsonl");
    writeFileSync(clean, record("TaskLogs/a.txt") + "\n");
    const again = await ManifestWriter.open(nodeFileOps, clean);
    again.add(JSON.parse(record("TaskLogs/b.txt")) as ManifestRecord);
    await again.close();
    expect(readFileSync(clean, "utf8")).toBe(record("TaskLogs/a.txt") + "\n" + record("TaskLogs/b.txt") + "\n");
  });

  it("refuses a manifest written in another format version, saying which", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    writeFileSync(file, record("a", { v: 3 }) + "\n");
    await expect(loadManifest(nodeFileOps, file)).rejects.toMatchObject({
      code: "MANIFEST_VERSION",
      message: expect.stringContaining("expected 1 or 2, found 3"),
    });
  });

  it("reads a manifest of several MB whole (parsed in windows of its reads): every record, a long line, the right line number", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    const lines: string[] = [];
    for (let i = 0; i < 12_000; i++) lines.push(record(`TaskLogs/servertasks-${i}_A.txt`, { size: i }));
    lines.splice(5_000, 0, "", record(`TaskLogs/${"x".repeat(200_000)}.txt`, { size: 7 })); // an empty line, a line longer than a window
    writeFileSync(file, lines.join("\n") + "\n");
    const index = await loadManifest(nodeFileOps, file);
    expect(index.size).toBe(12_001);
    for (const i of [0, 4_999, 5_000, 8_191, 11_999])
      expect(index.vouchesFor(`TaskLogs/servertasks-${i}_A.txt`, i, 1_790_000_000_123.4, FROM_1)).toBe(true);
    expect(index.vouchesFor(`TaskLogs/${"x".repeat(200_000)}.txt`, 7, 1_790_000_000_123.4, FROM_1)).toBe(true);
    appendFileSync(file, record("late", { v: 3 }) + "\n");
    await expect(loadManifest(nodeFileOps, file)).rejects.toMatchObject({ message: expect.stringContaining("line 12003:") });
  });

  it("hands rollback every whole record of a manifest of several MB: names of several UTF-8 bytes across reads and windows, not a torn tail", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    // 3-byte characters shift the lines so that reads (1 MB) and windows (64 KB) fall inside them.
    const names = Array.from({ length: 15_000 }, (_, i) => `TaskLogs/日志-${"é".repeat(i % 7)}-${i}.txt`);
    names.splice(7_000, 0, `TaskLogs/${"日".repeat(70_000)}.txt`); // one line longer than a window
    names.splice(9_000, 0, `TaskLogs/${"日".repeat(900_000)}.txt`); // one line longer than a read (2.7 MB)
    writeFileSync(file, names.map((n) => record(n)).join("\n") + "\n" + record("TaskLogs/torn.txt").slice(0, 40));
    const seen: string[] = [];
    for await (const r of manifestRecords(nodeFileOps, file)) seen.push(r.relPath);
    expect(seen).toEqual(names);
  });

  it("reads a version 1 manifest: its records prove no file's origin, so they vouch for no source's bytes (hashed once again)", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    writeFileSync(
      file,
      JSON.stringify({ v: 1, relPath: "TaskLogs/a.txt", size: 5, mtimeMs: 1000, sha256: "ab".repeat(32), node: "OCTO1" }) + "\n",
    );
    const index = await loadManifest(nodeFileOps, file);
    expect(index.size).toBe(1);
    expect(index.vouchesFor("TaskLogs/a.txt", 5, 1000, FROM_1)).toBe(false);
    expect(index.writtenFrom("TaskLogs/a.txt", 5, 1000, FROM_1)).toBe(false);
  });

  describe("snapshot of the index", () => {
    const lines = (from: number, to: number, extra: Record<string, unknown> = {}): string => {
      let out = "";
      for (let i = from; i < to; i++) out += record(`TaskLogs/servertasks-${i}_x.txt`, { size: i, ...extra }) + "\n";
      return out;
    };
    const snapshotted = async (file: string): Promise<void> => {
      const index = await loadManifest(nodeFileOps, file);
      await refreshManifestSnapshot(nodeFileOps, file, index);
      expect(existsSync(snapshotPathOf(file))).toBe(true);
    };

    it("gives a re-run the same answers as parsing the manifest, without parsing it", async () => {
      const file = path.join(dir("m"), "manifest.jsonl");
      writeFileSync(
        file,
        lines(0, 3000) + record("TaskLogs/servertasks-5_x.txt", { size: 5, mtimeMs: 1_790_000_060_000, node: "OCTO2", src: FROM_2 }) + "\n",
      );
      await snapshotted(file);
      const index = await loadManifest(nodeFileOps, file);
      expect(index.snapshotFresh).toBe(true);
      expect(index.size).toBe(3000);
      expect(index.vouchesFor("TaskLogs/servertasks-2999_x.txt", 2999, 1_790_000_000_123.4, FROM_1)).toBe(true);
      expect(index.vouchesFor("TaskLogs/servertasks-3000_x.txt", 3000, 1_790_000_000_123.4, FROM_1)).toBe(false);
      expect(index.writtenFrom("TaskLogs/servertasks-5_x.txt", 5, 1_790_000_060_000, FROM_2)).toBe(true);
      expect(index.writtenFrom("TaskLogs/servertasks-5_x.txt", 5, 1_790_000_060_000, FROM_1)).toBe(false);
      expect(index.vouchesFor("TaskLogs/servertasks-5_x.txt", 5, 1_790_000_000_123.4, FROM_1)).toBe(false);
      // The snapshot is the index, not the manifest: proven by a manifest whose lines no longer parse.
      const bytes = readFileSync(file);
      writeFileSync(
        file,
        Buffer.from(
          bytes.toString("latin1").replace(/"v":2,"relPath":"TaskLogs\/servertasks-1\d_/g, '"v":2,"relPath":"TaskLogs/servertasks-1?_'),
          "latin1",
        ),
      );
      expect((await loadManifest(nodeFileOps, file)).vouchesFor("TaskLogs/servertasks-12_x.txt", 12, 1_790_000_000_123.4, FROM_1)).toBe(
        true,
      );
    });

    it("keeps mtimes from 1601 to the year 9999 to the millisecond, through a snapshot (48 bits a time)", async () => {
      const file = path.join(dir("m"), "manifest.jsonl");
      const times = [-11_644_473_600_000, -1_000_000_000_001, -1, 0, 1_790_000_000_123, 253_402_300_799_999];
      writeFileSync(file, times.map((mtimeMs, i) => record(`TaskLogs/t${i}.txt`, { mtimeMs })).join("\n") + "\n");
      await snapshotted(file);
      const index = await loadManifest(nodeFileOps, file);
      expect(index.snapshotFresh).toBe(true);
      times.forEach((mtimeMs, i) => {
        expect(index.vouchesFor(`TaskLogs/t${i}.txt`, 5, mtimeMs, FROM_1), String(mtimeMs)).toBe(true);
        expect(index.vouchesFor(`TaskLogs/t${i}.txt`, 5, mtimeMs + 2, FROM_1), String(mtimeMs + 2)).toBe(false);
        expect(index.vouchesFor(`TaskLogs/t${i}.txt`, 5, mtimeMs + 2 ** 32, FROM_1), `${mtimeMs} + 2^32`).toBe(false);
      });
    });

    it("never vouches for an mtime outside the years it keeps (the year 1000, 20000): such a file is hashed again", async () => {
      const file = path.join(dir("m"), "manifest.jsonl");
      const times = [-30_610_224_000_000, 568_971_820_800_000];
      writeFileSync(file, times.map((mtimeMs, i) => record(`TaskLogs/t${i}.txt`, { mtimeMs })).join("\n") + "\n");
      const index = await loadManifest(nodeFileOps, file);
      expect(index.size).toBe(2);
      times.forEach((mtimeMs, i) => expect(index.vouchesFor(`TaskLogs/t${i}.txt`, 5, mtimeMs, FROM_1), String(mtimeMs)).toBe(false));
    });

    it("is written at 85 % full whatever the parse grew the table to: 22 bytes a slot, the next run's table as it is", async () => {
      const file = path.join(dir("m"), "manifest.jsonl");
      writeFileSync(file, lines(0, 12_000)); // parsed in full, the table grows by halves to 17,496 slots (69 % full)
      await snapshotted(file);
      expect(statSync(snapshotPathOf(file)).size).toBe(80 + 22 * Math.ceil(12_000 / 0.85));
      const index = await loadManifest(nodeFileOps, file);
      expect(index.snapshotFresh).toBe(true);
      expect(index.size).toBe(12_000);
      for (const i of [0, 5_999, 11_999])
        expect(index.vouchesFor(`TaskLogs/servertasks-${i}_x.txt`, i, 1_790_000_000_123.4, FROM_1)).toBe(true);
      expect(index.vouchesFor("TaskLogs/servertasks-12000_x.txt", 12_000, 1_790_000_000_123.4, FROM_1)).toBe(false);
    });

    it("an older snapshot (version 3: a double per mtime) is not read as this one: the manifest is parsed again", async () => {
      const file = path.join(dir("m"), "manifest.jsonl");
      writeFileSync(file, lines(0, 50));
      await snapshotted(file);
      const snap = readFileSync(snapshotPathOf(file));
      snap.writeUInt32LE(3, 4);
      writeFileSync(snapshotPathOf(file), snap);
      const index = await loadManifest(nodeFileOps, file);
      expect(index.snapshotFresh).toBe(false);
      expect(index.vouchesFor("TaskLogs/servertasks-49_x.txt", 49, 1_790_000_000_123.4, FROM_1)).toBe(true);
    });

    it("adds the lines appended since the snapshot, and a torn last line stays ignored", async () => {
      const file = path.join(dir("m"), "manifest.jsonl");
      writeFileSync(file, lines(0, 100));
      await snapshotted(file);
      appendFileSync(file, lines(100, 150) + record("TaskLogs/torn.txt").slice(0, 40));
      const index = await loadManifest(nodeFileOps, file);
      expect(index.snapshotFresh).toBe(false);
      expect(index.size).toBe(150);
      expect(index.vouchesFor("TaskLogs/servertasks-149_x.txt", 149, 1_790_000_000_123.4, FROM_1)).toBe(true);
      // The refreshed snapshot stops before the torn line; a later batch after it is still read.
      await refreshManifestSnapshot(nodeFileOps, file, index);
      appendFileSync(file, "\n" + lines(150, 151));
      const again = await loadManifest(nodeFileOps, file);
      expect(again.size).toBe(151);
      expect(again.vouchesFor("TaskLogs/torn.txt", 5, 1_790_000_000_123.4, FROM_1)).toBe(false);
    });

    it("is ignored when the manifest was replaced, cut short, or the snapshot is damaged", async () => {
      const file = path.join(dir("m"), "manifest.jsonl");
      writeFileSync(file, lines(0, 200));
      await snapshotted(file);
      // Replaced by a longer manifest with other records: the snapshot must not vouch for the old ones.
      writeFileSync(file, lines(0, 300, { mtimeMs: 1_790_000_555_000 }));
      let index = await loadManifest(nodeFileOps, file);
      expect(index.vouchesFor("TaskLogs/servertasks-7_x.txt", 7, 1_790_000_000_123.4, FROM_1)).toBe(false);
      expect(index.vouchesFor("TaskLogs/servertasks-7_x.txt", 7, 1_790_000_555_000, FROM_1)).toBe(true);
      expect(index.size).toBe(300);

      writeFileSync(file, lines(0, 200));
      await snapshotted(file);
      truncateSync(file, 1000); // shorter than the snapshot covers
      index = await loadManifest(nodeFileOps, file);
      expect(index.snapshotFresh).toBe(false);
      expect(index.vouchesFor("TaskLogs/servertasks-150_x.txt", 150, 1_790_000_000_123.4, FROM_1)).toBe(false);

      writeFileSync(file, lines(0, 200));
      await snapshotted(file);
      const snap = readFileSync(snapshotPathOf(file));
      for (const damage of [
        snap.subarray(0, snap.length - 7),
        Buffer.concat([snap, Buffer.from("x")]),
        Buffer.from(snap.map((b, i) => (i === 200 ? b ^ 1 : b))),
      ]) {
        writeFileSync(snapshotPathOf(file), damage);
        index = await loadManifest(nodeFileOps, file);
        expect(index.snapshotFresh).toBe(false);
        expect(index.size).toBe(200);
      }
    });
  });
});

describe("write-ahead intents in the manifest", () => {
  const intent = (relPath: string, state: "open" | "withdrawn" = "open"): string =>
    JSON.stringify({ v: 2, relPath, size: 5, mtimeMs: 1_790_000_000_123.4, node: "OCTO1", src: FROM_1, intent: state });

  it("an intent stays open until a done or withdrawn record for its path, and vouches for nothing", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    const lines = [intent("TaskLogs/a.txt"), intent("TaskLogs/b.txt"), intent("TaskLogs/c.txt"), record("TaskLogs/a.txt")];
    writeFileSync(file, [...lines, intent("TaskLogs/b.txt", "withdrawn")].join("\n") + "\n");
    const index = await loadManifest(nodeFileOps, file);
    expect(index.intentFor("TaskLogs/a.txt")).toBeUndefined();
    expect(index.intentFor("TaskLogs/b.txt")).toBeUndefined();
    expect(index.intentFor("TaskLogs/c.txt")).toMatchObject({ src: FROM_1, intent: "open" });
    expect(index.vouchesFor("TaskLogs/c.txt", 5, 1_790_000_000_123.4, FROM_1)).toBe(false);
    expect(index.vouchesFor("TaskLogs/a.txt", 5, 1_790_000_000_123.4, FROM_1)).toBe(true);
  });

  it("a version 2 manifest of the previous release, continued with intents: both read, the old records with an origin still vouch", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    const before = [
      record("TaskLogs/old.txt"),
      JSON.stringify({ v: 1, relPath: "TaskLogs/v1.txt", size: 5, mtimeMs: 7, sha256: "cd".repeat(32) }),
    ];
    writeFileSync(file, [...before, intent("TaskLogs/new.txt")].join("\n") + "\n");
    const index = await loadManifest(nodeFileOps, file);
    expect(index.vouchesFor("TaskLogs/old.txt", 5, 1_790_000_000_123.4, FROM_1)).toBe(true);
    expect(index.vouchesFor("TaskLogs/v1.txt", 5, 7, FROM_1)).toBe(false); // no origin: hashed once more
    expect(index.intentFor("TaskLogs/new.txt")).toBeDefined();
  });

  it("an open intent survives the index snapshot: appended again past the bytes it covers", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    writeFileSync(file, [record("TaskLogs/a.txt"), intent("TaskLogs/gone.txt")].join("\n") + "\n");
    await refreshManifestSnapshot(nodeFileOps, file, await loadManifest(nodeFileOps, file));
    expect(existsSync(snapshotPathOf(file))).toBe(true);
    const next = await loadManifest(nodeFileOps, file);
    expect(readFileSync(file, "utf8").match(/gone\.txt/g)).toHaveLength(2); // the intent, again past the snapshot's end
    expect(next.intentFor("TaskLogs/gone.txt")).toMatchObject({ intent: "open" });
    expect(next.vouchesFor("TaskLogs/a.txt", 5, 1_790_000_000_123.4, FROM_1)).toBe(true);
  });

  describe("written ahead for the files queued to be copied (ManifestWriter.announce)", () => {
    const open = (relPath: string): ManifestRecord => ({
      v: 2,
      relPath,
      size: 5,
      mtimeMs: 1_790_000_000_123.4,
      node: "OCTO1",
      src: FROM_1,
      intent: "open",
    });
    const writerIn = async () => {
      const root = dir("m");
      const file = path.join(root, ".octoha", "manifest.jsonl");
      const ops = countingOps({ source: dir("src"), target: root });
      return { file, ops, writer: await ManifestWriter.open(ops, file) };
    };

    it("shares the first intent's batch: the next copies find theirs durable without a write or an fsync of their own", async () => {
      const { file, ops, writer } = await writerIn();
      for (const name of ["a", "b", "c", "d"]) writer.announce(open(`TaskLogs/${name}.txt`));
      await writer.intend(open("TaskLogs/a.txt"));
      expect(ops.counts.get("state:fsync")).toBe(1);
      for (const name of ["b", "c", "d"]) await writer.intend(open(`TaskLogs/${name}.txt`));
      expect(ops.counts.get("state:fsync")).toBe(1);
      expect(ops.counts.get("state:write")).toBe(1);
      const before = readFileSync(file, "utf8").trim().split("\n");
      expect(before.map((l) => (JSON.parse(l) as ManifestRecord).relPath).sort()).toEqual(
        ["a", "b", "c", "d"].map((n) => `TaskLogs/${n}.txt`),
      );
      await writer.close();
      expect((await loadManifest(nodeFileOps, file)).openIntentCount).toBe(4); // all claimed: none withdrawn
    });

    it("withdraws at close an intent written ahead whose copy never asked for it (stopped), and drops one never written", async () => {
      const { file, writer } = await writerIn();
      writer.announce(open("TaskLogs/a.txt"));
      writer.announce(open("TaskLogs/unused.txt"));
      await writer.intend(open("TaskLogs/a.txt"));
      writer.announce(open("TaskLogs/never-written.txt")); // no batch after it
      writer.add({
        v: 2,
        relPath: "TaskLogs/a.txt",
        size: 5,
        mtimeMs: 1_790_000_000_123.4,
        sha256: "ab".repeat(32),
        node: "OCTO1",
        src: FROM_1,
      });
      await writer.close();
      const index = await loadManifest(nodeFileOps, file);
      expect(index.openIntentCount).toBe(0);
      expect(index.vouchesFor("TaskLogs/a.txt", 5, 1_790_000_000_123.4, FROM_1)).toBe(true);
      const states = new Map<string, string>();
      for await (const r of manifestRecords(nodeFileOps, file)) states.set(r.relPath, r.intent ?? "done");
      expect(Object.fromEntries(states)).toEqual({ "TaskLogs/a.txt": "done", "TaskLogs/unused.txt": "withdrawn" });
    });

    it("a copy that asks again after withdrawing its intent (a retry) gets a new open intent, written and fsync'd anew", async () => {
      const { file, ops, writer } = await writerIn();
      writer.announce(open("TaskLogs/a.txt"));
      await writer.intend(open("TaskLogs/a.txt"));
      await writer.intend({ ...open("TaskLogs/a.txt"), intent: "withdrawn" });
      await writer.intend(open("TaskLogs/a.txt"));
      expect(ops.counts.get("state:fsync")).toBe(3);
      await writer.close();
      expect((await loadManifest(nodeFileOps, file)).intentFor("TaskLogs/a.txt")).toMatchObject({ intent: "open" });
    });
  });
});
