/**
 * Every verb with --json ends its stdout with one envelope line: the result ({ type: "result" }) or the
 * error ({ type: "error" }, also as text on stderr), carrying the exit code the process exits with.
 */
import { mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { lockFile } from "../../src/runner/lock.js";
import { cleanEnv, runCli, withTempDir } from "../helpers/cli.js";
import { envelopeOf, errorOf, resultOf } from "../helpers/envelope.js";
import { cliFixture, octoha } from "../runner/cli-fixture.js";

const ENVELOPE_KEYS = ["command", "error", "exitCode", "ok", "type"];

describe("the JSON error envelope", { timeout: 60_000 }, () => {
  it("dry-run, run, resume, status, check and copy print one line { type, ok, command, exitCode, error } with the exit code they exit with", () =>
    withTempDir(async (dir) => {
      await mkdir(path.join(dir, "empty-state"));
      const cases: [string, string[], number, string][] = [
        ["dry-run", ["dry-run", "missing.json", "--json"], 2, "PLAN_UNREADABLE"],
        ["run", ["run", "missing.json", "--json"], 2, "PLAN_UNREADABLE"],
        ["resume", ["resume", "--state-dir", "empty-state", "--json"], 2, "RUN_NOT_FOUND"],
        ["status", ["status", "missing.json", "-f", "json"], 2, "PLAN_UNREADABLE"],
        ["check", ["check", "missing.json", "--json"], 2, "PLAN_UNREADABLE"],
        ["copy", ["copy", path.join(dir, "no-such-source"), path.join(dir, "target"), "--json"], 2, "COPY_PATH_NOT_FOUND"],
      ];
      for (const [command, args, exitCode, code] of cases) {
        const r = await runCli(args, { cwd: dir, env: cleanEnv() });
        const lines = r.stdout.trim().split("\n");
        expect(lines, `${command}: ${r.stdout}`).toHaveLength(1);
        const body = JSON.parse(lines[0] ?? "") as Record<string, unknown> & { error: { code: string; message: string } };
        expect(Object.keys(body).sort(), command).toEqual(ENVELOPE_KEYS);
        expect(body, command).toMatchObject({ type: "error", ok: false, command, exitCode });
        expect(r.code, command).toBe(exitCode);
        expect(body.error.code, command).toBe(code);
        expect(body.error.message.length, command).toBeGreaterThan(0);
        expect(r.stderr, command).toContain(`octoha: ${body.error.message}`);
      }
    }));
});

describe("the JSON result envelope", { timeout: 60_000 }, () => {
  it("a success, a failure (1), a stop (3), a rollback (4) and bad input (2): the last stdout line, with the exit code the process exits with", async () => {
    const f = cliFixture();
    const init = await runCli(["init", "new.json", "--json"], { cwd: f.dir, env: cleanEnv() });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout.trim().split("\n")).toHaveLength(1);
    expect(JSON.parse(init.stdout)).toEqual({
      type: "result",
      ok: true,
      command: "init",
      exitCode: 0,
      result: { file: path.join(f.dir, "new.json") },
    });

    const source = path.join(f.dir, "source");
    await mkdir(source);
    await writeFile(path.join(source, "a.txt"), "a");
    await symlink("/etc/hostname", path.join(source, "link.txt"));
    const copy = await runCli(["copy", source, path.join(f.dir, "target"), "--json"], { env: cleanEnv() });
    expect(copy.code, copy.stderr).toBe(1);
    expect(envelopeOf(copy.stdout)).toMatchObject({ type: "result", ok: false, command: "copy", exitCode: 1 });
    expect(resultOf(copy.stdout, "copy", 1)).toMatchObject({ filesCopied: 1, errors: [{ relPath: "link.txt", code: "COPY_NOT_A_FILE" }] });

    // No terminal and no --yes: the run stops resumable at the gate.
    const stopped = await octoha(["run", f.plan, "--json"], { ...f.env, GATE: "1" });
    expect(stopped.code, stopped.stderr).toBe(3);
    const lines = stopped.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string });
    expect(lines[0]).toMatchObject({ type: "run-started" });
    expect(lines.filter((l) => l.type === "result" || l.type === "outcome")).toEqual([lines.at(-1)]);
    expect(lines.at(-1)).toMatchObject({ type: "result", ok: false, command: "run", exitCode: 3 });
    expect(resultOf(stopped.stdout, "run", 3)).toMatchObject({ status: "awaiting-approval", exitCode: 3 });

    // Rolled back is what a rollback is asked for: ok, with exit 4.
    const rolledBack = await octoha(["rollback", f.plan, "--yes", "--json"], f.env);
    expect(rolledBack.code, rolledBack.stderr).toBe(4);
    expect(resultOf(rolledBack.stdout, "rollback", 4, true)).toMatchObject({ status: "rolled-back" });

    const badPhase = await runCli(["run", f.plan, "--phase", "later", "--json"], { env: cleanEnv(f.env) });
    expect(badPhase.code).toBe(2);
    expect(badPhase.stdout.trim().split("\n")).toHaveLength(1);
    expect(errorOf(badPhase.stdout, "run", 2)).toMatchObject({ code: "BAD_PHASE", message: expect.stringContaining("--phase") });
    expect(badPhase.stderr).toContain('octoha: --phase must be "preseed" (got "later")');
  });

  it("a usage error (missing argument, bad choice) is bad input: exit 2 and, with --json or -f json, the error envelope", async () => {
    const cases: [string[], string, RegExp][] = [
      [["check", "--json"], "check", /missing required argument 'plan'/],
      [["copy", "a", "b", "--verify", "md5", "--json"], "copy", /--verify <mode>' argument 'md5' is invalid/],
      [["dry-run", "plan.json", "--workflow", "nope", "-f", "json"], "dry-run", /--workflow <name>' argument 'nope' is invalid/],
    ];
    for (const [args, command, message] of cases) {
      const r = await runCli(args, { env: cleanEnv() });
      expect(r.code, command).toBe(2);
      expect(r.stdout.trim().split("\n"), command).toHaveLength(1);
      expect(errorOf(r.stdout, command, 2)).toMatchObject({ code: "USAGE", message: expect.stringMatching(message) });
      expect(r.stderr, command).toMatch(message);
    }
    const text = await runCli(["check"], { env: cleanEnv() });
    expect(text.code).toBe(2);
    expect(text.stdout).toBe("");
  });

  it("unlock --json passes its result through the redactor: a secret in the lock file's holder is not printed", () =>
    withTempDir(async (dir) => {
      const stateDir = path.join(dir, "state");
      await mkdir(stateDir);
      const apiKey = "API-ABCDEFGHIJKLMNOPQRSTUV12";
      const holder = {
        id: "20261204T000000Z-dead",
        operation: `run with ${apiKey}`,
        who: "svc-octoha Password=hunter2-lock;",
        host: "elsewhere",
        pid: 4_000_000,
        version: "0.1.0",
        created: "2026-12-04T00:00:00.000Z",
        path: stateDir,
        heartbeat: "2026-12-04T00:00:00.000Z",
      };
      await writeFile(lockFile(stateDir), JSON.stringify(holder));
      const r = await runCli(["unlock", holder.id, "--state-dir", stateDir, "--force", "--json"], { env: cleanEnv() });
      expect(r.code, r.stderr).toBe(0);
      const result = resultOf<{ released: typeof holder; wasStale: boolean }>(r.stdout, "unlock", 0);
      expect(result.released).toMatchObject({ id: holder.id, who: "svc-octoha Password=***;", operation: "run with ***" });
      for (const text of [r.stdout, r.stderr]) {
        expect(text).not.toContain("hunter2-lock");
        expect(text).not.toContain(apiKey);
      }
    }));
});
