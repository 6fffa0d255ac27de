/**
 * The in-process command line the e2e tests use must be as separate as child processes would be:
 * each run its own environment, output and exit code, even when they overlap, and nothing leaks
 * into the test process's own environment.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, runCliChild } from "./cli.js";
import { runCliInProcess } from "./in-process-cli.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "octoha-in-process-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("octoha run in the test process", () => {
  it("overlapping runs each see their own environment and print only their own output and exit code", async () => {
    // `check` reads the plan's secrets from the environment: each run names the variable it lacks.
    const plan = path.join(dir, "plan.json");
    const init = await runCliInProcess(["init", plan, "--json"], cleanEnv());
    expect(init.code, init.stderr).toBe(0);
    const apiKeyVariable = (JSON.parse(await readFile(plan, "utf8")) as { octopus: { apiKey: { env: string } } }).octopus.apiKey.env;
    const [withKey, without, usage] = await Promise.all([
      runCliInProcess(["check", plan, "--json"], cleanEnv({ [apiKeyVariable]: "API-INPROCESSTEST0000000000000" })),
      runCliInProcess(["check", plan, "--json"], cleanEnv()),
      runCliInProcess(["check"], cleanEnv()),
    ]);
    expect(without.stdout).toContain(apiKeyVariable);
    expect(withKey.stdout).not.toContain(`${apiKeyVariable} is not set`);
    expect(withKey.stdout).not.toContain("API-INPROCESSTEST0000000000000");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("missing required argument 'plan'");
    expect(withKey.stderr + without.stderr).not.toContain("missing required argument");
    expect(process.env[apiKeyVariable]).toBeUndefined();
  });

  it("gives the exit code and output a child process gives", async () => {
    const args = ["status", path.join(dir, "no-such-plan.json"), "--json"];
    const [inProcess, child] = await Promise.all([runCliInProcess(args, cleanEnv()), runCliChild(args)]);
    expect(inProcess.code).toBe(child.code);
    expect(inProcess.code).not.toBe(0);
    expect(inProcess.stdout).toBe(child.stdout);
  });
});
