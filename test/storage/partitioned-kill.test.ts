/**
 * A copy of a folder walked a part at a time (limits lowered: fixtures/small-parts.mjs), killed
 * with SIGKILL mid-part, then run again: the target is the source byte for byte, no temp file of
 * ours is left, and neither run left a scratch file in the temp folder.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { allFiles, snapshot, tempDirs, writeFile } from "./helpers.js";
import { TEMP_SUFFIX } from "../../src/storage/walk.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const main = path.join(repo, "dist", "cli", "main.js");
const hook = path.join(repo, "test", "storage", "fixtures", "small-parts.mjs");

const dir = tempDirs();

function verified(manifest: string): string[] {
  if (!existsSync(manifest)) return [];
  return readFileSync(manifest, "utf8")
    .split("\n")
    .filter((l) => l.endsWith("}"))
    .map((l) => JSON.parse(l) as { relPath: string; intent?: string })
    .filter((r) => r.intent === undefined)
    .map((r) => r.relPath);
}

describe("a folder walked a part at a time, killed mid-part", () => {
  it("re-runs to a byte-identical target with no stray file and no scratch file left", async () => {
    const source = dir("source");
    // Long names, so that the folder is past WHOLE_FOLDER_BYTES and read in batches (the large folders' path).
    const n = 1500;
    for (let i = 0; i < n; i++)
      writeFile(source, `TaskLogs/servertasks-${i}_ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefgh.txt`, `log ${i}\n`.repeat(20));
    const target = dir("target");
    const scratch = dir("scratch");
    const manifest = path.join(target, ".octoha", "manifest-copy.jsonl");
    const args = ["--import", hook, main, "copy", source, target, "--concurrency", "1", "--node", "OCTO1", "--json"];
    const env = { ...process.env, TMPDIR: scratch };

    const child = spawn(process.execPath, args, { stdio: "ignore", env });
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && verified(manifest).length < 300 && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    child.kill("SIGKILL");
    await exited;
    const before = verified(manifest);
    expect(before.length).toBeGreaterThanOrEqual(300);
    expect(before.length).toBeLessThan(n); // killed mid-copy, parts of 40 names: mid-part
    // Walked by part: the first files copied are not the first in sorted order.
    expect(before.slice(0, 40)).not.toEqual([...before].sort().slice(0, 40));
    expect(readdirSync(scratch)).toEqual([]); // unlinked while open: the kill left nothing

    const again = spawnSync(process.execPath, args, { encoding: "utf8", env, timeout: 120_000 });
    expect(again.status, again.stderr).toBe(0);
    expect(snapshot(target)).toEqual(snapshot(source));
    expect(allFiles(target).filter((f) => f.endsWith(TEMP_SUFFIX))).toEqual([]);
    expect(readdirSync(scratch)).toEqual([]);
  }, 180_000);
});
