/**
 * Running Octopus.Server commands ON a node (not only stopping and starting its service), for `octoha join`:
 * create-instance, database, configure, service --install, version, and a path test. Each recipe that can run
 * a command there does it its own way; `sc` cannot (the service manager runs no commands) and is refused.
 *
 * Secrets (the master key, the connection string) never appear in a command line octoha builds or shows:
 * - winrm: the local PowerShell gets them as its own environment variables and passes `$env:NAME` through
 *   -ArgumentList, so the values travel inside the (encrypted) remoting session, never on a command line here;
 * - ssh: they go on ssh's stdin, one per line, and the remote shell reads them into variables;
 * - local, argv: Octopus.Server takes them only as arguments [V, research §1.3: no env alternative is documented],
 *   so they are in that one child's argv (as in Octopus's own scripts); every line octoha shows has `<redacted>`.
 */
import { shellLine, shellWord, type LineArg } from "./command-line.js";
import { controlError } from "./errors.js";
import { psQuote, DEFAULT_WINDOWS_SERVER_EXE, throwIfWinRmUnreachable } from "./winrm.js";
import { SAFE_REMOTE_WORD } from "./ssh.js";
import type { CommandResult } from "../cli/exec.js";
import type { ArgvRecipe, ControlRecipe, ControlTools, LocalRecipe, SshRecipe, WinRmRecipe } from "./types.js";

/** What a path test looks for: PowerShell's Test-Path finds either; on Linux, `test -d` or `test -f`. */
export type PathKind = "folder" | "file";

/** An argument, or a secret named by key (its value is handed over only at run time). */
export type ShellArg = string | { secret: string };

/** Runs argv (never a shell) with extra variables for the child and text on its stdin. */
export type ShellRunner = (
  argv: readonly string[],
  o?: { env?: Record<string, string>; stdin?: string; what?: string },
) => Promise<CommandResult>;

/** What a command is, as the operator knows it: the Octopus.Server command (never its secrets) or the path test. */
const serverWhat = (args: readonly ShellArg[]) => `Octopus.Server ${typeof args[0] === "string" ? args[0] : "<redacted>"}`;
const testWhat = (p: string) => `the path test of ${p}`;

export interface NodeShellContext {
  node: string;
  /** Octopus.Server on that node (the plan's serverExe for local; the recipe's or the Windows default for winrm). */
  serverExe: string;
  tools: ControlTools;
  run: ShellRunner;
  /** The secrets' values by key, for the commands that name them. */
  secrets: Readonly<Record<string, string>>;
}

export interface NodeShell {
  readonly description: string;
  /** Octopus.Server <args> on the node: its exit code and output (the caller decides what a failure means). */
  server(args: readonly ShellArg[]): Promise<CommandResult>;
  /** Whether a folder (or, with "file", a file), as Octopus on that node spells it, exists as seen from the node. */
  testPath(octopusPath: string, kind?: PathKind): Promise<boolean>;
  /** The command as shown to the operator: secrets as <redacted>. */
  shown(args: readonly ShellArg[]): string;
  /**
   * The command for the operator to run by hand: each secret read from its environment variable (named by the
   * secret's key), as `octoha join --print` writes it; the value is never written. ssh: as shown (<redacted>).
   */
  byHand(args: readonly ShellArg[]): string;
}

/** How each recipe's kind runs commands on its node; undefined for sc (it cannot). */
export function canRunCommands(recipe: ControlRecipe): boolean {
  return recipe.kind !== "sc" && !(recipe.kind === "argv" && !recipe.exec);
}

/** A secret as a shown line has it: a placeholder PowerShell refuses to run until it is replaced. */
const redacted = (a: ShellArg): LineArg => (typeof a === "string" ? a : { placeholder: "<redacted>" });

const show = (exe: string, args: readonly ShellArg[]) =>
  [exe, ...args].map((a) => (typeof a === "string" ? (/[\s"']/.test(a) ? `"${a}"` : a) : "<redacted>")).join(" ");

export function createNodeShell(recipe: ControlRecipe, ctx: NodeShellContext): NodeShell {
  switch (recipe.kind) {
    case "winrm":
      return winrmShell(recipe, ctx);
    case "ssh":
      return sshShell(recipe, ctx);
    case "local":
      return argvShell(recipe, [], ctx);
    case "argv":
      if (recipe.exec) return argvShell(recipe, recipe.exec, ctx);
      break;
    case "sc":
      break;
  }
  throw new Error(`node ${ctx.node}: the ${recipe.kind} recipe cannot run commands on its node`);
}

const secretValue = (ctx: NodeShellContext, key: string): string => {
  const v = ctx.secrets[key];
  if (v === undefined) throw new Error(`no value for the secret ${key}`);
  return v;
};

/** local (this machine) and argv with `exec` (a prefix that runs a command there: docker exec, kubectl exec …). */
function argvShell(recipe: LocalRecipe | ArgvRecipe, prefix: readonly string[], ctx: NodeShellContext): NodeShell {
  const argv = (args: readonly ShellArg[]) => [
    ...prefix,
    ctx.serverExe,
    ...args.map((a) => (typeof a === "string" ? a : secretValue(ctx, a.secret))),
  ];
  const where = recipe.kind === "local" ? "this machine" : `${prefix.join(" ")}`;
  return {
    description: `${ctx.serverExe} on ${where}`,
    server: (args) => ctx.run(argv(args), { what: serverWhat(args) }),
    shown: (args) => show([...prefix, ctx.serverExe].join(" "), args),
    // Run from a shell where the variables are set: it expands them into the argv, as octoha's own call does.
    byHand: (args) =>
      shellLine(/^[A-Za-z]:\\/.test(ctx.serverExe) && prefix.length === 0 ? "powershell" : "posix", [
        ...prefix,
        ctx.serverExe,
        ...args.map((a) => (typeof a === "string" ? a : { env: a.secret })),
      ]),
    async testPath(p, kind = "folder") {
      const windows = /^[A-Za-z]:\\|^\\\\/.test(p);
      const test = windows
        ? [...prefix, ctx.tools.powershell, "-NoProfile", "-NonInteractive", "-Command", `Test-Path -LiteralPath ${psQuote(p)}`]
        : [...prefix, "test", kind === "file" ? "-f" : "-d", p];
      const r = await ctx.run(test, { what: testWhat(p) });
      if (windows) return r.exitCode === 0 && /^\s*True\s*$/m.test(r.stdout);
      return r.exitCode === 0;
    },
  };
}

/** A PowerShell variable name for an environment variable's value (letters, digits, underscores). */
const psLocalVar = (key: string) => key.replace(/[^A-Za-z0-9_]/g, "_");

/** Names of the local PowerShell's variables that carry secrets into the remoting session. */
const psSecretVar = (key: string) => `OCTOHA_SECRET_${key.replace(/[^A-Za-z0-9]/g, "_").toUpperCase()}`;

export function winrmServerScript(host: string, exe: string, args: readonly ShellArg[]): string {
  const items = args.map((a) => (typeof a === "string" ? psQuote(a) : `$env:${psSecretVar(a.secret)}`)).join(", ");
  return (
    `$r = Invoke-Command -ComputerName ${psQuote(host)} -ErrorAction Stop -ScriptBlock { param($exe, [string[]]$a) ` +
    `$out = & $exe @a 2>&1 | Out-String; [pscustomobject]@{ Out = $out; Code = $LASTEXITCODE } } ` +
    `-ArgumentList ${psQuote(exe)}, @(${items}); $r.Out; exit $r.Code`
  );
}

export function winrmTestPathScript(host: string, p: string): string {
  return `Invoke-Command -ComputerName ${psQuote(host)} -ErrorAction Stop -ScriptBlock { param($p) Test-Path -LiteralPath $p } -ArgumentList ${psQuote(p)}`;
}

function winrmShell(recipe: WinRmRecipe, ctx: NodeShellContext): NodeShell {
  const exe = recipe.serverExe ?? DEFAULT_WINDOWS_SERVER_EXE;
  const ps = (script: string) => [ctx.tools.powershell, "-NoProfile", "-NonInteractive", "-Command", script];
  const connection = (argv: string[], r: CommandResult) => throwIfWinRmUnreachable(ctx.node, recipe.host, `${r.stdout}\n${r.stderr}`, argv);
  return {
    description: `PowerShell remoting to ${recipe.host} (${exe})`,
    shown: (args) =>
      `Invoke-Command -ComputerName ${shellWord("powershell", recipe.host)} { ${shellLine("powershell", [exe, ...args.map(redacted)])} }`,
    // The remote session has none of the local variables: each secret goes in as a local variable through $using:.
    byHand: (args) => {
      const keys = [...new Set(args.flatMap((a) => (typeof a === "string" ? [] : [a.secret])))];
      const words = args.map((a): LineArg => (typeof a === "string" ? a : { placeholder: `$using:${psLocalVar(a.secret)}` }));
      const sets = keys.map((k) => `$${psLocalVar(k)} = $env:${k}; `).join("");
      return `${sets}Invoke-Command -ComputerName ${shellWord("powershell", recipe.host)} { ${shellLine("powershell", [exe, ...words])} }`;
    },
    async server(args) {
      const argv = ps(winrmServerScript(recipe.host, exe, args));
      const env = Object.fromEntries(
        args.flatMap((a) => (typeof a === "string" ? [] : [[psSecretVar(a.secret), secretValue(ctx, a.secret)]])),
      );
      const r = await ctx.run(argv, { env, what: serverWhat(args) });
      if (r.exitCode !== 0) connection(argv, r);
      return r;
    },
    async testPath(p) {
      const argv = ps(winrmTestPathScript(recipe.host, p));
      const r = await ctx.run(argv, { what: testWhat(p) });
      if (r.exitCode !== 0) connection(argv, r);
      return r.exitCode === 0 && /^\s*True\s*$/m.test(r.stdout);
    },
  };
}

/** A word for the remote shell, single-quoted (POSIX). */
const shQuote = (s: string) => (/^[A-Za-z0-9_\-./:=+,@]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

function sshShell(recipe: SshRecipe, ctx: NodeShellContext): NodeShell {
  const target = recipe.user ? `${recipe.user}@${recipe.host}` : recipe.host;
  if (!SAFE_REMOTE_WORD.test(target)) throw new Error(`ssh recipe for ${ctx.node}: '${target}' is not a safe host/user name`);
  const base = [ctx.tools.ssh, "-o", "BatchMode=yes", "-o", "ConnectTimeout=15", target];
  const sudo = recipe.sudo ? "sudo -n " : "";
  return {
    description: `ssh ${target} (${ctx.serverExe})`,
    shown: (args) => `ssh ${target} ${sudo}${show(ctx.serverExe, args)}`,
    byHand: (args) => `ssh ${target} ${sudo}${show(ctx.serverExe, args)}`,
    async server(args) {
      // Secrets on stdin, read into shell variables on the node: never on a command line, here or there (until Octopus.Server).
      const keys = [...new Set(args.flatMap((a) => (typeof a === "string" ? [] : [a.secret])))];
      const vars = keys.map((_, i) => `S${i}`);
      const reads = vars.map((v) => `IFS= read -r ${v} && `).join("");
      const words = args.map((a) => (typeof a === "string" ? shQuote(a) : `"$S${keys.indexOf(a.secret)}"`));
      const remote = `${reads}${sudo}${shQuote(ctx.serverExe)} ${words.join(" ")}`;
      const stdin = keys.map((k) => `${secretValue(ctx, k)}\n`).join("");
      return ctx.run([...base, remote], { stdin, what: serverWhat(args) });
    },
    async testPath(p, kind = "folder") {
      const r = await ctx.run([...base, `test ${kind === "file" ? "-f" : "-d"} ${shQuote(p)}`], { what: testWhat(p) });
      if (r.exitCode === 255)
        throw controlError(ctx.node, "unreachable", `ssh to ${target} failed`, "Check key-based login to the node.", [...base], r.stderr);
      return r.exitCode === 0;
    },
  };
}
