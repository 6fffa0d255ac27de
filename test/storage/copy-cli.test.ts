import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { allFiles, snapshot, tempDirs, writeFile } from "./helpers.js";
import { resultOf } from "../helpers/envelope.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const main = path.join(repo, "dist", "cli", "main.js");

const dir = tempDirs();

function tree(files: number, bytesEach: number): string {
  const source = dir("source");
  for (let i = 0; i < files; i++) writeFile(source, `TaskLogs/servertasks-${i}_ABCDEFGHIJ.txt`, Buffer.alloc(bytesEach, 97 + (i % 26)));
  return source;
}

/** The paths of the manifest's done records (verified files), or of its `intent` records. */
function manifestPaths(file: string, intent?: "open" | "withdrawn"): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.endsWith("}"))
    .map((l) => JSON.parse(l) as { relPath: string; intent?: string })
    .filter((r) => r.intent === intent)
    .map((r) => r.relPath);
}

function run(args: string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: "utf8", timeout: 60_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Start a copy and SIGKILL it once the manifest holds at least `after` verified files. */
async function killMidCopy(args: string[], manifest: string, after: number): Promise<void> {
  const child = spawn(process.execPath, [main, ...args], { stdio: "ignore" });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && manifestPaths(manifest).length < after && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 10));
  child.kill("SIGKILL");
  await exited;
}

describe("octoha copy", () => {
  it("killed with SIGKILL mid-copy and re-run: a partial file only under an open intent, nothing verified copied again, identical tree", async () => {
    const source = tree(300, 48 * 1024);
    const target = dir("target");
    const manifest = path.join(target, ".octoha", "manifest-copy.jsonl");
    const args = ["copy", source, target, "--concurrency", "1", "--node", "OCTO1", "--json"];
    await killMidCopy(args, manifest, 20);

    const verifiedBeforeKill = manifestPaths(manifest);
    expect(verifiedBeforeKill.length).toBeGreaterThanOrEqual(20);
    expect(verifiedBeforeKill.length).toBeLessThan(300); // it really was killed mid-copy
    const src = snapshot(source);
    const intended = manifestPaths(manifest, "open");
    for (const [rel, f] of snapshot(target)) {
      if (rel.endsWith(".octoha-tmp") || rel.startsWith(".octoha/")) continue;
      // A file being written at the kill sits under its final name: its intent (durable before it was created) says so.
      if (f.sha256 !== src.get(rel)!.sha256) expect(intended, `${rel} is incomplete, and covered by an intent`).toContain(rel);
      if (f.sha256 !== src.get(rel)!.sha256) expect(verifiedBeforeKill).not.toContain(rel);
    }

    const again = run(args);
    expect(again.status).toBe(0);
    const summary = resultOf<{ filesCopied: number; filesSkipped: number }>(again.stdout, "copy", 0);
    expect(summary.filesCopied + summary.filesSkipped).toBe(300);
    expect(summary.filesSkipped).toBeGreaterThanOrEqual(verifiedBeforeKill.length);
    const recopied = manifestPaths(manifest)
      .slice(verifiedBeforeKill.length)
      .filter((p) => verifiedBeforeKill.includes(p));
    expect(recopied).toEqual([]);
    expect(snapshot(target)).toEqual(src);
    expect(allFiles(target).filter((f) => f.endsWith(".octoha-tmp"))).toEqual([]);
  });

  it.each([
    ["SIGINT", "Ctrl-C"],
    ["SIGHUP", "a dropped SSH session"],
  ] as const)("%s (%s) stops it cleanly: exit 3, its lock released, no temp file; re-running finishes", async (signal, _why) => {
    const source = tree(200, 48 * 1024);
    const target = dir("target");
    const manifest = path.join(target, ".octoha", "manifest-copy.jsonl");
    const child = spawn(process.execPath, [main, "copy", source, target, "--concurrency", "1", "--json"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && manifestPaths(manifest).length < 5 && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 10));
    child.kill(signal);
    expect(await exited).toBe(3);
    expect(resultOf<{ interrupted: boolean }>(stdout, "copy", 3).interrupted).toBe(true);
    expect(existsSync(path.join(target, ".octoha", "copy-lock.json")), "the copy's lock was not released").toBe(false);
    expect(allFiles(target).filter((f) => f.endsWith(".octoha-tmp"))).toEqual([]);
    expect(run(["copy", source, target]).status).toBe(0);
    expect(snapshot(target)).toEqual(snapshot(source));
  });

  // A terminal that goes away (a closed window, a dropped SSH session) is a hang-up on a terminal:
  // Node 20 then aborted at exit restoring the terminal's settings (nodejs/node#51519), exit 134.
  // A pseudo-terminal from Python's pty module stands in for it; its master closed is the hang-up.
  const python = spawnSync("python3", ["--version"]).status === 0;
  it.skipIf(!python)("a terminal that goes away mid-copy: exit 3, not Node's abort (134), and re-running finishes", async () => {
    const source = tree(200, 48 * 1024);
    const target = dir("target");
    const manifest = path.join(target, ".octoha", "manifest-copy.jsonl");
    const script = [
      "import os, pty, sys, time",
      "pid, fd = pty.fork()",
      "if pid == 0:",
      "    os.execv(sys.argv[1], sys.argv[1:])",
      "deadline = time.time() + 30",
      "while time.time() < deadline and not os.path.exists(os.environ['WAIT_FOR']):",
      "    time.sleep(0.01)",
      "time.sleep(0.2)",
      "os.close(fd)",
      "print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))",
    ].join("\n");
    const child = spawn("python3", ["-c", script, process.execPath, main, "copy", source, target, "--concurrency", "1"], {
      stdio: ["ignore", "pipe", "ignore"],
      env: { ...process.env, WAIT_FOR: manifest },
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    await new Promise((resolve) => child.on("exit", resolve));
    expect(stdout.trim()).toBe("3");
    expect(existsSync(path.join(target, ".octoha", "copy-lock.json")), "the copy's lock was not released").toBe(false);
    expect(manifestPaths(manifest).length, "the copy was still running at the hang-up").toBeLessThan(200);
    expect(run(["copy", source, target]).status).toBe(0);
    expect(snapshot(target)).toEqual(snapshot(source));
  });

  it("exits 1 and lists the file when one could not be copied (a symlink), after copying the rest", () => {
    const source = tree(3, 10);
    symlinkSync("/etc/hostname", path.join(source, "TaskLogs", "link.txt"));
    const target = dir("target");
    const r = run(["copy", source, target, "--json"]);
    expect(r.status).toBe(1);
    const summary = resultOf<{ filesCopied: number; errors: { relPath: string; code: string }[] }>(r.stdout, "copy", 1);
    expect(summary.filesCopied).toBe(3);
    expect(summary.errors).toEqual([expect.objectContaining({ relPath: "TaskLogs/link.txt", code: "COPY_NOT_A_FILE" })]);
  });

  it("exits 1 and names each file and folder named like octoha's temp files, in the text and in --json, after copying the rest", () => {
    const source = tree(3, 10);
    writeFile(source, "TaskLogs/r.octoha-tmp", "a user's file");
    writeFile(source, "TaskLogs/keep.octoha-tmp/a.log", "in a user's folder");
    const notCopied = [
      `failed TaskLogs/keep.octoha-tmp [COPY_TEMP_NAME]: '${path.join(source, "TaskLogs", "keep.octoha-tmp")}' is a folder whose name ends in .octoha-tmp: it and everything in it were not copied`,
      `failed TaskLogs/r.octoha-tmp [COPY_TEMP_NAME]: '${path.join(source, "TaskLogs", "r.octoha-tmp")}' is a file whose name ends in .octoha-tmp: it was not copied`,
    ];
    const text = run(["copy", source, dir("target")]);
    expect(text.status, text.stderr).toBe(1);
    for (const line of notCopied) expect(text.stdout).toContain(line);
    expect(text.stdout).toContain("rename it on the node and run the copy again");
    const target = dir("target");
    const r = run(["copy", source, target, "--json"]);
    expect(r.status).toBe(1);
    const summary = resultOf<{ filesCopied: number; errors: { relPath: string; code: string }[] }>(r.stdout, "copy", 1);
    expect(summary.filesCopied).toBe(3);
    expect(summary.errors.map((e) => `${e.code} ${e.relPath}`).sort()).toEqual([
      "COPY_TEMP_NAME TaskLogs/keep.octoha-tmp",
      "COPY_TEMP_NAME TaskLogs/r.octoha-tmp",
    ]);
    expect([...snapshot(target).keys()].every((rel) => !rel.includes("octoha-tmp"))).toBe(true);
    expect(snapshot(target).size).toBe(3);
  });

  it("names each colliding file, even one named like an API key or a password setting, in the text and in --json", () => {
    const names = ["API-PAYMENTSPROCESSOR.2.3.1.zip", "API-ORDERSERVICEBACKEND2024.1.0.0.nupkg", "Password=x.txt"];
    const source = dir("source");
    const [textTarget, jsonTarget] = [dir("target"), dir("target")];
    for (const name of names) {
      writeFile(source, name, "a\n");
      for (const target of [textTarget, jsonTarget]) writeFile(target, name, "bb\n");
    }
    const text = run(["copy", source, textTarget, "--node", "N1"]);
    expect(text.status, text.stderr).toBe(0);
    for (const name of names)
      expect(text.stdout).toContain(
        `collision (different-bytes) ${name} vs ${name}: kept the target's copy; the same name with different bytes; keep-target: the target's copy stays; other copy at ${path.join(textTarget, ".octoha", "conflicts", "N1", name)}`,
      );
    expect(text.stdout).not.toContain("***");

    const json = run(["copy", source, jsonTarget, "--node", "N1", "--json"]);
    const summary = resultOf<{ collisions: { relPath: string; targetRelPath: string; quarantinedAt: string }[] }>(json.stdout, "copy", 0);
    expect(summary.collisions.map((c) => [c.relPath, c.targetRelPath, c.quarantinedAt]).sort()).toEqual(
      names.map((name) => [name, name, path.join(jsonTarget, ".octoha", "conflicts", "N1", name)]).sort(),
    );
  });

  it("hides the SQL password and the API key from the environment's default variables, also in a file's name, in the text and in --json", () => {
    const env = {
      ...process.env,
      OCTOHA_SQL_CONNECTION_STRING: "Server=sqlsrv;Database=Octopus;User Id=octo;Password=S3cr3tPw!",
      OCTOPUS_API_KEY: "plainKeyValue42",
    };
    const names = ["d/S3cr3tPw!", "plainKeyValue42.txt"];
    const [node1, node2] = [dir("node1"), dir("node2")];
    for (const name of names) {
      writeFile(node1, name, "d\n");
      writeFile(node2, name, "d\nzz\n");
    }
    const [textTarget, jsonTarget] = [dir("target"), dir("target")];
    for (const target of [textTarget, jsonTarget]) expect(run(["copy", node1, target, "--node", "N1"], env).status).toBe(0);
    const text = run(["copy", node2, textTarget, "--node", "N2"], env);
    expect(text.status, text.stderr).toBe(0);
    const conflicts = path.join(textTarget, ".octoha", "conflicts", "N2");
    expect(text.stdout).toContain(`collision (different-bytes) d/*** vs d/***: kept the target's copy;`);
    expect(text.stdout).toContain(`other copy at ${path.join(conflicts, "d", "***")}`);
    expect(text.stdout).toContain(`collision (different-bytes) ***.txt vs ***.txt:`);
    const json = run(["copy", node2, jsonTarget, "--node", "N2", "--json"], env);
    const summary = resultOf<{ collisions: { relPath: string }[] }>(json.stdout, "copy", 0);
    expect(summary.collisions.map((c) => c.relPath).sort()).toEqual(["***.txt", "d/***"]);
    for (const output of [text.stdout, text.stderr, json.stdout, json.stderr]) {
      expect(output).not.toContain("S3cr3tPw");
      expect(output).not.toContain("plainKeyValue42");
    }
    // The bytes themselves are where they belong: only the output hides the names.
    expect(readFileSync(path.join(conflicts, "d", "S3cr3tPw!"), "utf8")).toBe("d\nzz\n");
  });

  it("says the source's .octoha is not copied, and why, in the text, in --json and in --dry-run", () => {
    const source = dir("s9");
    writeFile(source, ".octoha/conflicts/OCTO2/x.txt", "only-copy\n");
    writeFile(source, "a.txt", "a\n");
    const warning = `warning: '${path.join(source, ".octoha")}' is an octoha state folder (a copy's manifest and quarantine): not copied. To copy quarantined files, copy that folder on its own into another target.`;
    const dry = run(["copy", source, path.join(dir("parent"), "t9"), "--node", "N1", "--dry-run"]);
    expect(dry.stdout).toContain(`would copy 1 file (2 B)`);
    expect(dry.stdout).toContain(warning);
    const text = run(["copy", source, dir("t9"), "--node", "N1"]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain(warning);
    const json = run(["copy", source, dir("t9"), "--node", "N1", "--json"]);
    expect(resultOf<{ warnings?: string[] }>(json.stdout, "copy", 0).warnings).toEqual([warning.slice("warning: ".length)]);
  });

  it("a manifest emptied, cut short or deleted by hand: the re-run says so, naming it, overwrites nothing, and says it once", () => {
    const source = tree(4, 100);
    const target = dir("target");
    const manifest = path.join(target, ".octoha", "manifest-copy.jsonl");
    expect(run(["copy", source, target, "--node", "OCTO1"]).status).toBe(0);
    const written = readFileSync(manifest).length;
    const log = "TaskLogs/servertasks-0_ABCDEFGHIJ.txt";
    const before = readFileSync(path.join(target, log));
    // The log grew on the node since; without its record nothing proves the target's copy is octoha's.
    appendFileSync(path.join(source, log), "more\n");
    for (const [edit, says] of [
      [() => writeFileSync(manifest, ""), `Manifest '${manifest}' holds 0 bytes, but octoha last wrote it with ${written} bytes`],
      [() => rmSync(manifest), `Manifest '${manifest}' is gone, but octoha last wrote it with`],
      [() => truncateSync(manifest, 10), `Manifest '${manifest}' holds 10 bytes, but octoha last wrote it with`],
    ] as const) {
      edit();
      const dry = run(["copy", source, target, "--node", "OCTO1", "--dry-run"]);
      expect(dry.stdout).toContain(`warning: ${says}`);
      const r = run(["copy", source, target, "--node", "OCTO1"]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`warning: ${says}`);
      expect(r.stdout).toContain("emptied, cut short, deleted or replaced since");
      expect(r.stdout).toContain(`collision (different-bytes) ${log} vs ${log}: kept the target's copy`);
      expect(readFileSync(path.join(target, log))).toEqual(before); // never overwritten on a lost record's word
      const again = run(["copy", source, target, "--node", "OCTO1"]);
      expect(again.stdout).not.toContain("warning: Manifest");
    }
  });

  it("a name Windows cannot hold: copied as it is (exit 0), and the text says so and what to do, the dry-run too", () => {
    const source = tree(1, 10);
    writeFile(source, "TaskLogs/CON.txt", "con\n");
    writeFile(source, "TaskLogs/a|b.txt", "pipe\n");
    const target = dir("target");
    const fix =
      "Octopus on Windows cannot open them on the share: rename or remove them on the node, and their copies in the target, then re-run.";
    const dry = run(["copy", source, target, "--node", "OCTO1", "--dry-run"]);
    expect(dry.stdout).toContain(`  these would be copied all the same (not fatal), but ${fix}`);
    const r = run(["copy", source, target, "--node", "OCTO1"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("name problem (invalid-windows-name) TaskLogs/CON.txt: 'CON.txt' is the reserved device name CON");
    expect(r.stdout).toContain("name problem (invalid-windows-name) TaskLogs/a|b.txt: 'a|b.txt' contains '|'");
    expect(r.stdout).toContain(`  these are copied all the same (not fatal), but ${fix}`);
    expect(readFileSync(path.join(target, "TaskLogs", "CON.txt"), "utf8")).toBe("con\n");
    expect(readFileSync(path.join(target, "TaskLogs", "a|b.txt"), "utf8")).toBe("pipe\n");
    const clean = run(["copy", tree(1, 10), dir("target"), "--node", "OCTO1"]);
    expect(clean.stdout).not.toContain("copied all the same");
  });

  it("resume, rollback and status pointed at a copy target's .octoha say a copy is resumed by running it again", () => {
    const source = tree(2, 10);
    const target = dir("target");
    expect(run(["copy", source, target, "--node", "OCTO1"]).status).toBe(0);
    const state = path.join(target, ".octoha");
    const note = `${state} is the state folder of an \`octoha copy\` target (it holds manifest-copy.jsonl): a copy keeps no run, so nothing here resumes, rolls back or shows it; run the same \`octoha copy SRC DST\` command again to resume it.`;
    for (const verb of ["resume", "rollback", "status"]) {
      const r = run([verb, "--state-dir", state]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(note);
    }
    const empty = run(["resume", "--state-dir", dir("state")]);
    expect(empty.status).toBe(2);
    expect(empty.stderr).not.toContain("octoha copy");
  });

  it("--dry-run prints what it would copy and creates nothing", () => {
    const source = tree(5, 100);
    const target = path.join(dir("parent"), "TaskLogs");
    const r = run(["copy", source, target, "--dry-run"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("would copy 5 files");
    expect(existsSync(target)).toBe(false);
  });

  it("a missing source is bad input (exit 2) with the 'Could not find a part of the path' message and the fix", () => {
    const target = dir("target");
    const r = run(["copy", path.join(target, "missing"), path.join(target, "out")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Could not find a part of the path");
    expect(r.stderr).toContain("UNC path");
  });

  it("rejects a bad --verify value with exit code 2", () => {
    const r = run(["copy", "a", "b", "--verify", "md5"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("md5");
  });
});
