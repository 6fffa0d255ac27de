/**
 * A lock file is written under a private temp name, then linked (or renamed) into place. A kill -9
 * between the two left that temp file beside the lock for good: in a copy's target, a stray file in
 * `.octoha` (and a folder release could no longer remove). The next holder sweeps the dead ones and
 * never a live one.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { HOST_TAG, acquireLockFile, readLockFile } from "../../src/shared/lock.js";
import { copyTree } from "../../src/storage/index.js";
import { targetLockFile } from "../../src/storage/target-lock.js";
import { tempDirs, writeFile } from "../storage/helpers.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dir = tempDirs();

/** A child that takes the lock in `file` and SIGKILLs itself at its link (`link`) or its rename (`rename`). */
function killedWhileLocking(file: string, at: "link" | "rename"): NodeJS.Signals | null {
  const lock = path.join(repo, "dist", "shared", "lock.js");
  const script = `
    import fsp from "node:fs/promises";
    import { syncBuiltinESMExports } from "node:module";
    fsp.${at} = () => process.kill(process.pid, "SIGKILL");
    syncBuiltinESMExports();
    const { acquireLockFile } = await import(${JSON.stringify(lock)});
    await acquireLockFile({ file: ${JSON.stringify(file)}, holder: { id: "killed", operation: "copy", version: "0", path: "." },
      mayTakeOver: () => true, refuse: () => new Error("refused") });`;
  return spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }).signal;
}

const holder = { id: "next", operation: "copy", version: "0", path: "." };
const take = (file: string) => acquireLockFile({ file, holder, mayTakeOver: () => true, refuse: () => new Error("refused") });
const tempsBeside = (file: string): string[] => readdirSync(path.dirname(file)).filter((n) => n.endsWith(".tmp"));

describe("a lock's temp files", () => {
  it("a kill -9 before the link leaves one; the next holder removes it, and releasing leaves nothing", async () => {
    const file = path.join(dir("state"), "lock");
    expect(killedWhileLocking(file, "link")).toBe("SIGKILL");
    expect(tempsBeside(file)).toHaveLength(1);
    expect(existsSync(file)).toBe(false);
    const held = await take(file);
    expect(tempsBeside(file)).toEqual([]);
    await held.release();
    expect(readdirSync(path.dirname(file))).toEqual([]);
  });

  it("a kill -9 before the rename that takes over a dead holder's lock: the next holder removes it", async () => {
    const file = path.join(dir("state"), "lock");
    // A dead holder on this host, so the child takes over (and renames its temp file over the lock).
    writeFileSync(
      file,
      JSON.stringify({ id: "dead", host: (await import("node:os")).hostname(), pid: deadPid(), heartbeat: new Date().toISOString() }),
    );
    expect(killedWhileLocking(file, "rename")).toBe("SIGKILL");
    expect(tempsBeside(file)).toHaveLength(1);
    const held = await take(file);
    expect(tempsBeside(file)).toEqual([]);
    await held.release();
  });

  it("a live process's temp file stays, and another host's stays until it is older than a lock's heartbeat limit", async () => {
    const file = path.join(dir("state"), "lock");
    const live = `lock.${HOST_TAG}-${process.ppid.toString(36)}-0123abcd.tmp`;
    const elsewhere = `lock.${HOST_TAG === "abcdef" ? "fedcba" : "abcdef"}-1f-0123abcd.tmp`;
    const oldElsewhere = `lock.${HOST_TAG === "abcdef" ? "fedcba" : "abcdef"}-2f-0123abcd.tmp`;
    const notOurs = "lock-notes.tmp";
    writeFileSync(path.join(path.dirname(file), notOurs), "someone's\n");
    for (const name of [live, elsewhere, oldElsewhere]) writeFileSync(path.join(path.dirname(file), name), "{}");
    const old = Date.now() / 1000 - 3600;
    utimesSync(path.join(path.dirname(file), oldElsewhere), old, old);
    utimesSync(path.join(path.dirname(file), notOurs), old, old);
    const held = await take(file);
    expect(tempsBeside(file).sort()).toEqual([elsewhere, live, notOurs].sort());
    await held.release();
  });

  it("a copy whose target lock was being taken when a kill -9 came: the re-run leaves no .octoha behind", async () => {
    const source = dir("source");
    writeFile(source, "TaskLogs/servertasks-1_log.txt", "log\n");
    const target = dir("target");
    expect(killedWhileLocking(targetLockFile(target), "link")).toBe("SIGKILL");
    const summary = await copyTree({ source, target, sourceNode: "OCTO1" });
    expect(summary.filesCopied).toBe(1);
    expect(readdirSync(target)).toEqual(["TaskLogs"]);
  });
});

function deadPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid!;
}

describe("a lock file that is not a lock (edited by hand, damaged on disk)", () => {
  for (const text of ["null", "[]", "{}", '{"id":"r","host":"h","pid":"12","heartbeat":"now"}', "{garbage", ""]) {
    it(`${JSON.stringify(text)}: refused at once, naming the file and what to do, and left as it is`, async () => {
      const file = path.join(dir("state"), "lock");
      writeFileSync(file, text);
      const refused = await take(file).catch((error: unknown) => error);
      expect(refused).toMatchObject({
        code: "LOCK_UNREADABLE",
        message: `The lock file ${file} is not a lock octoha wrote (it was edited, or damaged on disk)`,
      });
      expect((refused as { hint?: string }).hint).toContain("delete the file by hand");
      expect(readFileSync(file, "utf8")).toBe(text);
    });
  }

  it("a copy into a target whose lock reads null is refused (it hung, reading the lock again and again)", async () => {
    const source = dir("source");
    writeFile(source, "TaskLogs/servertasks-1_log.txt", "log\n");
    const target = dir("target");
    mkdirSync(path.dirname(targetLockFile(target)), { recursive: true });
    writeFileSync(targetLockFile(target), "null");
    await expect(copyTree({ source, target, sourceNode: "OCTO1" })).rejects.toMatchObject({ code: "LOCK_UNREADABLE" });
    expect(existsSync(path.join(target, "TaskLogs"))).toBe(false);
  });
});

it("a file where the lock's folder must be: refused naming that file (it was a raw EEXIST), and a link to a folder is a folder", async () => {
  const root = dir("state");
  writeFileSync(path.join(root, "state"), "not a folder\n");
  const refused = await take(path.join(root, "state", "lock")).catch((error: unknown) => error);
  expect(refused).toMatchObject({
    code: "LOCK_FOLDER_BLOCKED",
    message: `Cannot make the folder ${path.join(root, "state")} for the lock file: '${path.join(root, "state")}' is a file, not a folder`,
  });
  const deeper = await take(path.join(root, "state", "runs", "lock")).catch((error: unknown) => error);
  expect(deeper).toMatchObject({ code: "LOCK_FOLDER_BLOCKED", path: path.join(root, "state") });
  // Through a link to a folder, the lock is taken as anywhere else.
  const real = dir("real");
  symlinkSync(real, path.join(root, "linked"));
  const held = await take(path.join(root, "linked", "deep", "lock"));
  expect(existsSync(path.join(real, "deep", "lock"))).toBe(true);
  await held.release();
});

it("a lock looked for under a file (unlock --state-dir FILE): the file is named", async () => {
  const file = path.join(dir("state"), "not-a-folder");
  writeFileSync(file, "x\n");
  await expect(readLockFile(path.join(file, "lock.json"))).rejects.toMatchObject({
    code: "LOCK_UNREADABLE",
    message: `Cannot read the lock file ${path.join(file, "lock.json")}: '${file}' is a file, not a folder`,
  });
});
