/**
 * octoha's command line run inside the test process: the same program, verbs and exit codes as
 * `node dist/cli/main.js`, without starting Node and loading every module again for each command
 * (most of the CPU of the e2e suite went there). Several may run at once: each sees its own
 * environment, argv and output, routed by an AsyncLocalStorage over process.env, process.argv and
 * process.stdout/stderr. Anything the command starts (child processes, timers) carries its context.
 *
 * Tests whose subject is the process itself (SIGKILL, Ctrl-C, a lock held by another process, stdout
 * of a process that exits, the child's environment) keep running the built CLI as a child.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { runCommandLine } from "../../src/cli/program.js";
import type { CliResult } from "./cli.js";

interface CommandLineCall {
  env: NodeJS.ProcessEnv;
  argv: string[];
  stdout: string[];
  stderr: string[];
}

const calls = new AsyncLocalStorage<CommandLineCall>();

/** The process's own env and argv, for code that runs outside any in-process command line. */
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const ownEnv = process.env;
  const ownArgv = process.argv;
  const env = (): NodeJS.ProcessEnv => calls.getStore()?.env ?? ownEnv;
  process.env = new Proxy({} as NodeJS.ProcessEnv, {
    get: (_t, key) => Reflect.get(env(), key),
    set: (_t, key, value) => Reflect.set(env(), key, String(value)),
    has: (_t, key) => Reflect.has(env(), key),
    deleteProperty: (_t, key) => Reflect.deleteProperty(env(), key),
    ownKeys: () => Reflect.ownKeys(env()),
    getOwnPropertyDescriptor: (_t, key) => {
      const d = Reflect.getOwnPropertyDescriptor(env(), key);
      return d && { ...d, configurable: true };
    },
  });
  Object.defineProperty(process, "argv", {
    configurable: true,
    enumerable: true,
    get: () => calls.getStore()?.argv ?? ownArgv,
    set: (value: string[]) => {
      const call = calls.getStore();
      if (call) call.argv = value;
    },
  });
  for (const [stream, key] of [
    [process.stdout, "stdout"],
    [process.stderr, "stderr"],
  ] as const) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
      const call = calls.getStore();
      if (!call) return write(chunk, ...rest);
      call[key].push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
      const done = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      if (done) queueMicrotask(done);
      return true;
    }) as typeof stream.write;
  }
  // A command line in this process must never end it: process.exit would take the test worker down.
  const exit = process.exit.bind(process);
  process.exit = ((code?: number | string | null) => {
    if (calls.getStore()) throw new Error(`octoha called process.exit(${String(code)}) in an in-process run`);
    return exit(code);
  }) as typeof process.exit;
}

/** Runs `octoha ARGS` in this process with exactly `env` as its environment. */
export async function runCliInProcess(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  install();
  const call: CommandLineCall = { env: { ...env }, argv: [process.execPath, "octoha", ...args], stdout: [], stderr: [] };
  let code: number;
  try {
    code = await calls.run(call, () => runCommandLine(args));
  } catch (error) {
    // As main.ts does: an error no command mapped to an exit code is a bug, printed and exit 1.
    call.stderr.push(`octoha: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    code = 1;
  }
  return { code, stdout: call.stdout.join(""), stderr: call.stderr.join("") };
}
