/**
 * The real octoha CLI with the test workflow of fixtures/cli-test-workflow.mjs (three steps that
 * append to an effects file), a plan for it, and the helpers the runner's CLI tests share.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, onTestFinished } from "vitest";
import { tempDir } from "./helpers.js";

const CLI = fileURLToPath(new URL("./fixtures/cli-test-workflow.mjs", import.meta.url));

export interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function start(args: string[], env: Record<string, string>): { child: ChildProcess; done: Promise<Done> } {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Done>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done };
}

export const octoha = (args: string[], env: Record<string, string>) => start(args, env).done;

export async function waitForFile(file: string): Promise<void> {
  for (let i = 0; i < 400 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 50));
  expect(existsSync(file), `${file} never appeared`).toBe(true);
}

/**
 * A temp dir with a plan, the effects file's path, the environment the fixture reads, and its effects
 * so far; removed when the test calling it ends. (Per test, not a module-level afterEach: the suite
 * runs files without isolation, so a module's top-level hook is registered in the first file that
 * imports it only, and every later file's fixtures were left in /tmp.)
 */
export function cliFixture() {
  const t = tempDir("octoha-cli-");
  onTestFinished(t.cleanup);
  const plan = path.join(t.dir, "plan.json");
  writeFileSync(
    plan,
    JSON.stringify({
      version: 1,
      octopus: {
        serverUrl: "https://octopus.example.com",
        apiKey: { env: "OCTOHA_TEST_API_KEY" },
        sql: { connectionString: { env: "OCTOHA_TEST_SQL" } },
      },
      nodes: [{ name: "OCTO1" }],
      shared: {
        taskLogs: { octopus: "\\\\fs01\\Octopus\\TaskLogs" },
        artifacts: { octopus: "\\\\fs01\\Octopus\\Artifacts" },
        packages: { octopus: "\\\\fs01\\Octopus\\Packages" },
      },
    }),
  );
  const effects = path.join(t.dir, "effects.log");
  // The plan's secret references must be set: a run refuses an unset one before it starts (exit 2).
  const env = {
    EFFECTS: effects,
    READY: path.join(t.dir, "ready"),
    OCTOHA_TEST_API_KEY: "API-CLITEST000000000000000",
    OCTOHA_TEST_SQL: "Server=sql01;Database=Octopus;Integrated Security=true",
  };
  const lines = () => (existsSync(effects) ? readFileSync(effects, "utf8").split("\n").filter(Boolean) : []);
  return { dir: t.dir, plan, stateDir: path.join(t.dir, ".octoha"), env, lines };
}

/** Splits the printed command (no quoted arguments in these temp paths) and drops "octoha". */
export function printedCommand(output: string, verb: string): string[] {
  const line = output.split("\n").find((l) => l.trim().startsWith(`octoha ${verb} `));
  expect(line, `no "octoha ${verb}" command in:\n${output}`).toBeDefined();
  return line!.trim().split(/\s+/).slice(1);
}
