import { readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cleanEnv, runCli, withTempDir } from "../helpers/cli.js";
import { BAD_PLANS, windowsPlan, type Loose } from "./fixtures.js";
import { errorOf } from "../helpers/envelope.js";

/** Env with every variable the plans refer to, so only the plan itself can be wrong. */
const env = cleanEnv({
  OCTOPUS_API_KEY: "API-TESTKEY0000000000000000",
  OCTOHA_SQL_CONNECTION_STRING: "Server=sql01;Database=Octopus;Integrated Security=true",
});

describe("octoha check refuses a bad plan with exit 2, names the field, and writes nothing", () => {
  it("has at least 20 distinct bad plans", () => {
    expect(BAD_PLANS.length).toBeGreaterThanOrEqual(20);
    expect(new Set(BAD_PLANS.map((b) => b.name)).size).toBe(BAD_PLANS.length);
  });

  // Each case has its own temp dir; running them side by side roughly halves the wall time.
  // Concurrent tests must assert with their own context's expect.
  it.concurrent.for(BAD_PLANS.map((b) => [b.name, b] as const))("%s", async ([, bad], { expect }) =>
    withTempDir(async (dir) => {
      const file = path.join(dir, "bad.json");
      await writeFile(file, JSON.stringify(bad.plan, null, 2));
      const before = await readdir(dir);
      const result = await runCli(["check", file], { cwd: dir, env });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`${bad.path}:`);
      for (const text of bad.mentions ?? []) expect(result.stderr).toContain(text);
      if (bad.secret) {
        expect(result.stderr + result.stdout).not.toContain(bad.secret);
        expect(result.stderr).toContain("value not shown");
      }
      expect(await readdir(dir)).toEqual(before);
    }),
  );

  it("lists every problem of a plan at once", async () =>
    withTempDir(async (dir) => {
      const plan = windowsPlan() as Loose;
      plan.nodes[1].name = "OCTO1";
      plan.shared.taskLogs.octopus = "TaskLogs";
      plan.nodes[0].url = "ftp://octo1";
      const file = path.join(dir, "plan.json");
      await writeFile(file, JSON.stringify(plan));
      const result = await runCli(["check", file], { cwd: dir, env });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/3 problems/);
      for (const p of ["nodes[1].name:", "shared.taskLogs.octopus:", "nodes[0].url:"]) expect(result.stderr).toContain(p);
    }));

  it("a plan that is not JSON is refused without quoting a secret in it", async () =>
    withTempDir(async (dir) => {
      const file = path.join(dir, "plan.json");
      await writeFile(file, '{ "version": 1, "octopus": { "apiKey": API-SECRETSECRET12345678 } }');
      const result = await runCli(["check", file], { cwd: dir, env });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("not valid JSON");
      expect(result.stderr).not.toContain("SECRETSECRET12345678");
      expect(await readdir(dir)).toEqual(["plan.json"]);
    }));

  it("a missing plan file is bad input (exit 2), naming the file", async () =>
    withTempDir(async (dir) => {
      const result = await runCli(["check", path.join(dir, "nope.json")], { cwd: dir, env });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("nope.json");
      expect(await readdir(dir)).toEqual([]);
    }));

  it("--json reports the problems as JSON on stdout with exit 2", async () =>
    withTempDir(async (dir) => {
      const plan = windowsPlan() as Loose;
      plan.nodes[1].name = "octo1";
      const file = path.join(dir, "plan.json");
      await writeFile(file, JSON.stringify(plan));
      const result = await runCli(["check", file, "-f", "json"], { cwd: dir, env });
      expect(result.code).toBe(2);
      const body = { error: errorOf(result.stdout, "check", 2) } as {
        error: { code: string; issues: readonly string[]; details: { path: string; value: unknown; fix: string }[] };
      };
      expect(body.error.code).toBe("PLAN_INVALID");
      expect(body.error.issues.some((i) => i.startsWith("nodes[1].name:"))).toBe(true);
      expect(body.error.details).toEqual([
        expect.objectContaining({ path: "nodes[1].name", value: "octo1", fix: expect.stringContaining("List each node once") }),
      ]);
    }));
});
