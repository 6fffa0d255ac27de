/**
 * SIGKILL at seeded random moments of a copy onto a slow target (every call on it 2 ms:
 * fixtures/slow-target.mjs), then a plain re-run: the target ends byte-identical to the source,
 * with no stray file, nothing quarantined (a killed run's own half-written files are never taken
 * for a rival's) and every file vouched for by the manifest. On a local disk a kill finds few files
 * between their calls; on a share, with 16 in flight, it finds many.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { allFiles, snapshot, tempDirs, writeFile } from "./helpers.js";
import { resultOf } from "../helpers/envelope.js";
import { seededRandom } from "../helpers/fake-clock.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const main = path.join(repo, "dist", "cli", "main.js");
const hook = path.join(repo, "test", "storage", "fixtures", "slow-target.mjs");
const dir = tempDirs();

const FILES = 150;

/** A node's folder: task logs in one flat folder, a folder per task's artifacts, two multi-chunk packages. */
function makeSource(): string {
  const source = dir("source");
  for (let i = 0; i < 110; i++)
    writeFile(source, `TaskLogs/servertasks-${1000 + i}_log.txt`, `task ${i}\n`.repeat(30 + i), 1_790_000_000 + i);
  for (let i = 0; i < 38; i++)
    writeFile(source, `Artifacts/ServerTasks-${2000 + i}/out.txt`, `artifact ${i}\n`.repeat(200), 1_790_001_000 + i);
  for (let i = 0; i < 2; i++)
    writeFile(source, `Packages/feeds-builtin/App.${i}.nupkg`, Buffer.alloc(1_500_000 + i, 48 + i), 1_790_002_000 + i);
  return source;
}

const manifestOf = (target: string): string => path.join(target, ".octoha", "manifest-copy.jsonl");

/** Files the manifest says are done (a record with a hash and no intent). */
function doneRecords(target: string): Set<string> {
  const file = manifestOf(target);
  if (!existsSync(file)) return new Set();
  const done = new Set<string>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.endsWith("}")) continue;
    const r = JSON.parse(line) as { relPath: string; sha256?: string; intent?: string };
    if (r.sha256 && r.intent === undefined) done.add(r.relPath);
  }
  return done;
}

function args(source: string, target: string): string[] {
  return ["--import", hook, main, "copy", source, target, "--node", "OCTO1", "--json"];
}

function slowEnv(target: string): NodeJS.ProcessEnv {
  return { ...process.env, SLOW_TARGET: target, SLOW_TARGET_MS: "2" };
}

/**
 * Starts a copy and SIGKILLs it once the manifest holds `after` done records, plus up to 20 ms (a
 * kill between calls, not at a record). Returns how the child ended.
 */
async function killAfter(source: string, target: string, after: number, extraMs: number): Promise<NodeJS.Signals | number | null> {
  const child = spawn(process.execPath, args(source, target), { stdio: "ignore", env: slowEnv(target) });
  const ended = new Promise<NodeJS.Signals | number | null>((resolve) => child.on("exit", (code, signal) => resolve(signal ?? code)));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && child.exitCode === null && doneRecords(target).size < after) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, extraMs));
  child.kill("SIGKILL");
  return ended;
}

describe("SIGKILL at random moments of a copy onto a slow target, then a re-run", () => {
  it.each([11, 29])(
    "seed %i: three kills, then the re-run leaves the source's bytes, no stray file and nothing quarantined",
    async (seed) => {
      const source = makeSource();
      const target = dir("target");
      const random = seededRandom(seed);
      let landed = 0;
      let before = 0;
      for (let k = 0; k < 3; k++) {
        // Each kill after more of the copy is done than the last one's: every run gets further.
        const after = Math.min(FILES - 10, before + 5 + Math.floor(random() * 30));
        const ended = await killAfter(source, target, after, Math.floor(random() * 20));
        if (ended === "SIGKILL") landed++;
        before = doneRecords(target).size;
      }
      expect(landed, "no kill landed before its copy finished").toBeGreaterThan(0);
      expect(before, "the kills let no file be recorded").toBeGreaterThan(0);

      const r = spawnSync(process.execPath, args(source, target), { encoding: "utf8", timeout: 60_000, env: slowEnv(target) });
      expect(r.status, r.stderr).toBe(0);
      const summary = resultOf<{ filesCopied: number; filesSkipped: number; filesQuarantined?: number; collisions: unknown[] }>(
        r.stdout,
        "copy",
        0,
      );
      expect(summary.filesCopied + summary.filesSkipped).toBe(FILES);
      expect(summary.filesQuarantined ?? 0).toBe(0);
      expect(summary.collisions).toEqual([]);
      expect(snapshot(target)).toEqual(snapshot(source));
      const stray = allFiles(target).filter((f) => f.endsWith(".octoha-tmp") || f.includes(`.octoha${path.sep}conflicts`));
      expect(stray).toEqual([]);
      expect(doneRecords(target).size).toBe(FILES);
    },
    120_000,
  );
});
