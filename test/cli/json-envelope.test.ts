/** Every verb reports an error with --json as the same one-line envelope on stdout, and as text on stderr. */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cleanEnv, runCli, withTempDir } from "../helpers/cli.js";

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
        ["copy", ["copy", path.join(dir, "no-such-source"), path.join(dir, "target"), "--json"], 1, "COPY_PATH_NOT_FOUND"],
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
