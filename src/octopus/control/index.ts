/**
 * NodeServices through each node's recipe. A node's state is proven two ways: the recipe's own status
 * (the service manager) and the node's ping (its HTTP endpoint). Both must agree before octoha calls a
 * node stopped or running; a node whose service manager says stopped while its URL still answers is
 * not stopped (the recipe reaches another service or machine than the one serving that URL).
 */
import { realClock } from "../../shared/clock.js";
import { OctohaError } from "../../shared/errors.js";
import { redactor } from "../../shared/redact.js";
import { runCommand, type ExeRunOptions } from "../cli/exec.js";
import type { NodeServiceCheck, NodeServices, ServiceState } from "../types.js";
import { argvControl } from "./argv.js";
import { localControl } from "./local.js";
import { scControl } from "./sc.js";
import { sshControl } from "./ssh.js";
import type { CommandRunner, ControlContext, ControlRecipe, ControlTools, RecipeStatus, ServiceControl } from "./types.js";
import { winrmControl } from "./winrm.js";
import { createNodeShell, type NodeShell } from "./shell.js";

export * from "./types.js";
export { controlError } from "./errors.js";
export { parseScError, parseScState } from "./sc.js";
export { psQuote, winrmScript, DEFAULT_WINDOWS_SERVER_EXE } from "./winrm.js";
export { DEFAULT_SSH_UNIT, SAFE_REMOTE_WORD } from "./ssh.js";
export { shellLine, shellWord, type LineArg, type LineShell } from "./command-line.js";
export { canRunCommands, createNodeShell, winrmServerScript, winrmTestPathScript, type NodeShell, type ShellArg } from "./shell.js";

export interface NodeShellOptions extends ExeRunOptions {
  node: string;
  recipe: ControlRecipe;
  serverExe: string;
  tools: ControlTools;
  /** One command's timeout (ms). */
  timeoutMs: number;
  secrets: Readonly<Record<string, string>>;
}

/** A node's shell through its recipe, running real child processes (argv, never a local shell). */
export function nodeShell(o: NodeShellOptions): NodeShell {
  return createNodeShell(o.recipe, {
    node: o.node,
    serverExe: o.serverExe,
    tools: o.tools,
    secrets: o.secrets,
    run: (argv, extra) =>
      runCommand(argv, {
        ...o,
        notFoundHint: TOOL_HINT[o.recipe.kind],
        // Name the command that hung: only `service` waits on the service manager (TIMEOUT_HINT's explanation).
        timeoutHint:
          extra?.what && !extra.what.startsWith("Octopus.Server service")
            ? `${extra.what} on ${o.node} did not return: the command hangs on the node, or the connection to it does (${o.recipe.kind}). Run it by hand (below) to see where it waits.`
            : TIMEOUT_HINT[o.recipe.kind],
        ...(extra?.what ? { what: `${extra.what} on ${o.node}` } : {}),
        ...(extra?.env ? { extraEnv: extra.env } : {}),
        ...(extra?.stdin !== undefined ? { stdin: extra.stdin } : {}),
      }),
  });
}

const TOOL_HINT: Record<ControlRecipe["kind"], string> = {
  local: "Check octopus.serverExe in the plan: the full path of Octopus.Server.exe on this machine, runnable by this account.",
  sc: "sc.exe ships with Windows: run octoha on Windows, or point options.tools.sc at it.",
  winrm: "Install PowerShell (powershell.exe on Windows, pwsh elsewhere) or point options.tools.powershell at it.",
  ssh: "Install an OpenSSH client or point options.tools.ssh at it.",
  argv: "Check the first word of the node's control commands: a program this account can run, with its full path.",
};

const TIMEOUT_HINT: Record<ControlRecipe["kind"], string> = {
  local: "Octopus.Server.exe waits for the service manager (and `service --start` waits without end for a service that keeps failing).",
  sc: "sc.exe waits for the remote service manager: the host is slow to answer or RPC is filtered without a refusal.",
  winrm:
    "The remote command or the WinRM connection hangs: Octopus.Server.exe service --start waits without end for a service that keeps failing.",
  ssh: "ssh or systemctl hangs: check the host answers on port 22 and the unit's stop timeout.",
  argv: "The plan's command did not return.",
};

export function createServiceControl(recipe: ControlRecipe, ctx: ControlContext): ServiceControl {
  switch (recipe.kind) {
    case "local":
      return localControl(ctx);
    case "sc":
      return scControl(recipe, ctx);
    case "winrm":
      return winrmControl(recipe, ctx);
    case "ssh":
      return sshControl(recipe, ctx);
    case "argv":
      return argvControl(recipe, ctx);
  }
}

export interface RecipeNodeServicesOptions extends ExeRunOptions {
  /** Each node's recipe (a node absent here uses `local`). */
  recipes: Record<string, ControlRecipe>;
  serverExe: string;
  instance: string;
  tools: ControlTools;
  /** One command's timeout, and how long a stop/start may take in all (ms). */
  timeoutMs: number;
  /** The node's ping as a service state ("unknown" when it has no URL or answers oddly). */
  ping: (nodeName: string) => Promise<ServiceState>;
  clock?: ControlContext["clock"];
  pollIntervalMs?: number;
  /** The run's abort signal (Ctrl-C): ends the sc/winrm poll waits at once. */
  signal?: AbortSignal;
  /** Replaces the child-process runner (unit tests). */
  runner?: (node: string, recipe: ControlRecipe) => CommandRunner;
}

export class RecipeNodeServices implements NodeServices {
  private readonly controls = new Map<string, ServiceControl>();
  constructor(private readonly o: RecipeNodeServicesOptions) {}

  control(nodeName: string): ServiceControl {
    let c = this.controls.get(nodeName);
    if (!c) {
      const recipe = this.o.recipes[nodeName] ?? { kind: "local" };
      const run: CommandRunner =
        this.o.runner?.(nodeName, recipe) ??
        ((argv) =>
          runCommand(argv, {
            ...this.o,
            node: nodeName,
            notFoundHint: TOOL_HINT[recipe.kind],
            timeoutHint: TIMEOUT_HINT[recipe.kind],
          }));
      c = createServiceControl(recipe, {
        node: nodeName,
        serverExe: this.o.serverExe,
        instance: this.o.instance,
        tools: this.o.tools,
        run,
        clock: this.o.clock ?? realClock,
        timeoutMs: this.o.timeoutMs,
        ...(this.o.pollIntervalMs !== undefined ? { pollIntervalMs: this.o.pollIntervalMs } : {}),
        ...(this.o.signal ? { signal: this.o.signal } : {}),
      });
      this.controls.set(nodeName, c);
    }
    return c;
  }

  stop(nodeName: string): Promise<void> {
    return this.control(nodeName).stop();
  }

  start(nodeName: string): Promise<void> {
    return this.control(nodeName).start();
  }

  async setConnectionString(nodeName: string, connectionString: string): Promise<void> {
    // Registered here too: the command line and any output that echoes it are redacted in every error.
    redactor.add(connectionString);
    const control = this.control(nodeName);
    if (!control.setDatabase)
      throw new OctohaError(`Node ${nodeName}: its control recipe (${control.description}) cannot run Octopus.Server.exe database`, {
        code: "NODE_CONTROL_NO_DATABASE",
        node: nodeName,
        hint: 'Give the node a winrm recipe, or an argv recipe with "serverExe"; plan validation says the same. Nothing was changed on this node.',
      });
    await control.setDatabase(connectionString);
  }

  async state(nodeName: string): Promise<ServiceState> {
    const recipe = await this.control(nodeName).status();
    const ping = await this.o.ping(nodeName);
    return combinedState(recipe, ping);
  }

  async check(nodeName: string): Promise<NodeServiceCheck> {
    const control = this.control(nodeName);
    let recipe: RecipeStatus | undefined;
    try {
      recipe = await control.status();
    } catch (error) {
      if (!(error instanceof OctohaError)) throw error;
      return {
        recipe: control.description,
        ping: await this.o.ping(nodeName),
        error: { code: error.code, message: error.message, hint: error.hint },
      };
    }
    const ping = await this.o.ping(nodeName);
    return { recipe: control.description, ping, ...(recipe ? { status: recipe } : {}), state: combinedState(recipe, ping) };
  }
}

/**
 * Both witnesses: without a recipe status (local, argv without status) the ping decides, as before.
 * A node with no URL ("unknown" ping) is what its service manager says.
 */
export function combinedState(recipe: RecipeStatus | undefined, ping: ServiceState): ServiceState {
  if (!recipe) return ping;
  if (recipe.state === "stopped") return ping === "running" ? "unknown" : "stopped";
  if (recipe.state === "running") return ping === "stopped" ? "unknown" : ping === "unknown" ? "unknown" : "running";
  return "unknown";
}
