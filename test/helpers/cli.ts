/** Runs the built CLI (dist/, built by pretest) as an operator would, and temp dirs that clean up. */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const CLI = path.join(REPO, "dist/cli/main.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Environment without any variable a plan might refer to, plus `env`. */
export function cleanEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OCTOPUS_|OCTOHA_)/.test(k)) base[k] = v;
  return { ...base, ...env };
}

export interface RunCliOptions {
  /** A working directory other than the repository's: octoha then runs as a child process in it. */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Run `node dist/cli/main.js` as a child: for tests whose subject is the process (its exit, modules it can load). */
  child?: boolean;
}

/** `octoha ARGS`, in this process (see in-process-cli.ts) unless the test needs a process of its own. */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  if (!options.child && options.cwd === undefined) {
    const { runCliInProcess } = await import("./in-process-cli.js");
    return runCliInProcess(args, options.env ?? cleanEnv());
  }
  return runCliChild(args, options);
}

export function runCliChild(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: options.cwd ?? REPO, env: options.env ?? cleanEnv(), timeout: options.timeoutMs ?? 30_000, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "octoha-test-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
