import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadManifest } from "../../src/storage/manifest.js";
import { nodeFileOps } from "../../src/storage/index.js";
import { tempDirs } from "./helpers.js";

const dir = tempDirs();
const record = (relPath: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ v: 1, relPath, size: 5, mtimeMs: 1_790_000_000_123.4, sha256: "ab".repeat(32), node: "OCTO1", ...extra });

describe("the copy manifest", () => {
  it("vouches for a target only while its size and mtime are the recorded ones", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    writeFileSync(file, record("TaskLogs/a.txt") + "\n");
    const index = await loadManifest(nodeFileOps, file);
    expect(index.vouchesFor("TaskLogs/a.txt", 5, 1_790_000_000_123.4)).toBe(true);
    expect(index.vouchesFor("TaskLogs/a.txt", 6, 1_790_000_000_123.4)).toBe(false);
    expect(index.vouchesFor("TaskLogs/a.txt", 5, 1_790_000_009_000)).toBe(false);
    expect(index.vouchesFor("TaskLogs/b.txt", 5, 1_790_000_000_123.4)).toBe(false);
  });

  it("vouches for a target whose mtime rounds to the other millisecond than the recorded one", async () => {
    // utimes and the listing can leave the target a few microseconds from the source, on either side
    // of a .5 ms: a no-op re-run must still trust the record instead of re-hashing the file.
    const file = path.join(dir("m"), "manifest.jsonl");
    writeFileSync(file, record("TaskLogs/a.txt", { mtimeMs: 1_790_000_000_123.4996 }) + "\n");
    const index = await loadManifest(nodeFileOps, file);
    expect(index.vouchesFor("TaskLogs/a.txt", 5, 1_790_000_000_123.5004)).toBe(true);
    expect(index.writtenBy("TaskLogs/a.txt", 5, 1_790_000_000_123.5004)).toBe("OCTO1");
    expect(index.vouchesFor("TaskLogs/a.txt", 5, 1_790_000_000_125.6)).toBe(false);
  });

  it("keeps the latest record of a file that was copied again after it grew", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    writeFileSync(file, record("TaskLogs/a.txt") + "\n" + record("TaskLogs/a.txt", { size: 9, mtimeMs: 1_790_000_060_000, node: "OCTO2" }) + "\n");
    const index = await loadManifest(nodeFileOps, file);
    expect(index.writtenBy("TaskLogs/a.txt", 9, 1_790_000_060_000)).toBe("OCTO2");
    expect(index.vouchesFor("TaskLogs/a.txt", 9, 1_790_000_000_123.4)).toBe(false);
  });

  it("ignores a last line torn by a crash and keeps every committed record", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    writeFileSync(file, record("a") + "\n" + record("b") + "\n" + record("c").slice(0, 30));
    const index = await loadManifest(nodeFileOps, file);
    expect(index.size).toBe(2);
  });

  it("refuses a manifest written in another format version, saying which", async () => {
    const file = path.join(dir("m"), "manifest.jsonl");
    writeFileSync(file, record("a", { v: 2 }) + "\n");
    await expect(loadManifest(nodeFileOps, file)).rejects.toMatchObject({ code: "MANIFEST_VERSION", message: expect.stringContaining("expected 1, found 2") });
  });
});
