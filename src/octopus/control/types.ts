/**
 * Node-control recipes: how octoha reaches one node's Octopus service where it really runs (issue 12).
 * `Octopus.Server.exe service` manages only the instances of the machine it runs on, so every other
 * node needs a remote recipe: the Windows service manager (`sc.exe \\HOST`), PowerShell remoting,
 * ssh + systemctl, or the operator's own argv. One small module per recipe behind ServiceControl
 * (as rclone does its backends); index.ts picks the module by `kind`.
 */
import type { Clock } from "../../shared/clock.js";
import type { CommandResult } from "../cli/exec.js";

export interface LocalRecipe {
  kind: "local";
}
export interface ScRecipe {
  kind: "sc";
  host: string;
  service?: string;
}
export interface WinRmRecipe {
  kind: "winrm";
  host: string;
  serverExe?: string;
  instance?: string;
  service?: string;
}
export interface SshRecipe {
  kind: "ssh";
  host: string;
  user?: string;
  unit?: string;
  sudo?: boolean;
}
export interface ArgvRecipe {
  kind: "argv";
  stop: string[];
  start: string[];
  status?: string[];
  /** The node's Octopus.Server.exe as an argv run from here (database.moveTo appends `database …`). */
  serverExe?: string[];
  /** A prefix that runs one command on the node (`docker exec octo3`, `kubectl exec octo3 --`): `octoha join` runs Octopus.Server through it. */
  exec?: string[];
}
export type ControlRecipe = LocalRecipe | ScRecipe | WinRmRecipe | SshRecipe | ArgvRecipe;
export type ControlKind = ControlRecipe["kind"];

/** What a recipe's read-only status saw. `pending` covers STOP_PENDING, START_PENDING, deactivating … */
export type RecipeState = "running" | "stopped" | "pending" | "other";

export interface RecipeStatus {
  state: RecipeState;
  /** As the tool said it: `4 RUNNING`, `StopPending`, `inactive`. */
  raw: string;
}

/** One node's service, through one recipe. Errors are OctohaErrors naming the node, the cause and the fix. */
export interface ServiceControl {
  /** How this node is reached, for reports: `sc.exe \\OCTO2 (service OctopusDeploy)`. */
  readonly description: string;
  /** Returns once the service is stopped (or fails with why not). */
  stop(): Promise<void>;
  /** Returns once the service manager says it runs (the node's ping is the caller's business). */
  start(): Promise<void>;
  /** Read-only: undefined when the recipe has no status of its own (the node's ping then decides). */
  status(): Promise<RecipeStatus | undefined>;
  /** `Octopus.Server.exe database --instance … --connectionString=…` on the node; absent when the recipe cannot run it (sc, ssh). */
  setDatabase?(connectionString: string): Promise<void>;
}

/** The arguments after the executable, for every recipe that can run `database` (the string only ever on this argv). */
export function databaseArgs(instance: string, connectionString: string): string[] {
  return ["database", `--instance=${instance}`, `--connectionString=${connectionString}`];
}

/** Runs one command (argv, never a shell) with the recipe's timeout; exec.ts's runCommand in real use. */
export type CommandRunner = (argv: readonly string[]) => Promise<CommandResult>;

/** Executables the remote recipes run, as named on PATH unless the plan points elsewhere. */
export interface ControlTools {
  sc: string;
  powershell: string;
  ssh: string;
}

export const DEFAULT_TOOLS: ControlTools = { sc: "sc.exe", powershell: "powershell.exe", ssh: "ssh" };

export interface ControlContext {
  node: string;
  /** The plan's Octopus.Server.exe (local recipe) and instance name. */
  serverExe: string;
  instance: string;
  tools: ControlTools;
  run: CommandRunner;
  clock: Clock;
  /** How long a stop/start may take before octoha gives up (sc polls `query` until then). */
  timeoutMs: number;
  /** Between two `sc query` polls (default 1 s). */
  pollIntervalMs?: number;
  /** The run's abort signal: a Ctrl-C ends a poll loop's wait at once (no further query). */
  signal?: AbortSignal;
}

/** Octopus's Windows service name: `OctopusDeploy` for the default instance, else `OctopusDeploy: <instance>` (exact match). */
export function windowsServiceName(instance: string): string {
  return instance === "OctopusServer" ? "OctopusDeploy" : `OctopusDeploy: ${instance}`;
}
