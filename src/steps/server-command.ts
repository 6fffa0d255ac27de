/** The exact `Octopus.Server.exe path …` command a repath runs, quoted the way Windows parses it. */
import type { Plan } from "../plan/schema.js";
import type { ServerFolderPaths } from "../octopus/types.js";

/** Octopus.Server.exe path options per folder key (packages is --nugetRepository). */
export const PATH_OPTION: Record<keyof ServerFolderPaths, string> = {
  clusterShared: "--clusterShared",
  taskLogs: "--taskLogs",
  artifacts: "--artifacts",
  packages: "--nugetRepository",
  imports: "--imports",
  eventExports: "--eventExports",
};

const ORDER: (keyof ServerFolderPaths)[] = ["clusterShared", "taskLogs", "artifacts", "packages", "imports", "eventExports"];

export function pathCommandArgv(plan: Plan, paths: ServerFolderPaths): string[] {
  const argv = [plan.octopus.serverExe, "path", "--instance", plan.octopus.instance];
  for (const key of ORDER) {
    const value = paths[key];
    if (value !== undefined) argv.push(PATH_OPTION[key], value);
  }
  return argv;
}

/**
 * Quotes one argument for CommandLineToArgvW: wrap in quotes when it holds whitespace or a quote;
 * backslashes are literal except before a quote (and before the closing quote), where they double.
 */
export function quoteWindowsArg(arg: string): string {
  if (arg !== "" && !/[\s"]/.test(arg)) return arg;
  let out = '"';
  let slashes = 0;
  for (const ch of arg) {
    if (ch === "\\") {
      slashes++;
      continue;
    }
    if (ch === '"') {
      out += "\\".repeat(slashes * 2 + 1) + '"';
    } else {
      out += "\\".repeat(slashes) + ch;
    }
    slashes = 0;
  }
  return out + "\\".repeat(slashes * 2) + '"';
}

/** POSIX shell quoting, for Linux containers. */
export function quotePosixArg(arg: string): string {
  return /^[A-Za-z0-9_\/.:=@%+,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function renderCommand(plan: Plan, argv: string[]): string {
  const quote = plan.octopus.platform === "windows" ? quoteWindowsArg : quotePosixArg;
  return argv.map(quote).join(" ");
}
