/**
 * Two writers into one target (issue 10, item 2), through `octoha copy` as an operator runs it:
 * the second copy is refused while the first holds the target's lock, temp files are per process
 * and created exclusively, and a live process's temp file is never taken for a stale one.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyVerifyRename } from "../../src/storage/copy-file.js";
import { nodeFileOps } from "../../src/storage/index.js";
import { tempPathFor } from "../../src/storage/temp-names.js";
import { hostBootTime } from "../../src/shared/lock.js";
import { CLI } from "../helpers/cli.js";
import { allFiles, snapshot, tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tree(label: string, files: number, bytesEach: number): string {
  const source = dir(label);
  for (let i = 0; i < files; i++) writeFile(source, `TaskLogs/servertasks-${i}_${label}.txt`, Buffer.alloc(bytesEach, 97 + (i % 26)));
  return source;
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Every manifest line's hash equals the bytes now at the target under its path. */
function expectManifestMatchesDisk(target: string): void {
  const lines = readFileSync(path.join(target, ".octoha", "manifest-copy.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.endsWith("}"));
  const latest = new Map(lines.map((l) => JSON.parse(l) as { relPath: string; sha256: string }).map((r) => [r.relPath, r.sha256]));
  for (const [rel, sha] of latest)
    expect(
      createHash("sha256")
        .update(readFileSync(path.join(target, rel)))
        .digest("hex"),
      rel,
    ).toBe(sha);
}

/** The name another process on this host would give its temp file (same host tag, its pid). */
function tempNameOf(finalName: string, pid: number): string {
  const host = createHash("sha256").update(os.hostname().toLowerCase()).digest("hex").slice(0, 6);
  return `${finalName}.${host}-${pid.toString(36)}-abcd.octoha-tmp`;
}

function deadPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid!;
}

describe("two copies into one target", () => {
  it("the second is refused with exit 1 naming the holder and the unlock command, and the first finishes intact", async () => {
    const first = tree("one", 600, 16 * 1024);
    const second = tree("two", 50, 1024);
    const target = dir("target");
    const lock = path.join(target, ".octoha", "copy-lock.json");
    const a = spawn(process.execPath, [CLI, "copy", first, target, "--concurrency", "1", "--json"], { stdio: "ignore" });
    const exited = new Promise<number | null>((resolve) => a.on("exit", (code) => resolve(code)));
    try {
      await until("the first copy's target lock", () => existsSync(lock) || a.exitCode !== null);
      // Frozen while it holds the lock: the second copy meets it whatever the machine's speed.
      a.kill("SIGSTOP");
      const b = run(["copy", second, target]);
      expect(b.status, b.stderr).toBe(1);
      expect(b.stderr).toContain(`The copy target ${target} is locked by run copy-`);
      expect(b.stderr).toContain(`by ${os.userInfo().username}@${os.hostname()}, pid ${a.pid}`);
      expect(b.stderr).toMatch(/since \d{4}-\d\d-\d\dT/);
      const held = JSON.parse(readFileSync(lock, "utf8")) as { id: string };
      expect(b.stderr).toContain(`octoha unlock ${held.id} --target ${JSON.stringify(target)}`);
      expect(allFiles(target).filter((f) => f.includes("_two"))).toEqual([]);
    } finally {
      a.kill("SIGCONT");
    }
    expect(await exited).toBe(0);
    expect(existsSync(lock)).toBe(false);
    expect(snapshot(target)).toEqual(snapshot(first));
    expectManifestMatchesDisk(target);
    // Once the first is done, the second goes through.
    expect(run(["copy", second, target]).status).toBe(0);
  });

  it("a live process's temp file in the target is left alone, and an untagged one (not provably ours); a dead process's is removed", () => {
    const source = tree("src", 3, 100);
    const target = dir("target");
    const folder = path.join(target, "TaskLogs");
    writeFile(target, "TaskLogs/servertasks-0_src.txt", "x"); // makes the copy list this folder
    const live = tempNameOf("servertasks-1_src.txt", process.pid); // this test process: alive
    const dead = tempNameOf("servertasks-2_src.txt", deadPid());
    const untagged = "servertasks-2_src.txt.octoha-tmp"; // an older octoha's, or a user's file
    for (const name of [live, dead, untagged]) writeFileSync(path.join(folder, name), "partial");
    const r = run(["copy", source, target, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const temps = allFiles(target)
      .filter((f) => f.endsWith(".octoha-tmp"))
      .map((f) => path.basename(f));
    expect(temps.sort()).toEqual([live, untagged].sort());
    expect(readFileSync(path.join(folder, live), "utf8")).toBe("partial");
    expect(readFileSync(path.join(folder, untagged), "utf8")).toBe("partial");
  });

  it("a lock left by a killed copy on this host is taken over by the re-run, with a warning", async () => {
    const source = tree("src", 300, 48 * 1024);
    const target = dir("target");
    const a = spawn(process.execPath, [CLI, "copy", source, target, "--concurrency", "1"], { stdio: "ignore" });
    const exited = new Promise((resolve) => a.on("exit", resolve));
    await until("the copy's target lock", () => existsSync(path.join(target, ".octoha", "copy-lock.json")));
    a.kill("SIGKILL");
    await exited;
    const r = run(["copy", source, target]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/warning: Took over the lock of run copy-.*: process \d+ on .* is no longer running/);
    expect(snapshot(target)).toEqual(snapshot(source));
    expect(allFiles(target).filter((f) => f.endsWith(".octoha-tmp"))).toEqual([]);
  });
});

describe("a lock left behind when nothing is left to copy", () => {
  /** A lock file as a copy on this host writes it, held by `pid`. */
  function lockHeldBy(target: string, pid: number): string {
    const now = new Date().toISOString();
    const file = path.join(target, ".octoha", "copy-lock.json");
    const info = {
      id: "copy-killed",
      operation: "copy",
      who: os.userInfo().username,
      host: os.hostname(),
      pid,
      version: "0.1.0",
      created: now,
      path: target,
      heartbeat: now,
    };
    writeFileSync(file, JSON.stringify(info));
    return file;
  }

  it("a dead holder's (a kill -9 after the last file) is let go by the re-run that finds every file there", () => {
    const source = tree("src", 20, 100);
    const target = dir("target");
    expect(run(["copy", source, target]).status).toBe(0);
    const lock = lockHeldBy(target, deadPid());
    const r = run(["copy", source, target, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('"filesSkipped":20');
    expect(existsSync(lock)).toBe(false);
    expect(snapshot(target)).toEqual(snapshot(source));
  });

  it("a live holder's is left alone, and the re-run with nothing to copy still succeeds", () => {
    const source = tree("src", 20, 100);
    const target = dir("target");
    expect(run(["copy", source, target]).status).toBe(0);
    const lock = lockHeldBy(target, process.pid); // this test process: alive
    const r = run(["copy", source, target, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(lock, "utf8"))).toMatchObject({ id: "copy-killed", pid: process.pid });
  });
});

describe("a copy suspended with Ctrl-Z", () => {
  it("keeps the target's lock however old its heartbeat: unlock --target without --force and another copy are refused, saying it is alive here", async () => {
    const source = tree("src", 3, 10);
    const target = dir("target");
    // Stands for the suspended copy: a live process on this host that writes nothing.
    const holder = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    const pid = holder.pid!;
    holder.kill("SIGSTOP");
    try {
      const file = path.join(target, ".octoha", "copy-lock.json");
      mkdirSync(path.dirname(file), { recursive: true });
      const then = new Date(Date.now() - 180_000).toISOString();
      writeFileSync(
        file,
        JSON.stringify({
          id: "copy-suspended",
          operation: "copy",
          who: "ops",
          host: os.hostname(),
          pid,
          boot: hostBootTime(),
          version: "0.1.0",
          created: then,
          path: target,
          heartbeat: then,
        }),
      );
      const unlocked = run(["unlock", "copy-suspended", "--target", target]);
      expect(unlocked.status, unlocked.stdout).toBe(1);
      expect(unlocked.stderr).toContain(`its process ${pid} is alive on this host (perhaps suspended)`);
      expect(unlocked.stderr).toContain("Bring it back with `fg` in its terminal");
      expect(existsSync(file)).toBe(true);
      const copy = run(["copy", source, target]);
      expect(copy.status).toBe(1);
      expect(copy.stderr).toContain(`The copy target ${target} is locked by run copy-suspended`);
      expect(copy.stderr).toContain(`octoha unlock copy-suspended --target ${JSON.stringify(target)} --force`);
      expect(allFiles(target), "nothing copied").toEqual([file]);
    } finally {
      holder.kill("SIGKILL");
    }
  });
});

describe("temp files", () => {
  it("are created exclusively: a file already under this process's temp name is never truncated or written", async () => {
    const d = dir("x");
    writeFileSync(path.join(d, "a.txt"), "incoming");
    const to = path.join(d, "b.txt");
    writeFileSync(tempPathFor(to), "somebody else's partial file");
    await expect(copyVerifyRename(nodeFileOps, path.join(d, "a.txt"), to)).rejects.toMatchObject({ code: "COPY_TEMP_TAKEN" });
    expect(readFileSync(tempPathFor(to), "utf8")).toBe("somebody else's partial file");
    expect(existsSync(to)).toBe(false);
  });
});
