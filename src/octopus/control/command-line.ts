/**
 * The one way octoha writes an Octopus.Server command line for a person to read or paste: the
 * commands `octoha join --print` prints, and the "by hand" and rollback commands a join run shows.
 * PowerShell runs a quoted path only through the call operator (`& 'C:\…\Octopus.Server.exe' …`;
 * without `&` a quoted string followed by arguments is a parse error).
 */
import { psQuote } from "./winrm.js";

/** A word of a shown command: literal, an environment variable the shell expands, or a placeholder written as is (`<redacted>`). */
export type LineArg = string | { env: string } | { placeholder: string };

export type LineShell = "powershell" | "posix";

/**
 * Words either shell reads literally without quotes. PowerShell also splits `a,b` into two
 * arguments and reads a leading `@` as splatting, so those are quoted there.
 */
const PLAIN: Record<LineShell, RegExp> = {
  powershell: /^[A-Za-z0-9_\-./:=+]+$/,
  posix: /^[A-Za-z0-9_\-./:=+,@]+$/,
};

export function shellWord(shell: LineShell, arg: LineArg): string {
  if (typeof arg !== "string") {
    if ("placeholder" in arg) return arg.placeholder;
    return shell === "powershell" ? `$env:${arg.env}` : `"$${arg.env}"`;
  }
  if (PLAIN[shell].test(arg)) return arg;
  return shell === "powershell" ? psQuote(arg) : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** argv[0] is the program: in PowerShell a quoted one is run with `&`. */
export function shellLine(shell: LineShell, argv: readonly LineArg[]): string {
  const [exe, ...rest] = argv.map((a) => shellWord(shell, a));
  const head = shell === "powershell" && exe?.startsWith("'") ? `& ${exe}` : (exe ?? "");
  return [head, ...rest].join(" ");
}
