/**
 * Runs Octopus.Server.exe (or a plan's per-node command) as an argv array through execFile: never a
 * shell, so paths with spaces, quotes or `&` reach the program as they are. Failures name the command,
 * the exit code and stderr (redacted), and say what to do.
 */
import { execFile } from "node:child_process";
import { OctohaError } from "../../shared/errors.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { redactor } from "../../shared/redact.js";

export interface ExeRunOptions {
  timeoutMs?: number;
  /** The child's environment before secrets are removed (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Variables the plan names as secrets: never handed to the child (OCTOPUS_API_KEY never is either). */
  secretEnv?: readonly string[];
  /** Node the command acts on, for error messages. */
  node?: string;
}

export interface ExeOutput {
  stdout: string;
  stderr: string;
}

/** Always withheld: the Octopus CLI's own API-key variable, whatever the plan names. */
const ALWAYS_SECRET = ["OCTOPUS_API_KEY"];

/**
 * The environment a child gets: this process's, without the secret variables (by name, compared
 * case-insensitively as Windows does) and without any variable whose value is a secret octoha has
 * read (the same key under another name). Octopus.Server.exe and service recipes need none of
 * them, and a child could log or pass them on.
 */
function childEnv(env: NodeJS.ProcessEnv, secretNames: readonly string[] = []): NodeJS.ProcessEnv {
  const names = new Set([...ALWAYS_SECRET, ...secretNames].map((n) => n.toUpperCase()));
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || names.has(name.toUpperCase()) || redactor.isSecret(value)) continue;
    out[name] = value;
  }
  return out;
}

/** A finished command: its output and exit code, whatever the code (the caller decides what it means). */
export interface CommandResult extends ExeOutput {
  exitCode: number;
}

/** The command as an operator would type it (redacted): arguments with spaces or quotes in double quotes. */
export function commandLine(argv: readonly string[]): string {
  return redactor.redact(argv.map((a) => (a === "" || /[\s"]/.test(a) ? `"${a.replace(/"/g, '\\"')}"` : a)).join(" "));
}

export interface CommandRunOptions extends ExeRunOptions {
  /** What to tell the operator when the program cannot be started (ENOENT/EACCES). */
  notFoundHint: string;
  /** What to tell the operator when it hangs past its timeout (the command to try by hand is added). */
  timeoutHint: string;
  /** Variables for this child only, added after the secrets are removed (a recipe passing a secret on purpose). */
  extraEnv?: Record<string, string>;
  /** Written to the child's stdin, which is then closed (secrets a remote shell reads). */
  stdin?: string;
  /** The command as the operator knows it (e.g. `Octopus.Server version on OCTO3`): named first when it hangs. */
  what?: string;
}

/**
 * Runs argv (never a shell) and resolves with its exit code, zero or not: node-control recipes read
 * the output of failures (sc.exe prints `[SC] OpenService FAILED 1060:`). Rejects only when the program
 * cannot start, or hangs past the timeout, when it is killed (SIGKILL) and the error names the node and the
 * exact command to try by hand. Both are resumable: nothing was half-done by a command that never ran.
 */
export function runCommand(argv: readonly string[], options: CommandRunOptions): Promise<CommandResult> {
  const [file, ...args] = argv;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const shown = commandLine(argv);
  return new Promise((resolve, reject) => {
    const env = { ...childEnv(options.env ?? process.env, options.secretEnv), ...options.extraEnv };
    const execOptions = { timeout: timeoutMs, killSignal: "SIGKILL" as const, env, maxBuffer: 16 * 1024 * 1024, windowsHide: true };
    const child = execFile(file ?? "", args, execOptions, (error, stdout, stderr) => {
      if (!error) return resolve({ stdout, stderr, exitCode: 0 });
      const e = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string; signal?: string };
      if (e.code === "ENOENT" || e.code === "EACCES" || !file)
        return reject(
          new OctohaError(`Could not run ${file ?? "(no command)"}: ${String(e.code)}`, {
            code: "NODE_CONTROL_NOT_FOUND",
            exitCode: ExitCode.Resumable,
            node: options.node,
            path: file,
            hint: options.notFoundHint,
            cause: error,
          }),
        );
      if (e.killed || e.signal === "SIGKILL")
        return reject(
          new OctohaError(`${options.what ?? shown} did not finish within ${Math.round(timeoutMs / 1000)} s and was killed`, {
            code: "NODE_CONTROL_TIMEOUT",
            exitCode: ExitCode.Resumable,
            node: options.node,
            hint: `${options.timeoutHint}\nTry it by hand from this machine: ${shown}\nThen run \`octoha resume\`.`,
            cause: error,
          }),
        );
      resolve({ stdout, stderr, exitCode: typeof e.code === "number" ? e.code : 1 });
    });
    // A child that exits without reading its stdin must not fail the run with EPIPE.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(options.stdin ?? "");
  });
}

export function runExe(argv: readonly string[], options: ExeRunOptions = {}): Promise<ExeOutput> {
  const [file, ...args] = argv;
  if (!file)
    return Promise.reject(
      new OctohaError("No command was given to run.", {
        code: "OCTOPUS_EXE_MISSING",
        hint: "Set octopus.serverExe in the plan, or the node's service commands.",
      }),
    );
  const shown = redactor.redact(argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" "));
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const env = childEnv(options.env ?? process.env, options.secretEnv);
    const execOptions = { timeout: timeoutMs, killSignal: "SIGKILL" as const, env, maxBuffer: 16 * 1024 * 1024, windowsHide: true };
    execFile(file, args, execOptions, (error, stdout, stderr) => {
      if (!error) return resolve({ stdout, stderr });
      const e = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
      if (e.code === "ENOENT" || e.code === "EACCES")
        return reject(
          new OctohaError(`Could not run ${file}: ${e.code}`, {
            code: "OCTOPUS_EXE_NOT_FOUND",
            node: options.node,
            path: file,
            hint: "Check octopus.serverExe in the plan: it must be the full path of Octopus.Server.exe (or Octopus.Server on Linux) on this machine, runnable by this account.",
            cause: error,
          }),
        );
      if (e.killed)
        return reject(
          new OctohaError(`${shown} did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped.`, {
            code: "OCTOPUS_EXE_TIMEOUT",
            behaviour: "retryable",
            node: options.node,
            hint: "Octopus.Server.exe waits for the database and the service manager; check both are reachable, then retry.",
            cause: error,
          }),
        );
      const tail = redactor.redact((stderr || stdout).trim().split("\n").slice(-8).join("\n"));
      reject(
        new OctohaError(`${shown} exited with code ${String(e.code)}${tail ? `:\n${tail}` : ""}`, {
          code: "OCTOPUS_EXE_FAILED",
          node: options.node,
          hint: "Octopus.Server.exe refused or failed; its message is above. octoha runs octopus.serverExe on this machine (not on a node through its control), so run the same command by hand here, as the same account, to see the full output.",
          cause: error,
        }),
      );
    });
  });
}
