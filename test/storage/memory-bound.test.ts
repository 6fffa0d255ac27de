/**
 * Memory that does not grow with a folder: the planner (the CLI's `copy --dry-run`, one pass that
 * plans and predicts as it lists) over one flat folder of 200 000 entries, in a child whose heap is
 * capped at 96 MB. Half the names collide with the target: a summary that kept every collision (or
 * printed it) would not fit.
 */
import { execFile } from "node:child_process";
import { closeSync, existsSync, futimesSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, cleanEnv } from "../helpers/cli.js";
import { resultOf } from "../helpers/envelope.js";

const ENTRIES = 200_000;
const COLLIDING = 100_000;
// On tmpfs where there is one: the subject is the planner's heap, not the disk, and writing and removing
// 500 000 files costs less CPU there (this file alone: 31.5 s of CPU on ext4, 26.3 s on tmpfs).
const root = mkdtempSync(path.join(existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), "octoha-memory-"));
// Removing 300 000 files takes more than the default minute on a busy machine.
afterAll(() => rmSync(root, { recursive: true, force: true }), 300_000);

const nameOf = (i: number) => `servertasks-${i}_ABCDEFGHIJ.txt`;
const MTIME = new Date("2024-05-01T10:00:00Z");

/** Writes files 0..count-1 into dir, each holding `bytes` and dated MTIME: one open, write and close each, all sync. */
function writeFiles(dir: string, count: number, bytes: string): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const fd = openSync(path.join(dir, nameOf(i)), "w");
    if (bytes) writeSync(fd, bytes);
    futimesSync(fd, MTIME, MTIME);
    closeSync(fd);
  }
}

/**
 * One source folder for both tests (neither writes to it: a dry-run, and a copy with every file skipped): 200 000
 * empty files, all dated MTIME. Each test writes its own target. The tests run concurrently: one's child works
 * while the other writes its target.
 */
const source = path.join(root, "node", "TaskLogs");
beforeAll(() => writeFiles(source, ENTRIES, ""), 300_000);

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--max-old-space-size=96", CLI, ...args],
      { env: cleanEnv(), timeout: 300_000, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe.concurrent("a 200 000-entry folder through the planner with a 96 MB heap", () => {
  it("completes, with every file and collision counted", { timeout: 600_000 }, async () => {
    const target = path.join(root, "shared", "TaskLogs");
    // Empty source files (cheap); the target holds a 1-byte file under half the names: other bytes.
    writeFiles(target, COLLIDING, "x");
    const r = await run(["copy", source, target, "--dry-run", "--json", "--node", "OCTO2"]);
    expect(r.stderr).not.toContain("heap out of memory");
    expect(r.code).toBe(0);
    const summary = resultOf<{
      filesCopied: number;
      collisions: unknown[];
      collisionsOmitted: number;
      collisionsByKind: Record<string, number>;
    }>(r.stdout, "copy", 0);
    expect(summary.filesCopied).toBe(ENTRIES - COLLIDING);
    expect(summary.collisions).toHaveLength(1000);
    expect(summary.collisionsOmitted).toBe(COLLIDING - 1000);
    expect(summary.collisionsByKind).toEqual({ "different-bytes": COLLIDING });
  });
});

describe.concurrent("a no-op re-run over a 200 000-entry folder with a 96 MB heap", () => {
  it("completes with every file skipped: the source's listing and the target's index fit together", { timeout: 600_000 }, async () => {
    const target = path.join(root, "noop", "shared", "TaskLogs");
    // The target already holds every file (same size and mtime): `--verify size` trusts them, as a re-run does.
    writeFiles(target, ENTRIES, "");
    const r = await run(["copy", source, target, "--verify", "size", "--json", "--node", "OCTO2"]);
    expect(r.stderr).not.toContain("heap out of memory");
    expect(r.code).toBe(0);
    const summary = resultOf<{ filesCopied: number; filesSkipped: number }>(r.stdout, "copy", 0);
    expect(summary.filesSkipped).toBe(ENTRIES);
    expect(summary.filesCopied).toBe(0);
    // Nothing written beside the files (the state folder aside).
    expect(readdirSync(target).filter((n) => n !== ".octoha").length).toBe(ENTRIES);
  });
});
